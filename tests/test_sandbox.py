"""The grading jail on its own: what a kernel inside it can see, write, reach and start.

Each test runs a short Python program in the jail exactly as a grading kernel runs (same
command line, environment and shared folder), without Jupyter, so each takes a fraction of
a second. The end-to-end attacks on a real grading are in test_adversarial.py.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autograder import protocol, sandbox
from autograder.course import LABS_DIR, REPO
from autograder.grade import Limits, grade
from autograder.sandbox import Jail, SandboxUnavailable

needs_sandbox = pytest.mark.skipif(sandbox.unavailable_reason() is not None,
                                   reason=f"no sandbox here: {sandbox.unavailable_reason()}")


def jailed(code: str, tmp_path: Path, jail: Jail | None = None, **env: str) -> dict:
    """Run `code` in the jail; it must print one JSON value as its last line, returned here."""
    shared = tmp_path / "shared"
    shared.mkdir(exist_ok=True)
    shared.chmod(0o777)
    jail = jail or Jail.for_slot(0, memory_mb=1024, file_mb=8, scratch_mb=32, processes=64)
    environment = {**protocol.kernel_environment(1, Path(sys.executable).parent), **env}
    command = jail.command([sys.executable, "-c", textwrap.dedent(code)], shared=shared, env=environment)
    run = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


@needs_sandbox
def test_the_kernel_runs_as_an_unprivileged_user(tmp_path):
    ids = jailed("import os, json; print(json.dumps([os.getuid(), os.geteuid(), os.getgroups()]))", tmp_path)
    assert 0 not in ids[:2] and 0 not in ids[2]


@needs_sandbox
def test_the_grader_files_are_not_there(tmp_path):
    secret = tmp_path / "course" / "gradebook.db"
    secret.parent.mkdir()
    secret.write_text("grades")
    paths = [REPO / "solutions", REPO / "autograder" / "checks", LABS_DIR / "01_initialization",
             secret, tmp_path / "course", REPO / ".git", Path.home() / ".ssh"]
    seen = jailed(f"""
        import json, os
        paths = {[str(p) for p in paths]!r}
        print(json.dumps({{p: os.path.exists(p) and bool(os.listdir(p) if os.path.isdir(p) else 1)
                          for p in paths}}))
        """, tmp_path)
    assert not any(seen.values()), seen


@needs_sandbox
def test_the_helpers_are_importable_and_nothing_of_the_grader(tmp_path):
    found = jailed("""
        import importlib, json
        found = {}
        for name in ("labs.training", "torch.nn", "autograder.checks.core", "solutions.lab01_initialization"):
            try:
                importlib.import_module(name)
                found[name] = True
            except ImportError:
                found[name] = False
        print(json.dumps(found))
        """, tmp_path)
    assert found == {"labs.training": True, "torch.nn": True, "autograder.checks.core": False,
                     "solutions.lab01_initialization": False}


@needs_sandbox
def test_the_system_the_venv_and_the_helpers_are_read_only(tmp_path):
    targets = [Path(sys.prefix) / "zz.pth", LABS_DIR / "zz.py", Path("/usr/zz"), Path("/etc/zz"),
               Path(sys.base_prefix) / "zz"]
    wrote = jailed(f"""
        import json
        wrote = {{}}
        for path in {[str(t) for t in targets]!r}:
            try:
                open(path, "w").close()
                wrote[path] = True
            except OSError:
                wrote[path] = False
        print(json.dumps(wrote))
        """, tmp_path)
    assert not any(wrote.values()), wrote
    assert not any(target.exists() for target in targets)


@needs_sandbox
def test_home_and_tmp_are_private_capped_and_gone_afterwards(tmp_path):
    written = jailed("""
        import json, os, tempfile
        totals = {}
        for folder in (os.path.expanduser("~"), tempfile.gettempdir()):
            total = 0
            for index in range(100):
                try:
                    with open(os.path.join(folder, f"fill{index}.bin"), "wb") as handle:
                        handle.write(b"x" * 4 * 2**20)
                    total += 4
                except OSError:
                    break
            totals[folder] = total
        print(json.dumps(totals))
        """, tmp_path)
    assert written == {protocol.KERNEL_HOME: pytest.approx(32, abs=4), "/tmp": pytest.approx(32, abs=4)}
    assert not list(Path("/tmp").glob("fill*.bin"))


@needs_sandbox
def test_a_file_larger_than_the_limit_cannot_be_written(tmp_path):
    jail = Jail.for_slot(0, memory_mb=1024, file_mb=1, scratch_mb=32, processes=64)
    outcome = jailed("""
        import json, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        try:
            with open("/tmp/big.bin", "wb") as handle:
                handle.write(b"x" * 2 * 2**20)
            print(json.dumps("written"))
        except OSError as error:
            print(json.dumps(error.strerror))
        """, tmp_path, jail)
    assert outcome == "File too large"


@needs_sandbox
def test_memory_beyond_the_cap_raises_memory_error(tmp_path):
    outcome = jailed("""
        import json
        try:
            hog = bytearray(2 * 2**30)
            print(json.dumps("allocated"))
        except MemoryError:
            print(json.dumps("MemoryError"))
        """, tmp_path)
    assert outcome == "MemoryError"


@needs_sandbox
@pytest.mark.skipif(os.geteuid() != 0, reason="the process limit needs a uid of the slot's own (root)")
def test_processes_beyond_the_limit_cannot_start(tmp_path):
    outcome = jailed("""
        import json, subprocess
        started = []
        try:
            for _ in range(200):
                started.append(subprocess.Popen(["sleep", "30"]))
        except OSError:
            pass
        print(json.dumps(len(started)))
        """, tmp_path)
    assert outcome < 64


@needs_sandbox
def test_the_network_is_unreachable(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        outcome = jailed(f"""
            import json, socket
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=2)
                print(json.dumps("connected"))
            except OSError as error:
                print(json.dumps(type(error).__name__))
            """, tmp_path)
    assert outcome != "connected"


@needs_sandbox
def test_nothing_the_kernel_starts_outlives_it(tmp_path):
    marker = f"{os.getpid() % 9000 + 1000}.5"
    jailed(f"""
        import json, subprocess, sys
        for _ in range(3):
            subprocess.Popen(["sleep", "{marker}"], start_new_session=True)
        daemon = "import os, time\\nif os.fork(): os._exit(0)\\ntime.sleep(60)"
        subprocess.Popen([sys.executable, "-c", daemon, "{marker}"], start_new_session=True)
        print(json.dumps("started"))
        """, tmp_path)
    survivors = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _argv_has(p, marker)]
    assert survivors == []


def _argv_has(process: Path, word: str) -> bool:
    try:
        return word in (process / "cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return False


@needs_sandbox
def test_the_environment_is_only_what_the_grader_gives(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_SECRET", "do not leak")
    seen = jailed("import json, os; print(json.dumps(sorted(os.environ)))", tmp_path)
    given = protocol.kernel_environment(1, Path(sys.executable).parent)
    assert set(seen) - {"PWD"} == set(given)


@needs_sandbox
def test_the_preamble_loads_the_probes_alone_and_refuses_the_trusted_side(tmp_path):
    payload_fd = protocol.memory_file("payload", protocol.payload(None))
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    probe = textwrap.dedent("""
        import importlib, json, os, sys
        refused = {}
        for name in ("solutions.lab01_initialization", "autograder.checks.lab01_initialization",
                     "autograder.judge", "autograder.variants"):
            try:
                importlib.import_module(name)
                refused[name] = "importable"
            except ImportError as error:
                refused[name] = str(error)
        print(json.dumps({"probes": "autograder.probes.lab01_initialization" in sys.modules,
                          "trusted": [m for m in sys.modules if m.startswith(("solutions",
                                      "autograder.checks", "autograder.judge"))],
                          "refused": refused, "fds": sorted(os.listdir("/proc/self/fd")),
                          "payload_left": [name for name in dir() if "payload" in name]}))
        """)
    env = {**protocol.kernel_environment(1, Path(sys.executable).parent),
           protocol.PAYLOAD_FD_ENV: str(payload_fd)}
    command = Jail.for_slot(0).command([sys.executable, "-c", protocol.BOOTSTRAP + "\n" + probe],
                                       shared=shared, env=env)
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=120, pass_fds=(payload_fd,))
    finally:
        os.close(payload_fd)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["probes"] and seen["trusted"] == []
    assert all("not available while grading" in why for why in seen["refused"].values()), seen["refused"]
    assert str(payload_fd) not in seen["fds"] and seen["payload_left"] == []


def test_jail_settings_survive_the_trip_to_the_worker():
    jail = Jail.for_slot(1, memory_mb=2048, file_mb=16, scratch_mb=64, processes=32, cpu_seconds=60)
    assert Jail.from_json(jail.to_json()) == jail
    assert jail.uid == (sandbox.FIRST_UID + 1 if os.geteuid() == 0 else None)


def test_grading_refuses_without_a_sandbox_and_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setattr(sandbox, "unavailable_reason", lambda: "bubblewrap (bwrap) is not installed")
    with pytest.raises(SandboxUnavailable, match=r"apt-get install bubblewrap.*--no-sandbox"):
        grade(tmp_path / "subs", tmp_path / "out", tmp_path / "release", limits=Limits())
    assert not (tmp_path / "out").exists()
