"""On-device augmentation: one random crop and flip per image, shapes and content preserved."""

import pytest
import torch

from labs import random_crop_flip


def test_keeps_shape_and_values_come_from_the_image_or_the_padding():
    images = torch.rand(64, 3, 8, 8) + 1.0
    out = random_crop_flip(images, padding=2, generator=torch.Generator().manual_seed(0))
    assert out.shape == images.shape
    values = set(images.flatten().tolist()) | {0.0}
    assert set(out.flatten().tolist()) <= values


def test_without_padding_or_flip_it_is_the_identity():
    images = torch.rand(4, 1, 5, 5)
    assert torch.equal(random_crop_flip(images, padding=0, flip=False), images)


def test_each_image_gets_its_own_crop():
    images = torch.arange(16.0).reshape(1, 1, 4, 4).repeat(200, 1, 1, 1)
    out = random_crop_flip(images, padding=2, flip=False, generator=torch.Generator().manual_seed(1))
    distinct = {tuple(image.flatten().tolist()) for image in out}
    assert len(distinct) > 10, "one crop for the whole batch would give a single distinct image"


def test_flip_mirrors_about_half_of_the_images():
    images = torch.arange(4.0).reshape(1, 1, 1, 4).repeat(1000, 1, 1, 1)
    out = random_crop_flip(images, padding=0, generator=torch.Generator().manual_seed(2))
    mirrored = (out[:, 0, 0, 0] == 3).float().mean().item()
    assert 0.4 < mirrored < 0.6


def test_refuses_a_single_image():
    with pytest.raises(ValueError, match="batch of images"):
        random_crop_flip(torch.rand(3, 8, 8))
