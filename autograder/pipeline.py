"""The grading pipeline of every entry point, configured in one place.

`autograder grade` (through its worker), `nbgrader autograde` run in a course folder, and
formgrader's "Autograde" and "Generate feedback" buttons all grade with the settings that
`configure_grading` writes into an nbgrader config: kernels jailed (sandbox.py) and given
the probes by descriptor (grading_kernel.py), the course's preprocessors (experiments
skipped, duplicated cells forgotten, scores from the judge's verdicts only), the limits per
cell and per submission, the feedback page of `autograder feedback`, and the CSV files of
`autograder export`.

Each notebook is graded by `GradingExecute` in two phases. It opens what one grading needs
when it starts and not before: a fresh record channel (so no submission's records count for
the next one in the same process, as in a formgrader server), a private folder for the
kernel's sockets, and the deadline of the whole submission. It moves each grade cell's
hidden part into a probe cell of its own, runs the notebook in the jailed kernel (the
probes record), then has the judge, here in the trusted process, turn the records into
each grade cell's verdict (hidden_cells.py, judge.py). A step that cannot grade as
`autograder grade` would (no sandbox here, `--no-execute`), or that would rewrite what
`autograder release` made (`nbgrader generate_assignment`), refuses and names the command
that can.

A course folder's `nbgrader_config.py` (nbgrader_setup.write_course_config) calls
`configure_course`; the worker calls `configure_grading` with the limits it was given.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from nbformat import NotebookNode
from nbformat.v4 import new_output
from traitlets import Integer, Unicode
from traitlets.config import Config

from autograder import hidden_cells, notebooks, protocol, records, sandbox
from autograder.course import Lab
from autograder.execute import ResilientExecute

# The grading slot of kernels started by nbgrader in a course folder (formgrader, `nbgrader
# autograde`): a uid of its own, apart from the slots `autograder grade --jobs N` uses.
COURSE_FOLDER_SLOT = 1000


class RefusedEntryPoint(RuntimeError):
    """This way of grading would not grade as `autograder grade` does; the message says what to run."""


class RefusedGeneration(SystemExit):
    """A SystemExit, since nbgrader only logs an Exception raised by a pre-convert hook and goes
    on; formgrader reports it as the action's error, the command exits with it."""


def refuse_to_generate(**_: object) -> None:
    """`nbgrader generate_assignment` (formgrader's "Generate") in a course folder: refused
    before it touches the gradebook, whose cells and grades it would rewrite."""
    raise RefusedGeneration(
        "The student version of this course is made by `autograder release` (which also checks "
        "that no solution or hidden test leaks into it and builds the student zip); nbgrader "
        "generate_assignment here would rewrite the gradebook's cells, and with --force drop "
        "its grades. Run `autograder release --out FOLDER` instead.")


class JailedExecute(ResilientExecute):
    """ResilientExecute whose kernels start in the jail, with a private folder for their sockets.

    nbgrader's `validate` runs notebooks with it in a course folder: a submission validated
    there runs jailed as it would be graded (its visible tests only; nothing is judged).
    """

    jail = Unicode("", help="The kernel's sandbox.Jail as JSON; empty: unjailed").tag(config=True)
    threads = Integer(0, help="CPU threads of the kernel's math libraries (0: all)").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        if self.jail:
            try:
                sandbox.require()
            except sandbox.SandboxUnavailable as error:
                raise RefusedEntryPoint(f"{error} (`autograder grade SUBMISSIONS --out COURSE "
                                        "--no-sandbox`)") from error
        self._runtime = Path(tempfile.mkdtemp(prefix="dnnlabs-"))
        try:
            return super().preprocess(nb, resources, km)
        finally:
            shutil.rmtree(self._runtime, ignore_errors=True)

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        km.jail = self.jail
        km.threads = self.threads or os.cpu_count() or 1
        km.shared = str(self._runtime)
        km.transport = "ipc"
        km.ip = str(self._runtime / "kernel")
        return km


class GradingExecute(JailedExecute):
    """JailedExecute that grades: probe cells, a fresh record channel, the judge, the deadline."""

    notebook_seconds = Integer(0, help="Seconds for the whole submission; past them every grade "
                                       "cell scores 0 (0: no limit here)").tag(config=True)

    def __call__(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        if not self.enabled:
            raise RefusedEntryPoint(
                "This course grades by running every submission (--no-execute would score the "
                "outputs a student saved). Grade with `autograder grade SUBMISSIONS --out COURSE`.")
        return self.preprocess(nb, resources)

    def preprocess(self, nb, resources=None, km=None):
        lab_module = Lab(resources["nbgrader"]["assignment"]).module_name
        channel = records.open_channel()
        start = time.monotonic()
        self._deadline = start + self.notebook_seconds if self.notebook_seconds else None
        nb = hidden_cells.with_probe_cells(nb, lab_module)
        nb, resources = super().preprocess(nb, resources, km)
        recorded, problems = channel.read()
        for problem in problems:
            self._event(f"record channel: {problem}")
        nb = hidden_cells.judge_cells(nb, lab_module, recorded)
        if self._deadline is not None and time.monotonic() > self._deadline:
            self._event(f"stopped after {self.notebook_seconds} s for the whole submission: scored 0")
            _fail_every_grade_cell(nb, "SubmissionTimeout", f"grading this submission took longer "
                                   f"than {self.notebook_seconds} s: every cell scores 0")
        return nb, resources

    def _get_timeout(self, cell):
        timeout = super()._get_timeout(cell)
        if self._deadline is None:
            return timeout
        remaining = max(1, int(self._deadline - time.monotonic()) + 1)
        return remaining if timeout is None or timeout <= 0 else min(timeout, remaining)


def _fail_every_grade_cell(nb: NotebookNode, name: str, message: str) -> None:
    for cell in nb.cells:
        if cell.cell_type == "code" and notebooks.is_grade(cell):
            cell.setdefault("outputs", []).append(
                new_output("error", ename=name, evalue=message, traceback=[f"{name}: {message}"]))


def configure_grading(config: Config, *, cell_seconds: int = 30, notebook_seconds: int = 300,
                      memory_mb: int = 4096, jail: str | None = None, threads: int = 0) -> Config:
    """`config` with this course's whole grading pipeline (and feedback page and CSV export).

    `jail` is the kernel's sandbox.Jail as JSON ('' grades unjailed, as `--no-sandbox`); None
    builds the course folder's jail from the limits. `notebook_seconds` 0 leaves the deadline
    to the caller (the worker is killed by `autograder grade` instead).
    """
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        ClearOutput,
        IgnorePattern,
        LimitOutput,
        OverwriteCells,
        OverwriteKernelspec,
    )
    from nbgrader.validator import Validator

    from autograder.export import CourseCsvExport
    from autograder.feedback import feedback_config
    from autograder.preprocessors import ForgetDuplicateIds, SkipExperiments, VerdictScores

    if jail is None:
        jail = sandbox.Jail.for_slot(COURSE_FOLDER_SLOT, memory_mb=memory_mb,
                                     cpu_seconds=2 * notebook_seconds).to_json()
    config.Execute.timeout = cell_seconds
    config.Execute.interrupt_on_timeout = True
    config.Execute.error_on_timeout = {
        "ename": "CellTimeoutError",
        "evalue": f"this cell ran longer than {cell_seconds} s while graded and was stopped",
        "traceback": [f"CellTimeoutError: this cell ran longer than {cell_seconds} s while graded "
                      "and was stopped"]}
    config.Execute.extra_arguments = [f"--IPKernelApp.exec_lines={protocol.BOOTSTRAP}"]
    config.JailedExecute.jail = jail
    config.JailedExecute.threads = threads
    config.GradingExecute.notebook_seconds = notebook_seconds
    # `nbgrader validate` runs a notebook too; nbgrader does not mark its steps configurable.
    Validator.class_traits()["preprocessors"].tag(config=True)
    config.Validator.preprocessors = [CheckCellMetadata, ClearOutput, JailedExecute]
    config.Autograde.create_student = True
    config.Autograde.sanitize_preprocessors = [ClearOutput, ForgetDuplicateIds, OverwriteKernelspec,
                                               OverwriteCells, SkipExperiments, CheckCellMetadata]
    config.Autograde.autograde_preprocessors = [GradingExecute, IgnorePattern,
                                                ClearMetadataPreprocessor, LimitOutput,
                                                VerdictScores,
                                                AssignLatePenalties, CheckCellMetadata]
    config.OverwriteCells.add_missing_cells = True
    config.ExportApp.plugin_class = CourseCsvExport
    feedback_config(config, every_html_exporter=False)
    return config


def configure_course(config: Config, *, cell_seconds: int = 30, notebook_seconds: int = 300,
                     memory_mb: int = 4096) -> Config:
    """What a course folder's nbgrader_config.py calls: the pipeline of `autograder grade` with
    the limits the folder was graded with, for every nbgrader command and formgrader there.

    It never raises (nbgrader would only log the error and go on with its own defaults):
    what cannot be checked now is checked when a submission is graded.
    """
    from autograder.nbgrader_setup import CODE_STUB

    config.ClearSolutions.code_stub = {"python": CODE_STUB}
    config.ClearSolutions.enforce_metadata = True
    config.GenerateAssignment.pre_convert_hook = refuse_to_generate
    return configure_grading(config, cell_seconds=cell_seconds, notebook_seconds=notebook_seconds,
                             memory_mb=memory_mb, jail=None)
