"""Finding the submissions in a folder or a zip laid out `<student_id>/<lab_id>/<lab_id>.ipynb`.

Whatever is wrong with one submission (a bad name, malformed JSON, a notebook that is not a
notebook) is reported and skipped; the others go on. A zip is extracted member by member:
absolute paths, `..`, links and oversized files are refused, so nothing is written outside
the folder it is extracted into.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import nbformat

SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$")
MAX_FILE_BYTES = 200 * 2**20
JUNK = {"__MACOSX", ".DS_Store", ".ipynb_checkpoints", "Thumbs.db"}
# Names of the grader's own files and folders in a course or working folder: a student
# folder named like one of them is refused, so it can never stand where the grader's file is.
RESERVED_IDS = {"gradebook.db", "gradebook.base.db", "nbgrader_config.py", "report.csv", "grades.csv",
                "grades_by_exercise.csv", "result.json", "events.log", "source", "release",
                "submitted", "autograded", "feedback", "exchange", "logs", "students", "unzipped"}


@dataclass(frozen=True)
class Submission:
    """One notebook to grade, already read and upgraded to nbformat 4."""

    student_id: str
    lab_id: str
    notebook: nbformat.NotebookNode


@dataclass(frozen=True)
class Problem:
    """Something that could not be graded, and why, in words an instructor can act on."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


def collect(source: Path, known_labs: set[str],
            scratch: Path) -> tuple[list[Submission], list[Problem]]:
    """Every well-formed submission under `source` (a folder or a .zip), and every problem found."""
    if not source.exists():
        raise FileNotFoundError(f"No submissions at {source}: give a folder or a .zip laid out "
                                "<student_id>/<lab_id>/<lab_id>.ipynb.")
    problems: list[Problem] = []
    if source.is_file():
        if not zipfile.is_zipfile(source):
            raise ValueError(f"{source} is neither a folder nor a zip file.")
        root = scratch / "unzipped"
        shutil.rmtree(root, ignore_errors=True)
        problems += extract_zip(source, root)
    else:
        root = source
    root = _unwrap(root, known_labs)
    submissions: list[Submission] = []
    students = sorted(p for p in root.iterdir() if p.name not in JUNK)
    if not students:
        problems.append(Problem(str(source), "no student folders found (expected "
                                             "<student_id>/<lab_id>/<lab_id>.ipynb)"))
    for student in students:
        found, trouble = _collect_student(student, known_labs)
        submissions += found
        problems += trouble
    return submissions, problems


def _collect_student(student: Path, known_labs: set[str]) -> tuple[list[Submission], list[Problem]]:
    if not student.is_dir():
        return [], [Problem(student.name, "a file at the top level; expected a folder per student")]
    if not SAFE_ID.match(student.name):
        return [], [Problem(student.name, "not a usable student id (letters, digits, _ . @ + - only)")]
    if student.name.lower() in RESERVED_IDS:
        return [], [Problem(student.name, "a name the grader uses for its own files: rename the "
                                          "student's folder")]
    entries = sorted(p for p in student.iterdir() if p.name not in JUNK)
    if not entries:
        return [], [Problem(student.name, "empty folder: no lab submitted")]
    submissions, problems = [], []
    for entry in entries:
        where = f"{student.name}/{entry.name}"
        if entry.is_file():
            lab = entry.stem if entry.stem in known_labs else "<lab_id>"
            problems.append(Problem(where, f"a file outside a lab folder; expected "
                                           f"{student.name}/{lab}/{lab}.ipynb"))
        elif entry.name not in known_labs:
            problems.append(Problem(where, f"unknown lab {entry.name!r}; known labs: "
                                           f"{', '.join(sorted(known_labs))}"))
        else:
            submission, problem = _read_submission(student.name, entry)
            if submission:
                submissions.append(submission)
            else:
                problems.append(problem)
    return submissions, problems


def _read_submission(student_id: str, lab_dir: Path) -> tuple[Submission | None, Problem | None]:
    lab_id = lab_dir.name
    expected = lab_dir / f"{lab_id}.ipynb"
    where = f"{student_id}/{lab_id}/{lab_id}.ipynb"
    if not expected.is_file():
        others = sorted(p.name for p in lab_dir.glob("*.ipynb"))
        hint = f"; found {', '.join(others)}: rename it" if others else ""
        return None, Problem(where, f"missing{hint}")
    if expected.stat().st_size > MAX_FILE_BYTES:
        return None, Problem(where, f"larger than {MAX_FILE_BYTES // 2**20} MB")
    try:
        raw = json.loads(expected.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, Problem(where, f"not valid notebook JSON ({error}); ask the student to "
                                    "re-save it from JupyterLab")
    try:
        notebook = nbformat.reads(json.dumps(raw), as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat raises several kinds for a broken notebook
        return None, Problem(where, f"not a valid Jupyter notebook: {str(error).splitlines()[0]}")
    return Submission(student_id, lab_id, notebook), None


def extract_zip(archive_path: Path, destination: Path) -> list[Problem]:
    """Extract the safe members of a zip into `destination`; report the others."""
    problems = []
    destination.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive_path) as archive:
        for member in archive.infolist():
            name = PurePosixPath(member.filename.replace("\\", "/"))
            mode = member.external_attr >> 16
            if member.is_dir() or any(part in JUNK for part in name.parts):
                continue
            if name.is_absolute() or ".." in name.parts or ":" in member.filename:
                problems.append(Problem(member.filename, "unsafe path in the zip: skipped"))
            elif stat.S_ISLNK(mode):
                problems.append(Problem(member.filename, "a link in the zip: skipped"))
            elif member.file_size > MAX_FILE_BYTES:
                problems.append(Problem(member.filename, "too large: skipped"))
            else:
                target = destination.joinpath(*name.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
    return problems


def _unwrap(root: Path, known_labs: set[str]) -> Path:
    """Step into a single wrapping folder (a zip of `submissions/`) when that is what it is."""
    entries = [p for p in root.iterdir() if p.name not in JUNK]
    if len(entries) == 1 and entries[0].is_dir():
        inner = entries[0]
        holds_labs = any(p.name in known_labs for p in inner.iterdir())
        grandchildren_hold_labs = any(q.name in known_labs for p in inner.iterdir() if p.is_dir()
                                      for q in p.iterdir())
        if not holds_labs and grandchildren_hold_labs:
            return inner
    return root
