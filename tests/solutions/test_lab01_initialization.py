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
