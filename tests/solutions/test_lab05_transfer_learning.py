"""Lab 05's reference solutions against PyTorch and SciPy: freezing, parameter groups, the fine-tuning
recipe and the paired confidence interval."""

import copy
import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

import labs
from solutions import lab05_transfer_learning as ref


def fashion_like(n: int = 500, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Tiny images whose first pixel is their row number, with random labels 0..9."""
    generator = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 10, (n,), generator=generator)
    X = torch.arange(n, dtype=torch.float32).reshape(n, 1, 1, 1).repeat(1, 1, 2, 2)
    return X, y


def rows(X: torch.Tensor) -> list[int]:
    return X[:, 0, 0, 0].long().tolist()


def model_a() -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(8, 6), nn.BatchNorm1d(6), nn.ReLU(),
                         nn.Linear(6, 6), nn.ReLU(), nn.Linear(6, 4))


@pytest.mark.parametrize("pair", [(0, 2), (5, 7)])
def test_split_partitions_the_data_into_task_a_and_task_b(pair):
    X, y = fashion_like()
    task = ref.split_task_a_b(X, y, n_b_train=None, pair=pair)
    assert set(task) == {"a", "b"}
    (X_a, y_a), (X_b, y_b) = task["a"], task["b"]
    assert sorted(rows(X_a) + rows(X_b)) == list(range(len(y)))
    others = [c for c in range(10) if c not in pair]
    assert torch.equal(y_a, torch.tensor([others.index(int(y[r])) for r in rows(X_a)]))
    assert y_b.dtype == torch.float32 and y_b.shape == (len(X_b), 1)
    assert torch.equal(y_b.flatten(), (y[rows(X_b)] == pair[0]).float())


def test_split_draws_n_b_train_b_images_reproducibly_from_the_seed():
    X, y = fashion_like()
    torch.manual_seed(1)
    first = ref.split_task_a_b(X, y, n_b_train=20, seed=3)["b"][0]
    torch.manual_seed(2)
    again = ref.split_task_a_b(X, y, n_b_train=20, seed=3)["b"][0]
    other = ref.split_task_a_b(X, y, n_b_train=20, seed=4)["b"][0]
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert len(set(rows(first))) == 20 and set(y[rows(first)].tolist()) <= {0, 2}


def test_split_refuses_more_b_images_than_there_are():
    X, y = fashion_like(50)
    with pytest.raises(ValueError, match="n_b_train"):
        ref.split_task_a_b(X, y, n_b_train=1_000)


def test_reuse_body_deep_copies_the_body_and_adds_a_fresh_head():
    torch.manual_seed(0)
    a = model_a().eval()
    b = ref.reuse_body(a, 1).eval()
    assert isinstance(b[-1], nn.Linear) and (b[-1].in_features, b[-1].out_features) == (6, 1)
    a_storage = {t.data_ptr() for t in [*a.parameters(), *a.buffers()]}
    assert all(t.data_ptr() not in a_storage for t in [*b.parameters(), *b.buffers()])
    x = torch.randn(16, 8)
    assert torch.equal(b[:-1](x), a[:-1](x))


def test_training_the_reused_model_leaves_model_a_untouched():
    torch.manual_seed(1)
    a = model_a()
    saved = copy.deepcopy(a.state_dict())
    b = ref.reuse_body(a, 1)
    optimizer = torch.optim.SGD(b.parameters(), lr=0.5)
    b(torch.randn(16, 8)).sum().backward()
    optimizer.step()
    assert all(torch.equal(value, saved[key]) for key, value in a.state_dict().items())
    assert a[-1].out_features == 4


@pytest.mark.parametrize("trainable", [False, True])
def test_set_trainable_matches_pytorchs_requires_grad_(trainable):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(),
                          nn.Sequential(nn.Linear(2, 2, bias=False), nn.LayerNorm(2)))
    model.requires_grad_(not trainable)
    expected = copy.deepcopy(model).requires_grad_(trainable)
    assert ref.set_trainable(model, trainable) is model
    assert [p.requires_grad for p in model.parameters()] == [p.requires_grad for p in expected.parameters()]


def test_frozen_parameters_get_no_gradient():
    model = model_a()
    ref.set_trainable(model, False)
    ref.set_trainable(model[-1], True)
    model(torch.randn(4, 8)).sum().backward()
    assert all(p.grad is None for p in model[:-1].parameters())
    assert all(p.grad is not None for p in model[-1].parameters())


def test_param_groups_step_like_two_separate_pytorch_optimizers():
    torch.manual_seed(2)
    model = model_a()
    twin = copy.deepcopy(model)
    grouped = torch.optim.SGD(ref.param_groups(model, body_lr=0.01, head_lr=0.1), lr=0.5)
    body = torch.optim.SGD(twin[:-1].parameters(), lr=0.01)
    head = torch.optim.SGD(twin[-1].parameters(), lr=0.1)
    x = torch.randn(16, 8)
    model(x).pow(2).mean().backward()
    twin(x).pow(2).mean().backward()
    grouped.step()
    body.step()
    head.step()
    for mine, theirs in zip(model.parameters(), twin.parameters()):
        assert torch.allclose(mine, theirs)


def test_param_groups_hold_every_parameter_once():
    model = model_a()
    groups = ref.param_groups(model, 1e-3, 1e-2)
    ids = [id(p) for group in groups for p in group["params"]]
    assert sorted(ids) == sorted(id(p) for p in model.parameters())


def binary_data(seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(80, 8, generator=generator)
    y = (X[:, :1] > 0).float()
    return {"train": (X[:60], y[:60]), "valid": (X[60:], y[60:])}


def test_fine_tune_trains_only_the_head_while_frozen():
    torch.manual_seed(3)
    model = model_a()[:-1].append(nn.Linear(6, 1))
    before = copy.deepcopy(model)
    history = ref.fine_tune(model, binary_data(), frozen_epochs=3, unfrozen_epochs=0, lr=0.1,
                            unfrozen_lr=0.01)
    assert len(history) == 3
    for (name, after), start in zip(model.named_parameters(), before.parameters()):
        assert torch.equal(after, start) != name.startswith("6.")


def test_fine_tune_equals_the_recipe_written_with_pytorch():
    torch.manual_seed(4)
    model = model_a()[:-1].append(nn.Linear(6, 1))
    twin = copy.deepcopy(model)
    data = binary_data()
    torch.manual_seed(5)
    history = ref.fine_tune(model, data, frozen_epochs=4, unfrozen_epochs=5, lr=0.1, unfrozen_lr=0.01)
    torch.manual_seed(5)
    loss_fn = nn.BCEWithLogitsLoss()
    twin.requires_grad_(False)
    twin[-1].requires_grad_(True)
    first = labs.fit(twin, torch.optim.SGD(twin[-1].parameters(), lr=0.1, momentum=0.9), data["train"],
                     data["valid"], epochs=4, batch_size=32, loss_fn=loss_fn, progress=False)
    twin.requires_grad_(True)
    second = labs.fit(twin, torch.optim.SGD(twin.parameters(), lr=0.01, momentum=0.9), data["train"],
                      data["valid"], epochs=5, batch_size=32, loss_fn=loss_fn, progress=False)
    for mine, theirs in zip(model.parameters(), twin.parameters()):
        assert torch.allclose(mine, theirs)
    assert history["epoch"] == list(range(1, 10))
    assert history["lr"] == [0.1] * 4 + [0.01] * 5
    assert history["train_loss"] == first["train_loss"] + second["train_loss"]
    assert all(p.requires_grad for p in model.parameters())


def seed_runs(n: int, seed: int, gain: float, luck: float, noise: float) -> tuple[list, list]:
    """Accuracies of n seeds from scratch and with transfer; `luck` is shared by a seed's two runs."""
    rng = np.random.default_rng(seed)
    shared = luck * rng.standard_normal(n)
    scratch = 0.85 + shared + noise * rng.standard_normal(n)
    transfer = 0.85 + gain + shared + noise * rng.standard_normal(n)
    return scratch.tolist(), transfer.tolist()


@pytest.mark.parametrize(("n", "confidence"), [(2, 0.95), (3, 0.9), (10, 0.95), (10, 0.99), (30, 0.95)])
def test_paired_gain_is_scipys_paired_t_interval(n, confidence):
    scratch, transfer = seed_runs(n, n, 0.01, 0.05, 0.02)
    gain = ref.paired_gain(scratch, transfer, confidence=confidence)
    interval = stats.ttest_rel(transfer, scratch).confidence_interval(confidence)
    assert gain["n"] == n and all(type(gain[key]) is float for key in ("mean", "low", "high"))
    assert math.isclose(gain["mean"], np.mean(np.subtract(transfer, scratch)), rel_tol=1e-12)
    assert math.isclose(gain["low"], interval.low, rel_tol=1e-9)
    assert math.isclose(gain["high"], interval.high, rel_tol=1e-9)


def test_paired_gain_is_narrower_than_the_unpaired_interval_when_seeds_share_luck():
    scratch, transfer = seed_runs(10, 5, 0.02, 0.1, 0.004)
    gain = ref.paired_gain(tuple(scratch), tuple(transfer))
    welch = stats.ttest_ind(transfer, scratch, equal_var=False).confidence_interval(0.95)
    assert gain["low"] > 0 > welch.low
    assert (gain["high"] - gain["low"]) * 4 < welch.high - welch.low


def test_paired_gain_signs_a_loss_and_has_no_width_without_spread():
    scratch, transfer = seed_runs(12, 4, -0.05, 0.04, 0.01)
    assert ref.paired_gain(scratch, transfer)["high"] < 0
    steady = ref.paired_gain([0.75, 0.8125, 0.6875], [0.8125, 0.875, 0.75])
    assert steady == {"mean": 0.0625, "low": 0.0625, "high": 0.0625, "n": 3}


@pytest.mark.parametrize(("scratch", "transfer", "message"),
                         [([0.8, 0.9], [0.85], "one accuracy per seed"), ([0.8], [0.85], "at least 2"),
                          ([], [], "at least 2")])
def test_paired_gain_refuses_unpaired_lists_and_fewer_than_two_seeds(scratch, transfer, message):
    with pytest.raises(ValueError, match=message):
        ref.paired_gain(scratch, transfer)


def test_answer_key_counts_trainable_parameters_with_pytorch():
    network = nn.Sequential(nn.Linear(20, 50), nn.ReLU(), nn.Linear(50, 7))
    reused = ref.reuse_body(network, 3)
    ref.set_trainable(reused, False)
    ref.set_trainable(reused[-1], True)
    assert sum(p.numel() for p in reused.parameters() if p.requires_grad) == ref.Q2
