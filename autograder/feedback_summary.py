"""The feedback page's summary: one line per graded exercise, named after it, failing ones first.

nbgrader's own feedback template calls every line "Test cell". `SummarizeExercises` runs after
nbgrader's `GetGrades` (which writes each grade cell's score into its metadata) and hands the
template (`feedback.html.j2`) a list of rows it only has to print.
"""

from __future__ import annotations

import re

from nbconvert.exporters.exporter import ResourcesDict
from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from traitlets import Bool

from autograder import notebooks

SUMMARY_KEY = "exercises"
# A lab's test cell opens with "# Tests for Exercise 3 (1 point)...": the number comes from there.
_EXERCISE = re.compile(r"#\s*Tests?\s+for\s+(Exercise\s+\d+)\b", re.IGNORECASE)
# Concept questions are graded by cells with ids like test_q3_he_std: the student answers Q3.
_QUESTION = re.compile(r"(?:test_)?q(\d+)(?:_|$)", re.IGNORECASE)


def exercise_label(cell: NotebookNode) -> str:
    """What a student calls the exercise a grade cell grades: "Exercise 2 · init_std", "Q3".

    The name is the grade_id without its `test_` prefix (locked by nbgrader, so a submission
    cannot change it); the exercise number comes from the test cell's first line when that line
    says "# Tests for Exercise N". Any other grade cell is named by its grade_id alone.
    """
    grade_id = notebooks.grade_id(cell) or "?"
    question = _QUESTION.match(grade_id)
    if question:
        return f"Q{question[1]}"
    name = grade_id.removeprefix("test_")
    first = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
    exercise = _EXERCISE.match(first)
    if exercise:
        return f"{' '.join(exercise[1].split())} · {name}"
    return name


def summary_rows(nb: NotebookNode) -> list[dict]:
    """Every grade cell of a graded notebook as {grade_id, label, score, points, passed},
    failing ones first, each group in notebook order.

    A cell without a score (one that still needs a person to grade it) counts as not passed.
    """
    rows = []
    for cell in nb.cells:
        if not (notebooks.is_grade(cell) or notebooks.nbgrader(cell).get("task")):
            continue
        meta = notebooks.nbgrader(cell)
        score, points = meta.get("score"), meta.get("points", 0)
        rows.append({"grade_id": notebooks.grade_id(cell), "label": exercise_label(cell),
                     "score": score, "points": points,
                     "passed": score is not None and float(score) >= float(points)})
    return sorted(rows, key=lambda row: row["passed"])


class SummarizeExercises(Preprocessor):
    """Put the summary rows into resources[SUMMARY_KEY] for the feedback template.

    Runs after GetGrades, which fills in each grade cell's score and points from the gradebook.
    (An nbconvert Preprocessor, on like nbgrader's own: NbGraderPreprocessor would make
    nbconvert warn that its display_data_priority setting is not configurable here.)
    """

    enabled = Bool(True, help="Whether the feedback page gets the exercise summary").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        resources[SUMMARY_KEY] = summary_rows(nb)
        return nb, resources
