"""Lab 04's reference solutions against PyTorch's own clipping functions and training step."""

import copy

import pytest
import torch
from torch import nn

from solutions import lab04_gradient_clipping as ref


def model_with_grads(seed: int = 0, scale: float = 50.0) -> nn.Module:
    """A small model whose gradients are filled in, plus an unused parameter (grad None)."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    model.unused = nn.Parameter(torch.ones(2))
    X, y = torch.randn(32, 6), torch.randint(0, 3, (32,))
    (scale * nn.functional.cross_entropy(model(X), y)).backward()
    return model


def grads(model: nn.Module) -> list:
    return [None if p.grad is None else p.grad.clone() for p in model.parameters()]


def assert_same_grads(mine: list, theirs: list, **tolerance) -> None:
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b, **tolerance)


@pytest.mark.parametrize(("scale", "max_norm"), [(50.0, 1.0), (500.0, 0.3), (0.01, 1.0)])
@pytest.mark.parametrize("as_generator", [False, True])
def test_clip_grad_norm_matches_pytorch(scale, max_norm, as_generator):
    mine, theirs = model_with_grads(scale=scale), model_with_grads(scale=scale)
    params = mine.parameters() if as_generator else list(mine.parameters())
    total = ref.clip_grad_norm(params, max_norm)
    expected = nn.utils.clip_grad_norm_(theirs.parameters(), max_norm)
    torch.testing.assert_close(total, expected)
    assert_same_grads(grads(mine), grads(theirs))


def test_clip_grad_norm_on_a_single_tensor_and_a_tiny_norm():
    for values, max_norm in [(torch.randn(5, 4) * 10, 1.0), (torch.tensor([6e-7, 8e-7]), 5e-7)]:
        mine, theirs = (torch.zeros_like(values, requires_grad=True) for _ in range(2))
        mine.grad, theirs.grad = values.clone(), values.clone()
        torch.testing.assert_close(ref.clip_grad_norm(mine, max_norm),
                                   nn.utils.clip_grad_norm_(theirs, max_norm))
        torch.testing.assert_close(mine.grad, theirs.grad)


def test_clip_grad_norm_without_any_gradient_returns_zero():
    assert ref.clip_grad_norm([nn.Parameter(torch.ones(3))], 1.0).item() == 0.0


@pytest.mark.parametrize("clip_value", [0.05, 0.5, 100.0])
def test_clip_grad_value_matches_pytorch(clip_value):
    mine, theirs = model_with_grads(), model_with_grads()
    assert ref.clip_grad_value(mine.parameters(), clip_value) is None
    nn.utils.clip_grad_value_(theirs.parameters(), clip_value)
    assert_same_grads(grads(mine), grads(theirs), rtol=0, atol=0)
    weight = torch.zeros(3, requires_grad=True)
    weight.grad = torch.tensor([0.9, 100.0, -7.0])
    ref.clip_grad_value(weight, 1.0)
    assert weight.grad.tolist() == pytest.approx([0.9, 1.0, -1.0])


def pytorch_step(model, X, y, loss_fn, optimizer, max_norm=None, clip_value=None):
    """The same step written with PyTorch's own clipping functions."""
    loss = loss_fn(model(X), y)
    loss.backward()
    if max_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    if clip_value is not None:
        nn.utils.clip_grad_value_(model.parameters(), clip_value)
    optimizer.step()
    optimizer.zero_grad()
    return loss.item()


@pytest.mark.parametrize("clipping", [{}, {"max_norm": 0.05}, {"clip_value": 0.005},
                                      {"max_norm": 0.05, "clip_value": 0.005}])
def test_train_step_takes_the_same_steps_as_pytorchs_clipping(clipping):
    torch.manual_seed(1)
    mine = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3))
    theirs = copy.deepcopy(mine)
    opt_mine = torch.optim.SGD(mine.parameters(), lr=0.5, momentum=0.9)
    opt_theirs = torch.optim.SGD(theirs.parameters(), lr=0.5, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(5):
        X, y = torch.randn(64, 5) * 3, torch.randint(0, 3, (64,))
        out = ref.train_step(mine, X, y, loss_fn, opt_mine, **clipping)
        assert out["loss"] == pytest.approx(pytorch_step(theirs, X, y, loss_fn, opt_theirs, **clipping))
        assert all(isinstance(out[key], float) for key in ("loss", "grad_norm_before", "grad_norm_after"))
        assert all(p.grad is None for p in mine.parameters())
    for a, b in zip(mine.parameters(), theirs.parameters()):
        torch.testing.assert_close(a, b)


def test_train_step_reports_the_norms_before_and_after_clipping():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3))
    twin = copy.deepcopy(model)
    X, y = torch.randn(64, 5) * 3, torch.randint(0, 3, (64,))
    nn.functional.cross_entropy(twin(X), y).backward()
    norm = nn.utils.clip_grad_norm_(twin.parameters(), float("inf")).item()
    out = ref.train_step(model, X, y, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1),
                         max_norm=norm / 3)
    assert out["grad_norm_before"] == pytest.approx(norm, rel=1e-5)
    assert out["grad_norm_after"] == pytest.approx(norm / 3, rel=1e-4)


def test_answer_key_agrees_with_pytorch():
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(1, requires_grad=True)
    a.grad, b.grad = torch.tensor([3.0, 0.0]), torch.tensor([4.0])
    assert nn.utils.clip_grad_norm_([a, b], 1.0).item() == pytest.approx(ref.Q3)
    g = torch.zeros(2, requires_grad=True)
    g.grad = torch.tensor([6.0, 8.0])
    nn.utils.clip_grad_norm_([g], 2.5)
    assert g.grad[0].item() / 6.0 == pytest.approx(ref.Q4, rel=1e-4)
    g.grad = torch.tensor([0.9, 100.0])
    nn.utils.clip_grad_value_([g], 1.0)
    assert g.grad.tolist() == pytest.approx([0.9, 1.0])  # Q2's option b
    g.grad = torch.tensor([0.9, 100.0])
    nn.utils.clip_grad_norm_([g], 1.0)
    assert g.grad.tolist() == pytest.approx([0.009, 0.99996], abs=1e-5)  # Q2's option a
    assert ref.Q2 == "b"


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(("histories", "blowup", "expected"), [
    ([[0.5, 0.4, 0.3], [1.0, 0.9]], 10.0, 0.0),
    ([[0.5, 0.4, NAN], [1.0, 0.9]], 10.0, 0.5),
    ([[0.5, NAN, 0.3, 0.2], [1.0, 0.9], [1.0, 0.8]], 10.0, 1 / 3),
    ([[INF, 0.5], [0.5, 0.4, -INF], [1.0, 0.9], [1.0, 0.8]], 10.0, 0.5),
    ([[0.5, 5.5, 0.1], [0.5, 5.0, 0.1]], 10.0, 0.5),  # above 10 × 0.5 counts, equal does not
    ([[40.0, 100.0, 30.0]], 10.0, 0.0),  # relative to the first loss
    (((1, 3, 1), (1, 2, 1)), 2.0, 0.5),
])
def test_divergence_fraction_counts_every_non_finite_or_blown_up_loss(histories, blowup, expected):
    assert ref.divergence_fraction(histories, blowup=blowup) == expected


def test_divergence_fraction_agrees_with_a_float64_tensor_version():
    torch.manual_seed(0)
    histories = [(torch.rand(20, dtype=torch.float64) * 12 + 0.1).tolist() for _ in range(50)]
    histories[3][7], histories[8][-1], histories[9][0] = NAN, INF, -INF
    flags = [bool((~torch.isfinite(t) | (t > 10.0 * t[0])).any())
             for t in (torch.tensor(h, dtype=torch.float64) for h in histories)]
    assert ref.divergence_fraction(histories) == sum(flags) / len(flags)


@pytest.mark.parametrize("histories", [[], [[0.5, 0.4], []], [[]]])
def test_divergence_fraction_refuses_no_runs_and_empty_histories(histories):
    with pytest.raises(ValueError, match="pass"):
        ref.divergence_fraction(histories)
