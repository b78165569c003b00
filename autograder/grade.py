"""`autograder grade`: grade a folder or zip of submissions into an nbgrader course folder.

Each submission is autograded by nbgrader in its own worker process and private copy of the
gradebook (so `--jobs N` can grade N at once, and one that hangs or crashes can be killed
without touching the others). The worker is trusted; the kernel that runs the student's
cells is jailed (sandbox.py) and sees nothing of the grader. The scores are then merged into
the course's gradebook one at a time, and `grades.csv`, `grades_by_exercise.csv` and
`report.csv` are written from it, so they always agree.

What happened to a submission is data (`Status`) until the report prints it; an exception
while grading one submission becomes that submission's row, never the batch's end.

The output folder is a complete nbgrader course (gradebook.db, source/, submitted/,
autograded/, feedback/): formgrader can open it, and grading again adds to it.

Resumable and idempotent: each submission's scores go into the gradebook as soon as it is
graded, through a copy that replaces the gradebook in one rename, and only then is it marked
done in the folder's manifest (manifest.py). A run killed at any moment (the parent with
`kill -9`, a lost node) leaves the old gradebook or the new one, never half of one; run again,
it grades only what has no matching mark: submissions not graded yet, changed since, graded
against another release, or stopped by a grader error. `--shard K/N` grades one share of the
batch (shards.py) for a cluster's scheduler; `autograder merge` joins the shards (merge.py).
"""

from __future__ import annotations

import csv
import io
import os
import queue
import shutil
import signal
import subprocess
import sys
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path

import nbformat

from autograder import notebooks, sandbox
from autograder.export import export_grades, read_totals
from autograder.manifest import Manifest, notebook_sha256, release_checksum, write_atomically
from autograder.nbgrader_setup import (
    configured_exchange,
    gradebook,
    use_this_interpreter_tools,
    write_course_config,
)
from autograder.protocol import WorkerResult
from autograder.scan import flags
from autograder.shards import Shard, fingerprint, select
from autograder.submissions import Problem, Submission, collect

REPORT_CSV = "report.csv"
WORK_DIR = ".work"


@dataclass(frozen=True)
class Limits:
    """What one submission may use while graded: seconds per cell and per notebook, memory,
    the largest file it may write, its private scratch space, processes, whether its kernel
    runs in the sandbox, and (unsandboxed only) whether it may reach the network."""

    cell_seconds: int = 30
    notebook_seconds: int = 300
    memory_mb: int = 4096
    file_mb: int = 256
    scratch_mb: int = 512
    processes: int = 256
    sandbox: bool = True
    isolate_network: bool = True

    def jail(self, slot: int) -> str:
        """The jail of a kernel graded in `slot`, as the worker's --jail argument ('' if none)."""
        if not self.sandbox:
            return ""
        return sandbox.Jail.for_slot(slot, memory_mb=self.memory_mb, file_mb=self.file_mb,
                                     scratch_mb=self.scratch_mb, processes=self.processes,
                                     cpu_seconds=2 * self.notebook_seconds).to_json()


@dataclass(frozen=True)
class Status:
    """What happened to one submission: graded, timed out or a grader error, and why."""

    kind: str
    detail: str = ""
    events: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    sandboxed: bool = True

    def __str__(self) -> str:
        parts = [self.kind + (f": {self.detail}" if self.detail else ""), *self.events]
        if self.flags:
            parts.append(f"flagged: {', '.join(self.flags)}")
        if not self.sandboxed:
            parts.append("unsandboxed")
        return "; ".join(parts)


@dataclass(frozen=True)
class Outcome:
    """What happened to one submission, and the points per grade cell its worker reported."""

    student_id: str
    lab_id: str
    score: float
    max_score: float
    seconds: float
    status: Status
    cells: dict[str, dict[str, float | None]] = field(default_factory=dict)


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
          limits: Limits = Limits(), overwrite_manual: bool = False, shard: Shard | None = None,
          regrade: bool = False) -> GradeReport:
    """Grade every submission under `source` against the release in `release_dir` (with `shard`,
    only that shard's share), skipping those `out_dir` already holds a complete result of for
    the same notebook and release, unless `regrade` or `overwrite_manual`.

    An instructor's manual scores, extra credit and comments (formgrader) on a submission graded
    again are kept, unless `overwrite_manual`: then they are cleared and the autograder's stand.
    Raises SandboxUnavailable (saying what to install) when kernels cannot be jailed here and
    `limits.sandbox` is on; ValueError when `out_dir` holds another shard than `shard`.
    """
    use_this_interpreter_tools()
    if limits.sandbox:
        sandbox.require()
    release_course = release_dir / "course"
    if not (release_course / "gradebook.db").exists():
        raise FileNotFoundError(f"No released course in {release_dir}: run `autograder release "
                                f"--out {release_dir}` first.")
    known_labs = {p.name for p in (release_course / "source").iterdir() if p.is_dir()}
    manifest = Manifest(out_dir)
    check_same_shard(out_dir, manifest, shard)
    work = fresh_work_folder(out_dir)
    _prepare_course(out_dir, release_course, limits)
    collected, problems = collect(source, known_labs, work)
    keys = [(s.student_id, s.lab_id) for s in collected]
    submissions = select(collected, keys, shard) if shard else collected
    hashes = {(s.student_id, s.lab_id): notebook_sha256(s.notebook) for s in submissions}
    release = release_checksum(release_course)
    manifest.write_batch(release=release, shard=str(shard) if shard else None, batch_size=len(keys),
                         batch_fingerprint=fingerprint(keys), selected=hashes,
                         problems=[(p.where, p.reason) for p in problems])
    kept = {} if regrade or overwrite_manual else manifest.completed(release, hashes)
    outcomes = _kept_outcomes(out_dir, kept)
    base_db = work / "gradebook.base.db"
    shutil.copy2(out_dir / "gradebook.db", base_db)
    jobs = max(jobs, 1)
    threads = max(1, available_cpus() // jobs)
    notes = [f"shard {shard}: {len(submissions)} of the batch's {len(keys)} submissions"] if shard else []
    if kept:
        notes.append(f"{len(kept)} submission(s) already graded from the same notebook against this "
                     "release: kept (--regrade grades them again)")
    prefix = []
    if not limits.sandbox:
        notes.append("unsandboxed (--no-sandbox): submissions' code ran with the grader's rights")
        if limits.isolate_network:
            prefix, note = network_isolation()
            notes += [note] if note else []
    released = {lab: notebooks.read(release_course / "release" / lab / f"{lab}.ipynb") for lab in known_labs}
    slots: queue.Queue[int] = queue.Queue()
    for slot in range(jobs):
        slots.put(slot)

    def run(submission: Submission) -> Outcome:
        slot = slots.get()
        try:
            outcome = _grade_one(submission, out_dir, work, base_db, limits, threads, prefix, slot)
        except Exception:  # one submission's failure is its own row, never the batch's end
            outcome = _failed(submission, out_dir, Status("grader error", traceback.format_exc(
                limit=-1).strip().splitlines()[-1] + ": scored 0", sandboxed=limits.sandbox))
        finally:
            slots.put(slot)
        found = flags(submission.notebook, released[submission.lab_id])
        return replace(outcome, status=replace(outcome.status, flags=tuple(found))) if found else outcome

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        pending = {pool.submit(run, s) for s in submissions if (s.student_id, s.lab_id) not in kept}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for outcome in commit(out_dir, work, [future.result() for future in done], overwrite_manual):
                key = (outcome.student_id, outcome.lab_id)
                manifest.record(key, hashes[key], release, outcome_record(outcome))
                outcomes.append(outcome)
    export_grades(out_dir)
    report = GradeReport(sorted(outcomes, key=lambda o: (o.student_id, o.lab_id)), problems, out_dir, notes)
    write_report(out_dir / REPORT_CSV, report)
    shutil.rmtree(work, ignore_errors=True)
    return report


def outcome_record(outcome: Outcome) -> dict:
    """An outcome as the manifest keeps it (plain JSON)."""
    status = outcome.status
    return {"score": outcome.score, "max_score": outcome.max_score, "seconds": round(outcome.seconds, 3),
            "status": {"kind": status.kind, "detail": status.detail, "events": list(status.events),
                       "flags": list(status.flags), "sandboxed": status.sandboxed},
            "cells": outcome.cells}


def outcome_from_record(student_id: str, lab_id: str, record: dict) -> Outcome:
    """The outcome a manifest entry keeps, as grading returned it."""
    status = record["status"]
    return Outcome(student_id, lab_id, float(record["score"]), float(record["max_score"]),
                   float(record["seconds"]),
                   Status(status["kind"], status["detail"], tuple(status["events"]), tuple(status["flags"]),
                          bool(status["sandboxed"])),
                   {cell: dict(scores) for cell, scores in record["cells"].items()})


def _kept_outcomes(out_dir: Path, kept: dict[tuple[str, str], dict]) -> list[Outcome]:
    """The submissions graded by an earlier run, with the gradebook's totals now (an instructor
    may have changed a score in formgrader since). One the gradebook lacks (a gradebook put back
    from a backup, say) is taken out of `kept`, to be graded again."""
    from nbgrader.api import MissingEntry

    outcomes = []
    for key, entry in list(kept.items()):
        outcome = outcome_from_record(*key, entry["outcome"])
        try:
            score, max_score = read_totals(out_dir, *key)
        except MissingEntry:
            del kept[key]
            continue
        outcomes.append(replace(outcome, score=score, max_score=max_score))
    return outcomes


def check_same_shard(out_dir: Path, manifest: Manifest, shard: Shard | None) -> None:
    """Refuse to mix shards in one folder: each shard's results must stay apart until merged."""
    batch = manifest.batch()
    held = batch.get("shard") if batch else None
    if batch is not None and held != (str(shard) if shard else None):
        what = f"shard {held}" if held else "a whole batch (graded without --shard)"
        raise ValueError(f"{out_dir} holds {what}; give each shard a folder of its own "
                         f"(--out .../shard-K), or merge shards with `autograder merge`.")


def commit(course_dir: Path, work: Path, outcomes: list[Outcome], overwrite_manual: bool) -> list[Outcome]:
    """Merge outcomes into a copy of the gradebook, then move the copy into place: a kill at any
    moment leaves the gradebook as it was or with all of them, never half-written."""
    staging = work / "commit"
    staging.mkdir(parents=True, exist_ok=True)
    shutil.copy2(course_dir / "gradebook.db", staging / "gradebook.db")
    merged = [_merge(staging, outcome, overwrite_manual) for outcome in outcomes]
    with open(staging / "gradebook.db", "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(staging / "gradebook.db", course_dir / "gradebook.db")
    return merged


def available_cpus() -> int:
    """The CPUs this process may use: those it is pinned to (a Slurm task's --cpus-per-task), and
    no more than its cgroup's quota (a Kubernetes pod's CPU limit). os.cpu_count() counts the
    whole node, and N kernels each given 1/N of a 64-core node's threads on 16 allotted cores
    would be oversubscribed 4×."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, -(-int(quota) // int(period))))
    except (OSError, ValueError):
        pass
    return max(cpus, 1)


def network_isolation() -> tuple[list[str], str]:
    """The command prefix that runs an unsandboxed worker without network, or none and a note."""
    unshare = shutil.which("unshare")
    if not unshare or not sys.platform.startswith("linux"):
        return [], "network not isolated: `unshare` is not available on this platform"
    for prefix in ([unshare, "--net"], [unshare, "--net", "--map-root-user"]):
        if subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix, ""
    return [], "network not isolated: this machine does not allow network namespaces"


def write_report(path: Path, report: GradeReport) -> None:
    """report.csv: the table, one row per submission, then one per skipped problem."""
    handle = io.StringIO(newline="")
    writer = csv.writer(handle)
    writer.writerow(["student_id", "lab_id", "score", "max_score", "seconds", "status"])
    for o in sorted(report.outcomes, key=lambda o: (o.student_id, o.lab_id)):
        writer.writerow([o.student_id, o.lab_id, o.score, o.max_score, round(o.seconds, 1), o.status])
    for problem in report.problems:
        writer.writerow(["", "", "", "", "", f"skipped: {problem}"])
    write_atomically(path, handle.getvalue())


def fresh_work_folder(out_dir: Path) -> Path:
    """The output folder's scratch folder, emptied: what a killed run left there is not reused."""
    out_dir.mkdir(parents=True, exist_ok=True)
    work = out_dir / WORK_DIR
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    return work


def _prepare_course(out_dir: Path, release_course: Path, limits: Limits) -> None:
    write_course_config(out_dir, limits, exchange=configured_exchange(release_course))
    if not (out_dir / "gradebook.db").exists():
        shutil.copy2(release_course / "gradebook.db", out_dir / "gradebook.db")
    shutil.copytree(release_course / "source", out_dir / "source", dirs_exist_ok=True)


def _grade_one(submission: Submission, out_dir: Path, work: Path, base_db: Path, limits: Limits,
               threads: int, prefix: list[str], slot: int) -> Outcome:
    course = _private_course(submission, out_dir, work, base_db)
    student, lab = submission.student_id, submission.lab_id
    command = [*prefix, sys.executable, "-m", "autograder.worker", str(course), lab, student,
               "--cell-timeout", str(limits.cell_seconds), "--threads", str(threads),
               "--jail", limits.jail(slot), "--references", str(work / "references"),
               "--grader-pid", str(os.getpid())]
    log_path = out_dir / "logs" / f"{student}__{lab}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    timed_out = _run_worker(command, log_path, limits.notebook_seconds)
    seconds = time.perf_counter() - start
    result = WorkerResult.read(course)
    if timed_out:
        status = Status("timed out", f"after {limits.notebook_seconds} s: scored 0", sandboxed=limits.sandbox)
    elif result is None or not result.success:
        error = _last_line(result.error if result else "the worker left no result")
        status = Status("grader error", f"{error} (see {log_path}): scored 0", sandboxed=limits.sandbox)
    else:
        status = Status("graded", events=tuple(result.events), sandboxed=limits.sandbox)
        _keep_autograded(course, out_dir, student, lab)
        return Outcome(student, lab, 0.0, 0.0, seconds, status, result.cells)
    return replace(_failed(submission, out_dir, status), seconds=seconds)


def _private_course(submission: Submission, out_dir: Path, work: Path, base_db: Path) -> Path:
    """A course folder of this submission's own, under a folder no grader file shares a name with."""
    student, lab = submission.student_id, submission.lab_id
    course = work / "students" / student / lab
    (course / "source").mkdir(parents=True)
    shutil.copy2(base_db, course / "gradebook.db")
    shutil.copytree(out_dir / "source" / lab, course / "source" / lab)
    submitted = course / "submitted" / student / lab / f"{lab}.ipynb"
    submitted.parent.mkdir(parents=True)
    nbformat.write(submission.notebook, str(submitted))
    kept = out_dir / "submitted" / student / lab
    kept.mkdir(parents=True, exist_ok=True)
    shutil.copy2(submitted, kept / submitted.name)
    return course


def _keep_autograded(course: Path, out_dir: Path, student: str, lab: str) -> None:
    autograded = course / "autograded" / student / lab / f"{lab}.ipynb"
    if autograded.exists():
        target = out_dir / "autograded" / student / lab
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        shutil.copy2(autograded, target / autograded.name)


def _failed(submission: Submission, out_dir: Path, status: Status) -> Outcome:
    return Outcome(submission.student_id, submission.lab_id, 0.0, 0.0, 0.0, status)


def _run_worker(command: list[str], log_path: Path, seconds: int) -> bool:
    """Run one worker to completion or to the notebook limit; True if it had to be killed."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return True
    return False


def _merge(out_dir: Path, outcome: Outcome, overwrite_manual: bool = False) -> Outcome:
    """Write one outcome's auto scores into the course gradebook (zeros if it could not be
    graded), each clamped to its cell's points; manual scores, extra credit and comments are
    the instructor's and are left alone, unless `overwrite_manual` clears them. Returns the
    outcome with the gradebook's totals."""
    with gradebook(out_dir) as book:
        book.update_or_create_student(outcome.student_id)
        book.update_or_create_submission(outcome.lab_id, outcome.student_id)
        notebook = book.find_submission_notebook(outcome.lab_id, outcome.lab_id, outcome.student_id)
        if overwrite_manual:
            _clear_manual(notebook)
        for grade in notebook.grades:
            reported = (outcome.cells.get(grade.name) or {}).get("score") or 0.0
            grade.auto_score = min(max(float(reported), 0.0), float(grade.max_score))
            grade.needs_manual_grade = grade.manual_score is not None
        book.db.commit()
    score, max_score = read_totals(out_dir, outcome.student_id, outcome.lab_id)
    return replace(outcome, score=score, max_score=max_score)


def _clear_manual(notebook) -> None:
    """Take back an instructor's manual scores, extra credit and comments on one notebook."""
    for grade in notebook.grades:
        grade.manual_score = None
        grade.extra_credit = None
    for comment in notebook.comments:
        comment.manual_comment = None


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "unknown error"
