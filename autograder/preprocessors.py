"""nbgrader preprocessors of this course's own."""

from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

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
