"""The test mutmut runs against each mutant: one test per grade cell of one lab.

`autograder mutate` copies this file into the lab's mutation project and names the lab in
DNNLABS_MUTATE_LAB. Under a mutant, mutmut's trampolines pick the mutated function at each
call; the test first takes the reference's records with no mutant active, then binds the
mutated functions into the module in their trampolines' place, so the probes' stand-ins for
earlier exercises apply to the mutant as they do to a student's notebook.
"""

from __future__ import annotations

import functools
import importlib
import os
import types
from pathlib import Path

import pytest

from autograder import judge, notebooks
from autograder.course import find_labs
from autograder.selfcheck import grading_environment

LAB = find_labs([os.environ.get("DNNLABS_MUTATE_LAB", "")])[0]
MUTANT = "MUTANT_UNDER_TEST"  # mutmut's name of the active mutant, "module.mangled_name"
NOT_A_MUTANT = {"", "stats", "fail", "mutant_generation"}  # mutmut's own phases
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
    with grading_environment():
        _reference_records()
        module = _solutions_with_active_mutant()
        record = judge.observe(LAB.module_name, call[0], getattr(module, call[1]))
        message = judge.failure(LAB.module_name, call, record)
    assert not message, f"{grade_id}: {message}"


@functools.cache
def _reference_records() -> None:
    """Every cell's reference record, taken (or read from disk) before any mutant is bound."""
    active = os.environ.get(MUTANT, "")
    os.environ[MUTANT] = ""
    try:
        for _, call in _grade_cells():
            judge.reference_record(LAB.module_name, *call)
    finally:
        os.environ[MUTANT] = active


@functools.cache
def _solutions_with_active_mutant() -> types.ModuleType:
    """The lab's solutions with each trampoline replaced by the function it would call now.

    A mutant runs in a process of its own, so the module is changed in place. In mutmut's
    statistics phase (no mutant active) the trampolines stay: they tell mutmut which cells
    call which function.
    """
    module = importlib.import_module(f"solutions.{LAB.module_name}")
    active = os.environ.get(MUTANT, "")
    if active in NOT_A_MUTANT:
        return module
    mutant = active.rpartition(".")[2]
    for name, implementations in list(vars(module).items()):
        if not (name.startswith("mutants_") and name.endswith("__mutmut")):
            continue
        chosen = implementations.get(mutant, implementations["_mutmut_orig"])
        mangled = name[len("mutants_"):-len("__mutmut")]
        if mangled.startswith("x_"):
            setattr(module, mangled[2:], chosen)
        else:
            _, class_name, method = mangled.split("ǁ")
            setattr(getattr(module, class_name), method, chosen)
    return module
