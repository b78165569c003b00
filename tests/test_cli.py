"""The `autograder` command line: failures say where and why, unknown names say what exists."""

import shutil

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder import cli, course
from tests.labs_under_test import LABS


def test_unknown_lab_lists_the_known_ones(capsys):
    assert cli.main(["sync", "--check", "nope"]) == 1
    assert "No lab called 'nope'. Known labs: " + LABS[0].lab_id in capsys.readouterr().err


def test_no_command_prints_help(capsys):
    assert cli.main([]) == 2
    assert "autograder run" in capsys.readouterr().out


def test_sync_check_passes_on_the_repository():
    assert cli.main(["sync", "--check"]) == 0


def test_sync_check_fails_on_a_drifted_solution_cell(monkeypatch, tmp_path, capsys):
    lab = LABS[0]
    copy = tmp_path / lab.lab_id / lab.notebook.name
    copy.parent.mkdir()
    nb = nbformat.read(str(lab.notebook), as_version=4)
    cell = next(c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution"))
    cell.source += "\n# drifted"
    nbformat.write(nb, str(copy))
    monkeypatch.setattr(course, "LABS_DIR", tmp_path)
    assert cli.main(["sync", "--check", lab.number]) == 1
    assert "differs from solutions/" in capsys.readouterr().out


@pytest.mark.slow
def test_run_reports_the_failing_cell(monkeypatch, tmp_path, capsys):
    lab_dir = tmp_path / "98_broken"
    lab_dir.mkdir()
    nb = new_notebook(cells=[new_code_cell("x = 1"), new_code_cell("raise ValueError('boom ' + str(x))")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(lab_dir / "98_broken.ipynb"))
    monkeypatch.setattr(course, "LABS_DIR", tmp_path)
    assert cli.main(["run", "98", "--quick", "--out", str(tmp_path / "out")]) == 1
    captured = capsys.readouterr()
    assert "98_broken" in captured.out and "FAILED" in captured.out
    assert "ValueError: boom 1" in captured.err and "raise ValueError('boom ' + str(x))" in captured.err
    shutil.rmtree(lab_dir)


def test_grade_without_a_sandbox_refuses_and_names_the_way_out(monkeypatch, tmp_path, capsys):
    from autograder import sandbox

    monkeypatch.setattr(sandbox, "unavailable_reason", lambda: "bubblewrap (bwrap) is not installed")
    code = cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "out"), "--release", str(tmp_path)])
    error = capsys.readouterr().err
    assert code == 2 and "bubblewrap (bwrap) is not installed" in error and "--no-sandbox" in error
