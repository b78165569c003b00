"""Checks of lab 06, Faster optimizers: one per grade cell, named after it, reading the records of
the probes in autograder/probes/lab06_optimizers.py (the student's as `got`, the reference's as
`want`).

Each optimizer's parameters, recorded after every step of each float64 training run, must stay
within 1e-6 (relative) of the reference's, which follows the `torch.optim` optimizer of the same
name step for step: on a single weight matrix (the update rule), on three parameters of the same
shape (state kept per parameter), on a model with two parameter groups and a parameter without
gradient, with the learning rate changed halfway (as a scheduler does), across a state_dict save and
load, and through `step(closure)`. Before that: the class must subclass `torch.optim.Optimizer`
directly, declare PyTorch's defaults and put them in its parameter groups, raise ValueError on
invalid arguments and accept the valid ones at the edge of their range (a learning rate, eps,
momentum or decay of 0, a beta or alpha of 0). After those runs, the contracts: parameters without a
gradient (frozen, unused, or every one before the first backward()) stay as they are; step() leaves
each p.grad as the caller's backward() left it (weight decay is not written into p.grad); every
hyperparameter, set per parameter group and changed before every step, is followed as the reference
follows it (an optimizer that reads it from self or self.defaults fails, with a message that says to
read it from each group at every step); the state of a float64 parameter is float64, and the state
of a parameter on another device (meta) is built there. `adam_first_step` must return, in the
gradient's shape and dtype and leaving the gradient as it was, the change of one step of
torch.optim.Adam from the zero state (run here in float64) or, without the bias correction, the
closed form −lr·(1 − β₁)g/(√(1 − β₂)·|g| + eps), within 1e-10 relative (1e-5 for a float32
gradient), and keep torch.optim.Adam's defaults. `prune_smallest` must zero exactly the
weights that `torch.nn.utils.prune.global_unstructured` (the reference) zeroes, the fractions 0
(nothing pruned) and 1 (everything) included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from autograder.checks.core import (
    choice_question,
    expect,
    expect_close,
    expect_tensor,
    fail,
    number_question,
)
from autograder.probes.lab06_optimizers import (
    FIRST_STEP_SETTINGS,
    FROZEN_STEPS,
    INPUTS,
    NO_GRAD,
    PRUNE_AMOUNTS,
    Inputs,
    Run,
    first_step_cases,
    first_step_grads,
    shown,
)

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
_BETAS = ("beta1 must be in [0, 1)", "beta2 must be in [0, 1)", "beta2 must be in [0, 1), which excludes 1")

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
        (_LR, _EPS, "alpha must be in [0, 1)", "alpha must be in [0, 1), which excludes 1")),
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
    for index, kwargs in enumerate(inputs.valid):
        arguments = shown({**inputs.required, **kwargs})
        result = got[f"valid {index}"]
        raised = result["raised"]
        if raised:
            key = list(kwargs)[-1]  # the argument at its edge (MomentumSGD's lr comes first)
            error = raised[0] if type(raised) is list else "an exception"
            fail(f"{name}(params, {arguments}) raised {error} ({result['message']}), but "
                 f"{_ALLOWED[key]}: reject only a negative value (a beta or alpha outside [0, 1)), "
                 f"as torch.optim.{inputs.torch_name} does.")


# Why each edge value of the probe's valid arguments is allowed.
_ALLOWED = {"lr": "a learning rate of 0 is not negative (it freezes the parameters)",
            "eps": "eps = 0 is not negative",
            "momentum": "momentum = 0 (plain SGD) is not negative",
            "weight_decay": "weight_decay = 0 (no decay) is not negative",
            "momentum_decay": "momentum_decay = 0 (a constant momentum) is not negative",
            "alpha": "alpha = 0 is in [0, 1)",
            "betas": "a beta of 0 is in [0, 1)"}


_WHAT = {"single": "a single weight matrix", "twins": "three parameters of the same shape",
         "groups": "a model with two parameter groups and a parameter without gradient",
         "pair": "a model with two parameter groups"}


def _vary_failure(name: str, inputs: Inputs, run: Run, step: int, gap: float) -> str:
    key = run.vary
    return (f"{name} does not follow group[{key!r}] as torch.optim.{inputs.torch_name} does (with "
            f"{key} different in each parameter group and changed before every step, as a "
            f"scheduler such as OneCycleLR cycles momentum and betas, its parameters after step "
            f"{step} differ by {gap:.3g}): read {key} from each param group at every step "
            f"(group[{key!r}] inside the loop over self.param_groups), not from self, self.defaults "
            "or a value saved in the state.")


def _hint(spec: Spec, run: Run) -> str:
    if run.vary is not None:
        return (f"The hidden tests had set group[{run.vary!r}] to a different value in each "
                "parameter group and changed it before every step, as a scheduler does.")
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
    arguments = shown(inputs.run_arguments(run)) or "defaults"
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
                if run.vary is not None:
                    fail(_vary_failure(name, inputs, run, step, gap))
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


# --- Contracts -----------------------------------------------------------------------------------

_NO_GRAD_HINT = ("skip every parameter whose .grad is None (`if p.grad is None: continue`, before "
                 "any weight decay, momentum or state), as torch.optim does")


def _close(a: object, b: torch.Tensor) -> tuple[bool, float]:
    """Whether tensor `a` is within the tolerance of `b`, and by how much they differ."""
    if type(a) is not torch.Tensor or a.shape != b.shape:
        return False, math.inf
    gap = (a.double() - b.double()).abs().max().item() if b.numel() else 0.0
    return gap <= TOLERANCE * (1 + b.double().abs().max().item()), gap


def _check_no_grad(name: str, inputs: Inputs, got, want) -> None:
    """Parameters without a gradient (at a step) stay exactly where the reference leaves them."""
    hint = ("The hidden tests had called step() before any backward(), and on a model with "
            f"parameters whose .grad is None: {_NO_GRAD_HINT}.")
    mine, theirs = _read(got, "frozen parameters", hint), want["frozen parameters"]
    names = want["frozen names"]
    expect(type(mine) is list and len(mine) == len(theirs),
           f"{name}: the hidden tests could not read the parameters of the model with frozen parameters.")
    for step, (after, expected) in enumerate(zip(mine, theirs, strict=True)):
        expect(type(after) is list and len(after) == len(expected),
               f"{name}: the hidden tests could not read the parameters after step {step}.")
        without = set(names) if step == 0 else {
            parameter for parameter, grad in want[f"frozen grads before {step}"].items() if grad is None}
        for parameter, a, b in zip(names, after, expected, strict=True):
            if parameter not in without or _close(a, b)[0]:
                continue
            if step == 0:
                fail(f"{name}.step() called before any backward() changed parameter {parameter!r} "
                     f"though no parameter had a gradient: {_NO_GRAD_HINT}.")
            fail(f"{name}.step() changed parameter {parameter!r} at step {step} though it has no "
                 f"gradient (it is {NO_GRAD.get(parameter, 'without .grad')}): {_NO_GRAD_HINT}.")


def _check_grads_untouched(name: str, inputs: Inputs, spec: Spec, got, want) -> None:
    """step() leaves every p.grad as backward() left it (the reference's, after its step)."""
    decay = (" (weight decay goes into a new tensor, g = p.grad.add(p, alpha=weight_decay), "
             "not into p.grad.add_(...))" if "weight_decay" in spec.defaults else "")
    advice = (f"leave the caller's .grad as it was and compute the update in new tensors{decay}, "
              f"as torch.optim.{inputs.torch_name} does.")
    for step in range(1, FROZEN_STEPS + 1):
        before, after = got[f"frozen grads before {step}"], got[f"frozen grads after {step}"]
        expected = want[f"frozen grads after {step}"]
        expect(type(before) is dict and type(after) is dict,
               f"{name}: the hidden tests could not read the gradients at step {step}.")
        for parameter, wanted in expected.items():
            if wanted is None:
                continue
            was, now = before.get(parameter), after.get(parameter)
            if now is None:
                fail(f"{name}.step() set p.grad of parameter {parameter!r} to None (at step {step}): "
                     "leave the caller's .grad as backward() left it (clearing it is zero_grad()'s "
                     f"job, called by the caller), as torch.optim.{inputs.torch_name} does.")
            same, gap = _close(now, was) if type(was) is torch.Tensor else (False, math.inf)
            if not (same and type(was) is torch.Tensor and torch.equal(now, was)):
                fail(f"{name}.step() changed p.grad of parameter {parameter!r} (by up to {gap:.3g} "
                     f"at step {step}): {advice}")
            expect(_close(now, wanted)[0],
                   f"{name}: the gradients at step {step} differ from those of "
                   f"torch.optim.{inputs.torch_name}'s run: {advice}")


def _state_tensors(name: str, summary: object) -> list[tuple[str, str, str, str]]:
    """(parameter, key, dtype, device) of each state tensor of more than one element (a step
    count may be a one-element tensor of any dtype), from a recorded state summary."""
    expect(type(summary) is dict, f"{name}: the hidden tests could not read its state.")
    found = []
    for parameter, facts in summary.items():
        expect(type(facts) is dict and type(facts.get("state")) is list,
               f"{name}: the hidden tests could not read its state.")
        for entry in facts["state"]:
            expect(type(entry) is list and len(entry) == 4,
                   f"{name}: the hidden tests could not read its state.")
            key, dtype, device, numel = entry
            if type(numel) is int and numel > 1:
                found.append((parameter, str(key), str(dtype), str(device)))
    return found


def _check_state_dtype(name: str, got, want) -> None:
    reference = want["frozen state"]
    for parameter, key, dtype, _ in _state_tensors(name, got["frozen state"]):
        wanted = reference.get(parameter, {}).get("dtype", "torch.float64")
        if dtype != wanted:
            fail(f"{name} keeps self.state[p][{key!r}] as {dtype.removeprefix('torch.')} for a "
                 f"{wanted.removeprefix('torch.')} parameter: build "
                 "the state like the parameter, with torch.zeros_like(p) (not torch.zeros(p.shape)), "
                 "so that a float64 model keeps float64 state.")


# How PyTorch says that one operation mixed tensors of two devices.
_MIXED_DEVICES = ("expected device", "same device", "two devices")


def _check_state_device(name: str, got, want) -> None:
    reference = want["meta state"]
    for parameter, key, _, device in _state_tensors(name, got["meta state"]):
        wanted = reference.get(parameter, {}).get("device", "meta")
        if device != wanted:
            fail(f"{name} builds self.state[p][{key!r}] on the {device} device for a parameter on "
                 f"the {wanted} device: build the state with torch.zeros_like(p) (or "
                 "device=p.device, dtype=p.dtype), so that it follows the parameters to a GPU.")
    outcome = got["meta steps"]
    expect(type(outcome) is dict, f"{name}: the hidden tests could not read its steps on the meta device.")
    message = str(outcome.get("message"))
    mixed = any(words in message for words in _MIXED_DEVICES)  # not an op meta cannot run
    if outcome.get("raised") and want["meta steps"]["raised"] is None and mixed:
        fail(f"{name}.step() on a parameter on the meta device raised {outcome['raised']} "
             f"({message}): build the state with torch.zeros_like(p) (or device=p.device, "
             "dtype=p.dtype), so that it lives on the parameter's device.")


def _check_optimizer(name: str, got, want) -> None:
    inputs, spec = INPUTS[name], SPECS[name]
    _check_class(name, got["class"])
    _check_defaults(name, inputs, spec, got)
    _check_validation(name, inputs, spec, got)
    for run in inputs.runs:
        _compare(name, inputs, spec, run, got, want)
    _check_no_grad(name, inputs, got, want)
    _check_grads_untouched(name, inputs, spec, got, want)
    for run in inputs.varied_runs:
        _compare(name, inputs, spec, run, got, want)
    _check_state_dtype(name, got, want)
    _check_state_device(name, got, want)


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


# --- Adam's first step -------------------------------------------------------------------------

# Relative tolerance of the change: float64 to a few hundred ulps, float32 to its precision.
FIRST_STEP_RTOL = {torch.float64: 1e-10, torch.float32: 1e-5}
_CORRECTED = ("with the bias correction m̂ = m₁/(1 − β₁) = g and v̂ = v₁/(1 − β₂) = g², so "
              "θ₁ − θ₀ = −lr·g/(|g| + eps)")
_UNCORRECTED = ("without the bias correction Adam steps with m₁ = (1 − β₁)g and v₁ = (1 − β₂)g² "
                "themselves: θ₁ − θ₀ = −lr·(1 − β₁)g/(√(1 − β₂)·|g| + eps)")


def adam_first_change(grad: torch.Tensor, lr: float, betas: tuple[float, float], eps: float,
                      corrected: bool) -> torch.Tensor:
    """θ₁ − θ₀ in float64: one step of torch.optim.Adam from zero state and θ₀ = 0 (corrected),
    or the uncorrected closed form."""
    grad = grad.double()
    if not corrected:
        return -lr * (1 - betas[0]) * grad / (math.sqrt(1 - betas[1]) * grad.abs() + eps)
    param = torch.zeros_like(grad, requires_grad=True)
    param.grad = grad.clone()
    torch.optim.Adam([param], lr=lr, betas=betas, eps=eps, foreach=False).step()
    return param.detach()


def _matches(actual: torch.Tensor, expected: torch.Tensor, rtol: float) -> torch.Tensor:
    """Element by element: within `rtol` of `expected` (NaN nowhere)."""
    actual = actual.double()
    return ((actual - expected).abs() <= rtol * expected.abs()) & ~actual.isnan()


def _eps_inside(grad: torch.Tensor, lr: float, betas: tuple[float, float], eps: float,
                corrected: bool) -> torch.Tensor:
    """The change with eps inside the square root, −lr·m̂/√(v̂ + eps): the book's placement."""
    grad = grad.double()
    m, v = (1 - betas[0]) * grad, (1 - betas[1]) * grad * grad
    if corrected:
        m, v = m / (1 - betas[0]), v / (1 - betas[1])
    return -lr * m / (v + eps).sqrt()


def _first_step_failure(where: str, grad: torch.Tensor, actual: torch.Tensor, settings: tuple,
                        corrected: bool) -> str:
    """Why `actual` is not θ₁ − θ₀ (its worst element shown), or '' if it is."""
    lr, betas, eps = settings
    expected = adam_first_change(grad, lr, betas, eps, corrected)
    rtol = FIRST_STEP_RTOL[grad.dtype]
    right = _matches(actual, expected, rtol)
    if bool(right.all()):
        return ""
    gaps = (actual.double() - expected).abs()
    gaps = torch.where(gaps == 0, 0.0, gaps / expected.abs()).nan_to_num(nan=math.inf)
    index = tuple(int(i) for i in (gaps == gaps.max()).nonzero()[0])
    g, a, e = grad[index].item(), actual[index].item(), expected[index].item()
    digits = 12 if abs(a - e) < 1e-4 * abs(e) else 6
    shown_at = f"for g = {g:.3g} it returned {a:.{digits}g}, expected {e:.{digits}g}"
    rule = _CORRECTED if corrected else _UNCORRECTED
    sentence = rule[0].upper() + rule[1:]
    if bool(_matches(-actual, expected, rtol).all()):
        return (f"{where}: {shown_at}. That is the step's size with the wrong sign: return the "
                "change θ₁ − θ₀ = −lr·m̂/(√v̂ + eps), negative where the gradient is positive.")
    if bool(_matches(actual, _eps_inside(grad, lr, betas, eps, corrected), rtol).all()):
        return (f"{where}: {shown_at}. eps went inside the square root, √(v̂ + eps): PyTorch adds "
                "it to √v̂, outside the square root (it matters where |g| is as small as eps). "
                f"{sentence}.")
    if bool(_matches(actual, adam_first_change(grad, lr, betas, eps, not corrected), rtol).all()):
        done = "with" if not corrected else "without"
        return (f"{where}: {shown_at}, the change {done} the bias correction: follow the "
                f"bias_correction argument ({rule}).")
    scaled = adam_first_change(grad, lr, betas, eps, True) * (1 - betas[0]) / math.sqrt(1 - betas[1])
    if not corrected and bool(_matches(actual, scaled, rtol).all()):
        return (f"{where}: {shown_at}. That is the corrected change times (1 − β₁)/√(1 − β₂), which "
                "scales eps too: only the moving averages lose their correction, eps is still added "
                f"to √v₁ as it is. {sentence}.")
    if grad.dtype == torch.float64 and bool(_matches(actual, expected, 1e-4).all()):
        return (f"{where}: {shown_at}, right only to float32 precision. Compute in grad's dtype "
                "(float64 here): Python floats, or tensors made with dtype=grad.dtype, not float32.")
    large = grad.double().abs() > 1e4 * eps
    if bool(large.any()) and bool(right[large].all()):
        return (f"{where}: {shown_at}, wrong only where |g| is as small as eps. PyTorch adds eps to "
                f"√v̂ after the bias correction, outside the square root. {sentence}.")
    return f"{where}: {shown_at}. {sentence}."


def test_adam_first_step(got, want):
    grads = first_step_grads()
    for key, name, setting, corrected in first_step_cases():
        lr, betas, eps = FIRST_STEP_SETTINGS[setting]
        grad = grads[name]
        where = (f"adam_first_step(grad, lr={lr:g}, betas={betas}, eps={eps:g}, "
                 f"bias_correction={corrected}) on the {name} gradient")
        actual = expect_tensor(got[key], what=where, like=grad)
        after = got[f"{key} grad after"]
        expect(type(after) is torch.Tensor and torch.equal(after, grad),
               f"{where} changed grad in place: compute in new tensors (m = (1 − β₁)·grad, not "
               "grad.mul_(...)) and leave the caller's gradient as it was.")
        message = _first_step_failure(where, grad, actual, FIRST_STEP_SETTINGS[setting], corrected)
        if message:
            fail(message)
    for name, grad in grads.items():
        where = f"adam_first_step(grad) on the {name} gradient, with the default arguments"
        actual = expect_tensor(got[f"first step {name} defaults"], what=where, like=grad)
        lr, betas, eps = FIRST_STEP_SETTINGS[0]
        expect(not bool(_matches(actual, adam_first_change(grad, lr, betas, eps, False), 1e-10).all()),
               f"{where} returned the change without the bias correction: bias_correction defaults "
               "to True, as torch.optim.Adam corrects.")
        message = _first_step_failure(where, grad, actual, FIRST_STEP_SETTINGS[0], True)
        if message:
            fail(f"{message} (The defaults are torch.optim.Adam's: lr=1e-3, betas=(0.9, 0.999), "
                 "eps=1e-8, bias_correction=True.)")


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
