"""`autograder grade`: grade a folder or zip of submissions into an nbgrader course folder.

Each submission is autograded by nbgrader in its own worker process and private copy of the
gradebook (so `--jobs N` can grade N at once, and one that hangs or crashes can be killed
without touching the others); the scores are then merged into the course's gradebook one at
a time, and `grades.csv` and `grades_by_exercise.csv` are exported from it.

The output folder is a complete nbgrader course (gradebook.db, source/, submitted/,
autograded/, feedback/): formgrader can open it, and grading again adds to it.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import nbformat

from autograder import notebooks
from autograder.export import export_grades
from autograder.nbgrader_setup import gradebook, use_this_interpreter_tools, write_course_config
from autograder.scan import flags
from autograder.submissions import Problem, Submission, collect

RESULT_FILE = "result.json"
REPORT_CSV = "report.csv"


@dataclass(frozen=True)
class Limits:
    """What one submission may use while graded: seconds per cell and per notebook, memory,
    and whether it may reach the network."""

    cell_seconds: int = 30
    notebook_seconds: int = 300
    memory_mb: int = 4096
    isolate_network: bool = True


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
    notes: list[str]

    def table(self) -> str:
        lines = [f"note: {note}" for note in self.notes]
        lines.append(f"{'student':16s} {'lab':26s} {'score':>7s} {'max':>5s} {'seconds':>8s}  status")
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
    prefix, note = network_isolation() if limits.isolate_network else ([], "network not isolated (asked)")
    released = {lab: notebooks.read(release_course / "release" / lab / f"{lab}.ipynb") for lab in known_labs}

    def run(submission: Submission) -> Outcome:
        outcome = _grade_one(submission, out_dir, work, base_db, limits, threads, prefix)
        found = flags(submission.notebook, released[submission.lab_id])
        if found:
            outcome = replace(outcome, status=f"{outcome.status}; flagged: {', '.join(found)}")
        return outcome

    with ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:
        outcomes = list(pool.map(run, submissions))
    for outcome in outcomes:
        _merge(out_dir, outcome)
    export_grades(out_dir)
    report = GradeReport(outcomes, problems, out_dir, [note] if note else [])
    _write_report(out_dir / REPORT_CSV, report)
    shutil.rmtree(work, ignore_errors=True)
    return report


def network_isolation() -> tuple[list[str], str]:
    """The command prefix that runs a worker without network, or none and a note saying why."""
    unshare = shutil.which("unshare")
    if not unshare or not sys.platform.startswith("linux"):
        return [], "network not isolated: `unshare` is not available on this platform"
    for prefix in ([unshare, "--net"], [unshare, "--net", "--map-root-user"]):
        if subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix, ""
    return [], "network not isolated: this machine does not allow network namespaces"


def _write_report(path: Path, report: GradeReport) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", "lab_id", "score", "max_score", "seconds", "status"])
        for o in sorted(report.outcomes, key=lambda o: (o.student_id, o.lab_id)):
            writer.writerow([o.student_id, o.lab_id, o.score, o.max_score, round(o.seconds, 1), o.status])
        for problem in report.problems:
            writer.writerow(["", "", "", "", "", f"skipped: {problem}"])


def _prepare_course(out_dir: Path, release_course: Path) -> None:
    write_course_config(out_dir)
    if not (out_dir / "gradebook.db").exists():
        shutil.copy2(release_course / "gradebook.db", out_dir / "gradebook.db")
    shutil.copytree(release_course / "source", out_dir / "source", dirs_exist_ok=True)


def _grade_one(submission: Submission, out_dir: Path, work: Path, base_db: Path, limits: Limits,
               threads: int, prefix: list[str]) -> Outcome:
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
    command = [*prefix, sys.executable, "-m", "autograder.worker", str(course), lab, student,
               "--cell-timeout", str(limits.cell_seconds)]
    log_path = out_dir / "logs" / f"{student}__{lab}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    timed_out = _run_worker(command, env, log_path, limits)
    seconds = time.perf_counter() - start
    result_path = course / RESULT_FILE
    result = json.loads(result_path.read_text()) if result_path.exists() else {}
    graded = not timed_out and bool(result.get("success"))
    if timed_out:
        status = f"timed out after {limits.notebook_seconds} s: scored 0"
    elif not graded:
        status = f"grader error: {_last_line(result.get('error', ''))} (see {log_path}): scored 0"
    else:
        status = "; ".join(["graded", *result.get("events", [])])
    cells = result.get("cells", {}) if graded else {}
    autograded = course / "autograded" / student / lab / f"{lab}.ipynb"
    if graded and autograded.exists():
        target = out_dir / "autograded" / student / lab
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        shutil.copy2(autograded, target / autograded.name)
    score = sum(cell["score"] or 0 for cell in cells.values())
    max_score = sum(cell["max_score"] for cell in cells.values()) if cells else _max_score(out_dir, lab)
    return Outcome(student, lab, score, max_score, seconds, status, cells)


def _run_worker(command: list[str], env: dict, log_path: Path, limits: Limits) -> bool:
    """Run one worker to completion or to the notebook limit; True if it had to be killed."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, preexec_fn=_memory_cap(limits.memory_mb))
        try:
            process.wait(timeout=limits.notebook_seconds)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return True
    return False


def _memory_cap(megabytes: int):
    """Limit the worker and its kernel's data segment: a memory bomb raises MemoryError there."""
    def apply() -> None:
        limit = megabytes * 2**20
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))

    return apply


def _merge(out_dir: Path, outcome: Outcome) -> None:
    """Write one outcome's scores into the course gradebook (zeros if it could not be graded)."""
    with gradebook(out_dir) as book:
        book.update_or_create_student(outcome.student_id)
        book.update_or_create_submission(outcome.lab_id, outcome.student_id)
        notebook = book.find_submission_notebook(outcome.lab_id, outcome.lab_id, outcome.student_id)
        for grade in notebook.grades:
            cell = outcome.cells.get(grade.name)
            grade.auto_score = (cell or {}).get("score") or 0.0
            grade.needs_manual_grade = False
        book.db.commit()


def _max_score(course_dir: Path, lab_id: str) -> float:
    with gradebook(course_dir) as book:
        return float(book.find_assignment(lab_id).max_score)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "unknown error"
