"""`autograder merge SHARD_DIRS... --out DIR`: the shards of one batch as one graded course.

Each shard folder (`autograder grade --shard K/N`) is an ordinary course folder with a
manifest (manifest.py). Before writing anything, merge refuses shards that do not make one
batch, and says what to run: graded against another release (or the release given here), of
another N, a shard missing or given twice, shards that were given different batches, a shard
not finished. Then it copies each shard's submissions (submitted/, autograded/, feedback/,
logs/), writes their scores into the gradebook the way grading does (grade.commit: a copy
moved into place), and writes grades.csv, grades_by_exercise.csv and report.csv: the same
bytes as grading the whole batch in one run. Merging again gives the same folder; the merged
folder's manifest lets a later `autograder grade --out DIR` add to it without regrading.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from autograder.export import export_grades
from autograder.grade import (
    REPORT_CSV,
    GradeReport,
    check_same_shard,
    commit,
    fresh_work_folder,
    outcome_from_record,
    write_report,
)
from autograder.manifest import Key, Manifest, release_checksum
from autograder.nbgrader_setup import use_this_interpreter_tools
from autograder.shards import Shard
from autograder.submissions import Problem

# Per submission, what a shard folder holds and the merged folder gets.
SUBMISSION_FOLDERS = ("submitted", "autograded", "feedback")


class ShardMismatch(ValueError):
    """The folders given do not make one complete batch graded against one release."""


@dataclass(frozen=True)
class ShardFolder:
    """One shard's folder, as its manifest describes it."""

    path: Path
    shard: Shard
    batch: dict
    manifest: Manifest

    @property
    def selected(self) -> dict[Key, str]:
        return {tuple(text.split("/", 1)): sha for text, sha in self.batch["selected"].items()}


def read_shards(shard_dirs: list[Path], release: str | None = None) -> list[ShardFolder]:
    """The shard folders, in shard order, once they are checked to make one complete batch
    graded against one release (`release`, when given, too); ShardMismatch says what is wrong."""
    if not shard_dirs:
        raise ShardMismatch("No shard folders given: autograder merge SHARD_DIR... --out DIR")
    shards = []
    for path in shard_dirs:
        manifest = Manifest(path)
        batch = manifest.batch()
        if batch is None or not batch.get("shard"):
            raise ShardMismatch(f"{path} is not a shard folder (no manifest/batch.json naming a shard): "
                                "grade into it with `autograder grade SUBMISSIONS --out DIR --shard K/N`.")
        shards.append(ShardFolder(path, Shard.parse(batch["shard"]), batch, manifest))
    _same(shards, lambda s: s.batch["release"], "were graded against different releases (the release's "
          "course files or hidden tests changed between them): grade the odd ones again with the "
          "same command; each regrades everything against the release it is given")
    if release is not None and shards[0].batch["release"] != release:
        raise ShardMismatch("The shards were graded against another release than the one given to "
                            "merge (--release): merge with that release, or grade the shards again.")
    _same(shards, lambda s: s.shard.count, "split the batch into different numbers of shards N")
    count = shards[0].shard.count
    given = sorted(s.shard.index for s in shards)
    twice = sorted({i for i in given if given.count(i) > 1})
    missing = sorted(set(range(count)) - set(given))
    if twice or missing:
        said = [f"shard(s) {', '.join(map(str, missing))} of 0-{count - 1} missing"] if missing else []
        said += [f"shard(s) {', '.join(map(str, twice))} given twice"] if twice else []
        raise ShardMismatch(f"Not one complete set of {count} shards: {'; '.join(said)}.")
    _same(shards, lambda s: (s.batch["batch"]["count"], s.batch["batch"]["fingerprint"]),
          "were given different batches of submissions (one added or removed while they ran), so "
          "their shares overlap or miss some: run every shard again on the same folder (the "
          "unchanged ones resume)")
    for shard in shards:
        selected = shard.selected
        graded = sum(1 for key, sha in selected.items() if _done(shard, key, sha))
        if graded < len(selected):
            raise ShardMismatch(f"Shard {shard.shard} ({shard.path}) is not finished: {graded} of "
                                f"{len(selected)} submissions graded. Run its command again: it grades "
                                "only what is missing.")
    return sorted(shards, key=lambda s: s.shard.index)


def merge(shard_dirs: list[Path], out_dir: Path, release_dir: Path) -> GradeReport:
    """Merge complete shards of one batch into the course folder `out_dir` (created, or added
    to: manual scores already there are kept) and return the whole batch's report."""
    use_this_interpreter_tools()
    release_course = release_dir / "course"
    if not (release_course / "gradebook.db").exists():
        raise FileNotFoundError(f"No released course in {release_dir}: give the release the shards "
                                "were graded against (--release).")
    release = release_checksum(release_course)
    shards = read_shards(shard_dirs, release)
    if any(out_dir.resolve() == shard.path.resolve() for shard in shards):
        raise ShardMismatch(f"--out {out_dir} is one of the shards: merge into a folder of its own.")
    manifest = Manifest(out_dir)
    check_same_shard(out_dir, manifest, None)
    work = fresh_work_folder(out_dir)
    shutil.copy2(shards[0].path / "nbgrader_config.py", out_dir / "nbgrader_config.py")
    if not (out_dir / "gradebook.db").exists():
        shutil.copy2(release_course / "gradebook.db", out_dir / "gradebook.db")
    shutil.copytree(release_course / "source", out_dir / "source", dirs_exist_ok=True)

    outcomes, selected = [], {}
    for shard in shards:
        for key, sha in shard.selected.items():
            _copy_submission(shard.path, out_dir, key)
            entry = shard.manifest.entry(key)
            outcomes.append(outcome_from_record(*key, entry["outcome"]))
            selected[key] = sha
    merged = commit(out_dir, work, outcomes, overwrite_manual=False)
    for shard in shards:
        for key in shard.selected:
            entry = shard.manifest.entry(key)
            manifest.record(key, entry["sha256"], release, entry["outcome"])
    batch = shards[0].batch
    problems = [Problem(where, reason) for where, reason in batch["problems"]]
    manifest.write_batch(release=release, shard=None, batch_size=batch["batch"]["count"],
                         batch_fingerprint=batch["batch"]["fingerprint"], selected=selected,
                         problems=[(p.where, p.reason) for p in problems])
    export_grades(out_dir)
    notes = [f"merged {len(shards)} shards: {len(merged)} submissions"]
    report = GradeReport(sorted(merged, key=lambda o: (o.student_id, o.lab_id)), problems, out_dir, notes)
    write_report(out_dir / REPORT_CSV, report)
    shutil.rmtree(work, ignore_errors=True)
    return report


def _done(shard: ShardFolder, key: Key, sha: str) -> bool:
    entry = shard.manifest.entry(key)
    return bool(entry) and entry["sha256"] == sha and entry["release"] == shard.batch["release"]


def _same(shards: list[ShardFolder], value, what: str) -> None:
    """Refuse unless `value` is the same for every shard, naming the folders of each value."""
    groups: dict[object, list[str]] = {}
    for shard in shards:
        groups.setdefault(value(shard), []).append(str(shard.path))
    if len(groups) > 1:
        listed = "; ".join(", ".join(paths) for paths in groups.values())
        raise ShardMismatch(f"The shards {what}. Groups: {listed}.")


def _copy_submission(shard_dir: Path, out_dir: Path, key: Key) -> None:
    """One submission's files from its shard, replacing any older ones in `out_dir`."""
    student, lab = key
    for folder in SUBMISSION_FOLDERS:
        source, target = shard_dir / folder / student / lab, out_dir / folder / student / lab
        shutil.rmtree(target, ignore_errors=True)
        if source.is_dir():
            shutil.copytree(source, target)
    log = Path("logs") / f"{student}__{lab}.log"
    if (shard_dir / log).is_file():
        (out_dir / "logs").mkdir(exist_ok=True)
        shutil.copy2(shard_dir / log, out_dir / log)
