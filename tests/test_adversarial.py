"""Submissions that loop, crash, hog memory, exit, tamper with the tests or phone home.

Each is built here from the reference answers of the first lab with one attack added; each
must score exactly what it deserves (0 for the exercises it attacked, full marks elsewhere),
the batch must complete, and grading the batch three times (two jobs, one job, two jobs) must
give identical CSV files.
"""

import http.server
import socketserver
import threading
from pathlib import Path

import pytest
from nbformat.v4 import new_output

from autograder import notebooks
from autograder.examples import answered, reference_answers
from autograder.grade import Limits, grade, network_isolation
from tests.labs_under_test import LABS

pytestmark = pytest.mark.slow
LAB = LABS[0]
WRONG_INIT_STD = LAB.variants().MISTAKES[0]
LIMITS = Limits(cell_seconds=8, notebook_seconds=240, memory_mb=2500)


def _points(cell_ids: set[str]) -> float:
    nb = notebooks.read(LAB.notebook)
    return sum(notebooks.points(c) for c in notebooks.grade_cells(nb) if notebooks.grade_id(c) in cell_ids)


def _mistake(name):
    return next(mistake for mistake in LAB.variants().MISTAKES if mistake.name == name)


def _cell(nb, grade_id):
    return next(cell for cell in nb.cells if notebooks.grade_id(cell) == grade_id)


@pytest.fixture(scope="module")
def answer_server():
    """A web server on this machine that hands out the answer to Q1."""

    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"b")

        def log_message(self, *args):
            pass

    with socketserver.TCPServer(("127.0.0.1", 0), Answer) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield server.server_address[1]
        server.shutdown()


def build_attacks(released_dir: Path, dest: Path, port: int) -> dict[str, set[str]]:
    """Write one submission per attack under `dest`; return the grade cells each must fail."""
    released = notebooks.read(released_dir / "course" / "release" / LAB.lab_id / LAB.notebook.name)
    answers = reference_answers(LAB)
    attacks: dict[str, tuple[dict[str, str], set[str]]] = {
        "honest": ({}, set()),
        "loop": ({"orthogonal_init": answers["orthogonal_init"].replace(
            "    rows, cols = layer.weight.shape", "    while True:\n        pass")},
                 {"test_orthogonal_init"}),
        "stubborn_loop": ({"q5_selu_init": "import time\nwhile True:\n    try:\n        time.sleep(0.1)\n"
                                            "    except KeyboardInterrupt:\n        pass"},
                          {"test_q5_selu_init"}),
        "kill": ({"q4_default_ratio": "import os\nos.kill(os.getpid(), 9)\nQ4 = 1 / math.sqrt(3)"},
                 {"test_q4_default_ratio"}),
        "memory": ({"q3_he_std": "def hog():\n    chunks = []\n    while True:\n"
                                 "        chunks.append(bytes(256 * 2**20))\n\n\nhog()\nQ3 = 0.1"},
                   {"test_q3_he_std"}),
        "exit": ({"q2_zero_bias": 'import sys\nsys.exit(0)\nQ2 = "a"'}, {"test_q2_zero_bias"}),
        "allclose": ({"orthogonal_init": _mistake("orthogonal init from an unnormalized Gaussian").source
                      + "\ntorch.allclose = lambda *args, **kwargs: True"}, {"test_orthogonal_init"}),
        "helpers": ({"init_std": WRONG_INIT_STD.source + (
            "\nimport autograder.checks.core as core\n"
            "import autograder.checks.lab01_initialization as checks\n"
            "core.expect = checks.expect = core.expect_close = checks.expect_close = "
            "lambda *args, **kwargs: None\n")}, {"test_init_std"}),
        "fake_module": ({"init_std": WRONG_INIT_STD.source + (
            "\nimport types\nimport autograder.checks\n"
            "real = autograder.checks.lab01_initialization\n"
            "autograder.checks.lab01_initialization = types.SimpleNamespace(\n"
            "    **{name: getattr(real, name) for name in dir(real)})\n"
            "autograder.checks.lab01_initialization.test_init_std = lambda f: None\n")},
                        {"test_init_std"}),
        "transformer": ({"q5_selu_init": 'Q5 = "a"\nget_ipython().input_transformers_cleanup.append('
                                         "lambda lines: [])"}, {"test_q5_selu_init"}),
        "network": ({"q1_same_value": "import urllib.request\ntry:\n    Q1 = urllib.request.urlopen("
                                      f"'http://127.0.0.1:{port}/', timeout=3).read().decode()\n"
                                      "except Exception:\n    Q1 = 'no network'"},
                    {"test_q1_same_value"}),
        "edited_test": ({"init_std": WRONG_INIT_STD.source}, {"test_init_std"}),
        "deleted_test": ({"uniform_bound": "def uniform_bound(std):\n    return std"},
                         {"test_uniform_bound"}),
        "big_output": ({}, set()),
    }
    for student, (changes, _) in attacks.items():
        submission = answered(released, {**answers, **changes})
        if student == "edited_test":
            _cell(submission, "test_init_std").source = 'print("all good")'
            _cell(submission, "test_init_std").metadata.nbgrader["locked"] = False
        if student == "deleted_test":
            submission.cells.remove(_cell(submission, "test_uniform_bound"))
        if student == "big_output":
            huge = new_output("stream", name="stdout", text="x" * 50_000_000)
            _cell(submission, "init_std").outputs = [huge]
        notebooks.write(submission, dest / student / LAB.lab_id / LAB.notebook.name)
    (dest / "malformed" / LAB.lab_id).mkdir(parents=True)
    (dest / "malformed" / LAB.lab_id / LAB.notebook.name).write_text('{"cells": [{"cell_type": ')
    return {student: fails for student, (_, fails) in attacks.items()}


@pytest.fixture(scope="module")
def graded_three_times(released, answer_server, tmp_path_factory):
    root = tmp_path_factory.mktemp("adversarial")
    expected = build_attacks(released.out_dir, root / "submissions", answer_server)
    runs = []
    for attempt, jobs in enumerate((2, 1, 2)):
        course = root / f"course{attempt}"
        runs.append((grade(root / "submissions", course, released.out_dir, jobs=jobs, limits=LIMITS),
                     course))
    return expected, runs


def test_each_attack_loses_exactly_the_exercises_it_attacked(graded_three_times):
    expected, runs = graded_three_times
    report = runs[0][0]
    outcomes = {o.student_id: o for o in report.outcomes}
    isolated = not network_isolation()[1]
    for student, fails in expected.items():
        if student == "network" and not isolated:
            continue
        outcome = outcomes[student]
        lost = {cell for cell, result in outcome.cells.items() if result["score"] != result["max_score"]}
        assert lost == fails, f"{student}: lost {sorted(lost)}, expected {sorted(fails)} ({outcome.status})"
        assert outcome.score == outcome.max_score - _points(fails)


def test_the_report_says_what_happened(graded_three_times):
    _, runs = graded_three_times
    status = {o.student_id: o.status for o in runs[0][0].outcomes}
    assert "stopped after 8 s" in status["loop"]
    assert "ignored the interrupt; restarted" in status["stubborn_loop"]
    assert "the kernel died; restarted" in status["kill"]
    assert "ran out of memory" in status["memory"]
    for student in ("helpers", "fake_module"):
        assert "flagged: autograder" in status[student]
    assert "get_ipython" in status["transformer"]
    assert status["honest"] == "graded"
    reasons = [problem.reason for problem in runs[0][0].problems]
    assert any("not valid notebook JSON" in reason for reason in reasons)


def test_network_is_cut_off_where_the_platform_allows(graded_three_times):
    _, runs = graded_three_times
    _, note = network_isolation()
    if note:
        assert note in runs[0][0].notes
        pytest.skip(note)
    network = next(o for o in runs[0][0].outcomes if o.student_id == "network")
    assert network.cells["test_q1_same_value"]["score"] == 0


def test_three_gradings_serial_or_parallel_give_identical_csvs(graded_three_times):
    _, runs = graded_three_times
    for name in ("grades.csv", "grades_by_exercise.csv"):
        contents = {(course / name).read_text() for _, course in runs}
        assert len(contents) == 1, f"{name} differs between runs"
