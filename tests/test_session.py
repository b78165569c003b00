"""Quick mode from the environment, and the opening banner."""

import pytest
import torch

import labs
from labs.session import MAX_COLUMNS, framed


@pytest.mark.parametrize(("env", "expected"), [
    ({}, False), ({"DNNLABS_QUICK": "1"}, True), ({"DNNLABS_QUICK": "true"}, True),
    ({"DNNLABS_QUICK": "0"}, False), ({"NBGRADER_EXECUTION": "autograde"}, True),
    ({"NBGRADER_EXECUTION": "autograde", "DNNLABS_QUICK": "0"}, False)])
def test_quick_mode_reads_the_environment(monkeypatch, env, expected):
    monkeypatch.delenv("DNNLABS_QUICK", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert labs.quick_mode() is expected


def test_banner_on_cpu_gives_the_run_time_and_says_gpu_is_optional(capsys):
    labs.banner(torch.device("cpu"), quick=False, cpu_minutes=4)
    text = capsys.readouterr().out
    assert "about 4 min on a 2-core CPU" in text and "GPU is optional" in text


def test_banner_in_quick_mode_says_numbers_are_not_the_lesson(capsys):
    labs.banner(torch.device("cpu"), quick=True, cpu_minutes=4)
    assert "QUICK mode" in capsys.readouterr().out


def test_banner_prints_once_and_returns_nothing_for_the_cell_to_echo(capsys):
    assert labs.banner(torch.device("cpu"), quick=False, cpu_minutes=4) is None
    text = capsys.readouterr().out
    assert text.count("Device:") == 1 and text.startswith("╔") and text.rstrip().endswith("╝")


def test_framed_wraps_long_lines_within_the_column_limit():
    words = "a banner line far too long for one row of a notebook " * 5
    box = framed(["short", words.strip()])
    rows = box.splitlines()
    assert all(len(row) == len(rows[0]) <= MAX_COLUMNS for row in rows), "a rectangle within the limit"
    inside = " ".join(row[2:-2].strip() for row in rows[1:-1])
    assert inside == "short " + " ".join(words.split()), "wrapped at spaces, no word lost or cut"


def test_framed_keeps_a_short_box_tight():
    assert framed(["hi"]) == "╔════╗\n║ hi ║\n╚════╝"


def test_framed_refuses_a_width_with_no_room_for_text():
    with pytest.raises(ValueError, match="at least 5"):
        framed(["hi"], max_columns=4)
