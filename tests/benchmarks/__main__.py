"""Benchmarks that print figures, with ratios measured side by side in one run.

    python -m tests.benchmarks                 # everything, on this machine's CPU
    python -m tests.benchmarks loader grade    # some of it
    python -m tests.benchmarks capstone --device cuda   # on a GPU: also mixed precision on/off

loader    one epoch of the same 784-300-100-10 MLP (batch 32) fed by the book's loader
          (torchvision FashionMNIST + ToTensor + DataLoader) and by on-device batching; the
          same steps on ready-made batches (compute alone); and each data path alone
run       seconds per lab of `autograder run --quick`, and the slowest cells of the slowest lab
grade     seconds per submission of `autograder grade`, serial and with --jobs 2, and the
          sandbox's added cost (serial, jailed vs --no-sandbox), on 20 of lab 01; then one
          reference submission of every lab, graded serially
grade-each  only that last part: one reference submission of each lab (`--labs 03 06` for some)
capstone  seconds per epoch of the capstone's MLP variants and its CNN (CIFAR-10 shapes)
shards    200 submissions (reference, blank and buggy answers of every lab) graded serially, and
          as 2 shards at once (two processes) then merged: seconds per submission, in all, the
          merge's cost; and from them a projection for 300 students × 9 labs on 1, 10 and 50
          nodes of 16 cores (`--submissions N` for fewer)

Data is the synthetic stand-in (same shapes, so the same cost as the real data sets).
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DNNLABS_DATASET", "synthetic")

import torch
from torch import nn

import labs
from labs.data import FASHION_MNIST, synthetic_images

SUITES = ("loader", "run", "grade", "grade-each", "capstone", "shards")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suites", nargs="*", choices=SUITES,
                        default=[suite for suite in SUITES if suite != "grade-each"])
    parser.add_argument("--device", default="cpu", help="device for the capstone figures (cpu, cuda)")
    parser.add_argument("--submissions", type=int, default=200, help="submissions the shards figures grade")
    parser.add_argument("--labs", nargs="*", default=[], help="labs for grade-each (default: all)")
    args = parser.parse_args()
    print(f"# {labs.describe_device(torch.device('cpu'))}, PyTorch {torch.__version__}, "
          f"{os.cpu_count()} logical CPUs")
    for suite in args.suites or SUITES:
        start = time.perf_counter()
        print(f"\n## {suite}")
        {"loader": bench_loader, "run": bench_run, "grade": bench_grade,
         "grade-each": lambda: bench_grade_each_lab(args.labs),
         "capstone": lambda: bench_capstone(args.device),
         "shards": lambda: bench_shards(args.submissions)}[suite]()
        print(f"({suite}: {time.perf_counter() - start:.0f} s)")
    return 0


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(),
                         nn.Linear(100, 10))


def _write_idx(path: Path, array: torch.Tensor) -> None:
    magic = {1: 0x801, 3: 0x803}[array.ndim]
    with open(path, "wb") as handle:
        handle.write(struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape))
        handle.write(array.to(torch.uint8).numpy().tobytes())


def _fashion_root(folder: Path) -> Path:
    """A Fashion-MNIST root holding the stand-in as the real idx files, for torchvision to read."""
    raw = folder / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for split, n, prefix in (("train", 60_000, "train"), ("test", 10_000, "t10k")):
        X, y = synthetic_images(FASHION_MNIST, split, n)
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", (X[:, 0] * 255).round())
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", y)
    return folder


def _one_epoch(model: nn.Module, batches) -> float:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for xb, yb in batches:
        loss = loss_fn(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def _iterate(batches) -> float:
    start = time.perf_counter()
    for _ in batches:
        pass
    return time.perf_counter() - start


def bench_loader() -> None:
    """Full training epochs with each data path, the data paths alone, and the compute alone."""
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    with tempfile.TemporaryDirectory() as scratch:
        root = _fashion_root(Path(scratch))
        book = datasets.FashionMNIST(str(root), train=True, download=False, transform=transforms.ToTensor())
        book_train = torch.utils.data.Subset(book, range(55_000))
        data = labs.load_fashion_mnist(root=root, source="real", verbose=False)
        fixed = list(labs.batches(*data.train, 32))
        rows = []
        for attempt in range(2):
            labs.seed_everything(attempt)
            book_epoch = _one_epoch(_mlp(), DataLoader(book_train, batch_size=32, shuffle=True))
            labs.seed_everything(attempt)
            ours_epoch = _one_epoch(_mlp(), labs.batches(*data.train, 32))
            compute = _one_epoch(_mlp(), fixed)
            book_data = _iterate(DataLoader(book_train, batch_size=32, shuffle=True))
            ours_data = _iterate(labs.batches(*data.train, 32))
            rows.append((book_epoch, ours_epoch, compute, book_data, ours_data))
    print("55,000 images, batch 32, 784-300-100-10 MLP, SGD")
    print(f"{'':8s} {'epoch: book':>12s} {'on-device':>10s} {'ratio':>6s} {'compute only':>13s}   "
          f"{'data alone: book':>17s} {'on-device':>10s} {'ratio':>7s}")
    for index, (book_epoch, ours_epoch, compute, book_data, ours_data) in enumerate(rows, start=1):
        print(f"{'run ' + str(index):8s} {book_epoch:11.2f}s {ours_epoch:9.2f}s "
              f"{book_epoch / ours_epoch:5.1f}× {compute:12.2f}s   {book_data:16.2f}s {ours_data:9.3f}s "
              f"{book_data / ours_data:6.0f}×")


def bench_run() -> None:
    from autograder import notebooks
    from autograder.course import all_labs
    from autograder.run import format_table, run_lab

    with tempfile.TemporaryDirectory() as scratch:
        results = [run_lab(lab, Path(scratch), quick=True) for lab in all_labs()]
        print(format_table(results))
        slowest = max(results, key=lambda result: result.seconds)
        cells = [(cell.get("metadata", {}).get("papermill", {}).get("duration") or 0.0, index, cell)
                 for index, cell in enumerate(notebooks.read(slowest.output).cells)
                 if cell.cell_type == "code"]
        print(f"slowest cells of {slowest.lab.lab_id}:")
        for seconds, index, cell in sorted(cells, key=lambda item: item[0], reverse=True)[:5]:
            first_line = next((line for line in cell.source.splitlines() if line.strip()), "")
            print(f"  {seconds:6.2f}s  cell {index:2d}  {first_line[:70]}")


def bench_grade(n_submissions: int = 20) -> None:
    from autograder.course import all_labs
    from autograder.examples import answered, reference_answers
    from autograder.grade import Limits, grade
    from autograder.notebooks import read, write
    from autograder.release import release

    lab = all_labs()[0]
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        released = release([lab], root / "release")
        submission = answered(read(released.course_dir / "release" / lab.lab_id / lab.notebook.name),
                              reference_answers(lab))
        for index in range(n_submissions):
            write(submission, root / "submissions" / f"student{index:02d}" / lab.lab_id / lab.notebook.name)
        seconds = {}
        for name, jobs, limits in (("--jobs 1", 1, Limits()), ("--jobs 2", 2, Limits()),
                                   ("--jobs 1 --no-sandbox", 1, Limits(sandbox=False))):
            start = time.perf_counter()
            report = grade(root / "submissions", root / name.replace(" ", ""), released.out_dir,
                           jobs=jobs, limits=limits)
            seconds[name] = time.perf_counter() - start
            assert all(o.score == o.max_score for o in report.outcomes), "the benchmark grades references"
        csvs = {(root / name.replace(" ", "") / "grades.csv").read_text() for name in seconds}
    print(f"{n_submissions} submissions of {lab.lab_id} (reference answers)")
    for name, total in seconds.items():
        print(f"  {name:22s} {total:6.1f} s in all, {total / n_submissions:5.2f} s per submission")
    print(f"  speed-up with 2 jobs: {seconds['--jobs 1'] / seconds['--jobs 2']:.2f}×; "
          f"identical grades.csv: {len(csvs) == 1}")
    added = (seconds["--jobs 1"] - seconds["--jobs 1 --no-sandbox"]) / n_submissions
    print(f"  the sandbox adds {added:+.2f} s per submission (goal: at most 1 s)")
    bench_grade_each_lab()


def bench_grade_each_lab(lab_ids: list[str] | None = None) -> None:
    """Seconds to grade one reference submission of each lab, serially, jailed (goal: ≤ 15 s)."""
    from autograder.course import all_labs, find_labs
    from autograder.examples import answered, reference_answers
    from autograder.grade import grade
    from autograder.notebooks import read, write
    from autograder.release import release

    labs_ = find_labs(lab_ids) if lab_ids else all_labs()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        released = release(labs_, root / "release")
        for lab in labs_:
            notebook = read(released.course_dir / "release" / lab.lab_id / lab.notebook.name)
            write(answered(notebook, reference_answers(lab)),
                  root / "submissions" / "student" / lab.lab_id / lab.notebook.name)
        report = grade(root / "submissions", root / "course", released.out_dir, jobs=1)
    print("one reference submission of each lab, graded serially (seconds, goal ≤ 15):")
    for outcome in sorted(report.outcomes, key=lambda o: o.lab_id):
        print(f"  {outcome.lab_id:24s} {outcome.seconds:5.1f} s  {outcome.score:g}/{outcome.max_score:g}")


def _timed_commands(commands: list[list[str]]) -> float:
    """Run commands at once, as separate processes (as a scheduler's tasks are); seconds until all end."""
    import subprocess

    start = time.perf_counter()
    runs = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for command in commands]
    for run, command in zip(runs, commands):
        if run.wait() != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{run.stderr.read()}")
    return time.perf_counter() - start


def bench_shards(n_submissions: int = 200, students: int = 300, nodes: tuple[int, ...] = (1, 10, 50),
                 cores: int = 16) -> None:
    """Serial grading against 2 shards at once plus their merge, and a cluster projection."""
    from autograder.course import all_labs
    from autograder.examples import answered, reference_answers
    from autograder.notebooks import read, write
    from autograder.release import release

    labs_ = all_labs()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        released = release(labs_, root / "release")
        kinds = {}
        for lab in labs_:
            notebook = read(released.course_dir / "release" / lab.lab_id / lab.notebook.name)
            answers = reference_answers(lab)
            mistake = lab.variants().MISTAKES[0]
            kinds[lab.lab_id] = (answered(notebook, answers), notebook,
                                 answered(notebook, {**answers, mistake.cell: mistake.source}))
        for index in range(n_submissions):
            lab = labs_[index % len(labs_)]
            kind = (index // len(labs_)) % 3
            path = root / "subs" / f"student{index:03d}" / lab.lab_id / lab.notebook.name
            write(kinds[lab.lab_id][kind], path)
        grade = [sys.executable, "-m", "autograder", "grade", str(root / "subs"), "--release",
                 str(released.out_dir), "--jobs", "1"]
        serial = _timed_commands([[*grade, "--out", str(root / "serial")]])
        # one CPU each, as two nodes would have their own (and each kernel then gets 1 thread)
        pin = [["taskset", "--cpu-list", str(k % (os.cpu_count() or 1))] if shutil.which("taskset") else []
               for k in range(2)]
        sharded = _timed_commands([[*pin[k], *grade, "--out", str(root / f"shard-{k}"), "--shard", f"{k}/2"]
                                   for k in range(2)])
        merge = _timed_commands([[sys.executable, "-m", "autograder", "merge", str(root / "shard-0"),
                                  str(root / "shard-1"), "--out", str(root / "merged"), "--release",
                                  str(released.out_dir)]])
        identical = all((root / "serial" / name).read_bytes() == (root / "merged" / name).read_bytes()
                        for name in ("grades.csv", "grades_by_exercise.csv"))
    n = n_submissions
    print(f"{n} submissions: reference, blank and buggy answers of {len(labs_)} labs, kernels jailed, "
          f"{os.cpu_count()} CPUs")
    print(f"  serial (--jobs 1)            {serial:7.1f} s in all, {serial / n:5.2f} s per submission")
    print(f"  2 shards at once             {sharded:7.1f} s in all, {sharded / n:5.2f} s per submission "
          f"({serial / sharded:.2f}× serial)")
    print(f"  merge of the 2 shards        {merge:7.1f} s ({merge / n * 1000:.0f} ms per submission, "
          "process start included)")
    print(f"  sharded and merged           {sharded + merge:7.1f} s; grades.csv and "
          f"grades_by_exercise.csv identical to serial: {identical}")
    merge_each = bench_merge_at_scale()
    per_core = sharded * 2 / n  # core-seconds per submission, both cores busy
    total = students * len(labs_)
    print(f"projection for {students} students × {len(labs_)} labs = {total} submissions, nodes of {cores} "
          f"cores like these, --jobs {cores} per node, {per_core:.1f} core-seconds per submission "
          f"(2 shards above), the merge at {merge_each * 1000:.0f} ms per submission (above):")
    for count in nodes:
        per_node = -(-total // count)
        rounds = -(-per_node // cores)
        wall = rounds * per_core + merge_each * total
        print(f"  {count:3d} node(s): {per_node:5d} submissions each, about {wall / 60:6.1f} min "
              f"({rounds * per_core / 60:.1f} grading + {merge_each * total / 60:.1f} merge)")


def bench_merge_at_scale(n_submissions: int = 300) -> float:
    """Seconds per submission of `autograder merge` (in-process) on two shards holding n made-up
    results (no grading: each lab's grade cells at half marks); returns that figure."""
    from autograder.course import all_labs
    from autograder.manifest import Manifest, release_checksum
    from autograder.merge import merge
    from autograder.nbgrader_setup import gradebook
    from autograder.release import release
    from autograder.shards import assign, fingerprint

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        course = release(all_labs(), root / "release").course_dir
        checksum = release_checksum(course)
        with gradebook(course) as book:
            cells = {a.name: {g.name: g.max_score for nb in a.notebooks for g in nb.grade_cells}
                     for a in book.assignments}
        labs_ = sorted(cells)
        keys = [(f"student{i:04d}", labs_[i % len(labs_)]) for i in range(n_submissions)]
        shares = assign(keys, 2)
        for k in range(2):
            shard = root / f"shard-{k}"
            shard.mkdir()
            shutil.copy2(course / "gradebook.db", shard / "gradebook.db")
            shutil.copy2(course / "nbgrader_config.py", shard / "nbgrader_config.py")
            manifest = Manifest(shard)
            mine = {key: "sha" for key in keys if shares[key] == k}
            manifest.write_batch(release=checksum, shard=f"{k}/2", batch_size=len(keys),
                                 batch_fingerprint=fingerprint(keys), selected=mine, problems=[])
            for student, lab in mine:
                for folder in ("submitted", "autograded"):
                    (shard / folder / student / lab).mkdir(parents=True)
                    shutil.copy2(course / "release" / lab / f"{lab}.ipynb", shard / folder / student / lab)
                manifest.record((student, lab), "sha", checksum, {
                    "score": 0.0, "max_score": 0.0, "seconds": 10.0, "cells": {
                        cell: {"score": most / 2, "max_score": most} for cell, most in cells[lab].items()},
                    "status": {"kind": "graded", "detail": "", "events": [], "flags": [], "sandboxed": True}})
        start = time.perf_counter()
        merge([root / "shard-0", root / "shard-1"], root / "merged", root / "release")
        seconds = time.perf_counter() - start
    print(f"  merge at scale: {n_submissions} made-up results in 2 shards, in-process: {seconds:.1f} s, "
          f"{seconds / n_submissions * 1000:.0f} ms per submission")
    return seconds / n_submissions


def capstone_models() -> list[tuple[str, object, int, int]]:
    """(name, builder, batch size, images timed) for the capstone's MLP variants and its CNN.

    The MLPs come from the reference `build_mlp`; the CNN from the capstone notebook's own cell,
    so the figure is that of the network students train.
    """
    import ast

    from autograder import notebooks
    from autograder.course import find_labs
    from solutions.lab09_cifar10_capstone import build_mlp

    lab = find_labs(["09"])[0]
    cell = next(c for c in notebooks.read(lab.notebook).cells if "def make_cnn(" in c.source)
    tree = ast.parse(cell.source)
    tree.body = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    scope = {"torch": torch, "nn": nn, "Tensor": torch.Tensor, "labs": labs}
    exec(compile(tree, str(lab.notebook), "exec"), scope)
    return [
        ("MLP 20×100 SiLU, He", lambda: build_mlp(), 32, 4_096),
        ("MLP 20×100 SiLU + batch norm", lambda: build_mlp(batch_norm=True), 32, 4_096),
        ("MLP 20×100 SELU, LeCun", lambda: build_mlp(activation="selu", selu=True), 32, 4_096),
        ("MLP 20×100 SELU + alpha dropout 0.1",
         lambda: build_mlp(activation="selu", selu=True, alpha_dropout=0.1), 32, 4_096),
        ("CNN (make_cnn, width 64)", lambda: scope["make_cnn"](64), 128, 512),
    ]


def bench_capstone(device_name: str) -> None:
    device = labs.choose_device(device_name)
    print(f"device: {labs.describe_device(device)}")
    data = labs.load_cifar10(n_train=4_096, n_valid=0, n_test=0, device=device, verbose=False)
    for name, build, batch_size, n_images in capstone_models():
        train = (data.X_train[:n_images], data.y_train[:n_images])
        for amp in ((False, True) if device.type == "cuda" else (False,)):
            labs.seed_everything(0)
            model = labs.to_device(build(), device)
            optimizer = torch.optim.NAdam(model.parameters(), lr=1e-3)
            labs.fit(model, optimizer, train, epochs=1, batch_size=batch_size, amp=amp, progress=False)
            start = time.perf_counter()
            labs.fit(model, optimizer, train, epochs=2, batch_size=batch_size, amp=amp, progress=False)
            seconds = (time.perf_counter() - start) / 2
            print(f"  {name:36s} batch {batch_size:3d}  amp {'on ' if amp else 'off'}  "
                  f"{seconds / n_images * 45_000:7.1f} s per 45,000-image epoch (timed on {n_images:,})")


if __name__ == "__main__":
    sys.exit(main())
