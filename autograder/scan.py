"""Flag submission code that reaches for the grader's internals, for an instructor to review.

Student code runs in the same Python process as the hidden tests, so a determined student
can reach the grader's objects; nothing in-process can fully prevent it. What it takes
leaves traces in the code, and these patterns find them. A flag changes no score.
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
