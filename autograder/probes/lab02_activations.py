"""Probes of lab 02, Activation functions: one per grade cell, named after it (the judge
compares their records in the checks module of the same name).

Each activation runs on a grid of z from -40 to 40 (float32 and float64, and through
autograd) while PyTorch's own version of it is forbidden; then on a bfloat16 grid (the dtype it
returns) and at z = ±100, ±1e3, ±1e4 (values and gradients, which must stay finite). The Swish
layer and SwiGLU are also recorded for their contracts as modules: which tensors they keep as
plain attributes (outside state_dict(), deaf to .to()), and the dtype they return once moved
to float64 or bfloat16 with .to(). Every answer runs with stand-ins for
the other exercises it may build on (SELU through `elu`, the Swish layer or SwiGLU through
`swish`, ...): PyTorch's own functions, taken before any ban, so that one mistake costs one
exercise. `dead_fraction` runs on models whose dead units are known by construction. The
derivatives written by hand (`elu_grad`, `gelu_tanh_grad`, `swish_grad`) run with every autograd
entry point refused, on a grid that holds z = 0 exactly, tiny |z| on both sides of it and |z| up
to 1e4, in float64, float32 and bfloat16.
"""

from __future__ import annotations

import contextlib
import types

import torch
import torch.nn.functional as F
from torch import nn

from autograder.probes.core import (
    answer,
    by_hand,
    forbidden,
    probe,
    with_class_globals,
    with_globals,
)

# z from -40 to 40 (every exp(z) and exp(±2z) stays finite in float32), plus points near the
# kinks; never exactly 0, where the one-sided derivatives of leaky ReLU and ELU differ.
GRID = torch.cat([torch.linspace(-40.0, 40.0, 800),
                  torch.tensor([-3.0, -1.0, -0.5, -1e-2, -1e-4, 1e-4, 1e-2, 0.5, 1.0, 3.0])])
BATCH_SHAPE = (3, 4, 5)
# Extreme inputs: exp(z) overflows to inf for z > 88 in float32 and z > 709 in float64.
EXTREMES = torch.tensor([-1e4, -1e3, -100.0, 100.0, 1e3, 1e4])


def gradient_weights() -> torch.Tensor:
    """The upstream gradient of the backward passes through an activation on GRID."""
    return torch.randn(len(GRID), dtype=torch.float64, generator=torch.Generator().manual_seed(0))


def batch_input() -> torch.Tensor:
    """A (3, 4, 5) input: an activation works elementwise on any shape."""
    return torch.randn(BATCH_SHAPE, generator=torch.Generator().manual_seed(1)) * 3


# --- Stand-ins for the exercises an answer may build on --------------------------------------
# PyTorch's own functions, taken here before any probe forbids them: a student's selu may call
# elu, and gets PyTorch's ELU even while F.elu is refused to the student's own code. They sit in
# a dict, so that no name of this module is bound to a forbidden object.

PYTORCH = {"leaky_relu": F.leaky_relu, "elu": F.elu, "selu": torch.selu, "gelu": F.gelu,
           "silu": F.silu, "mish": F.mish, "relu": F.relu}


def stand_in_leaky_relu(z, alpha=0.01):
    return PYTORCH["leaky_relu"](z, negative_slope=alpha)


def stand_in_elu(z, alpha=1.0):
    return PYTORCH["elu"](z, alpha=alpha)


def stand_in_selu(z):
    return PYTORCH["selu"](z)


def stand_in_gelu(z):
    return PYTORCH["gelu"](z)


def stand_in_gelu_sigmoid(z):
    return PYTORCH["silu"](1.702 * z) / 1.702


def stand_in_swish(z, beta=1.0):
    return PYTORCH["silu"](beta * z) / beta


def stand_in_mish(z):
    return PYTORCH["mish"](z)


def stand_in_relu_squared(z):
    return PYTORCH["relu"](z) ** 2


class StandInSwish(nn.Module):
    """The Swish layer as PyTorch's SiLU of β·z, divided by β (β a parameter unless fixed)."""

    def __init__(self, beta=1.0, learnable=True):
        super().__init__()
        beta = torch.tensor(float(beta))
        if not learnable:
            self.register_buffer("beta", beta)
        else:
            self.beta = nn.Parameter(beta)

    def forward(self, z):
        return PYTORCH["silu"](self.beta * z) / self.beta


STAND_INS = {"leaky_relu": stand_in_leaky_relu, "elu": stand_in_elu, "selu": stand_in_selu,
             "gelu": stand_in_gelu, "gelu_sigmoid": stand_in_gelu_sigmoid, "swish": stand_in_swish,
             "mish": stand_in_mish, "relu_squared": stand_in_relu_squared, "Swish": StandInSwish}


def _others(own_name: str) -> dict:
    """The stand-ins of every exercise but the one probed."""
    return {name: value for name, value in STAND_INS.items() if name != own_name}


# --- What each activation must not use -------------------------------------------------------

LEAKY_BANNED = {F: ("leaky_relu", "leaky_relu_", "rrelu", "rrelu_", "prelu"),
                nn: ("LeakyReLU", "RReLU", "PReLU"), torch: ("prelu", "rrelu", "rrelu_")}
ELU_BANNED = {F: ("elu", "elu_", "celu", "celu_", "selu", "selu_"), nn: ("ELU", "CELU", "SELU"),
              torch: ("celu", "celu_", "selu", "selu_")}
GELU_BANNED = {F: ("gelu",), nn: ("GELU",)}
SILU_BANNED = {F: ("silu",), nn: ("SiLU",)}
MISH_BANNED = {F: ("mish",), nn: ("Mish",)}


def _merge(*banned: dict) -> dict:
    merged: dict = {}
    for mapping in banned:
        for module, names in mapping.items():
            merged[module] = merged.get(module, ()) + names
    return merged


def _forbidding(names: dict[types.ModuleType, tuple[str, ...]], reason: str, within: object = None):
    """Nested `forbidden` blocks, one per module."""
    stack = contextlib.ExitStack()
    for module, attributes in names.items():
        stack.enter_context(forbidden(module, attributes, reason, within=within))
    return stack


def _backward(out, upstream):
    out.backward(upstream)


def _backward_ones(out):
    out.backward(torch.ones_like(out))


def dtype_of(value: object) -> str:
    """A returned value's dtype as recorded ('torch.float64'), or its type's name."""
    return str(value.dtype) if isinstance(value, torch.Tensor) else type(value).__name__


def where_of(name: str, kwargs: dict) -> str:
    """How a call is named in the record and in messages: `elu(z, alpha=0.5)`."""
    args = ", ".join(f"{key}={value}" for key, value in kwargs.items())
    return f"{name}(z{', ' + args if args else ''})"


def _probe_elementwise(see, student, *, name: str, kwargs_list: list[dict],
                       banned: dict[types.ModuleType, tuple[str, ...]], banned_reason: str) -> None:
    """Record an elementwise activation's values on GRID (float32 and float64, input left as it
    was), its gradients (float64 and float32), the dtype it returns for a bfloat16 GRID, its
    values and gradients (upstream ones) at EXTREMES, a (3, 4, 5) input and z = 0."""
    student = with_globals(student, **_others(name))
    weights = gradient_weights()
    with _forbidding(banned, banned_reason):
        for kwargs in kwargs_list:
            where = where_of(name, kwargs)
            for dtype in ("float32", "float64"):
                z = GRID.clone().to(getattr(torch, dtype))
                untouched = z.clone()
                see.call(f"{where} on {dtype}", student, z, **kwargs, what=where)
                see(f"{where} on {dtype}: input unchanged", torch.equal(z, untouched))
            for dtype, upstream in (("float64", weights), ("float32", weights.float())):
                z_leaf = GRID.clone().to(getattr(torch, dtype)).requires_grad_(True)
                out = see.call(f"{where} on {dtype} for autograd", student, z_leaf, **kwargs,
                               what=where, record=False)
                see(f"{where} on {dtype}: output requires grad",
                    isinstance(out, torch.Tensor) and out.requires_grad)
                see.call(f"{where} on {dtype}: backward", _backward, out, upstream, record=False,
                         what=f"the backward pass through {where}")
                see(f"{where} on {dtype}: gradient", z_leaf.grad)
        see.call(f"{name} on a (3, 4, 5) tensor", student, batch_input(),
                 what=f"{name} on a (3, 4, 5) tensor")
        see.call(f"{name}(0)", student, torch.zeros(2), what=f"{name}(0)")
        for kwargs in kwargs_list:
            where = where_of(name, kwargs)
            out = see.call(f"{where} on bfloat16", student, GRID.to(torch.bfloat16), **kwargs,
                           what=f"{where} on bfloat16 values", record=False)
            see(f"{where} on bfloat16: dtype", dtype_of(out))
            for dtype in ("float32", "float64"):
                z_leaf = EXTREMES.clone().to(getattr(torch, dtype)).requires_grad_(True)
                out = see.call(f"{where} at ±1e4 on {dtype}", student, z_leaf, **kwargs,
                               what=f"{where} at z = ±1e4")
                see.call(f"{where} at ±1e4 on {dtype}: backward", _backward_ones, out,
                         record=False, what=f"the backward pass through {where} at z = ±1e4")
                see(f"{where} at ±1e4 on {dtype}: gradient", z_leaf.grad)


LEAKY_RELU_KWARGS = [{}, {"alpha": 0.2}, {"alpha": 0.3}, {"alpha": 0.0}]
ELU_KWARGS = [{}, {"alpha": 0.5}, {"alpha": 2.0}]
SWISH_KWARGS = [{}, {"beta": 0.5}, {"beta": 1.702}, {"beta": 2.0}]


@probe
def test_leaky_relu(see, leaky_relu):
    _probe_elementwise(see, leaky_relu, name="leaky_relu", kwargs_list=LEAKY_RELU_KWARGS,
                       banned=LEAKY_BANNED,
                       banned_reason="leaky_relu must be written with tensor operations "
                                     "(torch.where, torch.maximum, ...), not with PyTorch's own "
                                     "leaky ReLU.")


@probe
def test_elu(see, elu):
    _probe_elementwise(see, elu, name="elu", kwargs_list=ELU_KWARGS, banned=ELU_BANNED,
                       banned_reason="elu must be written with tensor operations (torch.where, "
                                     "torch.exp), not with PyTorch's own ELU.")


@probe
def test_selu(see, selu):
    _probe_elementwise(see, selu, name="selu", kwargs_list=[{}], banned=ELU_BANNED,
                       banned_reason="selu must be written with tensor operations (or with your "
                                     "own elu), not with PyTorch's SELU or ELU.")


@probe
def test_gelu(see, gelu):
    _probe_elementwise(see, gelu, name="gelu", kwargs_list=[{}], banned=GELU_BANNED,
                       banned_reason="gelu must be written with tensor operations (torch.erf), "
                                     "not with torch.nn.functional.gelu or nn.GELU.")


@probe
def test_gelu_sigmoid(see, gelu_sigmoid):
    _probe_elementwise(see, gelu_sigmoid, name="gelu_sigmoid", kwargs_list=[{}],
                       banned=_merge(GELU_BANNED, SILU_BANNED),
                       banned_reason="gelu_sigmoid must be written with tensor operations "
                                     "(torch.sigmoid), not with F.gelu or F.silu.")


@probe
def test_swish(see, swish):
    _probe_elementwise(see, swish, name="swish", kwargs_list=SWISH_KWARGS, banned=SILU_BANNED,
                       banned_reason="swish must be written with tensor operations "
                                     "(torch.sigmoid), not with F.silu or nn.SiLU.")


@probe
def test_mish(see, mish):
    _probe_elementwise(see, mish, name="mish", kwargs_list=[{}], banned=MISH_BANNED,
                       banned_reason="mish must be written with tensor operations (torch.tanh, "
                                     "and F.softplus or torch.log1p(torch.exp(...))), not with "
                                     "F.mish or nn.Mish.")


@probe
def test_relu_squared(see, relu_squared):
    _probe_elementwise(see, relu_squared, name="relu_squared", kwargs_list=[{}], banned={},
                       banned_reason="")


SWISH_LAYER_BETAS = (1.0, 0.5, 2.0)
SWISH_FIXED_BETA = 0.7


def swish_layer_inputs() -> dict[float, tuple[torch.Tensor, torch.Tensor]]:
    """For each β of SWISH_LAYER_BETAS: the input z of Swish(beta=β) and the upstream gradient
    of its backward pass."""
    generator = torch.Generator().manual_seed(1)
    inputs = {}
    for beta in SWISH_LAYER_BETAS:
        z = torch.randn(64, 10, generator=generator) * 4
        inputs[beta] = (z, torch.randn(64, 10, generator=generator))
    return inputs


def swish_fixed_input() -> torch.Tensor:
    return torch.randn(50, generator=torch.Generator().manual_seed(7)) * 4


def _parameters(module) -> list:
    return list(module.parameters()) if isinstance(module, nn.Module) else []


CONVERSION_DTYPES = ("float64", "bfloat16")


def _probe_module_contracts(see, module, where: str, x: torch.Tensor) -> None:
    """Record the names of the tensors `module` keeps as plain attributes (not in state_dict(),
    not moved by .to()), then the dtype `module.to(dtype)` returns for an input `x` of that
    dtype, for each of CONVERSION_DTYPES."""
    if not isinstance(module, nn.Module):
        return
    see(f"{where} plain tensors",
        sorted(key for key, value in vars(module).items() if isinstance(value, torch.Tensor)))
    for dtype in CONVERSION_DTYPES:
        converted = see.call(f"{where}.to({dtype})", module.to, getattr(torch, dtype),
                             what=f"{where}.to(torch.{dtype})", record=False)
        out = see.call(f"{where}.to({dtype})(x)", converted, x.detach().to(getattr(torch, dtype)),
                       what=f"{where}.to(torch.{dtype}) on a {dtype} input", record=False)
        see(f"{where}.to({dtype})(x) dtype", dtype_of(out))


@probe
def test_swish_layer(see, Swish):
    Swish = with_class_globals(Swish, **_others("Swish"))
    reason = ("Swish must compute z·σ(β·z) with tensor operations (torch.sigmoid), not with "
              "F.silu or nn.SiLU.")
    with _forbidding(SILU_BANNED, reason, within=Swish):
        layer = see.call("Swish()", Swish, what="Swish()", record=False)
        see("Swish() state", layer)
        for beta, (z, upstream) in swish_layer_inputs().items():
            where = f"Swish(beta={beta})"
            layer = see.call(where, Swish, beta=beta, what=where, record=False)
            see(f"{where} state", layer)
            z.requires_grad_(True)
            out = see.call(f"{where}(z)", layer, z, what=f"{where}(z)")
            see(f"{where}(z) requires grad", isinstance(out, torch.Tensor) and out.requires_grad)
            see.call(f"{where}(z) backward", _backward, out, upstream, record=False,
                     what=f"the backward pass through {where}(z)")
            see(f"{where} gradients", [parameter.grad for parameter in _parameters(layer)])
        where = f"Swish(beta={SWISH_FIXED_BETA}, learnable=False)"
        fixed = see.call(where, Swish, beta=SWISH_FIXED_BETA, learnable=False, what=where,
                         record=False)
        see(f"{where} state", fixed)
        see.call(f"{where}(z)", fixed, swish_fixed_input(), what=f"{where}(z)")
        for where, kwargs in swish_contract_layers():
            layer = see.call(f"{where} for .to()", Swish, **kwargs, what=where, record=False)
            _probe_module_contracts(see, layer, where, swish_fixed_input())


def swish_contract_layers() -> list[tuple[str, dict]]:
    """The Swish layers whose module contracts are recorded: a learnable β and a fixed one."""
    return [("Swish(beta=0.5)", {"beta": 0.5}),
            (f"Swish(beta={SWISH_FIXED_BETA}, learnable=False)",
             {"beta": SWISH_FIXED_BETA, "learnable": False})]


SWIGLU_CASES = ((6, 4, None, (5, 6)), (7, 3, 2.0, (2, 3, 7)), (5, 5, 0.5, (4, 5)))
SWIGLU_CONTRACT_CASE = SWIGLU_CASES[1]  # the one whose module contracts are recorded


def swiglu_where(in_features: int, out_features: int, beta: float | None) -> str:
    beta_arg = "" if beta is None else f", beta={beta}"
    return f"SwiGLU({in_features}, {out_features}{beta_arg})"


def swiglu_input(shape: tuple[int, ...]) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(sum(shape)))


@probe
def test_swiglu(see, SwiGLU):
    SwiGLU = with_class_globals(SwiGLU, **_others("SwiGLU"))
    torch.manual_seed(2)
    biases = torch.Generator().manual_seed(3)
    for in_features, out_features, beta, shape in SWIGLU_CASES:
        where = swiglu_where(in_features, out_features, beta)
        kwargs = {} if beta is None else {"beta": beta}
        module = see.call(where, SwiGLU, in_features, out_features, **kwargs, what=where,
                          record=False)
        linears = [m for m in module.modules() if isinstance(m, nn.Linear)] \
            if isinstance(module, nn.Module) else []
        with torch.no_grad():
            for linear in linears:
                if isinstance(linear.bias, torch.Tensor):
                    linear.bias.copy_(torch.randn(linear.bias.shape, generator=biases))
        see(f"{where} state", module)
        see(f"{where} linears", [{"in_features": linear.in_features,
                                  "out_features": linear.out_features,
                                  "weight": linear.weight, "bias": linear.bias}
                                 for linear in linears])
        what = f"{where} on an input of shape {shape}"
        out = see.call(f"{where}(x)", module, swiglu_input(shape), what=what)
        see.call(f"{where}(x) backward", lambda out: out.sum().backward(), out, record=False,
                 what=f"the backward pass through {what}")
        see(f"{where} weight gradients", [linear.weight.grad for linear in linears])
    in_features, out_features, beta, shape = SWIGLU_CONTRACT_CASE
    where = swiglu_where(in_features, out_features, beta)
    module = see.call(f"{where} for .to()", SwiGLU, in_features, out_features, beta=beta,
                      what=where, record=False)
    _probe_module_contracts(see, module, where, swiglu_input(shape))


def dead_units_model() -> tuple[nn.Sequential, torch.Tensor]:
    """A model with known dead units: a unit is dead only when it is 0 on every instance.

    First ReLU: 5 of 20 units dead, 7 zero on about half the instances. Second ReLU: 4 of 16
    dead, 5 zero on some instances only.
    """
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
    return model, X


@probe
def test_dead_fraction(see, dead_fraction):
    model, X = dead_units_model()
    see.call("first model", dead_fraction, model, X, what="dead_fraction(model, X)")
    see("hooks left", any(bool(module._forward_hooks) for module in model.modules()))
    torch.manual_seed(4)
    random_model = nn.Sequential(nn.Linear(10, 30), nn.ReLU(), nn.Linear(30, 30), nn.ReLU(),
                                 nn.Linear(30, 30), nn.ReLU(), nn.Linear(30, 2))
    with torch.no_grad():
        for layer in (random_model[0], random_model[2], random_model[4]):
            layer.bias.uniform_(-2.0, 0.5)
    see.call("second model", dead_fraction, random_model, torch.randn(40, 10),
             what="dead_fraction on a second model")
    see.call("no ReLU", dead_fraction, nn.Sequential(nn.Linear(4, 3), nn.Tanh()), torch.randn(5, 4),
             what="dead_fraction on a model without ReLU")


# --- Derivatives by hand ------------------------------------------------------------------------

# The kink z = 0 exactly, tiny |z| on both sides of it, z from -40 to 40, and EXTREMES, where
# exp(z) overflows to inf (float32 beyond 88, float64 beyond 709).
DERIVATIVE_GRID = torch.cat([
    torch.linspace(-40.0, 40.0, 800, dtype=torch.float64),
    torch.tensor([0.0, -1e-30, 1e-30, -1e-12, 1e-12, -1e-6, 1e-6, -1e-3, 1e-3], dtype=torch.float64),
    EXTREMES.double(),
])
DERIVATIVE_DTYPES = ("float64", "float32", "bfloat16")
ELU_GRAD_KWARGS = [{}, {"alpha": 0.5}, {"alpha": 2.0}]
SWISH_GRAD_KWARGS = [{}, {"beta": 0.5}, {"beta": 2.0}]
# What PyTorch computes these derivatives with: asking it would hide the derivation.
BACKWARD_KERNELS = ("elu_backward", "gelu_backward", "silu_backward")


def _probe_derivative(see, student, *, name: str, kwargs_list: list[dict],
                      banned: dict[types.ModuleType, tuple[str, ...]], banned_reason: str) -> None:
    """Record a hand-written derivative on DERIVATIVE_GRID in each of DERIVATIVE_DTYPES (and
    whether z was left unchanged), then on a (3, 4, 5) float64 input; autograd refused."""
    student = with_globals(student, **_others(name))
    banned = _merge(banned, {torch.ops.aten: BACKWARD_KERNELS})
    with by_hand(f"{name} must compute the derivative by hand with tensor operations: autograd "
                 "(torch.autograd.grad, .backward(), torch.func) is what it is checked against.",
                 within=student), _forbidding(banned, banned_reason, within=student):
        for kwargs in kwargs_list:
            where = where_of(name, kwargs)
            for dtype in DERIVATIVE_DTYPES:
                z = DERIVATIVE_GRID.to(getattr(torch, dtype), copy=True)  # theirs to spoil
                untouched = z.clone()
                see.call(f"{where} on {dtype}", student, z, **kwargs, what=where)
                see(f"{where} on {dtype}: input unchanged", torch.equal(z, untouched))
        see.call(f"{name} on a (3, 4, 5) tensor", student, batch_input().double(),
                 what=f"{name} on a (3, 4, 5) tensor")


@probe
def test_elu_grad(see, elu_grad):
    _probe_derivative(see, elu_grad, name="elu_grad", kwargs_list=ELU_GRAD_KWARGS,
                      banned=ELU_BANNED,
                      banned_reason="elu_grad must be written with tensor operations (torch.where, "
                                    "torch.exp), not with PyTorch's ELU.")


@probe
def test_gelu_tanh_grad(see, gelu_tanh_grad):
    _probe_derivative(see, gelu_tanh_grad, name="gelu_tanh_grad", kwargs_list=[{}],
                      banned=GELU_BANNED,
                      banned_reason="gelu_tanh_grad must be written with tensor operations "
                                    "(torch.tanh), not with F.gelu or nn.GELU.")


@probe
def test_swish_grad(see, swish_grad):
    _probe_derivative(see, swish_grad, name="swish_grad", kwargs_list=SWISH_GRAD_KWARGS,
                      banned=SILU_BANNED,
                      banned_reason="swish_grad must be written with tensor operations "
                                    "(torch.sigmoid), not with F.silu or nn.SiLU.")


test_q1_dead_relu = answer("test_q1_dead_relu")
test_q2_selu_setup = answer("test_q2_selu_setup")
test_q3_leaky_gain = answer("test_q3_leaky_gain")
test_q4_selu_floor = answer("test_q4_selu_floor")
test_q5_latency = answer("test_q5_latency")
