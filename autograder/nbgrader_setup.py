"""nbgrader configured for this course: one place for every setting the steps share."""

from __future__ import annotations

import ast
import contextlib
import os
import re
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


def write_course_config(root: Path, limits=None, *, exchange: Path | None = None) -> Path:
    """An nbgrader_config.py in the course folder: formgrader and the `nbgrader` commands opened
    there find the course and its gradebook, and grade with this course's whole pipeline
    (pipeline.configure_course) and the limits of `limits` (a grade.Limits; default: its
    defaults), or refuse and say which `autograder` command to use.

    `exchange` is the nbgrader exchange folder of a shared JupyterHub; None keeps the one this
    folder's config already names, else `exchange/` inside the course folder.
    """
    path = root / "nbgrader_config.py"
    exchange = exchange or configured_exchange(root)
    if exchange is None:
        (root / "exchange").mkdir(parents=True, exist_ok=True)
    cell, notebook, memory = ((limits.cell_seconds, limits.notebook_seconds, limits.memory_mb)
                              if limits is not None else (30, 300, 4096))
    path.write_text(COURSE_CONFIG_TEMPLATE.format(
        course_id=COURSE_ID, exchange=repr(str(exchange.resolve())) if exchange else None,
        cell_seconds=cell, notebook_seconds=notebook, memory_mb=memory))
    return path


def configured_exchange(root: Path) -> Path | None:
    """The exchange folder a course folder's nbgrader_config.py names, if it names one."""
    path = root / "nbgrader_config.py"
    found = re.search(r"^EXCHANGE = (.+)$", path.read_text(), re.MULTILINE) if path.exists() else None
    value = ast.literal_eval(found.group(1)) if found else None
    return Path(value) if value else None


# Runs inside nbgrader, which only logs an error raised by a config file and goes on with its
# own defaults: so nothing here raises, and without `autograder` every grading step is made to
# fail on an import that names the missing package.
COURSE_CONFIG_TEMPLATE = '''"""nbgrader settings of this course folder (written by the autograder).

Every grading step nbgrader runs here (`nbgrader autograde`, formgrader's "Autograde" and
"Generate feedback", `nbgrader export`) runs the course's own pipeline through
autograder.pipeline.configure_course: kernels in the sandbox, the limits below, the probes
by descriptor, the record channel and the judge outside the kernel, the course's
preprocessors, feedback page and CSV files. It gives the grades `autograder grade` gives, or
refuses and names the command to use.
"""
import os
import sys

EXCHANGE = {exchange}
CELL_SECONDS, NOTEBOOK_SECONDS, MEMORY_MB = {cell_seconds}, {notebook_seconds}, {memory_mb}

c = get_config()  # noqa: F821 (nbgrader defines it)
c.CourseDirectory.course_id = "{course_id}"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.Exchange.root = EXCHANGE or os.path.join(c.CourseDirectory.root, "exchange")
try:
    from autograder.pipeline import configure_course
except ImportError as error:
    print(f"nbgrader_config.py: this course grades only with the `autograder` package, and "
          f"{{sys.executable}} cannot import it ({{error}}). Start nbgrader or JupyterLab from "
          "the course's environment (`.venv/bin/jupyter lab`, `.venv/bin/nbgrader`) or grade "
          "with `autograder grade SUBMISSIONS --out COURSE`; until then grading here fails.",
          file=sys.stderr)
    MISSING = "autograder.pipeline.GradingExecute"
    c.Autograde.sanitize_preprocessors = [MISSING]
    c.Autograde.autograde_preprocessors = [MISSING]
    c.GenerateFeedback.preprocessors = [MISSING]
    c.ExportApp.plugin_class = "autograder.export.CourseCsvExport"
else:
    configure_course(c, cell_seconds=CELL_SECONDS, notebook_seconds=NOTEBOOK_SECONDS,
                     memory_mb=MEMORY_MB)
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
