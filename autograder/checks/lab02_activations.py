"""Checks of lab 02, Activation functions: one per grade cell, named after it, reading the records
of the probes in autograder/probes/lab02_activations.py (the student's as `got`, the
reference's as `want`).

Every activation is compared with PyTorch's own implementation, computed here on the probe's
grid from -40 to 40 (values in float32 and float64, and gradients through autograd). Its
contracts, declared per exercise in NUMERICS: the dtype of a float32, float64 or bfloat16
input is kept; values at z = ±1e4 stay finite, and so do gradients where every correct way
the exercise allows keeps them finite. The Swish layer and SwiGLU are compared with their
formulas, on the inputs the probe used and the student's own layer weights, and must keep no
tensor outside state_dict() and return the dtype they were moved to with .to().
`dead_fraction` is checked on a model whose dead units are known by construction, and against
the reference on a second one. The derivatives written by hand are held to autograd of PyTorch's
function in float64 (to 1e-9, so a float32 step fails), at z = 0 exactly too, and the known
wrong derivatives (a missing factor, a wrong sign, the other branch at the kink) get their own
message.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from autograder.checks.core import (
    choice_question,
    expect,
    expect_close,
    expect_tensor,
    fail,
    number,
    number_question,
)
from autograder.probes.lab02_activations import (
    BATCH_SHAPE,
    CONVERSION_DTYPES,
    DERIVATIVE_DTYPES,
    DERIVATIVE_GRID,
    ELU_GRAD_KWARGS,
    ELU_KWARGS,
    EXTREMES,
    GRID,
    LEAKY_RELU_KWARGS,
    SWIGLU_CASES,
    SWIGLU_CONTRACT_CASE,
    SWISH_FIXED_BETA,
    SWISH_GRAD_KWARGS,
    SWISH_KWARGS,
    batch_input,
    gradient_weights,
    swiglu_input,
    swiglu_where,
    swish_contract_layers,
    swish_fixed_input,
    swish_layer_inputs,
    where_of,
)


def _is_tensor_like(value: object, shape: tuple[int, ...]) -> bool:
    return type(value) is torch.Tensor and tuple(value.shape) == shape


def _shape_or_kind(value: object) -> str:
    if type(value) is torch.Tensor:
        return str(tuple(value.shape))
    if isinstance(value, dict) and set(value) == {"type"}:
        return str(value["type"])
    return type(value).__name__


@dataclass(frozen=True)
class Numerics:
    """An activation's numerical contract at extreme z: its values must stay finite, and its
    gradients too when `finite_gradients` (how to keep them so: `hint`)."""

    finite_gradients: bool
    hint: str


_CLAMP_EXP = ("torch.where computes both branches, and exp(z) in the unused one overflows to "
              "inf, whose zero gradient times inf is NaN: take the exponential of "
              "torch.clamp(z, max=0)")
_FINITE = "keep every intermediate result finite for large |z|"
# Swish, z·σ(1.702z) and Mish keep finite values only: the exercises accept σ written as
# 1 / (1 + exp(-βz)) and softplus as log1p(exp(z)), whose gradients are NaN once exp overflows.
_SIGMOID = ("use torch.sigmoid, which stays finite for every z, rather than exp(βz) / "
            "(1 + exp(βz)), which is inf / inf = NaN for large z")
NUMERICS = {
    "leaky_relu": Numerics(True, _FINITE),
    "elu": Numerics(True, _CLAMP_EXP),
    "selu": Numerics(True, _CLAMP_EXP),
    "gelu": Numerics(True, _FINITE + " (torch.erf saturates at ±1)"),
    "gelu_sigmoid": Numerics(False, _SIGMOID),
    "swish": Numerics(False, _SIGMOID),
    "mish": Numerics(False, "compute softplus with F.softplus or torch.log1p(torch.exp(z)), and "
                            "tanh with torch.tanh"),
    "relu_squared": Numerics(True, _FINITE),
}


def _first_not_finite(values: torch.Tensor) -> float:
    """The first z of EXTREMES where `values` is inf or NaN."""
    return EXTREMES[(~torch.isfinite(values)).nonzero()[0, 0]].item()


def _check_dtype(got, want, key: str, where: str, dtype: str) -> None:
    mine, theirs = got[key], want[key]
    mine = str(mine.dtype) if type(mine) is torch.Tensor else mine
    theirs = str(theirs.dtype) if type(theirs) is torch.Tensor else theirs
    expect(mine == theirs,
           f"{where} returned {mine} for a {dtype} input: keep the input's dtype (build new "
           "tensors with torch.zeros_like(z) or dtype=z.dtype, and turn masks into numbers "
           "with .to(z.dtype), not .float()).")


def _check_extremes(got, where: str, numerics: Numerics) -> None:
    """Values (and gradients, where the contract says) finite at z = ±100, ±1e3, ±1e4."""
    for dtype in ("float32", "float64"):
        out = got[f"{where} at ±1e4 on {dtype}"]
        expect(_is_tensor_like(out, tuple(EXTREMES.shape)),
               f"{where} must return a tensor of z's shape, got {_shape_or_kind(out)}.")
        if not bool(torch.isfinite(out).all()):
            fail(f"{where} returned inf or NaN at z = {_first_not_finite(out):g} ({dtype}): "
                 f"{numerics.hint}.")
    if not numerics.finite_gradients:
        return
    for dtype in ("float32", "float64"):
        got[f"{where} at ±1e4 on {dtype}: backward"]
        grad = got[f"{where} at ±1e4 on {dtype}: gradient"]
        expect(_is_tensor_like(grad, tuple(EXTREMES.shape)),
               f"{where}: no gradient reached z at z = ±1e4.")
        if not bool(torch.isfinite(grad).all()):
            fail(f"{where} gives a NaN or inf gradient at z = {_first_not_finite(grad):g} "
                 f"({dtype}): {numerics.hint}.")


def _check_elementwise(got, want, expected_fn: Callable[..., torch.Tensor], *, name: str,
                       kwargs_list: list[dict], hint: str) -> None:
    """Values (float32 and float64), gradients and shape handling of an elementwise activation
    against `expected_fn(z, **kwargs)` (PyTorch's); its dtype for every input dtype (against
    the reference's) and its numerics at extreme z (NUMERICS[name])."""
    weights = gradient_weights()
    grid_shape = tuple(GRID.shape)
    for kwargs in kwargs_list:
        where = where_of(name, kwargs)
        z64 = GRID.double()
        expected = expected_fn(z64, **kwargs)
        z64_leaf = z64.clone().requires_grad_(True)
        expected_fn(z64_leaf, **kwargs).backward(weights)
        expected_grad = z64_leaf.grad

        for dtype, rtol, atol in (("float32", 1e-5, 1e-6), ("float64", 1e-6, 1e-9)):
            out = got[f"{where} on {dtype}"]
            expect(got[f"{where} on {dtype}: input unchanged"] is True,
                   f"{where} changed its input z in place: return a new tensor instead.")
            expect(_is_tensor_like(out, grid_shape),
                   f"{where} must return a tensor of the same shape as z {grid_shape}, got "
                   f"{_shape_or_kind(out)}.")
            expect(bool(torch.isfinite(out).all()),
                   f"{where} returned inf or NaN for some z between -40 and 40.")
            expect_close(out, expected, what=f"{where} on {dtype} values of z from -40 to 40",
                         rtol=rtol, atol=atol, hint=hint)
            _check_dtype(got, want, f"{where} on {dtype}", where, dtype)

        expect(got[f"{where} on float64: output requires grad"] is True,
               f"{where} cut the autograd graph (no gradient reaches z): use tensor operations "
               "on z, not .item(), .numpy(), .detach() or torch.tensor(...).")
        got[f"{where} on float64: backward"]
        grad = got[f"{where} on float64: gradient"]
        expect(grad is not None, f"{where}: no gradient reached z.")
        expect_close(grad, expected_grad, what=f"the gradient of {where} (autograd)",
                     rtol=1e-6, atol=1e-9, hint=hint)

        expect(got[f"{where} on float32: output requires grad"] is True,
               f"{where} on float32 values cut the autograd graph (no gradient reaches z).")
        got[f"{where} on float32: backward"]
        grad32 = got[f"{where} on float32: gradient"]
        expect(type(grad32) is torch.Tensor and bool(torch.isfinite(grad32).all()),
               f"the float32 gradient of {where} holds inf or NaN for some z in [-40, 40].")

    for kwargs in kwargs_list:
        where = where_of(name, kwargs)
        _check_dtype(got, want, f"{where} on bfloat16: dtype", where, "bfloat16")
        _check_extremes(got, where, NUMERICS[name])

    out = got[f"{name} on a (3, 4, 5) tensor"]
    expect(_is_tensor_like(out, BATCH_SHAPE),
           f"{name} must work elementwise on a tensor of any shape: a (3, 4, 5) input gave "
           f"{_shape_or_kind(out)}.")
    expect_close(out, expected_fn(batch_input().double(), **kwargs_list[0]).float(), rtol=1e-5,
                 atol=1e-6, what=f"{name} on a (3, 4, 5) tensor")
    expect_close(got[f"{name}(0)"], torch.zeros(2), rtol=0, atol=1e-7, what=f"{name}(0)")


def test_leaky_relu(got, want):
    _check_elementwise(
        got, want, lambda z, alpha=0.01: F.leaky_relu(z, negative_slope=alpha), name="leaky_relu",
        kwargs_list=LEAKY_RELU_KWARGS,
        hint="Leaky ReLU is z for z > 0 and α·z for z ≤ 0 (α = 0.01 by default).")


def test_elu(got, want):
    _check_elementwise(
        got, want, lambda z, alpha=1.0: F.elu(z, alpha=alpha), name="elu", kwargs_list=ELU_KWARGS,
        hint="ELU is z for z > 0 and α·(exp(z) − 1) for z ≤ 0: α multiplies (exp(z) − 1), "
             "so that ELU tends to −α as z → −∞.")


def test_selu(got, want):
    _check_elementwise(
        got, want, lambda z: F.selu(z), name="selu", kwargs_list=[{}],
        hint="SELU(z) = λ·z for z > 0 and λ·α·(exp(z) − 1) for z ≤ 0, with λ = SELU_SCALE ≈ "
             "1.0507 and α = SELU_ALPHA ≈ 1.6733 (use the constants at full precision).")


def test_gelu(got, want):
    _check_elementwise(
        got, want, lambda z: F.gelu(z), name="gelu", kwargs_list=[{}],
        hint="The exact GELU is z·Φ(z) = 0.5·z·(1 + erf(z/√2)); the tanh formula and z·σ(1.702z) "
             "are approximations, off by up to about 1e-3.")


def test_gelu_sigmoid(got, want):
    _check_elementwise(
        got, want, lambda z: F.silu(1.702 * z) / 1.702, name="gelu_sigmoid", kwargs_list=[{}],
        hint="The approximation is z·σ(1.702·z): the factor 1.702 goes inside the sigmoid, and "
             "the result is multiplied by z.")


def test_swish(got, want):
    _check_elementwise(
        got, want, lambda z, beta=1.0: F.silu(beta * z) / beta, name="swish", kwargs_list=SWISH_KWARGS,
        hint="Swish is z·σ(β·z): β scales the sigmoid's input, not the output (β = 1 hides "
             "the difference, so try β = 2).")


def test_mish(got, want):
    _check_elementwise(
        got, want, lambda z: F.mish(z), name="mish", kwargs_list=[{}],
        hint="Mish is z·tanh(softplus(z)) with softplus(z) = log(1 + exp(z)).")


def test_relu_squared(got, want):
    _check_elementwise(
        got, want, lambda z: F.relu(z) ** 2, name="relu_squared", kwargs_list=[{}],
        hint="ReLU² is max(0, z)²: 0 for z ≤ 0 (square after the ReLU, not before).")


def _module_state(state: object, where: str, kind: str) -> dict:
    expect(isinstance(state, dict) and isinstance(state.get("parameters"), dict),
           f"{where}: {kind} must be an nn.Module (class {kind}(nn.Module)), got "
           f"{_shape_or_kind(state)}.")
    return state


def _single_beta(state: dict, where: str, message: str) -> torch.Tensor:
    params = list(state["parameters"].values())
    expect(len(params) == 1 and type(params[0]) is torch.Tensor and params[0].numel() == 1,
           f"{message} Found {len(params)} parameter tensor(s).")
    return params[0]


def _check_module_contracts(got, want, where: str, fixed: str) -> None:
    """No tensor kept outside state_dict(); `.to(dtype)` gives outputs of that dtype."""
    plain = got[f"{where} plain tensors"]
    if plain != []:
        names = ", ".join(map(str, plain)) if type(plain) is list else "a tensor"
        fail(f"{where} keeps {names} as a plain tensor attribute, which is not in state_dict() "
             f"and does not follow .to(): make it an nn.Parameter or a buffer "
             f"(self.register_buffer){fixed}.")
    for dtype in CONVERSION_DTYPES:
        key = f"{where}.to({dtype})(x) dtype"
        mine = got[key]
        expect(mine == want[key],
               f"{where}.to(torch.{dtype}) returned {mine} for a {dtype} input: build no "
               "tensor in forward without dtype=x.dtype and device=x.device, and keep every "
               "tensor the layer holds as a parameter or a buffer, so that .to() moves it.")


def test_swish_layer(got, want):
    state = _module_state(got["Swish() state"], "Swish()", "Swish")
    beta = _single_beta(state, "Swish()",
                        "Swish() must have exactly one learnable parameter, β (learnable=True is "
                        "the default): wrap it in nn.Parameter.")
    expect_close(beta.reshape(()), torch.tensor(1.0), rtol=0, atol=1e-7,
                 what="β of Swish() (its default value)")

    for beta_value, (z, upstream) in swish_layer_inputs().items():
        where = f"Swish(beta={beta_value})"
        state = _module_state(got[f"{where} state"], where, "Swish")
        beta = _single_beta(state, where, f"{where} must hold β as its only parameter "
                                          "(nn.Parameter).")
        expect_close(beta.reshape(()), torch.tensor(beta_value), rtol=1e-6, what=f"β of {where}",
                     hint="Start β at the value passed in.")
        z, upstream = z.double(), upstream.double()
        beta_ref = torch.tensor(beta_value, dtype=torch.float64, requires_grad=True)
        expected = z * torch.sigmoid(beta_ref * z)
        expect_close(got[f"{where}(z)"], expected.detach(), rtol=1e-5, atol=1e-6,
                     what=f"{where}(z)", hint="Swish is z·σ(β·z): β goes inside the sigmoid.")
        expect(got[f"{where}(z) requires grad"] is True,
               f"{where}(z) cut the autograd graph: no gradient can reach z or β.")
        got[f"{where}(z) backward"]
        grads = got[f"{where} gradients"]
        expect(type(grads) is list and len(grads) == 1 and grads[0] is not None,
               f"{where}: no gradient reached β: compute the output from the parameter itself "
               "(not from a float copy of it).")
        expected.backward(upstream)
        grad = expect_tensor(grads[0], what=f"the gradient with respect to β in {where}")
        expect_close(grad.reshape(()), beta_ref.grad, rtol=1e-4, atol=1e-5,
                     what=f"the gradient of the loss with respect to β in {where}",
                     hint="Swish is z·σ(β·z): β goes inside the sigmoid.")

    where = f"Swish(beta={SWISH_FIXED_BETA}, learnable=False)"
    state = _module_state(got[f"{where} state"], where, "Swish")
    expect(len(state["parameters"]) == 0,
           f"{where} must have no parameters: keep β as a plain number or a buffer "
           "(self.register_buffer), not an nn.Parameter.")
    z = swish_fixed_input()
    expect_close(got[f"{where}(z)"], z * torch.sigmoid(SWISH_FIXED_BETA * z), rtol=1e-5, atol=1e-6,
                 what=f"{where}(z)")
    for where, _ in swish_contract_layers():
        _check_module_contracts(got, want, where, ", or keep a fixed β a Python number")


def _single_linear(linears: object, state: dict, in_features: int, out_features: int,
                   where: str) -> dict:
    expect(type(linears) is list and len(linears) == 1,
           f"{where} must hold exactly one nn.Linear (to 2·out_features = {2 * out_features} "
           f"outputs), found {len(linears) if type(linears) is list else '?'}.")
    linear = linears[0]
    expect(linear["in_features"] == in_features and linear["out_features"] == 2 * out_features,
           f"{where}: its nn.Linear must map {in_features} inputs to 2·{out_features} = "
           f"{2 * out_features} outputs, not {linear['in_features']} → {linear['out_features']}.")
    n_params = sum(p.numel() for p in state["parameters"].values())
    expected = in_features * 2 * out_features + 2 * out_features
    expect(n_params == expected,
           f"{where} has {n_params} parameters; one nn.Linear({in_features}, {2 * out_features}) "
           f"has {expected}, and SwiGLU has nothing else to learn.")
    expect_tensor(linear["weight"], what=f"{where}: the nn.Linear's weight")
    expect_tensor(linear["bias"], what=f"{where}: the nn.Linear's bias")
    return linear


def test_swiglu(got, want):
    for in_features, out_features, beta, shape in SWIGLU_CASES:
        where = swiglu_where(in_features, out_features, beta)
        beta = 1.0 if beta is None else beta
        state = _module_state(got[f"{where} state"], where, "SwiGLU")
        linear = _single_linear(got[f"{where} linears"], state, in_features, out_features, where)
        out = got[f"{where}(x)"]
        expected_shape = (*shape[:-1], out_features)
        expect(_is_tensor_like(out, expected_shape),
               f"{where} on an input of shape {shape} must return shape {expected_shape}, got "
               f"{_shape_or_kind(out)}: split the last dimension with chunk(2, dim=-1).")
        x = swiglu_input(shape)
        z1, z2 = F.linear(x, linear["weight"], linear["bias"]).chunk(2, dim=-1)
        expected = F.silu(beta * z1) * z2
        mistakes = {
            "the gate multiplies z2, not z1 itself: silu(β·z1) * z2": F.silu(beta * z1) * z1,
            "z1 (the first half) goes through the SiLU gate and z2 is the value: "
            "silu(β·z1) * z2, not silu(β·z2) * z1": F.silu(beta * z2) * z1,
            "β goes inside the SiLU: silu(β·z1), not β·silu(z1)": beta * F.silu(z1) * z2,
        }
        for message, wrong in mistakes.items():
            if not torch.allclose(wrong, expected, atol=1e-6) and torch.allclose(out, wrong, atol=1e-5):
                fail(f"{where}: {message}.")
        expect_close(out, expected, rtol=1e-5, atol=1e-6, what=f"{where}(x)",
                     hint="SwiGLU: z1, z2 = linear(x).chunk(2, dim=-1); return silu(β·z1) * z2.")
        got[f"{where}(x) backward"]
        grads = got[f"{where} weight gradients"]
        expect(type(grads) is list and len(grads) == 1 and type(grads[0]) is torch.Tensor
               and bool(grads[0].abs().sum() > 0),
               f"{where}: no gradient reached the nn.Linear's weights.")
    in_features, out_features, beta, _ = SWIGLU_CONTRACT_CASE
    _check_module_contracts(got, want, swiglu_where(in_features, out_features, beta),
                            ", or keep β a Python number")


DEAD_BY_CONSTRUCTION = [5 / 20, 4 / 16]


def _fractions(value: object, count: int, message: str) -> list[float]:
    expect(type(value) is list and len(value) == count,
           f"{message}, got {_shape_or_kind(value)}"
           f"{f' of length {len(value)}' if type(value) is list else ''}.")
    return value


def test_dead_fraction(got, want):
    fractions = _fractions(got["first model"], 2,
                           "dead_fraction must return a list with one fraction per nn.ReLU module "
                           "of the model, nested ones included (2 here)")
    for index, (mine, theirs) in enumerate(zip(fractions, DEAD_BY_CONSTRUCTION), start=1):
        expect(type(mine) in (int, float) or (type(mine) is torch.Tensor and mine.numel() == 1),
               f"ReLU layer {index}: each fraction must be a number (use .item()), got "
               f"{_shape_or_kind(mine)}.")
        value = number(mine, what=f"the dead fraction of ReLU layer {index}")
        if value > theirs + 1e-6:
            fail(f"ReLU layer {index}: dead_fraction gives {value:.3f}, but only {theirs:.3f} "
                 "of its units are dead. A unit is dead only if it outputs 0 for EVERY instance "
                 "of X; a unit that is 0 on some instances and positive on others is alive.")
        expect_close(value, theirs, rtol=1e-6, atol=1e-9,
                     what=f"dead fraction of ReLU layer {index}",
                     hint="Count the units (columns of the ReLU's output) that are 0 on every "
                          "row of X, divided by the number of units.")
    expect(got["hooks left"] is False,
           "dead_fraction left forward hooks on the model: remove them (handle.remove()) "
           "before returning.")

    expected = want["second model"]
    fractions = _fractions(got["second model"], len(expected),
                           "dead_fraction must return one fraction per nn.ReLU "
                           f"({len(expected)} in a second model)")
    for index, (mine, theirs) in enumerate(zip(fractions, expected), start=1):
        expect_close(mine, theirs, rtol=1e-6, atol=1e-9,
                     what=f"second model, dead fraction of ReLU layer {index}")
    none = got["no ReLU"]
    expect((type(none) is list and len(none) == 0)
           or (type(none) is torch.Tensor and none.numel() == 0),
           "a model without nn.ReLU has no ReLU layer: return an empty list.")


# --- Derivatives by hand ------------------------------------------------------------------------

Formula = Callable[..., torch.Tensor]
# float64 answers must match autograd in float64 to this tolerance: a float32 step (error about
# 1e-7) fails it; float32 answers are held to float32's precision.
TIGHT = {"rtol": 1e-9, "atol": 1e-12}
LOOSE = {"rtol": 1e-4, "atol": 1e-5}
_OVERFLOW = ("exp of a large z overflows to inf, and inf·0 or inf/inf is NaN; torch.where picks a "
             "branch but computes both, so a mask product keeps the NaN")


def autograd_slope(function: Formula, z: torch.Tensor, **kwargs: float) -> torch.Tensor:
    """function'(z) elementwise, by autograd in z's dtype (the answer each derivative is held to)."""
    z = z.clone().requires_grad_(True)
    (slope,) = torch.autograd.grad(function(z, **kwargs).sum(), z)
    return slope


@dataclass(frozen=True)
class Derivative:
    """A derivative exercise: the function autograd differentiates, the formula to write (`hint`),
    the known wrong formulas with what each gets wrong, and its usual numerical pitfall."""

    function: Formula
    hint: str
    mistakes: dict[str, Formula]
    not_finite: str


def _differs_at(got: torch.Tensor, expected: torch.Tensor, z: torch.Tensor) -> str:
    error = (got.double() - expected).abs().nan_to_num(nan=math.inf)
    index = int(error.argmax())
    return f"by up to {error[index].item():.3g}, at z = {z[index].item():g}"


def _check_derivative_values(got, want, key: str, where: str, dtype: str,
                             derivative: Derivative, kwargs: dict) -> None:
    """One recorded derivative on DERIVATIVE_GRID in `dtype` against autograd in float64."""
    out = got[key]
    expect(got[f"{key}: input unchanged"] is True,
           f"{where} changed its input z in place: return a new tensor instead (no z.mul_(...), "
           "z[...] = ..., z.clamp_(...)).")
    shape = tuple(DERIVATIVE_GRID.shape)
    expect(_is_tensor_like(out, shape),
           f"{where} must return a tensor of the same shape as z {shape}, got {_shape_or_kind(out)}.")
    _check_dtype(got, want, key, where, dtype)
    z = DERIVATIVE_GRID.to(getattr(torch, dtype)).double()
    bad = ~torch.isfinite(out)
    if bool(bad.any()):
        fail(f"{where} returned inf or NaN at z = {z[bad.nonzero()[0, 0]].item():g} ({dtype}): "
             f"{derivative.not_finite}.")
    if dtype == "bfloat16":
        return
    expected = autograd_slope(derivative.function, z, **kwargs)
    for message, mistake in derivative.mistakes.items():
        wrong = mistake(z, **kwargs)
        if not torch.allclose(wrong, expected, **LOOSE) and torch.allclose(out.double(), wrong, **LOOSE):
            fail(f"{where}: {message}.")
    if dtype == "float32":
        expect(torch.allclose(out.double(), expected, **LOOSE),
               f"{where} on float32 differs from autograd {_differs_at(out, expected, z)}: "
               f"{derivative.hint}")
        return
    if torch.allclose(out, expected, **TIGHT):
        return
    if torch.allclose(out, expected, **LOOSE):
        fail(f"{where} on float64 matches autograd only to float32's precision: it differs "
             f"{_differs_at(out, expected, z)}. Some step computes in float32 (a .float(), or a "
             "torch.tensor(...) constant made without dtype=z.dtype): keep z's dtype throughout.")
    fail(f"{where} differs from PyTorch's autograd {_differs_at(out, expected, z)}: "
         f"{derivative.hint}")


def _check_derivative(got, want, name: str, kwargs_list: list[dict], derivative: Derivative) -> None:
    """A hand-written derivative against autograd of `derivative.function` in float64."""
    for kwargs in kwargs_list:
        where = where_of(name, kwargs)
        for dtype in DERIVATIVE_DTYPES:
            _check_derivative_values(got, want, f"{where} on {dtype}", where, dtype, derivative,
                                     kwargs)
    out = got[f"{name} on a (3, 4, 5) tensor"]
    expect(_is_tensor_like(out, BATCH_SHAPE),
           f"{name} must work elementwise on a tensor of any shape: a (3, 4, 5) input gave "
           f"{_shape_or_kind(out)}.")
    expect_close(out, autograd_slope(derivative.function, batch_input().double()),
                 what=f"{name} on a (3, 4, 5) tensor", **TIGHT)


def _elu(z, alpha=1.0):
    return F.elu(z, alpha=alpha)


def _one_or(z: torch.Tensor, negative: torch.Tensor, at_zero_too: bool = False) -> torch.Tensor:
    return torch.where(z >= 0 if at_zero_too else z > 0, torch.ones_like(z), negative)


ELU_GRAD = Derivative(
    _elu,
    hint="ELU'(z) = 1 for z > 0 and α·e^z for z ≤ 0 (at z = 0 too, as PyTorch).",
    mistakes={
        "at the kink z = 0 it gives 1, but PyTorch's autograd takes the left branch there, α·e⁰ = "
        "α: use z > 0 (not z ≥ 0) for the branch of slope 1":
            lambda z, alpha=1.0: _one_or(z, alpha * torch.exp(z), at_zero_too=True),
        "for z ≤ 0 the slope is α·e^z: the constant α of α·(e^z − 1) stays in the derivative":
            lambda z, alpha=1.0: _one_or(z, torch.exp(z)),
        "for z ≤ 0 the slope is α·e^z, not α·(e^z − 1): the derivative of the constant −1 is 0":
            lambda z, alpha=1.0: _one_or(z, alpha * torch.expm1(z)),
    },
    not_finite=_OVERFLOW + ": take the exponential of torch.clamp(z, max=0), or use torch.where",
)


def _gelu_tanh(z):
    return F.gelu(z, approximate="tanh")


def _gelu_tanh_parts(z: torch.Tensor, c: float = math.sqrt(2 / math.pi),
                     chain: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The two terms of the product rule, with √(2/π) as `c` and the inner derivative or not."""
    t = torch.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z**3))
    inner = c * (1 + 3 * 0.044715 * z**2) if chain else c
    return 0.5 * (1 + t), 0.5 * z * (1 - t**2) * inner


def _erf_gelu_slope(z: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1 + torch.erf(z / math.sqrt(2))) + z * torch.exp(-z**2 / 2) / math.sqrt(2 * math.pi)


GELU_TANH_GRAD = Derivative(
    _gelu_tanh,
    hint="with u = √(2/π)·(z + 0.044715·z³), the derivative is 0.5·(1 + tanh u) + 0.5·z·(1 − "
         "tanh² u)·√(2/π)·(1 + 3·0.044715·z²).",
    mistakes={
        "the chain rule multiplies by the whole derivative of u = √(2/π)·(z + 0.044715·z³), "
        "which is √(2/π)·(1 + 3·0.044715·z²): the factor (1 + 3·0.044715·z²) is missing":
            lambda z: sum(_gelu_tanh_parts(z, chain=False)),
        "the derivative of u = √(2/π)·(z + 0.044715·z³) keeps the factor √(2/π): it is "
        "missing from the second term": lambda z: sum(_gelu_tanh_parts(z, c=1.0)),
        "this is the derivative of the exact GELU, Φ(z) + z·φ(z): close, but the exercise "
        "differentiates the tanh approximation 0.5·z·(1 + tanh u)": _erf_gelu_slope,
        "the product rule gives two terms, and the second, 0.5·z·(1 − tanh² u)·du/dz, is "
        "missing": lambda z: _gelu_tanh_parts(z)[0],
    },
    not_finite="keep every intermediate result finite for large |z|: tanh saturates at ±1, "
               "1 − tanh² at 0, while 1/cosh² needs cosh's overflow to inf to give 0, not NaN",
)


def _swish(z, beta=1.0):
    return z * torch.sigmoid(beta * z)


SWISH_GRAD = Derivative(
    _swish,
    hint="Swish'(z) = σ(βz) + β·z·σ(βz)·(1 − σ(βz)).",
    mistakes={
        "σ'(x) = σ(x)·(1 − σ(x)), with a minus: the second term is β·z·σ(βz)·(1 − σ(βz)), "
        "not (1 + σ(βz))":
            lambda z, beta=1.0: torch.sigmoid(beta * z) * (1 + beta * z * (1 + torch.sigmoid(beta * z))),
        "the chain rule brings β out of σ(βz): the second term is β·z·σ(βz)·(1 − σ(βz)), and β "
        "is missing from it":
            lambda z, beta=1.0: torch.sigmoid(beta * z) * (1 + z * (1 - torch.sigmoid(beta * z))),
        "the product rule gives two terms, σ(βz) and β·z·σ(βz)·(1 − σ(βz)): the first one is "
        "missing":
            lambda z, beta=1.0: beta * z * torch.sigmoid(beta * z) * (1 - torch.sigmoid(beta * z)),
    },
    not_finite=_OVERFLOW + ": use torch.sigmoid, which stays finite for every z",
)


def test_elu_grad(got, want):
    _check_derivative(got, want, "elu_grad", ELU_GRAD_KWARGS, ELU_GRAD)


def test_gelu_tanh_grad(got, want):
    _check_derivative(got, want, "gelu_tanh_grad", [{}], GELU_TANH_GRAD)


def test_swish_grad(got, want):
    _check_derivative(got, want, "swish_grad", SWISH_GRAD_KWARGS, SWISH_GRAD)


test_q1_dead_relu = choice_question("Q1")
test_q2_selu_setup = choice_question("Q2")
test_q3_leaky_gain = number_question("Q3")
test_q4_selu_floor = number_question("Q4")
test_q5_latency = choice_question("Q5")
