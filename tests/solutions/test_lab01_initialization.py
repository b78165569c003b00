"""Lab 01's reference solutions against PyTorch's own initializers."""

import math

import pytest
import torch
from torch import nn

from solutions import lab01_initialization as ref

FAN_IN, FAN_OUT = 800, 400


def empirical_std(init, **kwargs) -> float:
    torch.manual_seed(0)
    weight = torch.empty(FAN_OUT, FAN_IN)
    init(weight, **kwargs)
    return weight.std().item()


@pytest.mark.parametrize(("scheme", "init", "kwargs"), [
    ("glorot", nn.init.xavier_normal_, {}),
    ("he", nn.init.kaiming_normal_, {"nonlinearity": "relu"}),
    ("lecun", nn.init.kaiming_normal_, {"nonlinearity": "linear"}),
])
def test_init_std_matches_pytorch_initializers(scheme, init, kwargs):
    assert ref.init_std(FAN_IN, FAN_OUT, scheme) == pytest.approx(empirical_std(init, **kwargs), rel=0.01)


def test_init_std_refuses_unknown_schemes():
    with pytest.raises(ValueError, match="Unknown scheme"):
        ref.init_std(10, 10, "xavier")


def test_uniform_bound_is_pytorchs_kaiming_uniform_bound():
    torch.manual_seed(0)
    weight = torch.empty(FAN_OUT, FAN_IN)
    nn.init.kaiming_uniform_(weight, nonlinearity="relu")
    bound = ref.uniform_bound(ref.init_std(FAN_IN, FAN_OUT, "he"))
    assert bound == pytest.approx(math.sqrt(6 / FAN_IN))
    assert weight.abs().max().item() <= bound and weight.abs().max().item() > 0.99 * bound


@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_init_linear_matches_xavier_statistics(distribution):
    torch.manual_seed(1)
    layer = ref.init_linear_(nn.Linear(FAN_IN, FAN_OUT), "glorot", distribution)
    init = nn.init.xavier_normal_ if distribution == "normal" else nn.init.xavier_uniform_
    assert layer.weight.std().item() == pytest.approx(empirical_std(init), rel=0.02)
    assert torch.all(layer.bias == 0)


def test_init_linear_handles_layers_without_bias_and_refuses_unknown_distributions():
    ref.init_linear_(nn.Linear(5, 5, bias=False), "he")
    with pytest.raises(ValueError, match="Unknown distribution"):
        ref.init_linear_(nn.Linear(5, 5), "he", "cauchy")


def test_apply_init_reaches_nested_linear_layers_only():
    model = nn.Sequential(nn.Linear(300, 300), nn.Sequential(nn.Linear(300, 300), nn.LayerNorm(300)))
    model[1][1].weight.data.fill_(2.0)
    ref.apply_init(model, "he")
    assert model[1][0].weight.std().item() == pytest.approx(math.sqrt(2 / 300), rel=0.05)
    assert torch.all(model[1][1].weight == 2.0)


def test_layer_stats_matches_a_manual_forward_and_backward():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3))
    X, y = torch.randn(32, 6), torch.randint(0, 3, (32,))
    stats = ref.layer_stats(model, X, y, nn.CrossEntropyLoss())
    hidden = model[0](X)
    nn.CrossEntropyLoss()(model(X), y).backward()
    assert stats[0]["std"] == pytest.approx(hidden.std().item())
    assert stats[1]["mean"] == pytest.approx(model(X).mean().item())
    model.zero_grad()
    nn.CrossEntropyLoss()(model(X), y).backward()
    assert stats[1]["grad_norm"] == pytest.approx(model[2].weight.grad.norm().item())
    assert not model[0]._forward_hooks


@pytest.mark.parametrize("shape", [(64, 64), (100, 30), (30, 100)])
def test_orthogonal_init_has_the_singular_values_of_pytorchs(shape):
    rows, cols = shape
    torch.manual_seed(3)
    mine = ref.orthogonal_init_(nn.Linear(cols, rows)).weight.detach()
    theirs = nn.init.orthogonal_(torch.empty(rows, cols))
    assert torch.allclose(torch.linalg.svdvals(mine), torch.linalg.svdvals(theirs), atol=1e-5)


def test_orthogonal_init_preserves_norms():
    torch.manual_seed(4)
    W = ref.orthogonal_init_(nn.Linear(50, 50)).weight.detach()
    x = torch.randn(50, 7)
    assert torch.allclose((W @ x).norm(dim=0), x.norm(dim=0), rtol=1e-5)


def test_answer_key_agrees_with_pytorch():
    assert pytest.approx(empirical_std(nn.init.kaiming_normal_, nonlinearity="relu")
                                   * math.sqrt(FAN_IN / 200), rel=0.01) == ref.Q3
    torch.manual_seed(5)
    default = nn.Linear(1000, 1000).weight.std().item()
    assert default / (1 / math.sqrt(1000)) == pytest.approx(ref.Q4, rel=0.01)


def second_moment(f, variance: float = 1.0) -> float:
    """E[f(z)²] for z ~ N(0, variance), by the trapezoidal rule on a fine float64 grid."""
    z = torch.linspace(-12, 12, 200_001, dtype=torch.float64)
    density = torch.exp(-z**2 / 2) / math.sqrt(2 * math.pi)
    return torch.trapezoid(f(z * math.sqrt(variance)) ** 2 * density, z).item()


@pytest.mark.parametrize("alpha", [0.0, 0.01, 0.2, 1.0, -0.5, 3.0])
def test_variance_gain_is_the_second_moment_of_leaky_relu(alpha):
    gain = ref.variance_gain("leaky_relu", alpha)
    assert gain == pytest.approx(second_moment(lambda z: torch.where(z > 0, z, alpha * z)), rel=1e-9)
    assert gain == pytest.approx(1 / nn.init.calculate_gain("leaky_relu", alpha) ** 2, rel=1e-12)


def test_variance_gain_of_relu_tanh_and_linear():
    assert ref.variance_gain("relu") == pytest.approx(second_moment(torch.relu), rel=1e-9)
    assert ref.variance_gain("relu") == pytest.approx(1 / nn.init.calculate_gain("relu") ** 2)
    assert ref.variance_gain("tanh") == pytest.approx(second_moment(torch.tanh, 1e-8) / 1e-8, rel=1e-7)
    assert ref.variance_gain("linear") == ref.variance_gain("linear", 0.3) == 1.0
    assert ref.variance_gain("leaky_relu") == pytest.approx(0.50005)


def test_variance_gain_refuses_unknown_activations_naming_the_known_ones():
    with pytest.raises(ValueError, match="'relu', 'leaky_relu', 'tanh' or 'linear'"):
        ref.variance_gain("sigmoid")


def test_variance_gain_predicts_the_variance_of_a_wide_layer():
    generator = torch.Generator().manual_seed(6)
    n = 256
    z = torch.randn(2048, n, generator=generator, dtype=torch.float64)
    W = torch.randn(n, n, generator=generator, dtype=torch.float64) * math.sqrt(2 / n)
    n_sigma2 = W.square().sum(dim=1).mean().item()  # n·σ² of this draw of W
    for activation, f in (("relu", torch.relu), ("leaky_relu", lambda x: nn.functional.leaky_relu(x, 0.01)),
                          ("linear", lambda x: x)):
        ratio = ((f(z) @ W.T).var() / z.var()).item()
        assert ratio == pytest.approx(n_sigma2 * ref.variance_gain(activation), rel=0.03)


@pytest.mark.parametrize(("norms", "threshold", "depth"), [
    ([1e-5, 1e-3, 0.5, 1.0], 1e-2, 3),
    ([3.0, 2e-3, 4.0, 5e-4, 0.8, 2.0], 1e-2, 3),
    ([40.0, 9.0, 0.05, 1.0], 1e-2, None),
    ([0.25, 3.0, 1.0, 4.0], 0.25, 4),
    ((0.6, 0.01, 0.4, 2.0), 1e-2, 3),
    ((0.6, 0.01, 0.4, 2.0), 1e-3, None),
    ([0.7], 1e-2, None),
])
def test_vanishing_depth_walks_back_from_the_output_layer(norms, threshold, depth):
    given = list(norms) if isinstance(norms, list) else norms
    assert ref.vanishing_depth(given, threshold) == depth
    assert list(given) == list(norms)


def test_vanishing_depth_of_layer_stats_and_of_nothing():
    torch.manual_seed(7)
    model = nn.Sequential(*[module for _ in range(6) for module in (nn.Linear(32, 32), nn.Sigmoid())],
                          nn.Linear(32, 4))
    stats = ref.layer_stats(model, torch.randn(64, 32), torch.randint(0, 4, (64,)), nn.CrossEntropyLoss())
    norms = [layer["grad_norm"] for layer in stats]
    depth = ref.vanishing_depth(norms)
    assert depth is not None and norms[-depth] < 1e-2 * norms[-1] <= min(norms[-depth + 1:])
    with pytest.raises(ValueError):
        ref.vanishing_depth([])
