"""What every hidden test stands on, built so that student code cannot pull it out from under it.

- When this module is first imported (the grader imports it before any student cell runs)
  it snapshots the attributes of the modules that checks rely on: `builtins`, `math`,
  `random`, `numpy`, `torch` and its `nn`, `functional`, `init`, `linalg`, `testing`, `optim`
  and scheduler modules, and the course's `labs` helpers. Every `@hidden_test` restores any
  attribute that student code has rebound (`torch.allclose = lambda *a, **k: True`,
  `builtins.isinstance = ...`) before it runs.
- Checks call student functions through `call`, which turns "not implemented" and crashes
  into messages a student understands, and through `with_globals`, which runs a student
  function with earlier exercises bound to the reference, so one mistake costs one
  exercise, not every exercise built on it.
- Checks run with warnings silenced and the global RNG state forked, so they neither fill
  the feedback with warnings the student did not cause nor change the random numbers that
  later cells draw.
- While grading, each passing hidden test also writes a keyed line to an evidence stream that
  the grader reads afterwards: a grade cell whose hidden test never reported a pass scores
  0, however its output looks (a blanked, skipped or faked test cell proves nothing).
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import importlib
import math
import sys
import types
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch

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
_EVIDENCE: dict[str, Any] = {"file": None, "key": ""}


def guard(module: types.ModuleType) -> None:
    """Snapshot `module` too (the grader guards the hidden tests' own modules this way)."""
    _SNAPSHOT[module.__name__] = (module, dict(vars(module)))


def report_passes_to(stream: Any, key: str) -> None:
    """Write a line `key name` to `stream` whenever a hidden test passes (grading only)."""
    _EVIDENCE["file"] = stream
    _EVIDENCE["key"] = key
_AssertionError = builtins.AssertionError
_NotImplementedError = builtins.NotImplementedError
_Exception = builtins.Exception
_isinstance = builtins.isinstance
_setattr = builtins.setattr
_getattr = builtins.getattr
_vars = builtins.vars
_FunctionType = types.FunctionType


class CheckFailed(AssertionError):
    """A hidden test found the student's answer wrong; the message says how."""


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


_MISSING = object()


def hidden_test(check: Callable[..., None]) -> Callable[..., None]:
    """Mark a check: restore guarded modules, silence warnings, fork the RNG, then run it."""

    @functools.wraps(check)
    def run(*args: Any, **kwargs: Any) -> None:
        restore_guarded_modules()
        with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
            warnings.simplefilter("ignore")
            check(*args, **kwargs)
        evidence = _EVIDENCE["file"]
        if evidence is not None:
            evidence.write(f"{_EVIDENCE['key']} {check.__name__}\n")
            evidence.flush()
        print(f"✓ hidden tests passed: {check.__name__}")

    return run


def fail(message: str) -> None:
    """Fail the current hidden test with `message` (what is wrong, and what to check)."""
    raise CheckFailed(message)


def expect(condition: object, message: str) -> None:
    """Fail with `message` unless `condition` holds."""
    if not condition:
        fail(message)


def call(function: Callable[..., Any], *args: Any, what: str | None = None, **kwargs: Any) -> Any:
    """Call a student's function; report `NotImplementedError` and crashes as failed checks.

    Inside a `forbidden` block, names in the function's globals that are bound to a forbidden
    object (`from torch.nn.functional import elu`) are swapped for the refusal as well.
    """
    name = what or f"{_getattr(function, '__name__', 'your function')}(...)"
    if not callable(function):
        fail(f"{name}: expected a function, got {type(function).__name__}. Run the exercise's cell.")
    with _forbidden_in_globals(function):
        return _call(function, name, args, kwargs)


def _call(function: Callable[..., Any], name: str, args: tuple, kwargs: dict) -> Any:
    try:
        return function(*args, **kwargs)
    except _NotImplementedError:
        fail(f"{name} is not implemented yet: replace `raise NotImplementedError()` with your code.")
    except CheckFailed:
        raise
    except _Exception as error:
        fail(f"{name} raised {type(error).__name__}: {error}")
    return None


def expect_raises(error_type: type[BaseException], function: Callable[..., Any], *args: Any,
                  message: str, **kwargs: Any) -> None:
    """Fail with `message` unless calling `function` raises `error_type`."""
    try:
        function(*args, **kwargs)
    except error_type:
        return
    except _NotImplementedError:
        fail(f"{function.__name__} is not implemented yet: replace `raise NotImplementedError()`.")
    except _Exception as error:
        fail(f"{message} (it raised {type(error).__name__}: {error})")
    fail(message)


def expect_close(actual: object, expected: float | torch.Tensor, *, what: str, rtol: float = 1e-6,
                 atol: float = 1e-8, hint: str = "") -> None:
    """Fail unless `actual` matches `expected` within the stated tolerance, saying by how much."""
    if _isinstance(expected, torch.Tensor):
        expect(_isinstance(actual, torch.Tensor),
               f"{what}: expected a tensor, got {type(actual).__name__}.")
        expect(actual.shape == expected.shape,
               f"{what}: expected shape {tuple(expected.shape)}, got {tuple(actual.shape)}.")
        actual_f, expected_f = actual.detach().double().cpu(), expected.detach().double().cpu()
        if torch.allclose(actual_f, expected_f, rtol=rtol, atol=atol, equal_nan=True):
            return
        error = (actual_f - expected_f).abs().max().item()
        fail(f"{what}: largest difference {error:.3g} exceeds the tolerance "
             f"(rtol={rtol:g}, atol={atol:g}). {hint}".strip())
    expect(_isinstance(actual, (int, float)) or (_isinstance(actual, torch.Tensor)
                                                 and actual.numel() == 1),
           f"{what}: expected a number, got {type(actual).__name__}.")
    value = float(actual)
    if math.isclose(value, float(expected), rel_tol=rtol, abs_tol=atol):
        return
    fail(f"{what}: got {value:.6g}, expected {float(expected):.6g} "
         f"(relative tolerance {rtol:g}). {hint}".strip())


def with_globals(function: Callable[..., Any], **names: Any) -> Callable[..., Any]:
    """A copy of a student's function that sees `names` (reference helpers) as its globals.

    So a check of `init_linear_` uses the reference `init_std` even when the student's own
    `init_std` is wrong: each exercise is graded on its own.
    """
    if not _isinstance(function, _FunctionType):
        return function
    scope = dict(function.__globals__)
    scope.update(names)
    copy = _FunctionType(function.__code__, scope, function.__name__, function.__defaults__,
                         function.__closure__)
    copy.__kwdefaults__ = function.__kwdefaults__
    return copy


_ACTIVE_BANS: list[tuple[object, Callable[..., Any]]] = []


@contextlib.contextmanager
def forbidden(module: types.ModuleType, names: tuple[str, ...], reason: str,
              within: object = None) -> Iterator[None]:
    """Make `module.name` raise for each name while the block runs (for "without X" exercises).

    Student functions called through `call` in the block are refused these objects however
    they reach them: through the module, or through a name imported into their globals. Pass
    the student's class or function as `within` to cover calls made outside `call` too.
    """
    saved = {name: _getattr(module, name) for name in names if hasattr(module, name)}

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise CheckFailed(reason)

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


def expect_choice(answer: object, correct: str, *, question: str, options: str = "abcd") -> None:
    """Check a multiple-choice answer given as one letter."""
    expect(_isinstance(answer, str) and answer.strip().lower() in options,
           f"{question}: answer with one letter among {', '.join(options)} (a string such as 'a').")
    expect(answer.strip().lower() == correct, f"{question}: that is not the right choice.")


def expect_number(answer: object, correct: float, *, question: str, rel_tol: float = 0.01) -> None:
    """Check a numeric answer to within `rel_tol` (1% unless the question says otherwise)."""
    expect(_isinstance(answer, (int, float)) and not _isinstance(answer, bool),
           f"{question}: answer with a number.")
    expect(math.isclose(float(answer), correct, rel_tol=rel_tol),
           f"{question}: {answer} is not right (answers within {rel_tol:.0%} count).")


def reference(module_name: str) -> types.ModuleType:
    """The reference solutions module, loaded once (instructor side only)."""
    return sys.modules.get(module_name) or importlib.import_module(module_name)
