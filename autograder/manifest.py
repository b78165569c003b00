"""What a graded course folder has graded, against which release: the folder's manifest.

    manifest/batch.json               the last run: the release's checksum, the shard (K/N or
                                      none), the batch's size and fingerprint, the submissions
                                      this folder grades with their hashes, the problems found
    manifest/<student>/<lab>.json     one per submission graded: its notebook's sha256, the
                                      release's checksum, and its outcome (scores per cell,
                                      status, seconds)

A submission's file is written (atomically) only after its scores are in the gradebook, so
its presence means the result is complete: a run killed at any moment, run again, skips
exactly the submissions whose file matches their notebook and the release, and grades the
rest (`grade.py`). `autograder merge` reads these files to check that shards were graded
against one release and are complete, and to merge their results (`merge.py`).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import nbformat

from autograder.course import REPO

MANIFEST_DIR = "manifest"
BATCH_FILE = "batch.json"
FORMAT = 1
Key = tuple[str, str]  # (student_id, lab_id)

# What decides a grade besides the notebook: the release's course files (the grade cells and
# their points), the hidden tests (probes record, checks compare) and the reference they are
# compared with.
HIDDEN_TEST_SOURCES = (REPO / "autograder" / "probes", REPO / "autograder" / "checks", REPO / "solutions")
RELEASE_PARTS = ("source", "release")
_SKIPPED = {"__pycache__", ".ipynb_checkpoints"}


def release_checksum(release_course: Path, sources: tuple[Path, ...] = HIDDEN_TEST_SOURCES) -> str:
    """sha256 over the release's course files and the hidden tests' sources, with their names.

    The release's gradebook and nbgrader_config.py are left out: opening the release in
    formgrader or publishing it to an exchange rewrites them without changing a grade.
    """
    digest = hashlib.sha256()
    roots = [(f"release/{part}", release_course / part) for part in RELEASE_PARTS]
    roots += [(f"tests/{folder.name}", folder) for folder in sources]
    for label, root in roots:
        files = sorted(p for p in root.rglob("*") if p.is_file() and not _SKIPPED & set(p.parts)
                       and (label.startswith("release") or p.suffix == ".py"))
        for path in files:
            data = path.read_bytes()
            digest.update(f"{label}/{path.relative_to(root).as_posix()}\0{len(data)}\0".encode())
            digest.update(data)
    return digest.hexdigest()


def notebook_sha256(notebook: nbformat.NotebookNode) -> str:
    """sha256 of a submitted notebook as graded (nbformat 4 JSON, as kept in submitted/)."""
    return hashlib.sha256(nbformat.writes(notebook).encode()).hexdigest()


def key_text(key: Key) -> str:
    return f"{key[0]}/{key[1]}"


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, flush it to disk, then rename it over
    `path`: a reader (or a rerun after a kill) sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, path.stat().st_mode & 0o777 if path.exists() else 0o644)  # not mkstemp's 0600
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class Manifest:
    """The manifest of one course folder."""

    def __init__(self, course_dir: Path) -> None:
        self.root = course_dir / MANIFEST_DIR

    def batch(self) -> dict | None:
        """The last run's batch.json, or None in a folder graded before manifests (or never)."""
        path = self.root / BATCH_FILE
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def write_batch(self, *, release: str, shard: str | None, batch_size: int, batch_fingerprint: str,
                    selected: dict[Key, str], problems: list[tuple[str, str]]) -> None:
        """Record what this run grades, before it grades anything."""
        write_atomically(self.root / BATCH_FILE, json.dumps({
            "format": FORMAT, "release": release, "shard": shard,
            "batch": {"count": batch_size, "fingerprint": batch_fingerprint},
            "selected": {key_text(key): sha for key, sha in sorted(selected.items())},
            "problems": [list(problem) for problem in problems],
        }, indent=1) + "\n")

    def entry_path(self, key: Key) -> Path:
        return self.root / key[0] / f"{key[1]}.json"

    def record(self, key: Key, sha256: str, release: str, outcome: dict) -> None:
        """Mark one submission graded; call only once its scores are in the gradebook."""
        write_atomically(self.entry_path(key), json.dumps(
            {"student_id": key[0], "lab_id": key[1], "sha256": sha256, "release": release,
             "outcome": outcome}, indent=1) + "\n")

    def entry(self, key: Key) -> dict | None:
        path = self.entry_path(key)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def completed(self, release: str, hashes: dict[Key, str]) -> dict[Key, dict]:
        """The entries of `hashes`' submissions that need no grading again: graded from the same
        notebook against the same release, and not ended by a grader error (the grader's
        failure, not the student's: a rerun tries again)."""
        done = {}
        for key, sha in hashes.items():
            entry = self.entry(key)
            if (entry and entry.get("sha256") == sha and entry.get("release") == release
                    and entry.get("outcome", {}).get("status", {}).get("kind") != "grader error"):
                done[key] = entry
        return done
