"""What every probe stands on: it calls a student's code on the grader's inputs and records
what it sees, as plain data. It never judges.

A probe runs twice per grade cell: in the student's jailed kernel on the student's answer,
and in the trusted judge (autograder/judge.py) on the reference answer. The judge compares
the two records with the exercise's checks (autograder/checks/). So nothing here may hold
a reference, an expected value or a verdict, and nothing the probe writes is trusted: a
submission can rewrite its own record, but without the answer it can only make itself fail.

- `@probe` marks a probe, one per grade cell, named after it: `def test_x(see, subject)`.
  Called from the grade cell's hidden part with the student's object, it restores the guarded
  modules that student code may have rebound, silences warnings, forks the RNG, runs, and
  writes its record (grade id, observations in order, and the error that stopped it, if
  any) to the record channel: an inherited descriptor while grading, a list in this process
  for the self-check.
- `see(key, value)` records a value; `see.call(key, function, ...)` calls the student's
  function and records what it returned; a crash or `NotImplementedError` is recorded as
  the message a student understands and ends the probe.
- `with_globals` and `forbidden` run a student's function with stand-ins for earlier
  exercises (so one mistake costs one exercise) and without a library function it must
  not use.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import importlib
import io
import os
import struct
import sys
import types
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.autograd.functional
import torch.func

_GUARDED_MODULES = (
    "builtins", "math", "random", "numpy", "torch", "torch.nn", "torch.nn.functional",
    "torch.nn.init", "torch.nn.utils", "torch.linalg", "torch.testing", "torch.optim",
    "torch.optim.lr_scheduler", "torch.autograd", "labs", "labs.augment", "labs.batching",
    "labs.data", "labs.device", "labs.models", "labs.plots", "labs.session", "labs.training",
)


def _snapshot() -> dict[str, tuple[types.ModuleType, dict[str, Any]]]:
    taken = {}
    for name in _GUARDED_MODULES:
        with contextlib.suppress(ImportError):
            module = importlib.import_module(name)
            taken[name] = (module, dict(vars(module)))
    return taken


_SNAPSHOT = _snapshot()
_MISSING = object()
_NotImplementedError = builtins.NotImplementedError
_Exception = builtins.Exception
_isinstance = builtins.isinstance
_setattr = builtins.setattr
_getattr = builtins.getattr
_vars = builtins.vars
_FunctionType = types.FunctionType
_FRAME = struct.Struct("<Q")


def guard(module: types.ModuleType) -> None:
    """Snapshot `module` too (the kernel's preamble guards the probes' own modules this way)."""
    _SNAPSHOT[module.__name__] = (module, dict(vars(module)))


def restore_guarded_modules() -> list[str]:
    """Undo student rebinding of guarded module attributes; return what was restored."""
    restored = []
    for name, (module, attributes) in _SNAPSHOT.items():
        current = _vars(module)
        for key, value in attributes.items():
            if current.get(key, _MISSING) is not value:
                _setattr(module, key, value)
                restored.append(f"{name}.{key}")
    return restored


class Stopped(Exception):
    """The student's code failed where the probe called it; the record says how."""


class Refused(AssertionError):
    """Student code used what its exercise forbids (raised inside student code by `forbidden`)."""


# --- The record ---------------------------------------------------------------------------


def to_data(value: Any) -> Any:
    """`value` as plain data: exact builtin types, lists, str-keyed dicts and plain CPU tensors.

    Modules become their class name, mode and state; anything else its type's name. Subclasses
    of builtins lose their methods (the judge checks exact types again on its side).
    """
    if value is None or type(value) in (bool, int, float, str):
        return value
    if _isinstance(value, int):
        return int.__int__(value)
    if _isinstance(value, float):
        return float.__float__(value)
    if _isinstance(value, str):
        return str.__str__(value)
    if _isinstance(value, torch.Tensor):
        return value.detach().as_subclass(torch.Tensor).to("cpu", copy=True).contiguous()
    if _isinstance(value, (torch.dtype, torch.device)):
        return str(value)
    if _isinstance(value, (list, tuple)):
        return [to_data(item) for item in value]
    if _isinstance(value, dict):
        return {str(key): to_data(item) for key, item in value.items()}
    if _isinstance(value, torch.nn.Module):
        return module_state(value)
    numpy = sys.modules.get("numpy")
    if numpy is not None and _isinstance(value, (numpy.ndarray, numpy.generic)):
        return to_data(torch.as_tensor(value)) if _isinstance(value, numpy.ndarray) else to_data(value.item())
    return {"type": type(value).__name__}


def module_state(module: torch.nn.Module) -> dict[str, Any]:
    """What a module is, as data: its class, mode (and its children's), parameters and buffers."""
    return {
        "type": type(module).__name__,
        "training": {name or ".": bool(child.training) for name, child in module.named_modules()},
        "parameters": {name: to_data(p) for name, p in module.named_parameters()},
        "requires_grad": {name: bool(p.requires_grad) for name, p in module.named_parameters()},
        "grads": {name: to_data(p.grad) for name, p in module.named_parameters()},
        "buffers": {name: to_data(b) for name, b in module.named_buffers()},
    }


class Observer:
    """What one probe saw, in order; `see` in a probe's signature."""

    def __init__(self, grade_id: str) -> None:
        self.grade_id = grade_id
        self.observations: dict[str, Any] = {}
        self.stopped: dict[str, str] | None = None

    def __call__(self, key: str, value: Any) -> Any:
        """Record `value` under `key` (as data) and hand it back unchanged."""
        self.observations[key] = to_data(value)
        return value

    def stop(self, key: str, message: str) -> None:
        """End the probe: at `key` the student's code failed with `message`."""
        self.stopped = {"key": key, "message": message}
        raise Stopped(message)

    def call(self, key: str, function: Callable[..., Any], *args: Any, record: bool = True,
             what: str | None = None, **kwargs: Any) -> Any:
        """Call a student's function; record its result under `key` (or, with `record=False`,
        only that it returned: the string "returned").

        `NotImplementedError`, a crash, or a forbidden function used ends the probe with a
        message a student understands. Names in the function's globals bound to a forbidden
        object (`from torch.nn.functional import elu`) are refused too.
        """
        name = what or f"{_getattr(function, '__name__', 'your function')}(...)"
        if not callable(function):
            self.stop(key, f"{name}: expected a function, got {type(function).__name__}. "
                           "Run the exercise's cell.")
        try:
            with _forbidden_in_globals(function):
                result = function(*args, **kwargs)
        except _NotImplementedError:
            self.stop(key, f"{name} is not implemented yet: replace `raise NotImplementedError()` "
                           "with your code.")
        except Refused as refusal:
            self.stop(key, str(refusal))
        except _Exception as error:
            self.stop(key, f"{name} raised {type(error).__name__}: {error}")
        self(key, result if record else "returned")
        return result

    def raises(self, key: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Record the name of the exception class `function(*args)` raises, or None."""
        try:
            with _forbidden_in_globals(function):
                function(*args, **kwargs)
        except _NotImplementedError:
            self.stop(key, f"{_getattr(function, '__name__', 'your function')} is not implemented "
                           "yet: replace `raise NotImplementedError()` with your code.")
        except _Exception as error:
            self(key, [cls.__name__ for cls in type(error).__mro__])
            return
        self(key, None)

    def record(self) -> dict[str, Any]:
        return {"grade_id": self.grade_id, "observations": self.observations, "stopped": self.stopped}


_SINK: dict[str, Any] = {"fd": None, "records": None}


def record_to(fd: int) -> None:
    """Write every probe's record to the inherited descriptor `fd` (grading)."""
    _SINK["fd"] = fd


@contextlib.contextmanager
def records_in_memory() -> Iterator[list[dict[str, Any]]]:
    """Collect the records of the probes run in the block into a list (the self-check)."""
    saved = dict(_SINK)
    collected: list[dict[str, Any]] = []
    _SINK.update(fd=None, records=collected)
    try:
        yield collected
    finally:
        _SINK.update(saved)


def encode(record: dict[str, Any]) -> bytes:
    """One record as a frame of the channel: its length, then `torch.save` of plain data."""
    buffer = io.BytesIO()
    torch.save(record, buffer)
    return _FRAME.pack(buffer.tell()) + buffer.getvalue()


def _write(record: dict[str, Any]) -> None:
    if _SINK["records"] is not None:
        _SINK["records"].append(record)
    if _SINK["fd"] is not None:
        frame = encode(record)
        while frame:
            frame = frame[os.write(_SINK["fd"], frame):]


def observe(probe_function: Callable[..., None], grade_id: str, subject: Any) -> dict[str, Any]:
    """Run a probe on `subject` and return its record (the judge runs the reference this way).

    On one thread, in the kernel as in the judge: the student's record and the reference's
    are computed alike, so a check can compare them to the last bit where it must.
    """
    see = Observer(grade_id)
    with one_thread(), warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
        warnings.simplefilter("ignore")
        with contextlib.suppress(Stopped):
            probe_function(see, subject)
    return see.record()


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run the block on one CPU thread: probes and checks compute alike wherever they run (and
    their tiny tensor operations run faster than when a busy CPU's threads fight over them)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def probe(function: Callable[..., None]) -> Callable[[Any], None]:
    """Mark a probe; calling the result with the student's object records what it does."""

    @functools.wraps(function)
    def run(subject: Any) -> None:
        restore_guarded_modules()
        _write(observe(function, function.__name__, subject))
        print(f"recorded for grading: {function.__name__}")

    run.observe = function
    return run


def answer(grade_id: str) -> Callable[[Any], None]:
    """The probe of a concept question: it records the answer as given."""

    def record(see: Observer, given: Any) -> None:
        see("answer", given)

    record.__name__ = record.__qualname__ = grade_id
    return probe(record)


# --- Running student code apart from earlier exercises and from library shortcuts -----------


def with_globals(function: Callable[..., Any], **names: Any) -> Callable[..., Any]:
    """A copy of a student's function that sees `names` (stand-ins) as its globals.

    So a probe of `init_linear_` runs with a known `init_std` stand-in even when the student's
    own `init_std` is wrong: each exercise is graded on its own.
    """
    if not _isinstance(function, _FunctionType):
        return function
    scope = dict(function.__globals__)
    scope.update(names)
    copy = _FunctionType(function.__code__, scope, function.__name__, function.__defaults__,
                         function.__closure__)
    copy.__kwdefaults__ = function.__kwdefaults__
    return copy


def with_class_globals(cls: Any, **names: Any) -> Any:
    """A subclass of a student's class whose methods see `names` (stand-ins) as globals."""
    if not _isinstance(cls, type):
        return cls
    methods = {key: with_globals(value, **names) for key, value in vars(cls).items()
               if _isinstance(value, _FunctionType)}
    return type(cls.__name__, (cls,), methods)


_ACTIVE_BANS: list[tuple[object, Callable[..., Any]]] = []


@contextlib.contextmanager
def forbidden(module: types.ModuleType, names: tuple[str, ...], reason: str,
              within: object = None) -> Iterator[None]:
    """Make `module.name` raise `Refused(reason)` for each name while the block runs.

    Student functions called through `see.call` in the block are refused these objects however
    they reach them: through the module, or through a name imported into their globals. Pass
    the student's class or function as `within` to cover calls made outside `see.call` too.
    """
    saved = {name: _getattr(module, name) for name in names if hasattr(module, name)}

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise Refused(reason)

    bans = [(value, refuse) for value in saved.values()]
    try:
        for name in saved:
            _setattr(module, name, refuse)
        _ACTIVE_BANS.extend(bans)
        with _forbidden_in_globals(within) if within is not None else contextlib.nullcontext():
            yield
    finally:
        del _ACTIVE_BANS[len(_ACTIVE_BANS) - len(bans):]
        for name, value in saved.items():
            _setattr(module, name, value)


@contextlib.contextmanager
def _forbidden_in_globals(function: Callable[..., Any]) -> Iterator[None]:
    scopes = _global_scopes(function) if _ACTIVE_BANS else []
    swapped = []
    for scope in scopes:
        for key, value in list(scope.items()):
            refusal = next((refuse for banned, refuse in _ACTIVE_BANS if value is banned), None)
            if refusal is not None:
                swapped.append((scope, key, value))
                scope[key] = refusal
    try:
        yield
    finally:
        for scope, key, value in swapped:
            scope[key] = value


# --- Gradients by hand -------------------------------------------------------------------------

_ORIGINAL = {"grad": torch.autograd.grad}  # in a dict: a ban swaps globals bound to it
_AUTOGRAD_ENTRY_POINTS = (
    (torch.autograd, ("grad", "backward")),
    (torch.Tensor, ("backward",)),
    (torch.autograd.functional, ("jacobian", "hessian", "vjp", "jvp", "vhp", "hvp")),
    (torch.func, ("grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "linearize")),
)


@contextlib.contextmanager
def by_hand(reason: str, within: object = None) -> Iterator[None]:
    """Refuse every autograd entry point (`torch.autograd.grad`, `Tensor.backward`, `torch.func`,
    ...) to student code run in the block: a derivative or `backward` written by hand must not
    ask autograd for the answer. Run the student's backward with `gradients`, which still works.
    """
    with contextlib.ExitStack() as stack:
        for module, names in _AUTOGRAD_ENTRY_POINTS:
            stack.enter_context(forbidden(module, names, reason, within=within))
        yield


def gradients(outputs: Any, inputs: Any, grad_outputs: Any = None) -> tuple[Any, ...]:
    """`torch.autograd.grad` as it was before any ban (None for an input the graph does not
    reach): how a probe runs a student's hand-written backward inside `by_hand`."""
    return _ORIGINAL["grad"](outputs, inputs, grad_outputs, allow_unused=True)


def _global_scopes(function: Callable[..., Any]) -> list[dict]:
    """The globals dicts a student's function or class will look names up in."""
    members = [function] if _isinstance(function, _FunctionType) else list(_vars(function).values()) \
        if _isinstance(function, type) else []
    scopes = {}
    for member in members:
        code_owner = _getattr(member, "__func__", member)
        scope = _getattr(code_owner, "__globals__", None)
        if _isinstance(scope, dict):
            scopes[id(scope)] = scope
    return list(scopes.values())
