"""Every case of the hostile-input corpus through the real command line.

Each case runs alone (`test_case`): no traceback and no internal error, the exit code it
must give (2 whenever something went unchecked), each expected error with its file and line
in the JSON report's `errors` and nothing else there, the findings that prove the rest of
the file and of the estate were checked (always the good file's SCH002 at line 19), within
its time and memory bounds, a payload that would create a marker file never run, and a
loopback listener never contacted where the input points at the network.

Then every family runs again as one estate (`test_family_in_one_estate`): all its bad files
side by side, each case's errors and findings still there, so that one bad file is seen to
hide nothing of the others.

Bounds: cases run in this process unless `isolate`d. Isolated cases (bombs, deep nesting,
huge strings and files, unreadable files) run in a child process under `RLIMIT_AS`
(`address_space_gib`, default 2 GiB) and are killed at three times their time bound; their
peak RSS (`os.wait4`) must stay under `mib` and their wall time under `seconds`. For cases
run in process, the test process's peak RSS (a high-water mark) must stay under `mib` and
the run under `seconds`.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from checker.cli import main
from tests.hostile.corpus import (
    GOOD,
    GOOD_LINE,
    GOOD_PATH,
    GOOD_RULE,
    MARKER,
    OUTSIDE,
    PORT,
    ROOT,
    SIBLING,
    Case,
    Err,
    Fifo,
    Lazy,
    Link,
    Locked,
    families,
    with_prefix,
)

CASES = [c for cs in families().values() for c in cs]

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

XFAIL: dict[str, str] = {}
"""Cases that show a bug outside the files this work may change: case id -> reason."""


# ------------------------------------------------------------------------------ helpers


class Listener:
    """A loopback TCP port that counts the connections it gets."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self.port = self._socket.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._socket.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._socket.close()


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


@dataclass
class Outcome:
    code: int
    report: dict[str, Any] | None
    stdout: str
    stderr: str
    seconds: float
    peak_mib: float
    marker: Path

    def describe(self) -> str:
        errors = "".join(f"\n  {e['path']}:{e['line']} {e['kind']}: {e['message'][:200]}"
                         for e in (self.report or {}).get("errors", ()))
        return (f"exit {self.code} in {self.seconds:.1f} s, peak {self.peak_mib:.0f} MiB; "
                f"errors:{errors or ' none'}\nstderr: {self.stderr[-1500:]}")


def _substitute(data: bytes, base: Path, port: int) -> bytes:
    return (data.replace(MARKER.encode(), str(base / "marker").encode())
            .replace(OUTSIDE.encode(), str(base / "outside").encode())
            .replace(PORT.encode(), str(port).encode()))


def materialize(item: Case, base: Path, port: int) -> Path:
    """Write the case's estate under `base/estate` (and what lies outside it); the root."""
    root, outside = base / "estate", base / "outside"
    root.mkdir(parents=True)
    outside.mkdir()
    (outside / "cm.yaml").write_text(SIBLING.format(name="outside"))
    (outside / "kustomization.yaml").write_text("resources: [cm.yaml]\n")
    (outside / "secret.env").write_text("PASSWORD=outside-secret-value\n")
    (root / GOOD_PATH).write_text(GOOD)
    locked = []
    for rel, spec in item.files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(spec, Link):
            target = _substitute(spec.target.encode(), base, port).decode()
            path.symlink_to(target)
        elif isinstance(spec, Fifo):
            os.mkfifo(path)
        elif isinstance(spec, Lazy):
            path.write_bytes(spec.make())
        elif isinstance(spec, Locked):
            if spec.directory:
                path.mkdir()
                (path / "x.yaml").write_bytes(spec.content)
            else:
                path.write_bytes(spec.content)
            locked.append(path)
        else:
            path.write_bytes(_substitute(spec, base, port))
    for path in locked:
        os.chmod(path, 0)
    return root


def command(item: Case, root: Path) -> list[str]:
    paths = [p if p == "-" else str(root / p) for p in item.paths] or [str(root)]
    args = [a.replace(ROOT, str(root)) for a in item.args]
    packs = [] if item.rules else ["--no-bundled-packs"]
    return ["check", *paths, "--format", "json", "--no-progress", *packs, *args]


def in_process(item: Case, root: Path) -> tuple[int, str, str, float, float]:
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    if item.stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(item.stdin))
    started = time.monotonic()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(command(item, root))
    finally:
        sys.stdin = saved
    seconds = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return code, out.getvalue(), err.getvalue(), seconds, peak


_FORKSERVER = multiprocessing.get_context("forkserver")
_FORKSERVER.set_forkserver_preload(["tests.hostile._isolated"])


def isolated(item: Case, root: Path) -> tuple[int, str, str, float, float]:
    """The CLI in a child process under an address-space limit: (exit code, stdout, stderr,
    seconds, peak RSS in MiB). Killed at three times the case's time bound."""
    from tests.hostile import _isolated

    limit = item.address_space_gib * 1024 ** 3
    user = "nobody" if item.as_nobody and IS_ROOT else "self"
    with tempfile.TemporaryDirectory(prefix="hostile-run-") as scratch:
        os.chmod(scratch, 0o777)  # the child may run as uid 65534
        paths = [Path(scratch, name) for name in ("out", "err", "peak")]
        for path in paths:
            path.touch(mode=0o666)
            os.chmod(path, 0o666)
        started = time.monotonic()
        proc = _FORKSERVER.Process(
            target=_isolated.run,
            args=(command(item, root), str(root.parent), limit, user, item.stdin,
                  *map(str, paths)))
        proc.start()
        proc.join(3 * item.seconds)
        if proc.is_alive():
            proc.kill()
            proc.join()
        seconds = time.monotonic() - started
        out, err, peak = (path.read_bytes().decode("utf-8", "replace") for path in paths)
    code = proc.exitcode if proc.exitcode is not None else -9
    try:
        peak_mib = int(peak) / 1024
    except ValueError:
        peak_mib = float("inf")  # it died before it could say: no bound was shown
    return code, out, err, seconds, peak_mib


def run(item: Case, base: Path, listener: Listener) -> Outcome:
    root = materialize(item, base, listener.port)
    if item.as_nobody and IS_ROOT:
        for path in (base, root):
            os.chmod(path, 0o755)
    runner = isolated if item.isolate else in_process
    code, stdout, stderr, seconds, peak = runner(item, root)
    report = None
    with contextlib.suppress(ValueError):
        report = json.loads(stdout) if stdout.strip() else None
    return Outcome(code, report, stdout, stderr, seconds, peak, base / "marker")


def _matches(expected: Err, actual: dict[str, Any]) -> bool:
    message = str(actual.get("message", "")).lower()
    return (actual.get("path") == expected.path and actual.get("line") == expected.line
            and (expected.kind is None or actual.get("kind") == expected.kind)
            and all(word.lower() in message for word in expected.says))


def verify(item: Case, outcome: Outcome, *, prefix: str | None = None) -> None:
    """The case's expectations against a run: of the case alone, or (`prefix`) of a group
    where its files live under `prefix/`."""
    described = f"{item.id}: {outcome.describe()}"
    assert "Traceback" not in outcome.stderr, described
    assert "internal error" not in outcome.stderr, described
    if prefix is None:
        assert outcome.code == item.expected_exit, described
    for words in item.stderr_says:
        assert words.lower() in outcome.stderr.lower(), described
    if item.marker:
        assert not outcome.marker.exists(), f"{item.id}: a YAML payload ran"
    if not item.report:
        return
    report = outcome.report
    assert report is not None, described
    actual = report["errors"]
    if prefix is not None:
        actual = [e for e in actual if (e.get("path") or "").startswith(prefix + "/")]
    unmatched = list(actual)
    for expected in item.errors:
        found = next((e for e in unmatched if _matches(expected, e)), None)
        assert found is not None, f"{item.id}: missing error {expected}\n{described}"
        unmatched.remove(found)
    assert not unmatched, f"{item.id}: unexpected errors {unmatched}\n{described}"
    findings = report["findings"]
    for seen in item.findings:
        assert any(f["rule_id"] == seen.rule and f["location"]["path"] == seen.path
                   and (seen.line is None or f["location"]["line"] == seen.line)
                   and all(w.lower() in f["message"].lower() for w in seen.says)
                   for f in findings), (
            f"{item.id}: missing finding {seen}; have "
            f"{[(f['rule_id'], f['location']['path'], f['location']['line']) for f in findings]}")
    if item.good:
        assert any(f["rule_id"] == GOOD_RULE and f["location"]["path"] == GOOD_PATH
                   and f["location"]["line"] == GOOD_LINE for f in findings), (
            f"{item.id}: the good file's finding is missing\n{described}")


def bounded(item: Case, outcome: Outcome) -> None:
    assert outcome.seconds <= item.seconds, \
        f"{item.id}: took {outcome.seconds:.1f} s, bound {item.seconds} s"
    assert outcome.peak_mib <= item.mib, \
        f"{item.id}: peak RSS {outcome.peak_mib:.0f} MiB, bound {item.mib} MiB"


# -------------------------------------------------------------------------------- tests


def _params(cases: list[Case]) -> Iterator[Any]:
    """Every case alone. A case that may share an estate is also checked in its family's
    grouped runs (below), which are fast: its run alone is marked slow, like the heavy ones."""
    for item in cases:
        marks: list[Any] = [pytest.mark.slow] if item.slow or item.groupable else []
        if item.id in XFAIL:
            marks.append(pytest.mark.xfail(strict=True, reason=XFAIL[item.id]))
        yield pytest.param(item, id=item.id, marks=marks)


@contextlib.contextmanager
def workspace(item: Case, tmp_path: Path) -> Iterator[Path]:
    """Where the case's estate goes: `tmp_path`, or a directory others may read when the
    run drops to uid 65534 (pytest's directories are private to root)."""
    if not (item.as_nobody and IS_ROOT):
        yield tmp_path
        return
    base = Path(tempfile.mkdtemp(prefix="hostile-"))
    try:
        yield base
    finally:
        for path in base.rglob("*"):
            if not path.is_symlink():
                os.chmod(path, 0o755)
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("item", list(_params(CASES)))
def test_case(item: Case, tmp_path: Path, listener: Listener) -> None:
    if item.as_nobody and IS_ROOT and not _can_drop_privileges():
        pytest.skip("running as root, which reads mode-000 files, and uid 65534 is not "
                    "available to drop to: the file would not be unreadable")
    before = listener.connections
    with workspace(item, tmp_path) as base:
        outcome = run(item, base, listener)
    verify(item, outcome)
    bounded(item, outcome)
    if item.listener:
        assert listener.connections == before, f"{item.id}: something was fetched"


def _can_drop_privileges() -> bool:
    try:
        done = subprocess.run([sys.executable, "-c", ("import os; os.setgid(65534); "
                               "os.setuid(65534)")], capture_output=True, timeout=30,
                              check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _groups() -> dict[str, list[Case]]:
    """Per family, the cases that may share an estate, split into those that must report
    errors and those that must not (a clean group must exit 1: none of its cases added an
    error; an erring group exits 2, and each case's errors are there, exactly)."""
    groups: dict[str, list[Case]] = {}
    for family, cases in families().items():
        for kind in ("errors", "clean"):
            members = [c for c in cases if c.groupable and bool(c.errors) == (kind == "errors")]
            if len(members) > 1:
                groups[f"{family}/{kind}"] = members
    for kind in ("errors", "clean"):
        groups[f"all-families-all-rules/{kind}"] = [
            c for c in CASES if c.groupable and bool(c.errors) == (kind == "errors")
            and c.family not in HEAVY_FAMILIES]
    return groups


HEAVY_FAMILIES = frozenset({"huge-string"})
"""Families whose grouped run is slow too (10 MiB files): left out of the all-families run."""


GROUPS = _groups()


def _grouped(name: str) -> tuple[Case, list[tuple[Case, str]]]:
    members = []
    files: dict[str, Any] = {}
    for item in GROUPS[name]:
        prefix = item.id
        moved = with_prefix(item, prefix)
        members.append((moved, prefix))
        files.update(moved.files)
    everything = name.startswith("all-families")
    combined = Case(
        f"group/{name}", name, files, rules=everything,
        isolate=everything or any(c.isolate for c in GROUPS[name]),
        seconds=120.0 if everything else max(30.0, sum(c.seconds for c in GROUPS[name]) / 4),
        mib=3000 if everything else max(c.mib for c in GROUPS[name]),
        address_space_gib=16 if everything else max(c.address_space_gib for c in GROUPS[name]),
        marker=any(c.marker for c in GROUPS[name]))
    return combined, members


@pytest.mark.parametrize("name", [
    pytest.param(n, id=n, marks=[pytest.mark.slow] if n.split("/")[0] in HEAVY_FAMILIES else [])
    for n in GROUPS])
def test_family_in_one_estate(name: str, tmp_path: Path, listener: Listener) -> None:
    """All the family's cases side by side: each one's errors and findings are still there,
    exactly, so one bad file hides nothing of the others. `all-families-all-rules` puts every
    family together and runs every bundled rule pack too (odd but valid objects reach the
    Python and Rego rules)."""
    combined, members = _grouped(name)
    outcome = run(combined, tmp_path, listener)
    expected = 2 if any(m.errors for m, _ in members) else 1
    assert outcome.code == expected, outcome.describe()
    for member, prefix in members:
        verify(replace(member, good=True), outcome, prefix=prefix)
    bounded(combined, outcome)
