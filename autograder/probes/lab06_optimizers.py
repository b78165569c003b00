"""Probes of lab 06, Faster optimizers: one per grade cell, named after it (the judge's checks
of the same name compare what they record with the reference's record).

Each optimizer probe records what the student's class is (its bases, its constructor's
signature), the hyperparameters its first parameter group holds when only the required
arguments are given, what each invalid argument raises and whether each valid argument at the
edge of its range (0, where only a negative value is invalid) is accepted, and then the parameters after every
step of a series of float64 training runs: on a single weight matrix (one run per set of
arguments), on three parameters of the same shape, on a model with two parameter groups and a
parameter without gradient, with the learning rate changed halfway, across a state_dict save
and load, and through `step(closure)` (whose returned losses it records too). The check
compares every step with the reference's run, which follows `torch.optim` step for step.

Then the contracts every optimizer keeps (each exercise's table, `Inputs.varied`, says which
hyperparameters it has): one run per hyperparameter with its value different in each of two
parameter groups and changed before every step (as OneCycleLR cycles momentum and betas); a
run on a model with a frozen parameter, one that never gets a gradient and one frozen halfway
(a step() before any backward() first), recording each p.grad before and after every step and
the dtype and device of every state tensor; and two steps on a parameter on the `meta` device
(state built without device= lands elsewhere), recording what it raised, if anything.

No `torch.optim` optimizer class or update function can be reached while the student's class
runs (`forbidden`), and whatever a submission rebinds in the optimizer modules or classes is
put back first. `adam_first_step` is called on six gradients (mixed signs and scales, sizes
near eps, huge values and zeros, float32, a 0-dimensional tensor, a seeded spread over nine
decades), each with two settings of lr, betas and eps, with and without the bias correction,
and once with its defaults; the probe records each change and each gradient after the call, no
optimizer within reach (neither torch.optim's nor the notebook's classes). `prune_smallest` is
probed on a seeded model: the weights and the state it leaves, and the sparsity it returns, at
three fractions and at the edges 0 and 1.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from autograder.probes.core import Refused, Stopped, answer, forbidden, probe, with_globals

STEPS = 12
DTYPE = torch.float64
GROUP_LR = 5e-4  # the first group's own learning rate when a run gives none

# What a student's optimizer may not call: every torch.optim optimizer class and the functions
# that do their updates (torch.optim._functional and each optimizer module's own).
_OPTIMIZER_MODULES = ("sgd", "adagrad", "rmsprop", "adam", "adamax", "nadam", "adamw", "radam",
                      "adadelta", "asgd", "rprop", "sparse_adam", "lbfgs", "_adafactor", "_muon")
_UPDATE_FUNCTIONS = ("sgd", "adam", "adamw", "adagrad", "rmsprop", "adamax", "nadam", "radam",
                     "adadelta", "asgd", "rprop", "sparse_adam")
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
# Taken when the grading kernel's preamble imports the probes, before any student cell runs:
# each probe puts back whatever a submission rebinds in them (core guards torch.optim itself).
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
def _without_torch_optimizers(name: str, torch_name: str, cls: object,
                              reason: str = "") -> Iterator[None]:
    reason = reason or (f"{name} must compute its update with tensor operations itself, not through "
                        f"torch.optim.{torch_name} (or any torch.optim optimizer or "
                        "torch.optim._functional).")
    with contextlib.ExitStack() as stack:
        stack.enter_context(forbidden(torch.optim, _OPTIMIZER_CLASSES, reason, within=cls))
        for module in _MODULES.values():
            names = tuple(n for n in vars(module) if n in _OPTIMIZER_CLASSES)
            names += tuple(n for n in vars(module) if callable(vars(module)[n]) and n in _UPDATE_FUNCTIONS)
            names += _update_function_names(module)
            stack.enter_context(forbidden(module, tuple(dict.fromkeys(names)), reason, within=cls))
        yield


# --- What each optimizer is run with (inputs only) ----------------------------------------------

@dataclass(frozen=True)
class Run:
    """One training run: its key in the record, the model, the arguments and what happens."""

    key: str
    kind: str  # "single", "twins" or "groups"
    config: int  # index into the optimizer's configs
    steps: int = STEPS
    schedule: bool = False
    resume_at: int | None = None
    closure: bool = False
    vary: str | None = None  # the hyperparameter set per group and changed before every step


@dataclass(frozen=True)
class Inputs:
    """What one exercise's optimizer is run with: arguments, loss scales and invalid arguments."""

    name: str
    torch_name: str
    configs: tuple[tuple[dict, float], ...]  # (constructor arguments, loss scale)
    invalid: tuple[dict, ...]
    valid: tuple[dict, ...]  # arguments at the edge of their range, which must be accepted
    required: dict = field(default_factory=dict)  # arguments without default (MomentumSGD's lr)
    # Each hyperparameter, the value given to the constructor (so self.defaults holds it) and the
    # values the groups cycle through, one step apart (neither group ever holds the constructor's).
    varied: tuple[tuple[str, object, tuple], ...] = ()
    contract_config: int = 0  # the configuration of the contract runs (one with weight decay)

    @property
    def runs(self) -> list[Run]:
        runs = [Run(f"config {index}", "single", index) for index in range(len(self.configs))]
        return [*runs, Run("twins", "twins", 0), Run("groups", "groups", 0),
                Run("schedule", "single", 0, schedule=True),
                Run("resume", "groups", 0, resume_at=STEPS // 2),
                Run("closure", "single", 0, steps=5, closure=True)]

    @property
    def varied_runs(self) -> list[Run]:
        return [Run(f"vary {name}", "pair", 0, steps=VARY_STEPS, vary=name)
                for name, _, _ in self.varied]

    def arguments(self, config: int) -> dict:
        return {**self.required, **self.configs[config][0]}

    def run_arguments(self, run: Run) -> dict:
        """The constructor's arguments in `run`: its configuration's, or the varied one's."""
        if run.vary is None:
            return self.arguments(run.config)
        return {**self.required, run.vary: self.cycle(run.vary)[0]}

    def cycle(self, name: str) -> tuple[object, tuple]:
        """(constructor value, values cycled through) of the varied hyperparameter `name`."""
        return next((given, values) for key, given, values in self.varied if key == name)


_LR = {"lr": -0.01}
_EPS = {"eps": -1e-8}
_BETAS = ({"betas": (1.0, 0.999)}, {"betas": (0.9, -0.1)}, {"betas": (0.9, 1.0)})
# Valid at the edge: 0 where only a negative value is invalid, a beta of 0 (in [0, 1)).
_ZERO_LR = {"lr": 0.0}
_ZERO_EPS = {"eps": 0.0}
_ZERO_BETAS = ({"betas": (0.0, 0.999)}, {"betas": (0.9, 0.0)})

VARY_STEPS = 6
# Varied hyperparameters: (name, the constructor's value, the values the groups cycle through).
_VARY_EPS = ("eps", 1e-8, (0.3, 0.01, 0.1))
_VARY_BETAS = ("betas", (0.9, 0.999), ((0.85, 0.99), (0.95, 0.999), (0.8, 0.9)))

INPUTS = {
    "MomentumSGD": Inputs(
        "MomentumSGD", "SGD",
        (({"lr": 0.05}, 1.0), ({"lr": 0.05, "nesterov": True}, 1.0),
         ({"lr": 0.1, "momentum": 0.5, "weight_decay": 0.05}, 1.0),
         ({"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}, 1.0)),
        ({"lr": -0.1}, {"lr": 0.1, "momentum": -0.5}, {"lr": 0.1, "weight_decay": -1.0},
         {"lr": 0.1, "momentum": 0.0, "nesterov": True}),
        ({"lr": 0.0}, {"lr": 0.1, "momentum": 0.0}),
        required={"lr": 0.05},
        varied=(("lr", 0.05, (0.02, 0.1, 0.05)), ("momentum", 0.9, (0.85, 0.95, 0.5)),
                ("nesterov", False, (True, False)), ("weight_decay", 0.0, (0.1, 0.0, 0.3))),
        contract_config=3),
    "AdaGrad": Inputs("AdaGrad", "Adagrad", (({"lr": 0.1}, 1.0), ({"lr": 0.05, "eps": 1e-2}, 1.0)),
                      (_LR, _EPS), (_ZERO_LR, _ZERO_EPS),
                      varied=(("lr", 0.01, (0.05, 0.2, 0.1)), ("eps", 1e-10, (0.3, 0.01, 0.1)))),
    "RMSProp": Inputs("RMSProp", "RMSprop",
                      (({"lr": 0.01}, 1.0), ({"lr": 0.02, "alpha": 0.9, "eps": 1e-2}, 1.0)),
                      (_LR, _EPS, {"alpha": 1.5}, {"alpha": 1.0}),
                      (_ZERO_LR, _ZERO_EPS, {"alpha": 0.0}),
                      varied=(("lr", 0.01, (0.005, 0.02, 0.01)), ("alpha", 0.99, (0.9, 0.5, 0.8)),
                              _VARY_EPS)),
    "Adam": Inputs("Adam", "Adam",
                   (({}, 1.0), ({"lr": 0.01}, 1e-5), ({"lr": 0.02, "betas": (0.8, 0.99)}, 1.0)),
                   (_LR, _EPS, *_BETAS), (_ZERO_LR, _ZERO_EPS, *_ZERO_BETAS),
                   varied=(("lr", 1e-3, (0.01, 0.002, 0.02)), _VARY_BETAS, _VARY_EPS)),
    "AdaMax": Inputs("AdaMax", "Adamax",
                     (({"lr": 0.01}, 1.0), ({"lr": 0.01, "betas": (0.8, 0.99)}, 1e-7)),
                     (_LR, _EPS, *_BETAS), (_ZERO_LR, _ZERO_EPS, *_ZERO_BETAS),
                     varied=(("lr", 2e-3, (0.01, 0.002, 0.02)), _VARY_BETAS, _VARY_EPS)),
    "NAdam": Inputs("NAdam", "NAdam",
                    (({"lr": 0.01}, 1.0), ({"lr": 0.01, "betas": (0.8, 0.99), "momentum_decay": 0.1}, 1.0)),
                    (_LR, _EPS, *_BETAS, {"momentum_decay": -0.1}),
                    (_ZERO_LR, _ZERO_EPS, *_ZERO_BETAS, {"momentum_decay": 0.0}),
                    varied=(("lr", 2e-3, (0.01, 0.002, 0.02)), _VARY_BETAS, _VARY_EPS,
                            ("momentum_decay", 4e-3, (0.1, 0.5, 0.02)))),
    "AdamW": Inputs("AdamW", "AdamW", (({"lr": 0.01, "weight_decay": 0.1}, 1.0), ({}, 1.0)),
                    (_LR, _EPS, *_BETAS, {"weight_decay": -0.1}),
                    (_ZERO_LR, _ZERO_EPS, *_ZERO_BETAS, {"weight_decay": 0.0}),
                    varied=(("lr", 1e-3, (0.01, 0.002, 0.02)), _VARY_BETAS, _VARY_EPS,
                            ("weight_decay", 1e-2, (0.5, 0.0, 2.0)))),
}


def shown(arguments: dict) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in arguments.items())


def small_model(kind: str) -> tuple[nn.Module, list]:
    """A seeded float64 model and the parameter list (or groups) an optimizer gets for it."""
    torch.manual_seed({"single": 11, "twins": 12, "groups": 13, "pair": 14}[kind])
    if kind == "single":
        model = nn.Linear(6, 4, bias=False)
        return model.to(DTYPE), [model.weight]
    if kind == "twins":
        model = nn.Sequential(nn.Linear(4, 4, bias=False), nn.Tanh(), nn.Linear(4, 4, bias=False),
                              nn.Tanh(), nn.Linear(4, 4, bias=False))
        model = model.to(DTYPE)
        return model, list(model.parameters())
    model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 4))
    if kind == "groups":
        model.register_parameter("unused", nn.Parameter(torch.randn(3)))  # never gets a gradient
    model = model.to(DTYPE)
    first = list(model[0].parameters())
    rest = [*model[2].parameters(), *model[4].parameters(), *([model.unused] if kind == "groups" else [])]
    return model, [{"params": first}, {"params": rest}]


def _varied_groups(groups: list, name: str, values: tuple) -> list:
    """The two groups, each with its own value of the hyperparameter `name`."""
    return [{**group, name: values[index % len(values)]} for index, group in enumerate(groups)]


def _set_varied(optimizer, name: str, values: tuple, step: int) -> None:
    """Before `step`, give group i the value `values[step + i]` (cyclically), as a scheduler would."""
    for index, group in enumerate(optimizer.param_groups):
        group[name] = values[(step + index) % len(values)]


def _scaled_groups(groups: list, arguments: dict) -> list:
    """Two groups, the first with a learning rate of its own (half the run's)."""
    if isinstance(groups[0], dict):
        lr = arguments["lr"] / 2 if "lr" in arguments else GROUP_LR
        return [{"params": groups[0]["params"], "lr": lr}, {"params": groups[1]["params"]}]
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


# --- Small helpers that read or call the student's objects (kept apart, each guarded) ---------

def _class_facts(cls: object) -> dict:
    """What the class is: a class at all, an Optimizer subclass, and its bases (module, name)."""
    if not isinstance(cls, type):
        return {"is_class": False, "type": type(cls).__name__}
    try:
        is_optimizer = issubclass(cls, torch.optim.Optimizer)
        bases = [[str(base.__module__), str(base.__qualname__), base is torch.optim.Optimizer]
                 for base in cls.__mro__[1:]]
    except Exception:  # an odd metaclass
        is_optimizer, bases = False, []
    return {"is_class": True, "optimizer_subclass": is_optimizer, "bases": bases}


def _signature(cls: object) -> dict | None:
    """The constructor's argument names and the defaults it declares (None if unreadable)."""
    try:
        parameters = inspect.signature(cls.__init__).parameters
    except Exception:
        return None
    return {"names": list(parameters),
            "defaults": {name: parameter.default for name, parameter in parameters.items()
                         if parameter.default is not inspect.Parameter.empty}}


def _first_group(optimizer) -> dict:
    return {key: value for key, value in optimizer.param_groups[0].items() if key != "params"}


def _delegates(optimizer) -> list[str]:
    """Attributes of the student's optimizer that hold a PyTorch optimizer."""
    return [str(name) for name, value in vars(optimizer).items()
            if isinstance(value, torch.optim.Optimizer)]


def _attempt(cls, params: list, arguments: dict) -> dict:
    """Construct with `arguments` (invalid, or valid at an edge): what it raised (class names,
    message), or None."""
    try:
        cls(params, **arguments)
    except (NotImplementedError, Refused):  # see.call says which
        raise
    except Exception as error:
        return {"raised": [c.__name__ for c in type(error).__mro__], "message": str(error)}
    return {"raised": None, "message": ""}


def _scale_lr(optimizer, factor: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = group["lr"] * factor


# --- The optimizer probes -----------------------------------------------------------------------

def _probe_optimizer(see, spec: Inputs, cls: object) -> None:
    _restore_optim()
    see("class", _class_facts(cls))
    see("signature", _signature(cls))
    try:
        with _without_torch_optimizers(spec.name, spec.torch_name, cls):
            _construction(see, spec, cls)
            for run in spec.runs:
                _train(see, spec, cls, run)
            _frozen(see, spec, cls)
            for run in spec.varied_runs:
                _train(see, spec, cls, run)
            _on_meta(see, spec, cls)
    except Stopped:
        raise
    except Exception as error:  # the probe's own code, on what the student's optimizer left
        see.stop("probe", f"{spec.name}: the test's own code failed on what your optimizer "
                          f"left ({type(error).__name__}: {error}). Update the parameters in "
                          "place (same tensors, shape and dtype) and keep self.param_groups "
                          "as torch.optim.Optimizer builds it.")


def _construction(see, spec: Inputs, cls: object) -> None:
    where = f"{spec.name}(params{', ' if spec.required else ''}{shown(spec.required)})"
    optimizer = see.call("defaults construct", cls, [nn.Parameter(torch.zeros(2, dtype=DTYPE))],
                         **spec.required, what=where, record=False)
    see.call("defaults delegates", _delegates, optimizer, what=f"{where}'s attributes")
    see.call("defaults group", _first_group, optimizer, what=f"{where}.param_groups[0]")
    for index, kwargs in enumerate(spec.invalid):
        arguments = {**spec.required, **kwargs}
        params = [nn.Parameter(torch.zeros(2, dtype=DTYPE))]
        see.call(f"invalid {index}", _attempt, cls, params, arguments,
                 what=f"{spec.name}(params, {shown(arguments)})")
    for index, kwargs in enumerate(spec.valid):
        arguments = {**spec.required, **kwargs}
        params = [nn.Parameter(torch.zeros(2, dtype=DTYPE))]
        see.call(f"valid {index}", _attempt, cls, params, arguments,
                 what=f"{spec.name}(params, {shown(arguments)})")


def _train(see, spec: Inputs, cls: object, run: Run) -> None:
    """Train a fresh model with the student's optimizer; record the parameters after each step."""
    model, groups = small_model(run.kind)
    see(f"{run.key} names", [name for name, _ in model.named_parameters()])
    arguments = spec.run_arguments(run)
    loss_scale = spec.configs[run.config][1]
    if run.vary is None:
        groups = _scaled_groups(groups, arguments)
    else:
        values = spec.cycle(run.vary)[1]
        groups = _varied_groups(groups, run.vary, values)
    where = f"{spec.name}(params, {shown(arguments)})" if arguments else f"{spec.name}(params)"
    optimizer = see.call(f"{run.key} construct", cls, groups, **arguments, what=where, record=False)
    see.call(f"{run.key} delegates", _delegates, optimizer, what=f"{where}'s attributes")
    n_in = 4 if run.kind == "twins" else 6
    snapshots = []
    for step, (X, y) in enumerate(_batches(run.steps, n_in, 4), start=1):
        if run.vary is not None:
            see.call(f"{run.key} set {step}", _set_varied, optimizer, run.vary, values, step,
                     record=False, what=f"setting group[{run.vary!r}] of each parameter group")
        if run.schedule and step == run.steps // 2 + 1:
            see.call(f"{run.key} schedule", _scale_lr, optimizer, 0.3, record=False,
                     what="scaling group['lr'] of every parameter group by 0.3")
        if run.resume_at is not None and step == run.resume_at + 1:
            saved = see.call(f"{run.key} state_dict", optimizer.state_dict, record=False,
                             what=f"{spec.name}.state_dict()")
            fresh = copy.deepcopy(model)
            new_groups = _rebind_params(groups, model, fresh)
            model = fresh
            optimizer = see.call(f"{run.key} construct again", cls, new_groups, **arguments,
                                 what=where, record=False)
            see.call(f"{run.key} load_state_dict", optimizer.load_state_dict, saved, record=False,
                     what=f"{spec.name}.load_state_dict(saved_state)")

        def compute_loss(model=model, X=X, y=y, optimizer=optimizer):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(X), y) * loss_scale
            loss.backward()
            return loss

        if run.closure:
            see.call(f"{run.key} step {step}", optimizer.step, compute_loss,
                     what=f"{spec.name}.step(closure) at step {step}")
        else:
            see.call(f"{run.key} zero_grad {step}", optimizer.zero_grad, record=False,
                     what=f"{spec.name}.zero_grad() at step {step}")
            (F.cross_entropy(model(X), y) * loss_scale).backward()
            see.call(f"{run.key} step {step}", optimizer.step, record=False,
                     what=f"{spec.name}.step() at step {step}")
        snapshots.append([p.detach().clone() for p in model.parameters()])
    see(f"{run.key} parameters", snapshots)


# --- Contracts: parameters without gradient, the caller's .grad, the state's dtype and device ---

FROZEN_STEPS = 4
FREEZE_AFTER = 2  # "2.weight" is frozen after this step
# The parameters of the frozen run that get no gradient, and when.
NO_GRAD = {"0.bias": "frozen (requires_grad=False) from the start",
           "unused": "never used by the model, so it never gets a gradient",
           "2.weight": f"frozen after step {FREEZE_AFTER}"}


def frozen_model() -> nn.Module:
    torch.manual_seed(15)
    model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 4))
    model.register_parameter("unused", nn.Parameter(torch.randn(3)))
    model = model.to(DTYPE)
    model[0].bias.requires_grad_(False)
    return model


def _grads(model: nn.Module) -> dict:
    return {name: None if p.grad is None else p.grad.detach().clone()
            for name, p in model.named_parameters()}


def _state_summary(optimizer, model: nn.Module) -> dict:
    """For each parameter: its dtype and device, and [key, dtype, device, numel] of every
    tensor in its state (read without creating any)."""
    summary = {}
    for name, p in model.named_parameters():
        state = optimizer.state.get(p) if isinstance(optimizer.state, dict) else None
        tensors = [[str(key), str(value.dtype), str(value.device), int(value.numel())]
                   for key, value in (state.items() if isinstance(state, dict) else ())
                   if isinstance(value, torch.Tensor)]
        summary[name] = {"dtype": str(p.dtype), "device": str(p.device), "state": tensors}
    return summary


def _frozen(see, spec: Inputs, cls: object) -> None:
    """A step() before any backward(), then steps with parameters that have no gradient; each
    p.grad before and after every step, and what the state holds at the end."""
    model = frozen_model()
    arguments = spec.arguments(spec.contract_config)
    where = f"{spec.name}(params, {shown(arguments)})"
    optimizer = see.call("frozen construct", cls, list(model.parameters()), **arguments, what=where,
                         record=False)
    see.call("frozen step 0", optimizer.step, record=False,
             what=f"{spec.name}.step() called before any backward() (no parameter has a gradient)")
    snapshots = [[p.detach().clone() for p in model.parameters()]]
    for step, (X, y) in enumerate(_batches(FROZEN_STEPS, 6, 4, seed=8), start=1):
        if step == FREEZE_AFTER + 1:
            model[2].weight.requires_grad_(False)
        optimizer.zero_grad()
        F.cross_entropy(model(X), y).backward()
        see(f"frozen grads before {step}", _grads(model))
        see.call(f"frozen step {step}", optimizer.step, record=False,
                 what=f"{spec.name}.step() on a model with parameters whose .grad is None "
                      f"(step {step})")
        see(f"frozen grads after {step}", _grads(model))
        snapshots.append([p.detach().clone() for p in model.parameters()])
    see("frozen names", [name for name, _ in model.named_parameters()])
    see("frozen parameters", snapshots)
    see.call("frozen state", _state_summary, optimizer, model, what=f"{spec.name}.state")


def _meta_steps(optimizer, p: torch.Tensor) -> dict:
    """Two steps on a parameter on the meta device: what they raised, if anything (this step()
    has run before, so a NotImplementedError here is a meta kernel's, not a blank exercise's)."""
    try:
        for _ in range(2):
            p.grad = torch.ones_like(p)
            optimizer.step()
    except Refused:
        raise
    except Exception as error:
        return {"raised": type(error).__name__, "message": str(error)}
    return {"raised": None, "message": ""}


def _on_meta(see, spec: Inputs, cls: object) -> None:
    """The optimizer on a parameter of the `meta` device: does its state follow the parameter?"""
    model = nn.Linear(3, 4, bias=False, device="meta")
    arguments = spec.arguments(spec.contract_config)
    optimizer = see.call("meta construct", cls, [model.weight], **arguments,
                         what=f"{spec.name}(params, {shown(arguments)})", record=False)
    see.call("meta steps", _meta_steps, optimizer, model.weight,
             what=f"{spec.name}.step() on a parameter on the meta device")
    see.call("meta state", _state_summary, optimizer, model, what=f"{spec.name}.state")


@probe
def test_momentum_sgd(see, MomentumSGD):
    _probe_optimizer(see, INPUTS["MomentumSGD"], MomentumSGD)


@probe
def test_adagrad(see, AdaGrad):
    _probe_optimizer(see, INPUTS["AdaGrad"], AdaGrad)


@probe
def test_rmsprop(see, RMSProp):
    _probe_optimizer(see, INPUTS["RMSProp"], RMSProp)


@probe
def test_adam(see, Adam):
    _probe_optimizer(see, INPUTS["Adam"], Adam)


@probe
def test_adamax(see, AdaMax):
    _probe_optimizer(see, INPUTS["AdaMax"], AdaMax)


@probe
def test_nadam(see, NAdam):
    _probe_optimizer(see, INPUTS["NAdam"], NAdam)


@probe
def test_adamw(see, AdamW):
    _probe_optimizer(see, INPUTS["AdamW"], AdamW)


# --- Adam's first step, in closed form ---------------------------------------------------------

# The arguments each case passes: (lr, betas, eps). Defaults; other betas, two of them at 0 (one
# of the two moving averages is then the gradient itself); a beta2 close to 1, where skipping the
# bias correction distorts the step most; an eps as large as some gradients, and a tiny one.
FIRST_STEP_SETTINGS = ((1e-3, (0.9, 0.999), 1e-8), (0.01, (0.8, 0.99), 1e-6),
                       (0.1, (0.9, 0.99999), 1e-8), (2e-4, (0.0, 0.5), 1e-3),
                       (0.05, (0.95, 0.0), 1e-12))


def first_step_grads() -> dict[str, torch.Tensor]:
    """The gradients the cases pass: mixed signs and scales, sizes near eps, huge values and
    zeros, float32, a 0-dimensional tensor, and a seeded spread over nine decades."""
    generator = torch.Generator().manual_seed(31)
    spread = torch.randn(3, 4, generator=generator, dtype=DTYPE)
    spread = spread * 10.0 ** torch.empty(3, 4, dtype=DTYPE).uniform_(-6, 3, generator=generator)
    return {
        "mixed": torch.tensor([[0.3, -2.0, 1e-3], [-7.5, 400.0, -0.02]], dtype=DTYPE),
        "near eps": torch.tensor([1e-8, -3e-9, 2e-7, -1e-10, 5e-8, -1e-8], dtype=DTYPE),
        "huge and zero": torch.tensor([1e6, -3e12, 0.0, 2.5e30, -0.0, 1e-20], dtype=DTYPE),
        "float32": torch.tensor([0.5, -1e-3, 3e3, 0.0, -2e-6], dtype=torch.float32),
        "0-dimensional": torch.tensor(-0.7, dtype=DTYPE),
        "spread": spread,
    }


def first_step_cases() -> list[tuple[str, str, int, bool]]:
    """(record key, gradient, setting, bias_correction) of every case with its arguments given:
    each gradient with two settings, with and without the bias correction."""
    cases = []
    for index, name in enumerate(first_step_grads()):
        for setting in (index % len(FIRST_STEP_SETTINGS), (index + 2) % len(FIRST_STEP_SETTINGS)):
            for corrected in (True, False):
                cases.append((f"first step {name} {setting} {corrected}", name, setting, corrected))
    return cases


_NO_OPTIMIZER = ("adam_first_step must compute the change from the closed form you derived (m₁, v₁ "
                 "and the bias correction), without running an optimizer (neither torch.optim.Adam "
                 "nor your Adam class).")


def _no_optimizer(*args, **kwargs):
    raise Refused(_NO_OPTIMIZER)


_NOTEBOOK_OPTIMIZERS = ("GradientDescent", *INPUTS)


@probe
def test_adam_first_step(see, adam_first_step):
    function = with_globals(adam_first_step, **dict.fromkeys(_NOTEBOOK_OPTIMIZERS, _no_optimizer))
    with _without_torch_optimizers("adam_first_step", "Adam", function, _NO_OPTIMIZER):
        for key, name, setting, corrected in first_step_cases():
            grad = first_step_grads()[name]
            lr, betas, eps = FIRST_STEP_SETTINGS[setting]
            see.call(key, function, grad, lr=lr, betas=betas, eps=eps, bias_correction=corrected,
                     what=f"adam_first_step(grad, lr={lr:g}, betas={betas}, eps={eps:g}, "
                          f"bias_correction={corrected})")
            see(f"{key} grad after", grad)
        for name, grad in first_step_grads().items():
            see.call(f"first step {name} defaults", function, grad, what="adam_first_step(grad)")


# --- Pruning -----------------------------------------------------------------------------------

PRUNE_AMOUNTS = (0.6, 0.25, 0.9, 0.0, 1.0)  # the edges last: nothing pruned, everything pruned


def pruning_model() -> nn.Module:
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


def _linear_weights(model: nn.Module) -> list:
    return [module.weight for module in model.modules() if isinstance(module, nn.Linear)]


def _after(model: nn.Module) -> dict:
    return {"linear weights": _linear_weights(model), "state": dict(model.state_dict()),
            "parameters": dict(model.named_parameters())}


@probe
def test_prune_smallest(see, prune_smallest):
    for amount in PRUNE_AMOUNTS:
        model = pruning_model()
        where = f"prune_smallest(model, {amount})"
        see(f"{where} linear weight names", [f"{name}.weight" for name, module in model.named_modules()
                                             if isinstance(module, nn.Linear)])
        see(f"{where} before", model.state_dict())
        see.call(where, prune_smallest, model, amount, what=where)
        see.call(f"{where} after", _after, model, what=f"the model after {where}")


test_q1_momentum_near_one = answer("test_q1_momentum_near_one")
test_q2_terminal_velocity = answer("test_q2_terminal_velocity")
test_q3_adam_first_step = answer("test_q3_adam_first_step")
test_q4_adagrad_stops = answer("test_q4_adagrad_stops")
test_q5_decoupled_decay = answer("test_q5_decoupled_decay")
test_q6_momentum_two_steps = answer("test_q6_momentum_two_steps")
