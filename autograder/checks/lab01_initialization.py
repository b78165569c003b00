"""Checks of lab 01, Initialization: one per grade cell, named after it, reading the records of
the probes in autograder/probes/lab01_initialization.py (the student's as `got`, the
reference's as `want`).

Statistics of random weights are computed here from the weights the probe recorded, and
compared with the σ PyTorch's own conventions give (`torch.nn.init.calculate_gain`) or with
what the stand-ins the probe passed in ask for.

The contracts (see the probe): an in-place initializer keeps the caller's parameter objects,
their dtype and requires_grad (`_check_in_place`, with each exercise's check of the values);
`orthogonal_init_`'s diagonal signs are those of a uniformly random orthogonal matrix;
`apply_init` reaches Linear layers in custom modules and the model itself, in place;
`layer_stats` walks nested modules and leaves the caller's modes and gradients as they were
(or as one backward pass leaves them).

`vanishing_depth` is compared with the reference on each history, and a wrong depth is named
after the known mistake that gives it (`_DEPTH_MISTAKES`). `variance_gain` is compared with the
exact gain, computed here, and with the gain a forward pass through one wide layer measures
(`measured_gain`): the derivation and the measurement must agree.
"""

from __future__ import annotations

import functools
import math
import operator
import re
from collections.abc import Callable, Sequence

import torch

from autograder.checks.core import (
    choice_question,
    expect,
    expect_close,
    expect_tensor,
    fail,
    number,
    number_question,
)
from autograder.probes.lab01_initialization import (
    APPLY_INIT_RUNS,
    EMPTY_HISTORY,
    GAIN_CASES,
    HISTORIES,
    IN_PLACE_CONTRACTS,
    INIT_LINEAR_CASES,
    NESTED_STATS_WHAT,
    NO_BIAS_SHAPE,
    ORTHOGONAL_SHAPES,
    SHAPES,
    SIGN_SHAPES,
    UNKNOWN_ACTIVATIONS,
    UNKNOWN_DISTRIBUTION,
    apply_init_what,
    gain_what,
    history_what,
    in_place_what,
    sign_what,
    stand_in_init_std,
    stand_in_uniform_bound,
)

HINTS = {"glorot": "Glorot: σ² = 1 / fan_avg with fan_avg = (fan_in + fan_out) / 2.",
         "he": "He: σ² = 2 / fan_in (fan_in only, not fan_avg).",
         "lecun": "LeCun: σ² = 1 / fan_in."}


def test_init_std(got, want):
    for fan_in, fan_out in SHAPES:
        for scheme, hint in HINTS.items():
            key = f"init_std({fan_in}, {fan_out}, {scheme!r})"
            expect_close(got[key], want[key], what=key, rtol=1e-6, hint=hint)
    raised = got["init_std(10, 10, 'xavier')"]
    expect(type(raised) is list and "ValueError" in raised,
           "init_std(10, 10, 'xavier') should raise ValueError for an unknown scheme.")


def test_uniform_bound(got, want):
    for key in want.keys("uniform_bound("):
        expect_close(got[key], want[key], what=key, rtol=1e-6,
                     hint="U(-r, r) has variance r²/3, so r = √(3σ²).")


_INIT_HINT = ("Use σ = init_std(layer.in_features, layer.out_features, scheme), and "
              "r = uniform_bound(σ) for the uniform case.")


def _check_init_weights(where: str, weight: object, like: torch.Tensor, fan_in: int, fan_out: int,
                        scheme: str, distribution: str) -> None:
    """The weights of init_linear_ (stand-ins in place): σ, mean 0, and the distribution's shape."""
    weight = expect_tensor(weight, what=f"{where}: the weight", like=like)
    std = stand_in_init_std(fan_in, fan_out, scheme)
    bound = stand_in_uniform_bound(std)
    expected_std = std if distribution == "normal" else bound / math.sqrt(3)
    expect_close(weight.double().std().item(), expected_std, what=f"{where}: std of the weights",
                 rtol=0.03, hint=_INIT_HINT)
    mean = weight.double().mean().item()
    expect(abs(mean) < 0.05 * std, f"{where}: the weights should have mean 0, got {mean:.3g}.")
    beyond = (weight.abs() > bound * (1 + 1e-6)).double().mean().item()
    if distribution == "uniform":
        expect(beyond == 0, f"{where}: a uniform init keeps every weight within ±r = "
                            f"uniform_bound(σ), but {beyond:.1%} lie outside.")
    else:
        wide = (weight.abs() > math.sqrt(3) * std).double().mean().item()
        expect(wide > 0.04, f"{where}: these weights look uniform; a normal init puts "
                            f"about 8% of them beyond ±√3σ, here {wide:.1%}.")


def _check_zero_bias(where: str, bias: object) -> None:
    bias = expect_tensor(bias, what=f"{where}: the bias")
    expect(bool((bias == 0).all()),
           f"{where}: the bias must be zero after initialization (it kept its old values).")


def _check_in_place(name: str, got, want, check_values: Callable[[str, int, int, tuple], None]) -> None:
    """Each layer of IN_PLACE_CONTRACTS[name] keeps its own parameters, their dtype and
    requires_grad; then `check_values(what, fan_in, fan_out, arguments)` judges the values."""
    for kind, fan_in, fan_out, arguments in IN_PLACE_CONTRACTS[name]:
        what = in_place_what(name, kind, fan_in, fan_out, arguments)
        facts, expected = got[what], want[what]
        expect(type(facts) is dict and type(facts.get("parameters")) is dict,
               f"{what}: the hidden tests could not read the layer it left.")
        for parameter in ("weight", "bias"):
            expect(facts.get(f"same {parameter}") is expected[f"same {parameter}"],
                   f"{what} replaced layer.{parameter} with a new tensor: write into the layer's own "
                   "parameters in place (inside torch.no_grad(): layer.weight.normal_(...) or "
                   "layer.weight.copy_(...)), so that the layer keeps its dtype and requires_grad and "
                   "an optimizer built on it still holds them.")
        for parameter, wanted in expected["parameters"].items():
            mine = facts["parameters"].get(parameter)
            expect(type(mine) is dict, f"{what}: the layer has no {parameter} any more.")
            expect(mine.get("dtype") == wanted["dtype"],
                   f"{what} left layer.{parameter} as {str(mine.get('dtype')).removeprefix('torch.')}: "
                   "draw the values in place (layer.weight.normal_) or build them with "
                   "dtype=layer.weight.dtype (torch.randn_like), so that a "
                   f"{wanted['dtype'].removeprefix('torch.')} layer stays "
                   f"{wanted['dtype'].removeprefix('torch.')}.")
            expect(mine.get("requires_grad") is wanted["requires_grad"],
                   f"{what} left layer.{parameter} with requires_grad={mine.get('requires_grad')}: "
                   "change the values inside `with torch.no_grad():` and leave requires_grad as the "
                   f"caller set it ({wanted['requires_grad']}).")
        check_values(what, fan_in, fan_out, arguments)


def test_init_linear(got, want):
    for (fan_in, fan_out), scheme in INIT_LINEAR_CASES:
        for distribution in ("normal", "uniform"):
            where = f"init_linear_(nn.Linear({fan_in}, {fan_out}), {scheme!r}, {distribution!r})"
            expect(got[f"{where} returns its layer"] is True,
                   f"{where} must return the same layer it initialized in place.")
            _check_init_weights(where, got[f"{where} weight"], want[f"{where} weight"], fan_in, fan_out,
                                scheme, distribution)
            _check_zero_bias(where, got[f"{where} bias"])
    got["no bias"]
    _check_init_weights("init_linear_ on a layer without bias (he, normal)", got["no bias weight"],
                        want["no bias weight"], *NO_BIAS_SHAPE, "he", "normal")

    def check_values(what: str, fan_in: int, fan_out: int, arguments: tuple) -> None:
        _check_init_weights(what, got[f"{what} weight"], want[f"{what} weight"], fan_in, fan_out, *arguments)
        _check_zero_bias(what, got[f"{what} bias"])

    _check_in_place("init_linear_", got, want, check_values)
    raised = got[UNKNOWN_DISTRIBUTION]
    expect(type(raised) is list and "ValueError" in raised,
           f"{UNKNOWN_DISTRIBUTION} {'returned' if raised is None else 'raised ' + str(raised[0])}: "
           "it should raise ValueError for a distribution other than 'normal' or 'uniform'.")


# What apply_init missed when a Linear layer was left as it was, per model of the probe.
_MISSED_LINEAR = {
    "sequential": "Every nn.Linear, nested ones included, must be: walk model.modules() or use model.apply.",
    "custom": "Every nn.Linear must be, also inside custom modules, a ModuleDict or a ModuleList: "
              "walk model.modules() or use model.apply, not only nn.Sequential containers.",
    "bare": "The model passed in is itself an nn.Linear: model.apply and model.modules() visit the "
            "model itself too, model.children() does not.",
}


def test_apply_init(got, want):
    for key, scheme, distribution in APPLY_INIT_RUNS:
        where = apply_init_what(key, scheme, distribution)
        expect(got[f"{where} returns its model"] is True, f"{where} must return the model it initialized.")
        mine, theirs = got[f"{where} state"], want[f"{where} state"]
        expect(type(mine) is dict and set(mine) == set(theirs),
               f"{where}: the model's parameters changed names or number.")
        same = got[f"{where} same parameters"]
        expect(type(same) is dict, f"{where}: the hidden tests could not read the model's parameters.")
        for name, kept in want[f"{where} same parameters"].items():
            expect(same.get(name) is kept,
                   f"{where} replaced {name} with a new parameter: initialize the model's own nn.Linear "
                   "layers in place (init_linear_ on each), not new layers, so that they keep their "
                   "dtype and device and an optimizer built on the model still holds them.")
        for name, value in theirs.items():
            expect(type(mine[name]) is torch.Tensor and mine[name].dtype == value.dtype,
                   f"{where} left {name} with another dtype than the model's {value.dtype}: "
                   "change the values of the model's own parameters in place.")
        linears = [name for name in theirs if name.endswith("weight") and theirs[name].dim() == 2]
        missed = (_MISSED_LINEAR[key] if distribution is not None else
                  "Called without a distribution, apply_init uses its default, 'normal'.")
        for index, name in enumerate(linears, start=1):
            expect(torch.equal(mine[name], theirs[name]),
                   f"{where}: Linear layer {index} of {len(linears)} ({name}) was not initialized by "
                   f"init_linear_(layer, {scheme!r}, {distribution or 'normal'!r}). {missed}")
        for name, value in theirs.items():
            expect(torch.equal(mine[name], value),
                   f"{where} left {name} different from what init_linear_ on every nn.Linear gives: "
                   "only nn.Linear layers are initialized, each with init_linear_, and nothing else.")


GAIN_FAN_IN, GAIN_UNITS, GAIN_BATCH = 256, 1024, 256  # the layer measured_gain pushes samples through
TANH_VARIANCE = 1e-4  # tanh's gain 1 is its small-z limit: measured near 0
MEASUREMENT_NOISE = 0.1  # how far one finite layer's measured gain may stray from the exact one
ALLOWED_ACTIVATIONS = ("relu", "leaky_relu", "tanh", "linear")


def exact_gain(activation: str, alpha: float | None) -> float:
    """E[f(z)²] / Var(z) for z ~ N(0, v): what the derivation gives."""
    slope = 0.01 if alpha is None else alpha
    return {"relu": 0.5, "leaky_relu": (1 + slope * slope) / 2, "tanh": 1.0, "linear": 1.0}[activation]


def measured_gain(activation: str, alpha: float | None) -> float:
    """The gain a forward pass measures (ReLU and no activation are leaky ReLUs of slope 0 and 1)."""
    if activation == "tanh":
        return _measured_gain("tanh", 0.0)
    slope = {"relu": 0.0, "linear": 1.0}.get(activation, 0.01 if alpha is None else alpha)
    return _measured_gain("leaky_relu", slope)


@functools.cache
def _measured_gain(activation: str, slope: float) -> float:
    """y = W f(z) with z ~ N(0, v), fixed seed, in float64: Var(y) / (Var(z) · Σ_k w_jk² averaged over
    the rows j), which is E[f(z)²] / Var(z) up to the noise of one finite layer."""
    generator = torch.Generator().manual_seed(0)
    variance = TANH_VARIANCE if activation == "tanh" else 1.0
    z = torch.randn(GAIN_BATCH, GAIN_FAN_IN, generator=generator, dtype=torch.float64)
    W = torch.randn(GAIN_UNITS, GAIN_FAN_IN, generator=generator, dtype=torch.float64)
    z, W = z * math.sqrt(variance), W / math.sqrt(GAIN_FAN_IN)
    a = torch.tanh(z) if activation == "tanh" else torch.where(z > 0, z, slope * z)
    y = a @ W.T
    return (y.var() / (z.var() * W.square().sum(dim=1).mean())).item()


def _gain_hint(activation: str, alpha: float | None, value: float) -> str:
    """What a wrong gain most likely got wrong."""
    slope = 0.01 if alpha is None else alpha
    exact = exact_gain(activation, alpha)
    calculate_gain_like = (5 / 3, 25 / 9, 9 / 25, 3 / 5)
    leaky_slips = {(1 + slope) / 2: "the negative half's values are multiplied by α, so their squares by α²: "
                                    "(1 + α²) / 2, not (1 + α) / 2",
                   (1 - slope * slope) / 2: "the negative half ADDS α² times half of E[z²]: (1 + α²) / 2, "
                                            "not (1 - α²) / 2",
                   0.5: "leaky ReLU does not zero the negative half: it keeps α² of its second moment, "
                        "(1 + α²) / 2"}
    if alpha is None and activation == "leaky_relu" and math.isclose(value, 0.5, rel_tol=1e-9):
        return "that is the gain for α = 0; alpha defaults to 0.01"
    for slip, hint in leaky_slips.items() if activation == "leaky_relu" else ():
        if math.isclose(value, slip, rel_tol=1e-9):
            return hint
    if activation == "tanh" and any(math.isclose(value, x, rel_tol=1e-3) for x in calculate_gain_like):
        return ("torch.nn.init.calculate_gain('tanh') = 5/3 is PyTorch's empirical std gain, chosen for "
                "saturation; the derivation's gain is the small-z limit: near 0, tanh(z) ≈ z, so "
                "E[tanh(z)²] / Var(z) → 1")
    if activation != "leaky_relu" and math.isclose(value, (1 + slope * slope) / 2, rel_tol=1e-9):
        return f"alpha is the slope of 'leaky_relu' only: {activation!r} ignores it"
    if math.isclose(value, 1 / exact, rel_tol=1e-6):
        return ("that is 1/g, the factor the variance-preserving σ² = 1/(g·n) makes up for (He's 2 for "
                "ReLU); the gain itself is E[f(z)²] / Var(z)")
    if math.isclose(value, math.sqrt(exact), rel_tol=1e-6):
        return "that is √g, the factor on the std; the variance's factor is g itself"
    if math.isclose(value, exact, rel_tol=1e-2):
        return ("close, but not exact: an estimate (sampling, a coarse or float32 computation) is not "
                "accurate enough; the derivation gives a closed form")
    return {"relu": "ReLU zeroes the negative half of a symmetric z, so only half of E[z²] is left: "
                    "E[relu(z)²] = Var(z) / 2",
            "leaky_relu": "leaky ReLU keeps the positive half of E[z²] and α² times the negative half "
                          "(its values are multiplied by α, their squares by α², whatever α's sign): "
                          "(1 + α²) / 2",
            "tanh": "near 0, tanh(z) ≈ z, so E[tanh(z)²] / Var(z) → 1",
            "linear": "f(z) = z leaves E[z²] = Var(z) as it is: the gain is 1"}[activation]


def test_variance_gain(got, want):
    for activation, alpha in GAIN_CASES:
        what = gain_what(activation, alpha)
        value = number(got[what], what=what)
        exact, measured = exact_gain(activation, alpha), measured_gain(activation, alpha)
        if not math.isclose(measured, exact, rel_tol=MEASUREMENT_NOISE):
            raise RuntimeError(f"the check's own measurement of {what}, {measured}, is not {exact}")
        if not math.isclose(value, exact, rel_tol=1e-6):
            near = " (close to the measurement, but not the exact value)" \
                if math.isclose(value, measured, rel_tol=MEASUREMENT_NOISE) else ""
            variance = TANH_VARIANCE if activation == "tanh" else 1.0
            fail(f"{what} returned {value:.6g}{near}: a forward pass y = W·f(z) with z ~ N(0, {variance:g}) "
                 f"through a layer of {GAIN_UNITS} units measures E[f(z)²] / Var(z) = {measured:.4f}, "
                 f"and the derivation gives {exact:.6g}. Hint: {_gain_hint(activation, alpha, value)}.")
    for activation in UNKNOWN_ACTIVATIONS:
        what = gain_what(activation, None)
        refusal = got[what]
        raised = refusal.get("raised") if type(refusal) is dict else None
        expect(type(raised) is list and "ValueError" in raised,
               f"{what} {'raised ' + str(raised[0]) if type(raised) is list and raised else 'returned'} "
               f"instead of raising ValueError, as an activation other than "
               f"{', '.join(map(repr, ALLOWED_ACTIVATIONS))} should.")
        message = str(refusal.get("message"))
        missing = [name for name in ALLOWED_ACTIVATIONS if not re.search(rf"(?<!\w){name}(?!\w)", message)]
        expect(not missing, f"{what} raised ValueError({message!r}): its message should name the allowed "
                            f"activations ({', '.join(map(repr, ALLOWED_ACTIVATIONS))}) so that the caller "
                            "knows what to pass; it leaves out " + ", ".join(map(repr, missing)) + ".")


def _compare_stats(stats: object, expected: list, what: str) -> None:
    """Each layer's mean, std and weight-gradient norm against the reference's."""
    expect(type(stats) is list and len(stats) == len(expected),
           f"{what} should return a list with one dict per nn.Linear ({len(expected)} here), "
           f"got {type(stats).__name__} of length {len(stats) if type(stats) is list else '?'}.")
    for index, (mine, theirs) in enumerate(zip(stats, expected), start=1):
        expect(type(mine) is dict and {"mean", "std", "grad_norm"} <= set(mine),
               f"{what}, layer {index}: each entry must be a dict with keys 'mean', 'std' and 'grad_norm'.")
        expect_close(mine["mean"], theirs["mean"], what=f"{what}, layer {index} output mean", rtol=1e-3,
                     atol=1e-4, hint="Record each nn.Linear's output with a forward hook.")
        expect_close(mine["std"], theirs["std"], what=f"{what}, layer {index} output std", rtol=1e-2,
                     hint="The std of the layer's output (what the hook's `output` is), "
                          "not of its input.")
        expect_close(mine["grad_norm"], theirs["grad_norm"], rtol=1e-3,
                     what=f"{what}, layer {index} weight-gradient norm",
                     hint="One backward pass of loss_fn(model(X), y); the norm of layer.weight.grad.")


def _check_modes(what: str, after: object, expected: dict) -> None:
    """The caller's modes, module by module, as the reference left them (as they were)."""
    expect(type(after) is dict, f"{what}: the hidden tests could not read the model's modes.")
    changed = [name for name, training in expected.items() if after.get(name) is not training]
    if changed:
        was = "train" if expected[changed[0]] else "eval"
        fail(f"{what} left the model in {'eval' if was == 'train' else 'train'} mode (it was in {was} "
             "mode): leave the caller's mode as it was (do not call model.train() or model.eval(), "
             "or restore the mode before returning).")


def _check_grads(what: str, after: dict, before: dict, expected: dict) -> None:
    """Each .grad afterwards: this backward pass's, as it was before the call, or None."""
    for name, fresh in expected.items():
        now, was = after.get(name), before[name]
        if now is None or (type(now) is torch.Tensor and now.shape == fresh.shape
                           and (torch.equal(now, was) or torch.allclose(now.double(), fresh.double(),
                                                                         rtol=1e-4, atol=1e-6))):
            continue
        fail(f"{what}: {name}.grad is neither the gradient of this one backward pass nor what it was "
             "before (it accumulated onto the earlier gradient): zero every parameter's gradient "
             "before backward() (model.zero_grad()), not only those of the nn.Linear layers.")


def test_layer_stats(got, want):
    _compare_stats(got["stats"], want["stats"], "layer_stats")
    expect(got["hooks left"] is False,
           "layer_stats left forward hooks on the model: remove them (handle.remove()) "
           "when you are done, or every later forward pass will run them.")
    _check_modes("layer_stats", got["modes after"], want["modes after"])
    again = got["stats again"]
    expect(type(again) is list and again and type(again[0]) is dict and "grad_norm" in again[0],
           "layer_stats called a second time should return the same kind of list.")
    expect_close(again[0]["grad_norm"], want["stats again"][0]["grad_norm"], rtol=1e-3,
                 what="layer 1 weight-gradient norm on a second call",
                 hint="Gradients accumulate: zero them (model.zero_grad()) before backward().")
    stats, expected = got["nested stats"], want["nested stats"]
    count = len(stats) if type(stats) is list else "?"
    expect(type(stats) is list and len(stats) == len(expected),
           f"{NESTED_STATS_WHAT} returned {count} entries for its {len(expected)} nn.Linear layers "
           "(three nested in a custom module): walk model.modules(), not model.children() or the "
           "top-level layers only.")
    after, before = got["nested after"], want["nested before"]
    expect(type(after) is dict and type(after.get("grads")) is dict,
           f"{NESTED_STATS_WHAT}: the hidden tests could not read the model it left.")
    _check_modes(NESTED_STATS_WHAT, after.get("training"), want["nested after"]["training"])
    _check_grads(NESTED_STATS_WHAT, after["grads"], before["grads"], want["nested after"]["grads"])
    _compare_stats(stats, expected, NESTED_STATS_WHAT)
    expect(got["nested hooks left"] is False,
           f"{NESTED_STATS_WHAT} left forward hooks on the model: remove them (handle.remove()).")


def _first_below(norms: Sequence[float], floor: float, *, from_output: bool = True,
                 compare: Callable[[float, float], bool] = operator.lt) -> int | None:
    """The first 1-based position, counted from the output layer (or the input), below `floor`."""
    ordered = list(reversed(norms)) if from_output else list(norms)
    return next((position for position, norm in enumerate(ordered, start=1) if compare(norm, floor)), None)


def _shifted(depth: int | None, change: Callable[[int], int]) -> int | None:
    return None if depth is None else change(depth)


def _from_input(norms: Sequence[float], t: float) -> int | None:
    return _first_below(norms, t * norms[-1], from_output=False)


def _zero_based(norms: Sequence[float], t: float) -> int | None:
    return _shifted(_first_below(norms, t * norms[-1]), lambda depth: depth - 1)


def _list_index(norms: Sequence[float], t: float) -> int | None:
    return _shifted(_first_below(norms, t * norms[-1]), lambda depth: len(norms) - depth)


def _last_crossing(norms: Sequence[float], t: float) -> int | None:
    return _shifted(_first_below(norms, t * norms[-1], from_output=False),
                    lambda position: len(norms) - position + 1)


def _at_or_below(norms: Sequence[float], t: float) -> int | None:
    return _first_below(norms, t * norms[-1], compare=operator.le)


def _of_largest(norms: Sequence[float], t: float) -> int | None:
    return _first_below(norms, t * max(norms))


def _absolute(norms: Sequence[float], t: float) -> int | None:
    return _first_below(norms, t)


def _default_threshold(norms: Sequence[float], t: float) -> int | None:
    return _first_below(norms, 1e-2 * norms[-1])


# What known mistakes return for (norms, threshold), and what to tell a student whose answer is one.
_DEPTH_MISTAKES: tuple[tuple[Callable[[Sequence[float], float], int | None], str], ...] = (
    (_from_input, "that is the depth counted from the input side: grad_norms starts at the input layer, "
                  "so walk it from the end (the output layer, depth 1) backwards"),
    (_zero_based, "depths start at 1 for the output layer, not at 0"),
    (_list_index, "that is the layer's index in the list; return its depth counted from the output "
                  "layer (1)"),
    (_last_crossing, "that is the last crossing (the deepest layer below the threshold); return the "
                     "first one, walking back from the output layer"),
    (_at_or_below, "a norm equal to threshold × the output layer's is not below it: compare with <, "
                   "not <="),
    (_of_largest, "the threshold is relative to the OUTPUT layer's norm (grad_norms[-1]), not to the "
                  "largest one"),
    (_absolute, "the threshold is relative: compare with threshold × the output layer's norm, not with "
                "threshold itself"),
    (_default_threshold, "use the threshold passed in, not always 1e-2"),
)


def _depth_hint(got) -> str:
    """The known mistake that gives every depth the student's function returned, if one does."""
    answers = [(norms, 1e-2 if threshold is None else threshold, got.observations[key])
               for key, norms, threshold in HISTORIES if key in got]
    for mistake, hint in _DEPTH_MISTAKES:
        if all(mistake(norms, t) == answer for norms, t, answer in answers):
            return hint
    return ("walk back from the output layer (the LAST entry, depth 1) and return the first depth whose "
            "norm is strictly below threshold × the output layer's norm, or None")


def test_vanishing_depth(got, want):
    for key, norms, threshold in HISTORIES:
        what = history_what(norms, threshold)
        depth, expected = got[key], want[key]
        expect(depth is None or type(depth) is int,
               f"{what} returned {type(depth).__name__}: return the depth as an int (or None), "
               "for example int(...) of a tensor's index.")
        if depth != expected:
            hint = ("when no layer falls below the threshold, return None, not a number"
                    if expected is None and depth in (0, -1) else _depth_hint(got))
            fail(f"{what} returned {depth}, expected {expected}: {hint}.")
        expect(got[f"{key}: left"] == want[f"{key}: left"],
               f"{what} changed the list it was given: leave the caller's gradient norms as they "
               "were (reversed(grad_norms) or grad_norms[::-1] make a reversed view or copy).")
    raised = got[EMPTY_HISTORY]
    expect(type(raised) is list and "ValueError" in raised,
           f"{EMPTY_HISTORY} {'returned' if raised is None else 'raised ' + str(raised[0])} instead of "
           "raising ValueError: an empty list has no output layer to compare with.")


def _check_orthogonal(where: str, W: torch.Tensor) -> None:
    rows, cols = W.shape
    W = W.double()
    gram = W @ W.T if rows <= cols else W.T @ W
    expect_close(gram, torch.eye(min(rows, cols), dtype=torch.float64), rtol=0, atol=1e-5,
                 what=f"{where}: W Wᵀ (or Wᵀ W for tall W) against the identity",
                 hint="Orthonormal rows (or columns), as torch.nn.init.orthogonal_ gives.")


def test_orthogonal_init(got, want):
    for rows, cols in ORTHOGONAL_SHAPES:
        where = f"orthogonal_init_(nn.Linear({cols}, {rows}))"
        expect(got[f"{where} returns its layer"] is True,
               f"{where} must return the layer it initialized in place.")
        _check_orthogonal(where, expect_tensor(got[f"{where} weight"], what=f"{where}: the weight",
                                               like=want[f"{where} weight"]))
        bias = expect_tensor(got[f"{where} bias"], what=f"{where}: the bias")
        expect(bool((bias == 0).all()), f"{where}: the bias must be zero.")
    first, second = (expect_tensor(got[f"{call} weight"], what="orthogonal_init_: the weight",
                                   like=want[f"{call} weight"]) for call in ("first", "second"))
    expect(not torch.allclose(first, second),
           "orthogonal_init_ gave the same matrix twice: start from a random matrix each call.")
    x = torch.randn(32, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    expect_close((second.double() @ x).norm(dim=0), x.norm(dim=0), rtol=1e-4,
                 what="‖Wx‖ against ‖x‖ for a square orthogonal W")
    for rows, cols in SIGN_SHAPES:
        what = sign_what(rows, cols)
        signs = expect_tensor(got[what], what=f"{what}: the signs of W's diagonal", like=want[what])
        for index, positive in enumerate(signs.double().mean(dim=0).tolist()):
            expect(0.3 <= positive <= 0.7,
                   f"{what}: W[{index}, {index}] came out positive in {positive:.0%} of the draws, where a "
                   "uniformly random orthogonal matrix has it positive half the time: multiply each "
                   "column of Q by the sign of R's matching diagonal entry "
                   "(Q * torch.sign(torch.diagonal(R))), which QR alone does not fix.")

    def check_values(what: str, fan_in: int, fan_out: int, arguments: tuple) -> None:
        weight = expect_tensor(got[f"{what} weight"], what=f"{what}: the weight",
                               like=want[f"{what} weight"])
        _check_orthogonal(what, weight)
        bias = expect_tensor(got[f"{what} bias"], what=f"{what}: the bias")
        expect(bool((bias == 0).all()), f"{what}: the bias must be zero.")

    _check_in_place("orthogonal_init_", got, want, check_values)


test_q1_same_value = choice_question("Q1")
test_q2_zero_bias = choice_question("Q2")
test_q3_he_std = number_question("Q3")
test_q4_default_ratio = number_question("Q4")
test_q5_selu_init = choice_question("Q5")
test_q6_relu_default_factor = number_question("Q6")
