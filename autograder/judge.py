"""The trusted judge: from a submission's records to each grade cell's verdict.

Runs outside the student's process (in the grading worker, in nbgrader's process for a
course folder, or in the self-check, which runs only trusted code). For one grade cell it

1. runs the cell's probe (autograder/probes/) on the reference answer (`solutions/`), once per
   process: the same inputs, seeds and one thread give the same record bit for bit;
2. hands the student's record and the reference's to the cell's check (autograder/checks/),
   which passes or fails with a message;
3. on a failure, runs the probe on the known mistakes of that cell (autograder/variants/) and,
   when the student's record passes against one of them, says which mistake it looks like.

A record the check cannot read (a forged type, a missing key) fails the cell alone.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import os
import re
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from autograder.checks.core import CheckFailed, Observed
from autograder.probes import core as probes_core

# The hidden part of a grade cell names its probe and the student's object it probes.
HIDDEN_CALL = re.compile(r"^\s*hidden\.(test_\w+)\(\s*([A-Za-z_]\w*)\s*\)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Verdict:
    """One grade cell's outcome: passed, or the message that says why not."""

    grade_id: str
    passed: bool
    message: str = ""


def probe_call(hidden_source: str) -> tuple[str, str] | None:
    """(probe name, subject name) of a grade cell's hidden part, or None if it has no probe."""
    found = HIDDEN_CALL.search(hidden_source)
    return (found[1], found[2]) if found else None


def _probes(lab_module: str) -> types.ModuleType:
    return importlib.import_module(f"autograder.probes.{lab_module}")


def _checks(lab_module: str) -> types.ModuleType:
    return importlib.import_module(f"autograder.checks.{lab_module}")


def observe(lab_module: str, probe_name: str, subject: Any) -> dict[str, Any]:
    """The record of one probe run on `subject` here, in a trusted process."""
    return probes_core.observe(getattr(_probes(lab_module), probe_name).observe, probe_name, subject)


_CACHE: dict[str, Path | None] = {"folder": None}


def keep_references_in(folder: Path) -> None:
    """Keep reference records in `folder` (trusted, outside any jail) for later processes.

    `autograder grade` gives every worker the same folder: the reference's record of a grade
    cell is then computed by the first submission of the batch and read by the others.
    """
    _CACHE["folder"] = folder


@functools.cache
def reference_record(lab_module: str, probe_name: str, subject_name: str) -> dict[str, Any]:
    """What the probe observes of the reference answer (once per process, and once per cache
    folder: the file is named after everything the record depends on)."""
    path = _cached(lab_module, probe_name, subject_name)
    if path is not None and path.exists():
        with contextlib.suppress(Exception):
            return torch.load(path, weights_only=True)
    solutions = importlib.import_module(f"solutions.{lab_module}")
    record = observe(lab_module, probe_name, getattr(solutions, subject_name))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        torch.save(record, partial)
        os.replace(partial, path)
    return record


def _cached(lab_module: str, probe_name: str, subject_name: str) -> Path | None:
    if _CACHE["folder"] is None:
        return None
    digest = hashlib.sha256(torch.__version__.encode())
    for module in (probes_core, _probes(lab_module), importlib.import_module(f"solutions.{lab_module}")):
        digest.update(Path(module.__file__).read_bytes())
    digest.update(f"{probe_name}:{subject_name}".encode())
    return _CACHE["folder"] / f"{lab_module}.{probe_name}.{digest.hexdigest()[:16]}.pt"


@functools.cache
def _mistake_records(lab_module: str, probe_name: str, subject_name: str) -> list[tuple[str, dict]]:
    """(name, record) of every known mistake that must fail this grade cell."""
    solutions = importlib.import_module(f"solutions.{lab_module}")
    variants = importlib.import_module(f"autograder.variants.{lab_module}")
    found = []
    for mistake in variants.MISTAKES:
        if probe_name not in mistake.fails:
            continue
        scope = dict(vars(solutions))
        exec(compile(mistake.source, f"<known mistake: {mistake.name}>", "exec"), scope)
        found.append((mistake.name, observe(lab_module, probe_name, scope[subject_name])))
    return found


def _check(lab_module: str, probe_name: str, got: Observed, want: Observed) -> str:
    """'' if the check passes, else its message."""
    try:
        with probes_core.one_thread():
            getattr(_checks(lab_module), probe_name)(got, want)
    except CheckFailed as failure:
        return str(failure)
    except Exception as error:  # a forged or odd record the check could not read
        return (f"the hidden tests could not read what your code gave them "
                f"({type(error).__name__}: {error}).")
    return ""


def verdict(lab_module: str, grade_id: str, call: tuple[str, str] | None,
            record: dict[str, Any] | None, why_missing: str = "") -> Verdict:
    """Judge one grade cell from the student's `record` (None: nothing was recorded)."""
    if call is None:
        return Verdict(grade_id, False, "this grade cell has no hidden tests to judge it by.")
    message = failure(lab_module, call, record, why_missing)
    if not message:
        return Verdict(grade_id, True)
    probe_name, subject_name = call
    got = Observed(record, missing=why_missing)
    if record is not None and record["stopped"] is None:
        for name, mistake in _mistake_records(lab_module, probe_name, subject_name):
            if not _check(lab_module, probe_name, got, Observed(mistake, reference=True)):
                message += f" (It behaves like a known mistake: {name}.)"
                break
    return Verdict(grade_id, False, message)


def failure(lab_module: str, call: tuple[str, str], record: dict[str, Any] | None,
            why_missing: str = "") -> str:
    """Why the check fails `record` against the reference's, or '' if it passes."""
    probe_name, subject_name = call
    want = Observed(reference_record(lab_module, probe_name, subject_name), reference=True)
    return _check(lab_module, probe_name, Observed(record, missing=why_missing), want)
