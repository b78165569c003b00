"""Hidden tests of lab 06, Faster optimizers: one function per grade cell, named after it.

Each optimizer is trained side by side with PyTorch's optimizer of the same name, step by step,
for 50 steps, in float64 (so that only a different update, never rounding, can tell them apart):
on a single weight matrix (the update rule), on three parameters of the same shape (state kept
per parameter), on a model with two parameter groups and a parameter without gradient, with
the learning rate changed halfway (as a scheduler does), across a state_dict save and load,
and through `step(closure)`. The student's class must subclass `torch.optim.Optimizer`
directly and may not call the matching `torch.optim` class or `torch.optim._functional`.
`prune_smallest` is compared with `torch.nn.utils.prune.global_unstructured`.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune

from autograder.checks.core import (
    CheckFailed,
    call,
    expect,
    expect_choice,
    expect_close,
    expect_number,
    fail,
    forbidden,
    hidden_test,
    reference,
)

ref = reference("solutions.lab06_optimizers")
STEPS = 50
TOLERANCE = 1e-6
DTYPE = torch.float64

# What a student's optimizer may not call: every torch.optim optimizer class and the functions
# that do their updates (torch.optim._functional and each optimizer module's own).
_OPTIMIZER_MODULES = ("sgd", "adagrad", "rmsprop", "adam", "adamax", "nadam", "adamw", "radam",
                      "adadelta", "asgd", "rprop", "sparse_adam", "lbfgs", "_adafactor", "_muon")
_OPTIMIZER_CLASSES = tuple(name for name in dir(torch.optim)
                           if name[:1].isupper() and name != "Optimizer"
                           and isinstance(getattr(torch.optim, name), type))


def _optimizer_modules() -> dict:
    modules = {}
    for name in ("_functional", *_OPTIMIZER_MODULES):
        with contextlib.suppress(ImportError):
            modules[name] = importlib.import_module(f"torch.optim.{name}")
    return modules


_MODULES = _optimizer_modules()
# Snapshots taken when the grader imports this module, before any student cell runs: a check
# puts back anything a submission rebinds in them (core guards torch.optim itself).
_MODULE_SNAPSHOT = {name: dict(vars(module)) for name, module in _MODULES.items()}
_CLASS_SNAPSHOT = {cls: {key: value for key, value in vars(cls).items() if callable(value)}
                   for cls in (torch.optim.Optimizer,
                               *(getattr(torch.optim, name) for name in _OPTIMIZER_CLASSES))}


def _restore_optim() -> None:
    for name, module in _MODULES.items():
        current = vars(module)
        for key, value in _MODULE_SNAPSHOT[name].items():
            if current.get(key) is not value:
                setattr(module, key, value)
    for cls, attributes in _CLASS_SNAPSHOT.items():
        for key, value in attributes.items():
            if vars(cls).get(key) is not value:
                setattr(cls, key, value)


def _update_function_names(module) -> tuple[str, ...]:
    short = module.__name__.rsplit(".", 1)[-1].lstrip("_")
    return tuple(name for name in vars(module)
                 if name == short or name.startswith(("_single_tensor_", "_multi_tensor_", "_fused_")))


@contextlib.contextmanager
def _without_torch_optimizers(name: str, torch_name: str) -> Iterator[None]:
    reason = (f"{name} must compute its update with tensor operations itself, not through "
              f"torch.optim.{torch_name} (or any torch.optim optimizer or torch.optim._functional).")
    with contextlib.ExitStack() as stack:
        stack.enter_context(forbidden(torch.optim, _OPTIMIZER_CLASSES, reason))
        for module in _MODULES.values():
            names = tuple(n for n in vars(module) if n in _OPTIMIZER_CLASSES)
            names += tuple(n for n in vars(module) if callable(vars(module)[n])
                           and n in ("sgd", "adam", "adamw", "adagrad", "rmsprop", "adamax", "nadam",
                                     "radam", "adadelta", "asgd", "rprop", "sparse_adam"))
            names += _update_function_names(module)
            stack.enter_context(forbidden(module, tuple(dict.fromkeys(names)), reason))
        yield


# --- The optimizers ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Config:
    """One side-by-side run: constructor arguments, a loss scale, and what to check if it fails."""

    kwargs: dict
    hint: str
    loss_scale: float = 1.0


@dataclass(frozen=True)
class Spec:
    """What one exercise's optimizer must be: its PyTorch twin, defaults, runs and bad arguments."""

    name: str
    torch_name: str
    defaults: dict
    configs: tuple[Config, ...]
    invalid: tuple[tuple[dict, str], ...]
    required: dict = field(default_factory=dict)  # arguments without default (MomentumSGD's lr)
    lr_hint: str = ""
    student: object = None  # the class under test

    @property
    def torch_class(self) -> type:
        return _CLASS_SNAPSHOT_BY_NAME[self.torch_name]


_CLASS_SNAPSHOT_BY_NAME = {name: getattr(torch.optim, name) for name in _OPTIMIZER_CLASSES}

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


def _small_model(kind: str) -> tuple[nn.Module, list]:
    """A seeded float64 model and the parameter list (or groups) an optimizer gets for it."""
    torch.manual_seed({"single": 11, "twins": 12, "groups": 13}[kind])
    if kind == "single":
        model = nn.Linear(6, 4, bias=False)
        return model.to(DTYPE), [model.weight]
    if kind == "twins":
        model = nn.Sequential(nn.Linear(4, 4, bias=False), nn.Tanh(), nn.Linear(4, 4, bias=False),
                              nn.Tanh(), nn.Linear(4, 4, bias=False))
        model = model.to(DTYPE)
        return model, list(model.parameters())
    model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 4))
    model.register_parameter("unused", nn.Parameter(torch.randn(3)))  # never gets a gradient
    model = model.to(DTYPE)
    first = list(model[0].parameters())
    rest = [*model[2].parameters(), *model[4].parameters(), model.unused]
    return model, [{"params": first}, {"params": rest}]


def _scaled_groups(groups: list, lr: float) -> list:
    """Two groups, the first with half the learning rate (each group has its own hyperparameters)."""
    if isinstance(groups[0], dict):
        return [{"params": groups[0]["params"], "lr": lr / 2}, {"params": groups[1]["params"]}]
    return groups


def _batches(steps: int, n_in: int, n_out: int, seed: int = 7) -> list:
    generator = torch.Generator().manual_seed(seed)
    return [(torch.randn(16, n_in, generator=generator, dtype=DTYPE),
             torch.randint(0, n_out, (16,), generator=generator)) for _ in range(steps)]


def _rebind_params(groups: list, old: nn.Module, new: nn.Module) -> list:
    """`groups` with every parameter of `old` replaced by the same-named parameter of `new`."""
    names = {id(p): name for name, p in old.named_parameters()}
    lookup = dict(new.named_parameters())
    if isinstance(groups[0], dict):
        return [{**group, "params": [lookup[names[id(p)]] for p in group["params"]]}
                for group in groups]
    return [lookup[names[id(p)]] for p in groups]


def _lr_of(spec: Spec, kwargs: dict) -> float:
    return {**spec.defaults, **spec.required, **kwargs}["lr"]


def _construct(spec: Spec, cls: type, params: list, kwargs: dict, *, student: bool):
    arguments = {**spec.required, **kwargs} if student else {**spec.defaults, **spec.required, **kwargs}
    if not student:
        return cls(params, **arguments)
    where = f"{spec.name}(params, {', '.join(f'{k}={v!r}' for k, v in arguments.items())})"
    optimizer = call(cls, params, what=where, **arguments)
    for attribute, value in vars(optimizer).items():
        if isinstance(value, torch.optim.Optimizer):
            fail(f"{spec.name} keeps a PyTorch optimizer in self.{attribute}: write the update "
                 f"yourself instead of delegating to torch.optim.")
    return optimizer


def _train(spec: Spec, cls: type, kind: str, config: Config, *, student: bool, steps: int = STEPS,
           schedule: bool = False, resume_at: int | None = None, closure: bool = False,
           hint: str = "") -> tuple[list[list[torch.Tensor]], list[float]]:
    """Train a fresh `kind` model; return the parameters after each step (and closure losses)."""
    model, groups = _small_model(kind)
    lr = _lr_of(spec, config.kwargs)
    groups = _scaled_groups(groups, lr)
    optimizer = _construct(spec, cls, groups, config.kwargs, student=student)
    n_in = 6 if kind != "twins" else 4
    snapshots, losses = [], []
    for step, (X, y) in enumerate(_batches(steps, n_in, 4), start=1):
        if schedule and step == steps // 2 + 1:
            for group in optimizer.param_groups:
                group["lr"] = group["lr"] * 0.3
        if resume_at is not None and step == resume_at + 1:
            saved = optimizer.state_dict()
            fresh = copy.deepcopy(model)
            new_groups = _rebind_params(groups, model, fresh)
            model = fresh
            optimizer = _construct(spec, cls, new_groups, config.kwargs, student=student)
            _student_call(student, f"{spec.name}.load_state_dict(saved_state)", hint,
                          optimizer.load_state_dict, saved)

        def compute_loss(model=model, X=X, y=y, optimizer=optimizer):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(X), y) * config.loss_scale
            loss.backward()
            return loss

        if closure:
            returned = _student_call(student, f"{spec.name}.step(closure) at step {step}", hint,
                                     optimizer.step, compute_loss)
            losses.append(float(returned) if isinstance(returned, torch.Tensor | float | int)
                          else float("nan"))
        else:
            compute_loss()
            _student_call(student, f"{spec.name}.step() at step {step}", hint, optimizer.step)
        snapshots.append([p.detach().clone() for p in model.parameters()])
    return snapshots, losses


def _student_call(student: bool, what: str, hint: str, function: Callable, *args):
    """Call `function(*args)`; for the student's optimizer, turn a crash into a failed check."""
    if not student:
        return function(*args)
    try:
        return function(*args)
    except NotImplementedError:
        fail(f"{what} is not implemented yet: replace `raise NotImplementedError()` with your code.")
    except CheckFailed:
        raise
    except Exception as error:
        fail(f"{what} raised {type(error).__name__}: {error}. {hint}".strip())
    return None


def _compare(spec: Spec, kind: str, config: Config, hint: str, **options) -> None:
    """Train PyTorch's optimizer and the student's side by side; fail at the first divergence."""
    expected, expected_losses = _train(spec, spec.torch_class, kind, config, student=False, **options)
    with _without_torch_optimizers(spec.name, spec.torch_name):
        got, losses = _train(spec, spec.student, kind, config, student=True, hint=hint, **options)
    model, _ = _small_model(kind)
    names = [name for name, _ in model.named_parameters()]
    arguments = ", ".join(f"{k}={v!r}" for k, v in {**spec.required, **config.kwargs}.items()) or "defaults"
    what = {"single": "a single weight matrix", "twins": "three parameters of the same shape",
            "groups": "a model with two parameter groups and a parameter without gradient"}[kind]
    extra = (" with the learning rate scaled by 0.3 after step 25" if options.get("schedule") else
             f", saved and reloaded through state_dict after step {options['resume_at']}"
             if options.get("resume_at") else " with step(closure)" if options.get("closure") else "")
    for step, (mine, theirs) in enumerate(zip(got, expected), start=1):
        for name, a, b in zip(names, mine, theirs):
            gap = (a - b).abs().max().item()
            if not gap <= TOLERANCE * (1 + b.abs().max().item()):
                fail(f"{spec.name}({arguments}) on {what}{extra}: after step {step} of {len(expected)}, "
                     f"parameter {name!r} differs from torch.optim.{spec.torch_name}'s by {gap:.3g} "
                     f"(tolerance {TOLERANCE:g}). {hint}")
    if options.get("closure"):
        for step, (mine, theirs) in enumerate(zip(losses, expected_losses), start=1):
            expect(abs(mine - theirs) <= 1e-6 * (1 + abs(theirs)),
                   f"{spec.name}.step(closure) at step {step} returned {mine!r}, not the closure's loss "
                   f"{theirs:.6g}. {_CLOSURE_HINT}")


def _check_class(spec: Spec, cls: object) -> None:
    expect(isinstance(cls, type), f"{spec.name} should be a class: run its cell (got {type(cls).__name__}).")
    expect(issubclass(cls, torch.optim.Optimizer), f"{spec.name} must subclass torch.optim.Optimizer.")
    for base in cls.__mro__[1:]:
        if base in (torch.optim.Optimizer, object):
            continue
        if base.__module__.startswith("torch"):
            fail(f"{spec.name} must not subclass {base.__module__}.{base.__qualname__}: subclass "
                 "torch.optim.Optimizer and write the update yourself.")
        fail(f"{spec.name} must subclass torch.optim.Optimizer directly, not {base.__name__}: each "
             "optimizer stands on its own, so that each exercise is graded on its own.")


def _check_defaults(spec: Spec) -> None:
    signature = inspect.signature(spec.student.__init__)
    for name, value in spec.defaults.items():
        expect(name in signature.parameters,
               f"{spec.name}.__init__ has no argument {name!r}: use PyTorch's hyperparameter names.")
        default = signature.parameters[name].default
        expect(default is not inspect.Parameter.empty and _same(default, value),
               f"{spec.name}: the default of {name} should be {value!r}, as in "
               f"torch.optim.{spec.torch_name}, not {default!r}.")
    with _without_torch_optimizers(spec.name, spec.torch_name):
        optimizer = _construct(spec, spec.student, [nn.Parameter(torch.zeros(2, dtype=DTYPE))], {},
                               student=True)
    group = optimizer.param_groups[0]
    for name, value in {**spec.defaults, **spec.required}.items():
        expect(name in group, f"{spec.name}: param_groups[0] has no {name!r}: pass every hyperparameter "
                              "to torch.optim.Optimizer.__init__ in the `defaults` dict.")
        expect(_same(group[name], value),
               f"{spec.name}: param_groups[0][{name!r}] is {group[name]!r}, expected {value!r}.")


def _same(a: object, b: object) -> bool:
    if isinstance(b, tuple):
        return isinstance(a, tuple | list) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(b, bool):
        return a is b or a == b
    return isinstance(a, int | float) and abs(float(a) - float(b)) <= 1e-12 * max(1.0, abs(float(b)))


def _check_validation(spec: Spec) -> None:
    for kwargs, what in spec.invalid:
        params = [nn.Parameter(torch.zeros(2, dtype=DTYPE))]
        arguments = {**spec.required, **kwargs}
        shown = ", ".join(f"{k}={v!r}" for k, v in arguments.items())
        try:
            with _without_torch_optimizers(spec.name, spec.torch_name):
                spec.student(params, **arguments)
        except ValueError:
            continue
        except NotImplementedError:
            fail(f"{spec.name}.__init__ is not implemented yet: replace `raise NotImplementedError()`.")
        except CheckFailed:
            raise
        except Exception as error:
            fail(f"{spec.name}(params, {shown}) should raise ValueError ({what}), "
                 f"not {type(error).__name__}: {error}")
        fail(f"{spec.name}(params, {shown}) should raise ValueError: {what}.")


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """These models are tiny: one thread is fastest, and several fight over a busy CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _check_optimizer(spec: Spec) -> None:
    with _one_thread():
        _check_optimizer_steps(spec)


def _check_optimizer_steps(spec: Spec) -> None:
    _restore_optim()
    _check_class(spec, spec.student)
    _check_defaults(spec)
    _check_validation(spec)
    for config in spec.configs:
        _compare(spec, "single", config, config.hint)
    base = spec.configs[0]
    _compare(spec, "twins", base, _STATE_HINT)
    _compare(spec, "groups", base, _GROUP_HINT)
    _compare(spec, "single", base, f"{_SCHEDULE_HINT} {spec.lr_hint}".strip(), schedule=True)
    _compare(spec, "groups", base, _STATE_DICT_HINT, resume_at=STEPS // 2)
    _compare(spec, "single", base, _CLOSURE_HINT, steps=5, closure=True)


def _with_student(spec: Spec, student: object) -> Spec:
    return replace(spec, student=student)


_LR = ({"lr": -0.01}, "a negative learning rate")
_EPS = ({"eps": -1e-8}, "a negative eps")
_BETAS = (({"betas": (1.0, 0.999)}, "beta1 must be in [0, 1)"),
          ({"betas": (0.9, -0.1)}, "beta2 must be in [0, 1)"))

_ADAM_RULE = ("m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ) with t this "
              "parameter's step count starting at 1, then θ ← θ − η·m̂/(√v̂ + ε).")

SPECS = {
    "MomentumSGD": Spec(
        "MomentumSGD", "SGD", {"momentum": 0.9, "nesterov": False, "weight_decay": 0.0},
        (Config({"lr": 0.05},
                "PyTorch's form: m ← β·m + g, then θ ← θ − η·m (the learning rate multiplies the "
                "velocity; it is not inside it)."),
         Config({"lr": 0.05, "nesterov": True},
                "With nesterov=True, PyTorch steps along g + β·m (the gradient plus β times the "
                "updated velocity), not along m."),
         Config({"lr": 0.1, "momentum": 0.5, "weight_decay": 0.05},
                "weight_decay λ adds λ·θ to the gradient before the momentum update (ℓ2)."),
         Config({"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
                "Nesterov with weight decay: g ← g + λθ; m ← βm + g; θ ← θ − η(g + βm).")),
        (({"lr": -0.1}, "a negative learning rate"), ({"lr": 0.1, "momentum": -0.5}, "a negative momentum"),
         ({"lr": 0.1, "weight_decay": -1.0}, "a negative weight_decay"),
         ({"lr": 0.1, "momentum": 0.0, "nesterov": True}, "Nesterov momentum needs momentum > 0")),
        required={"lr": 0.05},
        lr_hint="In particular, do not fold η into the velocity (the book's m ← βm − η∇J): "
                "PyTorch keeps m ← βm + g and multiplies by the current η when it steps."),
    "AdaGrad": Spec(
        "AdaGrad", "Adagrad", {"lr": 0.01, "eps": 1e-10},
        (Config({"lr": 0.1}, "s ← s + g ⊙ g (the squared gradients, element by element), then "
                             "θ ← θ − η·g/(√s + ε)."),
         Config({"lr": 0.05, "eps": 1e-2}, "ε is added after the square root: √s + ε, not √(s + ε).")),
        (_LR, _EPS)),
    "RMSProp": Spec(
        "RMSProp", "RMSprop", {"lr": 0.01, "alpha": 0.99, "eps": 1e-8},
        (Config({"lr": 0.01}, "s ← α·s + (1 − α)·g ⊙ g (α, close to 1, weighs the old average), "
                              "then θ ← θ − η·g/(√s + ε)."),
         Config({"lr": 0.02, "alpha": 0.9, "eps": 1e-2},
                "Use the group's alpha and add ε after the square root: √s + ε.")),
        (_LR, _EPS, ({"alpha": 1.5}, "alpha must be in [0, 1)"))),
    "Adam": Spec(
        "Adam", "Adam", {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8},
        (Config({}, _ADAM_RULE + " Without the bias correction the first steps are far too large."),
         Config({"lr": 0.01}, "ε is added after the square root and after the bias correction: "
                              "√v̂ + ε, not √(v̂ + ε). It matters when gradients are tiny, as here.",
                loss_scale=1e-5),
         Config({"lr": 0.02, "betas": (0.8, 0.99)}, "Read β₁ and β₂ from group['betas']. " + _ADAM_RULE)),
        (_LR, _EPS, *_BETAS)),
    "AdaMax": Spec(
        "AdaMax", "Adamax", {"lr": 2e-3, "betas": (0.9, 0.999), "eps": 1e-8},
        (Config({"lr": 0.01}, "m ← β₁m + (1−β₁)g; u ← max(β₂·u, |g| + ε); θ ← θ − η/(1−β₁ᵗ)·m/u. "
                              "Only m is bias-corrected, u is not."),
         Config({"lr": 0.01, "betas": (0.8, 0.99)},
                "PyTorch adds ε inside the max, u ← max(β₂·u, |g| + ε), and divides m by u itself. "
                "It matters when gradients are tiny, as here.", loss_scale=1e-7)),
        (_LR, _EPS, *_BETAS)),
    "NAdam": Spec(
        "NAdam", "NAdam", {"lr": 2e-3, "betas": (0.9, 0.999), "eps": 1e-8, "momentum_decay": 4e-3},
        (Config({"lr": 0.01},
                "μₜ = β₁(1 − ½·0.96^(t·ψ)) with ψ = momentum_decay; keep the product μ₁⋯μₜ per "
                "parameter; θ ← θ − η(1−μₜ)/(1−μ₁⋯μₜ)·g/(√v̂+ε) − η·μₜ₊₁/(1−μ₁⋯μₜ₊₁)·m/(√v̂+ε), "
                "with v̂ = v/(1−β₂ᵗ) and m not bias-corrected."),
         Config({"lr": 0.01, "betas": (0.8, 0.99), "momentum_decay": 0.1},
                "Read β₁, β₂ and momentum_decay from the group; the μ schedule uses ψ = momentum_decay.")),
        (_LR, _EPS, *_BETAS, ({"momentum_decay": -0.1}, "a negative momentum_decay"))),
    "AdamW": Spec(
        "AdamW", "AdamW", {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2},
        (Config({"lr": 0.01, "weight_decay": 0.1},
                "Decoupled weight decay: θ ← θ·(1 − ηλ) first, then the plain Adam step with the raw "
                "gradient. Adding λθ to the gradient (Adam + ℓ2) is a different algorithm."),
         Config({}, "With the defaults (weight_decay=1e-2): θ ← θ·(1 − ηλ), then " + _ADAM_RULE)),
        (_LR, _EPS, *_BETAS, ({"weight_decay": -0.1}, "a negative weight_decay"))),
}


@hidden_test
def test_momentum_sgd(MomentumSGD):
    _check_optimizer(_with_student(SPECS["MomentumSGD"], MomentumSGD))


@hidden_test
def test_adagrad(AdaGrad):
    _check_optimizer(_with_student(SPECS["AdaGrad"], AdaGrad))


@hidden_test
def test_rmsprop(RMSProp):
    _check_optimizer(_with_student(SPECS["RMSProp"], RMSProp))


@hidden_test
def test_adam(Adam):
    _check_optimizer(_with_student(SPECS["Adam"], Adam))


@hidden_test
def test_adamax(AdaMax):
    _check_optimizer(_with_student(SPECS["AdaMax"], AdaMax))


@hidden_test
def test_nadam(NAdam):
    _check_optimizer(_with_student(SPECS["NAdam"], NAdam))


@hidden_test
def test_adamw(AdamW):
    _check_optimizer(_with_student(SPECS["AdamW"], AdamW))


# --- Pruning -----------------------------------------------------------------------------------

def _pruning_model() -> nn.Module:
    """Linear layers of very different scales (so global and per-layer pruning differ), a
    LayerNorm and biases that must stay untouched, and a nested block."""
    torch.manual_seed(21)
    model = nn.Sequential(nn.Flatten(), nn.Linear(20, 30), nn.LayerNorm(30), nn.ReLU(),
                          nn.Sequential(nn.Linear(30, 30), nn.ReLU()), nn.Linear(30, 5))
    with torch.no_grad():
        model[4][0].weight.mul_(10.0)
        model[5].weight.mul_(0.1)
        model[2].weight.uniform_(0.5, 1.5)
        model[2].bias.uniform_(-0.5, 0.5)
    return model


def _linears(model: nn.Module) -> list[nn.Linear]:
    return [module for module in model.modules() if isinstance(module, nn.Linear)]


@hidden_test
def test_prune_smallest(prune_smallest):
    for amount in (0.6, 0.25, 0.9):
        model = _pruning_model()
        expected = copy.deepcopy(model)
        layers = _linears(expected)
        prune.global_unstructured([(layer, "weight") for layer in layers],
                                  pruning_method=prune.L1Unstructured, amount=amount)
        expected_zeros = [(layer.weight == 0) for layer in layers]
        expected_sparsity = sum(int(z.sum()) for z in expected_zeros) / sum(z.numel() for z in expected_zeros)
        untouched = {name: tensor.clone() for name, tensor in model.state_dict().items()
                     if not (name.endswith("weight") and name.count(".") and
                             isinstance(model.get_submodule(name.rsplit(".", 1)[0]), nn.Linear))}
        where = f"prune_smallest(model, {amount})"
        sparsity = call(prune_smallest, model, amount, what=where)
        mine = _linears(model)
        layer_sparsity = [f"{(layer.weight == 0).float().mean().item():.0%}" for layer in mine]
        wanted_sparsity = [f"{z.float().mean().item():.0%}" for z in expected_zeros]
        for index, (layer, zeros) in enumerate(zip(mine, expected_zeros), start=1):
            got_zeros = layer.weight.detach() == 0
            if not torch.equal(got_zeros, zeros):
                fail(f"{where}: Linear layer {index} of {len(mine)} has the wrong weights pruned "
                     f"(zeros per layer: {', '.join(layer_sparsity)}; global magnitude pruning gives "
                     f"{', '.join(wanted_sparsity)}). Rank the weights of all nn.Linear layers "
                     "together and remove the smallest |w| overall "
                     "(prune.global_unstructured with prune.L1Unstructured), not layer by layer.")
        state = dict(model.named_parameters())
        for name, tensor in untouched.items():
            current = model.state_dict().get(name)
            if current is None:
                current = state.get(name)
            if current is None or not torch.equal(current, tensor):
                fail(f"{where} changed {name!r}: prune only the weights of nn.Linear layers "
                     "(not biases, not LayerNorm).")
        expect_close(sparsity, expected_sparsity, what=f"{where}: the sparsity it returns", rtol=1e-6,
                     hint="Return the fraction of zeros among the nn.Linear weights only "
                          "(biases and other layers not counted).")


# --- Concept questions -------------------------------------------------------------------------

@hidden_test
def test_q1_momentum_near_one(Q1):
    expect_choice(Q1, ref.Q1, question="Q1")


@hidden_test
def test_q2_terminal_velocity(Q2):
    expect_number(Q2, ref.Q2, question="Q2")


@hidden_test
def test_q3_adam_first_step(Q3):
    expect_number(Q3, ref.Q3, question="Q3")


@hidden_test
def test_q4_adagrad_stops(Q4):
    expect_choice(Q4, ref.Q4, question="Q4")


@hidden_test
def test_q5_decoupled_decay(Q5):
    expect_choice(Q5, ref.Q5, question="Q5")


@hidden_test
def test_q6_momentum_two_steps(Q6):
    expect_number(Q6, ref.Q6, question="Q6")
