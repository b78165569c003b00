"""Grade cells while grading: the visible tests run for the student, the probe runs on its own,
and the judge's verdict becomes the cell's outputs.

Before a submission runs, each grade cell is split: its visible tests stay in it, and its
hidden part (`### BEGIN HIDDEN TESTS` ... `hidden.test_x(name)` ... `### END HIDDEN TESTS`)
becomes a probe cell inserted right after it, so the probe runs on the student's object
even when a visible test failed. After the run, `judge_cells` removes the probe cells, gives
each grade cell back its whole source, turns errors of visible tests into notes (they never
decide a grade), and appends the judge's verdict: a line when it passed, an error output
when it failed, which is what nbgrader scores, formgrader shows and the feedback prints.
"""

from __future__ import annotations

from typing import Any

from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_output

from autograder import judge, notebooks

BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
PROBE_CELL = "dnnlabs_probe_for"
FAILED = "CheckFailed"


def split(source: str) -> tuple[str, str]:
    """(visible part, hidden part) of a grade cell's source."""
    if BEGIN not in source:
        return source, ""
    before, rest = source.split(BEGIN, 1)
    hidden, _, after = rest.partition(END)
    return (before.rstrip() + ("\n" + after.strip() if after.strip() else "")).strip(), hidden


def probe_source(lab_module: str, call: tuple[str, str] | None) -> str:
    """The code of a probe cell: it binds no name in the notebook."""
    if call is None:
        return ""
    probe_name, subject = call
    return f"__import__('autograder.probes.{lab_module}', fromlist=['_']).{probe_name}({subject})"


def with_probe_cells(nb: NotebookNode, lab_module: str) -> NotebookNode:
    """`nb` with each grade cell's hidden part moved into a probe cell right after it."""
    cells = []
    for cell in nb.cells:
        cells.append(cell)
        if cell.cell_type != "code" or not notebooks.is_grade(cell):
            continue
        visible, hidden = split(cell.source)
        call = judge.probe_call(hidden)
        probe = new_code_cell(probe_source(lab_module, call))
        probe.metadata[PROBE_CELL] = {"grade_id": notebooks.grade_id(cell), "source": cell.source,
                                      "call": list(call) if call else None}
        cell.source = visible
        cells.append(probe)
    nb.cells = cells
    return nb


def _errors(cell: NotebookNode) -> list[str]:
    return [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
            for output in cell.get("outputs", []) if output.get("output_type") == "error"]


def judge_cells(nb: NotebookNode, lab_module: str, records: dict[str, dict[str, Any]]) -> NotebookNode:
    """Remove the probe cells and put each grade cell's verdict in its outputs (see the docstring)."""
    cells: list[NotebookNode] = []
    for cell in nb.cells:
        marker = cell.get("metadata", {}).get(PROBE_CELL)
        if marker is None:
            cells.append(cell)
            continue
        grade_cell = cells[-1]
        grade_cell.source = marker["source"]
        call = tuple(marker["call"]) if marker["call"] else None
        crashed = _errors(cell)
        why = f"the hidden tests could not run: {crashed[0]}" if crashed else ""
        verdict = judge.verdict(lab_module, marker["grade_id"], call, records.get(marker["grade_id"]), why)
        place_verdict(grade_cell, verdict)
    nb.cells = cells
    return nb


def place_verdict(cell: NotebookNode, verdict: judge.Verdict) -> None:
    """Make `verdict` the deciding output of grade cell `cell` (its visible errors become notes)."""
    outputs = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            output = new_output("stream", name="stderr", text=(
                f"A visible test failed ({output.get('ename')}: {output.get('evalue')}). "
                "Visible tests are for you; the hidden tests below decide the grade.\n"))
        outputs.append(output)
    if verdict.passed:
        outputs.append(new_output("stream", name="stdout",
                                  text=f"✓ hidden tests passed: {verdict.grade_id}\n"))
    else:
        outputs.append(new_output("error", ename=FAILED, evalue=verdict.message,
                                  traceback=[f"{FAILED}: {verdict.message}"]))
    cell.outputs = outputs
