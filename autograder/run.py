"""`autograder run`: execute source notebooks end to end with papermill, as CI and instructors do."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from autograder.course import Lab
from autograder.environment import patched_environ

QUICK_ENV = {"DNNLABS_QUICK": "1"}
INLINE_PLOTS = {"MPLBACKEND": "module://matplotlib_inline.backend_inline"}


@dataclass(frozen=True)
class RunResult:
    """One executed notebook: where it went, how long it took, and the failing cell if any."""

    lab: Lab
    output: Path
    seconds: float
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def run_lab(lab: Lab, out_dir: Path, *, quick: bool, cell_timeout: int | None = None,
            parameters: dict | None = None) -> RunResult:
    """Execute `lab`'s source notebook into `out_dir`; a failing cell is reported, not raised."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    output = out_dir / f"{lab.lab_id}.ipynb"
    out_dir.mkdir(parents=True, exist_ok=True)
    params = dict(parameters or {})
    if quick:
        params.setdefault("QUICK", True)
    start = time.perf_counter()
    error = ""
    with patched_environ({**INLINE_PLOTS, **(QUICK_ENV if quick else {})}):
        try:
            papermill.execute_notebook(str(lab.notebook), str(output), parameters=params,
                                       kernel_name="python3", progress_bar=False,
                                       cwd=str(lab.notebook.parent), execution_timeout=cell_timeout)
        except PapermillExecutionError as failure:
            error = (f"cell {failure.exec_count} failed with {failure.ename}: {failure.evalue}\n"
                     f"--- cell source ---\n{failure.source}")
        except Exception as failure:  # a kernel that dies or never starts
            error = f"{type(failure).__name__}: {failure}"
    return RunResult(lab, output, time.perf_counter() - start, error)


def format_table(results: list[RunResult]) -> str:
    """The lab / status / seconds table that `autograder run` prints."""
    lines = [f"{'lab':28s} {'status':8s} {'seconds':>8s}"]
    for result in results:
        lines.append(f"{result.lab.lab_id:28s} {'ok' if result.ok else 'FAILED':8s} "
                     f"{result.seconds:8.1f}")
    lines.append(f"{'total':28s} {'':8s} {sum(r.seconds for r in results):8.1f}")
    return "\n".join(lines)
