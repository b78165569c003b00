"""`autograder feedback`: one HTML page per graded submission, with every test's message.

nbgrader's `generate_feedback` writes the pages, with its own preprocessors and template plus
one step of ours (autograder/feedback_summary.py) and our template (autograder/feedback.html.j2):
the summary at the top names each exercise ("Exercise 2 · init_std", "Q3") and lists the failing
ones first, each linked to its cell.
"""

from __future__ import annotations

from pathlib import Path

from traitlets.config import Config

from autograder.nbgrader_setup import api, course_config

FEEDBACK_TEMPLATE = Path(__file__).resolve().parent / "feedback.html.j2"


def feedback_config(config: Config) -> Config:
    """`config` with the course's feedback page: nbgrader's steps, then the exercise summary.

    The template is given as a file (nbgrader's API pins the template *name* to its own
    `feedback`, which ours extends), so nbgrader's templates stay on the search path.
    """
    import nbgrader
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    from autograder.feedback_summary import SummarizeExercises

    nbgrader_templates = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates"
    config.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, SummarizeExercises]
    config.HTMLExporter.extra_template_basedirs = [str(nbgrader_templates)]
    config.HTMLExporter.template_file = str(FEEDBACK_TEMPLATE)
    return config


def generate_feedback(course_dir: Path) -> list[Path]:
    """Write feedback/<student>/<lab>/<lab>.html for every autograded notebook in `course_dir`."""
    grader = api(feedback_config(course_config(course_dir)))
    written = []
    for notebook in sorted((course_dir / "autograded").glob("*/*/*.ipynb")):
        lab_id, student_id = notebook.parent.name, notebook.parent.parent.name
        outcome = grader.generate_feedback(lab_id, student_id, force=True)
        if not outcome["success"]:
            raise RuntimeError(f"nbgrader could not write feedback for {student_id}/{lab_id}:\n"
                               f"{outcome.get('error')}")
        written.append(course_dir / "feedback" / student_id / lab_id / f"{lab_id}.html")
    return written
