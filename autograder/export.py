"""`autograder export`: the gradebook of a graded course folder as CSV files.

grades.csv              student_id, lab_id, score, max_score, manual: one row per graded
                        submission; `manual` names the grade cells whose score an instructor
                        set in formgrader (a manual score or extra credit), empty when every
                        score is the autograder's
grades_by_exercise.csv  student_id, lab_id, grade_id, score, max_score, graded_by, auto_score,
                        manual_score, extra_credit, comment: one row per test cell; `graded_by`
                        is `manual` where an instructor's score stands, `autograder` otherwise;
                        `comment` is the instructor's comment on the exercise (its answer cell
                        `X` or its test cell `test_X`)

A score (auto, manual or with extra credit) above its maximum is refused: it can only come
from a damaged or tampered gradebook, and exporting it would hand out marks nobody earned.
`nbgrader export` in a course folder writes the same two files (CourseCsvExport).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from nbgrader.plugins import ExportPlugin

from autograder.manifest import write_atomically
from autograder.nbgrader_setup import gradebook


class ScoreAboveMaximum(ValueError):
    """The gradebook holds a score higher than its maximum."""


GRADES_CSV = "grades.csv"
BY_EXERCISE_CSV = "grades_by_exercise.csv"
GRADES_HEADER = ("student_id", "lab_id", "score", "max_score", "manual")
BY_EXERCISE_HEADER = ("student_id", "lab_id", "grade_id", "score", "max_score", "graded_by",
                      "auto_score", "manual_score", "extra_credit", "comment")
TEST_PREFIX = "test_"


def export_grades(course_dir: Path) -> tuple[Path, Path]:
    """Write both CSV files into `course_dir` from its gradebook, sorted, and return their paths."""
    totals, cells = [], []
    with gradebook(course_dir) as book:
        for assignment in book.assignments:
            for submission in assignment.submissions:
                student = submission.student.id
                manual = []
                for notebook in submission.notebooks:
                    comments = {comment.name: comment.manual_comment for comment in notebook.comments
                                if comment.manual_comment}
                    for grade in notebook.grades:
                        by_hand = grade.manual_score is not None or bool(grade.extra_credit)
                        manual += [grade.name] if by_hand else []
                        exercise = grade.name.removeprefix(TEST_PREFIX)
                        comment = " | ".join(comments[name] for name in dict.fromkeys((exercise, grade.name))
                                             if name in comments)
                        cells.append((student, assignment.name, grade.name, _number(grade.score),
                                      _number(grade.max_score), "manual" if by_hand else "autograder",
                                      _number(grade.auto_score), _optional(grade.manual_score),
                                      _optional(grade.extra_credit), comment))
                totals.append((student, assignment.name, _number(submission.score),
                               _number(submission.max_score), " ".join(sorted(manual))))
    over = [row for row in cells if row[3] > row[4]]
    if over:
        listed = ", ".join(f"{row[0]}/{row[1]}/{row[2]} {row[3]:g} > {row[4]:g}" for row in over[:5])
        raise ScoreAboveMaximum(f"Refusing to export: {len(over)} score(s) above their maximum "
                                f"({listed}). Correct them in formgrader (manual score or extra "
                                "credit), then run `autograder export` again.")
    grades = course_dir / GRADES_CSV
    by_exercise = course_dir / BY_EXERCISE_CSV
    _write(grades, GRADES_HEADER, sorted(totals))
    _write(by_exercise, BY_EXERCISE_HEADER, sorted(cells))
    return grades, by_exercise


class CourseCsvExport(ExportPlugin):
    """`nbgrader export` in a course folder: the two CSV files of `autograder export`, in the folder."""

    def export(self, gradebook) -> None:
        if self.student or self.assignment or self.to:
            self.log.warning("This course exports every submission into grades.csv and "
                             "grades_by_exercise.csv in the course folder; --to, --student and "
                             "--assignment are ignored.")
        for path in export_grades(Path(self.parent.coursedir.root)):
            self.log.info("Wrote %s", path)


def read_totals(course_dir: Path, student_id: str, lab_id: str) -> tuple[float, float]:
    """One submission's total score and maximum as the gradebook (and so grades.csv) has them."""
    with gradebook(course_dir) as book:
        submission = book.find_submission(lab_id, student_id)
        return _number(submission.score), _number(submission.max_score)


def _number(value: float | None) -> float:
    return round(float(value or 0.0), 4)


def _optional(value: float | None) -> float | str:
    return "" if value is None else _number(value)


def _write(path: Path, header: tuple[str, ...], rows: list[tuple]) -> None:
    """Through a temporary file and a rename: a grading killed while exporting leaves the last
    complete file."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    write_atomically(path, text.getvalue())
