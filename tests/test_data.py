"""Data loaders: the synthetic stand-in, the real path on files we make, and the offline error."""

import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

import labs
from labs.data import CIFAR10, FASHION_MNIST, synthetic_images
from labs.session import MAX_COLUMNS


@pytest.mark.parametrize(("loader", "spec"), [(labs.load_fashion_mnist, FASHION_MNIST),
                                              (labs.load_cifar10, CIFAR10)])
def test_synthetic_has_the_real_shapes_dtypes_and_classes(loader, spec):
    data = loader(n_train=300, n_valid=100, n_test=50, source="synthetic", verbose=False)
    assert data.synthetic and data.classes == list(spec.classes)
    for X, y, n in [(data.X_train, data.y_train, 300), (data.X_valid, data.y_valid, 100),
                    (data.X_test, data.y_test, 50)]:
        assert X.shape == (n, *spec.image_shape) and X.dtype == torch.float32
        assert y.shape == (n,) and y.dtype == torch.int64
        assert X.min() >= 0.0 and X.max() <= 1.0
        assert set(y.tolist()) == set(range(10))


def test_synthetic_default_sizes_are_the_real_splits():
    data = labs.load_fashion_mnist(n_train=10, source="synthetic", verbose=False)
    assert (len(data.y_valid), len(data.y_test)) == (5_000, 10_000)


def test_synthetic_is_deterministic_and_prefix_stable():
    X_small, y_small = synthetic_images(FASHION_MNIST, "train", 1500)
    X_large, y_large = synthetic_images(FASHION_MNIST, "train", 3000)
    assert torch.equal(X_small, X_large[:1500]) and torch.equal(y_small, y_large[:1500])
    X_valid, _ = synthetic_images(FASHION_MNIST, "valid", 1500)
    assert not torch.equal(X_small, X_valid), "splits must differ"


@pytest.mark.parametrize(("loader", "chance"), [(labs.load_fashion_mnist, 0.1), (labs.load_cifar10, 0.1)])
def test_synthetic_is_learnable_but_not_trivial(loader, chance):
    labs.seed_everything(0)
    data = loader(n_train=2000, n_valid=1000, n_test=0, source="synthetic", verbose=False)
    inputs = data.X_train[0].numel()
    model = nn.Sequential(nn.Flatten(), nn.Linear(inputs, 100), nn.ReLU(), nn.Linear(100, 10))
    history = labs.fit(model, torch.optim.Adam(model.parameters(), 1e-3), data.train, data.valid,
                       epochs=3, progress=False)
    accuracy = history.last["valid_metric"]
    assert 2.5 * chance < accuracy < 0.95, f"valid accuracy {accuracy:.3f} in quick mode"


def test_loader_announces_the_stand_in(capsys):
    labs.load_fashion_mnist(n_train=10, n_valid=10, n_test=10, source="synthetic")
    assert "SYNTHETIC STAND-IN for Fashion-MNIST" in capsys.readouterr().out


def test_stand_in_banner_is_a_box_that_fits_a_notebook(capsys):
    labs.load_cifar10(n_train=10, n_valid=10, n_test=10, source="synthetic")
    rows = capsys.readouterr().out.splitlines()
    top = next(i for i, row in enumerate(rows) if row.startswith("╔"))
    bottom = next(i for i, row in enumerate(rows) if row.startswith("╚"))
    box = rows[top:bottom + 1]
    assert "SYNTHETIC STAND-IN for CIFAR-10" in box[1] and len(box) >= 3, f"a framed box: {box}"
    assert all(len(row) == len(box[0]) <= MAX_COLUMNS for row in box), "no row wider than a notebook"


def test_splits_move_to_a_device_and_expose_pairs():
    data = labs.load_fashion_mnist(n_train=10, n_valid=5, n_test=5, source="synthetic", verbose=False)
    moved = data.to("cpu")
    X, y = moved.train
    assert X is moved.X_train and y is moved.y_train and moved.device.type == "cpu"
    assert "train 10 · valid 5 · test 5" in moved.summary()


@pytest.mark.parametrize("kwargs", [{"n_train": 0}, {"n_train": 55_001}, {"n_valid": 60_000},
                                    {"n_test": 10_001}])
def test_impossible_sizes_are_refused(kwargs):
    with pytest.raises(ValueError, match="must be between"):
        labs.load_fashion_mnist(source="synthetic", verbose=False, **kwargs)


def test_unknown_source_is_refused():
    with pytest.raises(ValueError, match="use one of real, synthetic"):
        labs.load_fashion_mnist(source="imagenet")


def test_data_root_prefers_argument_then_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DNNLABS_DATA", str(tmp_path / "env"))
    assert labs.data_root() == tmp_path / "env"
    assert labs.data_root(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("DNNLABS_DATA")
    assert labs.data_root().name == "datasets"


def test_offline_without_data_says_how_to_populate_the_root(monkeypatch, tmp_path):
    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(labs.DataUnavailableError) as failure:
        labs.load_fashion_mnist(root=tmp_path, source="real", verbose=False)
    message = str(failure.value)
    assert str(tmp_path) in message and "DNNLABS_DATASET=synthetic" in message
    assert "train-images-idx3-ubyte" in message and "DNNLABS_DATA" in message


def _write_idx(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    magic = {1: 0x801, 3: 0x803}[array.ndim]
    with open(path, "wb") as handle:
        handle.write(struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape))
        handle.write(array.astype(np.uint8).tobytes())


def test_real_fashion_mnist_path_reads_a_prepopulated_root(tmp_path):
    rng = np.random.default_rng(0)
    raw = tmp_path / "FashionMNIST" / "raw"
    train_images, train_labels = rng.integers(0, 256, (60, 28, 28)), np.arange(60) % 10
    _write_idx(raw / "train-images-idx3-ubyte", train_images)
    _write_idx(raw / "train-labels-idx1-ubyte", train_labels)
    _write_idx(raw / "t10k-images-idx3-ubyte", rng.integers(0, 256, (20, 28, 28)))
    _write_idx(raw / "t10k-labels-idx1-ubyte", np.arange(20) % 10)
    data = labs.load_fashion_mnist(n_train=40, n_valid=20, n_test=20, root=tmp_path, source="real",
                                   verbose=False)
    assert not data.synthetic and data.X_train.shape == (40, 1, 28, 28)
    assert torch.allclose(data.X_train[0, 0] * 255, torch.tensor(train_images[0], dtype=torch.float32))
    assert torch.equal(data.y_valid, torch.tensor(train_labels[40:]))


def test_real_cifar10_path_reads_a_prepopulated_root(tmp_path, monkeypatch):
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *a, **k: True)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
                 "test_batch"]:
        batch = {"data": rng.integers(0, 256, (10, 3072), dtype=np.uint8), "labels": list(range(10))}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": list(CIFAR10.classes)}))
    data = labs.load_cifar10(n_train=40, n_valid=10, n_test=10, root=tmp_path, source="real",
                             verbose=False)
    assert data.X_train.shape == (40, 3, 32, 32) and data.classes == list(CIFAR10.classes)
    first = pickle.loads((folder / "data_batch_1").read_bytes())["data"][0].reshape(3, 32, 32)
    assert torch.allclose(data.X_train[0] * 255, torch.tensor(first, dtype=torch.float32), atol=1e-3)
