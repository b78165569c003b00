"""The labs of this repository and where each of their parts lives.

A lab is a folder `labs/NN_name/` holding the source notebook `NN_name.ipynb`; its reference
solutions are `solutions/labNN_name.py`, its hidden tests `autograder/probes/labNN_name.py`
(what the student's kernel records) and `autograder/checks/labNN_name.py` (how the judge
compares), and its known answers `autograder/variants/labNN_name.py`. Adding a lab means
adding those five files: everything else finds it by this convention.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent
LABS_DIR = REPO / "labs"
BUILD_DIR = REPO / "build"
COURSE_ID = "dnnlabs"
_LAB_DIR = re.compile(r"^\d\d_[a-z0-9_]+$")


@dataclass(frozen=True)
class Lab:
    """One lab, named by its id such as "01_initialization"."""

    lab_id: str

    @property
    def number(self) -> str:
        return self.lab_id[:2]

    @property
    def notebook(self) -> Path:
        return LABS_DIR / self.lab_id / f"{self.lab_id}.ipynb"

    @property
    def module_name(self) -> str:
        return f"lab{self.lab_id}"

    @property
    def solutions_path(self) -> Path:
        return REPO / "solutions" / f"{self.module_name}.py"

    def solutions(self) -> ModuleType:
        return importlib.import_module(f"solutions.{self.module_name}")

    def checks(self) -> ModuleType:
        return importlib.import_module(f"autograder.checks.{self.module_name}")

    def variants(self) -> ModuleType:
        return importlib.import_module(f"autograder.variants.{self.module_name}")


def all_labs() -> list[Lab]:
    """Every lab in `labs/`, in course order."""
    return [Lab(path.name) for path in sorted(LABS_DIR.iterdir())
            if path.is_dir() and _LAB_DIR.match(path.name) and (path / f"{path.name}.ipynb").exists()]


def find_labs(names: list[str] | None) -> list[Lab]:
    """The labs named by id ("01_initialization"), number ("01") or name ("initialization").

    No names means every lab. An unknown name raises ValueError listing the known ones.
    """
    labs = all_labs()
    if not names:
        return labs
    chosen = []
    for name in names:
        matches = [lab for lab in labs if name in (lab.lab_id, lab.number, lab.lab_id[3:])]
        if not matches:
            known = ", ".join(lab.lab_id for lab in labs)
            raise ValueError(f"No lab called {name!r}. Known labs: {known}.")
        chosen.extend(match for match in matches if match not in chosen)
    return chosen
