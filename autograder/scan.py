"""Flag submission code that reaches for the grader's internals, for an instructor to review.

A hint for a person, not a defence: the judge grades outside the student's process, so code
that walks the kernel's memory or rewrites its own records can at most fail its own
submission (see judge.py). Such code still says something about the submission, and these
patterns find its traces. A flag changes no score.
"""

from __future__ import annotations

import re

from nbformat import NotebookNode

SUSPICIOUS = {
    "autograder": r"\bautograder\b",
    "solutions": r"\bsolutions\b",
    "sys.modules": r"\bsys\s*\.\s*modules\b",
    "get_ipython": r"\bget_ipython\b",
    "__import__/importlib": r"__import__|\bimportlib\b",
    "builtins": r"\bbuiltins\b|__builtins__",
    "gc": r"\bgc\s*\.",
    "frames/code objects": r"__globals__|__code__|\bsys\s*\.\s*_getframe\b|\binspect\b",
    "tracing": r"\bsys\s*\.\s*(settrace|setprofile)\b",
    "ctypes": r"\bctypes\b",
    "process control": r"\bos\s*\.\s*(_exit|kill|fork)\b|\bsignal\s*\.",
    "/proc": r"/proc/",
}


def flags(submission: NotebookNode, released: NotebookNode) -> list[str]:
    """What the student's own code (cells not identical to the release's) mentions of SUSPICIOUS."""
    provided = {cell.source for cell in released.cells}
    own = "\n".join(cell.source for cell in submission.cells
                    if cell.cell_type == "code" and cell.source not in provided)
    return [name for name, pattern in SUSPICIOUS.items() if re.search(pattern, own)]
