"""JupyterLab and formgrader as a student and an instructor use them, in headless Chromium.

A real JupyterLab serves a temporary copy of the released lab 01 (token, 127.0.0.1 only) as
the student's environment has it (no nbgrader extensions); the test runs every cell through
the menus and checks what a student sees, types an answer and runs its test. Then formgrader
on the released course, and on the course folder `autograder grade` wrote: the gradebook's
scores, formgrader's own Autograde button (same grades as `autograder grade`), the manual
grading view with a failing hidden test's message, a manual score and comment that reach
grades.csv, and the feedback page that formgrader's "Generate feedback" writes. Screenshots go
to build/screenshots/. Servers are always shut down, and a watchdog ends everything after
WATCHDOG_SECONDS.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from autograder import notebooks, selfcheck
from autograder.cli import main as autograder_main
from autograder.course import BUILD_DIR
from autograder.examples import reference_answers
from autograder.feedback import generate_feedback
from autograder.feedback_summary import exercise_label
from autograder.grade import grade
from autograder.nbgrader_setup import gradebook
from tests.labs_under_test import LABS
from tests.test_entry_points import auto_scores, write_submissions

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = BUILD_DIR / "screenshots"
WATCHDOG_SECONDS = 420
LAB = LABS[0]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

if CHROMIUM is None:
    pytest.skip("Chromium is not installed: `make install` installs Debian's chromium as root "
                "(or run `sudo apt-get install chromium`)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="`make install` installs playwright")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# nbgrader's parts of JupyterLab: none of them is in the student's environment.
NBGRADER_SERVER_EXTENSIONS = ("formgrader", "validate_assignment", "assignment_list", "course_list")
NBGRADER_LAB_EXTENSION = "@jupyter/nbgrader"


def as_student_environment(config_dir: Path) -> None:
    """Make a JupyterLab started with JUPYTER_CONFIG_DIR=`config_dir` look like the student's.

    The student's venv (`make student-venv`: the zip's `pip install -e .`) has JupyterLab and
    the helpers but no nbgrader. Building it takes minutes and 5 GB, so this emulates it in the
    course's venv: what `jupyter server extension disable` and `jupyter labextension disable`
    write at the user level, for every nbgrader server extension and its lab extension.
    """
    config_dir.mkdir(parents=True, exist_ok=True)
    disabled = {f"nbgrader.server_extensions.{name}": False for name in NBGRADER_SERVER_EXTENSIONS}
    (config_dir / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": disabled}}))
    (config_dir / "labconfig").mkdir(exist_ok=True)
    (config_dir / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {NBGRADER_LAB_EXTENSION: True}}))


@contextlib.contextmanager
def jupyterlab(root: Path, scratch: Path, *, student: bool = False) -> Iterator[str]:
    """A JupyterLab server on `root`; yields its base URL (with the token). Always shut down.

    `student`: as the student's environment has it, without nbgrader (as_student_environment).
    """
    port, token = _free_port(), secrets.token_hex(16)
    if student:
        as_student_environment(scratch / "config")
    for extension, name, content in [("notebook-extension", "tracker", '{"windowingMode": "none"}'),
                                     ("apputils-extension", "notification", '{"fetchNews": "false"}')]:
        folder = scratch / "settings" / "@jupyterlab" / extension
        folder.mkdir(parents=True)
        (folder / f"{name}.jupyterlab-settings").write_text(content)
    env = dict(os.environ, DNNLABS_QUICK="1", DNNLABS_DATASET="synthetic",
               JUPYTER_CONFIG_DIR=str(scratch / "config"), JUPYTER_RUNTIME_DIR=str(scratch / "runtime"),
               JUPYTER_DATA_DIR=str(scratch / "data"), IPYTHONDIR=str(scratch / "ipython"),
               JUPYTERLAB_SETTINGS_DIR=str(scratch / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(scratch / "workspaces"))
    env.pop("MPLBACKEND", None)
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}", "--ServerApp.allow_root=True", "--LabApp.news_url=None",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    log = open(scratch / "server.log", "w")  # noqa: SIM115 - closed in finally
    server = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    watchdog = threading.Timer(WATCHDOG_SECONDS, lambda: _stop(server))
    watchdog.start()
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(f"{base}/api/status?token={token}", server, scratch / "server.log")
        yield base, token
    finally:
        watchdog.cancel()
        _stop(server)
        log.close()


def _wait_until_up(url: str, server: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"JupyterLab exited early:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2):
            return
        time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.fixture
def browser_page():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


@contextlib.contextmanager
def screenshot_on_failure(page, name: str) -> Iterator[None]:
    """Keep a picture of where the page stood when a step failed."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            _shoot(page, f"FAILED-{name}")
        raise


def _shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


def _menu(page, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{menu}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{re.escape(item)}$")).first.click()


def _wait_for_kernel(page, timeout_ms: int = 120_000) -> None:
    """Wait until the page is connected to an idle kernel.

    JupyterLab skips cells that are run before the notebook has a kernel, and its execution
    indicator already reads "idle" then, so the status bar's kernel status is what counts.
    """
    kernel = page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\| Idle$")).first
    kernel.wait_for(state="attached", timeout=timeout_ms)


@contextlib.contextmanager
def explained(page, log: Path) -> Iterator[None]:
    """Turn a timeout into a failure that shows what the page and the server last said."""
    try:
        yield
    except sync_api.TimeoutError as error:
        status = " · ".join(page.locator(".jp-StatusBar-TextItem").all_inner_texts())
        outputs = page.locator(".jp-Notebook .jp-OutputArea-output").all_inner_texts()
        dialogs = page.locator(".jp-Dialog").all_inner_texts()
        raise AssertionError(f"{error}\nstatus bar: {status}\ndialogs: {dialogs}\n"
                             f"last outputs: {[text[-300:] for text in outputs[-3:]]}\n"
                             f"server log:\n{log.read_text()[-3000:]}") from error


# Every element of an output that is wider than its box (a horizontal scrollbar, or text cut off).
_TOO_WIDE = """output => [output, ...output.querySelectorAll('*')]
    .filter(box => box.scrollWidth > box.clientWidth + 1)
    .map(box => `${box.tagName}.${box.className}: ${box.scrollWidth} px in ${box.clientWidth} px`)"""


def _assert_fits(output, what: str) -> None:
    too_wide = output.evaluate(_TOO_WIDE)
    assert not too_wide, f"{what} needs a horizontal scrollbar: {too_wide}"


def _answer(cell_id: str) -> str:
    """The reference answer as a student would type it: without the solution markers."""
    lines = reference_answers(LAB)[cell_id].splitlines()
    return "\n".join(line for line in lines if "### " not in line)


@pytest.fixture(scope="module")
def graded(released, tmp_path_factory):
    """Lab 01's blank and buggy submissions (tests/test_entry_points.py) graded by `autograder grade`."""
    root = tmp_path_factory.mktemp("browser-graded")
    write_submissions(released, root / "subs")
    grade(root / "subs", root / "course", released.out_dir)
    return root / "course"


def test_student_runs_the_lab_in_jupyterlab(released, tmp_path, browser_page):
    """The student's JupyterLab: the released lab 01 alone, quick mode, nbgrader's extensions
    disabled as in the student's venv (as_student_environment says how this emulates it)."""
    root = tmp_path / "student"
    shutil.copytree(released.student_dir / LAB.lab_id, root / LAB.lab_id)
    page = browser_page
    server = tmp_path / "server"
    with (jupyterlab(root, server, student=True) as (base, token), screenshot_on_failure(page, "student"),
          explained(page, server / "server.log")):
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(f"{base}/formgrader?token={token}", timeout=10)
        page.goto(f"{base}/lab/tree/{LAB.lab_id}/{LAB.notebook.name}?token={token}")
        page.locator(".jp-Notebook .jp-Cell").first.wait_for()
        _wait_for_kernel(page)
        menus = page.locator(".lm-MenuBar-itemLabel").all_inner_texts()
        assert "Run" in menus and not any("nbgrader" in menu.lower() for menu in menus), menus
        _menu(page, "Run", "Run All Cells")

        outputs = page.locator(".jp-Notebook .jp-OutputArea-output")
        failure = outputs.filter(has_text="NotImplementedError").first
        failure.wait_for(state="attached", timeout=180_000)
        setup = page.locator(".jp-Notebook .jp-CodeCell").filter(
            has=page.locator(".cm-content", has_text="labs.banner(")).first
        shown = setup.locator(".jp-OutputArea").inner_text()
        assert shown.count("Device:") == 1 and shown.count("╔") == 1, f"one framed banner: {shown!r}"
        assert setup.locator(".jp-OutputArea-executeResult").count() == 0, "no Out[] repr of the banner"
        stand_in = outputs.filter(has_text="SYNTHETIC STAND-IN").first
        assert stand_in.count() == 1, "the data banner"
        _assert_fits(stand_in, "the stand-in banner")
        setup.scroll_into_view_if_needed()
        _shoot(page, "student-banners")
        progress = page.locator(".jp-OutputArea-output .widget-hprogress, .jp-OutputArea-output progress")
        assert progress.count() >= 1, "a progress bar drawn by tqdm"
        assert page.locator(".jp-OutputArea-output img").count() >= 1, "a rendered plot"
        failure.scroll_into_view_if_needed()
        _shoot(page, "student-run-all")

        solution = page.locator(".jp-Notebook .jp-CodeCell").filter(
            has=page.locator(".cm-content", has_text="def layer_stats(")).first
        solution.locator(".cm-content").click()
        page.keyboard.press("Control+a")
        page.keyboard.insert_text(_answer("layer_stats"))
        page.keyboard.press("Shift+Enter")
        page.keyboard.press("Shift+Enter")
        passed = outputs.filter(has_text="✓ layer_stats passed the visible tests").first
        passed.wait_for(state="attached", timeout=60_000)
        passed.scroll_into_view_if_needed()
        _shoot(page, "student-test-passes")


def test_instructor_opens_formgrader_on_the_course(released, tmp_path, browser_page):
    course = tmp_path / "course"
    shutil.copytree(released.course_dir, course)
    page = browser_page
    server = tmp_path / "server"
    with (jupyterlab(course, server) as (base, token), screenshot_on_failure(page, "formgrader"),
          explained(page, server / "server.log")):
        page.goto(f"{base}/formgrader?token={token}")
        table = page.locator("body")
        for lab in LABS:
            table.get_by_text(lab.lab_id, exact=True).first.wait_for(state="attached", timeout=60_000)
        _shoot(page, "instructor-formgrader")


def test_feedback_page_names_each_exercise_and_lists_failing_ones_first(graded, tmp_path, browser_page):
    mistake = LAB.variants().MISTAKES[0]
    course = tmp_path / "course"
    shutil.copytree(graded, course)
    generate_feedback(course)
    feedback = course / "feedback" / "buggy" / LAB.lab_id / LAB.notebook.with_suffix(".html").name
    nb = notebooks.read(LAB.notebook)
    labels = {notebooks.grade_id(c): exercise_label(c) for c in notebooks.grade_cells(nb)}
    failing = [labels[cell] for cell in labels if cell in mistake.fails]

    page = browser_page
    with screenshot_on_failure(page, "feedback"):
        page.goto(feedback.as_uri(), wait_until="domcontentloaded")
        rows = page.locator("#toc ol.exercise-summary > li")
        texts = [" ".join(text.split()) for text in rows.all_inner_texts()]
        assert len(texts) == len(labels), texts
        assert not any("Test cell" in text for text in texts), texts
        assert [text.split(" ✗")[0] for text in texts[:len(failing)]] == failing, "failing ones first"
        assert all("✓" in text for text in texts[len(failing):]), texts
        assert any(text.startswith("Exercise 2 · ") for text in texts) and any(
            text.startswith("Q1 ") for text in texts), texts
        _shoot(page, "feedback-summary")

        stand_in = page.locator(".output_area").filter(has_text="SYNTHETIC STAND-IN").first
        _assert_fits(stand_in, "the stand-in banner on the feedback page")
        first_failing = next(cell for cell in labels if cell in mistake.fails)
        rows.first.locator("a").click()
        page.wait_for_function(f"location.hash === '#{first_failing}'")
        anchor = page.locator(f'a[name="{first_failing}"]').bounding_box()
        assert anchor is not None and -2 <= anchor["y"] < 100, f"the link scrolls to its cell: {anchor}"
        _shoot(page, "feedback-failing-cell")


def _wait_for_modal(page, what: str) -> str:
    """Wait for formgrader's answer to a button (its Success or Error dialog); return its text."""
    modal = page.locator("#success-modal, #error-modal").first
    modal.wait_for(state="visible", timeout=180_000)
    text = modal.inner_text()
    assert modal.get_attribute("id") == "success-modal", f"{what}: {text[-3000:]}"
    modal.locator("button", has_text=re.compile("Close|OK", re.I)).first.click()
    modal.wait_for(state="detached", timeout=10_000)
    return text


def _submission_row(page, student: str):
    row = page.locator("tbody tr").filter(has=page.get_by_text(student, exact=True)).first
    row.wait_for(state="attached", timeout=60_000)
    return row


def _failing_message() -> str:
    """The last line of the message the first known mistake's failing hidden test gives."""
    mistake = LAB.variants().MISTAKES[0]
    outcome = selfcheck.run_cells(notebooks.read(LAB.notebook), {mistake.cell: mistake.source})
    message = outcome.cells[sorted(mistake.fails)[0]].message.splitlines()[-1]
    return message.split(": ", 1)[-1][:60]


def _wait_for_manual_score(course: Path, cell: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with gradebook(course) as book:
            if book.find_grade(cell, LAB.lab_id, LAB.lab_id, "buggy").manual_score is not None:
                return
        time.sleep(0.5)
    raise AssertionError(f"formgrader did not save the manual score of {cell}")


def test_instructor_grades_the_graded_course_in_formgrader(graded, tmp_path, browser_page):
    """On the folder `autograder grade` wrote: the gradebook lists the lab with its submissions
    and scores; formgrader's Autograde button gives the grades `autograder grade` gave; the
    manual grading view shows the failing hidden test's message; a manual score and comment
    typed there reach grades.csv through `autograder export`; formgrader's Generate Feedback
    writes the course's feedback page, with the comment."""
    course = tmp_path / "course"
    shutil.copytree(graded, course)
    expected = auto_scores(graded)
    with gradebook(course) as book:  # formgrader's Autograde must bring these back
        for grade_ in book.find_submission_notebook(LAB.lab_id, LAB.lab_id, "buggy").grades:
            grade_.auto_score = None
        notebook_id = book.find_submission_notebook(LAB.lab_id, LAB.lab_id, "buggy").id
        book.db.commit()
    mistake = LAB.variants().MISTAKES[0]
    failing = sorted(mistake.fails)[0]
    page = browser_page
    server = tmp_path / "server"
    with (jupyterlab(course, server) as (base, token), screenshot_on_failure(page, "formgrader-graded"),
          explained(page, server / "server.log")):
        page.set_extra_http_headers({"Authorization": f"token {token}"})  # formgrader's API calls too
        page.goto(f"{base}/formgrader/manage_submissions/{LAB.lab_id}?token={token}")
        _submission_row(page, "buggy").locator(".autograde a").click()
        _wait_for_modal(page, "formgrader's Autograde")
        assert auto_scores(course) == expected

        page.goto(f"{base}/formgrader/gradebook?token={token}")
        row = _submission_row(page, LAB.lab_id)
        cells = [" ".join(text.split()) for text in row.locator("td").all_inner_texts()]
        total = sum(score for score in expected.values() if score)
        assert "2" in cells and any(cell.startswith(f"{total / 2:g} / ") for cell in cells), cells
        _shoot(page, "instructor-gradebook")

        page.goto(f"{base}/formgrader/submissions/{notebook_id}?token={token}")
        score = page.locator(f"input.score#{failing}")
        score.wait_for(timeout=60_000)
        message = _failing_message()
        assert message in page.locator("body").inner_text(), f"the hidden test's message {message!r}"
        score.fill("1.5")
        score.press("Tab")
        comment = page.locator(f"textarea#{mistake.cell}-comment")
        comment.fill("Close: check the fan_in you divide by.")
        comment.press("Tab")
        _wait_for_manual_score(course, failing)
        score.scroll_into_view_if_needed()
        _shoot(page, "instructor-manual-grading")

        assert autograder_main(["export", "--out", str(course)]) == 0
        with open(course / "grades.csv", newline="") as handle:
            buggy = next(row for row in csv.DictReader(handle) if row["student_id"] == "buggy")
        full = sum(score for (student, _), score in expected.items() if student == "buggy")
        assert float(buggy["score"]) == full + 1.5 and buggy["manual"] == failing, buggy

        page.goto(f"{base}/formgrader/manage_submissions/{LAB.lab_id}?token={token}")
        _submission_row(page, "buggy").locator(".generate-feedback a").click()
        _wait_for_modal(page, "formgrader's Generate Feedback")
    feedback = course / "feedback" / "buggy" / LAB.lab_id / LAB.notebook.with_suffix(".html").name
    with screenshot_on_failure(page, "formgrader-feedback"):
        page.goto(feedback.as_uri(), wait_until="domcontentloaded")
        summary = page.locator("#toc ol.exercise-summary > li").all_inner_texts()
        rows = [" ".join(text.split()) for text in summary]
        assert rows and rows[0].endswith("1.5 / 2"), f"the course's summary, with the manual score: {rows}"
        assert "Close: check the fan_in you divide by." in page.locator("body").inner_text()
        _shoot(page, "instructor-feedback-page")
