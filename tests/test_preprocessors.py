"""The course's own nbgrader preprocessors, each on a tiny notebook without a kernel.

ForgetDuplicateIds turns a duplicated cell into an ordinary cell; VerdictScores scores a grade
cell from its errors alone (stderr and displayed values never decide); SkipExperiments blanks
only experiment cells.
"""

import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from autograder.nbgrader_setup import use_this_interpreter_tools
from autograder.preprocessors import (
    SKIPPED,
    ForgetDuplicateIds,
    SkipExperiments,
    VerdictScores,
)


def _grade_cell(grade_id, outputs=(), points=2):
    meta = {"grade": True, "solution": False, "locked": True, "grade_id": grade_id, "points": points,
            "schema_version": 3}
    return new_code_cell("hidden.test()", metadata={"nbgrader": meta}, outputs=list(outputs))


def _error(name="AssertionError"):
    return new_output("error", ename=name, evalue="wrong", traceback=[f"{name}: wrong"])


def test_a_duplicated_cell_becomes_an_ordinary_cell():
    original = _grade_cell("test_a")
    nb = new_notebook(cells=[original, _grade_cell("test_a"), _grade_cell("test_b")])
    nb, _ = ForgetDuplicateIds().preprocess(nb, {})
    assert "nbgrader" not in nb.cells[0].metadata
    assert [cell.metadata.nbgrader["grade_id"] for cell in nb.cells[1:]] == ["test_a", "test_b"]


@pytest.fixture
def gradebook_url(tmp_path):
    use_this_interpreter_tools()
    from nbgrader.api import Gradebook

    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(url) as book:
        book.add_assignment("lab")
        book.add_notebook("lab", "lab")
        for name in ("quiet", "noisy", "shown", "shown_then_failed", "failed_then_fine"):
            book.add_grade_cell(name, "lab", "lab", max_score=2, cell_type="code")
        book.add_student("ann")
        book.add_submission("lab", "ann")
    return url


def test_a_grade_cell_scores_from_its_errors_alone(gradebook_url):
    from nbgrader.api import Gradebook

    stderr = new_output("stream", name="stderr", text="UserWarning: careful\n100%|██████| 5/5\n")
    shown = new_output("execute_result", data={"text/plain": "0.5"}, execution_count=1)
    nb = new_notebook(cells=[
        _grade_cell("quiet"),
        _grade_cell("noisy", [stderr]),
        _grade_cell("shown", [shown]),
        _grade_cell("shown_then_failed", [shown, _error()]),
        _grade_cell("failed_then_fine", [_error(), new_output("stream", name="stdout", text="ok")]),
    ])
    resources = {"nbgrader": {"notebook": "lab", "assignment": "lab", "student": "ann",
                              "db_url": gradebook_url}}
    nb, _ = VerdictScores().preprocess(nb, resources)
    with Gradebook(gradebook_url) as book:
        scores = {name: book.find_grade(name, "lab", "lab", "ann").auto_score
                  for name in ("quiet", "noisy", "shown", "shown_then_failed", "failed_then_fine")}
    assert scores == {"quiet": 2, "noisy": 2, "shown": 2, "shown_then_failed": 0, "failed_then_fine": 0}
    assert nb.cells[1].outputs == [stderr], "the feedback still shows what the cell printed"


def test_only_experiment_cells_are_skipped():
    experiment = new_code_cell("train_for_an_hour()", metadata={"tags": ["experiment"]})
    tagged_test = _grade_cell("test_a")
    tagged_test.metadata["tags"] = ["experiment"]
    nb = new_notebook(cells=[experiment, tagged_test])
    nb, _ = SkipExperiments().preprocess(nb, {})
    assert nb.cells[0].source == SKIPPED and nb.cells[1].source == "hidden.test()"
