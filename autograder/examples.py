"""Example submissions built from a release: the reference answers, a blank one, a known mistake.

The demo grades them, and the tests use them to prove that the reference scores full marks,
a blank release zero, and a mistake loses exactly its exercise's points.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from nbformat import NotebookNode

from autograder import notebooks
from autograder.course import Lab
from autograder.nbgrader_setup import CODE_STUB
from autograder.sync import solution_regions

_SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION[ \t]*$",
                       re.MULTILINE | re.DOTALL)


def blank(source: str) -> str:
    """A solution cell as the release shows it: each solution block replaced by nbgrader's stub."""
    return _SOLUTION.sub(lambda m: "\n".join(m.group(1) + line for line in CODE_STUB.splitlines()),
                         source)


def reference_answers(lab: Lab) -> dict[str, str]:
    """The reference solution of every solution cell of `lab`, as a student would type it in."""
    return solution_regions(lab.solutions_path)


def answered(released: NotebookNode, answers: Mapping[str, str]) -> NotebookNode:
    """A copy of a released notebook with solution cells filled in from `answers`."""
    submission = notebooks.read_copy(released)
    for cell in submission.cells:
        cell_id = notebooks.grade_id(cell)
        if notebooks.is_solution(cell) and cell_id in answers:
            cell.source = answers[cell_id]
    return submission


def example_submissions(labs: list[Lab], release_dir: Path, dest: Path) -> dict[str, str]:
    """Write reference, blank and buggy submissions of each lab under `dest`.

    Returns, for the buggy one of each lab, the name of the mistake it makes.
    """
    mistakes = {}
    for lab in labs:
        released = notebooks.read(release_dir / "course" / "release" / lab.lab_id / lab.notebook.name)
        answers = reference_answers(lab)
        mistake = lab.variants().MISTAKES[0]
        mistakes[lab.lab_id] = mistake.name
        for student, notebook in (("reference", answered(released, answers)),
                                  ("blank", released),
                                  ("buggy", answered(released, {**answers, mistake.cell: mistake.source}))):
            notebooks.write(notebook, dest / student / lab.lab_id / lab.notebook.name)
    return mistakes
