"""The spare OPA worker: started while the estate loads, taken by the next engine, ended when
no engine takes it, and never handed over dead."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from checker.rego import worker
from checker.rego.worker import WorkerEngine, discard_spare, start_spare

MODULE = "package t\n\nimport rego.v1\n\ndoubled := input.n * 2\n"
CHILDREN = (
    "def children():\n"
    "    # the kernel's list of this process's children, thread by thread (a thread may end\n"
    "    # between the listing and the reading)\n"
    "    found = 0\n"
    "    for task in os.listdir('/proc/self/task'):\n"
    "        try:\n"
    "            found += len(open(f'/proc/self/task/{task}/children').read().split())\n"
    "        except FileNotFoundError:\n"
    "            pass\n"
    "    return found\n")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def no_spare_left() -> Iterator[None]:
    discard_spare()
    yield
    discard_spare()


def test_an_engine_takes_the_spare() -> None:
    start_spare()
    spare = worker._spare
    assert spare is not None
    engine = WorkerEngine()
    try:
        assert engine.load({"t.rego": MODULE}, {}) == []
        assert engine._process is spare[0] and worker._spare is None
        assert engine.query("x := data.t.doubled", {"n": 21}) == [{"x": 42}]
    finally:
        engine.close()
    assert spare[0].poll() is not None


def test_a_spare_nobody_takes_is_ended() -> None:
    start_spare()
    spare = worker._spare
    assert spare is not None
    start_spare()  # one spare at a time
    assert worker._spare is spare
    discard_spare()
    assert worker._spare is None and spare[0].poll() is not None


def test_a_dead_spare_is_not_taken() -> None:
    start_spare()
    spare = worker._spare
    assert spare is not None
    os.kill(spare[0].pid, signal.SIGKILL)
    spare[0].wait(timeout=10)
    engine = WorkerEngine()
    try:
        assert engine.load({"t.rego": MODULE}, {}) == []
        assert engine._process is not spare[0]
        assert engine.query("x := data.t.doubled", {"n": 2}) == [{"x": 4}]
    finally:
        engine.close()


@pytest.mark.parametrize("bundled", [True, False])
def test_a_check_leaves_no_worker_behind(tmp_path: Path, bundled: bool) -> None:
    """Whether its OPA worker took the spare (bundled packs) or no Rego rule was there to
    take it (none), no child process is left when a check returns (not even a zombie: the
    kernel's list of the process's children is empty)."""
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                                      "  name: c\n  namespace: erp\ndata: {a: b}\n")
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from checker.config import Config\n"
        "from checker.pipeline import run_check\n"
        "root = Path(sys.argv[1])\n"
        f"run = run_check([str(root)], root=root, config=Config(bundled_packs={bundled}))\n"
        f"{CHILDREN}"
        "print(len(run.report.findings), children())\n")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split()[1] == "0"


def test_a_spare_that_cannot_start_is_left_to_the_engine(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    def no_process() -> None:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(worker, "_spawn", no_process)
    start_spare()  # says nothing: the engine that needs a worker reports
    assert worker._spare is None
    monkeypatch.undo()
    engine = WorkerEngine()
    try:
        assert engine.load({"t.rego": MODULE}, {}) == []
        assert engine.query("x := data.t.doubled", {"n": 1}) == [{"x": 2}]
    finally:
        engine.close()


def test_the_cli_ends_the_worker_it_started_early(tmp_path: Path) -> None:
    """`check` starts the OPA worker before it knows whether it needs one: a run answered
    from the result cache, a run refused for its arguments and a run against an OPA server
    leave no child process behind."""
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                                      "  name: c\n  namespace: erp\ndata: {a: b}\n")
    script = (
        "import os, sys\n"
        "from checker.cli import main\n"
        "root = sys.argv[1]\n"
        f"{CHILDREN}"
        "codes = []\n"
        "for argv in ([root], [root], [root, '--base', 'main', '--changed'],\n"
        "             [root, '--opa-url', 'http://127.0.0.1:9']):\n"
        "    codes.append(main(['check', '--no-progress', '--format', 'json=' + os.devnull,\n"
        "                       *argv]))\n"
        "    codes.append(children())\n"
        "print(*codes)\n")
    env = {**os.environ, "GITOPS_CHECKER_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    codes = [int(c) for c in done.stdout.split()]
    assert codes[1::2] == [0, 0, 0, 0], done.stdout
    assert codes[0::2][:3] == [0, 0, 2], done.stdout  # checked, from the cache, refused



def test_the_channel_carries_large_messages_and_reports_the_end() -> None:
    """Messages larger than a socket's buffer arrive whole and in order, `poll` waits for
    one, and the other end's closing is EOFError, not a hang."""
    import pickle
    import socket
    import threading

    from checker.rego.worker import Channel

    left, right = socket.socketpair()
    sender, receiver = Channel(left), Channel(right)
    big = {"text": "x" * 5_000_000, "items": list(range(100_000))}
    assert not receiver.poll(0.01)

    def send() -> None:
        sender.send(big)
        sender.send_bytes(pickle.dumps(("after", 1)))
        sender.close()

    thread = threading.Thread(target=send)
    thread.start()
    assert receiver.poll(10)
    assert receiver.recv() == big
    assert receiver.recv() == ("after", 1)
    thread.join()
    assert receiver.poll(1)  # the end is readable
    with pytest.raises(EOFError):
        receiver.recv()
    receiver.close()


def test_the_worker_does_not_import_from_the_working_directory(tmp_path: Path) -> None:
    """The checked repository is usually the working directory: a `json.py` there must not
    run in the OPA worker. This process runs without `site` (whose .pth files import json
    before anything else could) and without the working directory on its own path."""
    import sysconfig

    (tmp_path / "json.py").write_text(
        "open('imported-from-cwd', 'w').write('yes')\nraise SystemExit(3)\n")
    script = ("import sys\n"
              f"sys.path[:] = [{str(REPO)!r}, {sysconfig.get_paths()['purelib']!r}] + "
              "[p for p in sys.path if p]\n"
              "from checker.rego.worker import WorkerEngine\n"
              "engine = WorkerEngine()\n"
              "print(engine.load({'t.rego': 'package t\\n\\nx := 1\\n'}, {}),\n"
              "      engine.query('v := data.t.x', None))\n"
              "engine.close()\n")
    done = subprocess.run([sys.executable, "-S", "-c", script], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[] [{'v': 1}]"
    assert not (tmp_path / "imported-from-cwd").exists()


def test_a_worker_that_died_idle_is_a_crash_then_replaced() -> None:
    """Killed between requests, the worker's socket refuses the next request: that is the
    same crash error as an answer that never came, and the next request gets a new worker."""
    from checker.rego.engine import RegoError

    engine = WorkerEngine()
    try:
        assert engine.load({"t.rego": MODULE}, {}) == []
        for ask in ("query", "query_each"):
            process = engine._process
            assert process is not None
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
            if ask == "query":
                with pytest.raises(RegoError) as caught:
                    engine.query("x := data.t.doubled", {"n": 1})
                assert caught.value.kind == "crash"
                assert engine.query("x := data.t.doubled", {"n": 2}) == [{"x": 4}]
            else:
                answers = list(engine.query_each("x := data.t.doubled", [{"n": 1}, {"n": 3}]))
                assert isinstance(answers[0], RegoError) and answers[0].kind == "crash"
                assert answers[1] == [{"x": 6}]
    finally:
        engine.close()


def test_the_channel_polls_beyond_1024_descriptors() -> None:
    import resource
    import socket

    from checker.rego.worker import Channel

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"this process may open {hard} files at most")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        left, right = socket.socketpair()
        assert right.fileno() > 1024
        receiver = Channel(right)
        assert not receiver.poll(0.01)
        Channel(left).send("hello")
        assert receiver.poll(5) and receiver.recv() == "hello"
        left.close()
        receiver.close()
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
