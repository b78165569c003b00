"""Quick mode from the environment, and the opening banner."""

import pytest
import torch

import labs


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
    text = labs.banner(torch.device("cpu"), quick=False, cpu_minutes=4)
    assert "about 4 min on a 2-core CPU" in text and "GPU is optional" in text
    assert text in capsys.readouterr().out


def test_banner_in_quick_mode_says_numbers_are_not_the_lesson():
    assert "QUICK mode" in labs.banner(torch.device("cpu"), quick=True, cpu_minutes=4)
