"""Fashion-MNIST and CIFAR-10 as train/valid/test tensors on the device, or a synthetic stand-in.

The real data comes through torchvision (`download=True`) under the data root: $DNNLABS_DATA,
else the repository's `datasets/` folder. $DNNLABS_DATASET=synthetic swaps in a
deterministic stand-in with the same shapes, dtypes, classes and class names, for machines
without the data (CI has no network); a banner says so whenever it is used.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from labs.session import framed

DATA_ENV = "DNNLABS_DATA"
SOURCE_ENV = "DNNLABS_DATASET"
SOURCES = ("real", "synthetic")
REPO_DATA_ROOT = Path(__file__).resolve().parent.parent / "datasets"


class DataUnavailableError(RuntimeError):
    """The real data set is neither in the data root nor downloadable from here."""


@dataclass(frozen=True)
class DatasetSpec:
    """What a data set looks like: enough to load it or to imitate it."""

    name: str
    image_shape: tuple[int, int, int]
    n_train_full: int
    n_test_full: int
    classes: tuple[str, ...]
    raw_files: tuple[str, ...]


FASHION_MNIST = DatasetSpec(
    name="Fashion-MNIST",
    image_shape=(1, 28, 28),
    n_train_full=60_000,
    n_test_full=10_000,
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
             "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    raw_files=("FashionMNIST/raw/train-images-idx3-ubyte", "FashionMNIST/raw/train-labels-idx1-ubyte",
               "FashionMNIST/raw/t10k-images-idx3-ubyte", "FashionMNIST/raw/t10k-labels-idx1-ubyte"),
)
CIFAR10 = DatasetSpec(
    name="CIFAR-10",
    image_shape=(3, 32, 32),
    n_train_full=50_000,
    n_test_full=10_000,
    classes=("airplane", "automobile", "bird", "cat", "deer",
             "dog", "frog", "horse", "ship", "truck"),
    raw_files=tuple(f"cifar-10-batches-py/{name}" for name in
                    ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                     "data_batch_5", "test_batch", "batches.meta")),
)


@dataclass
class Splits:
    """Train, validation and test tensors of one data set, with its class names.

    Images are float32 in [0, 1] shaped (N, C, H, W); labels are int64 class indices.
    """

    name: str
    classes: list[str]
    X_train: Tensor
    y_train: Tensor
    X_valid: Tensor
    y_valid: Tensor
    X_test: Tensor
    y_test: Tensor
    synthetic: bool = False

    @property
    def train(self) -> tuple[Tensor, Tensor]:
        return self.X_train, self.y_train

    @property
    def valid(self) -> tuple[Tensor, Tensor]:
        return self.X_valid, self.y_valid

    @property
    def test(self) -> tuple[Tensor, Tensor]:
        return self.X_test, self.y_test

    @property
    def device(self) -> torch.device:
        return self.X_train.device

    def to(self, device: torch.device | str) -> Splits:
        """The same splits on `device` (a no-op copy where they already are)."""
        moved = {f.name: getattr(self, f.name).to(device) for f in fields(self)
                 if isinstance(getattr(self, f.name), Tensor)}
        return replace(self, **moved)

    def summary(self) -> str:
        kind = "synthetic stand-in for " if self.synthetic else ""
        return (f"{kind}{self.name}: train {len(self.y_train):,} · valid {len(self.y_valid):,} · "
                f"test {len(self.y_test):,} images of shape {tuple(self.X_train.shape[1:])}, "
                f"{len(self.classes)} classes, on {self.device}")


def data_root(root: str | Path | None = None) -> Path:
    """Where data sets live: `root`, else $DNNLABS_DATA, else the repository's `datasets/`."""
    chosen = root if root is not None else os.environ.get(DATA_ENV) or REPO_DATA_ROOT
    return Path(chosen).expanduser()


def dataset_source(source: str | None = None) -> str:
    """'real' or 'synthetic': `source`, else $DNNLABS_DATASET, else 'real'."""
    chosen = (source or os.environ.get(SOURCE_ENV) or "real").strip().lower()
    if chosen not in SOURCES:
        raise ValueError(f"Unknown data source {chosen!r} (from ${SOURCE_ENV} or `source`): "
                         f"use one of {', '.join(SOURCES)}.")
    return chosen


def load_fashion_mnist(n_train: int | None = None, n_valid: int = 5_000, n_test: int | None = None,
                       *, device: torch.device | str = "cpu", root: str | Path | None = None,
                       source: str | None = None, verbose: bool = True) -> Splits:
    """Fashion-MNIST as 55k/5k/10k train/valid/test tensors on `device` (fewer if asked).

    The validation set is the last `n_valid` images of the official training set; `n_train`
    takes the first images of the rest; `n_test` the first of the official test set.
    """
    return _load(FASHION_MNIST, _read_fashion_mnist, n_train, n_valid, n_test,
                 device=device, root=root, source=source, verbose=verbose)


def load_cifar10(n_train: int | None = None, n_valid: int = 5_000, n_test: int | None = None,
                 *, device: torch.device | str = "cpu", root: str | Path | None = None,
                 source: str | None = None, verbose: bool = True) -> Splits:
    """CIFAR-10 as 45k/5k/10k train/valid/test tensors on `device` (fewer if asked)."""
    return _load(CIFAR10, _read_cifar10, n_train, n_valid, n_test,
                 device=device, root=root, source=source, verbose=verbose)


Reader = Callable[[Path, bool], tuple[Tensor, Tensor]]


def _load(spec: DatasetSpec, read: Reader, n_train: int | None, n_valid: int,
          n_test: int | None, *, device: torch.device | str, root: str | Path | None,
          source: str | None, verbose: bool) -> Splits:
    n_fit = spec.n_train_full - n_valid
    n_train = n_fit if n_train is None else n_train
    n_test = spec.n_test_full if n_test is None else n_test
    _check_sizes(spec, n_train, n_valid, n_test)
    synthetic = dataset_source(source) == "synthetic"
    if synthetic:
        X_fit, y_fit = synthetic_images(spec, "train", n_train)
        X_valid, y_valid = synthetic_images(spec, "valid", n_valid)
        X_test, y_test = synthetic_images(spec, "test", n_test)
    else:
        X_full, y_full = _read_real(spec, read, data_root(root), train=True)
        X_fit, y_fit = X_full[:n_train], y_full[:n_train]
        X_valid, y_valid = X_full[len(X_full) - n_valid:], y_full[len(y_full) - n_valid:]
        X_all_test, y_all_test = _read_real(spec, read, data_root(root), train=False)
        X_test, y_test = X_all_test[:n_test], y_all_test[:n_test]
    splits = Splits(spec.name, list(spec.classes), X_fit, y_fit, X_valid, y_valid, X_test, y_test,
                    synthetic=synthetic).to(device)
    if verbose:
        if synthetic:
            _print_synthetic_banner(spec)
        print(splits.summary())
    return splits


def _check_sizes(spec: DatasetSpec, n_train: int, n_valid: int, n_test: int) -> None:
    n_fit = spec.n_train_full - n_valid
    if not 0 <= n_valid < spec.n_train_full:
        raise ValueError(f"n_valid={n_valid} must be between 0 and {spec.n_train_full - 1}.")
    if not 0 < n_train <= n_fit:
        raise ValueError(f"n_train={n_train} must be between 1 and {n_fit:,} for {spec.name} "
                         f"with n_valid={n_valid:,}.")
    if not 0 <= n_test <= spec.n_test_full:
        raise ValueError(f"n_test={n_test} must be between 0 and {spec.n_test_full:,}.")


def _read_real(spec: DatasetSpec, read: Reader, root: Path, train: bool) -> tuple[Tensor, Tensor]:
    try:
        X, y = read(root, train)
    except (RuntimeError, OSError) as error:
        files = "\n".join(f"  {root / name}" for name in spec.raw_files)
        raise DataUnavailableError(
            f"{spec.name} is not in the data root {root} and could not be downloaded:\n"
            f"  {str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__}\n"
            "To fix it, do one of these:\n"
            "  - run once on a machine with internet access (the files are cached in the root);\n"
            f"  - copy these files into the root (see datasets/README.md), or point ${DATA_ENV} "
            f"at a folder that has them:\n{files}\n"
            f"  - or set {SOURCE_ENV}=synthetic to use the synthetic stand-in "
            "(same shapes, not the real lesson)."
        ) from error
    return X, y


def _read_fashion_mnist(root: Path, train: bool) -> tuple[Tensor, Tensor]:
    from torchvision.datasets import FashionMNIST

    dataset = FashionMNIST(str(root), train=train, download=True)
    X = dataset.data.unsqueeze(1).float().div_(255)
    return X, dataset.targets.long()


def _read_cifar10(root: Path, train: bool) -> tuple[Tensor, Tensor]:
    from torchvision.datasets import CIFAR10

    dataset = CIFAR10(str(root), train=train, download=True)
    X = torch.from_numpy(dataset.data).permute(0, 3, 1, 2).float().div_(255).contiguous()
    return X, torch.tensor(dataset.targets, dtype=torch.long)


def _print_synthetic_banner(spec: DatasetSpec) -> None:
    print(framed([f"SYNTHETIC STAND-IN for {spec.name} (${SOURCE_ENV}=synthetic): same shapes and "
                  "classes, made-up images. Accuracies here say nothing about the real data set."]))


# --- The synthetic stand-in ---------------------------------------------------------------
# Each class is a family of smooth templates around a shared base image; each image is one
# template, an individual smooth distortion and pixel noise, squashed into [0, 1]. Classes
# overlap enough that a small network lands well above chance and well below 100%.

_CHUNK = 1024
_SPLIT_SEEDS = {"train": 1, "valid": 2, "test": 3}
_TEMPLATES_PER_CLASS = 3


@dataclass(frozen=True)
class _Style:
    """How strong each ingredient of a stand-in image is; tuned so that a 784-300-100-10 MLP
    trained briefly lands well above chance and well below 100%, as on the real data."""

    class_signal: float
    template_spread: float
    distortion: float
    pixel_noise: float


_STYLES = {
    FASHION_MNIST.name: _Style(class_signal=0.3, template_spread=0.5, distortion=1.0, pixel_noise=0.5),
    CIFAR10.name: _Style(class_signal=0.12, template_spread=0.3, distortion=1.4, pixel_noise=0.6),
}


def synthetic_images(spec: DatasetSpec, split: str, n: int) -> tuple[Tensor, Tensor]:
    """`n` deterministic stand-in images and labels for `split` ("train", "valid" or "test").

    Images are made in chunks seeded by their position, so the first k images of a split
    are the same whatever `n` is, and the cost grows with `n` only.
    """
    templates = _class_templates(spec)
    chunks = [_synthetic_chunk(spec, templates, split, start) for start in range(0, n, _CHUNK)]
    if not chunks:
        channels, height, width = spec.image_shape
        return torch.empty(0, channels, height, width), torch.empty(0, dtype=torch.long)
    X, y = zip(*chunks)
    return torch.cat(X)[:n], torch.cat(y)[:n]


def _smooth_fields(n: int, shape: tuple[int, int, int], generator: torch.Generator,
                   coarse: int) -> Tensor:
    """Random images that vary smoothly in space: coarse noise upsampled bilinearly."""
    channels, height, width = shape
    noise = torch.randn(n, channels, coarse, coarse, generator=generator)
    return F.interpolate(noise, size=(height, width), mode="bilinear", align_corners=False)


def _class_templates(spec: DatasetSpec) -> Tensor:
    """(classes, templates, C, H, W): a shared base, a class pattern and template variations."""
    generator = torch.Generator().manual_seed(sum(map(ord, spec.name)))
    n_classes = len(spec.classes)
    coarse = max(4, spec.image_shape[1] // 5)
    style = _STYLES[spec.name]
    base = _smooth_fields(1, spec.image_shape, generator, coarse)
    per_class = _smooth_fields(n_classes, spec.image_shape, generator, coarse)
    variations = _smooth_fields(n_classes * _TEMPLATES_PER_CLASS, spec.image_shape, generator, coarse)
    variations = variations.view(n_classes, _TEMPLATES_PER_CLASS, *spec.image_shape)
    return base + style.class_signal * per_class[:, None] + style.template_spread * variations


def _synthetic_chunk(spec: DatasetSpec, templates: Tensor, split: str,
                     start: int) -> tuple[Tensor, Tensor]:
    n = _CHUNK
    seed = _SPLIT_SEEDS[split] * 1_000_003 + start // _CHUNK
    generator = torch.Generator().manual_seed(seed)
    n_classes = len(spec.classes)
    y = (torch.arange(n) + start) % n_classes
    y = y[torch.randperm(n, generator=generator)]
    which = torch.randint(_TEMPLATES_PER_CLASS, (n,), generator=generator)
    coarse = max(4, spec.image_shape[1] // 4)
    distortion = _smooth_fields(n, spec.image_shape, generator, coarse)
    pixels = torch.randn(n, *spec.image_shape, generator=generator)
    contrast = 0.7 + 0.6 * torch.rand(n, 1, 1, 1, generator=generator)
    style = _STYLES[spec.name]
    logits = (contrast * templates[y, which] + style.distortion * distortion
              + style.pixel_noise * pixels)
    X = torch.sigmoid(1.5 * logits - 0.5)
    return X.contiguous(), y.long()


__all__ = [
    "CIFAR10",
    "FASHION_MNIST",
    "DataUnavailableError",
    "DatasetSpec",
    "Splits",
    "data_root",
    "dataset_source",
    "load_cifar10",
    "load_fashion_mnist",
    "synthetic_images",
]
