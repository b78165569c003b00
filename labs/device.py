"""Where the work runs: device choice, seeding, mixed precision and memory layout.

Every branch works on a CPU-only machine; the CUDA and MPS branches are decided by
`torch.cuda.is_available()` and `torch.backends.mps.is_available()` alone, so tests can
exercise them by patching those two functions.
"""

from __future__ import annotations

import contextlib
import os
import platform
import random

import torch
from torch import nn

DEVICE_ENV = "DNNLABS_DEVICE"


def choose_device(preferred: str | torch.device | None = None) -> torch.device:
    """Pick CUDA, then Apple MPS, then CPU, unless `preferred` or $DNNLABS_DEVICE says otherwise.

    `preferred` may be "auto", "cpu", "cuda", "cuda:1", "mps" or a `torch.device`.
    """
    choice = str(preferred) if preferred is not None else os.environ.get(DEVICE_ENV, "auto")
    choice = choice.strip().lower() or "auto"
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(choice)
    except RuntimeError as error:
        raise ValueError(
            f"Unknown device {choice!r}: use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps' "
            f"(from DEVICE in the parameters cell or ${DEVICE_ENV})."
        ) from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "DEVICE asks for CUDA but PyTorch sees no CUDA GPU here. Use DEVICE='auto' "
            f"(or unset ${DEVICE_ENV}) to run on what this machine has."
        )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(
            "DEVICE asks for Apple MPS but it is not available here. Use DEVICE='auto' "
            f"(or unset ${DEVICE_ENV}) to run on what this machine has."
        )
    return device


def describe_device(device: torch.device) -> str:
    """One line naming the hardware behind `device`, for banners and result tables."""
    device = torch.device(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        return f"CUDA GPU {props.name} ({props.total_memory / 2**30:.0f} GiB)"
    if device.type == "mps":
        return f"Apple MPS GPU ({platform.machine()})"
    threads = torch.get_num_threads()
    return f"CPU ({platform.processor() or platform.machine()}, {threads} thread{'s' if threads > 1 else ''})"


def seed_everything(seed: int, deterministic: bool = False) -> int:
    """Seed Python, NumPy (if present) and PyTorch on every device so reruns repeat.

    With `deterministic=True` PyTorch also picks deterministic kernels (slower on a GPU,
    and it warns where an operation has none); use it when you compare runs to the digit.
    """
    random.seed(seed)
    with contextlib.suppress(ImportError):
        import numpy as np

        np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    return seed


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """The autocast dtype worth using on `device`, or None where mixed precision does not help.

    bfloat16 on CUDA GPUs that support it (no loss scaling needed), float16 on older CUDA
    GPUs (with a GradScaler), nothing on CPU or MPS, where it brings no speed-up here.
    """
    device = torch.device(device)
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device, enabled: bool = True) -> contextlib.AbstractContextManager:
    """Mixed-precision context for the forward pass; a no-op where `amp_dtype` says no."""
    dtype = amp_dtype(device) if enabled else None
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


def grad_scaler(device: torch.device, enabled: bool = True) -> torch.amp.GradScaler:
    """A GradScaler that is active only for float16 autocast (bfloat16 needs no scaling)."""
    device = torch.device(device)
    active = enabled and amp_dtype(device) == torch.float16
    return torch.amp.GradScaler(device.type if active else "cpu", enabled=active)


def uses_channels_last(model: nn.Module, device: torch.device) -> bool:
    """True where channels_last memory pays off: convolutions on a CUDA GPU."""
    has_conv = any(isinstance(m, nn.Conv2d) for m in model.modules())
    return has_conv and torch.device(device).type == "cuda"


def to_device(model: nn.Module, device: torch.device) -> nn.Module:
    """Move `model` to `device`, in channels_last layout where `uses_channels_last` says so."""
    model = model.to(device)
    if uses_channels_last(model, device):
        model = model.to(memory_format=torch.channels_last)
    return model
