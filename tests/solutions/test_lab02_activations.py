"""Lab 02's reference solutions against PyTorch's own activations."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from solutions import lab02_activations as ref

Z = torch.cat([torch.linspace(-40.0, 40.0, 800), torch.tensor([-1e-3, 1e-3, -0.5, 0.5])])


def values_and_grads(function, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    z = z.double().clone().requires_grad_(True)
    y = function(z)
    (grad,) = torch.autograd.grad(y, z, grad_outputs=torch.linspace(-1, 1, len(z), dtype=torch.float64))
    return y.detach(), grad


@pytest.mark.parametrize(("mine", "pytorch"), [
    (ref.leaky_relu, lambda z: F.leaky_relu(z, 0.01)),
    (lambda z: ref.leaky_relu(z, alpha=0.2), lambda z: F.leaky_relu(z, 0.2)),
    (ref.elu, F.elu),
    (lambda z: ref.elu(z, alpha=0.5), lambda z: F.elu(z, alpha=0.5)),
    (ref.selu, F.selu),
    (ref.gelu, F.gelu),
    (ref.gelu_sigmoid, lambda z: F.silu(1.702 * z) / 1.702),
    (ref.swish, F.silu),
    (lambda z: ref.swish(z, beta=2.0), lambda z: F.silu(2.0 * z) / 2.0),
    (ref.mish, F.mish),
    (ref.relu_squared, lambda z: F.relu(z) ** 2),
], ids=["leaky_relu", "leaky_relu_0.2", "elu", "elu_0.5", "selu", "gelu", "gelu_sigmoid", "swish",
        "swish_2", "mish", "relu_squared"])
def test_activation_matches_pytorch_in_value_and_gradient(mine, pytorch):
    my_values, my_grads = values_and_grads(mine, Z)
    values, grads = values_and_grads(pytorch, Z)
    assert torch.allclose(my_values, values, rtol=1e-9, atol=1e-12)
    assert torch.allclose(my_grads, grads, rtol=1e-9, atol=1e-12)


def test_selu_constants_are_pytorchs():
    scale = F.selu(torch.tensor(1.0, dtype=torch.float64)).item()
    floor = F.selu(torch.tensor(-100.0, dtype=torch.float64)).item()
    assert scale == pytest.approx(ref.SELU_SCALE, rel=1e-12)
    assert floor == pytest.approx(-ref.SELU_SCALE * ref.SELU_ALPHA, rel=1e-12)
    assert floor == pytest.approx(ref.Q4, rel=1e-12)


def test_gelu_sigmoid_approximates_the_exact_gelu_within_about_0_02():
    z = torch.linspace(-6, 6, 1201)
    assert (ref.gelu_sigmoid(z) - F.gelu(z)).abs().max().item() < 0.025


def test_swish_layer_learns_beta_by_default_and_matches_silu():
    layer = ref.Swish()
    (beta,) = list(layer.parameters())
    z = torch.randn(100)
    assert torch.allclose(layer(z), F.silu(z))
    layer(z).sum().backward()
    assert beta.grad is not None and beta.grad.abs().item() > 0


def test_swish_layer_with_a_fixed_beta_has_no_parameters_and_follows_devices():
    layer = ref.Swish(beta=0.5, learnable=False)
    assert list(layer.parameters()) == []
    assert "beta" in dict(layer.named_buffers())
    z = torch.randn(10, dtype=torch.float64)
    assert torch.allclose(layer.double()(z), F.silu(0.5 * z) / 0.5)


@pytest.mark.parametrize("beta", [1.0, 2.0])
def test_swiglu_is_a_silu_gate_on_one_linear_layer(beta):
    torch.manual_seed(0)
    layer = ref.SwiGLU(6, 4, beta=beta)
    assert sum(p.numel() for p in layer.parameters()) == 6 * 8 + 8
    x = torch.randn(2, 3, 6)
    z1, z2 = layer.linear(x).chunk(2, dim=-1)
    assert torch.allclose(layer(x), F.silu(beta * z1) * z2)
    assert layer(x).shape == (2, 3, 4)


def test_dead_fraction_counts_units_zero_on_every_instance_only():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Linear(3, 2), nn.ReLU()))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]))
        model[0].bias.copy_(torch.tensor([0.0, -1.0, 1.0]))
        model[2][0].weight.fill_(-1.0)
        model[2][0].bias.copy_(torch.tensor([-5.0, 10.0]))
    X = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    assert ref.dead_fraction(model, X) == pytest.approx([1 / 3, 1 / 2])
    assert not any(m._forward_hooks for m in model.modules())


def test_dead_fraction_matches_a_manual_forward_pass():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(5, 50), nn.ReLU(), nn.Linear(50, 50), nn.ReLU())
    with torch.no_grad():
        model[0].bias.uniform_(-2, 0)
    X = torch.randn(30, 5)
    hidden = torch.relu(model[0](X))
    output = torch.relu(model[2](hidden))
    expected = [(h == 0).all(dim=0).float().mean().item() for h in (hidden, output)]
    assert ref.dead_fraction(model, X) == pytest.approx(expected)


def test_answer_key_agrees_with_pytorch():
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(ref.Q3)
    torch.manual_seed(2)
    weight = torch.empty(500, 2000)
    nn.init.kaiming_normal_(weight, a=0.2, nonlinearity="leaky_relu")
    assert weight.std().item() * 2000 ** 0.5 == pytest.approx(ref.Q3, rel=0.01)


# The kink z = 0 exactly, tiny |z| on both sides, and |z| up to 1e4 (where exp overflows)
Z_DERIVATIVES = torch.cat([torch.linspace(-40.0, 40.0, 801, dtype=torch.float64),
                           torch.tensor([0.0, -1e-30, 1e-30, -1e-8, 1e-8, -1e4, -1e3, 1e3, 1e4],
                                        dtype=torch.float64)])
DERIVATIVES = [
    (ref.elu_grad, F.elu, {}),
    (ref.elu_grad, F.elu, {"alpha": 0.5}),
    (ref.elu_grad, F.elu, {"alpha": 2.0}),
    (ref.gelu_tanh_grad, lambda z: F.gelu(z, approximate="tanh"), {}),
    (ref.swish_grad, lambda z, beta=1.0: z * torch.sigmoid(beta * z), {}),
    (ref.swish_grad, lambda z, beta=1.0: z * torch.sigmoid(beta * z), {"beta": 0.5}),
    (ref.swish_grad, lambda z, beta=1.0: z * torch.sigmoid(beta * z), {"beta": 2.0}),
]
DERIVATIVE_IDS = ["elu", "elu_0.5", "elu_2", "gelu_tanh", "swish", "swish_0.5", "swish_2"]


@pytest.mark.parametrize(("derivative", "function", "kwargs"), DERIVATIVES, ids=DERIVATIVE_IDS)
def test_derivative_matches_autograd_in_float64_at_the_kink_and_far_out(derivative, function, kwargs):
    z = Z_DERIVATIVES.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(function(z, **kwargs).sum(), z)
    mine = derivative(Z_DERIVATIVES, **kwargs)
    assert mine.dtype == torch.float64 and torch.isfinite(mine).all()
    assert torch.allclose(mine, expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize(("derivative", "function", "kwargs"), DERIVATIVES, ids=DERIVATIVE_IDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_derivative_keeps_the_dtype_stays_finite_and_leaves_z_alone(derivative, function, kwargs, dtype):
    z = Z_DERIVATIVES.to(dtype)
    before = z.clone()
    mine = derivative(z, **kwargs)
    assert mine.dtype == dtype and torch.isfinite(mine).all()
    assert torch.equal(z, before)


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0])
def test_elu_grad_takes_pytorchs_left_branch_at_the_kink(alpha):
    zero = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    (autograd,) = torch.autograd.grad(F.elu(zero, alpha=alpha).sum(), zero)
    assert autograd.item() == alpha == ref.elu_grad(zero.detach(), alpha=alpha).item()
