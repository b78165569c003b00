"""`autograder feedback`: one HTML page per graded submission, with every test's message.

nbgrader's `generate_feedback` writes the pages, with its own preprocessors and template plus
one step of ours (autograder/feedback_summary.py) and our template (autograder/feedback.html.j2):
the summary at the top names each exercise ("Exercise 2 · init_std", "Q3") and lists the failing
ones first, each linked to its cell. A course folder's nbgrader_config.py applies the same
`feedback_config`, so formgrader's "Generate feedback" writes the same page.
`release_feedback` hands the pages back through the nbgrader exchange of a shared JupyterHub.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from traitlets.config import Config

from autograder.nbgrader_setup import api, configured_exchange, course_config

FEEDBACK_TEMPLATE = Path(__file__).resolve().parent / "feedback.html.j2"
# What `nbgrader submit` leaves beside a notebook, and `release_feedback` needs beside its page.
EXCHANGE_RECEIPTS = ("timestamp.txt", "submission_secret.txt")


def feedback_config(config: Config, *, every_html_exporter: bool = True) -> Config:
    """`config` with the course's feedback page: nbgrader's steps, then the exercise summary.

    The template is given as a file (nbgrader's API pins the template *name* to its own
    `feedback`, which ours extends), so nbgrader's templates stay on the search path. It is set
    for GenerateFeedback's exporter, and, with `every_html_exporter`, for any HTMLExporter made
    from `config`; a course folder's config (pipeline.py) leaves formgrader's own exporter,
    which draws the manual grading view, its `formgrade` template.
    """
    import nbgrader
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    from autograder.feedback_summary import SummarizeExercises

    nbgrader_templates = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates"
    config.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, SummarizeExercises]
    exporters = [config.GenerateFeedback.HTMLExporter]
    for exporter in exporters + ([config.HTMLExporter] if every_html_exporter else []):
        exporter.extra_template_basedirs = [str(nbgrader_templates)]
        exporter.template_file = str(FEEDBACK_TEMPLATE)
    return config


def generate_feedback(course_dir: Path) -> list[Path]:
    """Write feedback/<student>/<lab>/<lab>.html for every autograded notebook in `course_dir`.

    A submission collected from an nbgrader exchange keeps its timestamp and secret next to
    its feedback page, so that `release_feedback` can hand the page back to the student.
    """
    grader = api(feedback_config(course_config(course_dir)))
    written = []
    for notebook in sorted((course_dir / "autograded").glob("*/*/*.ipynb")):
        lab_id, student_id = notebook.parent.name, notebook.parent.parent.name
        _keep_exchange_receipts(course_dir, student_id, lab_id)
        outcome = grader.generate_feedback(lab_id, student_id, force=True)
        if not outcome["success"]:
            raise RuntimeError(f"nbgrader could not write feedback for {student_id}/{lab_id}:\n"
                               f"{outcome.get('error')}")
        written.append(course_dir / "feedback" / student_id / lab_id / f"{lab_id}.html")
    return written


def release_feedback(course_dir: Path) -> list[Path]:
    """Hand every feedback page of `course_dir` back through the course's nbgrader exchange
    (nbgrader's `release_feedback`), for students to `nbgrader fetch_feedback`.

    Pages of submissions that did not come through the exchange (no receipt) are skipped.
    Returns the pages released.
    """
    config = course_config(course_dir)
    exchange = configured_exchange(course_dir)
    if exchange is not None:
        config.Exchange.root = str(exchange)
    grader = api(config)
    released = []
    for page in sorted((course_dir / "feedback").glob("*/*/*.html")):
        lab_id, student_id = page.parent.name, page.parent.parent.name
        if not all((page.parent / receipt).exists() for receipt in EXCHANGE_RECEIPTS):
            continue
        outcome = grader.release_feedback(lab_id, student_id)
        if not outcome["success"]:
            raise RuntimeError(f"nbgrader could not release feedback for {student_id}/{lab_id}:\n"
                               f"{outcome.get('error')}")
        released.append(page)
    return released


def _keep_exchange_receipts(course_dir: Path, student_id: str, lab_id: str) -> None:
    """Copy a collected submission's timestamp and secret beside its autograded notebook
    (`autograder grade` keeps only the notebook); nbgrader carries them on to the feedback."""
    submitted = course_dir / "submitted" / student_id / lab_id
    autograded = course_dir / "autograded" / student_id / lab_id
    for receipt in EXCHANGE_RECEIPTS:
        if (submitted / receipt).is_file() and not (autograded / receipt).exists():
            shutil.copy2(submitted / receipt, autograded / receipt)
