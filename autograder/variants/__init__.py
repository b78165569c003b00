"""Known answers per lab (`labNN_name`): plausible mistakes the tests must catch, and correct
answers written differently that they must accept. Instructor side only.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
