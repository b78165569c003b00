"""Every lab notebook: stored clean, shaped as DESIGN.md says, and one with its solutions module."""

import re
import subprocess

import nbformat
import pytest

from autograder import notebooks
from autograder.course import REPO
from autograder.sync import solution_regions, sync_lab
from tests.labs_under_test import lab_params


def stored_notebooks():
    tracked = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=REPO, capture_output=True,
                             text=True).stdout.split()
    found = {str(path.relative_to(REPO)) for path in REPO.glob("labs/**/*.ipynb")
             if ".ipynb_checkpoints" not in path.parts}
    return sorted(set(tracked) | found)


@pytest.mark.parametrize("path", stored_notebooks())
def test_stored_notebook_has_no_outputs_or_execution_counts(path):
    nb = notebooks.read(REPO / path)
    assert notebooks.output_problems(nb) == [], f"{path}: run `jupyter nbconvert --clear-output`"


@pytest.mark.parametrize("lab", lab_params())
def test_notebook_is_valid_and_runs_on_python3(lab):
    nb = notebooks.read(lab.notebook)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("lab", lab_params())
def test_solution_cells_match_the_solutions_module(lab):
    report = sync_lab(lab, write=False)
    assert report.problems == []
    assert report.drifted == [], (f"{lab.lab_id}: run `autograder sync {lab.number}`: these cells "
                                  f"differ from solutions/: {report.drifted}")


@pytest.mark.parametrize("lab", lab_params())
def test_anatomy_follows_the_design(lab):
    nb = notebooks.read(lab.notebook)
    cells = nb.cells
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# Lab "), "title first"
    assert re.search(r"about \d+(\.\d+)? minutes? on a 2-core CPU", cells[0].source), \
        "the header states the default run's CPU time"
    parameters = [c for c in cells if notebooks.PARAMETERS_TAG in notebooks.tags(c)]
    assert len(parameters) == 1, "exactly one cell tagged `parameters`"
    for name in ("QUICK", "SEED", "DEVICE"):
        assert re.search(rf"^{name} = ", parameters[0].source, re.MULTILINE), f"{name} in parameters"
    assert any("labs.banner(" in c.source for c in cells), "a device banner"
    assert any("labs.seed_everything(" in c.source for c in cells), "seeding in the setup"
    assert any(notebooks.is_experiment(c) for c in cells), "experiments tagged `experiment`"


@pytest.mark.parametrize("lab", lab_params())
def test_graded_cells_are_well_formed(lab):
    nb = notebooks.read(lab.notebook)
    checks = lab.checks()
    grade_cells = notebooks.grade_cells(nb)
    questions = [c for c in grade_cells if notebooks.grade_id(c).startswith("test_q")]
    assert 3 <= len(questions) <= 6, "3 to 6 concept questions"
    for cell in grade_cells:
        cell_id = notebooks.grade_id(cell)
        assert notebooks.nbgrader(cell).get("locked"), f"{cell_id} must be locked"
        assert notebooks.points(cell) > 0, f"{cell_id} must carry points"
        assert "### BEGIN HIDDEN TESTS" in cell.source, f"{cell_id} has hidden tests"
        assert f"hidden.{cell_id}(" in cell.source, f"{cell_id} calls its hidden test"
        assert callable(getattr(checks, cell_id, None)), f"checks module lacks {cell_id}"
    for cell in nb.cells:
        if notebooks.is_solution(cell):
            assert not notebooks.is_grade(cell), "answers are graded by test cells, not manually"


@pytest.mark.parametrize("lab", lab_params())
def test_no_ipython_magics_or_solutions_imports(lab):
    for cell in notebooks.read(lab.notebook).cells:
        if cell.cell_type == "code":
            assert not re.search(r"^\s*[%!]", cell.source, re.MULTILINE), "no magics or shell lines"
            assert not re.search(r"^\s*(from|import) solutions", cell.source, re.MULTILINE)


@pytest.mark.parametrize("lab", lab_params())
def test_every_solution_region_holds_a_solution_block(lab):
    for cell_id, source in solution_regions(lab.solutions_path).items():
        assert "### BEGIN SOLUTION" in source and "### END SOLUTION" in source, cell_id
