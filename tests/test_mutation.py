"""Mutation testing of the hidden tests (`autograder mutate`): the list of equivalent mutants
names real functions of the reference, and a run kills, lists and reports as it says."""

import importlib

import pytest

from autograder.course import all_labs, find_labs
from autograder.mutation import run


@pytest.mark.parametrize("lab", all_labs(), ids=lambda lab: lab.lab_id)
def test_every_listed_equivalent_mutant_names_a_function_of_the_reference(lab):
    listed = run.equivalent_mutants(lab)
    solutions = importlib.import_module(f"solutions.{lab.module_name}")
    for name, entry in listed.items():
        function = run._function(name)
        owner = getattr(solutions, function, None)
        assert callable(owner), f"{lab.lab_id}: {name} names {function}, not in the reference"
        if name.startswith("xǁ"):
            method = name.split("ǁ")[2].rsplit("__mutmut_", 1)[0]
            assert method in vars(owner), f"{lab.lab_id}: {name} names {function}.{method}"
        assert entry["reason"].strip() and entry["change"].strip()


@pytest.mark.slow
def test_a_mutation_run_kills_lists_and_reports_survivors(tmp_path, monkeypatch):
    """One exercise's mutants, graded for real by mutmut, against a list with one of its
    equivalent mutants left out and one entry that names no mutant."""
    lab = find_labs(["04"])[0]
    listed = run.equivalent_mutants(lab)
    kept, left_out = sorted(name for name in listed if run._function(name) == "train_step")[:2]
    entries = {kept: listed[kept], "x_train_step__mutmut_999": listed[kept]}
    lines = [f'["{name}"]\nchange = {entry["change"]!r}\nreason = {entry["reason"]!r}\n'
             for name, entry in entries.items()]
    (tmp_path / f"{lab.module_name}.toml").write_text("\n".join(lines))
    monkeypatch.setattr(run, "EQUIVALENT_DIR", tmp_path)

    result = run.mutate(lab, jobs=2, only="train_step")

    assert result.total > 10 and result.killed == result.total - 2
    assert [s.name for s in result.equivalent] == [kept]
    assert [s.name for s in result.unexplained] == [left_out]
    assert [entry.split(":")[0] for entry in result.stale] == ["x_train_step__mutmut_999"]
    assert not result.ok
    table = run.report([result])
    assert f"survived  {lab.lab_id} {left_out}" in table and "stale" in table
