"""`autograder release`: the student version of every lab, a zip to hand out, and a leak check.

Layout of the output folder:
    course/    the nbgrader course: source/, release/ and gradebook.db (grading needs it)
    student/   what a student gets, unpacked: one folder per lab, the `labs` helpers, a README
    dnnlabs-student.zip   the same, zipped
"""

from __future__ import annotations

import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder import notebooks
from autograder.course import LABS_DIR, REPO, Lab
from autograder.nbgrader_setup import api, course_config, write_course_config
from autograder.sync import solution_regions

STUDENT_TEMPLATE = Path(__file__).resolve().parent / "student_template"
ZIP_NAME = "dnnlabs-student.zip"
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
FORBIDDEN_IMPORT = re.compile(r"^\s*(from|import)\s+(solutions|autograder)\b", re.MULTILINE)
_SOLUTION_BLOCK = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.DOTALL)
_GENERIC = re.compile(r"^[\W_]*$|^(else|try|finally|pass|return|break|continue)\W*$")


class LeakError(RuntimeError):
    """Something of the solutions or hidden tests is in the student release."""


@dataclass
class ReleaseResult:
    out_dir: Path
    labs: list[Lab]
    zip_path: Path
    leaks: list[str] = field(default_factory=list)

    @property
    def course_dir(self) -> Path:
        return self.out_dir / "course"

    @property
    def student_dir(self) -> Path:
        return self.out_dir / "student"


def release(labs: list[Lab], out_dir: Path) -> ReleaseResult:
    """Generate every lab's student version with nbgrader, bundle it, and check it for leaks."""
    course = out_dir / "course"
    student = out_dir / "student"
    shutil.rmtree(student, ignore_errors=True)
    grader = api(course_config(course))
    for lab in labs:
        source = course / "source" / lab.lab_id
        shutil.rmtree(source, ignore_errors=True)
        source.mkdir(parents=True)
        shutil.copy2(lab.notebook, source / lab.notebook.name)
        outcome = grader.generate_assignment(lab.lab_id, force=True)
        if not outcome["success"]:
            raise RuntimeError(f"nbgrader could not release {lab.lab_id}:\n{outcome.get('error')}")
        released = course / "release" / lab.lab_id / lab.notebook.name
        notebooks.write(notebooks.clear_outputs(notebooks.read(released)),
                        student / lab.lab_id / lab.notebook.name)
    write_course_config(course)
    _copy_helpers(student)
    zip_path = out_dir / ZIP_NAME
    _zip_folder(student, zip_path)
    result = ReleaseResult(out_dir, labs, zip_path, find_leaks(student, labs))
    if result.leaks:
        raise LeakError("The student release leaks solutions or tests:\n  " + "\n  ".join(result.leaks))
    return result


def _copy_helpers(student: Path) -> None:
    """The `labs` helper package (its .py files only: never a source notebook) and the template."""
    package = student / "labs"
    package.mkdir(parents=True, exist_ok=True)
    for module in sorted(LABS_DIR.glob("*.py")):
        shutil.copy2(module, package / module.name)
    for item in STUDENT_TEMPLATE.iterdir():
        shutil.copy2(item, student / item.name)


def _zip_folder(folder: Path, zip_path: Path) -> None:
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, Path("dnnlabs") / path.relative_to(folder))


def secret_lines(labs: list[Lab]) -> set[str]:
    """Lines of the labs' reference solution bodies that are nowhere in the public material.

    A line that also appears outside the solution blocks (in a provided cell of any lab's
    notebook, or in the `labs` helpers that ship with the release) was never secret; a
    generic line (`else:`, `return`) proves nothing either way.
    """
    solution: set[str] = set()
    public = {line.strip() for module in LABS_DIR.glob("*.py") for line in module.read_text().splitlines()}
    for lab in labs:
        for region in solution_regions(lab.solutions_path).values():
            for block in _SOLUTION_BLOCK.findall(region):
                solution.update(line.strip() for line in block.splitlines())
        for cell in notebooks.read(lab.notebook).cells:
            if not notebooks.is_solution(cell):
                text = re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", "", cell.source, flags=re.S)
                public.update(line.strip() for line in text.splitlines())
    return {line for line in solution - public if len(line) >= 8 and not _GENERIC.match(line)}


def find_leaks(folder: Path, labs: list[Lab]) -> list[str]:
    """Everything in `folder` that gives away a solution, a hidden test or the answer key."""
    secrets = secret_lines(labs)
    leaks = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.suffix not in (".ipynb", ".py", ".md", ".toml", ".txt"):
            continue
        where = path.relative_to(folder)
        if path.suffix == ".ipynb":
            cells = notebooks.read(path).cells
            texts = [cell.source for cell in cells]
            code = "\n".join(cell.source for cell in cells if cell.cell_type == "code")
        else:
            texts = [path.read_text(errors="replace")]
            code = texts[0] if path.suffix == ".py" else ""
        text = "\n".join(texts)
        leaks += [f"{where}: contains '{marker}'" for marker in MARKERS if marker in text]
        leaks += [f"{where}: imports {match.group(2)}" for match in FORBIDDEN_IMPORT.finditer(code)]
        lines = {line.strip() for line in text.splitlines()}
        leaks += [f"{where}: contains a line of a reference solution: {line!r}"
                  for line in sorted(lines & secrets)]
    if (folder / "solutions").exists() or any(folder.rglob("solutions/*.py")):
        leaks.append("the release contains a solutions package")
    return leaks


__all__ = ["REPO", "LeakError", "ReleaseResult", "find_leaks", "release", "secret_lines"]
