"""Which submissions shard K of N grades: `autograder grade ... --shard K/N`.

A cluster's scheduler (a Slurm job array, a Kubernetes Indexed Job) starts N copies of the
same command and tells each its index; each copy collects the whole batch and keeps its own
share. The share depends only on the set of (student, lab) pairs, never on the order a
file system lists them or on the machine, so every copy agrees without talking to the
others, and a copy started again picks the same submissions.

Balance: labs differ in cost (9 to 17 s a submission), so each lab's submissions are dealt
out in turn, in the order of a stable hash of student and lab, one counter running across
the labs: every shard gets the same number of submissions of each lab, give or take one,
and the same number in all, give or take one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")

Key = tuple[str, str]  # (student_id, lab_id)
T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (0-based, as SLURM_ARRAY_TASK_ID and JOB_COMPLETION_INDEX are)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"--shard {self.index}/{self.count}: K must be 0 to N-1 for N ≥ 1 shards "
                             f"(Slurm: --array=0-{max(self.count - 1, 0)} and --shard "
                             "$SLURM_ARRAY_TASK_ID/N).")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`"K/N"` as given on the command line."""
        found = _SPEC.match(text)
        if not found:
            raise ValueError(f"--shard {text!r}: write K/N, e.g. --shard 0/10 for the first of ten "
                             "shards (K counts from 0).")
        return cls(int(found.group(1)), int(found.group(2)))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def stable_hash(student_id: str, lab_id: str) -> str:
    """The same on every machine and Python (unlike hash(), which is salted per process)."""
    return hashlib.sha256(f"{student_id}\0{lab_id}".encode()).hexdigest()


def assign(keys: Iterable[Key], count: int) -> dict[Key, int]:
    """The shard (0 to count-1) of each (student_id, lab_id): balanced per lab and in all."""
    if count < 1:
        raise ValueError("at least one shard")
    unique = set(keys)
    shards: dict[Key, int] = {}
    dealt = 0
    for lab in sorted({lab for _, lab in unique}):
        for key in sorted((k for k in unique if k[1] == lab), key=lambda k: stable_hash(*k)):
            shards[key] = dealt % count
            dealt += 1
    return shards


def select(items: list[T], keys: list[Key], shard: Shard) -> list[T]:
    """The items (in their order) whose key `shard` grades; `keys[i]` is the key of `items[i]`."""
    shards = assign(keys, shard.count)
    return [item for item, key in zip(items, keys, strict=True) if shards[key] == shard.index]


def fingerprint(keys: Iterable[Key]) -> str:
    """One hash of the whole batch's (student, lab) pairs: shards that disagree on it were
    given different batches, and so different shares."""
    lines = sorted(f"{student}/{lab}" for student, lab in set(keys))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
