"""Checks of lab 08, Regularization: one per grade cell, named after it, reading the records of
the probes in autograder/probes/lab08_regularization.py (the student's as `got`, the
reference's as `want`).

Expected values are computed here from the probe's inputs as the reference recorded them:
the penalties and their gradients from the model's parameters, max-norm with `torch.renorm`,
the statistics of dropout masks against the input, the validation loss of the weights that
early stopping restored. Which parameters count as weights, and which get weight decay,
follows from the module types of the probe's models.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from autograder.checks.core import (
    choice_question,
    expect,
    expect_close,
    expect_tensor,
    fail,
    number,
    number_question,
)
from autograder.probes.lab08_regularization import (
    AGAIN_WHAT,
    BAD_MODE,
    BAD_MODE_WHAT,
    BAD_RATES,
    BF16_RATE,
    BF16_WHAT,
    BN_WHAT,
    DECAY_CASES,
    DECISION_CASES,
    DEFAULT_MAX_NORM_WHAT,
    DEFAULT_MC_PREDICT_WHAT,
    DROPOUT_RATES,
    EMPTY_WHAT,
    EVAL_RATES,
    FUNCTION_BAD_RATES,
    FUNCTION_CASES,
    GRAD_WHAT,
    GRADCHECK_RATE,
    GRADCHECK_WHAT,
    HISTORIES,
    IMAGES_WHAT,
    MAX_NORM_CASES,
    MAX_NORM_LINEARS,
    MC_BF16_ROWS,
    MC_BF16_WHAT,
    MC_PARENTS,
    MC_RATES,
    NESTED_DECAY_WHAT,
    NESTED_MAX_NORM,
    NESTED_MAX_NORM_WHAT,
    NESTED_MC_PREDICT_WHAT,
    PLAIN_WHAT,
    RELU_WHAT,
    RESTORE_FIRST_WHAT,
    SELU_WHAT,
    TRAINING_WHAT,
    TWICE_WHAT,
    TWO_POINT_WHAT,
    UNTOUCHED,
    Nested,
    TwoBranches,
    call_text,
    function_what,
    history_what,
    max_norm_what,
    nested_penalty_what,
)

PENALIZED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm)


def _structure(model_class: type[nn.Module]) -> nn.Module:
    """A model of the probe's architecture, for its module types (the judge's RNG is untouched)."""
    with torch.random.fork_rng(devices=[]):
        return model_class()


def _kind(value: object) -> str:
    if isinstance(value, dict) and len(value) == 1 and "type" in value:
        return str(value["type"])
    return type(value).__name__


def _is_nested(name: str) -> bool:
    """Whether the parameter `name` (e.g. "head.0.bias") belongs to a module below the top level."""
    return name.count(".") >= 2


def _model_after(got, what: str) -> dict:
    after = got[f"{what} after"]
    expect(type(after) is dict and all(type(after.get(key)) is dict for key in
                                       ("parameters", "grads", "requires_grad", "training")),
           f"{what}: the model is no longer an nn.Module.")
    return after


# What a function that only reads the model must leave as it was, and what it says if not.
UNTOUCHED_PARTS = (
    ("grads", "wrote into {key}.grad: it must not touch p.grad (no backward(), no p.grad updates "
              "inside); the caller's loss.backward() and optimizer.step() take care of gradients."),
    ("parameters", "changed the parameter {key}: it must only read the model's parameters."),
    ("requires_grad", "changed {key}.requires_grad: leave which parameters train to the caller."),
    ("training", "changed the mode of the module {key!r}: leave the caller's modes as they are."),
)


def _expect_untouched(got, want, what: str, parts: tuple[str, ...]) -> None:
    """The nested model after `what` has, in each of `parts`, what it had before the call."""
    before, after = want[f"{what} before"], _model_after(got, what)
    for part, message in UNTOUCHED_PARTS:
        if part not in parts:
            continue
        for key, value in before[part].items():
            mine = after[part].get(key, "missing")
            same = torch.equal(mine, value) if type(value) is torch.Tensor and \
                type(mine) is torch.Tensor else mine == value
            expect(same, f"{what} " + message.format(key=key))


# --- ℓ1 and ℓ2 penalties ---------------------------------------------------------------------

def _check_penalty(got, want, name: str, term, formula: str) -> None:
    model = _structure(TwoBranches)
    layers = [module_name for module_name, module in model.named_modules()
              if isinstance(module, PENALIZED)]
    weight_names = [f"{layer}.weight" for layer in layers]
    parameters = {key: value.double() for key, value in want["parameters"].items()}

    def total(names) -> float:
        return sum(term(parameters[key]).sum().item() for key in names)

    expected = total(weight_names)
    layer_biases = total(weight_names + [f"{layer}.bias" for layer in layers
                                         if f"{layer}.bias" in parameters])
    with_biases = total([key for key in parameters if key in weight_names or key.endswith("bias")])
    every = total(parameters)
    named_weight = total([key for key in parameters if key.endswith("weight")])

    result = got["penalty"]
    expect(type(result) is torch.Tensor,
           f"{name} must return a tensor (so the penalty can be added to the loss and "
           f"differentiated), got {_kind(result)}.")
    expect(result.numel() == 1, f"{name} must return a single number (a 0-dim tensor), "
                                f"got shape {tuple(result.shape)}.")
    value = result.double().sum().item()
    hints = {layer_biases: "it includes the biases of the layers: penalize their weights only.",
             with_biases: "it includes the biases: penalize weights only.",
             every: "it includes every parameter: biases and normalization parameters "
                    "must not be penalized.",
             named_weight: "it includes the weights of the BatchNorm/LayerNorm layers: only "
                           "nn.Linear and nn.Conv1d/2d/3d weights count (choose by module type)."}
    top_level = total([f"{child}.weight" for child, module in model.named_children()
                       if isinstance(module, PENALIZED)])
    hints[top_level] = CHILDREN_HINT
    if name == "l2_penalty":
        hints[expected / 2] = "it has a factor ½: this lab's ℓ2 penalty is Σw², without ½."
        hints[expected ** 0.5] = "it is the norm ‖w‖; the penalty is the sum of squares Σw²."
    for wrong_value, hint in hints.items():
        if abs(value - expected) > 1e-4 * abs(expected) and \
                abs(value - wrong_value) <= 1e-4 * abs(wrong_value):
            fail(f"{name}(model) = {value:.6g}, expected {expected:.6g} = {formula}: {hint}")
    expect_close(value, expected, what=f"{name}(model)", rtol=1e-5,
                 hint=f"Sum {formula} over the `weight` of every nn.Linear and nn.Conv1d/2d/3d, "
                      "nested layers included; no biases, no normalization parameters.")
    expect(got["penalty requires grad"] is True,
           f"{name}(model) does not require grad: build it from the weights with tensor "
           "operations (no .item(), no .detach(), no torch.no_grad()), so the penalty's "
           "gradient reaches the weights.")
    _check_nested_penalty(got, want, name, term, formula)
    grads = got["grads"]
    expect(type(grads) is dict and set(grads) == set(parameters),
           f"after {name}(model).sum().backward() the model's parameters changed names or number.")
    for key in weight_names:
        expect(grads[key] is not None, f"the gradient of {name} does not reach every weight.")
    first = weight_names[0]
    derivative = {"l1_penalty": torch.sign, "l2_penalty": lambda w: 2 * w}[name]
    expect_close(grads[first], derivative(want["parameters"][first]), rtol=1e-5, atol=1e-6,
                 what=f"gradient of {name} with respect to a weight",
                 hint=f"d({formula})/dw = {'sign(w)' if name == 'l1_penalty' else '2w'}.")
    for key, grad in grads.items():
        if key not in weight_names and grad is not None:
            expect_tensor(grad, what=f"the gradient of {key}")
            expect(bool((grad == 0).all()),
                   f"the penalty has a gradient for {key}: only weights are penalized.")


def _check_nested_penalty(got, want, name: str, term, formula: str) -> None:
    """On a float64 model with layers two and three levels down and gradients already in .grad:
    the same sum, in float64, and the model (its .grad included) left as it was."""
    what = nested_penalty_what(name)
    model = _structure(Nested)
    parameters = want[f"{what} before"]["parameters"]

    def total(modules) -> float:
        return sum(term(parameters[f"{key}.weight"].double()).sum().item()
                   for key, module in modules if isinstance(module, PENALIZED))

    expected, top_level = total(model.named_modules()), total(model.named_children())
    result = got[what]
    expect(type(result) is torch.Tensor and result.numel() == 1,
           f"{what} must return a one-element tensor, got {_kind(result)}.")
    expect(result.dtype == want[what].dtype,
           f"{what} returned a {result.dtype} penalty: keep the weights' dtype (sum out of place, "
           "total = total + ..., not in place into a float32 torch.zeros).")
    value = result.double().sum().item()
    if not math.isclose(value, expected, rel_tol=1e-9) and math.isclose(value, top_level, rel_tol=1e-6):
        fail(f"{what} = {value:.6g}, expected {expected:.6g} = {formula}: {CHILDREN_HINT}")
    expect_close(value, expected, what=what, rtol=1e-6,
                 hint=f"Sum {formula} over the `weight` of every nn.Linear and nn.Conv1d/2d/3d, "
                      "however deeply nested, bias-free layers included.")
    _expect_untouched(got, want, what, ("grads", "parameters", "requires_grad", "training"))


CHILDREN_HINT = ("it sums only the layers directly inside the model (model.children()): walk "
                 "model.modules(), which yields the nested layers too.")


def test_l1_penalty(got, want):
    _check_penalty(got, want, "l1_penalty", torch.abs, "Σ|w|")


def test_l2_penalty(got, want):
    _check_penalty(got, want, "l2_penalty", torch.square, "Σw²")


# --- parameter groups for weight decay -------------------------------------------------------

def _expected_decay(model: nn.Module) -> dict[str, tuple[bool, str]]:
    """For each parameter name: whether it gets weight decay, and its module's type."""
    decays = {}
    for module_name, module in model.named_modules():
        for name, _ in module.named_parameters(recurse=False):
            full = f"{module_name}.{name}" if module_name else name
            decays[full] = (not (isinstance(module, NORMS) or name == "bias"), type(module).__name__)
    return decays


def _returned_kind(groups: object) -> str:
    if type(groups) is dict and "not a list" in groups:
        return str(groups["not a list"])
    return "a list that holds something else" if type(groups) is list else _kind(groups)


def _groups(got, what: str) -> list[dict]:
    groups = got[f"{what} groups"]
    expect(type(groups) is list and all(type(g) is dict and "keys" in g for g in groups),
           "decay_param_groups must return a list of dicts (optimizer parameter groups), got "
           f"{_returned_kind(groups)}.")
    return groups


NESTED_GROUPS_HINT = ("walk model.modules() and classify each parameter by the module that holds "
                      "it directly (named_parameters(recurse=False)), not by a top-level child "
                      "from model.children().")


def _check_groups(got, what: str, model_class: type[nn.Module], weight_decay: float) -> None:
    """The groups `what` returned put each parameter of a `model_class` model in exactly one
    group, with `weight_decay` for weights and 0.0 for biases and normalization parameters."""
    groups = _groups(got, what)
    expect(all("params" in g["keys"] and type(g.get("params")) is list for g in groups),
           "each group needs a 'params' entry.")
    expect(all("weight_decay" in g["keys"] and "weight_decay" in g for g in groups),
           "give every group its own 'weight_decay' entry (weight_decay or 0.0), so it does not "
           "depend on the optimizer's default.")
    expected = _expected_decay(_structure(model_class))
    seen: dict[str, float] = {}
    for group in groups:
        decay = number(group["weight_decay"], what="a group's weight_decay")
        for name in group["params"]:
            expect(name != "None", f"{what}: a group holds None, the bias of a layer built with "
                                   "bias=False: add a bias only if it is not None (or walk "
                                   "named_parameters, which skips it).")
            expect(type(name) is str and name in expected,
                   "a group holds a tensor that is not a parameter of the model.")
            expect(name not in seen,
                   f"{name} is in two groups: every parameter must be in exactly one.")
            seen[name] = decay
    missing = [name for name in expected if name not in seen]
    if missing and all(_is_nested(name) for name in missing):
        fail(f"{what}: the parameters of nested modules ({', '.join(missing[:3])}, ...) are in no "
             f"group: {NESTED_GROUPS_HINT}")
    expect(not missing, f"these parameters are in no group: {', '.join(missing)}. Every parameter "
                        "must be in exactly one group (the optimizer would not train the others).")
    wrong = [name for name, (decays, _) in expected.items()
             if seen[name] != (weight_decay if decays else 0.0)]
    if wrong and all(_is_nested(name) for name in wrong):
        fail(f"{what}: {wrong[0]} gets weight_decay={seen[wrong[0]]}, expected "
             f"{weight_decay if expected[wrong[0]][0] else 0.0}, and only parameters of nested "
             f"modules are wrong: {NESTED_GROUPS_HINT}")
    for name, (decays, kind) in expected.items():
        value = seen[name]
        if decays and value != weight_decay:
            fail(f"{name} (the weight of an nn.{kind} named {name.rsplit('.', 1)[0]!r}) should get "
                 f"weight_decay={weight_decay}, got {value}. Decide by module type "
                 "(isinstance), not by the parameter's name.")
        if not decays and value != 0.0:
            if kind not in ("Linear", "Conv1d", "Conv2d"):
                fail(f"{name} belongs to an nn.{kind} (named {name.rsplit('.', 1)[0]!r}) and "
                     f"should get weight_decay=0.0, got {value}. Normalization parameters get no "
                     "decay: decide by module type (isinstance(module, (nn.BatchNorm1d, ...))), "
                     "not by the parameter's name.")
            fail(f"{name} is a bias and should get weight_decay=0.0, got {value}: biases get no decay.")


def test_decay_param_groups(got, want):
    (what, model_class, weight_decay), *nested_cases = DECAY_CASES
    _check_groups(got, what, model_class, weight_decay)
    plain = _groups(got, PLAIN_WHAT)
    expect(all(type(g.get("params")) is list for g in plain), "each group needs a 'params' entry.")
    total = sum(len(g["params"]) for g in plain)
    expect(total == 4, f"a 2-layer MLP has 4 parameters (2 weights, 2 biases); the groups hold {total}.")
    for what, model_class, weight_decay in nested_cases:
        _check_groups(got, what, model_class, weight_decay)
    _expect_untouched(got, want, NESTED_DECAY_WHAT, ("grads", "parameters", "requires_grad", "training"))


# --- dropout ---------------------------------------------------------------------------------

def _dropout_out(got, key: str, x: torch.Tensor) -> torch.Tensor:
    out = got[key]
    expect(got[f"{key}{UNTOUCHED}"] is True,
           f"{key} changed its input x in place: leave x as it is and return a new tensor "
           "(x * mask / (1 - p); no mul_, zero_ or x[...] = 0 on x).")
    expect(type(out) is torch.Tensor, f"{key} must return a tensor, got {_kind(out)}.")
    expect(out.shape == x.shape, f"{key} changed the shape: {tuple(x.shape)} → {tuple(out.shape)}.")
    return out


def test_dropout(got, want):
    x = want["x"]
    for p in DROPOUT_RATES:
        what = f"dropout(x, p={p}, training=True)"
        out = _dropout_out(got, what, x)
        dropped = out == 0
        fraction = dropped.double().mean().item()
        expect(abs(fraction - p) < 0.01,
               f"{what} zeroed {fraction:.1%} of the entries, expected about {p:.0%} "
               "(each entry dropped with probability p, kept with probability 1 - p).")
        kept = ~dropped
        if torch.allclose(out[kept].double(), x[kept].double(), rtol=1e-5):
            fail(f"{what} leaves the kept entries unscaled: divide them by (1 - p) = {1 - p:g} "
                 "(inverted dropout), or the next layer sees smaller inputs in training than "
                 "in eval mode.")
        expect_close(out[kept], x[kept] / (1 - p), rtol=1e-5, atol=1e-6,
                     what=f"{what}: the kept entries", hint="Kept entries are x / (1 - p).")
        expect_close(out.double().mean().item(), x.double().mean().item(), rtol=0.02,
                     what=f"{what}: the mean of the output against the mean of x",
                     hint="Inverted dropout preserves the expected value of each entry.")
        same_mask_rows = (dropped[0] == dropped[1:]).all(dim=1).double().mean().item()
        expect(same_mask_rows < 0.5, f"{what} drops the same units in every row: draw an "
                                     "independent mask for every entry.")
    first = _dropout_out(got, "dropout(x, 0.5, True)", x)
    second = _dropout_out(got, "dropout(x, 0.5, True) called again", x)
    expect(not torch.equal(first, second), "two calls of dropout gave the same mask: draw a new "
                                           "random mask on every call.")
    for p in EVAL_RATES:
        out = _dropout_out(got, f"dropout(x, {p}, training=False)", x)
        expect(torch.equal(out, x), f"dropout(x, {p}, training=False) must return x unchanged: "
                                    "dropout is only active during training (eval mode is the "
                                    "identity, no mask and no scaling).")
    out = _dropout_out(got, "dropout(x, 0.0, training=True)", x)
    expect(torch.equal(out, x), "dropout with p = 0 must return x unchanged.")
    out = _dropout_out(got, "dropout(x, 1.0, training=True)", x)
    expect(not torch.isnan(out).any(), "dropout(x, 1.0, True) returned NaN: with p = 1 every "
                                       "entry is dropped, return zeros (do not divide by 1 - p = 0).")
    expect(bool((out == 0).all()), "dropout(x, 1.0, True) must return all zeros.")
    for p in BAD_RATES:
        raised = got[f"dropout(x, {p}, True)"]
        expect(type(raised) is list and "ValueError" in raised,
               f"dropout(x, {p}, True) should raise a ValueError: p must lie in [0, 1].")
    out = _dropout_out(got, IMAGES_WHAT, want["images"])
    expect(out.dtype == torch.float64, f"dropout changed the dtype to {out.dtype}: keep x's dtype.")
    half = want["bfloat16 batch"]
    out = _dropout_out(got, BF16_WHAT, half)
    expect(out.dtype == torch.bfloat16,
           f"{BF16_WHAT} returned {out.dtype}: keep x's dtype (x * mask with a bool mask from "
           "torch.rand_like(x) keeps it; a mask divided by (1 - p) on its own is float32).")
    fraction = (out == 0).double().mean().item()
    expect(abs(fraction - BF16_RATE) < 0.04,
           f"{BF16_WHAT} zeroed {fraction:.1%} of the entries, expected about {BF16_RATE:.0%}.")
    kept = out != 0
    expect_close(out[kept].double(), half[kept].double() / (1 - BF16_RATE), rtol=1e-2, atol=1e-3,
                 what=f"{BF16_WHAT}: the kept entries", hint="Kept entries are x / (1 - p).")
    out = _dropout_out(got, GRAD_WHAT, want["leaf"])
    expect(got[f"{GRAD_WHAT} requires grad"] is True,
           "dropout's output must stay in the autograd graph (no .detach(), no torch.no_grad()): "
           "gradients flow through the kept units.")
    got[f"{GRAD_WHAT} backward"]
    expect_close(got[f"{GRAD_WHAT} grad"], (out != 0).float() / 0.6, rtol=1e-5, atol=1e-6,
                 what="gradient of dropout(x, 0.4, True).sum() with respect to x",
                 hint="The gradient is the mask divided by (1 - p).")


# --- dropout's backward, by hand ---------------------------------------------------------------

def _tolerances(dtype: torch.dtype) -> dict[str, float]:
    """Float64 to a few ulps (a float32 mask or scale is 1e-8 off); bfloat16 to its rounding."""
    return {"rtol": 1e-10, "atol": 1e-12} if dtype == torch.float64 else {"rtol": 1e-2, "atol": 1e-2}


def _function_output(got, want, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The output the student's Function returned for `what`, with the x it was given."""
    x, out = want[f"{what} x"], got[what]
    expect(type(out) is torch.Tensor, f"{what} must return a tensor, got {_kind(out)}.")
    expect(out.shape == x.shape, f"{what} changed the shape: {tuple(x.shape)} → {tuple(out.shape)}.")
    expect(out.dtype == x.dtype,
           f"{what} returned {out.dtype}: keep x's dtype (x * mask with a bool mask from "
           "torch.rand_like(x) keeps it; a float32 mask makes a bfloat16 x float32).")
    return x, out


def _check_function_output(what: str, x: torch.Tensor, out: torch.Tensor, p: float) -> None:
    """Inverted dropout's forward: about a fraction p of the nonzero entries of x dropped, the
    rest x / (1 - p)."""
    expect(not bool(out.isnan().any()), f"{what} returned NaN" + (
        ": with p = 1 every entry is dropped, return zeros (do not divide by 1 - p = 0)."
        if p == 1.0 else "."))
    if p == 1.0:
        expect(bool((out == 0).all()), f"{what} must return all zeros: p = 1 drops every entry.")
        return
    known = x != 0  # where x is 0 the output is 0, kept or not
    kept = (out != 0) & known
    dropped = 1.0 - kept[known].double().mean().item()
    expect(abs(dropped - p) < 0.05, f"{what} zeroed {dropped:.1%} of the nonzero entries, expected "
                                    f"about {p:.0%} (each entry dropped with probability p).")
    expected = x[kept].double() / (1 - p)
    if not torch.allclose(out[kept].double(), expected, **_tolerances(x.dtype)) and \
            torch.allclose(out[kept].double(), expected, rtol=1e-6, atol=1e-8):
        fail(f"{what}: the kept entries are x / (1 - p) {FLOAT32_ROUNDING}")
    expect_close(out[kept], expected, **_tolerances(x.dtype),
                 what=f"{what}: the kept entries", hint="Kept entries are x / (1 - p).")


FLOAT32_ROUNDING = ("only to float32 rounding: build the mask and the scale in x's dtype (a bool mask "
                    "from torch.rand_like(x), divided by (1 - p) with x), not with torch.rand(shape) "
                    "or .float().")


def _expected_gradient(x: torch.Tensor, keep: torch.Tensor, upstream: torch.Tensor,
                       p: float) -> torch.Tensor:
    """PyTorch's own gradient, in float64, of x * keep / (1 - p) for the FIXED mask `keep` (the
    one the student's forward drew; all False when p = 1)."""
    leaf = x.detach().double().requires_grad_()
    output = leaf * keep / (1.0 - p) if p < 1.0 else leaf * keep
    return torch.autograd.grad(output, leaf, upstream.double())[0]


def _gradient_mistake(grad: torch.Tensor, expected: torch.Tensor, keep: torch.Tensor,
                      upstream: torch.Tensor, p: float) -> str:
    """What a wrong gradient looks like, in words ("" if it looks like none of the usual mistakes)."""
    upstream = upstream.double()
    scale = 1.0 / (1.0 - p) if p < 1.0 else 0.0
    shapes = (
        (-expected, "has the wrong sign: the gradient is +grad_out * mask / (1 - p)."),
        (upstream * keep, f"is missing the 1 / (1 - p) scale (here × {scale:.4g}): the forward "
                          "scales the kept entries, so their gradient is scaled alike."),
        (upstream, "is grad_out unmasked: the dropped entries did not reach the output, so their "
                   "gradient is 0 (multiply by the mask)."),
        (upstream * scale, "is not masked: the dropped entries did not reach the output, so their "
                           "gradient is 0 (multiply by the mask)."),
    )
    for wrong, message in shapes:
        if not torch.allclose(wrong, expected) and torch.allclose(grad, wrong, rtol=1e-6, atol=1e-8):
            return message
    if torch.allclose(grad, expected, rtol=1e-6, atol=1e-8):
        return f"is right {FLOAT32_ROUNDING}"
    if not torch.equal(grad != 0, keep):
        return ("passes the gradient through other entries than those forward kept: use the mask "
                "forward drew, saved in ctx (ctx.save_for_backward(mask)), never a new one.")
    return ""


def _check_function_gradient(what: str, grad: object, x: torch.Tensor, out: torch.Tensor,
                             upstream: torch.Tensor, p: float) -> None:
    """The gradient is autograd's for the mask the student's forward drew (where x is not 0,
    kept ⇔ output ≠ 0), in x's dtype, to float64 precision."""
    expect(type(grad) is torch.Tensor,
           f"the backward of {what} gave {_kind(grad)} as the gradient of x: return "
           "(grad_out * mask / (1 - p), None).")
    expect(grad.shape == x.shape and grad.dtype == x.dtype,
           f"the gradient of x from {what} is {grad.dtype} {tuple(grad.shape)}, expected "
           f"{x.dtype} {tuple(x.shape)}.")
    expect(not bool(grad.isnan().any()),
           f"the backward of {what} returned NaN: with p = 1 the gradient is 0 everywhere (do "
           "not divide by 1 - p = 0).")
    known = x != 0
    keep = (out != 0) & known
    expected = _expected_gradient(x, keep, upstream, p)
    mine = grad.double()
    if torch.allclose(mine[known], expected[known], **_tolerances(x.dtype)):
        return
    mistake = _gradient_mistake(mine[known], expected[known], keep[known], upstream[known], p)
    if mistake:
        fail(f"the gradient from {what} {mistake}")
    expect_close(mine[known], expected[known], **_tolerances(x.dtype),
                 what=f"the gradient of x from {what}",
                 hint="d(x * mask / (1 - p))/dx = mask / (1 - p), times grad_out.")


def _check_untouched(got, what: str) -> None:
    x_same, upstream_same = got[f"{what}{UNTOUCHED}"]
    expect(x_same is True, f"{what} changed x in place: leave it as it is and return a new tensor.")
    expect(upstream_same is True, f"the backward of {what} changed grad_out in place: compute a new "
                                  "tensor (grad_out * mask / (1 - p), no mul_ on grad_out).")


def _function_case(got, want, what: str, p: float) -> tuple[torch.Tensor, object]:
    """Judge one case of the probe's `_function_case`; return the output and the recorded gradient."""
    x, out = _function_output(got, want, what)
    _check_function_output(what, x, out, p)
    gradient = got[f"{what} gradient"]
    expect(type(gradient) is list and len(gradient) >= 1,
           f"the backward of {what} returned {_kind(gradient)}.")
    _check_untouched(got, what)
    return out, gradient


def test_dropout_function(got, want):
    expect(got["is a Function"] is True, "DropoutFunction must subclass torch.autograd.Function.")
    for p, dtype in FUNCTION_CASES:
        what = function_what(p, dtype)
        out, gradient = _function_case(got, want, what, p)
        _check_function_gradient(what, gradient[0], want[f"{what} x"], out, want[f"{what} grad_out"], p)
    for p in FUNCTION_BAD_RATES:
        raised = got[f"DropoutFunction.apply(x, {p})"]
        expect(type(raised) is list and "ValueError" in raised,
               f"DropoutFunction.apply(x, {p}) should raise a ValueError: p must lie in [0, 1].")
    _check_relu_case(got, want)

    out, (first, second) = _function_case(got, want, TWICE_WHAT, 0.4)
    x, upstream = want[f"{TWICE_WHAT} x"], want[f"{TWICE_WHAT} grad_out"]
    _check_function_gradient(TWICE_WHAT, first, x, out, upstream, 0.4)
    expect(type(second) is torch.Tensor and torch.equal(second, first),
           f"{TWICE_WHAT}: the second backward gave another gradient than the first. backward must "
           "not change what ctx holds (no in-place operation on the saved mask).")

    x, upstreams = want[f"{AGAIN_WHAT} x"], want[f"{AGAIN_WHAT} grad_out"]
    outputs = [got[f"{AGAIN_WHAT}: call {call}"] for call in (1, 2)]
    for out in outputs:
        expect(type(out) is torch.Tensor and out.shape == x.shape,
               f"{AGAIN_WHAT}: each call must return a tensor shaped like x.")
    expect(not torch.equal(outputs[0] != 0, outputs[1] != 0),
           "two calls of DropoutFunction.apply(x, 0.5) dropped the same entries: draw a new mask "
           "in every forward.")
    for call, out, upstream in zip((1, 2), outputs, upstreams, strict=True):
        grad = got[f"{AGAIN_WHAT}: gradient {call}"][0]
        other = outputs[2 - call]
        if type(grad) is torch.Tensor and grad.shape == x.shape and \
                torch.equal(grad != 0, other != 0) and not torch.equal(grad != 0, out != 0):
            fail(f"{AGAIN_WHAT}: the backward of call {call} used the mask of call {3 - call}. Keep "
                 "each call's mask in its own ctx (ctx.save_for_backward(mask)), not in a class "
                 "attribute, a global or a tensor that the next call overwrites.")
        _check_function_gradient(f"DropoutFunction.apply(x, 0.5), call {call}", grad, x, out, upstream, 0.5)

    expect(got[GRADCHECK_WHAT] is True,
           "torch.autograd.gradcheck(lambda x: (torch.manual_seed(0), DropoutFunction.apply(x, "
           f"{GRADCHECK_RATE}))[1], (x,)) fails on a float64 x: with the same seed your forward must "
           "draw the same mask every call (draw it from torch's generator: torch.rand_like or "
           "torch.bernoulli), and backward must be its exact derivative.")


def _check_relu_case(got, want) -> None:
    """Where x is 0 the output is 0 whether kept or not, yet a kept entry passes its gradient:
    about a fraction 1 - p of them, each grad_out / (1 - p)."""
    p = 0.5
    out, gradient = _function_case(got, want, RELU_WHAT, p)
    x, upstream = want[f"{RELU_WHAT} x"], want[f"{RELU_WHAT} grad_out"]
    grad = gradient[0]
    _check_function_gradient(RELU_WHAT, grad, x, out, upstream, p)
    zeros = x == 0
    at_zeros, scaled = grad[zeros].double(), upstream[zeros].double() / (1 - p)
    passed = at_zeros != 0
    expect(passed.any(),
           f"{RELU_WHAT}: the gradient is 0 wherever x is 0. A kept entry whose x is 0 still passes "
           "its gradient on (the derivative of x * m / (1 - p) is m / (1 - p), whatever x): use the "
           "mask forward drew, not output != 0 or x != 0.")
    share = passed.double().mean().item()
    expect(torch.allclose(at_zeros[passed], scaled[passed]) and abs(share - (1 - p)) < 0.1,
           f"{RELU_WHAT}: where x is 0, about half of the gradient should be grad_out / (1 - p) "
           "(the kept entries) and the rest 0.")


# --- MC dropout ------------------------------------------------------------------------------

def test_mc_dropout(got, want):
    expect(got["subclasses nn.Dropout"] is True,
           "McDropout must be a class that subclasses nn.Dropout.")
    x = want["x"]
    for p in MC_RATES:
        rate = got[f"McDropout({p}).p"]
        expect(type(rate) in (int, float) and rate == p,
               f"McDropout({p}).p should be {p}: keep nn.Dropout's constructor.")
        for mode in ("eval", "train"):
            out = got[f"McDropout({p}) in {mode} mode"]
            expect(type(out) is torch.Tensor and out.shape == x.shape,
                   "McDropout must return a tensor shaped like its input.")
            fraction = (out == 0).double().mean().item()
            if mode == "eval" and fraction == 0:
                fail("McDropout does nothing in eval mode: it must stay active whatever the "
                     "mode (call dropout with training=True).")
            expect(abs(fraction - p) < 0.015,
                   f"McDropout({p}) in {mode} mode zeroed {fraction:.1%} of the entries, "
                   f"expected about {p:.0%}.")
            kept = out != 0
            expect_close(out[kept], x[kept] / (1 - p), rtol=1e-5, atol=1e-6,
                         what=f"McDropout({p}) in {mode} mode: the kept entries",
                         hint="Scale the kept entries by 1 / (1 - p), as nn.Dropout does.")
    for key, _, what, dtype in MC_PARENTS:
        first, second = (got[f"{key} output, {call} call"] for call in ("first", "second"))
        expect(type(first) is torch.Tensor and type(second) is torch.Tensor
               and first.shape == second.shape == want[f"{key} output, first call"].shape,
               f"{what} must return a tensor of logits (20, 3).")
        expect(first.dtype == dtype, f"{what} returned {first.dtype} logits: McDropout must keep "
                                     "its input's dtype.")
        expect(not torch.equal(first, second),
               f"{what} gave the same output twice: McDropout must sample whatever its mode, also "
               "when a parent model is switched to .eval() (which calls train(False) on every "
               "submodule, never their own eval()).")
    out = got[f"{MC_BF16_WHAT} output"]
    expect(type(out) is torch.Tensor and out.shape == x[:MC_BF16_ROWS].shape,
           f"{MC_BF16_WHAT} must return a tensor shaped like its input.")
    expect(out.dtype == torch.bfloat16,
           f"{MC_BF16_WHAT} returned {out.dtype}: keep the input's dtype (a bool mask times the "
           "input keeps it; a float32 mask makes it float32).")
    fraction = (out == 0).double().mean().item()
    expect(abs(fraction - 0.5) < 0.015,
           f"{MC_BF16_WHAT} zeroed {fraction:.1%} of the entries, expected about 50%.")
    out = got["McDropout(0.0) output"]
    expect(type(out) is torch.Tensor and out.shape == x.shape and torch.equal(out, x),
           "McDropout(0.0) must return its input unchanged.")


# --- MC dropout predictions ------------------------------------------------------------------

def _mc_result(got, what: str, shape: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    result = got[what]
    expect(got[f"{what} is a tuple"] is True and type(result) is list and len(result) == 2,
           f"{what} must return a tuple (mean, std), got {_kind(result)}.")
    mean, std = result
    expect(type(mean) is torch.Tensor and type(std) is torch.Tensor,
           f"{what}: mean and std must be tensors.")
    expect(mean.shape == shape and std.shape == shape,
           f"mean and std must have shape (n_images, n_classes) = {shape}, got "
           f"{tuple(mean.shape)} and {tuple(std.shape)}.")
    return mean, std


def _modes(got, what: str) -> list[bool]:
    state = got[f"{what} model after"]
    expect(type(state) is dict and type(state.get("training")) is dict,
           f"{what}: the model is no longer an nn.Module.")
    return list(state["training"].values())


def _rows(got, what: str) -> int:
    rows = got[f"{what} rows"]
    expect(type(rows) is list and all(type(r) is int for r in rows),
           f"{what}: the model was called on something other than a batch.")
    return sum(rows)


def test_mc_predict(got, want):
    # 1. Batch norm in eval mode, no dropout noise (p = 0): exact.
    mean, std = _mc_result(got, BN_WHAT, (32, 4))
    before, after = want[f"{BN_WHAT} batch norm before"], got[f"{BN_WHAT} batch norm after"]
    for key, value in before.items():
        mine = after.get(key) if type(after) is dict else None
        if type(mine) is not torch.Tensor or not torch.equal(mine, value):
            fail(f"mc_predict changed the batch-norm layer's {key}: batch norm ran in training "
                 "mode. Put the model in eval mode, then switch only the dropout layers to "
                 "training mode.")
    expect_close(mean, want[BN_WHAT][0], rtol=1e-4, atol=1e-5,
                 what="mean probabilities of a model with batch norm and Dropout(p=0)",
                 hint="Batch norm must use its running statistics (eval mode) while sampling, "
                      "and the mean is over softmax probabilities.")
    expect_close(std, torch.zeros_like(std), atol=1e-5, what="std with Dropout(p=0)")
    rows = _rows(got, BN_WHAT)
    expect(7 * 32 <= rows <= 8 * 32,
           f"mc_predict(model, X, n_samples=7) pushed {rows} rows through the model, "
           "expected 7 × 32: one stochastic pass per sample, n_samples of them.")
    expect(all(_modes(got, BN_WHAT)),
           "mc_predict must restore every module's mode: this model was in training mode.")
    grads = got[f"{BN_WHAT} model after"]["grads"]
    expect(got[f"{BN_WHAT} requires grad"] == [False, False] and
           all(grad is None for grad in grads.values()),
           "mc_predict must not track gradients: wrap the sampling in torch.no_grad().")

    # 2. Average the probabilities, not the logits.
    mean, std = _mc_result(got, TWO_POINT_WHAT, (200, 2))
    expect(float(std.max()) > 0, "std is 0 everywhere: the dropout layers must be active while "
                                 "sampling (the model was in eval mode).")
    average = float(mean[:, 0].double().mean())
    if average > 0.95:
        fail("mc_predict averages the logits before the softmax: apply the softmax to each "
             "sample's logits, then average the probabilities (here: ≈ 0.75, not ≈ 1).")
    expect(abs(average - 0.75) < 0.02,
           f"mean probability of class 0 is {average:.3f} on average, expected ≈ 0.75: each "
           "sample gives p = 0.5 (unit dropped) or p ≈ 1 (unit kept, doubled), half the time each.")
    expect_close(mean.sum(dim=1), torch.ones(200), rtol=1e-5, atol=1e-5,
                 what="sum of the mean probabilities of each image")
    spread = float(std[:, 0].double().mean())
    expect(abs(spread - 0.25) < 0.02,
           f"the std of the probability of class 0 is {spread:.3f} on average, expected ≈ 0.25: "
           "the standard deviation over the samples of the softmax probabilities.")
    expect(not any(_modes(got, TWO_POINT_WHAT)),
           "mc_predict must restore every module's mode: this model was in eval mode, and its "
           "dropout layer was left in training mode.")

    # 3. Every kind of dropout layer counts; a model in training mode stays in training mode.
    mean, std = _mc_result(got, SELU_WHAT, (16, 3))
    expect(float(std.max()) > 1e-3, "no spread with nn.AlphaDropout: every dropout layer counts "
                                    "(nn.Dropout, nn.AlphaDropout, ...: their common base class "
                                    "is nn.modules.dropout._DropoutNd).")
    expect(not any(_modes(got, SELU_WHAT)),
           "mc_predict must leave a model that was in eval mode in eval mode.")
    _mc_result(got, TRAINING_WHAT, (16, 3))
    rows = _rows(got, TRAINING_WHAT)
    expect(30 * 16 <= rows <= 31 * 16,
           f"mc_predict(..., n_samples=30) pushed {rows} rows through the model, expected 30 × 16.")
    expect(all(_modes(got, TRAINING_WHAT)),
           "mc_predict must put a model that was in training mode back in training mode "
           "(model.train(was_training)).")
    got[DEFAULT_MC_PREDICT_WHAT]
    rows = _rows(got, DEFAULT_MC_PREDICT_WHAT)
    expect(rows == 100 * 6, f"mc_predict(model, X) pushed {rows} rows through the model, expected "
                            "100 × 6: keep the default n_samples=100, one pass per sample.")

    # 4. A dropout layer nested two levels down (model.children() misses it), in float64.
    mean, std = _mc_result(got, NESTED_MC_PREDICT_WHAT, (16, 3))
    expect(float(std.double().max()) > 1e-3,
           f"{NESTED_MC_PREDICT_WHAT}: std is 0 everywhere, so the nested nn.Dropout stayed off: "
           "switch on every dropout layer found by model.modules() (model.children() sees only "
           "the top level).")
    expect(mean.dtype == std.dtype == torch.float64,
           f"{NESTED_MC_PREDICT_WHAT} returned {mean.dtype} and {std.dtype}: keep the model's "
           "dtype (torch.stack the samples' probabilities rather than filling a float32 tensor).")
    expect(not any(_modes(got, NESTED_MC_PREDICT_WHAT)),
           "mc_predict must leave a model that was in eval mode in eval mode, nested modules "
           "included.")


# --- max-norm --------------------------------------------------------------------------------

def _state_tensor(state: object, key: str, what: str) -> torch.Tensor:
    value = state.get(key) if type(state) is dict else None
    expect(type(value) is torch.Tensor, f"{what}: the model has no {key} any more.")
    return value


def test_apply_max_norm(got, want):
    for max_norm, dim in MAX_NORM_CASES:
        what = max_norm_what(max_norm, dim)
        got[what]
        before, after = want[f"{what} before"], got[f"{what} after"]
        expect(got[f"{what} kept its parameters"] is True,
               f"{what} replaced parameters: rescale the existing weights in place (the "
               "optimizer holds references to them).")
        facts = got[f"{what} weights"]
        expect(type(facts) is list and len(facts) == len(MAX_NORM_LINEARS),
               f"{what}: the model's Linear layers are gone.")
        for index, fact in zip(MAX_NORM_LINEARS, facts, strict=True):
            expect(fact == {"tensor": True, "is_leaf": True, "requires_grad": True, "grad_fn": False},
                   f"{what}: the weight must stay a trainable leaf; change it inside "
                   "torch.no_grad().")
            original = before[f"{index}.weight"]
            expected = torch.renorm(original, p=2, dim=1 - dim, maxnorm=max_norm)
            weight = _state_tensor(after, f"{index}.weight", what)
            if weight.shape != expected.shape or \
                    not torch.allclose(weight, expected, rtol=1e-5, atol=1e-6):
                other = torch.renorm(original, p=2, dim=dim, maxnorm=max_norm)
                if weight.shape == other.shape and torch.allclose(weight, other, rtol=1e-5, atol=1e-6):
                    fail(f"{what} constrained the norms over the wrong dimension: with dim={dim} "
                         f"compute weight.norm(dim={dim}) (with dim=1, one norm per row: the "
                         "weights coming into each unit of an nn.Linear).")
                if weight.shape == original.shape:
                    norms = weight.norm(dim=dim)
                    small = original.norm(dim=dim) <= max_norm
                    if small.any() and not torch.allclose(norms[small], original.norm(dim=dim)[small],
                                                          rtol=1e-5):
                        fail(f"{what} changed rows whose norm was already within max_norm: "
                             "rescale only those whose norm exceeds it.")
                expect_close(weight, expected, rtol=1e-5, atol=1e-6, what=f"{what}: Linear weight",
                             hint="Each row (dim=1) whose norm exceeds max_norm is multiplied "
                                  "by max_norm / norm; the others are unchanged "
                                  "(torch.renorm gives the same result).")
        for key in ("0.bias", "2.bias", "3.weight", "3.bias", "5.weight", "5.bias"):
            value = _state_tensor(after, key, what)
            expect(value.shape == before[key].shape and torch.equal(value, before[key]),
                   f"{what} changed {key}: only nn.Linear weights are constrained (no biases, "
                   "no normalization or convolution layers).")
    _check_nested_max_norm(got, want)
    _check_default_max_norm(got, want)


def _check_default_max_norm(got, want) -> None:
    """The defaults, max_norm=2.0 and dim=1; a row far below eps keeps its signs and stays finite."""
    what = DEFAULT_MAX_NORM_WHAT
    got[what]
    before, after = want[f"{what} before"], got[f"{what} after"]
    for index in MAX_NORM_LINEARS:
        original = before[f"{index}.weight"]
        weight = _state_tensor(after, f"{index}.weight", what)
        expect(weight.shape == original.shape and bool(torch.isfinite(weight).all())
               and torch.equal(torch.sign(weight), torch.sign(original)),
               f"{what}: a row of norm about 1e-9, below eps, came out non-finite or with its signs "
               "flipped: divide by (norm + eps).")
        expect_close(weight, torch.renorm(original, p=2, dim=0, maxnorm=2.0), rtol=1e-5, atol=1e-6,
                     what=f"{what}: Linear weight {index}",
                     hint="Keep the signature's defaults, max_norm=2.0 and dim=1.")


def _check_nested_max_norm(got, want) -> None:
    """Linear layers two and three levels down, bias-free ones, and a weight with a row of zeros."""
    what = NESTED_MAX_NORM_WHAT
    got[what]
    before, after = want[f"{what} before"]["parameters"], _model_after(got, what)["parameters"]
    weights = {f"{name}.weight": name for name, module in _structure(Nested).named_modules()
               if isinstance(module, nn.Linear)}
    for key, layer in weights.items():
        original, weight = before[key], _state_tensor(after, key, what)
        expected = torch.renorm(original, p=2, dim=0, maxnorm=NESTED_MAX_NORM)
        if weight.shape == expected.shape and torch.allclose(weight, expected, rtol=1e-5, atol=1e-6):
            continue
        if weight.shape == original.shape and bool(weight.isnan().any()):
            fail(f"{what} turned the row of zeros in {key} into NaN (0 / 0): divide by the norm "
                 "plus eps, or rescale only the rows whose norm exceeds max_norm.")
        if "." in layer and weight.shape == original.shape and torch.equal(weight, original):
            fail(f"{what} left {key} unchanged, an nn.Linear nested inside "
                 f"{layer.rsplit('.', 1)[0]!r}: walk model.modules(), which yields nested layers "
                 "too, not model.children().")
        expect_close(weight, expected, rtol=1e-5, atol=1e-6, what=f"{what}: {key}",
                     hint="Each row whose norm exceeds max_norm is multiplied by max_norm / norm; "
                          "the others, rows of zeros included, are unchanged.")
    for key, value in before.items():
        if key not in weights:
            mine = _state_tensor(after, key, what)
            expect(mine.shape == value.shape and torch.equal(mine, value),
                   f"{what} changed {key}: only nn.Linear weights are constrained (no biases, "
                   "no normalization or convolution layers).")
    _expect_untouched(got, want, what, ("grads", "requires_grad", "training"))


# --- early stopping --------------------------------------------------------------------------

RULES = (
    "step returns True once `patience` epochs in a row brought no improvement; an improvement "
    "resets the count.",
    "A metric equal to the best is not an improvement.",
    "With mode='min', an improvement means metric < best - min_delta (0.95 is not one after 1.0; "
    "0.85 is, and becomes the best).",
    "With mode='max' higher is better: an improvement means metric > best + min_delta.",
    "With mode='max', an improvement means metric > best + min_delta: equal metrics are no "
    "improvement, and after 0.5 the next improvement must exceed 0.75 (0.625 is not one).",
)


def _validation_loss(state: dict, X: torch.Tensor, y: torch.Tensor) -> float:
    """The cross-entropy of nn.Sequential(Linear, ReLU, Linear) with weights `state` on (X, y)."""
    weights = [_state_tensor(state, key, "after labs.fit")
               for key in ("0.weight", "0.bias", "2.weight", "2.bias")]
    expect([tuple(w.shape) for w in weights] == [(32, 5), (32,), (2, 32), (2,)],
           "after labs.fit with your EarlyStopping the model's weights changed shape.")
    hidden = F.relu(F.linear(X.double(), weights[0].double(), weights[1].double()))
    logits = F.linear(hidden, weights[2].double(), weights[3].double())
    return F.cross_entropy(logits, y).item()


def test_early_stopping(got, want):
    expect(got["is a class"] is True, "EarlyStopping must be a class.")
    for (args, kwargs, metrics), rule in zip(DECISION_CASES, RULES, strict=True):
        shown = f"EarlyStopping({call_text(args, kwargs)})"
        keys = [f"{shown} step {index}" for index in range(len(metrics))]
        decisions = [got[key] for key in keys]
        expected = [want[key] for key in keys]
        if decisions != expected:
            fail(f"{shown} on the metrics {list(metrics)}: step returned {decisions}, "
                 f"expected {expected}. {rule}")
    raised = got[BAD_MODE]
    expect(type(raised) is list and "ValueError" in raised,
           "EarlyStopping(3, mode='median') should raise a ValueError: mode is 'min' or 'max'.")

    got[RESTORE_FIRST_WHAT]
    before, after = want["before restore without a step"], got["after restore without a step"]
    expect(type(after) is dict and after.keys() == before.keys()
           and all(torch.equal(after[key], value) for key, value in before.items()),
           "restore(model) before any step changed the model: with nothing saved yet (best_state "
           "is None), restore must leave the model as it is.")

    got["restore(model)"]
    restored, last, best = got["restored state"], want["epoch 4 state"], want["epoch 2 state"]
    expect(type(restored) is dict and all(type(restored.get(key)) is torch.Tensor for key in best),
           "after restore(model) the model lost some of its parameters or buffers.")
    if all(torch.equal(restored[key], value) for key, value in last.items()):
        fail("restore(model) gave back the last weights, not the best: step must save a deep "
             "copy (copy.deepcopy(model.state_dict())). state_dict() holds references to the "
             "live tensors, which training keeps changing in place.")
    for key, value in best.items():
        if not torch.equal(restored[key], value):
            what = "a batch-norm buffer" if "running" in key or "batches" in key else "a parameter"
            fail(f"after restore(model), {key} ({what}) differs from its value at the best "
                 "epoch (epoch 2, metric 0.5): save and load the whole state_dict, buffers "
                 "included.")

    got["fit"]
    losses = got["valid losses"]
    expect(type(losses) is list and losses and all(type(v) is float for v in losses),
           "labs.fit with your EarlyStopping ran no epoch.")
    best_epoch = losses.index(min(losses))
    expect(len(losses) == best_epoch + 3,
           f"labs.fit stopped after epoch {len(losses)}, but the best validation loss was at "
           f"epoch {best_epoch + 1}: with patience 2 it should stop at epoch {best_epoch + 3}.")
    X_valid, y_valid = want["valid data"]
    final_loss = _validation_loss(got["net after fit"], X_valid, y_valid)
    expect(math.isclose(final_loss, min(losses), rel_tol=0, abs_tol=1e-4 * max(1.0, abs(min(losses)))),
           f"after labs.fit with your EarlyStopping the model's validation loss is {final_loss:.4f}, "
           f"but the best epoch had {min(losses):.4f}: restore(model) must load the best weights.")


# --- the epoch early stopping restores ---------------------------------------------------------

# Why each of the probe's HISTORIES restores the epoch it does.
HISTORY_RULES = (
    "A history of one epoch: its only epoch is the best, epoch 1 (epochs count from 1).",
    "Training stops after epoch 5 (epochs 3, 4 and 5 bring no improvement, patience 3), so epoch "
    "6's better 0.5 is never seen: early stopping restores epoch 2, the best up to the stop.",
    "With min_delta=0.1 an improvement must beat the best by more than 0.1: 0.95 and 0.92 do not "
    "beat 1.0, 0.85 does (epoch 4), 0.84 and 0.83 do not beat 0.85; training stops after epoch 7 "
    "and restores epoch 4.",
    "A metric equal to the best is no improvement: the 0.6 of epochs 3 and 5 ties epoch 2's, so "
    "epoch 2 stays the best; training stops after epoch 6.",
    "With mode='max' higher is better, and a tie is no improvement: 0.62 (epoch 2) stays the best "
    "(epoch 3 ties it, epoch 4 is lower) until training stops after epoch 4 (patience 2); epoch "
    "5's 0.7 is never seen.",
    "With mode='max' and min_delta=0.05 an improvement must exceed best + 0.05: 0.54 does not "
    "(0.55), 0.58 does (epoch 3), 0.6 does not (0.63); training stops after epoch 5 and restores "
    "epoch 3.",
    "Each epoch without improvement is followed by an improvement, so with patience 2 training "
    "never stops: the best of all 7 epochs is epoch 6.",
    "With patience 1 training stops after the first epoch without improvement, epoch 3: epoch 4's "
    "0.2 is never seen, and epoch 2 is restored.",
    "A NaN metric is no improvement (every comparison with NaN is False, as in EarlyStopping.step) "
    "and counts as an epoch without improvement: epochs 3 (0.7), 4 (NaN) and 5 (0.65) stop "
    "training with patience 3, so epoch 2 is restored.",
    "Two NaN epochs in a row are two epochs without improvement: with patience 2 training stops "
    "after epoch 4 and restores epoch 2 (0.7).",
    "Epoch 3 (0.4 - 1e-9) improves on 0.4 by less than float32 can see: compare the Python floats "
    "(float64) as given; training then stops after epoch 5 and restores epoch 3.",
)


def test_restored_epoch(got, want):
    for (metrics, patience, options), rule in zip(HISTORIES, HISTORY_RULES, strict=True):
        what = history_what(metrics, patience, options)
        epoch, expected = got[what], want[what]
        expect(type(epoch) is int, f"{what} returned {_kind(epoch)}: return the epoch as an int.")
        expect(epoch == expected, f"{what} returned {epoch}, expected {expected}. {rule}")
        expect(got[f"{what}{UNTOUCHED}"] is True,
               f"{what} changed the list it was given: only read the history.")
    for what, reason in ((EMPTY_WHAT, "an empty history has no epoch to restore"),
                         (BAD_MODE_WHAT, "mode is 'min' or 'max'")):
        raised = got[what]
        expect(type(raised) is list and "ValueError" in raised,
               f"{what} should raise a ValueError: {reason}.")


# --- concept questions -----------------------------------------------------------------------

test_q1_dropout_inference = choice_question("Q1")
test_q2_sparse_model = choice_question("Q2")
test_q3_dropout_scale = number_question("Q3")
test_q4_sgd_weight_decay = number_question("Q4")
test_q5_adamw = choice_question("Q5")
