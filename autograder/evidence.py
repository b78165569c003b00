"""The channel through which passing hidden tests prove that they ran while a submission is graded.

The worker opens it: a random key, a log file, and a key file that it writes before each
kernel start. The kernel's preamble reads the key file and deletes it before any student
cell runs, and from then on every passing hidden test appends `key grade_id` to the log.
After the run the grader counts a grade cell only if its line is there. Student code never
sees the key in its environment or on disk; it would have to dig it out of the grader's
own objects in memory, which the grader's scan flags for the instructor.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

LOG_ENV = "DNNLABS_EVIDENCE"
KEY_FILE_ENV = "DNNLABS_EVIDENCE_KEY_FILE"
_channel: dict[str, Path | str] = {}


def open_channel(folder: Path) -> dict[str, str]:
    """Create the key and files in `folder`; return the variables the kernel needs to find them."""
    _channel.update(key=secrets.token_hex(16), log=folder / "evidence.log",
                    key_file=folder / "evidence.key")
    arm()
    return {LOG_ENV: str(_channel["log"]), KEY_FILE_ENV: str(_channel["key_file"])}


def arm() -> None:
    """Write the key file for the next kernel to start (each start consumes it)."""
    if _channel:
        Path(_channel["key_file"]).write_text(str(_channel["key"]))


def passes() -> set[str] | None:
    """Grade ids whose hidden tests reported a pass, or None when no channel is open."""
    if not _channel:
        return None
    log = Path(_channel["log"])
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return {parts[1] for parts in (line.split() for line in lines)
            if len(parts) == 2 and parts[0] == _channel["key"]}


def connect_kernel() -> None:
    """In the grading kernel: take the key, delete its file, and report passes to the log."""
    from autograder.checks import core

    log, key_file = os.environ.pop(LOG_ENV, ""), os.environ.pop(KEY_FILE_ENV, "")
    if log and key_file and os.path.exists(key_file):
        key = Path(key_file).read_text().strip()
        os.remove(key_file)
        core.report_passes_to(log, key)
