"""`autograder feedback`: one HTML page per graded submission, with every test's message."""

from __future__ import annotations

from pathlib import Path

from autograder.nbgrader_setup import api, course_config


def generate_feedback(course_dir: Path) -> list[Path]:
    """Write feedback/<student>/<lab>/<lab>.html for every autograded notebook in `course_dir`."""
    grader = api(course_config(course_dir))
    written = []
    for notebook in sorted((course_dir / "autograded").glob("*/*/*.ipynb")):
        lab_id, student_id = notebook.parent.name, notebook.parent.parent.name
        outcome = grader.generate_feedback(lab_id, student_id, force=True)
        if not outcome["success"]:
            raise RuntimeError(f"nbgrader could not write feedback for {student_id}/{lab_id}:\n"
                               f"{outcome.get('error')}")
        written.append(course_dir / "feedback" / student_id / lab_id / f"{lab_id}.html")
    return written
