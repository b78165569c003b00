"""The `autograder` command: nbgrader's steps for this course, one command each.

    autograder run [LAB ...] [--quick] [--out DIR]        execute source notebooks (papermill)
    autograder sync [LAB ...] [--check]                    solutions/ → notebook solution cells
    autograder check [LAB ...]                             tests vs reference, blank and mistakes
    autograder mutate [LAB ...] [--only NAME]              mutants of solutions/ vs the tests (mutmut)
    autograder release [LAB ...] [--out DIR] [--exchange X] student version, zip, leak check;
                                                           published to an nbgrader exchange
    autograder collect [LAB ...] --out DIR [--exchange X]  submissions from the exchange
    autograder grade SUBMISSIONS --out DIR [--jobs N]      autograde a folder or zip; a rerun
               [--shard K/N]                               grades only what is missing; one shard
    autograder merge SHARD_DIR... --out DIR                shards of one batch → one course
    autograder feedback --out DIR [--to-exchange]          HTML feedback per submission
    autograder export --out DIR                            grades.csv from the gradebook
    autograder demo [--out DIR]                            all of it on example submissions
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from autograder.course import BUILD_DIR, find_labs


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    warnings.filterwarnings("ignore", module="nbgrader")
    warnings.filterwarnings("ignore", message=".*not in session.*")
    try:
        return args.handler(args)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"autograder {args.command}: {error}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="execute source notebooks end to end with papermill")
    run.add_argument("labs", nargs="*", metavar="LAB", help="lab ids, numbers or names (default: all)")
    run.add_argument("--quick", action="store_true", help="small data and few epochs (QUICK=True)")
    run.add_argument("--out", type=Path, default=BUILD_DIR / "run", help="where executed copies go")
    run.add_argument("--cell-timeout", type=int, default=None, help="seconds per cell (default: none)")
    run.set_defaults(handler=_run)

    sync = commands.add_parser("sync", help="copy solutions/ into the notebooks' solution cells")
    sync.add_argument("labs", nargs="*", metavar="LAB")
    sync.add_argument("--check", action="store_true", help="only report differences; exit 1 if any")
    sync.set_defaults(handler=_sync)

    check = commands.add_parser("check", help="run each lab's tests against its known answers")
    check.add_argument("labs", nargs="*", metavar="LAB")
    check.set_defaults(handler=_check)

    mutate = commands.add_parser("mutate", help="mutation-test the hidden tests with mutmut")
    mutate.add_argument("labs", nargs="*", metavar="LAB")
    mutate.add_argument("--jobs", type=int, default=0, help="mutants graded at once (default: CPUs)")
    mutate.add_argument("--only", default="", metavar="NAME",
                        help="only the mutants of this function or class of the solution")
    mutate.set_defaults(handler=_mutate)

    release = commands.add_parser("release", help="generate the student version of the labs")
    release.add_argument("labs", nargs="*", metavar="LAB")
    release.add_argument("--out", type=Path, default=BUILD_DIR / "release")
    release.add_argument("--exchange", type=Path, default=None,
                         help="also publish the labs to this nbgrader exchange folder (a shared "
                              "JupyterHub's, e.g. /srv/nbgrader/exchange) for `nbgrader fetch_assignment`")
    release.set_defaults(handler=_release)

    collect = commands.add_parser("collect", help="collect submissions from the nbgrader exchange")
    collect.add_argument("labs", nargs="*", metavar="LAB")
    collect.add_argument("--out", type=Path, required=True,
                         help="the graded course folder; submissions land in its submitted/")
    collect.add_argument("--release", type=Path, default=BUILD_DIR / "release",
                         help="the output folder of `autograder release`")
    collect.add_argument("--exchange", type=Path, default=None,
                         help="the exchange folder (default: the one the release was published to)")
    collect.set_defaults(handler=_collect)

    grade = commands.add_parser("grade", help="autograde submissions laid out "
                                              "<student_id>/<lab_id>/<lab_id>.ipynb")
    grade.add_argument("submissions", type=Path, help="a folder or a .zip")
    grade.add_argument("--out", type=Path, required=True, help="the graded course folder")
    grade.add_argument("--release", type=Path, default=BUILD_DIR / "release",
                       help="the output folder of `autograder release`")
    grade.add_argument("--jobs", type=int, default=1, help="submissions graded at once")
    grade.add_argument("--cell-timeout", type=int, default=30, help="seconds per cell")
    grade.add_argument("--notebook-timeout", type=int, default=300, help="seconds per submission")
    grade.add_argument("--memory-mb", type=int, default=4096, help="memory cap per submission (MB)")
    grade.add_argument("--no-sandbox", action="store_true",
                       help="grade even where kernels cannot be jailed (bubblewrap missing); every "
                            "row of report.csv is then marked unsandboxed")
    grade.add_argument("--allow-network", action="store_true",
                       help="with --no-sandbox: let submissions reach the network")
    grade.add_argument("--overwrite-manual", action="store_true",
                       help="clear the manual scores, extra credit and comments an instructor gave "
                            "in formgrader to the submissions graded again (kept by default)")
    grade.add_argument("--shard", default=None, metavar="K/N",
                       help="grade only shard K (0 to N-1) of N: a balanced, stable share of the batch "
                            "for one task of a cluster's job array; join the shards' folders with "
                            "`autograder merge`")
    grade.add_argument("--regrade", action="store_true",
                       help="grade again the submissions already graded from the same notebook "
                            "against the same release (skipped by default, so a killed run resumes)")
    grade.set_defaults(handler=_grade)

    merge = commands.add_parser("merge", help="merge the folders of `grade --shard K/N` into one course")
    merge.add_argument("shards", nargs="+", type=Path, metavar="SHARD_DIR")
    merge.add_argument("--out", type=Path, required=True, help="the merged course folder")
    merge.add_argument("--release", type=Path, default=BUILD_DIR / "release",
                       help="the release the shards were graded against")
    merge.set_defaults(handler=_merge)

    feedback = commands.add_parser("feedback", help="write HTML feedback for a graded course folder")
    feedback.add_argument("--out", type=Path, required=True, help="the folder `grade` wrote")
    feedback.add_argument("--to-exchange", action="store_true",
                          help="also hand the pages back through the nbgrader exchange "
                               "(`nbgrader fetch_feedback` on the student's side)")
    feedback.set_defaults(handler=_feedback)

    export = commands.add_parser("export", help="write grades.csv from a graded course folder")
    export.add_argument("--out", type=Path, required=True, help="the folder `grade` wrote")
    export.set_defaults(handler=_export)

    demo = commands.add_parser("demo", help="release, grade example submissions, print grades")
    demo.add_argument("labs", nargs="*", metavar="LAB")
    demo.add_argument("--out", type=Path, default=BUILD_DIR / "demo")
    demo.add_argument("--jobs", type=int, default=1)
    demo.set_defaults(handler=_demo)
    return parser


def _run(args: argparse.Namespace) -> int:
    from autograder.run import format_table, run_lab

    results = []
    for lab in find_labs(args.labs):
        print(f"running {lab.lab_id}{' (quick)' if args.quick else ''} ...", flush=True)
        results.append(run_lab(lab, args.out, quick=args.quick, cell_timeout=args.cell_timeout))
    print(format_table(results))
    for result in results:
        if not result.ok:
            print(f"\n{result.lab.lab_id} FAILED ({result.output}):\n{result.error}", file=sys.stderr)
    return 0 if all(result.ok for result in results) else 1


def _sync(args: argparse.Namespace) -> int:
    from autograder.sync import sync_lab

    status = 0
    for lab in find_labs(args.labs):
        report = sync_lab(lab, write=not args.check)
        for problem in report.problems:
            print(f"{lab.lab_id}: {problem}", file=sys.stderr)
        if report.drifted:
            verb = "differs from solutions/" if args.check else "updated"
            print(f"{lab.lab_id}: {verb}: {', '.join(report.drifted)}")
        status |= bool(report.problems) or (args.check and bool(report.drifted))
    return int(status)


def _check(args: argparse.Namespace) -> int:
    from autograder.selfcheck import check_lab

    verdicts = [verdict for lab in find_labs(args.labs) for verdict in check_lab(lab)]
    for verdict in verdicts:
        failed = ", ".join(sorted(verdict.failures)) or "nothing"
        line = f"{'ok ' if verdict.ok else 'BAD'} {verdict.lab_id}  {verdict.answer}: fails {failed}"
        if not verdict.ok:
            line += f" (should fail: {', '.join(sorted(verdict.expected_failures)) or 'nothing'})"
        print(line)
    return 0 if all(verdict.ok for verdict in verdicts) else 1


def _mutate(args: argparse.Namespace) -> int:
    from autograder.mutation.run import mutate, report

    results = []
    for lab in find_labs(args.labs):
        results.append(mutate(lab, args.jobs, args.only))
        print(f"{lab.lab_id}: {results[-1].killed} of {results[-1].total} mutants killed", flush=True)
    print(report(results))
    return 0 if all(result.ok for result in results) else 1


def _release(args: argparse.Namespace) -> int:
    from autograder.release import release

    result = release(find_labs(args.labs), args.out)
    print(f"released {', '.join(lab.lab_id for lab in result.labs)}")
    print(f"  student notebooks: {result.student_dir}")
    print(f"  student zip:       {result.zip_path}")
    print(f"  nbgrader course:   {result.course_dir}")
    print("  leak check:        nothing of the solutions or hidden tests in the release")
    if args.exchange:
        from autograder.exchange import publish

        for folder in publish(result.labs, args.out, args.exchange):
            print(f"  published:         {folder}")
    return 0


def _collect(args: argparse.Namespace) -> int:
    from autograder.exchange import collect

    collected = collect(find_labs(args.labs), args.out, args.release, args.exchange)
    for student, lab in collected:
        print(f"collected {student}/{lab}")
    print(f"\n{len(collected)} submission(s) in {args.out / 'submitted'}; grade them with\n"
          f"  autograder grade {args.out / 'submitted'} --out {args.out} --release {args.release}")
    return 0


def _grade(args: argparse.Namespace) -> int:
    from autograder.grade import Limits, grade
    from autograder.sandbox import SandboxUnavailable
    from autograder.shards import Shard

    shard = Shard.parse(args.shard) if args.shard else None
    limits = Limits(cell_seconds=args.cell_timeout, notebook_seconds=args.notebook_timeout,
                    memory_mb=args.memory_mb, sandbox=not args.no_sandbox,
                    isolate_network=not args.allow_network)
    try:
        report = grade(args.submissions, args.out, args.release, jobs=args.jobs, limits=limits,
                       overwrite_manual=args.overwrite_manual, shard=shard, regrade=args.regrade)
    except SandboxUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(report.table())
    print(f"\ngrades: {args.out / 'grades.csv'} and {args.out / 'grades_by_exercise.csv'}; "
          f"report: {args.out / 'report.csv'}")
    return 0


def _merge(args: argparse.Namespace) -> int:
    from autograder.merge import merge

    report = merge(args.shards, args.out, args.release)
    print(report.table())
    print(f"\ngrades: {args.out / 'grades.csv'} and {args.out / 'grades_by_exercise.csv'}; "
          f"report: {args.out / 'report.csv'}")
    return 0


def _feedback(args: argparse.Namespace) -> int:
    from autograder.feedback import generate_feedback

    pages = generate_feedback(args.out)
    print(f"wrote {len(pages)} feedback page(s) under {args.out / 'feedback'}")
    if args.to_exchange:
        from autograder.feedback import release_feedback

        released = release_feedback(args.out)
        print(f"released {len(released)} page(s) to the exchange (students: `nbgrader fetch_feedback LAB`)")
    return 0


def _export(args: argparse.Namespace) -> int:
    from autograder.export import export_grades

    for path in export_grades(args.out):
        print(f"wrote {path}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from autograder.demo import demo

    report = demo(find_labs(args.labs), args.out, jobs=args.jobs)
    print()
    print(report.table())
    graded = args.out / "graded"
    print(f"\ngrades: {graded / 'grades.csv'}  feedback: {graded / 'feedback'}")
    return 0
