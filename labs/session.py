"""What a lab's opening cells need: quick mode and the banner that says what runs where."""

from __future__ import annotations

import os
import textwrap

import torch

from labs.device import describe_device

QUICK_ENV = "DNNLABS_QUICK"
GRADING_ENV = "NBGRADER_EXECUTION"
_TRUE = {"1", "true", "yes", "on"}
# Widest line a banner may print: JupyterLab's notebook and the feedback page show about
# this many monospace columns without a horizontal scrollbar.
MAX_COLUMNS = 100


def quick_mode(default: bool = False) -> bool:
    """Whether to run the small smoke-test version of a lab.

    True when $DNNLABS_QUICK is set to 1/true/yes/on, or while nbgrader grades or validates
    the notebook ($NBGRADER_EXECUTION); `default` otherwise. $DNNLABS_QUICK=0 forces it off.
    """
    value = os.environ.get(QUICK_ENV, "").strip().lower()
    if value:
        return value in _TRUE
    if os.environ.get(GRADING_ENV):
        return True
    return default


def banner(device: torch.device, *, quick: bool, cpu_minutes: float,
           gpu_minutes: float | None = None) -> None:
    """Print the lab's opening banner, framed: device, mode and how long the run takes.

    `cpu_minutes` (and `gpu_minutes`, where it was measured) is the default run's time. It
    returns nothing, so a setup cell that ends with it shows the banner once, not again as
    the repr of a string.
    """
    device = torch.device(device)
    lines = [f"Device: {describe_device(device)} · PyTorch {torch.__version__}"]
    if quick:
        lines.append("QUICK mode: tiny data and few epochs, a smoke test; the numbers are not the lesson.")
    elif device.type == "cpu":
        lines.append(f"The default run takes about {cpu_minutes:g} min on a 2-core CPU. "
                     "A GPU is optional.")
    elif gpu_minutes is not None:
        lines.append(f"The default run takes about {gpu_minutes:g} min on a GPU.")
    else:
        lines.append(f"The default run takes about {cpu_minutes:g} min on a 2-core CPU, "
                     "less on this GPU.")
    print(framed(lines))


def framed(lines: list[str], max_columns: int = MAX_COLUMNS) -> str:
    """`lines` in a double-line box at most `max_columns` wide, long lines wrapped at spaces.

    The banners use it so that they read as one notice and fit a notebook without scrolling.
    """
    if max_columns < 5:
        raise ValueError(f"max_columns={max_columns} leaves no room for text inside the frame; "
                         "use at least 5.")
    inner = max_columns - 4
    wrapped = [piece for line in lines
               for piece in (textwrap.wrap(line, inner, break_on_hyphens=False) or [""])]
    width = max(len(line) for line in wrapped)
    rule = "═" * (width + 2)
    body = "\n".join(f"║ {line.ljust(width)} ║" for line in wrapped)
    return f"╔{rule}╗\n{body}\n╚{rule}╝"
