"""The two phases of grading, without a kernel: what crosses from the kernel is data the judge
checks before it reads it, the kernel's probes hold nothing of the answers, and a grade cell's
outputs after grading are the judge's verdict (visible tests decide nothing).
"""

import ast
import os
import pickle
import struct

import pytest
import torch
from nbformat.v4 import new_code_cell, new_output

from autograder import hidden_cells, judge, protocol, records
from autograder.course import all_labs
from autograder.probes.core import encode, observe, to_data
from autograder.release import secret_lines
from tests.labs_under_test import LABS

LAB = LABS[0].module_name
TRUSTED = ("solutions", "autograder.checks", "autograder.variants", "autograder.judge",
           "autograder.selfcheck")


def _record(grade_id="test_q1_same_value", observations=None, stopped=None):
    return {"grade_id": grade_id, "observations": {"answer": "c"} if observations is None else observations,
            "stopped": stopped}


def _raw_frame(blob: bytes) -> bytes:
    return struct.pack("<Q", len(blob)) + blob


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_a_record_crosses_as_data_and_comes_back_equal():
    weights = torch.randn(3, 4, dtype=torch.float64)
    record = _record("test_x", {"w": weights, "transposed": to_data(weights.T), "n": 2, "s": "a",
                                "nested": [{"k": None, "b": True}]})
    found, problems = records.read_frames(encode(record))
    assert problems == []
    got = found["test_x"]["observations"]
    assert torch.equal(got["w"], weights) and got["w"].dtype == torch.float64
    assert torch.equal(got["transposed"], weights.T), "a student's strided tensor crosses too"
    assert got["nested"] == [{"k": None, "b": True}] and type(got["n"]) is int


@pytest.mark.parametrize("forged", [
    pytest.param(lambda: _raw_frame(pickle.dumps(_record(observations={"answer": _RunsCode()}))),
                 id="a raw pickle that runs a command"),
    pytest.param(lambda: encode(_record(observations={"answer": _RunsCode()})),
                 id="a torch file that runs a command"),
    pytest.param(lambda: encode(_record(observations={"answer": torch.nn.Parameter(torch.ones(1))})),
                 id="a class other than a plain tensor"),
    pytest.param(lambda: encode(_record(observations={"answer": torch.zeros(1).expand(10**6, 10**6)})),
                 id="an expanded tensor whose shape would exhaust the judge's memory"),
    pytest.param(lambda: encode({"grade_id": "test_q1_same_value", "observations": [1], "stopped": None}),
                 id="observations that are not a dict"),
    pytest.param(lambda: encode(_record(stopped="not a dict")), id="a malformed stop"),
    pytest.param(lambda: _raw_frame(b"PK\x03\x04 not a zip at all"), id="garbage"),
])
def test_a_forged_frame_is_dropped_and_the_genuine_record_before_it_stays(forged, tmp_path):
    genuine = encode(_record(observations={"answer": "b"}))
    found, problems = records.read_frames(genuine + forged())
    assert found["test_q1_same_value"]["observations"] == {"answer": "b"}
    assert len(problems) == 1 and "unreadable record" in problems[0]


def test_a_length_past_the_end_stops_reading_and_says_so():
    found, problems = records.read_frames(struct.pack("<Q", 2**40) + b"x" * 10 + encode(_record()))
    assert found == {} and "runs past the end" in problems[0]


def test_data_of_exact_types_only():
    class Lying(str):
        def __eq__(self, other):
            return True

    for value in (Lying("a"), {1: "int key"}, (1, 2), {1, 2}):
        with pytest.raises(records.NotData):
            records.plain(value)
    deep: list = []
    for _ in range(records.MAX_DEPTH + 2):
        deep = [deep]
    with pytest.raises(records.NotData, match="deeply"):
        records.plain(deep)


def test_the_channel_reads_what_the_kernel_wrote_and_no_more_than_its_limit(monkeypatch):
    channel = records.open_channel()
    os.write(channel.fd, encode(_record()) + encode(_record("test_q2_zero_bias", {"answer": "d"})))
    assert set(channel.read()[0]) == {"test_q1_same_value", "test_q2_zero_bias"}
    monkeypatch.setattr(records, "MAX_BYTES", 16)
    found, problems = channel.read()
    assert found == {} and problems


def _verdict(record, grade_id="test_q1_same_value", subject="Q1", why=""):
    return judge.verdict(LAB, grade_id, (grade_id, subject), record, why)


def test_the_judge_converts_nothing_it_is_given_and_fails_what_is_not_an_answer():
    assert _verdict(_record(observations={"answer": "c"})).passed
    assert not _verdict(_record(observations={"answer": "a"})).passed
    assert "one letter" in _verdict(_record(observations={"answer": ["c"]})).message
    assert "one letter" in _verdict(_record(observations={"answer": {"type": "Yes"}})).message


def test_a_missing_or_stopped_record_fails_with_the_reason():
    assert "recorded nothing" in _verdict(None).message
    assert "NameError" in _verdict(None, why="the hidden tests could not run: NameError: Q1").message
    stopped = _record("test_init_std", {}, {"key": "k", "message": "init_std(...) is not implemented yet"})
    assert _verdict(stopped, "test_init_std", "init_std").message == "init_std(...) is not implemented yet"


def test_a_record_of_the_wrong_form_fails_its_cell_without_crashing_the_judge():
    keys = judge.reference_record(LAB, "test_init_std", "init_std")["observations"]
    wrong = _record("test_init_std", dict.fromkeys(keys, "0.1"))
    outcome = _verdict(wrong, "test_init_std", "init_std")
    assert not outcome.passed and "expected a number" in outcome.message


def test_a_known_mistake_is_named_in_its_message():
    mistake = next(m for m in LABS[0].variants().MISTAKES if m.cell == "init_std")
    scope: dict = {}
    exec("import math\n" + mistake.source, scope)
    probe = __import__(f"autograder.probes.{LAB}", fromlist=["_"]).test_init_std
    record = observe(probe.observe, "test_init_std", scope["init_std"])
    outcome = _verdict(record, "test_init_std", "init_std")
    assert not outcome.passed and f"known mistake: {mistake.name}" in outcome.message


def test_the_reference_record_is_the_same_bit_for_bit_every_time():
    import solutions.lab01_initialization as ref

    torch.manual_seed(123)
    first = judge.reference_record(LAB, "test_orthogonal_init", "orthogonal_init_")["observations"]
    again = judge.observe(LAB, "test_orthogonal_init", ref.orthogonal_init_)["observations"]
    assert first.keys() == again.keys()
    for key, value in first.items():
        assert torch.equal(value, again[key]) if isinstance(value, torch.Tensor) else value == again[key]


def _grade_cell():
    meta = {"grade": True, "solution": False, "locked": True, "grade_id": "test_q1_same_value",
            "points": 1, "schema_version": 3}
    source = ('assert Q1 in "abcd"\n### BEGIN HIDDEN TESTS\nfrom autograder.probes import '
              f'{LAB} as hidden\nhidden.test_q1_same_value(Q1)\n### END HIDDEN TESTS')
    return new_code_cell(source, metadata={"nbgrader": meta})


def test_the_probe_runs_apart_from_the_visible_tests_and_its_verdict_decides():
    from nbformat.v4 import new_notebook

    cell = _grade_cell()
    original = cell.source
    nb = hidden_cells.with_probe_cells(new_notebook(cells=[cell]), LAB)
    assert nb.cells[0].source == 'assert Q1 in "abcd"'
    assert nb.cells[1].source == (f"__import__('autograder.probes.{LAB}', fromlist=['_'])"
                                  ".test_q1_same_value(Q1)")
    nb.cells[0].outputs = [new_output("error", ename="AssertionError", evalue="visible", traceback=[])]
    nb = hidden_cells.judge_cells(nb, LAB, {"test_q1_same_value": _record()})
    assert len(nb.cells) == 1 and nb.cells[0].source == original
    kinds = [(o.output_type, o.get("name")) for o in nb.cells[0].outputs]
    assert kinds == [("stream", "stderr"), ("stream", "stdout")], "a visible failure is only a note"
    failed = hidden_cells.judge_cells(hidden_cells.with_probe_cells(new_notebook(cells=[_grade_cell()]), LAB),
                                      LAB, {"test_q1_same_value": _record(observations={"answer": "a"})})
    assert [o.output_type for o in failed.cells[0].outputs] == ["error"]


def test_no_probe_holds_or_imports_the_trusted_side():
    secrets = secret_lines(all_labs())
    for name, source in protocol.probe_sources().items():
        imported = set()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                imported.add(node.module or "")
        assert not {module for module in imported if module.startswith(TRUSTED)}, name
        assert not {line.strip() for line in source.splitlines()} & secrets, name


def test_every_grade_cell_has_a_probe_and_a_check():
    from autograder import notebooks

    for lab in LABS:
        probes = __import__(f"autograder.probes.{lab.module_name}", fromlist=["_"])
        for cell in notebooks.grade_cells(notebooks.read(lab.notebook)):
            call = judge.probe_call(hidden_cells.split(cell.source)[1])
            assert call is not None and call[0] == notebooks.grade_id(cell), (lab.lab_id, cell.source)
            assert callable(getattr(probes, call[0], None)) and callable(getattr(lab.checks(), call[0], None))


def test_reference_records_are_computed_once_per_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setitem(judge._CACHE, "folder", tmp_path)
    judge.reference_record.cache_clear()
    try:
        computed = judge.reference_record(LAB, "test_q1_same_value", "Q1")
        (path,) = tmp_path.glob(f"{LAB}.test_q1_same_value.*.pt")
        torch.save({**computed, "observations": {"answer": "from the cache"}}, path)
        judge.reference_record.cache_clear()
        assert judge.reference_record(LAB, "test_q1_same_value", "Q1")["observations"] == {
            "answer": "from the cache"}, "a later process reads the folder instead of recomputing"
    finally:
        judge.reference_record.cache_clear()
