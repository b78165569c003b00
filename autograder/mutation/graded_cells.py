"""The test mutmut runs against each mutant: one test per grade cell of one lab.

`autograder mutate` copies this file into the lab's mutation project and names the lab in
DNNLABS_MUTATE_LAB. mutmut replaces each function of the solution by a trampoline that picks,
at each call, the original or the active mutant. A probe's stand-ins for earlier exercises
replace names in a function's globals, which a trampoline's target never sees; so, to judge,
the test binds plain functions into the module in the trampolines' place: the originals to
take the reference's records, then the active mutant's functions to take the student's.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from autograder import judge, notebooks
from autograder.course import find_labs
from autograder.selfcheck import grading_environment

LAB = find_labs([os.environ.get("DNNLABS_MUTATE_LAB", "")])[0]
MUTANT = "MUTANT_UNDER_TEST"  # mutmut's name of the active mutant, "module.mangled_name"
FORCED_FAILURE = "MutmutProgrammaticFailException"
judge.keep_references_in(Path(__file__).resolve().parent / "references")


def _grade_cells() -> list[tuple[str, tuple[str, str]]]:
    cells = []
    for cell in notebooks.grade_cells(notebooks.read(LAB.notebook)):
        call = judge.probe_call(cell.source)
        if call is not None:
            cells.append((notebooks.grade_id(cell), call))
    return cells


@pytest.mark.parametrize(("grade_id", "call"), _grade_cells(), ids=lambda value: str(value))
def test_grade_cell(grade_id: str, call: tuple[str, str]) -> None:
    phase = os.environ.get(MUTANT, "")
    module = importlib.import_module(f"solutions.{LAB.module_name}")
    with grading_environment():
        if phase in ("stats", "fail"):
            # mutmut's own runs go through the trampolines: they note which function each cell
            # calls (stats), or raise in every call, which must fail the test (fail). Stand-ins
            # cannot reach past a trampoline, so nothing is judged in them.
            record = judge.observe(LAB.module_name, call[0], getattr(module, call[1]))
            assert FORCED_FAILURE not in repr(record), f"{grade_id}: mutmut's forced failure"
            return
        with _bound(module, ""):
            for _, each in _grade_cells():
                judge.reference_record(LAB.module_name, *each)
        with _bound(module, phase.rpartition(".")[2]):
            record = judge.observe(LAB.module_name, call[0], getattr(module, call[1]))
        message = judge.failure(LAB.module_name, call, record)
    assert not message, f"{grade_id}: {message}"


@contextlib.contextmanager
def _bound(module: types.ModuleType, mutant: str) -> Iterator[None]:
    """Each trampoline replaced, while the block runs, by the function it would call for
    `mutant` ('' for none); mutmut's own runs in this process find them back afterwards."""
    saved = []
    for name, implementations in list(vars(module).items()):
        if not (name.startswith("mutants_") and name.endswith("__mutmut")):
            continue
        mangled = name[len("mutants_"):-len("__mutmut")]
        if mangled.startswith("x_"):
            owner, attribute = module, mangled[2:]
        else:
            _, class_name, attribute = mangled.split("ǁ")
            owner = getattr(module, class_name)
        saved.append((owner, attribute, vars(owner)[attribute]))
        setattr(owner, attribute, implementations.get(mutant, implementations["_mutmut_orig"]))
    try:
        yield
    finally:
        for owner, attribute, value in saved:
            setattr(owner, attribute, value)
