"""`autograder export`: the gradebook of a graded course folder as CSV files.

grades.csv              student_id, lab_id, score, max_score: one row per graded submission
grades_by_exercise.csv  student_id, lab_id, grade_id, score, max_score: one row per test cell

A score (auto, manual or with extra credit) above its maximum is refused: it can only come
from a damaged or tampered gradebook, and exporting it would hand out marks nobody earned.
"""

from __future__ import annotations

import csv
from pathlib import Path

from autograder.nbgrader_setup import gradebook


class ScoreAboveMaximum(ValueError):
    """The gradebook holds a score higher than its maximum."""

GRADES_CSV = "grades.csv"
BY_EXERCISE_CSV = "grades_by_exercise.csv"


def export_grades(course_dir: Path) -> tuple[Path, Path]:
    """Write both CSV files into `course_dir` from its gradebook, sorted, and return their paths."""
    totals, cells = [], []
    with gradebook(course_dir) as book:
        for assignment in book.assignments:
            for submission in assignment.submissions:
                student = submission.student.id
                totals.append((student, assignment.name, _number(submission.score),
                               _number(submission.max_score)))
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        cells.append((student, assignment.name, grade.name,
                                      _number(grade.score), _number(grade.max_score)))
    over = [row for row in cells if row[3] > row[4]]
    if over:
        listed = ", ".join(f"{s}/{lab}/{cell} {score:g} > {top:g}" for s, lab, cell, score, top in over[:5])
        raise ScoreAboveMaximum(f"Refusing to export: {len(over)} score(s) above their maximum "
                                f"({listed}). Correct them in formgrader (manual score or extra "
                                "credit), then run `autograder export` again.")
    grades = course_dir / GRADES_CSV
    by_exercise = course_dir / BY_EXERCISE_CSV
    _write(grades, ("student_id", "lab_id", "score", "max_score"), sorted(totals))
    _write(by_exercise, ("student_id", "lab_id", "grade_id", "score", "max_score"), sorted(cells))
    return grades, by_exercise


def read_totals(course_dir: Path, student_id: str, lab_id: str) -> tuple[float, float]:
    """One submission's total score and maximum as the gradebook (and so grades.csv) has them."""
    with gradebook(course_dir) as book:
        submission = book.find_submission(lab_id, student_id)
        return _number(submission.score), _number(submission.max_score)


def _number(value: float | None) -> float:
    return round(float(value or 0.0), 4)


def _write(path: Path, header: tuple[str, ...], rows: list[tuple]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
