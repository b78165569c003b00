"""The grading contract: what a grading kernel is given, and what a worker hands back.

Three things cross the sandbox's wall, and this module is the only place that shapes them:

- The kernel's **environment**: a fixed, short list of variables (`kernel_environment`);
  nothing of the grader's own environment leaks in.
- The kernel's **payload**: the preamble, the probes (autograder/probes/: inputs and calls,
  never a reference, an expected value or a check), the record channel's descriptor and the
  seed, as JSON in an anonymous in-memory file (`memfd`) handed to the kernel as an open
  file descriptor. The kernel reads it and closes it before any student cell runs.
  `BOOTSTRAP` is the one line that reads it.
- The probes' **records**, written by the kernel to a second in-memory file that the grader
  keeps open and reads after the run as untrusted data (autograder/records.py).
- The worker's **result**: `result.json` in the worker's private course copy (outside the
  sandbox), the per-cell scores and what happened, read back by `autograder grade`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from autograder.course import REPO

RESULT_FILE = "result.json"
PAYLOAD_FD_ENV = "DNNLABS_PAYLOAD_FD"
KERNEL_HOME = "/home/student"
PREAMBLE = Path(__file__).with_name("kernel_preamble.py")

# What every grading kernel sees, whatever the submission: quick mode, the stand-in data,
# no display, fixed hashing.
GRADING_ENV = {
    "DNNLABS_QUICK": "1",
    "DNNLABS_DATASET": "synthetic",
    "MPLBACKEND": "Agg",
    "PYTHONHASHSEED": "0",
    "NBGRADER_EXECUTION": "autograde",
}
GRADING_SEED = 0

# Read the payload from the inherited descriptor and run its preamble in a namespace of its
# own (so nothing of it lands in the notebook's globals). Passed to ipykernel as exec_lines.
BOOTSTRAP = (
    "(lambda p: exec(p.pop('preamble'), {'__name__': '__grading__', 'payload': p}))"
    "(__import__('json').load(__import__('os').fdopen("
    f"int(__import__('os').environ.pop('{PAYLOAD_FD_ENV}')), 'rb')))"
)


def kernel_environment(threads: int, python_bin: Path) -> dict[str, str]:
    """The whole environment of a grading kernel (the grader's own is never passed on)."""
    return {
        **GRADING_ENV,
        "PATH": f"{python_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": KERNEL_HOME,
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONNOUSERSITE": "1",
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
    }


def probe_sources() -> dict[str, str]:
    """The modules the kernel's probes need, as source text by module name: the probes'
    core and every lab's probes (a lab's probes may build on an earlier lab's inputs)."""
    sources = {"autograder": "", "autograder.probes": ""}
    for path in sorted((REPO / "autograder" / "probes").glob("*.py")):
        if path.stem != "__init__":
            sources[f"autograder.probes.{path.stem}"] = path.read_text()
    return sources


def payload(record_fd: int | None) -> bytes:
    """Everything a grading kernel gets from the grader, as the bytes of its payload file."""
    return json.dumps({
        "preamble": PREAMBLE.read_text(),
        "modules": probe_sources(),
        "record_fd": record_fd,
        "seed": GRADING_SEED,
    }).encode()


def memory_file(name: str, data: bytes = b"") -> int:
    """An anonymous in-memory file holding `data`, positioned at its start: no path names it."""
    fd = os.memfd_create(name, 0)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


@dataclass
class WorkerResult:
    """What a worker writes into its course copy's result.json."""

    success: bool
    error: str = ""
    cells: dict[str, dict[str, float | None]] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)

    def write(self, course: Path) -> None:
        (course / RESULT_FILE).write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def read(cls, course: Path) -> WorkerResult | None:
        """The result a worker left in `course`, or None when it left none (killed, crashed)."""
        path = course / RESULT_FILE
        if not path.exists():
            return None
        raw = json.loads(path.read_text())
        return cls(success=bool(raw.get("success")), error=str(raw.get("error", "")),
                   cells=dict(raw.get("cells", {})), events=[str(e) for e in raw.get("events", [])])
