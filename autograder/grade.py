"""`autograder grade`: grade a folder or zip of submissions into an nbgrader course folder.

Each submission is autograded by nbgrader in its own worker process and private copy of the
gradebook (so `--jobs N` can grade N at once, and one that hangs or crashes can be killed
without touching the others); the scores are then merged into the course's gradebook one at
a time, and `grades.csv` and `grades_by_exercise.csv` are exported from it.

The output folder is a complete nbgrader course (gradebook.db, source/, submitted/,
autograded/, feedback/): formgrader can open it, and grading again adds to it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.course import COURSE_ID
from autograder.export import export_grades
from autograder.nbgrader_setup import use_this_interpreter_tools
from autograder.submissions import Problem, Submission, collect
from autograder.worker import RESULT_FILE


@dataclass(frozen=True)
class Limits:
    """How long one cell and one whole notebook may run while graded."""

    cell_seconds: int = 30
    notebook_seconds: int = 300


@dataclass(frozen=True)
class Outcome:
    """What happened to one submission."""

    student_id: str
    lab_id: str
    score: float
    max_score: float
    seconds: float
    status: str
    cells: dict[str, dict[str, float | None]]


@dataclass
class GradeReport:
    outcomes: list[Outcome]
    problems: list[Problem]
    out_dir: Path

    def table(self) -> str:
        lines = [f"{'student':16s} {'lab':26s} {'score':>7s} {'max':>5s} {'seconds':>8s}  status"]
        for o in sorted(self.outcomes, key=lambda o: (o.student_id, o.lab_id)):
            lines.append(f"{o.student_id:16s} {o.lab_id:26s} {o.score:7.1f} {o.max_score:5.0f} "
                         f"{o.seconds:8.1f}  {o.status}")
        for problem in self.problems:
            lines.append(f"skipped  {problem}")
        return "\n".join(lines)


def grade(source: Path, out_dir: Path, release_dir: Path, *, jobs: int = 1,
          limits: Limits = Limits()) -> GradeReport:
    """Grade every submission under `source` against the release in `release_dir`."""
    use_this_interpreter_tools()
    release_course = release_dir / "course"
    if not (release_course / "gradebook.db").exists():
        raise FileNotFoundError(f"No released course in {release_dir}: run `autograder release "
                                f"--out {release_dir}` first.")
    known_labs = {p.name for p in (release_course / "source").iterdir() if p.is_dir()}
    out_dir.mkdir(parents=True, exist_ok=True)
    work = out_dir / ".work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    _prepare_course(out_dir, release_course)
    submissions, problems = collect(source, known_labs, work)
    base_db = work / "gradebook.base.db"
    shutil.copy2(out_dir / "gradebook.db", base_db)
    threads = max(1, (os.cpu_count() or 1) // max(jobs, 1))

    def run(submission: Submission) -> Outcome:
        return _grade_one(submission, out_dir, work, base_db, limits, threads)

    with ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:
        outcomes = list(pool.map(run, submissions))
    for outcome in outcomes:
        _merge(out_dir, outcome)
    export_grades(out_dir)
    shutil.rmtree(work, ignore_errors=True)
    return GradeReport(outcomes, problems, out_dir)


def _prepare_course(out_dir: Path, release_course: Path) -> None:
    if not (out_dir / "gradebook.db").exists():
        shutil.copy2(release_course / "gradebook.db", out_dir / "gradebook.db")
    shutil.copytree(release_course / "source", out_dir / "source", dirs_exist_ok=True)


def _grade_one(submission: Submission, out_dir: Path, work: Path, base_db: Path, limits: Limits,
               threads: int) -> Outcome:
    student, lab = submission.student_id, submission.lab_id
    course = work / student / lab
    (course / "source").mkdir(parents=True)
    shutil.copy2(base_db, course / "gradebook.db")
    shutil.copytree(out_dir / "source" / lab, course / "source" / lab)
    submitted = course / "submitted" / student / lab / f"{lab}.ipynb"
    submitted.parent.mkdir(parents=True)
    nbformat.write(submission.notebook, str(submitted))
    kept = out_dir / "submitted" / student / lab
    kept.mkdir(parents=True, exist_ok=True)
    shutil.copy2(submitted, kept / submitted.name)

    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    command = [sys.executable, "-m", "autograder.worker", str(course), lab, student,
               "--cell-timeout", str(limits.cell_seconds)]
    log_path = out_dir / "logs" / f"{student}__{lab}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    status = _run_worker(command, env, log_path, limits.notebook_seconds)
    seconds = time.perf_counter() - start
    result_path = course / RESULT_FILE
    result = json.loads(result_path.read_text()) if result_path.exists() else {}
    cells = result.get("cells") or {}
    if status == "graded" and not result.get("success"):
        status = "grader error: " + _last_line(result.get("error", "")) + f" (see {log_path})"
    autograded = course / "autograded" / student / lab / f"{lab}.ipynb"
    if status == "graded" and autograded.exists():
        target = out_dir / "autograded" / student / lab
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        shutil.copy2(autograded, target / autograded.name)
    score = sum(cell["score"] or 0 for cell in cells.values()) if status == "graded" else 0.0
    max_score = sum(cell["max_score"] for cell in cells.values()) if cells else _max_score(base_db, lab)
    return Outcome(student, lab, score, max_score, seconds, status, cells if status == "graded" else {})


def _run_worker(command: list[str], env: dict, log_path: Path, timeout: int) -> str:
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return f"timed out after {timeout} s: scored 0"
    return "graded"


def _merge(out_dir: Path, outcome: Outcome) -> None:
    """Write one outcome's scores into the course gradebook (zeros if it could not be graded)."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{(out_dir / 'gradebook.db').resolve()}", COURSE_ID) as gradebook:
        gradebook.update_or_create_student(outcome.student_id)
        gradebook.update_or_create_submission(outcome.lab_id, outcome.student_id)
        notebook = gradebook.find_submission_notebook(outcome.lab_id, outcome.lab_id, outcome.student_id)
        for grade in notebook.grades:
            cell = outcome.cells.get(grade.name)
            grade.auto_score = (cell or {}).get("score") or 0.0
            grade.needs_manual_grade = False
        gradebook.db.commit()


def _max_score(db: Path, lab_id: str) -> float:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db.resolve()}") as gradebook:
        return float(gradebook.find_assignment(lab_id).max_score)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "unknown error"
