"""Autograde one submission in a private nbgrader course: `python -m autograder.worker COURSE LAB STUDENT`.

`autograder grade` runs one of these per submission, as a separate process it can time out
and kill, and then merges the scores into the instructor's gradebook. The worker writes
`result.json` into COURSE: per grade cell its score and maximum, and whether nbgrader succeeded.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from autograder.nbgrader_setup import api, course_config

GRADING_ENV = {
    "DNNLABS_QUICK": "1",
    "DNNLABS_DATASET": "synthetic",
    "MPLBACKEND": "Agg",
    "PYTHONHASHSEED": "0",
    "DNNLABS_GRADING_SEED": "0",
}
RESULT_FILE = "result.json"


def grading_config(course: Path, lab_id: str, cell_timeout: int):
    """nbgrader settings for grading: per-cell timeout, preamble, experiments skipped."""
    from nbgrader.preprocessors import (
        CheckCellMetadata,
        ClearOutput,
        DeduplicateIds,
        OverwriteCells,
        OverwriteKernelspec,
    )

    from autograder.preprocessors import SkipExperiments

    config = course_config(course)
    config.Execute.timeout = cell_timeout
    config.Execute.interrupt_on_timeout = True
    config.Execute.extra_arguments = ["--IPKernelApp.exec_lines=import autograder.kernel_preamble"]
    config.Autograde.create_student = True
    config.Autograde.sanitize_preprocessors = [ClearOutput, DeduplicateIds, OverwriteKernelspec,
                                               OverwriteCells, SkipExperiments, CheckCellMetadata]
    config.OverwriteCells.add_missing_cells = True
    return config


def read_scores(course: Path, lab_id: str, student_id: str) -> dict[str, dict[str, float | None]]:
    """Each grade cell's auto score and maximum for one submission, from a course's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{(course / 'gradebook.db').resolve()}") as gradebook:
        notebook = gradebook.find_submission_notebook(lab_id, lab_id, student_id)
        return {grade.name: {"score": grade.auto_score, "max_score": grade.max_score}
                for grade in notebook.grades}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("course", type=Path)
    parser.add_argument("lab_id")
    parser.add_argument("student_id")
    parser.add_argument("--cell-timeout", type=int, default=30)
    args = parser.parse_args()
    os.environ.update(GRADING_ENV, DNNLABS_GRADING_LAB=args.lab_id)
    outcome = api(grading_config(args.course, args.lab_id, args.cell_timeout)).autograde(
        args.lab_id, args.student_id, force=True)
    result = {"success": bool(outcome["success"]), "error": outcome.get("error") or "", "cells": {}}
    if result["success"]:
        result["cells"] = read_scores(args.course, args.lab_id, args.student_id)
    (args.course / RESULT_FILE).write_text(json.dumps(result, indent=1))
    return 0 if result["success"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
