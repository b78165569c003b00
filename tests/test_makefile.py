"""What the Makefile's targets would do on a fresh clone, read from `make --dry-run`.

Nothing is installed: make only prints the commands, with the venvs pointed at empty paths so
that every install step shows.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

if shutil.which("make") is None:
    pytest.skip("make is not installed", allow_module_level=True)


def _dry_run(target: str, tmp_path: Path) -> str:
    """The commands `make target` would run with both venvs missing; `<tmp>` stands for tmp_path."""
    fresh = {"VENV": str(tmp_path / "venv"), "STUDENT_VENV": str(tmp_path / "student-venv")}
    result = subprocess.run(["make", "--dry-run", "--no-print-directory", target,
                             *(f"{key}={value}" for key, value in fresh.items())],
                            cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    return result.stdout.replace(str(tmp_path), "<tmp>")


def test_demo_on_a_fresh_clone_does_not_install_chromium(tmp_path):
    commands = _dry_run("demo", tmp_path)
    assert "pip install" in commands and "autograder demo" in commands
    assert "chromium" not in commands.lower()


def test_test_installs_chromium_for_the_browser_tests(tmp_path):
    commands = _dry_run("test", tmp_path)
    install, run = commands.find("apt-get install -y -qq chromium"), commands.find("-m pytest")
    assert 0 <= install < run, commands


def test_lab_opens_the_student_release_from_the_student_venv(tmp_path):
    commands = _dry_run("lab", tmp_path).splitlines()
    pip = "<tmp>/student-venv/bin/python -m pip install --quiet"
    student_installs = [line for line in commands if line.startswith(pip)]
    assert student_installs[-1] == f"{pip} -e build/release/student", "the student zip's pyproject.toml"
    assert not any("[dev]" in line or "nbgrader" in line for line in student_installs), student_installs
    assert commands[-1] == "cd build/release/student && <tmp>/student-venv/bin/jupyter lab"
    assert not any("<tmp>/venv/bin/jupyter" in line for line in commands), "not the instructor's JupyterLab"
