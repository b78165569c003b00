"""`autograder mutate`: run mutmut on one lab's reference solutions and account for survivors.

Each lab gets a small mutmut project of its own under build/mutate/ (its solutions file, the
test of `graded_cells.py`, a pyproject naming both), so labs are mutated and reported apart
and the course's own pytest configuration stays out of it. A survivor is either a gap in the
hidden tests (reported, exit status 1) or listed in `equivalent/<module>.toml` with the
line it changes and why no test can tell it from the reference; an entry whose mutant now
changes another line is reported as stale.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

from autograder.course import BUILD_DIR, Lab

HERE = Path(__file__).parent
EQUIVALENT_DIR = HERE / "equivalent"
PROJECT_CONFIG = """\
[tool.mutmut]
source_paths = ["solutions/{module}.py"]
pytest_add_cli_args_test_selection = ["test_graded_cells.py"]

[tool.pytest.ini_options]
addopts = "-p no:cacheprovider -q"
"""
KILLED = {"killed", "timeout", "segfault"}  # a hang or a crash scores zero in grading too
_RESULT_LINE = re.compile(r"^\s*(\S+?):\s+(.+?)\s*$")


@dataclass
class Survivor:
    """A mutant no grade cell failed: its mutmut name, the line it writes, its status."""

    name: str
    change: str
    status: str


@dataclass
class LabMutation:
    """One lab's mutation run, with survivors split into the listed and the unexplained."""

    lab: Lab
    statuses: Counter = field(default_factory=Counter)
    unexplained: list[Survivor] = field(default_factory=list)
    equivalent: list[Survivor] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    @property
    def killed(self) -> int:
        return sum(self.statuses[status] for status in KILLED)

    @property
    def kill_rate(self) -> float:
        """Killed among the mutants that can be killed at all (the equivalent ones set aside)."""
        killable = self.total - len(self.equivalent)
        return self.killed / killable if killable else 1.0

    @property
    def ok(self) -> bool:
        return not self.unexplained and not self.stale


def mutate(lab: Lab, jobs: int = 0, only: str = "") -> LabMutation:
    """Mutate `lab`'s reference solution, grade every mutant, compare survivors with the list.

    `only` names one function or class of the solution: only its mutants are graded, and only
    its entries in the list are expected.
    """
    project = _prepare(lab)
    start = time.perf_counter()
    env = {**os.environ, "DNNLABS_MUTATE_LAB": lab.lab_id, "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs or os.cpu_count() or 1)]
    if only:
        command += [f"solutions.{lab.module_name}.{prefix}{only}{suffix}"
                    for prefix, suffix in (("x_", "__mutmut_*"), ("xǁ", "ǁ*"))]
    log_path = project / "mutmut.log"
    with open(log_path, "w") as handle:
        done = subprocess.run(command, cwd=project, env=env, stdout=handle, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise RuntimeError(f"mutmut could not run lab {lab.lab_id} (exit {done.returncode}); "
                           f"its output is in {log_path}")
    result = LabMutation(lab, seconds=time.perf_counter() - start)
    listed = {name: entry for name, entry in equivalent_mutants(lab).items()
              if not only or _function(name) == only}
    for name, status in _results(project, env):
        if only and _function(name) != only:
            continue
        result.statuses[status] += 1
        if status in KILLED:
            continue
        if status == "not checked":
            raise RuntimeError(f"mutmut left {name} unchecked; see {log_path}")
        survivor = Survivor(name, _change(project, env, name), status)
        entry = listed.pop(name, None)
        if entry is None:
            result.unexplained.append(survivor)
        elif entry["change"] != survivor.change:
            result.stale.append(f"{name}: listed as changing {entry['change']!r}, now changes "
                                f"{survivor.change!r}; check it again and update the entry")
            result.unexplained.append(survivor)
        else:
            result.equivalent.append(survivor)
    result.stale += [f"{name}: listed as equivalent but killed or gone; remove the entry"
                     for name in listed]
    return result


def equivalent_mutants(lab: Lab) -> dict[str, dict[str, str]]:
    """The lab's listed equivalent mutants: mutant name → {"change", "reason"}."""
    path = EQUIVALENT_DIR / f"{lab.module_name}.toml"
    if not path.exists():
        return {}
    entries = tomllib.loads(path.read_text())
    for name, entry in entries.items():
        if not entry.get("reason") or not entry.get("change"):
            raise ValueError(f"{path}: [{name!r}] needs both `change` and `reason`.")
    return entries


def _function(mutant: str) -> str:
    """The function or class a mutant name belongs to: x_dropout__mutmut_6 → dropout,
    xǁEarlyStoppingǁstep__mutmut_11 → EarlyStopping."""
    if mutant.startswith("xǁ"):
        return mutant.split("ǁ")[1]
    return mutant[2:].rsplit("__mutmut_", 1)[0]


def report(results: list[LabMutation]) -> str:
    """The per-lab table, then every unexplained survivor and stale entry."""
    lines = [f"{'lab':26s} {'mutants':>7s} {'killed':>6s} {'equiv.':>6s} {'survived':>8s} "
             f"{'kill rate':>9s} {'seconds':>7s}"]
    for r in results:
        lines.append(f"{r.lab.lab_id:26s} {r.total:7d} {r.killed:6d} {len(r.equivalent):6d} "
                     f"{len(r.unexplained):8d} {r.kill_rate:9.1%} {r.seconds:7.0f}")
    for r in results:
        for survivor in r.unexplained:
            lines.append(f"survived  {r.lab.lab_id} {survivor.name} ({survivor.status}): {survivor.change}")
        lines += [f"stale     {r.lab.lab_id} {entry}" for entry in r.stale]
    return "\n".join(lines)


def _prepare(lab: Lab) -> Path:
    """A fresh mutmut project for `lab` (mutmut keeps results between runs; we want new ones)."""
    project = BUILD_DIR / "mutate" / lab.module_name
    shutil.rmtree(project, ignore_errors=True)
    (project / "solutions").mkdir(parents=True)
    shutil.copy2(lab.solutions_path, project / "solutions" / lab.solutions_path.name)
    shutil.copy2(HERE / "graded_cells.py", project / "test_graded_cells.py")
    (project / "pyproject.toml").write_text(PROJECT_CONFIG.format(module=lab.module_name))
    return project


def _results(project: Path, env: dict[str, str]) -> list[tuple[str, str]]:
    """(short mutant name, status) of every mutant, from `mutmut results --all true`."""
    shown = _mutmut(project, env, "results", "--all", "true")
    found = []
    for line in shown.splitlines():
        matched = _RESULT_LINE.match(line)
        if matched and ".x" in matched[1]:
            found.append((matched[1].rsplit(".", 1)[1], matched[2]))
    return found


def _change(project: Path, env: dict[str, str], name: str) -> str:
    """The lines a mutant writes in place of the reference's, as one string."""
    module = next(project.glob("solutions/*.py")).stem
    diff = _mutmut(project, env, "show", f"solutions.{module}.{name}")
    added = [line[1:].strip() for line in diff.splitlines()
             if line.startswith("+") and not line.startswith("+++")]
    return " / ".join(added) if added else "(a line removed)"


def _mutmut(project: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=project, env=env,
                          capture_output=True, text=True, check=True)
    return done.stdout
