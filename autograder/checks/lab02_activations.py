"""Hidden tests of lab 02, Activation functions: one function per grade cell, named after it.

Every activation is compared with PyTorch's own implementation (values in float32 and
float64, and gradients through autograd) on a grid from -40 to 40, while that implementation
is forbidden inside the student's function. `dead_fraction` is checked on models whose dead
units are known by construction, and against `solutions`.
"""

from __future__ import annotations

import contextlib
import types

import torch
import torch.nn.functional as F
from torch import nn

from autograder.checks.core import (
    call,
    expect,
    expect_choice,
    expect_close,
    expect_number,
    fail,
    forbidden,
    hidden_test,
    reference,
    with_globals,
)

ref = reference("solutions.lab02_activations")

# z from -40 to 40 (every exp(z) and exp(±2z) stays finite in float32), plus points near the
# kinks; never exactly 0, where the one-sided derivatives of leaky ReLU and ELU differ.
GRID = torch.cat([torch.linspace(-40.0, 40.0, 800),
                  torch.tensor([-3.0, -1.0, -0.5, -1e-2, -1e-4, 1e-4, 1e-2, 0.5, 1.0, 3.0])])
_FunctionType = types.FunctionType


def _reference_scope() -> dict:
    """Every exercise's reference, so that a student's answer that calls an earlier one is
    graded on its own."""
    return {"leaky_relu": ref.leaky_relu, "elu": ref.elu, "selu": ref.selu, "gelu": ref.gelu,
            "gelu_sigmoid": ref.gelu_sigmoid, "swish": ref.swish, "mish": ref.mish,
            "relu_squared": ref.relu_squared, "Swish": ref.Swish, "SwiGLU": ref.SwiGLU,
            "SELU_ALPHA": ref.SELU_ALPHA, "SELU_SCALE": ref.SELU_SCALE}


def _isolated_function(function, own_name: str):
    scope = _reference_scope()
    scope.pop(own_name, None)
    return with_globals(function, **scope)


def _isolated_class(cls, own_name: str):
    """A subclass of the student's class whose methods see the reference exercises."""
    if not isinstance(cls, type):
        return cls
    scope = _reference_scope()
    scope.pop(own_name, None)
    methods = {key: with_globals(value, **scope) for key, value in vars(cls).items()
               if isinstance(value, _FunctionType)}
    return type(cls.__name__, (cls,), methods)


def _forbidding(names: dict[types.ModuleType, tuple[str, ...]], reason: str):
    """Nested `forbidden` blocks, one per module."""
    stack = contextlib.ExitStack()
    for module, attributes in names.items():
        stack.enter_context(forbidden(module, attributes, reason))
    return stack


def _check_elementwise(student, expected_fn, *, name: str, kwargs_list: list[dict],
                       banned: dict[types.ModuleType, tuple[str, ...]], banned_reason: str,
                       hint: str) -> None:
    """Values (float32 and float64), gradients and shape handling of an elementwise activation
    against `expected_fn(z, **kwargs)` (PyTorch's), computed outside the forbidden block."""
    torch.manual_seed(0)
    weights = torch.randn(len(GRID), dtype=torch.float64)
    for kwargs in kwargs_list:
        args = ", ".join(f"{key}={value}" for key, value in kwargs.items())
        where = f"{name}(z{', ' + args if args else ''})"
        z64 = GRID.double()
        expected = expected_fn(z64, **kwargs)
        z64_leaf = z64.clone().requires_grad_(True)
        expected_fn(z64_leaf, **kwargs).backward(weights)
        expected_grad = z64_leaf.grad

        for dtype, rtol, atol in ((torch.float32, 1e-5, 1e-6), (torch.float64, 1e-6, 1e-9)):
            z = GRID.clone().to(dtype)
            untouched = z.clone()
            with _forbidding(banned, banned_reason):
                out = call(student, z, **kwargs, what=where)
            expect(torch.equal(z, untouched),
                   f"{where} changed its input z in place: return a new tensor instead.")
            expect(isinstance(out, torch.Tensor) and out.shape == z.shape,
                   f"{where} must return a tensor of the same shape as z.")
            expect(bool(torch.isfinite(out).all()),
                   f"{where} returned inf or NaN for some z between -40 and 40.")
            expect_close(out, expected, what=f"{where} on {str(dtype).replace('torch.', '')} "
                         "values of z from -40 to 40", rtol=rtol, atol=atol, hint=hint)

        z_leaf = GRID.double().requires_grad_(True)
        with _forbidding(banned, banned_reason):
            out = call(student, z_leaf, **kwargs, what=where)
        expect(out.requires_grad,
               f"{where} cut the autograd graph (no gradient reaches z): use tensor operations "
               "on z, not .item(), .numpy(), .detach() or torch.tensor(...).")
        out.backward(weights)
        expect(z_leaf.grad is not None, f"{where}: no gradient reached z.")
        expect_close(z_leaf.grad, expected_grad, what=f"the gradient of {where} (autograd)",
                     rtol=1e-6, atol=1e-9, hint=hint)

        z32_leaf = GRID.clone().requires_grad_(True)
        with _forbidding(banned, banned_reason):
            call(student, z32_leaf, **kwargs, what=where).backward(weights.float())
        expect(bool(torch.isfinite(z32_leaf.grad).all()),
               f"the float32 gradient of {where} holds inf or NaN for some z in [-40, 40].")

    batch = torch.randn(3, 4, 5) * 3
    out = call(student, batch, what=f"{name} on a (3, 4, 5) tensor")
    expect(isinstance(out, torch.Tensor) and out.shape == batch.shape,
           f"{name} must work elementwise on a tensor of any shape: a (3, 4, 5) input gave "
           f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}.")
    expect_close(out, expected_fn(batch.double(), **kwargs_list[0]).float(), rtol=1e-5, atol=1e-6,
                 what=f"{name} on a (3, 4, 5) tensor")
    zero = call(student, torch.zeros(2), what=f"{name}(0)")
    expect_close(zero, torch.zeros(2), rtol=0, atol=1e-7, what=f"{name}(0)")


LEAKY_BANNED = {F: ("leaky_relu", "leaky_relu_", "rrelu", "rrelu_", "prelu"),
                nn: ("LeakyReLU", "RReLU", "PReLU"), torch: ("prelu", "rrelu", "rrelu_")}
ELU_BANNED = {F: ("elu", "elu_", "celu", "celu_", "selu", "selu_"), nn: ("ELU", "CELU", "SELU"),
              torch: ("celu", "celu_", "selu", "selu_")}
GELU_BANNED = {F: ("gelu",), nn: ("GELU",)}
SILU_BANNED = {F: ("silu",), nn: ("SiLU",)}


def _merge(*banned: dict) -> dict:
    merged: dict = {}
    for mapping in banned:
        for module, names in mapping.items():
            merged[module] = merged.get(module, ()) + names
    return merged


@hidden_test
def test_leaky_relu(leaky_relu):
    _check_elementwise(
        _isolated_function(leaky_relu, "leaky_relu"),
        lambda z, alpha=0.01: F.leaky_relu(z, negative_slope=alpha), name="leaky_relu",
        kwargs_list=[{}, {"alpha": 0.2}, {"alpha": 0.3}, {"alpha": 0.0}], banned=LEAKY_BANNED,
        banned_reason="leaky_relu must be written with tensor operations (torch.where, "
                      "torch.maximum, ...), not with PyTorch's own leaky ReLU.",
        hint="Leaky ReLU is z for z > 0 and α·z for z ≤ 0 (α = 0.01 by default).")


@hidden_test
def test_elu(elu):
    _check_elementwise(
        _isolated_function(elu, "elu"), lambda z, alpha=1.0: F.elu(z, alpha=alpha), name="elu",
        kwargs_list=[{}, {"alpha": 0.5}, {"alpha": 2.0}], banned=ELU_BANNED,
        banned_reason="elu must be written with tensor operations (torch.where, torch.exp), "
                      "not with PyTorch's own ELU.",
        hint="ELU is z for z > 0 and α·(exp(z) − 1) for z ≤ 0: α multiplies (exp(z) − 1), "
             "so that ELU tends to −α as z → −∞.")


@hidden_test
def test_selu(selu):
    _check_elementwise(
        _isolated_function(selu, "selu"), lambda z: F.selu(z), name="selu", kwargs_list=[{}],
        banned=ELU_BANNED,
        banned_reason="selu must be written with tensor operations (or with your own elu), "
                      "not with PyTorch's SELU or ELU.",
        hint="SELU(z) = λ·z for z > 0 and λ·α·(exp(z) − 1) for z ≤ 0, with λ = SELU_SCALE ≈ "
             "1.0507 and α = SELU_ALPHA ≈ 1.6733 (use the constants at full precision).")


@hidden_test
def test_gelu(gelu):
    _check_elementwise(
        _isolated_function(gelu, "gelu"), lambda z: F.gelu(z), name="gelu", kwargs_list=[{}],
        banned=GELU_BANNED,
        banned_reason="gelu must be written with tensor operations (torch.erf), not with "
                      "torch.nn.functional.gelu or nn.GELU.",
        hint="The exact GELU is z·Φ(z) = 0.5·z·(1 + erf(z/√2)); the tanh formula and z·σ(1.702z) "
             "are approximations, off by up to about 1e-3.")


@hidden_test
def test_gelu_sigmoid(gelu_sigmoid):
    _check_elementwise(
        _isolated_function(gelu_sigmoid, "gelu_sigmoid"), lambda z: F.silu(1.702 * z) / 1.702,
        name="gelu_sigmoid", kwargs_list=[{}], banned=_merge(GELU_BANNED, SILU_BANNED),
        banned_reason="gelu_sigmoid must be written with tensor operations (torch.sigmoid), "
                      "not with F.gelu or F.silu.",
        hint="The approximation is z·σ(1.702·z): the factor 1.702 goes inside the sigmoid, and "
             "the result is multiplied by z.")


@hidden_test
def test_swish(swish):
    _check_elementwise(
        _isolated_function(swish, "swish"), lambda z, beta=1.0: F.silu(beta * z) / beta,
        name="swish", kwargs_list=[{}, {"beta": 0.5}, {"beta": 1.702}, {"beta": 2.0}],
        banned=SILU_BANNED,
        banned_reason="swish must be written with tensor operations (torch.sigmoid), not with "
                      "F.silu or nn.SiLU.",
        hint="Swish is z·σ(β·z): β scales the sigmoid's input, not the output (β = 1 hides "
             "the difference, so try β = 2).")


@hidden_test
def test_mish(mish):
    _check_elementwise(
        _isolated_function(mish, "mish"), lambda z: F.mish(z), name="mish", kwargs_list=[{}],
        banned={F: ("mish",), nn: ("Mish",)},
        banned_reason="mish must be written with tensor operations (torch.tanh, and "
                      "F.softplus or torch.log1p(torch.exp(...))), not with F.mish or nn.Mish.",
        hint="Mish is z·tanh(softplus(z)) with softplus(z) = log(1 + exp(z)).")


@hidden_test
def test_relu_squared(relu_squared):
    _check_elementwise(
        _isolated_function(relu_squared, "relu_squared"), lambda z: F.relu(z) ** 2,
        name="relu_squared", kwargs_list=[{}], banned={},
        banned_reason="",
        hint="ReLU² is max(0, z)²: 0 for z ≤ 0 (square after the ReLU, not before).")


@hidden_test
def test_swish_layer(Swish):
    Swish = _isolated_class(Swish, "Swish")
    banned_reason = ("Swish must compute z·σ(β·z) with tensor operations (torch.sigmoid), "
                     "not with F.silu or nn.SiLU.")
    with _forbidding(SILU_BANNED, banned_reason):
        layer = call(Swish, what="Swish()")
    expect(isinstance(layer, nn.Module), "Swish must be an nn.Module (class Swish(nn.Module)).")
    params = list(layer.parameters())
    expect(len(params) == 1 and params[0].numel() == 1,
           "Swish() must have exactly one learnable parameter, β (learnable=True is the "
           f"default): wrap it in nn.Parameter. Found {len(params)} parameter tensor(s).")
    expect_close(params[0].detach().reshape(()), torch.tensor(1.0), rtol=0, atol=1e-7,
                 what="β of Swish() (its default value)")

    torch.manual_seed(1)
    for beta in (1.0, 0.5, 2.0):
        with _forbidding(SILU_BANNED, banned_reason):
            layer = call(Swish, beta=beta, what=f"Swish(beta={beta})")
        params = list(layer.parameters())
        expect(len(params) == 1 and params[0].numel() == 1,
               f"Swish(beta={beta}) must hold β as its only parameter (nn.Parameter).")
        expect_close(params[0].detach().reshape(()), torch.tensor(beta), rtol=1e-6,
                     what=f"β of Swish(beta={beta})", hint="Start β at the value passed in.")
        z = (torch.randn(64, 10) * 4).requires_grad_(True)
        with _forbidding(SILU_BANNED, banned_reason):
            out = call(layer, z, what=f"Swish(beta={beta})(z)")
        beta_ref = torch.tensor(beta, requires_grad=True)
        expected = z * torch.sigmoid(beta_ref * z)
        expect_close(out, expected, rtol=1e-5, atol=1e-6, what=f"Swish(beta={beta})(z)",
                     hint="Swish is z·σ(β·z): β goes inside the sigmoid.")
        expect(out.requires_grad,
               f"Swish(beta={beta})(z) cut the autograd graph: no gradient can reach z or β.")
        weights = torch.randn_like(expected)
        out.backward(weights)
        expected.backward(weights)
        expect(params[0].grad is not None,
               f"Swish(beta={beta}): no gradient reached β: compute the output from the "
               "parameter itself (not from a float copy of it).")
        expect_close(params[0].grad.reshape(()), beta_ref.grad, rtol=1e-4, atol=1e-5,
                     what=f"the gradient of the loss with respect to β in Swish(beta={beta})",
                     hint="Swish is z·σ(β·z): β goes inside the sigmoid.")

    fixed = call(Swish, beta=0.7, learnable=False, what="Swish(beta=0.7, learnable=False)")
    expect(len(list(fixed.parameters())) == 0,
           "Swish(beta=0.7, learnable=False) must have no parameters: keep β as a plain number "
           "or a buffer (self.register_buffer), not an nn.Parameter.")
    z = torch.randn(50) * 4
    with _forbidding(SILU_BANNED, banned_reason):
        out = call(fixed, z, what="Swish(beta=0.7, learnable=False)(z)")
    expect_close(out, z * torch.sigmoid(0.7 * z), rtol=1e-5, atol=1e-6,
                 what="Swish(beta=0.7, learnable=False)(z)")


def _single_linear(module: nn.Module, in_features: int, out_features: int, where: str) -> nn.Linear:
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    expect(len(linears) == 1,
           f"{where} must hold exactly one nn.Linear (to 2·out_features = {2 * out_features} "
           f"outputs), found {len(linears)}.")
    linear = linears[0]
    expect(linear.in_features == in_features and linear.out_features == 2 * out_features,
           f"{where}: its nn.Linear must map {in_features} inputs to 2·{out_features} = "
           f"{2 * out_features} outputs, not {linear.in_features} → {linear.out_features}.")
    n_params = sum(p.numel() for p in module.parameters())
    expected = in_features * 2 * out_features + 2 * out_features
    expect(n_params == expected,
           f"{where} has {n_params} parameters; one nn.Linear({in_features}, {2 * out_features}) "
           f"has {expected}, and SwiGLU has nothing else to learn.")
    return linear


@hidden_test
def test_swiglu(SwiGLU):
    SwiGLU = _isolated_class(SwiGLU, "SwiGLU")
    torch.manual_seed(2)
    for in_features, out_features, beta, shape in ((6, 4, None, (5, 6)), (7, 3, 2.0, (2, 3, 7)),
                                                   (5, 5, 0.5, (4, 5))):
        if beta is None:
            where = f"SwiGLU({in_features}, {out_features})"
            module = call(SwiGLU, in_features, out_features, what=where)
            beta = 1.0
        else:
            where = f"SwiGLU({in_features}, {out_features}, beta={beta})"
            module = call(SwiGLU, in_features, out_features, beta=beta, what=where)
        expect(isinstance(module, nn.Module), "SwiGLU must be an nn.Module.")
        linear = _single_linear(module, in_features, out_features, where)
        with torch.no_grad():
            linear.bias.normal_()
        x = torch.randn(shape)
        out = call(module, x, what=f"{where} on an input of shape {shape}")
        expected_shape = (*shape[:-1], out_features)
        expect(isinstance(out, torch.Tensor) and tuple(out.shape) == expected_shape,
               f"{where} on an input of shape {shape} must return shape {expected_shape}: split "
               "the last dimension with chunk(2, dim=-1).")
        with torch.no_grad():
            z1, z2 = linear(x).chunk(2, dim=-1)
            expected = F.silu(beta * z1) * z2
            mistakes = {
                "the gate multiplies z2, not z1 itself: silu(β·z1) * z2":
                    F.silu(beta * z1) * z1,
                "z1 (the first half) goes through the SiLU gate and z2 is the value: "
                "silu(β·z1) * z2, not silu(β·z2) * z1": F.silu(beta * z2) * z1,
                "β goes inside the SiLU: silu(β·z1), not β·silu(z1)": beta * F.silu(z1) * z2,
            }
        for message, wrong in mistakes.items():
            if not torch.allclose(wrong, expected, atol=1e-6) and torch.allclose(out, wrong, atol=1e-5):
                fail(f"{where}: {message}.")
        expect_close(out, expected, rtol=1e-5, atol=1e-6, what=f"{where}(x)",
                     hint="SwiGLU: z1, z2 = linear(x).chunk(2, dim=-1); return silu(β·z1) * z2.")
        out.sum().backward()
        expect(linear.weight.grad is not None and bool(linear.weight.grad.abs().sum() > 0),
               f"{where}: no gradient reached the nn.Linear's weights.")


def _dead_units_model() -> tuple[nn.Sequential, torch.Tensor, list[float]]:
    """A model with known dead units: a unit is dead only when it is 0 on every instance."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 20), nn.ReLU(),
                          nn.Sequential(nn.Linear(20, 16), nn.ReLU()), nn.Linear(16, 3))
    X = torch.randn(300, 3, 4)
    first, second = model[1], model[3][0]
    with torch.no_grad():
        first.weight.normal_(0, 0.3)
        first.bias.fill_(2.0)          # alive on (almost) every instance
        first.weight[:5] = 0
        first.bias[:5] = -1.0          # 5 units dead: always 0
        first.weight[5:12] = 0
        first.weight[5:12, 0] = 1.0
        first.bias[5:12] = 0.0         # 7 units zero on about half the instances: not dead
        second.weight.normal_(0, 0.1)
        second.bias.fill_(1.0)
        second.bias[:4] = -100.0       # 4 units dead
        second.weight[4:9] = 0
        second.weight[4:9, 5] = 1.0
        second.bias[4:9] = -1.0        # 5 units zero on some instances only
    return model, X, [5 / 20, 4 / 16]


@hidden_test
def test_dead_fraction(dead_fraction):
    model, X, expected = _dead_units_model()
    got = call(dead_fraction, model, X, what="dead_fraction(model, X)")
    expect(isinstance(got, (list, tuple)) and len(got) == 2,
           "dead_fraction must return a list with one fraction per nn.ReLU module of the model, "
           "nested ones included (2 here), got "
           f"{type(got).__name__} of length {len(got) if hasattr(got, '__len__') else '?'}.")
    for index, (mine, theirs) in enumerate(zip(got, expected), start=1):
        expect(isinstance(mine, (int, float)) or (isinstance(mine, torch.Tensor) and mine.numel() == 1),
               f"ReLU layer {index}: each fraction must be a number (use .item()).")
        value = float(mine)
        if value > theirs + 1e-6:
            fail(f"ReLU layer {index}: dead_fraction gives {value:.3f}, but only {theirs:.3f} "
                 "of its units are dead. A unit is dead only if it outputs 0 for EVERY instance "
                 "of X; a unit that is 0 on some instances and positive on others is alive.")
        expect_close(value, theirs, rtol=1e-6, atol=1e-9,
                     what=f"dead fraction of ReLU layer {index}",
                     hint="Count the units (columns of the ReLU's output) that are 0 on every "
                          "row of X, divided by the number of units.")
    for module in model.modules():
        if module._forward_hooks:
            fail("dead_fraction left forward hooks on the model: remove them (handle.remove()) "
                 "before returning.")

    torch.manual_seed(4)
    random_model = nn.Sequential(nn.Linear(10, 30), nn.ReLU(), nn.Linear(30, 30), nn.ReLU(),
                                 nn.Linear(30, 30), nn.ReLU(), nn.Linear(30, 2))
    with torch.no_grad():
        for layer in (random_model[0], random_model[2], random_model[4]):
            layer.bias.uniform_(-2.0, 0.5)
    X = torch.randn(40, 10)
    expected = ref.dead_fraction(random_model, X)
    got = call(dead_fraction, random_model, X, what="dead_fraction on a second model")
    expect(isinstance(got, (list, tuple)) and len(got) == 3,
           "dead_fraction must return one fraction per nn.ReLU (3 in a second model).")
    for index, (mine, theirs) in enumerate(zip(got, expected), start=1):
        expect_close(float(mine), theirs, rtol=1e-6, atol=1e-9,
                     what=f"second model, dead fraction of ReLU layer {index}")
    none = call(dead_fraction, nn.Sequential(nn.Linear(4, 3), nn.Tanh()), torch.randn(5, 4),
                what="dead_fraction on a model without ReLU")
    expect(len(none) == 0, "a model without nn.ReLU has no ReLU layer: return an empty list.")


@hidden_test
def test_q1_dead_relu(Q1):
    expect_choice(Q1, ref.Q1, question="Q1")


@hidden_test
def test_q2_selu_setup(Q2):
    expect_choice(Q2, ref.Q2, question="Q2")


@hidden_test
def test_q3_leaky_gain(Q3):
    expect_number(Q3, nn.init.calculate_gain("leaky_relu", 0.2), question="Q3")


@hidden_test
def test_q4_selu_floor(Q4):
    expect_number(Q4, F.selu(torch.tensor(-100.0, dtype=torch.float64)).item(), question="Q4")


@hidden_test
def test_q5_latency(Q5):
    expect_choice(Q5, ref.Q5, question="Q5")
