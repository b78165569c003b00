"""Imported by every grading kernel at start-up, before the first cell of the submission runs.

It silences warnings (nbgrader scores any stderr output in a test cell as a failure),
imports the lab's hidden tests so that they bind torch, builtins and the course helpers
before student code can rebind them, and seeds every generator.
"""

import importlib
import os
import warnings

import labs

warnings.simplefilter("ignore")
_LAB = os.environ.get("DNNLABS_GRADING_LAB", "")
if _LAB:
    importlib.import_module(f"autograder.checks.lab{_LAB}")
labs.seed_everything(int(os.environ.get("DNNLABS_GRADING_SEED", "0")))
