"""Reading notebooks and telling their cells apart: solution, grade, experiment, parameters."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
from nbformat import NotebookNode

EXPERIMENT_TAG = "experiment"
PARAMETERS_TAG = "parameters"


def read(path: str | Path) -> NotebookNode:
    return nbformat.read(str(path), as_version=4)


def read_copy(nb: NotebookNode) -> NotebookNode:
    """A deep copy of `nb`, safe to change."""
    return nbformat.from_dict(copy.deepcopy(nb))


def write(nb: NotebookNode, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


def nbgrader(cell: NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def grade_id(cell: NotebookNode) -> str | None:
    return nbgrader(cell).get("grade_id")


def is_solution(cell: NotebookNode) -> bool:
    return bool(nbgrader(cell).get("solution"))


def is_grade(cell: NotebookNode) -> bool:
    return bool(nbgrader(cell).get("grade"))


def points(cell: NotebookNode) -> float:
    return float(nbgrader(cell).get("points", 0))


def tags(cell: NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def is_experiment(cell: NotebookNode) -> bool:
    """An experiment cell: run by students and CI, skipped when grading. Never an nbgrader cell."""
    return EXPERIMENT_TAG in tags(cell) and not nbgrader(cell)


def grade_cells(nb: NotebookNode) -> list[NotebookNode]:
    return [cell for cell in nb.cells if cell.cell_type == "code" and is_grade(cell)]


def max_score(nb: NotebookNode) -> float:
    return sum(points(cell) for cell in grade_cells(nb))


def output_problems(nb: NotebookNode) -> list[str]:
    """What keeps a stored notebook from being clean: outputs or execution counts."""
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs"):
            problems.append(f"cell {index} has stored outputs")
        if cell.get("execution_count") is not None:
            problems.append(f"cell {index} has an execution count")
    return problems


def clear_outputs(nb: NotebookNode) -> NotebookNode:
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb
