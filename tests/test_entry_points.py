"""Every way an instructor can grade gives the grades of `autograder grade`, or refuses.

On lab 01 only, with few submissions: `nbgrader autograde` and `nbgrader export` run in the
folder `autograder grade` wrote give the same gradebook and CSV files, with the kernel in the
sandbox; ways that cannot grade as the course does (`--no-execute`, no `autograder` package,
no sandbox) refuse and name the command to use; an instructor's manual scores and comments
survive a re-grade unless `--overwrite-manual`, and are marked in the CSV files; and the
nbgrader exchange of a shared JupyterHub does the round trip release → fetch → submit →
collect → grade → feedback → fetch_feedback. Formgrader's own buttons are driven in
tests/test_browser.py.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell

from autograder import notebooks, pipeline, records, sandbox
from autograder.cli import main as autograder_main
from autograder.examples import answered, reference_answers
from autograder.export import BY_EXERCISE_HEADER, GRADES_HEADER, ScoreAboveMaximum, export_grades
from autograder.grade import Limits, grade
from autograder.nbgrader_setup import configured_exchange, gradebook, write_course_config
from autograder.pipeline import GradingExecute, RefusedEntryPoint
from autograder.probes.core import encode
from tests.labs_under_test import LABS

pytestmark = pytest.mark.slow
LAB = LABS[0]
BIN = Path(sys.executable).parent
# A cell a student could add: what the kernel that grades it can see of the grader's machine.
PROBE = ("import os\nprint('probe uid', os.getuid(), 'solutions visible', "
         f"os.path.exists({str(Path(__file__).resolve().parents[1] / 'solutions')!r}))")


def _released_notebook(released):
    return notebooks.read(released.course_dir / "release" / LAB.lab_id / LAB.notebook.name)


def write_submissions(released, dest: Path) -> None:
    """`blank` (the release as fetched) and `buggy` (the lab's first known mistake, plus a cell
    that prints what its kernel can see) of lab 01, laid out for `autograder grade`."""
    mistake = LAB.variants().MISTAKES[0]
    blank = _released_notebook(released)
    buggy = answered(blank, {**reference_answers(LAB), mistake.cell: mistake.source})
    buggy.cells.append(new_code_cell(PROBE))
    notebooks.write(blank, dest / "blank" / LAB.lab_id / LAB.notebook.name)
    notebooks.write(buggy, dest / "buggy" / LAB.lab_id / LAB.notebook.name)


def auto_scores(course: Path) -> dict[tuple[str, str], float | None]:
    """(student, grade id) → auto score, for every grade of lab 01 in a course's gradebook."""
    with gradebook(course) as book:
        return {(submission.student.id, grade.name): grade.auto_score
                for submission in book.find_assignment(LAB.lab_id).submissions
                for notebook in submission.notebooks for grade in notebook.grades}


def nbgrader(course: Path, *args: str, env: dict | None = None,
             python_prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """The `nbgrader` command of this environment, run in `course` as an instructor would."""
    command = [*python_prefix, *(() if python_prefix else (str(BIN / "nbgrader"),)), *args]
    environ = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", **(env or {}))
    return subprocess.run(command, cwd=course, env=environ, capture_output=True, text=True, timeout=300)


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def graded(released, tmp_path_factory):
    """Lab 01's blank and buggy submissions graded by `autograder grade` (the reference run)."""
    root = tmp_path_factory.mktemp("entry")
    write_submissions(released, root / "subs")
    report = grade(root / "subs", root / "course", released.out_dir)
    assert {o.student_id: o.status.kind for o in report.outcomes} == {"blank": "graded", "buggy": "graded"}
    return root / "course"


@pytest.fixture
def course_copy(graded, tmp_path):
    """A copy of the graded course folder, to grade again without touching the reference."""
    shutil.copytree(graded, tmp_path / "course")
    return tmp_path / "course"


def test_nbgrader_autograde_in_the_course_folder_gives_the_same_grades_jailed(graded, course_copy):
    before = auto_scores(graded)
    with gradebook(course_copy) as book:  # start from nothing, so that every score is nbgrader's
        for submission in book.find_assignment(LAB.lab_id).submissions:
            for notebook in submission.notebooks:
                for grade_ in notebook.grades:
                    grade_.auto_score = None
        book.db.commit()
    _give_manual_grade(course_copy, "blank", "test_init_std", 1.0, "Half right.")
    run = nbgrader(course_copy, "autograde", LAB.lab_id, "--force")
    assert run.returncode == 0, run.stdout + run.stderr
    assert auto_scores(course_copy) == before
    with gradebook(course_copy) as book:
        assert book.find_grade("test_init_std", LAB.lab_id, LAB.lab_id, "blank").manual_score == 1.0
    most = sum(notebooks.points(cell) for cell in notebooks.grade_cells(notebooks.read(LAB.notebook)))
    assert 0 < sum(score for (student, _), score in before.items() if student == "buggy") < most
    autograded = notebooks.read(course_copy / "autograded" / "buggy" / LAB.lab_id / LAB.notebook.name)
    probe = "".join(output.get("text", "") for output in autograded.cells[-1].outputs)
    uid = sandbox.FIRST_UID + 1000 if os.geteuid() == 0 else os.geteuid()
    assert f"probe uid {uid} solutions visible False" in probe, probe


def test_nbgrader_validate_in_the_course_folder_runs_the_notebook_jailed(graded, course_copy):
    """`nbgrader validate` runs a submission's code too: in the jail, as grading does."""
    submitted = course_copy / "submitted" / "buggy" / LAB.lab_id / LAB.notebook.name
    nb = notebooks.read(submitted)
    solutions = Path(__file__).resolve().parents[1] / "solutions"
    answer = next(cell for cell in nb.cells if notebooks.grade_id(cell) == "q1_same_value")
    answer.source = f"import os\nif not os.path.exists({str(solutions)!r}):\n    Q1 = 'c'"
    notebooks.write(nb, submitted)
    run = nbgrader(course_copy, "validate", str(submitted))
    said = run.stdout + run.stderr
    assert "Success! Your notebook passes all the tests." in said, said


def test_nbgrader_export_writes_the_course_csvs(graded, course_copy):
    for name in ("grades.csv", "grades_by_exercise.csv"):
        (course_copy / name).unlink()
    run = nbgrader(course_copy, "export")
    assert run.returncode == 0, run.stdout + run.stderr
    for name in ("grades.csv", "grades_by_exercise.csv"):
        assert (course_copy / name).read_text() == (graded / name).read_text(), name
    assert tuple(_rows(course_copy / "grades.csv")[0]) == GRADES_HEADER


def test_nbgrader_autograde_without_execution_is_refused(graded, course_copy):
    run = nbgrader(course_copy, "autograde", LAB.lab_id, "--force", "--no-execute")
    assert "autograder grade" in run.stdout + run.stderr
    assert "--no-execute would score the outputs a student saved" in run.stdout + run.stderr
    assert auto_scores(course_copy) == auto_scores(graded)


def test_nbgrader_generate_assignment_is_refused_and_the_grades_stay(graded, course_copy):
    """formgrader's "Generate" runs generate_assignment with --force: it would rewrite the
    gradebook's cells and drop the grades of a graded course."""
    run = nbgrader(course_copy, "generate_assignment", LAB.lab_id, "--force")
    said = run.stdout + run.stderr
    assert run.returncode != 0 and "autograder release" in said, said
    assert auto_scores(course_copy) == auto_scores(graded)
    assert not (course_copy / "release" / LAB.lab_id).exists()


def test_without_the_autograder_package_nbgrader_refuses_to_grade(graded, course_copy):
    """The config file cannot stop nbgrader (it logs a config error and goes on with its own
    defaults), so it makes every grading step import a module that is not there."""
    blocked = ("import sys; sys.modules['autograder'] = None; "
               "from nbgrader.apps.nbgraderapp import main; sys.exit(main())")
    run = nbgrader(course_copy, "autograde", LAB.lab_id, "--force",
                   python_prefix=(sys.executable, "-c", blocked))
    said = run.stdout + run.stderr
    assert "cannot import it" in said and "autograder grade SUBMISSIONS" in said, said
    assert run.returncode != 0 and "autograder.pipeline" in said, said
    assert auto_scores(course_copy) == auto_scores(graded)


def test_grading_refuses_without_a_sandbox_and_names_the_command(monkeypatch):
    def unavailable():
        raise sandbox.SandboxUnavailable("Grading needs a sandbox, and bwrap is not installed")

    monkeypatch.setattr(sandbox, "require", unavailable)
    step = GradingExecute(jail=sandbox.Jail().to_json())
    with pytest.raises(RefusedEntryPoint, match="--no-sandbox"):
        step.preprocess(notebooks.read(LAB.notebook), {"nbgrader": {"assignment": LAB.lab_id}})


def test_each_notebook_gets_a_fresh_record_channel():
    """A formgrader server or `nbgrader autograde` grades many notebooks in one process: the
    records one wrote must never count for the next."""
    first = records.open_channel()
    os.write(first.fd, encode({"grade_id": "test_a", "observations": {"answer": "c"}, "stopped": None}))
    assert set(first.read()[0]) == {"test_a"}
    second = records.open_channel()
    assert second.read() == ({}, []) and records.current() is second
    open_fds = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        records.open_channel()
    assert len(os.listdir("/proc/self/fd")) == open_fds, "the previous channel is closed"


def test_past_the_submission_deadline_cells_get_only_the_time_left_and_every_grade_cell_fails():
    step = GradingExecute(notebook_seconds=300)
    step.timeout = 30
    step._deadline = time.monotonic() + 5
    assert step._get_timeout(None) <= 6
    step._deadline = time.monotonic() + 1000
    assert step._get_timeout(None) == 30
    nb = notebooks.read(LAB.notebook)
    pipeline._fail_every_grade_cell(nb, "SubmissionTimeout", "too long")
    graded = [cell for cell in nb.cells if notebooks.is_grade(cell)]
    assert graded and all(cell.outputs[-1]["ename"] == "SubmissionTimeout" for cell in graded)


def test_the_course_folder_config_keeps_the_limits_and_the_exchange(tmp_path):
    exchange = tmp_path / "hub-exchange"
    write_course_config(tmp_path, Limits(cell_seconds=45, notebook_seconds=120, memory_mb=2048),
                        exchange=exchange)
    text = (tmp_path / "nbgrader_config.py").read_text()
    assert "CELL_SECONDS, NOTEBOOK_SECONDS, MEMORY_MB = 45, 120, 2048" in text
    assert configured_exchange(tmp_path) == exchange.resolve()
    write_course_config(tmp_path)  # grading again keeps the exchange it was given
    assert configured_exchange(tmp_path) == exchange.resolve()


def _give_manual_grade(course: Path, student: str, cell: str, score: float, comment: str) -> None:
    """What formgrader's manual grading view writes: a manual score and a comment."""
    with gradebook(course) as book:
        grade_ = book.find_grade(cell, LAB.lab_id, LAB.lab_id, student)
        grade_.manual_score = score
        answer = book.find_comment(cell.removeprefix("test_"), LAB.lab_id, LAB.lab_id, student)
        answer.manual_comment = comment
        book.db.commit()


def test_a_manual_score_survives_a_regrade_and_is_marked_in_the_csvs(released, graded, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(graded, course)
    _give_manual_grade(course, "blank", "test_init_std", 1.5, "Right idea: the std is sqrt(2/fan_in).")
    subs = tmp_path / "subs"
    notebooks.write(_released_notebook(released), subs / "blank" / LAB.lab_id / LAB.notebook.name)

    regrade = ["grade", str(subs), "--out", str(course), "--release", str(released.out_dir)]
    assert autograder_main(regrade) == 0
    totals = {row["student_id"]: row for row in _rows(course / "grades.csv")}
    assert float(totals["blank"]["score"]) == 1.5 and totals["blank"]["manual"] == "test_init_std"
    assert totals["buggy"]["manual"] == ""
    cell = next(row for row in _rows(course / "grades_by_exercise.csv")
                if (row["student_id"], row["grade_id"]) == ("blank", "test_init_std"))
    assert tuple(cell) == BY_EXERCISE_HEADER
    assert (cell["score"], cell["graded_by"], cell["auto_score"], cell["manual_score"]) == (
        "1.5", "manual", "0.0", "1.5")
    assert cell["comment"] == "Right idea: the std is sqrt(2/fan_in)."

    assert autograder_main([*regrade, "--overwrite-manual"]) == 0
    totals = {row["student_id"]: row for row in _rows(course / "grades.csv")}
    assert float(totals["blank"]["score"]) == 0 and totals["blank"]["manual"] == ""
    assert all(row["comment"] == "" and row["graded_by"] == "autograder"
               for row in _rows(course / "grades_by_exercise.csv"))


def test_export_refuses_a_manual_score_above_the_maximum(graded, course_copy):
    _give_manual_grade(course_copy, "buggy", "test_init_std", 5, "")
    with pytest.raises(ScoreAboveMaximum, match="buggy/01_initialization/test_init_std 5 > 2"):
        export_grades(course_copy)


def test_the_exchange_round_trip_of_a_shared_jupyterhub(tmp_path):
    """release → publish; a student fetches and submits with nbgrader's commands; the instructor
    collects, grades, releases feedback; the student fetches it back."""
    exchange, release_dir, course = tmp_path / "exchange", tmp_path / "release", tmp_path / "graded"
    home = tmp_path / "ann"
    home.mkdir()
    publish = ["release", LAB.lab_id, "--out", str(release_dir), "--exchange", str(exchange)]
    assert autograder_main(publish) == 0
    assert (exchange / "dnnlabs" / "outbound" / LAB.lab_id / LAB.notebook.name).exists()

    student = {"HOME": str(home)}
    course_flags = ["--course", "dnnlabs", "--student", "ann", f"--Exchange.root={exchange}"]
    fetched = nbgrader(home, "fetch_assignment", LAB.lab_id, *course_flags, env=student)
    assert fetched.returncode == 0, fetched.stderr
    notebook = home / LAB.lab_id / LAB.notebook.name
    answers = reference_answers(LAB)
    notebooks.write(answered(notebooks.read(notebook), {"layer_stats": answers["layer_stats"]}), notebook)
    submitted = nbgrader(home, "submit", LAB.lab_id, *course_flags, env=student)
    assert submitted.returncode == 0, submitted.stderr

    assert autograder_main(["collect", LAB.lab_id, "--out", str(course), "--release", str(release_dir)]) == 0
    assert (course / "submitted" / "ann" / LAB.lab_id / "timestamp.txt").exists()
    assert autograder_main(["grade", str(course / "submitted"), "--out", str(course),
                            "--release", str(release_dir)]) == 0
    [row] = _rows(course / "grades.csv")
    assert (row["student_id"], float(row["score"])) == ("ann", 3.0)
    assert autograder_main(["feedback", "--out", str(course), "--to-exchange"]) == 0

    back = nbgrader(home, "fetch_feedback", LAB.lab_id, *course_flags, env=student)
    assert back.returncode == 0, back.stderr
    [page] = (home / LAB.lab_id / "feedback").glob(f"*/{LAB.lab_id}.html")
    assert "Exercise 1 · layer_stats" in page.read_text()
