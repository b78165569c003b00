"""Run inside every grading kernel, before the first cell of the submission.

It is never imported: the grader sends its text in the kernel's payload (see
autograder/protocol.py) together with the probes, and `protocol.BOOTSTRAP` runs it with the
decoded payload bound to `payload`. It may use only the standard library, torch and the
course's `labs` helpers, which is all the sandbox mounts.

It loads the probes from memory (no file holds them), imports the lab's probes so that they
bind torch, builtins, the helpers and their own modules before student code can rebind them,
points them at the record channel, refuses imports of the grader's trusted side (the
reference, the checks, the judge: none is mounted in the sandbox, and an unsandboxed kernel
must not reach them either), and seeds every generator.
"""

import importlib.abc
import importlib.util
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


_TRUSTED = ("solutions", "autograder")


class _TrustedSideRefused(importlib.abc.MetaPathFinder):
    """Refuse imports of the grader's trusted side, except the probes already loaded."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in _TRUSTED and name not in sys.modules:
            raise ImportError(f"{name} is not available while grading.")
        return None


def _start(payload):
    finder = _FromPayload(payload["modules"])
    sys.meta_path.insert(0, finder)
    for name in sorted(payload["modules"]):
        importlib.import_module(name)
    core = sys.modules["autograder.probes.core"]
    for name in payload["modules"]:
        core.guard(sys.modules[name])
    sys.meta_path.remove(finder)
    sys.meta_path.insert(0, _TrustedSideRefused())
    if payload["record_fd"] is not None:
        core.record_to(payload["record_fd"])
    labs.seed_everything(payload["seed"])
    # A write past the file-size limit then fails with OSError (EFBIG) in the cell that made
    # it, instead of killing the kernel with SIGXFSZ.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


_start(payload)  # noqa: F821 - bound by protocol.BOOTSTRAP
del payload  # noqa: F821
