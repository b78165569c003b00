"""Known answers per lab (`labNN_name`): plausible mistakes the tests must catch, and correct
answers written differently that they must accept. Instructor side only.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from autograder.course import REPO
from autograder.sync import solution_regions


@dataclass(frozen=True)
class Variant:
    """Another answer for one solution cell, and the grade cells it must fail (none if correct)."""

    name: str
    cell: str
    source: str
    fails: frozenset[str] = field(default_factory=frozenset)

    @property
    def correct(self) -> bool:
        return not self.fails


def wrong(name: str, cell: str, source: str, *fails: str) -> Variant:
    """A plausible mistake in solution cell `cell` that must fail exactly the grade cells `fails`."""
    if not fails:
        raise ValueError(f"Mistake {name!r} must name the grade cells it fails.")
    return Variant(name, cell, source, frozenset(fails))


def right(name: str, cell: str, source: str) -> Variant:
    """A correct answer to `cell`, written differently, that every test must accept."""
    return Variant(name, cell, source)


@functools.cache
def _reference(module_name: str) -> dict[str, str]:
    return solution_regions(REPO / "solutions" / f"{module_name}.py")


def edited(module_name: str, cell: str, *changes: tuple[str, str]) -> str:
    """The reference solution of `cell` in `solutions/<module_name>.py` with each (old, new) replaced.

    A mistake written as an edit shows only what is wrong, and stays a mistake of the current
    reference: an `old` that is not exactly once in it fails loudly.
    """
    source = _reference(module_name)[cell]
    for old, new in changes:
        if source.count(old) != 1:
            raise ValueError(f"{module_name} variants: {old!r} is not exactly once in the reference {cell}.")
        source = source.replace(old, new)
    return source
