"""The record channel: how the probes' observations leave a grading kernel, and how the judge
reads them without trusting them.

The grader opens one channel per notebook: an anonymous in-memory file (no path names it),
handed to the kernel as an inherited descriptor (see protocol.py). Each probe appends one
frame: an 8-byte length, then `torch.save` of its record. Everything the kernel wrote is
the submission's to forge, so reading is defensive: at most `MAX_BYTES`, frames loaded with
`torch.load(weights_only=True)` (no code runs, no class but a tensor is built), and every
value checked to be of an exact builtin type, a list, a str-keyed dict or a plain dense
contiguous tensor, to a bounded depth. A frame that is anything else is dropped: its grade cell then
has no record and scores 0. A forged record can make its own submission fail, nothing more.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass
from typing import Any

import torch

from autograder.protocol import memory_file

MAX_BYTES = 256 * 2**20
MAX_DEPTH = 12
_FRAME = struct.Struct("<Q")
_SCALARS = (type(None), bool, int, float, str)


class NotData(ValueError):
    """A frame held something other than plain data."""


def plain(value: Any, depth: int = 0) -> Any:
    """`value` if it is plain data of exact types (see the module's docstring); else NotData."""
    if depth > MAX_DEPTH:
        raise NotData("nested too deeply")
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is list:
        return [plain(item, depth + 1) for item in value]
    if kind is dict:
        if any(type(key) is not str for key in value):
            raise NotData("a dict key that is not a str")
        return {key: plain(item, depth + 1) for key, item in value.items()}
    if kind is torch.Tensor and value.layout is torch.strided and not value.is_quantized:
        # An expanded tensor holds a huge shape in a few bytes of storage: the checks' arithmetic
        # on it could exhaust the judge's memory. The kernel writes contiguous tensors only.
        if not value.is_contiguous() or value.numel() * value.element_size() > MAX_BYTES:
            raise NotData("a tensor that is not contiguous or larger than the channel")
        return value
    raise NotData(f"a value of type {kind.__name__}")


def decode(blob: bytes) -> dict[str, Any]:
    """One frame's record, checked: grade id, observations, and what stopped the probe."""
    record = plain(torch.load(io.BytesIO(blob), weights_only=True, map_location="cpu"))
    if type(record) is not dict or type(record.get("grade_id")) is not str \
            or type(record.get("observations")) is not dict:
        raise NotData("not a probe's record")
    stopped = record.get("stopped")
    if stopped is not None and not (type(stopped) is dict and type(stopped.get("key")) is str
                                    and type(stopped.get("message")) is str):
        raise NotData("a malformed stop")
    return {"grade_id": record["grade_id"], "observations": record["observations"],
            "stopped": stopped}


def read_frames(data: bytes) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The last readable record of each grade id in `data`, and what could not be read."""
    records: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    offset = 0
    while offset + _FRAME.size <= len(data):
        (length,) = _FRAME.unpack_from(data, offset)
        offset += _FRAME.size
        if length > len(data) - offset:
            problems.append(f"a frame at byte {offset} runs past the end of the channel")
            break
        try:
            record = decode(data[offset:offset + length])
        except Exception as error:  # a forged frame may fail to load in any way
            problems.append(f"an unreadable record at byte {offset}: {type(error).__name__}")
        else:
            records[record["grade_id"]] = record
        offset += length
    return records, problems


@dataclass(frozen=True)
class Channel:
    """One notebook's record channel: a descriptor of this process, open for the kernel."""

    fd: int

    def read(self) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """The records the kernel wrote (see `read_frames`), at most MAX_BYTES of them."""
        size = min(os.fstat(self.fd).st_size, MAX_BYTES)
        return read_frames(os.pread(self.fd, size, 0))


_open: list[Channel] = []


def open_channel() -> Channel:
    """Open the channel for the next notebook; the one opened before it is closed."""
    while _open:
        os.close(_open.pop().fd)
    _open.append(Channel(memory_file("dnnlabs-records")))
    return _open[-1]


def current() -> Channel | None:
    """The open channel, or None when not grading (a notebook run by papermill, say)."""
    return _open[-1] if _open else None
