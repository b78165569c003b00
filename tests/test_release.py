"""The student release: nbgrader's student version, a zip, and nothing of the answers in either."""

import shutil
import zipfile

import pytest

from autograder import notebooks
from autograder.examples import reference_answers
from autograder.release import find_leaks, secret_lines
from tests.labs_under_test import LABS, lab_params

pytestmark = pytest.mark.slow


def test_release_leaks_nothing(released):
    assert find_leaks(released.student_dir, LABS) == []


def test_zip_holds_the_notebooks_and_helpers_only(released):
    names = zipfile.ZipFile(released.zip_path).namelist()
    expected_notebooks = {f"dnnlabs/{lab.lab_id}/{lab.lab_id}.ipynb" for lab in LABS}
    assert expected_notebooks <= set(names)
    assert "dnnlabs/labs/__init__.py" in names and "dnnlabs/pyproject.toml" in names
    for name in names:
        assert name.endswith((".ipynb", ".py", ".md", ".toml")), name
        assert "solutions" not in name and "autograder" not in name, name
        if name.startswith("dnnlabs/labs/"):
            assert name.endswith(".py"), f"only the helper modules of labs/: {name}"


@pytest.mark.parametrize("lab", lab_params())
def test_student_version_keeps_signatures_and_clears_bodies(released, lab):
    nb = notebooks.read(released.student_dir / lab.lab_id / lab.notebook.name)
    solutions = [cell for cell in nb.cells if notebooks.is_solution(cell)]
    assert len(solutions) == len(reference_answers(lab))
    for cell in solutions:
        assert "raise NotImplementedError()" in cell.source
    assert not notebooks.output_problems(nb)


@pytest.mark.parametrize("plant", ["solution line", "marker", "import", "answer key"])
def test_leak_check_catches_planted_leaks(released, tmp_path, plant):
    lab = LABS[0]
    copy = tmp_path / "student"
    shutil.copytree(released.student_dir, copy)
    path = copy / lab.lab_id / lab.notebook.name
    nb = notebooks.read(path)
    secrets = sorted(secret_lines(LABS))
    answer_key = next(line for line in secrets if line.startswith("Q"))
    leaked = {"solution line": max(secrets, key=len), "marker": "### BEGIN HIDDEN TESTS",
              "import": f"from solutions.{lab.module_name} import *", "answer key": answer_key}[plant]
    last_code_cell = [cell for cell in nb.cells if cell.cell_type == "code"][-1]
    last_code_cell.source += "\n" + leaked
    notebooks.write(nb, path)
    assert find_leaks(copy, LABS), f"the planted {plant} went unnoticed"
