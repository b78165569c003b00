"""nbgrader preprocessors of this course's own: skip experiments, forget duplicated ids,
score grade cells from the judge's verdicts only."""

from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbgrader.preprocessors import DeduplicateIds, NbGraderPreprocessor, SaveAutoGrades

from autograder import notebooks

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


class VerdictScores(SaveAutoGrades):
    """SaveAutoGrades where a code grade cell scores from its error outputs alone.

    nbgrader would zero a cell that printed to stderr (a warning, a progress bar) and take
    the first `execute_result` of a cell as its score (so `sys.displayhook("ok")` before a
    failing assert scored full marks). Here a cell with any error output, wherever it stands,
    scores 0, and any other cell its points. After GradingExecute the only error output a
    grade cell can hold is the judge's failing verdict (hidden_cells.place_verdict), or the
    stop of a submission past its deadline. The notebook keeps every output for the feedback.
    """

    def _add_score(self, cell: NotebookNode, resources: ResourcesDict) -> None:
        if cell.cell_type != "code":
            return super()._add_score(cell, resources)
        scored = NotebookNode({**cell, "outputs": [output for output in cell.get("outputs", [])
                                                   if output.get("output_type") == "error"]})
        return super()._add_score(scored, resources)
