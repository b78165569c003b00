"""Device choice, seeding, mixed precision and memory layout, CUDA and MPS branches included."""

import contextlib

import pytest
import torch
from torch import nn

import labs
from labs import device as device_module


@pytest.fixture
def pretend(monkeypatch):
    """Pretend that CUDA and/or MPS are present, without the hardware."""

    def set_hardware(cuda: bool = False, mps: bool = False, bf16: bool = True) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)

    return set_hardware


@pytest.mark.parametrize(("cuda", "mps", "expected"), [
    (True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_auto_prefers_cuda_then_mps_then_cpu(pretend, cuda, mps, expected):
    pretend(cuda=cuda, mps=mps)
    assert labs.choose_device("auto").type == expected
    assert labs.choose_device().type == expected


def test_environment_variable_overrides_auto(pretend, monkeypatch):
    pretend(cuda=True)
    monkeypatch.setenv("DNNLABS_DEVICE", "cpu")
    assert labs.choose_device().type == "cpu"


def test_explicit_argument_wins_over_environment(pretend, monkeypatch):
    pretend(cuda=True)
    monkeypatch.setenv("DNNLABS_DEVICE", "cpu")
    assert labs.choose_device("cuda:1") == torch.device("cuda", 1)


@pytest.mark.parametrize("name", ["cuda", "mps"])
def test_asking_for_missing_hardware_says_how_to_fix(pretend, name):
    pretend()
    with pytest.raises(ValueError, match="DEVICE='auto'"):
        labs.choose_device(name)


def test_unknown_device_name_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown device 'tpu'"):
        labs.choose_device("tpu")


def test_describe_cpu_names_threads():
    assert "threads" in labs.describe_device(torch.device("cpu"))


def test_describe_cuda_names_the_gpu(pretend, monkeypatch):
    pretend(cuda=True)

    class Props:
        name, total_memory = "Fake GPU", 80 * 2**30

    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: Props())
    assert labs.describe_device(torch.device("cuda")) == "CUDA GPU Fake GPU (80 GiB)"


def test_seed_everything_repeats_random_numbers():
    labs.seed_everything(123)
    first = torch.rand(5), torch.randperm(10)
    labs.seed_everything(123)
    second = torch.rand(5), torch.randperm(10)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


def test_seed_everything_deterministic_switches_algorithms():
    try:
        labs.seed_everything(0, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(False)


def test_no_mixed_precision_on_cpu_or_mps(pretend):
    pretend(mps=True)
    assert labs.amp_dtype(torch.device("cpu")) is None
    assert labs.amp_dtype(torch.device("mps")) is None
    assert isinstance(labs.autocast(torch.device("cpu")), contextlib.nullcontext)
    assert not labs.grad_scaler(torch.device("cpu")).is_enabled()


def test_bf16_on_cuda_gpus_that_support_it(pretend):
    pretend(cuda=True, bf16=True)
    assert labs.amp_dtype(torch.device("cuda")) is torch.bfloat16
    assert not labs.grad_scaler(torch.device("cuda")).is_enabled()
    context = labs.autocast(torch.device("cuda"))
    assert isinstance(context, torch.autocast) and context.fast_dtype is torch.bfloat16


def test_fp16_with_a_scaler_on_older_cuda_gpus(pretend):
    pretend(cuda=True, bf16=False)
    assert labs.amp_dtype(torch.device("cuda")) is torch.float16
    assert labs.grad_scaler(torch.device("cuda")).is_enabled()


def test_amp_can_be_switched_off(pretend):
    pretend(cuda=True)
    assert isinstance(labs.autocast(torch.device("cuda"), enabled=False), contextlib.nullcontext)
    assert not labs.grad_scaler(torch.device("cuda"), enabled=False).is_enabled()


def test_channels_last_only_for_convolutions_on_cuda():
    cnn = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU())
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(12, 2))
    assert device_module.uses_channels_last(cnn, torch.device("cuda"))
    assert not device_module.uses_channels_last(cnn, torch.device("cpu"))
    assert not device_module.uses_channels_last(mlp, torch.device("cuda"))


def test_to_device_keeps_a_cpu_model_usable():
    model = labs.to_device(nn.Sequential(nn.Conv2d(3, 4, 3)), torch.device("cpu"))
    assert model(torch.randn(2, 3, 8, 8)).shape == (2, 4, 6, 6)
