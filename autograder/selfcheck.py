"""Run a lab's cells in a fresh namespace, fast, with chosen solution cells swapped.

This is how we prove that the tests catch each known mistake, and only in its own exercise,
without a kernel or a full notebook run: every code cell except experiments runs in order in
one dictionary, with quick mode and the synthetic data. Each grade cell is graded in the two
phases of grading, here in one process since only trusted code runs: its visible tests run
(they decide nothing), its probe records into memory, and after the last cell the judge
gives each grade cell its verdict.
"""

from __future__ import annotations

import contextlib
import io
import re
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from nbformat import NotebookNode

from autograder import hidden_cells, judge, notebooks
from autograder.course import Lab
from autograder.environment import patched_environ
from autograder.probes import core as probes_core
from autograder.protocol import GRADING_ENV


@dataclass(frozen=True)
class CellOutcome:
    """How one grade cell fared: passed or not, with the error message that decided it."""

    grade_id: str
    points: float
    passed: bool
    message: str = ""


@dataclass(frozen=True)
class RunOutcome:
    """Every grade cell's outcome, plus errors in cells that are not graded (setup, answers)."""

    cells: dict[str, CellOutcome]
    other_errors: dict[int, str]

    @property
    def failed(self) -> set[str]:
        return {grade_id for grade_id, outcome in self.cells.items() if not outcome.passed}

    @property
    def score(self) -> float:
        return sum(outcome.points for outcome in self.cells.values() if outcome.passed)


def run_cells(nb: NotebookNode, replacements: Mapping[str, str] | None = None,
              name: str = "notebook") -> RunOutcome:
    """Run `nb`'s non-experiment code cells in order, solution cells replaced per `replacements`."""
    replacements = dict(replacements or {})
    unknown = set(replacements) - {notebooks.grade_id(cell) for cell in nb.cells}
    if unknown:
        raise ValueError(f"{name}: no cell with grade_id {', '.join(sorted(unknown))}.")
    lab_module = probes_module(nb)
    namespace: dict = {"__name__": "__main__"}
    probed: list[tuple[str, float, tuple[str, str] | None, str]] = []
    other_errors: dict[int, str] = {}
    with grading_environment(), probes_core.records_in_memory() as records:
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or notebooks.is_experiment(cell):
                continue
            cell_id = notebooks.grade_id(cell)
            source = replacements.get(cell_id, cell.source) if cell_id else cell.source
            if not notebooks.is_grade(cell):
                error = _run_one(source, namespace, f"<{name} cell {index}>")
                if error:
                    other_errors[index] = error
                continue
            visible, hidden = hidden_cells.split(source)
            _run_one(visible, namespace, f"<{name} cell {index}>")
            call = judge.probe_call(hidden)
            crashed = _run_one(hidden_cells.probe_source(lab_module, call), namespace,
                               f"<{name} probe {index}>")
            probed.append((cell_id, notebooks.points(cell), call, crashed))
    by_id = {record["grade_id"]: record for record in records}
    cells = {}
    for cell_id, points, call, crashed in probed:
        why = f"the hidden tests could not run: {crashed}" if crashed else ""
        verdict = judge.verdict(lab_module, cell_id, call, by_id.get(cell_id), why)
        cells[cell_id] = CellOutcome(cell_id, points, verdict.passed, verdict.message)
    return RunOutcome(cells, other_errors)


_PROBES_IMPORT = re.compile(r"from autograder\.probes import (lab\w+) as hidden")


def probes_module(nb: NotebookNode) -> str:
    """The probes module a lab notebook's hidden tests import, e.g. lab01_initialization."""
    for cell in notebooks.grade_cells(nb):
        found = _PROBES_IMPORT.search(cell.source)
        if found:
            return found[1]
    raise ValueError("This notebook's grade cells import no autograder.probes module.")


def _run_one(source: str, namespace: dict, filename: str) -> str:
    """Run one cell's source, its output discarded; the error it raised, or ''."""
    import matplotlib.pyplot as plt

    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            exec(compile(source, filename, "exec"), namespace)
    except BaseException as error:  # a submission may raise anything, SystemExit included
        if isinstance(error, KeyboardInterrupt):
            raise
        frames = traceback.format_exception_only(type(error), error)
        return "".join(frames).strip()
    finally:
        plt.close("all")
    return ""


@contextlib.contextmanager
def grading_environment() -> Iterator[None]:
    """What a grading kernel sees: quick mode, the synthetic data, no display for plots."""
    import matplotlib

    backend = matplotlib.get_backend()
    matplotlib.use("Agg")
    try:
        with patched_environ(GRADING_ENV):
            yield
    finally:
        matplotlib.use(backend)


@dataclass(frozen=True)
class Verdict:
    """One line of `autograder check`: an answer, what it should fail, what it did fail."""

    lab_id: str
    answer: str
    expected_failures: frozenset[str]
    failures: frozenset[str]

    @property
    def ok(self) -> bool:
        return self.expected_failures == self.failures


def check_lab(lab: Lab) -> list[Verdict]:
    """Run the reference, a blank submission and every known variant of `lab` against its tests."""
    from autograder.examples import blank, reference_answers

    nb = notebooks.read(lab.notebook)
    every_test = frozenset(notebooks.grade_id(cell) for cell in notebooks.grade_cells(nb))
    blanks = {cell_id: blank(source) for cell_id, source in reference_answers(lab).items()}
    verdicts = [
        Verdict(lab.lab_id, "reference solution", frozenset(),
                frozenset(run_cells(nb, name=lab.lab_id).failed)),
        Verdict(lab.lab_id, "blank release", every_test,
                frozenset(run_cells(nb, blanks, name=lab.lab_id).failed)),
    ]
    variants = lab.variants()
    for variant in [*variants.MISTAKES, *variants.ALTERNATIVES]:
        outcome = run_cells(nb, {variant.cell: variant.source}, name=lab.lab_id)
        verdicts.append(Verdict(lab.lab_id, variant.name, variant.fails, frozenset(outcome.failed)))
    return verdicts
