"""nbgrader preprocessors of this course's own: skip experiments, require proof of a pass,
score grade cells from evidence only."""

from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import DeduplicateIds, NbGraderPreprocessor, SaveAutoGrades

from autograder import evidence, notebooks

SKIPPED = "# Experiment: skipped while grading (cells tagged `experiment` never count towards a grade)."


class SkipExperiments(NbGraderPreprocessor):
    """Blank the code of cells tagged `experiment`, so grading neither runs nor waits for them.

    Only cells without nbgrader metadata count as experiments: tagging a test cell
    `experiment` does not make it skip.
    """

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict,
                        index: int) -> tuple[NotebookNode, ResourcesDict]:
        if cell.cell_type == "code" and notebooks.is_experiment(cell):
            cell.source = SKIPPED
        return cell, resources


class ForgetDuplicateIds(DeduplicateIds):
    """nbgrader's DeduplicateIds, finished: a copied cell becomes an ordinary cell.

    JupyterLab's "Duplicate" copies a cell's nbgrader metadata too. nbgrader keeps the last
    copy's and empties the others' to `{}`, which its own OverwriteCells then trips on (a
    KeyError that failed the whole submission). Here the emptied metadata is removed.
    """

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict,
                        cell_index: int) -> tuple[NotebookNode, ResourcesDict]:
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if "nbgrader" in cell.metadata and not cell.metadata.nbgrader:
            del cell.metadata["nbgrader"]
        return cell, resources


class RequireEvidence(NbGraderPreprocessor):
    """Fail every grade cell whose hidden test did not report a pass through the keyed channel.

    A cell that shows no error is not enough: student code can blank later cells (an IPython
    input transformer), swap the hidden-test module, or hide tracebacks. Runs after Execute
    and before SaveAutoGrades; with no evidence channel open (not grading) it does nothing.
    """

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        channel = evidence.current()
        if channel is None:
            return nb, resources
        passed = channel.passes()
        for cell in nb.cells:
            unproven = (cell.cell_type == "code" and notebooks.is_grade(cell)
                        and notebooks.grade_id(cell) not in passed)
            failed = any(output.get("output_type") == "error" for output in cell.get("outputs", []))
            if unproven and not failed:
                cell.outputs.append(new_output(
                    "error", ename="HiddenTestsDidNotRun",
                    evalue="the hidden tests of this cell did not report a pass",
                    traceback=["HiddenTestsDidNotRun: the hidden tests of this cell did not "
                               "report a pass (the cell was changed, skipped or stopped early)"]))
        return nb, resources


class EvidenceScores(SaveAutoGrades):
    """SaveAutoGrades where a code grade cell scores from its error outputs alone.

    nbgrader would zero a cell that printed to stderr (a warning, a progress bar) and take
    the first `execute_result` of a cell as its score (so `sys.displayhook("ok")` before a
    failing assert scored full marks). Here a cell with any error output, wherever it stands,
    scores 0, and any other cell its points; with RequireEvidence before it, a cell whose
    hidden test did not report a pass has such an error. The notebook keeps every output
    for the feedback.
    """

    def _add_score(self, cell: NotebookNode, resources: ResourcesDict) -> None:
        if cell.cell_type != "code":
            return super()._add_score(cell, resources)
        scored = NotebookNode({**cell, "outputs": [output for output in cell.get("outputs", [])
                                                   if output.get("output_type") == "error"]})
        return super()._add_score(scored, resources)
