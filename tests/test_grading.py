"""Grading round trips: reference = full marks, blank = 0, a known mistake loses exactly its
exercise; bad input is reported and skipped while the rest is graded; feedback and CSVs."""

import csv
import html
import json
import zipfile

import nbformat
import pytest

from autograder import notebooks, selfcheck
from autograder.examples import answered, example_submissions, reference_answers
from autograder.feedback import generate_feedback
from autograder.grade import Limits, grade
from tests.labs_under_test import LABS, lab_params

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graded(released, tmp_path_factory):
    """The reference, blank and buggy submission of every lab, graded two at a time."""
    root = tmp_path_factory.mktemp("graded")
    mistakes = example_submissions(LABS, released.out_dir, root / "submissions")
    report = grade(root / "submissions", root / "course", released.out_dir, jobs=2)
    return report, mistakes, root / "course"


def _outcome(report, student, lab):
    return next(o for o in report.outcomes if (o.student_id, o.lab_id) == (student, lab.lab_id))


def _points(lab, cells):
    nb = notebooks.read(lab.notebook)
    return sum(notebooks.points(c) for c in notebooks.grade_cells(nb) if notebooks.grade_id(c) in cells)


@pytest.mark.parametrize("lab", lab_params())
def test_reference_gets_full_marks(graded, lab):
    outcome = _outcome(graded[0], "reference", lab)
    assert str(outcome.status) == "graded" and outcome.score == outcome.max_score > 0


@pytest.mark.parametrize("lab", lab_params())
def test_blank_release_gets_zero(graded, lab):
    outcome = _outcome(graded[0], "blank", lab)
    assert str(outcome.status) == "graded" and outcome.score == 0


@pytest.mark.parametrize("lab", lab_params())
def test_known_mistake_loses_exactly_its_exercise(graded, lab):
    outcome = _outcome(graded[0], "buggy", lab)
    mistake = lab.variants().MISTAKES[0]
    assert outcome.score == outcome.max_score - _points(lab, mistake.fails)
    failed = {cell for cell, result in outcome.cells.items() if result["score"] != result["max_score"]}
    assert failed == set(mistake.fails)


def test_grade_csvs_match_the_report(graded):
    report, _, course = graded
    with open(course / "grades.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["student_id", "lab_id", "score", "max_score", "manual"]
    assert len(rows) == len(report.outcomes) == 3 * len(LABS)
    by_key = {(row["student_id"], row["lab_id"]): float(row["score"]) for row in rows}
    for outcome in report.outcomes:
        assert by_key[(outcome.student_id, outcome.lab_id)] == outcome.score
    with open(course / "grades_by_exercise.csv") as handle:
        cells = list(csv.DictReader(handle))
    for row in rows:
        total = sum(float(c["score"]) for c in cells
                    if (c["student_id"], c["lab_id"]) == (row["student_id"], row["lab_id"]))
        assert total == pytest.approx(float(row["score"]))


def test_feedback_shows_the_failed_tests_message(graded):
    _, _, course = graded
    pages = generate_feedback(course)
    assert len(pages) == 3 * len(LABS) and all(page.exists() for page in pages)
    for lab in LABS:
        mistake = lab.variants().MISTAKES[0]
        outcome = selfcheck.run_cells(notebooks.read(lab.notebook), {mistake.cell: mistake.source})
        message = outcome.cells[sorted(mistake.fails)[0]].message.splitlines()[-1]
        page = html.unescape((course / "feedback" / "buggy" / lab.lab_id / f"{lab.lab_id}.html").read_text())
        assert message.split(": ", 1)[-1][:60] in page, f"{lab.lab_id}: feedback lacks {message!r}"


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_bad_submissions_are_reported_and_the_rest_graded(released, tmp_path):
    lab = LABS[0]
    name = lab.notebook.name
    released_nb = notebooks.read(released.course_dir / "release" / lab.lab_id / name)
    good = answered(released_nb, reference_answers(lab))
    subs = tmp_path / "subs"
    notebooks.write(good, subs / "good" / lab.lab_id / name)
    old_format = nbformat.convert(good, 3)
    _write(subs / "oldformat" / lab.lab_id / name, nbformat.writes(old_format, version=3))
    _write(subs / "broken" / lab.lab_id / name, '{"cells": [')
    _write(subs / "renamed" / lab.lab_id / "my_lab.ipynb", nbformat.writes(good))
    _write(subs / "wronglab" / "99_nothing" / "99_nothing.ipynb", nbformat.writes(good))
    _write(subs / "loose" / name, nbformat.writes(good))
    (subs / "empty").mkdir()
    _write(subs / "notes.txt", "not a student")
    _write(subs / "notjson" / lab.lab_id / name, json.dumps({"hello": "world"}))

    report = grade(subs, tmp_path / "course", released.out_dir)
    graded = {(o.student_id, o.lab_id): o for o in report.outcomes}
    assert set(graded) == {("good", lab.lab_id), ("oldformat", lab.lab_id)}
    assert all(o.score == o.max_score for o in graded.values())
    reasons = {problem.where.split("/")[0]: problem.reason for problem in report.problems}
    assert "not valid notebook JSON" in reasons["broken"]
    assert "found my_lab.ipynb: rename it" in reasons["renamed"]
    assert "unknown lab" in reasons["wronglab"]
    assert "outside a lab folder" in reasons["loose"]
    assert "empty folder" in reasons["empty"]
    assert "top level" in reasons["notes.txt"]
    assert "not a valid Jupyter notebook" in reasons["notjson"]
    with open(tmp_path / "course" / "grades.csv") as handle:
        assert len(list(csv.DictReader(handle))) == 2


def test_zip_with_path_traversal_writes_nothing_outside(released, tmp_path):
    lab = LABS[0]
    name = lab.notebook.name
    released_nb = notebooks.read(released.course_dir / "release" / lab.lab_id / name)
    archive = tmp_path / "subs.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr(f"submissions/ann/{lab.lab_id}/{name}", nbformat.writes(released_nb))
        zipped.writestr("../escaped.txt", "gotcha")
        zipped.writestr("/tmp/absolute-escape.txt", "gotcha")
        zipped.writestr("__MACOSX/._junk", "junk")
    report = grade(archive, tmp_path / "out" / "course", released.out_dir)
    assert [(o.student_id, o.score) for o in report.outcomes] == [("ann", 0.0)]
    assert sum("unsafe path" in problem.reason for problem in report.problems) == 2
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "out" / "escaped.txt").exists()


def test_unsandboxed_grading_says_so_on_every_row(released, tmp_path):
    lab = LABS[0]
    name = lab.notebook.name
    released_nb = notebooks.read(released.course_dir / "release" / lab.lab_id / name)
    notebooks.write(answered(released_nb, reference_answers(lab)),
                    tmp_path / "subs" / "ann" / lab.lab_id / name)
    report = grade(tmp_path / "subs", tmp_path / "course", released.out_dir, limits=Limits(sandbox=False))
    assert [o.score == o.max_score for o in report.outcomes] == [True]
    with open(tmp_path / "course" / "report.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and all(row["status"].endswith("unsandboxed") for row in rows)
    assert any("unsandboxed" in note for note in report.notes)
