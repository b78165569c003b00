"""Imported by every grading kernel at start-up, before the first cell of the submission runs.

It silences warnings (nbgrader scores any stderr output in a test cell as a failure), imports
the lab's hidden tests so that they bind torch, builtins, the course helpers and their own
modules before student code can rebind them, connects the channel through which passing
hidden tests report (see autograder/evidence.py), makes the reference
solutions unimportable for student code, and seeds every generator.
"""

import importlib
import os
import sys
import warnings

import labs
from autograder import evidence
from autograder.checks import core

warnings.simplefilter("ignore")
_LAB = os.environ.pop("DNNLABS_GRADING_LAB", "")
if _LAB:
    core.guard(importlib.import_module(f"autograder.checks.lab{_LAB}"))
core.guard(core)
evidence.connect_kernel()


class _NoSolutions:
    """Refuse imports of the reference solutions from the submission's cells."""

    def find_spec(self, name, path=None, target=None):
        if name == "solutions" or name.startswith("solutions."):
            raise ImportError("The reference solutions are not available while grading.")
        return None


for _name in [name for name in sys.modules if name == "solutions" or name.startswith("solutions.")]:
    del sys.modules[_name]
sys.meta_path.insert(0, _NoSolutions())
labs.seed_everything(int(os.environ.get("DNNLABS_GRADING_SEED", "0")))
