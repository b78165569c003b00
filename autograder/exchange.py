"""The nbgrader exchange of a shared JupyterHub: publish the release, collect the submissions.

On a hub, students fetch and submit with nbgrader's own commands (or its Assignments tab):

    autograder release --out build/release --exchange /srv/nbgrader/exchange   # publish
    nbgrader fetch_assignment 01_initialization --course dnnlabs               # each student
    nbgrader submit 01_initialization --course dnnlabs                         # each student
    autograder collect --out build/graded                                      # instructor
    autograder grade build/graded/submitted --out build/graded
    autograder feedback --out build/graded --to-exchange                       # hand back
    nbgrader fetch_feedback 01_initialization --course dnnlabs                 # each student

The exchange folder is written into each course folder's nbgrader_config.py, so `nbgrader
collect` and formgrader's buttons in those folders use it too.
"""

from __future__ import annotations

from pathlib import Path

from autograder.course import COURSE_ID, Lab
from autograder.nbgrader_setup import api, configured_exchange, course_config, write_course_config


def publish(labs: list[Lab], release_dir: Path, exchange: Path) -> list[Path]:
    """Release each lab of `release_dir` into `exchange` (nbgrader's `release_assignment`), and
    name the exchange in the release course's nbgrader_config.py. Returns the published folders."""
    course = release_dir / "course"
    exchange = exchange.resolve()
    exchange.mkdir(parents=True, exist_ok=True)
    write_course_config(course, exchange=exchange)
    config = course_config(course)
    config.Exchange.root = str(exchange)
    config.ExchangeReleaseAssignment.force = True
    grader = api(config)
    for lab in labs:
        _step(grader.release_assignment, lab, f"publish {lab.lab_id} to {exchange}")
    return [exchange / COURSE_ID / "outbound" / lab.lab_id for lab in labs]


def collect(labs: list[Lab], out_dir: Path, release_dir: Path,
            exchange: Path | None = None) -> list[tuple[str, str]]:
    """Collect every student's latest submission of `labs` from the exchange (nbgrader's
    `collect`) into `out_dir/submitted/<student>/<lab>/`, the layout `autograder grade` reads.

    `out_dir` becomes a course folder like the one `autograder grade` writes, if it is not one
    yet. The exchange is `exchange`, else the one the course folder or the release names.
    Returns (student, lab) for each submission collected.
    """
    from autograder.grade import Limits, _prepare_course

    release_course = release_dir / "course"
    exchange = exchange or configured_exchange(out_dir) or configured_exchange(release_course)
    if exchange is None:
        raise ValueError("No exchange folder: give --exchange DIR, or publish the labs with "
                         "`autograder release --exchange DIR` first.")
    if not (release_course / "gradebook.db").exists():
        raise FileNotFoundError(f"No released course in {release_dir}: run `autograder release "
                                f"--out {release_dir} --exchange {exchange}` first.")
    out_dir.mkdir(parents=True, exist_ok=True)
    if not (out_dir / "gradebook.db").exists():
        _prepare_course(out_dir, release_course, Limits())
    write_course_config(out_dir, exchange=exchange.resolve())
    config = course_config(out_dir)
    config.Exchange.root = str(exchange.resolve())
    grader = api(config)
    collected = []
    for lab in labs:
        _step(grader.collect, lab, f"collect {lab.lab_id} from {exchange}")
        collected += [(notebook.parent.parent.name, lab.lab_id) for notebook in
                      sorted((out_dir / "submitted").glob(f"*/{lab.lab_id}/{lab.lab_id}.ipynb"))]
    return collected


def _step(step, lab: Lab, what: str) -> None:
    """Run one nbgrader API step for `lab`; raise with nbgrader's own words if it failed."""
    outcome = step(lab.lab_id)
    if not outcome["success"]:
        raise RuntimeError(f"nbgrader could not {what}:\n{outcome.get('error') or outcome.get('log')}")
