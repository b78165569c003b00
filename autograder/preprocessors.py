"""nbgrader preprocessors of this course's own: skip experiments, require proof of a pass."""

from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor

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


class RequireEvidence(NbGraderPreprocessor):
    """Fail every grade cell whose hidden test did not report a pass through the keyed channel.

    A cell that shows no error is not enough: student code can blank later cells (an IPython
    input transformer), swap the hidden-test module, or hide tracebacks. Runs after Execute
    and before SaveAutoGrades; with no evidence channel open (not grading) it does nothing.
    """

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        passed = evidence.passes()
        if passed is None:
            return nb, resources
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
