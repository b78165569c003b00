"""What every check stands on: a trusted judge's comparison of two records.

A check is `def test_x(got, want)`, named after its grade cell. `got` is what the probe of
the same name (autograder/probes/) observed of the student's answer inside the jailed
kernel; `want` is what it observed of the reference answer, here in the judge. A check
passes by returning and fails by raising `CheckFailed` with a message a student
understands: what is wrong and what to check. Checks never run in the student's kernel
and never call student code: they read data.

`got[key]` is the student's observation under `key`. If the student's code failed before
the probe reached it, reading it fails with that failure's message ("init_std(...) is not
implemented yet"); if nothing was recorded (the cell was changed, skipped or forged), it
fails saying so. `want[key]` is the reference's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import torch


class CheckFailed(AssertionError):
    """A check found the student's answer wrong; the message says how."""


def fail(message: str) -> None:
    """Fail the current check with `message` (what is wrong, and what to check)."""
    raise CheckFailed(message)


def expect(condition: object, message: str) -> None:
    """Fail with `message` unless `condition` holds."""
    if not condition:
        fail(message)


class Observed:
    """One probe's record, read by key: the student's (`got`) or the reference's (`want`)."""

    def __init__(self, record: dict[str, Any] | None, *, reference: bool = False,
                 missing: str = "") -> None:
        record = record or {"observations": {}, "stopped": None}
        self.observations: dict[str, Any] = record["observations"]
        self.stopped: dict[str, str] | None = record["stopped"]
        self.reference = reference
        self.missing = missing or ("the hidden tests recorded nothing here: the cell was changed, "
                                   "skipped or stopped before they ran")

    def __getitem__(self, key: str) -> Any:
        if key in self.observations:
            return self.observations[key]
        if self.reference:
            raise KeyError(f"the reference's probe recorded no {key!r} (a probe that stops on the "
                           f"reference is a bug): {self.stopped}")
        if self.stopped is not None:
            fail(self.stopped["message"])
        fail(self.missing)
        return None

    def __contains__(self, key: str) -> bool:
        return key in self.observations

    def keys(self, prefix: str = "") -> list[str]:
        """The recorded keys that start with `prefix`, in the order they were recorded."""
        return [key for key in self.observations if key.startswith(prefix)]

    def items(self, prefix: str = "") -> Iterator[tuple[str, Any]]:
        """(key, value) for the keys that start with `prefix`, in order."""
        for key in self.keys(prefix):
            yield key, self.observations[key]


def expect_tensor(actual: object, *, what: str, like: torch.Tensor | None = None) -> torch.Tensor:
    """`actual` if it is a tensor (of `like`'s shape and dtype, when given); else fail."""
    expect(type(actual) is torch.Tensor, f"{what}: expected a tensor, got {_kind(actual)}.")
    if like is not None:
        expect(actual.shape == like.shape,
               f"{what}: expected shape {tuple(like.shape)}, got {tuple(actual.shape)}.")
        expect(actual.dtype == like.dtype, f"{what}: expected dtype {like.dtype}, got {actual.dtype}: "
                                           "keep the input's dtype (build new tensors with "
                                           "dtype=x.dtype, or *_like functions).")
    return actual


def expect_close(actual: object, expected: float | torch.Tensor, *, what: str, rtol: float = 1e-6,
                 atol: float = 1e-8, hint: str = "", check_dtype: bool = False) -> None:
    """Fail unless `actual` matches `expected` within the stated tolerance, saying by how much."""
    if type(expected) is torch.Tensor:
        expect_tensor(actual, what=what)
        expect(actual.shape == expected.shape,
               f"{what}: expected shape {tuple(expected.shape)}, got {tuple(actual.shape)}.")
        if check_dtype:
            expect_tensor(actual, what=what, like=expected)
        actual_f, expected_f = actual.double(), expected.double()
        if torch.allclose(actual_f, expected_f, rtol=rtol, atol=atol, equal_nan=True):
            return
        error = (actual_f - expected_f).abs().nan_to_num(nan=math.inf).max().item()
        fail(f"{what}: largest difference {error:.3g} exceeds the tolerance "
             f"(rtol={rtol:g}, atol={atol:g}). {hint}".strip())
    value = number(actual, what=what)
    if math.isclose(value, float(expected), rel_tol=rtol, abs_tol=atol):
        return
    fail(f"{what}: got {value:.6g}, expected {float(expected):.6g} "
         f"(relative tolerance {rtol:g}). {hint}".strip())


def number(actual: object, *, what: str) -> float:
    """`actual` as a float if it is a number or a one-element tensor; else fail."""
    if type(actual) is torch.Tensor and actual.numel() == 1:
        return float(actual.double().item())
    expect(type(actual) in (int, float), f"{what}: expected a number, got {_kind(actual)}.")
    return float(actual)


def expect_choice(answer: object, correct: str, *, question: str, options: str = "abcd") -> None:
    """Check a multiple-choice answer given as one letter (an exact str: the judge's side)."""
    expect(type(answer) is str and answer.strip().lower() in options,
           f"{question}: answer with one letter among {', '.join(options)} (a string such as 'a').")
    expect(answer.strip().lower() == correct, f"{question}: that is not the right choice.")


def expect_number(answer: object, correct: float, *, question: str, rel_tol: float = 0.01) -> None:
    """Check a numeric answer to within `rel_tol` (1% unless the question says otherwise)."""
    expect(type(answer) in (int, float), f"{question}: answer with a number.")
    expect(math.isclose(float(answer), correct, rel_tol=rel_tol),
           f"{question}: {answer} is not right (answers within {rel_tol:.0%} count).")


def choice_question(question: str, options: str = "abcd") -> Callable[[Observed, Observed], None]:
    """The check of a multiple-choice question: the recorded answer against the reference's."""

    def check(got: Observed, want: Observed) -> None:
        expect_choice(got["answer"], want["answer"], question=question, options=options)

    return check


def number_question(question: str, rel_tol: float = 0.01) -> Callable[[Observed, Observed], None]:
    """The check of a numeric question: the recorded answer within `rel_tol` of the reference's."""

    def check(got: Observed, want: Observed) -> None:
        expect_number(got["answer"], want["answer"], question=question, rel_tol=rel_tol)

    return check


def _kind(value: object) -> str:
    if isinstance(value, dict) and set(value) == {"type"}:
        return str(value["type"])
    return type(value).__name__
