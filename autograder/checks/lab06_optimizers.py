"""Checks of lab 06, Faster optimizers: one per grade cell, named after it, reading the records of
the probes in autograder/probes/lab06_optimizers.py (the student's as `got`, the reference's as
`want`).

Each optimizer's parameters, recorded after every step of each float64 training run, must stay
within 1e-6 (relative) of the reference's, which follows the `torch.optim` optimizer of the same
name step for step: on a single weight matrix (the update rule), on three parameters of the same
shape (state kept per parameter), on a model with two parameter groups and a parameter without
gradient, with the learning rate changed halfway (as a scheduler does), across a state_dict save
and load, and through `step(closure)`. Before that: the class must subclass
`torch.optim.Optimizer` directly, declare PyTorch's defaults and put them in its parameter
groups, and raise ValueError on invalid arguments. `prune_smallest` must zero exactly the
weights that `torch.nn.utils.prune.global_unstructured` (the reference) zeroes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from autograder.checks.core import (
    choice_question,
    expect,
    expect_close,
    fail,
    number_question,
)
from autograder.probes.lab06_optimizers import INPUTS, PRUNE_AMOUNTS, Inputs, Run, shown

TOLERANCE = 1e-6


@dataclass(frozen=True)
class Spec:
    """What one exercise's optimizer must be: PyTorch's defaults, and what to check if it fails."""

    defaults: dict
    hints: tuple[str, ...]  # one per configuration of the probe's inputs
    invalid: tuple[str, ...]  # why each of the probe's invalid arguments is invalid
    lr_hint: str = ""


_STATE_HINT = ("Each parameter needs its own state: keep it in self.state[p] (a dict per parameter, "
               "created on its first step). State shared by several parameters mixes their updates.")
_GROUP_HINT = ("Loop over self.param_groups and read every hyperparameter from the group "
               "(group['lr'], ...), not from attributes saved in __init__; skip a parameter whose "
               ".grad is None.")
_SCHEDULE_HINT = ("A scheduler changes group['lr'] between steps: read group['lr'] at every step "
                  "and keep it out of the state.")
_STATE_DICT_HINT = ("Keep all state in self.state[p], not in attributes of self: then "
                    "optimizer.state_dict() saves it and load_state_dict() restores it, and a "
                    "training run can resume from a checkpoint.")
_CLOSURE_HINT = ("step(closure) must call closure() inside torch.enable_grad() before the update "
                 "(it recomputes the loss and the gradients) and return its loss.")

_LR = "a negative learning rate"
_EPS = "a negative eps"
_BETAS = ("beta1 must be in [0, 1)", "beta2 must be in [0, 1)")

_ADAM_RULE = ("m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ) with t this "
              "parameter's step count starting at 1, then θ ← θ − η·m̂/(√v̂ + ε).")

SPECS = {
    "MomentumSGD": Spec(
        {"momentum": 0.9, "nesterov": False, "weight_decay": 0.0},
        ("PyTorch's form: m ← β·m + g, then θ ← θ − η·m (the learning rate multiplies the "
         "velocity; it is not inside it).",
         "With nesterov=True, PyTorch steps along g + β·m (the gradient plus β times the "
         "updated velocity), not along m.",
         "weight_decay λ adds λ·θ to the gradient before the momentum update (ℓ2).",
         "Nesterov with weight decay: g ← g + λθ; m ← βm + g; θ ← θ − η(g + βm)."),
        (_LR, "a negative momentum", "a negative weight_decay", "Nesterov momentum needs momentum > 0"),
        lr_hint="In particular, do not fold η into the velocity (the book's m ← βm − η∇J): "
                "PyTorch keeps m ← βm + g and multiplies by the current η when it steps."),
    "AdaGrad": Spec(
        {"lr": 0.01, "eps": 1e-10},
        ("s ← s + g ⊙ g (the squared gradients, element by element), then θ ← θ − η·g/(√s + ε).",
         "ε is added after the square root: √s + ε, not √(s + ε)."),
        (_LR, _EPS)),
    "RMSProp": Spec(
        {"lr": 0.01, "alpha": 0.99, "eps": 1e-8},
        ("s ← α·s + (1 − α)·g ⊙ g (α, close to 1, weighs the old average), then θ ← θ − η·g/(√s + ε).",
         "Use the group's alpha and add ε after the square root: √s + ε."),
        (_LR, _EPS, "alpha must be in [0, 1)")),
    "Adam": Spec(
        {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8},
        (_ADAM_RULE + " Without the bias correction the first steps are far too large.",
         "ε is added after the square root and after the bias correction: √v̂ + ε, not √(v̂ + ε). "
         "It matters when gradients are tiny, as here.",
         "Read β₁ and β₂ from group['betas']. " + _ADAM_RULE),
        (_LR, _EPS, *_BETAS)),
    "AdaMax": Spec(
        {"lr": 2e-3, "betas": (0.9, 0.999), "eps": 1e-8},
        ("m ← β₁m + (1−β₁)g; u ← max(β₂·u, |g| + ε); θ ← θ − η/(1−β₁ᵗ)·m/u. "
         "Only m is bias-corrected, u is not.",
         "PyTorch adds ε inside the max, u ← max(β₂·u, |g| + ε), and divides m by u itself. "
         "It matters when gradients are tiny, as here."),
        (_LR, _EPS, *_BETAS)),
    "NAdam": Spec(
        {"lr": 2e-3, "betas": (0.9, 0.999), "eps": 1e-8, "momentum_decay": 4e-3},
        ("μₜ = β₁(1 − ½·0.96^(t·ψ)) with ψ = momentum_decay; keep the product μ₁⋯μₜ per "
         "parameter; θ ← θ − η(1−μₜ)/(1−μ₁⋯μₜ)·g/(√v̂+ε) − η·μₜ₊₁/(1−μ₁⋯μₜ₊₁)·m/(√v̂+ε), "
         "with v̂ = v/(1−β₂ᵗ) and m not bias-corrected.",
         "Read β₁, β₂ and momentum_decay from the group; the μ schedule uses ψ = momentum_decay."),
        (_LR, _EPS, *_BETAS, "a negative momentum_decay")),
    "AdamW": Spec(
        {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2},
        ("Decoupled weight decay: θ ← θ·(1 − ηλ) first, then the plain Adam step with the raw "
         "gradient. Adding λθ to the gradient (Adam + ℓ2) is a different algorithm.",
         "With the defaults (weight_decay=1e-2): θ ← θ·(1 − ηλ), then " + _ADAM_RULE),
        (_LR, _EPS, *_BETAS, "a negative weight_decay")),
}


def _read(got, key: str, hint: str = ""):
    """`got[key]`; when the student's code crashed before it, the crash's message and `hint`."""
    stopped = got.stopped
    if key not in got and hint and type(stopped) is dict and " raised " in str(stopped.get("message")):
        fail(f"{stopped['message']}. {hint}")
    return got[key]


def _same(a: object, b: object) -> bool:
    if isinstance(b, tuple):
        return isinstance(a, tuple | list) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(b, bool):
        return a is b or a == b
    return isinstance(a, int | float) and abs(float(a) - float(b)) <= 1e-12 * max(1.0, abs(float(b)))


def _check_class(name: str, facts: dict) -> None:
    kind = facts.get("type") if type(facts) is dict else "?"
    expect(type(facts) is dict and facts.get("is_class") is True,
           f"{name} should be a class: run its cell (got {kind}).")
    expect(facts["optimizer_subclass"] is True, f"{name} must subclass torch.optim.Optimizer.")
    for module, qualname, is_optimizer in facts["bases"]:
        if is_optimizer is True or (module, qualname) == ("builtins", "object"):
            continue
        if module.startswith("torch"):
            fail(f"{name} must not subclass {module}.{qualname}: subclass torch.optim.Optimizer and "
                 "write the update yourself.")
        fail(f"{name} must subclass torch.optim.Optimizer directly, not {qualname}: each "
             "optimizer stands on its own, so that each exercise is graded on its own.")


def _check_delegates(name: str, delegates: object) -> None:
    expect(type(delegates) is list, f"{name}: the hidden tests could not read its attributes.")
    if delegates:
        fail(f"{name} keeps a PyTorch optimizer in self.{delegates[0]}: write the update yourself "
             "instead of delegating to torch.optim.")


def _check_defaults(name: str, inputs: Inputs, spec: Spec, got) -> None:
    signature = got["signature"]
    expect(type(signature) is dict, f"{name}.__init__: its signature could not be read; define "
                                    "__init__(self, params, ...) with PyTorch's hyperparameter names.")
    for key, value in spec.defaults.items():
        expect(key in signature["names"],
               f"{name}.__init__ has no argument {key!r}: use PyTorch's hyperparameter names.")
        expect(key in signature["defaults"],
               f"{name}: the argument {key} should have the default {value!r}, as in "
               f"torch.optim.{inputs.torch_name}; it has none.")
        default = signature["defaults"][key]
        expect(_same(default, value), f"{name}: the default of {key} should be {value!r}, as in "
                                      f"torch.optim.{inputs.torch_name}, not {default!r}.")
    got["defaults construct"]
    _check_delegates(name, got["defaults delegates"])
    group = got["defaults group"]
    expect(type(group) is dict, f"{name}: param_groups[0] should be a dict.")
    for key, value in {**spec.defaults, **inputs.required}.items():
        expect(key in group, f"{name}: param_groups[0] has no {key!r}: pass every hyperparameter "
                             "to torch.optim.Optimizer.__init__ in the `defaults` dict.")
        expect(_same(group[key], value),
               f"{name}: param_groups[0][{key!r}] is {group[key]!r}, expected {value!r}.")


def _check_validation(name: str, inputs: Inputs, spec: Spec, got) -> None:
    for index, (kwargs, what) in enumerate(zip(inputs.invalid, spec.invalid, strict=True)):
        arguments = shown({**inputs.required, **kwargs})
        result = got[f"invalid {index}"]
        raised = result["raised"]
        if type(raised) is list and "ValueError" in raised:
            continue
        if raised:
            fail(f"{name}(params, {arguments}) should raise ValueError ({what}), "
                 f"not {raised[0]}: {result['message']}")
        fail(f"{name}(params, {arguments}) should raise ValueError: {what}.")


_WHAT = {"single": "a single weight matrix", "twins": "three parameters of the same shape",
         "groups": "a model with two parameter groups and a parameter without gradient"}


def _hint(spec: Spec, run: Run) -> str:
    if run.key.startswith("config "):
        return spec.hints[run.config]
    return {"twins": _STATE_HINT, "groups": _GROUP_HINT,
            "schedule": f"{_SCHEDULE_HINT} {spec.lr_hint}".strip(),
            "resume": _STATE_DICT_HINT, "closure": _CLOSURE_HINT}[run.key]


def _as_float(value: object) -> float:
    if type(value) is torch.Tensor and value.numel() == 1:
        return float(value.double().item())
    if type(value) in (int, float, bool):
        return float(value)
    return math.nan


def _compare(name: str, inputs: Inputs, spec: Spec, run: Run, got, want) -> None:
    """The student's parameters after each step of `run` against the reference's."""
    hint = _hint(spec, run)
    got[f"{run.key} construct"]
    _check_delegates(name, _read(got, f"{run.key} delegates", hint))
    mine, theirs = _read(got, f"{run.key} parameters", hint), want[f"{run.key} parameters"]
    names = want[f"{run.key} names"]
    arguments = shown(inputs.arguments(run.config)) or "defaults"
    extra = (f" with the learning rate scaled by 0.3 after step {run.steps // 2}" if run.schedule else
             f", saved and reloaded through state_dict after step {run.resume_at}"
             if run.resume_at is not None else " with step(closure)" if run.closure else "")
    label = f"{name}({arguments}) on {_WHAT[run.kind]}{extra}"
    expect(type(mine) is list and len(mine) == len(theirs),
           f"{label}: the hidden tests could not read the parameters after each step.")
    for step, (after, expected) in enumerate(zip(mine, theirs, strict=True), start=1):
        expect(type(after) is list and len(after) == len(expected),
               f"{label}: the hidden tests could not read the parameters after step {step}.")
        for parameter, a, b in zip(names, after, expected, strict=True):
            expect(type(a) is torch.Tensor and a.shape == b.shape,
                   f"{label}: after step {step}, parameter {parameter!r} is no longer a tensor of shape "
                   f"{tuple(b.shape)}: update each parameter in place (p.add_, p.addcdiv_, ...).")
            gap = (a.double() - b.double()).abs().max().item()
            if not gap <= TOLERANCE * (1 + b.double().abs().max().item()):
                fail(f"{label}: after step {step} of {len(theirs)}, parameter {parameter!r} differs "
                     f"from torch.optim.{inputs.torch_name}'s by {gap:.3g} (tolerance {TOLERANCE:g}). "
                     f"{hint}")
    if run.closure:
        for step in range(1, run.steps + 1):
            returned, loss = got[f"{run.key} step {step}"], _as_float(want[f"{run.key} step {step}"])
            value = _as_float(returned)
            given = (None if returned is None else returned.get("type") if type(returned) is dict
                     else value)
            expect(abs(value - loss) <= 1e-6 * (1 + abs(loss)) or (math.isnan(value) and math.isnan(loss)),
                   f"{name}.step(closure) at step {step} returned {given!r}, not the closure's loss "
                   f"{loss:.6g}. {_CLOSURE_HINT}")


def _check_optimizer(name: str, got, want) -> None:
    inputs, spec = INPUTS[name], SPECS[name]
    _check_class(name, got["class"])
    _check_defaults(name, inputs, spec, got)
    _check_validation(name, inputs, spec, got)
    for run in inputs.runs:
        _compare(name, inputs, spec, run, got, want)


def test_momentum_sgd(got, want):
    _check_optimizer("MomentumSGD", got, want)


def test_adagrad(got, want):
    _check_optimizer("AdaGrad", got, want)


def test_rmsprop(got, want):
    _check_optimizer("RMSProp", got, want)


def test_adam(got, want):
    _check_optimizer("Adam", got, want)


def test_adamax(got, want):
    _check_optimizer("AdaMax", got, want)


def test_nadam(got, want):
    _check_optimizer("NAdam", got, want)


def test_adamw(got, want):
    _check_optimizer("AdamW", got, want)


# --- Pruning -----------------------------------------------------------------------------------

def _entry(after: dict, name: str) -> object:
    """The model's `name` after pruning: from its state_dict, else from its parameters."""
    found = after["state"].get(name)
    return after["parameters"].get(name) if found is None else found


def test_prune_smallest(got, want):
    for amount in PRUNE_AMOUNTS:
        where = f"prune_smallest(model, {amount})"
        sparsity = got[where]
        after, expected = got[f"{where} after"], want[f"{where} after"]
        mine = after["linear weights"]
        expected_zeros = [weight == 0 for weight in expected["linear weights"]]
        expected_sparsity = (sum(int(zeros.sum()) for zeros in expected_zeros)
                             / sum(zeros.numel() for zeros in expected_zeros))
        layer_sparsity = [f"{(weight == 0).double().mean().item():.0%}" for weight in mine]
        wanted_sparsity = [f"{zeros.double().mean().item():.0%}" for zeros in expected_zeros]
        for index, (weight, zeros) in enumerate(zip(mine, expected_zeros), start=1):
            if not (type(weight) is torch.Tensor and torch.equal(weight == 0, zeros)):
                fail(f"{where}: Linear layer {index} of {len(mine)} has the wrong weights pruned "
                     f"(zeros per layer: {', '.join(layer_sparsity)}; global magnitude pruning gives "
                     f"{', '.join(wanted_sparsity)}). Rank the weights of all nn.Linear layers "
                     "together and remove the smallest |w| overall "
                     "(prune.global_unstructured with prune.L1Unstructured), not layer by layer.")
        linear_weights = set(want[f"{where} linear weight names"])
        for name in want[f"{where} before"]:
            if name in linear_weights:
                continue
            current, kept = (_entry(record, name) for record in (after, expected))
            if type(current) is not torch.Tensor or not torch.equal(current, kept):
                fail(f"{where} changed {name!r}: prune only the weights of nn.Linear layers "
                     "(not biases, not LayerNorm).")
        expect_close(sparsity, expected_sparsity, what=f"{where}: the sparsity it returns", rtol=1e-6,
                     hint="Return the fraction of zeros among the nn.Linear weights only "
                          "(biases and other layers not counted).")


# --- Concept questions -------------------------------------------------------------------------

test_q1_momentum_near_one = choice_question("Q1")
test_q2_terminal_velocity = number_question("Q2")
test_q3_adam_first_step = number_question("Q3")
test_q4_adagrad_stops = choice_question("Q4")
test_q5_decoupled_decay = choice_question("Q5")
test_q6_momentum_two_steps = number_question("Q6")
