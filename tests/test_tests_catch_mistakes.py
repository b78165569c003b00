"""Each lab's tests, run fast in a fresh namespace: the reference passes, a blank release fails
everything, every known mistake fails its own exercise's tests and no other, and every correct
answer written differently passes.
"""

import pytest

from autograder import notebooks, selfcheck
from autograder.examples import blank, reference_answers
from autograder.variants import edited
from tests.labs_under_test import LABS, lab_params, variant_params


@pytest.mark.parametrize("lab", lab_params())
def test_reference_solution_passes_every_test(lab):
    outcome = selfcheck.run_cells(notebooks.read(lab.notebook), name=lab.lab_id)
    messages = {cell_id: outcome.cells[cell_id].message for cell_id in outcome.failed}
    assert not messages, messages
    assert outcome.other_errors == {}


@pytest.mark.parametrize("lab", lab_params())
def test_blank_release_fails_every_test(lab):
    nb = notebooks.read(lab.notebook)
    blanks = {cell_id: blank(source) for cell_id, source in reference_answers(lab).items()}
    outcome = selfcheck.run_cells(nb, blanks, name=lab.lab_id)
    assert outcome.score == 0 and outcome.failed == set(outcome.cells)


@pytest.mark.parametrize(("lab", "mistake"), variant_params("MISTAKES"))
def test_mistake_fails_its_exercise_and_only_it(lab, mistake):
    outcome = selfcheck.run_cells(notebooks.read(lab.notebook), {mistake.cell: mistake.source},
                                  name=lab.lab_id)
    assert outcome.failed == set(mistake.fails)
    for cell_id in mistake.fails:
        assert outcome.cells[cell_id].message.strip(), "the failure explains itself"


@pytest.mark.parametrize(("lab", "alternative"), variant_params("ALTERNATIVES"))
def test_correct_answer_written_differently_passes(lab, alternative):
    outcome = selfcheck.run_cells(notebooks.read(lab.notebook),
                                  {alternative.cell: alternative.source}, name=lab.lab_id)
    assert outcome.failed == set(), {c: outcome.cells[c].message for c in outcome.failed}


@pytest.mark.parametrize("lab", lab_params())
def test_every_exercise_has_a_known_mistake(lab):
    nb = notebooks.read(lab.notebook)
    exercises = {notebooks.grade_id(c) for c in notebooks.grade_cells(nb)
                 if not notebooks.grade_id(c).startswith("test_q")}
    caught = set().union(*(m.fails for m in lab.variants().MISTAKES))
    assert exercises <= caught, f"no known mistake for {sorted(exercises - caught)}"


def test_a_mistake_written_as_an_edit_must_still_find_its_text():
    with pytest.raises(ValueError, match="not exactly once in the reference lr_range_test"):
        edited("lab07_lr_schedules", "lr_range_test", ("a line the reference does not hold", ""))
    lab07 = next(lab for lab in LABS if lab.module_name == "lab07_lr_schedules")
    assert edited("lab07_lr_schedules", "lr_range_test") == reference_answers(lab07)["lr_range_test"]
