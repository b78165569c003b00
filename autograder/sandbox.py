"""The jail every grading kernel runs in: a bubblewrap command line built from the limits.

Inside, the kernel sees a read-only system (/usr, /etc), the Python installation and
virtual environment, the `labs` helper package (its .py files only: the source notebooks
beside it are masked), a private HOME and /tmp in memory with a size cap, and one folder
it shares with its worker for the kernel's sockets. It does not see the project's
`solutions/` or `autograder/`, the course's `source/`, any gradebook, or any other
student's files: they are simply not mounted. It runs as an unprivileged user (a uid of
its own per grading slot when the grader is root), in its own user, PID, network, IPC,
UTS and cgroup namespaces, with limits on memory, file size, processes and CPU time set by
`prlimit` on the way in. When the kernel exits or is killed, the PID namespace ends and
with it every process the kernel started.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from autograder.course import LABS_DIR, REPO
from autograder.protocol import KERNEL_HOME

FIRST_UID = 61000
HIDDEN_FROM_KERNEL = (REPO / "autograder", REPO / "solutions", REPO / "datasets")


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot build a sandbox on this machine."""


@dataclass(frozen=True)
class Jail:
    """The walls and limits of one grading kernel."""

    memory_mb: int = 4096
    file_mb: int = 256
    scratch_mb: int = 512
    processes: int = 256
    cpu_seconds: int = 900
    uid: int | None = None

    @classmethod
    def for_slot(cls, slot: int, **limits: int) -> Jail:
        """The jail of grading slot `slot`: as root, an unprivileged uid of the slot's own, so
        that the process limit and file ownership are per kernel, not shared between slots."""
        uid = FIRST_UID + slot if os.geteuid() == 0 else None
        return cls(uid=uid, **limits)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Jail:
        return cls(**json.loads(text))

    def command(self, argv: list[str], *, shared: Path, env: dict[str, str]) -> list[str]:
        """`argv` wrapped: drop to the jail's user, set the limits, then run it in bubblewrap
        with exactly `env` as its environment and `shared` as its one host folder."""
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise SandboxUnavailable("bubblewrap (bwrap) is not installed")
        # The process limit counts every process of a uid, so it is set only for a slot's own uid.
        processes = [f"--nproc={self.processes}"] if self.uid is not None else []
        limits = ["prlimit", f"--data={self.memory_mb * 2**20}", f"--fsize={self.file_mb * 2**20}",
                  *processes, f"--cpu={self.cpu_seconds}", "--core=0", "--"]
        if self.uid is None:
            return [*limits, bwrap, "--unshare-all", *self._walls(shared, env), "--", *argv]
        # As root: bubblewrap mounts with root's view of the host (the interpreter may live in
        # root's home), then the kernel drops to the slot's uid for good before it starts.
        namespaces = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                      "--unshare-cgroup-try", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        drop = ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups",
                "--no-new-privs", "--"]
        return [*limits, bwrap, *namespaces, *self._walls(shared, env), "--", *drop, *argv]

    def _walls(self, shared: Path, env: dict[str, str]) -> list[str]:
        scratch = str(self.scratch_mb * 2**20)
        args = ["--die-with-parent", "--new-session", "--clearenv",
                "--dev", "/dev", "--proc", "/proc",
                "--perms", "1777", "--size", scratch, "--tmpfs", "/tmp",
                "--perms", "1777", "--size", scratch, "--tmpfs", KERNEL_HOME,
                "--chdir", KERNEL_HOME]
        for name, value in env.items():
            args += ["--setenv", name, value]
        for top in ("bin", "lib", "lib64", "sbin"):
            path = Path("/") / top
            if path.is_symlink():
                args += ["--symlink", os.readlink(path), str(path)]
            elif path.is_dir():
                args += ["--ro-bind", str(path), str(path)]
        readable = _readable_roots()
        for folder in _ancestors([*readable, shared], skip={Path("/tmp"), Path(KERNEL_HOME)}):
            args += ["--perms", "0755", "--dir", str(folder)]
        for path in readable:
            args += ["--ro-bind", str(path), str(path)]
        args += _mask_lab_folders()
        for path in HIDDEN_FROM_KERNEL:
            if path.exists() and any(path.is_relative_to(root) for root in readable):
                args += ["--tmpfs", str(path), "--remount-ro", str(path)]
        args += ["--bind", str(shared), str(shared)]
        return args


def _readable_roots() -> list[Path]:
    """The host folders a kernel reads: the system, the interpreter, the venv, the helpers."""
    roots = [Path("/usr"), Path("/etc"), Path(sys.base_prefix), Path(sys.prefix),
             Path(os.path.realpath(sys.executable)).parent.parent, LABS_DIR]
    unique: list[Path] = []
    for root in sorted({path.resolve() for path in roots if path.exists()}, key=lambda p: len(p.parts)):
        if not any(root.is_relative_to(kept) for kept in unique):
            unique.append(root)
    return unique


def _ancestors(paths: list[Path], skip: set[Path]) -> list[Path]:
    """The folders above `paths`, outermost first, but those in `skip` (mounted already):
    made here readable to all, since bubblewrap would make them private to root."""
    above = {parent for path in paths for parent in path.parents if parent not in skip | {Path("/")}}
    return sorted(above, key=lambda p: (len(p.parts), str(p)))


def _mask_lab_folders() -> list[str]:
    """Hide everything in `labs/` but its Python modules: the source notebooks live there."""
    args = []
    for entry in sorted(LABS_DIR.iterdir()):
        if entry.is_dir() and entry.name != "__pycache__":
            args += ["--tmpfs", str(entry), "--remount-ro", str(entry)]
        elif entry.is_file() and entry.suffix != ".py":
            args += ["--ro-bind", "/dev/null", str(entry)]
    return args


@functools.cache
def unavailable_reason() -> str | None:
    """Why no kernel can be jailed here (None when a jailed interpreter starts and exits)."""
    jail = Jail.for_slot(0, memory_mb=1024)
    scratch = Path(os.environ.get("TMPDIR", "/tmp"))
    try:
        command = jail.command([sys.executable, "-c", "pass"], shared=scratch, env={})
    except SandboxUnavailable as error:
        return str(error)
    missing = [tool for tool in ("prlimit", "setpriv") if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not found (Debian package util-linux)"
    run = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if run.returncode != 0:
        return f"bubblewrap could not start a sandbox: {run.stderr.strip() or run.returncode}"
    return None


def require() -> None:
    """Raise SandboxUnavailable with what to do, unless kernels can be jailed here."""
    reason = unavailable_reason()
    if reason:
        raise SandboxUnavailable(
            f"Grading needs a sandbox, and {reason}. Install bubblewrap (`make install` as root "
            "does it, or `sudo apt-get install bubblewrap`), or grade with --no-sandbox: every "
            "row of report.csv is then marked unsandboxed.")
