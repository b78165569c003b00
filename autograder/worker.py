"""Autograde one submission in a private nbgrader course: `python -m autograder.worker COURSE LAB STUDENT`.

`autograder grade` runs one of these per submission, as a separate process it can time out
and kill, and then merges the scores into the instructor's gradebook. The worker is trusted
and runs outside the sandbox; the kernel it starts is jailed (`--jail`, see sandbox.py) and
gets the hidden tests by descriptor (see protocol.py). The worker writes `result.json` into
COURSE: per grade cell its score and maximum, whether nbgrader succeeded, and what went
wrong on the way (a cell stopped, a kernel restarted). Its nbgrader settings are those of
every other entry point (autograder/pipeline.py), with the jail and threads it is given.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import warnings
from pathlib import Path

from autograder import protocol
from autograder.execute import EVENTS_ENV
from autograder.nbgrader_setup import api, course_config, gradebook


def grading_config(course: Path, cell_timeout: int, *, jail: str = "", threads: int = 1):
    """nbgrader settings for grading one submission in `course`: the pipeline every entry point
    shares (pipeline.configure_grading: jailed kernels with the payload, experiments skipped,
    cells that kill or hang the kernel failing alone, probes recording in the kernel and the
    judge scoring outside it), with this worker's jail and threads. The deadline of
    the whole submission is kept by `autograder grade`, which kills the worker."""
    from autograder.pipeline import configure_grading

    return configure_grading(course_config(course), cell_seconds=cell_timeout, notebook_seconds=0,
                             jail=jail, threads=threads)


def read_scores(course: Path, lab_id: str, student_id: str) -> dict[str, dict[str, float | None]]:
    """Each grade cell's auto score and maximum for one submission, from a course's gradebook."""
    with gradebook(course) as book:
        notebook = book.find_submission_notebook(lab_id, lab_id, student_id)
        return {grade.name: {"score": grade.auto_score, "max_score": grade.max_score}
                for grade in notebook.grades}


def die_with_parent(grader_pid: int | None) -> None:
    """Ask Linux to kill this worker when the `autograder grade` that started it (`grader_pid`)
    dies (`kill -9`, a job step cancelled): a rerun then never meets an orphan still writing
    into its folder. Its kernel follows (bubblewrap's --die-with-parent). Elsewhere a no-op."""
    if not sys.platform.startswith("linux") or grader_pid is None:
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != grader_pid:  # it died before the request: nobody will collect this result
        os._exit(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("course", type=Path)
    parser.add_argument("lab_id")
    parser.add_argument("student_id")
    parser.add_argument("--cell-timeout", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--jail", default="", help="the kernel's sandbox.Jail as JSON; none: unjailed")
    parser.add_argument("--references", type=Path, help="a folder shared by the batch's workers "
                                                        "for the reference's records")
    parser.add_argument("--grader-pid", type=int, default=None,
                        help="the grade process: this worker ends when it does")
    args = parser.parse_args()
    die_with_parent(args.grader_pid)
    if args.references:
        from autograder.judge import keep_references_in

        keep_references_in(args.references)
    warnings.filterwarnings("ignore", message=".*not in session.*")
    course = args.course.resolve()
    runtime = Path(tempfile.mkdtemp(prefix="dnnlabs-"))
    events = course / "events.log"
    os.environ.update(JUPYTER_RUNTIME_DIR=str(runtime), **{EVENTS_ENV: str(events)})
    try:
        config = grading_config(course, args.cell_timeout, jail=args.jail, threads=args.threads)
        outcome = api(config).autograde(args.lab_id, args.student_id, force=True)
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
    if not outcome["success"]:
        print(outcome.get("log", ""), outcome.get("error", ""), sep="\n", file=sys.stderr)
    result = protocol.WorkerResult(success=bool(outcome["success"]), error=outcome.get("error") or "",
                                   events=events.read_text().splitlines() if events.exists() else [])
    if result.success:
        result.cells = read_scores(course, args.lab_id, args.student_id)
    result.write(course)
    return 0 if result.success else 1


if __name__ == "__main__":
    raise SystemExit(main())
