"""Image augmentation applied to a whole batch on the device, each image drawn on its own.

torchvision's transforms draw one crop for a whole batch tensor; these draw one per image,
without leaving the device, so they can be passed to `labs.fit(..., augment=...)`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def random_crop_flip(images: Tensor, padding: int = 4, flip: bool = True,
                     generator: torch.Generator | None = None) -> Tensor:
    """Pad each image of an (N, C, H, W) batch by `padding` zeros, crop it back to H×W at a
    random offset, and mirror it left-right with probability 1/2 (when `flip`)."""
    if images.ndim != 4:
        raise ValueError(f"Expected a batch of images (N, C, H, W), got shape {tuple(images.shape)}.")
    n, _, height, width = images.shape
    device = images.device
    padded = F.pad(images, (padding, padding, padding, padding))
    offset_y = torch.randint(0, 2 * padding + 1, (n, 1), device=device, generator=generator)
    offset_x = torch.randint(0, 2 * padding + 1, (n, 1), device=device, generator=generator)
    rows = offset_y + torch.arange(height, device=device)
    cols = offset_x + torch.arange(width, device=device)
    batch = torch.arange(n, device=device)[:, None, None]
    cropped = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]
    cropped = cropped.permute(0, 3, 1, 2)
    if flip:
        mirror = torch.rand(n, device=device, generator=generator) < 0.5
        cropped = torch.where(mirror[:, None, None, None], cropped.flip(-1), cropped)
    return cropped.contiguous()
