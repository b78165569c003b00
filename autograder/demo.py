"""`autograder demo`: the whole instructor pipeline on example submissions, in one command.

Release every lab, build three submissions per lab (the reference solution, the blank
release, one with a plausible mistake), grade them in quick mode, write feedback, and
print the grade table.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from autograder.course import Lab
from autograder.examples import example_submissions
from autograder.feedback import generate_feedback
from autograder.grade import GradeReport, Limits, grade
from autograder.release import release


def demo(labs: list[Lab], out_dir: Path, jobs: int = 1) -> GradeReport:
    """Run the demo into `out_dir` (release/, submissions/, graded/) and return the grade report."""
    shutil.rmtree(out_dir, ignore_errors=True)
    released = release(labs, out_dir / "release")
    print(f"released {len(labs)} lab(s): {released.zip_path}")
    mistakes = example_submissions(labs, released.out_dir, out_dir / "submissions")
    for lab_id, mistake in mistakes.items():
        print(f"  buggy/{lab_id}: {mistake}")
    report = grade(out_dir / "submissions", out_dir / "graded", released.out_dir, jobs=jobs,
                   limits=Limits())
    pages = generate_feedback(out_dir / "graded")
    print(f"wrote {len(pages)} feedback page(s) under {out_dir / 'graded' / 'feedback'}")
    return report
