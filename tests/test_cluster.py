"""Grading on a cluster: shards that split a batch exactly, a merge that refuses what does not
belong together and gives the bytes of a single run, a killed run that resumes, and the Slurm
and Kubernetes examples that at least parse and have the fields their schedulers need."""

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from autograder.cli import main as autograder_main
from autograder.course import REPO, find_labs
from autograder.examples import example_submissions
from autograder.grade import Limits, check_same_shard, grade
from autograder.manifest import Manifest, release_checksum
from autograder.merge import ShardMismatch, read_shards
from autograder.shards import Shard, assign, fingerprint

CSVS = ("grades.csv", "grades_by_exercise.csv")
LAB = find_labs(["01"])[0]


def _keys(students: int = 300, labs: int = 9, missing: float = 0.1) -> list[tuple[str, str]]:
    rng = random.Random(0)
    return [(f"s{s:04d}", f"{lab:02d}_lab") for s in range(students) for lab in range(1, labs + 1)
            if rng.random() > missing]


@pytest.mark.parametrize("count", [1, 2, 7, 50])
def test_shards_are_deterministic_balanced_and_cover_every_submission_once(count):
    keys = _keys()
    shards = assign(keys, count)
    assert set(shards) == set(keys) and set(shards.values()) <= set(range(count))
    shuffled = keys[:]
    random.Random(1).shuffle(shuffled)
    assert assign(shuffled, count) == shards, "the share depends on the set, not its order"
    totals = Counter(shards.values())
    assert max(totals.values()) - min(totals[i] for i in range(count)) <= 1
    for lab in {lab for _, lab in keys}:
        per_lab = Counter(shard for key, shard in shards.items() if key[1] == lab)
        assert max(per_lab.values()) - min(per_lab[i] for i in range(count)) <= 1, lab


def test_a_shard_is_written_k_slash_n_with_k_from_0():
    assert Shard.parse("3/10") == Shard(3, 10) and str(Shard(3, 10)) == "3/10"
    for bad in ("10/10", "1", "-1/4", "a/b", "0/0"):
        with pytest.raises(ValueError, match="shard"):
            Shard.parse(bad)


def _fake_release(root: Path) -> tuple[Path, tuple[Path, ...]]:
    course, probes = root / "course", root / "probes"
    for path, text in ((course / "source" / "01_x" / "01_x.ipynb", "{}"),
                       (course / "release" / "01_x" / "01_x.ipynb", "{}"),
                       (course / "gradebook.db", "db"), (probes / "lab01_x.py", "A = 1\n")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return course, (probes,)


def test_the_release_checksum_covers_the_course_files_and_hidden_tests_only(tmp_path):
    course, sources = _fake_release(tmp_path)
    first = release_checksum(course, sources)
    (course / "gradebook.db").write_text("opened in formgrader")
    (sources[0] / "__pycache__").mkdir()
    (sources[0] / "__pycache__" / "lab01_x.pyc").write_text("cache")
    assert release_checksum(course, sources) == first
    (sources[0] / "lab01_x.py").write_text("A = 2\n")
    second = release_checksum(course, sources)
    (course / "source" / "01_x" / "01_x.ipynb").write_text('{"points": 3}')
    assert len({first, second, release_checksum(course, sources)}) == 3


def _shard_folder(root: Path, shard: str, keys, release: str = "r1", graded=None, batch=None) -> Path:
    """A shard folder's manifest as `grade --shard` leaves it, without grading anything."""
    manifest = Manifest(root)
    selected = {key: f"sha-{key[0]}" for key in keys}
    everything = batch if batch is not None else keys
    manifest.write_batch(release=release, shard=shard, batch_size=len(everything),
                         batch_fingerprint=fingerprint(everything), selected=selected, problems=[])
    for key in selected if graded is None else graded:
        manifest.record(key, selected[key], release, {"status": {"kind": "graded"}})
    return root


def test_merge_refuses_shards_that_are_not_one_complete_batch_of_one_release(tmp_path):
    keys = [("ann", "01_x"), ("bob", "01_x"), ("cy", "01_x")]
    shares = assign(keys, 2)
    mine = [[key for key in keys if shares[key] == k] for k in (0, 1)]
    zero = _shard_folder(tmp_path / "s0", "0/2", mine[0], batch=keys)
    one = _shard_folder(tmp_path / "s1", "1/2", mine[1], batch=keys)
    assert [s.shard.index for s in read_shards([one, zero], "r1")] == [0, 1]
    cases = {
        "different releases": [zero, _shard_folder(tmp_path / "r2", "1/2", mine[1], "r2", batch=keys)],
        "another release than the one given": [zero, one, "r9"],
        "shard\\(s\\) 1 of 0-1 missing": [zero],
        "shard\\(s\\) 0 given twice": [zero, zero, one],
        "different numbers of shards": [zero, _shard_folder(tmp_path / "n3", "1/3", mine[1], batch=keys)],
        "different batches": [zero, _shard_folder(tmp_path / "b", "1/2", mine[1], batch=keys[:2])],
        "not finished: 0 of": [zero, _shard_folder(tmp_path / "u", "1/2", mine[1], graded=[], batch=keys)],
        "not a shard folder": [zero, _shard_folder(tmp_path / "whole", None, keys)],
    }
    for message, given in cases.items():
        release = given.pop() if isinstance(given[-1], str) else "r1"
        with pytest.raises(ShardMismatch, match=message):
            read_shards(given, release)
    with pytest.raises(ValueError, match="holds shard 0/2"):
        check_same_shard(zero, Manifest(zero), Shard(1, 2))


def test_a_rerun_keeps_only_results_of_the_same_notebook_and_release(tmp_path):
    manifest = Manifest(tmp_path)
    status = {"graded": "graded", "crashed": "grader error", "looped": "timed out"}
    for student, kind in status.items():
        manifest.record((student, "01_x"), "sha", "r1", {"status": {"kind": kind}})
    (manifest.root / "half").mkdir()
    (manifest.root / "half" / ".01_x.json.123.tmp").write_text('{"stude')  # killed mid-write
    hashes = {(student, "01_x"): "sha" for student in [*status, "half"]}
    assert set(manifest.completed("r1", hashes)) == {("graded", "01_x"), ("looped", "01_x")}
    assert set(manifest.completed("r1", {**hashes, ("graded", "01_x"): "changed"})) == {("looped", "01_x")}
    assert manifest.completed("r2", hashes) == {}


def _commands(script: Path) -> str:
    return " ".join(line for line in script.read_text().splitlines() if not line.lstrip().startswith("#"))


def test_the_slurm_scripts_parse_and_chain_an_array_to_its_merge():
    slurm = REPO / "deploy" / "slurm"
    for script in ("grade.sbatch", "merge.sbatch", "submit.sh", "../kubernetes/run.sh"):
        run = subprocess.run(["bash", "-n", str(slurm / script)], capture_output=True, text=True)
        assert run.returncode == 0, f"{script}: {run.stderr}"
    assert '--shard "$TASK/$SHARDS"' in _commands(slurm / "grade.sbatch")
    assert "TASK=${SLURM_ARRAY_TASK_ID" in _commands(slurm / "grade.sbatch")
    assert "autograder merge" in _commands(slurm / "merge.sbatch")
    submit = _commands(slurm / "submit.sh")
    assert '--array="0-$((SHARDS - 1))"' in submit and '--dependency="afterok:$grading"' in submit


def _job(path: Path) -> dict:
    (job,) = list(yaml.safe_load_all(path.read_text()))
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    spec = job["spec"]["template"]["spec"]
    assert spec["restartPolicy"] in {"Never", "OnFailure"}, "a Job's pods may not restart Always"
    mounts = {mount["name"] for c in spec["containers"] for mount in c.get("volumeMounts", [])}
    assert mounts <= {volume["name"] for volume in spec.get("volumes", [])}
    assert all(c["name"] and c["image"] for c in spec["containers"])
    return job


def test_the_kubernetes_jobs_are_an_indexed_job_and_its_merge():
    grade_job = _job(REPO / "deploy" / "kubernetes" / "grade-job.yaml")
    spec = grade_job["spec"]
    assert spec["completionMode"] == "Indexed" and isinstance(spec["completions"], int)
    assert 1 <= spec["parallelism"] <= spec["completions"]
    (container,) = spec["template"]["spec"]["containers"]
    command = " ".join(container["command"] + container["args"])
    assert "--shard $JOB_COMPLETION_INDEX/$SHARDS" in command
    assert {"name": "SHARDS", "value": str(spec["completions"])} in container["env"]
    merge_job = _job(REPO / "deploy" / "kubernetes" / "merge-job.yaml")
    (container,) = merge_job["spec"]["template"]["spec"]["containers"]
    assert "autograder merge /course/shards/shard-*" in " ".join(container["args"])
    assert "make install" in (REPO / "Dockerfile").read_text()


# What follows grades: lab 01's reference, blank and buggy submissions, in one run, in two
# shards at once, and in a run killed after its first result.


@pytest.fixture(scope="module")
def batch(released, tmp_path_factory):
    root = tmp_path_factory.mktemp("cluster")
    example_submissions([LAB], released.out_dir, root / "subs")
    report = grade(root / "subs", root / "single", released.out_dir, jobs=2)
    scores = {o.student_id: (o.score, o.max_score) for o in report.outcomes}
    assert scores["reference"][0] == scores["reference"][1] > 0 and scores["blank"][0] == 0
    return root, released.out_dir


def _autograder(*args) -> list[str]:
    return [sys.executable, "-m", "autograder", *map(str, args)]


def _same_csvs(course: Path, single: Path) -> None:
    for name in CSVS:
        assert (course / name).read_bytes() == (single / name).read_bytes(), name


@pytest.mark.slow
def test_two_shards_graded_at_once_and_merged_give_the_single_runs_bytes(batch):
    root, release = batch
    runs = [subprocess.Popen(_autograder("grade", root / "subs", "--out", root / f"shard-{k}",
                                         "--release", release, "--shard", f"{k}/2"),
                             cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for k in (0, 1)]
    for run in runs:
        output = run.communicate(timeout=600)[0]
        assert run.returncode == 0, output
    graded = [len(list((root / f"shard-{k}" / "manifest").glob("*/*.json"))) for k in (0, 1)]
    assert sorted(graded) == [1, 2]
    merge = ["merge", root / "shard-1", root / "shard-0", "--out", root / "merged", "--release", release]
    assert autograder_main([str(arg) for arg in merge]) == 0
    _same_csvs(root / "merged", root / "single")
    for student in ("reference", "blank", "buggy"):
        assert (root / "merged" / "autograded" / student / LAB.lab_id / LAB.notebook.name).exists()


def _orphans(course: Path) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if proc.name.isdigit() and "autograder.worker" in command and str(course) in command:
            found.append(command)
    return found


@pytest.mark.slow
def test_a_grade_killed_after_its_first_result_resumes_and_counts_each_once(batch):
    root, release = batch
    course = root / "killed"
    run = subprocess.Popen(_autograder("grade", root / "subs", "--out", course, "--release", release,
                                       "--jobs", "2"), cwd=REPO, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while not (entries := list((course / "manifest").glob("*/*.json"))):
        assert run.poll() is None and time.monotonic() < deadline, "the grade ended without a result"
        time.sleep(0.05)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    kept = {path: path.stat().st_mtime_ns for path in entries}
    assert len(kept) < 3, "killed before the batch was done"
    deadline = time.monotonic() + 60  # one just started ends as soon as it is past its imports
    while _orphans(course):
        assert time.monotonic() < deadline, "a worker outlived the grade that started it"
        time.sleep(0.2)

    report = grade(root / "subs", course, release, jobs=2, limits=Limits())
    assert sorted((o.student_id, o.lab_id) for o in report.outcomes) == sorted(
        (s, LAB.lab_id) for s in ("blank", "buggy", "reference"))
    assert any(note.startswith(f"{len(kept)} submission(s) already graded") for note in report.notes)
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in kept.items()), "graded again"
    assert len(list((course / "manifest").glob("*/*.json"))) == 3
    _same_csvs(course, root / "single")
