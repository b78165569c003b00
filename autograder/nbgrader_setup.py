"""nbgrader configured for this course: one place for every setting the steps share."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

from traitlets.config import Config

from autograder.course import COURSE_ID

CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


def use_this_interpreter_tools() -> None:
    """Put this interpreter's scripts folder first on PATH.

    nbgrader runs the `alembic` command to open a gradebook; from a virtual environment that
    was not activated (`.venv/bin/python -m autograder`, as make and CI do), it would not be found.
    """
    scripts = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != scripts:
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")


def course_config(root: Path) -> Config:
    """Settings shared by release, autograde and feedback for the course rooted at `root`."""
    root = root.resolve()
    config = Config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.course_id = COURSE_ID
    config.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
    config.Exchange.root = str(root / "exchange")
    config.ClearSolutions.code_stub = {"python": CODE_STUB}
    config.ClearSolutions.enforce_metadata = True
    config.NbGraderAPI.log_level = "WARN"
    return config


def api(config: Config):
    """An NbGraderAPI for `config` (imported lazily: nbgrader takes a second to import)."""
    use_this_interpreter_tools()
    Path(config.Exchange.root).mkdir(parents=True, exist_ok=True)
    from nbgrader.apps import NbGraderAPI

    return NbGraderAPI(config=config)


def write_course_config(root: Path) -> Path:
    """An nbgrader_config.py in the course folder, so that formgrader (or the nbgrader
    command) opened there finds the course and its gradebook."""
    (root / "exchange").mkdir(parents=True, exist_ok=True)
    path = root / "nbgrader_config.py"
    path.write_text(COURSE_CONFIG_TEMPLATE.format(course_id=COURSE_ID))
    return path


COURSE_CONFIG_TEMPLATE = '''"""nbgrader settings of this course folder (written by the autograder)."""
import os

c = get_config()  # noqa: F821 (nbgrader defines it)
c.CourseDirectory.course_id = "{course_id}"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.Exchange.root = os.path.join(c.CourseDirectory.root, "exchange")
'''


@contextlib.contextmanager
def gradebook(course_dir: Path) -> Iterator:
    """nbgrader's Gradebook of a course folder, without the SQLAlchemy warnings it provokes."""
    use_this_interpreter_tools()
    from nbgrader.api import Gradebook

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not in session.*")
        with Gradebook(f"sqlite:///{(course_dir / 'gradebook.db').resolve()}", COURSE_ID) as book:
            yield book
