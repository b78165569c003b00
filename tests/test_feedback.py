"""The feedback page's summary: each line named after its exercise, failing ones first, linked.

Tested on tiny notebooks whose grade cells already carry the scores nbgrader's GetGrades would
write, so no kernel and no gradebook are needed (tests/test_browser.py and tests/test_grading.py
run the whole pipeline).
"""

import html
import re

import pytest
from nbconvert.exporters import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from traitlets.config import Config

from autograder import notebooks
from autograder.feedback import feedback_config
from autograder.feedback_summary import SUMMARY_KEY, SummarizeExercises, exercise_label, summary_rows
from tests.labs_under_test import lab_params


def _grade_cell(grade_id, source, score=None, points=1):
    meta = {"grade": True, "solution": False, "locked": True, "grade_id": grade_id, "points": points}
    if score is not None:
        meta["score"] = score
    return new_code_cell(source, metadata={"nbgrader": meta})


def _graded_notebook():
    return new_notebook(cells=[
        new_markdown_cell("# Lab 99"),
        _grade_cell("test_layer_stats", "# Tests for Exercise 1 (3 points): visible here\nassert 1",
                    score=3, points=3),
        _grade_cell("test_init_std", "# Tests for Exercise 2 (2 points)\nassert 1", score=0, points=2),
        _grade_cell("test_q1_same_value", "assert Q1 in 'abcd'", score=1),
        _grade_cell("test_q2_zero_bias", "assert Q2 in 'abcd'", score=0),
    ])


def test_a_test_cell_is_named_after_its_exercise_number_and_grade_id():
    cell = _grade_cell("test_init_std", "# Tests for Exercise 2 (2 points)\nassert init_std(1, 1)")
    assert exercise_label(cell) == "Exercise 2 · init_std"


def test_a_concept_question_is_named_by_its_number():
    assert exercise_label(_grade_cell("test_q3_he_std", "assert isinstance(Q3, float)")) == "Q3"


def test_blank_lines_and_spacing_before_the_comment_do_not_matter():
    cell = _grade_cell("test_elu", "\n\n  #  Tests for   Exercise 3 (1 point)\nassert 1")
    assert exercise_label(cell) == "Exercise 3 · elu"


def test_a_grade_cell_without_the_comment_is_named_by_its_grade_id():
    assert exercise_label(_grade_cell("test_shapes", "assert out.shape == (2, 3)")) == "shapes"
    assert exercise_label(_grade_cell("quiz", "# any comment\nassert 1")) == "quiz"


@pytest.mark.parametrize("lab", lab_params())
def test_every_graded_cell_of_a_lab_gets_a_distinct_exercise_or_question_name(lab):
    labels = [exercise_label(cell) for cell in notebooks.grade_cells(notebooks.read(lab.notebook))]
    assert len(set(labels)) == len(labels), labels
    assert all(re.fullmatch(r"Exercise \d+ · \w+|Q\d+", label) for label in labels), labels


def test_failing_exercises_come_first_each_group_in_notebook_order():
    rows = summary_rows(_graded_notebook())
    assert [row["label"] for row in rows] == ["Exercise 2 · init_std", "Q2", "Exercise 1 · layer_stats", "Q1"]
    assert [row["passed"] for row in rows] == [False, False, True, True]
    assert rows[0] == {"grade_id": "test_init_std", "label": "Exercise 2 · init_std", "score": 0,
                       "points": 2, "passed": False}


def test_a_cell_without_a_score_yet_is_not_counted_as_passed():
    nb = new_notebook(cells=[_grade_cell("test_a", "# Tests for Exercise 1\n", score=None)])
    assert summary_rows(nb)[0]["passed"] is False


def test_the_preprocessor_hands_the_rows_to_the_template():
    nb = _graded_notebook()
    _, resources = SummarizeExercises().preprocess(nb, {})
    assert resources[SUMMARY_KEY] == summary_rows(nb)


def _render(nb, score, max_score):
    """The feedback page as nbgrader's GenerateFeedback would write it, minus GetGrades."""
    from nbgrader.converters import GenerateFeedback

    converter = GenerateFeedback(config=feedback_config(Config()))
    exporter = HTMLExporter(config=converter.config, template_name="feedback")
    exporter.register_preprocessor(SummarizeExercises, enabled=True)
    resources = {"nbgrader": {"notebook": "lab99", "score": score, "max_score": max_score,
                              "late_penalty": 0}}
    page, _ = exporter.from_notebook_node(nb, resources=resources)
    return html.unescape(page)


def test_the_page_summary_names_exercises_failing_first_and_links_each_to_its_cell():
    page = _render(_graded_notebook(), 4, 7)
    summary = page[page.index('<div id="toc">'):page.index("</ol>", page.index('<div id="toc">'))]
    assert "Test cell" not in summary
    assert "2 of 4 graded exercises lost points" in summary
    links = re.findall(r'<li class="(\w+)"><a href="#(\w+)">([^<]+)</a>', summary)
    assert links == [("failed", "test_init_std", "Exercise 2 · init_std"),
                     ("failed", "test_q2_zero_bias", "Q2"),
                     ("passed", "test_layer_stats", "Exercise 1 · layer_stats"),
                     ("passed", "test_q1_same_value", "Q1")]
    for _, grade_id, _ in links:
        assert f'<a name="{grade_id}"></a>' in page, f"the cell {grade_id} the summary links to"
    assert "lab99 (Score: 4.0 / 7.0)" in page


def test_a_page_with_full_marks_says_so():
    nb = new_notebook(cells=[_grade_cell("test_q1_a", "assert 1", score=1)])
    assert "Every graded exercise earned full points." in _render(nb, 1, 1)
