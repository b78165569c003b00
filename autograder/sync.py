"""One source of truth for each solution: `solutions/labNN_name.py` → the notebook's solution cells.

A solutions module is split into regions, each opened by a line `# %% cell: ID`; region ID is
the source of the notebook's solution cell whose nbgrader grade_id is ID, markers included.
A lab that reuses an earlier lab's answers names them instead of copying them:
`# %% cell: ID from solutions.lab07_lr_schedules: lr_range_test, suggest_lr` makes the cell
those regions of that module, one after the other.
`autograder sync` writes the regions into the notebooks; `autograder sync --check` (and the
test suite) fails on any difference, so the two can never drift apart unnoticed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from autograder import notebooks
from autograder.course import Lab

REGION = re.compile(r"^# %% cell: (?P<cell>\w+)(?: from (?P<module>solutions\.\w+): "
                    r"(?P<names>\w+(?:, *\w+)*))?[ \t]*$", re.MULTILINE)


@dataclass
class SyncReport:
    """What a sync found: cells rewritten (or that would be) and mismatches it cannot fix."""

    lab: Lab
    drifted: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def solution_regions(path: Path) -> dict[str, str]:
    """Region ID → its source, from a solutions module, with included regions resolved."""
    text = path.read_text()
    matches = list(REGION.finditer(text))
    regions = {}
    for match, following in zip(matches, [*matches[1:], None]):
        end = following.start() if following else len(text)
        cell = match["cell"]
        body = text[match.end():end].strip("\n").rstrip()
        if cell in regions:
            raise ValueError(f"{path}: region {cell!r} appears twice.")
        if match["module"]:
            regions[cell] = _included(path, match["module"], match["names"], body)
        else:
            regions[cell] = body
    return regions


def _included(path: Path, module: str, names: str, body: str) -> str:
    if _code_lines(body):
        raise ValueError(f"{path}: a region that includes {module} must have no code of its own.")
    source = path.parent / f"{module.split('.', 1)[1]}.py"
    regions = solution_regions(source)
    missing = [name.strip() for name in names.split(",") if name.strip() not in regions]
    if missing:
        raise ValueError(f"{path}: {module} has no region {', '.join(missing)}.")
    return "\n\n\n".join(regions[name.strip()] for name in names.split(","))


def _code_lines(body: str) -> list[str]:
    return [line for line in body.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def sync_lab(lab: Lab, write: bool = True) -> SyncReport:
    """Copy `lab`'s solution regions into its notebook (or only compare, with write=False)."""
    report = SyncReport(lab)
    regions = solution_regions(lab.solutions_path)
    nb = notebooks.read(lab.notebook)
    seen = set()
    for cell in nb.cells:
        if cell.cell_type != "code" or not notebooks.is_solution(cell):
            continue
        cell_id = notebooks.grade_id(cell)
        seen.add(cell_id)
        if cell_id not in regions:
            report.problems.append(f"solution cell {cell_id!r} has no region "
                                   f"'# %% cell: {cell_id}' in {lab.solutions_path.name}")
        elif cell.source != regions[cell_id]:
            report.drifted.append(cell_id)
            cell.source = regions[cell_id]
    for cell_id in regions.keys() - seen:
        report.problems.append(f"region {cell_id!r} of {lab.solutions_path.name} has no solution "
                               f"cell with that grade_id in {lab.notebook.name}")
    if write and report.drifted:
        notebooks.write(nb, lab.notebook)
    return report
