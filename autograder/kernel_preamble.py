"""Run inside every grading kernel, before the first cell of the submission.

It is never imported: the grader sends its text in the kernel's payload (see
autograder/protocol.py) together with the hidden tests and the reference modules, and
`protocol.BOOTSTRAP` runs it with the decoded payload bound to `payload`. It may use only
the standard library, torch and the course's `labs` helpers, which is all the sandbox
mounts.

It loads the sent modules from memory (the hidden tests import their reference from
there), imports the lab's hidden tests so that they bind torch, builtins, the helpers and
their own modules before student code can rebind them, connects the evidence channel,
drops the reference modules and refuses any later import of them, and seeds every
generator.
"""

import importlib.abc
import importlib.util
import os
import signal
import sys

import labs


class _FromPayload(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import the modules of the payload from their source text, never from a file."""

    def __init__(self, sources):
        self.sources = sources

    def find_spec(self, name, path=None, target=None):
        if name not in self.sources:
            return None
        package = any(other.startswith(name + ".") for other in self.sources)
        return importlib.util.spec_from_loader(name, self, is_package=package)

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        code = compile(self.sources[module.__name__], f"<hidden: {module.__name__}>", "exec")
        exec(code, module.__dict__)


class _NoSolutions(importlib.abc.MetaPathFinder):
    """Refuse imports of the reference solutions from the submission's cells."""

    def find_spec(self, name, path=None, target=None):
        if name == "solutions" or name.startswith("solutions."):
            raise ImportError("The reference solutions are not available while grading.")
        return None


def _start(payload):
    finder = _FromPayload(payload["modules"])
    sys.meta_path.insert(0, finder)
    core = importlib.import_module("autograder.checks.core")
    core.guard(importlib.import_module(f"autograder.checks.{payload['lab_module']}"))
    core.guard(core)
    sys.meta_path.remove(finder)
    for name in [name for name in sys.modules if name == "solutions" or name.startswith("solutions.")]:
        del sys.modules[name]
    sys.meta_path.insert(0, _NoSolutions())
    if payload["evidence_fd"] is not None:
        stream = os.fdopen(payload["evidence_fd"], "a", encoding="utf-8")
        core.report_passes_to(stream, payload["evidence_key"])
    labs.seed_everything(payload["seed"])
    # A write past the file-size limit then fails with OSError (EFBIG) in the cell that made
    # it, instead of killing the kernel with SIGXFSZ.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


_start(payload)  # noqa: F821 - bound by protocol.BOOTSTRAP
del payload  # noqa: F821
