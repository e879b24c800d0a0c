"""The secrets canary (issue): a unique value planted wherever an estate keeps secrets — Secret
`data` and `stringData`, annotations, the `last-applied-configuration` copy, env literals, a
Secret that does not parse, one the schema rejects — in the repository and on the live side
(`kubectl get` dumps, a loopback cluster), appears in nothing any command writes.

Every command (`check`, `check --changed`, `check --base`, `sod`, `drift` against dumps and
against a cluster, `report`, `test`, `rules list|explain`) runs with every output format it has
(one on standard output, the others to files; `report` writes its bundle and history), with
and without `--debug` (and `GITOPS_CHECKER_DEBUG=1`, which lets the OPA worker's stderr
through); standard output and error (at the file-descriptor level: the worker's included) and
every file written (reports, `--write-baseline`) are searched for the canary in every form
(`canary_world.forms`). Internal errors whose message quotes secret values are forced and
their messages and tracebacks searched too. Each run is also checked to have done its work
(the findings that quote the values exist, masked), so that a silent run cannot pass.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from checker.cli import main
from checker.secrets import MASK
from tests.drift.cluster import FakeCluster
from tests.secrets.canary_world import (
    NUMBER,
    V,
    leaks,
    live_objects,
    write_broken_dump,
    write_live,
    write_repo,
)

FORMATS = ("text", "json", "sarif", "junit", "github", "markdown")
SUFFIX = {"text": "txt", "json": "json", "sarif": "sarif", "junit": "xml", "github": "log",
          "markdown": "md"}


@dataclass(frozen=True)
class World:
    root: Path
    repo: Path
    live: Path
    broken_dump: Path

    @property
    def policy(self) -> Path:
        return self.repo / "policy"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, _isolated_git: None) -> World:
    root = tmp_path_factory.mktemp("canary")
    write_repo(root / "repo")
    write_live(root / "live")
    (root / "dumps").mkdir()
    write_broken_dump(root / "dumps" / "broken.yaml")
    return World(root, root / "repo", root / "live", root / "dumps" / "broken.yaml")


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    files: dict[str, str] = field(default_factory=dict)

    def texts(self) -> Iterator[tuple[str, str]]:
        yield "stdout", self.stdout
        yield "stderr", self.stderr
        yield from self.files.items()

    def report(self, name: str = "json") -> dict[str, Any]:
        text = self.files.get(f"report.{SUFFIX[name]}") or self.stdout
        loaded: dict[str, Any] = json.loads(text)
        return loaded

    def assert_no_leak(self) -> None:
        found = {where: leaks(text) for where, text in self.texts()}
        assert not {where: hits for where, hits in found.items() if hits}, \
            "the canary leaked"


def _formats(out: Path, to_stdout: str) -> list[str]:
    args = []
    for name in FORMATS:
        args += ["--format", name if name == to_stdout else f"{name}={out}/report.{SUFFIX[name]}"]
    return args


def _run(args: list[str], capfd: pytest.CaptureFixture[str], out: Path) -> Run:
    capfd.readouterr()
    code = main(args)
    captured = capfd.readouterr()
    files = {p.relative_to(out).as_posix(): p.read_text(errors="replace")
             for p in sorted(out.rglob("*")) if p.is_file()}
    return Run(code, captured.out, captured.err, files)


@pytest.fixture(params=[False, True], ids=["plain", "debug"])
def debug(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    if request.param:
        monkeypatch.setenv("GITOPS_CHECKER_DEBUG", "1")  # the OPA worker's stderr shows
    else:
        monkeypatch.delenv("GITOPS_CHECKER_DEBUG", raising=False)
    return bool(request.param)


def _messages(report: dict[str, Any], rule: str) -> list[str]:
    return [f["message"] for f in report["findings"] if f["rule_id"] == rule]


# -- the commands ------------------------------------------------------------------------------

def _expect_check(run: Run, *, base: bool = False) -> None:
    report = run.report()
    assert run.code == 2  # secrets/broken.yaml
    assert any("broken.yaml" in (e["path"] or "") for e in report["errors"])
    quoted = _messages(report, "CAN002") + _messages(report, "CAN003") \
        + _messages(report, "CAN004")
    assert quoted and all(MASK in m or m == "env LOG_LEVEL=info" for m in quoted), quoted
    assert any("DB_PASSWORD=" + MASK in m for m in _messages(report, "CAN003"))
    assert _messages(report, "SEC001")
    if base:  # the base's values were read too: its masked findings match HEAD's
        assert any(f["rule_id"] == "GIT001" for f in report["findings"])
        assert report["base"]["unchanged"] > 0 and report["base"]["errors"] == []


def _expect_sod(run: Run) -> None:
    assert run.code == 1
    assert _messages(run.report(), "GIT001")


COMMANDS: dict[str, tuple[Callable[[World, Path], list[str]], Callable[[Run], None]]] = {
    "check": (lambda w, out: ["check", str(w.repo), "--policy", str(w.policy), "--fail-on",
                              "low", "--write-baseline", str(out / "baseline.json")],
              _expect_check),
    "check --changed": (lambda w, out: [
        "check", "--changed", "--root", str(w.repo), "--policy", str(w.policy),
        *(str(w.repo / p) for p in ("secrets/db.yaml", "secrets/bad.yaml",
                                    "secrets/broken.yaml", "apps/web.yaml"))],
        _expect_check),
    "check --base": (lambda w, out: ["check", str(w.repo), "--base", "base", "--policy",
                                     str(w.policy), "--fail-on", "low"],
                     lambda run: _expect_check(run, base=True)),
    "sod": (lambda w, out: ["sod", "--repo", str(w.repo), "--base", "base", "--fail-on", "low"],
            lambda run: _expect_sod(run)),
}


def _expect_drift(run: Run, *, broken_dump: bool = False) -> None:
    report = run.report()
    assert run.code == 2  # secrets/broken.yaml
    if broken_dump:  # every type unread: errors, nothing compared
        assert not report["findings"]
        assert any("live snapshot" in e["message"] for e in report["errors"])
        return
    changed = {f["details"]["path"]: f for f in report["findings"] if f["rule_id"] == "DRF003"}
    for path in ("data.password", "stringData.api-token", "stringData.pin",
                 'metadata.annotations["example.com/rotated-from"]',
                 "spec.template.spec.containers[name=app].env[name=DB_PASSWORD].value"):
        assert path in changed, sorted(changed)
    env = changed["spec.template.spec.containers[name=app].env[name=DB_PASSWORD].value"]
    assert (env["details"]["declared"], env["details"]["live"]) == (MASK, MASK)
    assert [f["resource"]["name"] for f in report["findings"] if f["rule_id"] == "DRF002"] \
        == ["stray"]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_repository_commands_never_print_the_canary(
        world: World, command: str, debug: bool, capfd: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    build, expect = COMMANDS[command]
    to_stdout = FORMATS[(sorted(COMMANDS).index(command) * 2 + debug) % len(FORMATS)]
    args = [*build(world, tmp_path), *_formats(tmp_path, to_stdout),
            *(["--debug"] if debug else [])]
    run = _run(args, capfd, tmp_path)
    run.assert_no_leak()
    expect(run)
    if "--write-baseline" in args:
        entries = json.loads(run.files["baseline.json"])["findings"]
        assert any(MASK in e["message"] for e in entries)


@pytest.mark.parametrize("broken_dump", [False, True], ids=["dump", "broken-dump"])
def test_drift_against_dumps_never_prints_the_canary(
        world: World, debug: bool, broken_dump: bool, capfd: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    live = ["--live", str(world.live)] + (["--live", str(world.broken_dump)] if broken_dump
                                          else [])
    args = ["drift", str(world.repo), *live, "--fail-on", "low",
            *_formats(tmp_path, "markdown" if debug else "text"),
            *(["--debug"] if debug else [])]
    run = _run(args, capfd, tmp_path)
    run.assert_no_leak()
    _expect_drift(run, broken_dump=broken_dump)


def test_drift_against_a_cluster_never_prints_the_canary(
        world: World, cluster: FakeCluster, debug: bool, capfd: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    for obj in live_objects():
        cluster.seed(obj)
    kubeconfig = cluster.kubeconfig(tmp_path / "kubeconfig")
    out = tmp_path / "out"
    args = ["drift", str(world.repo), "--kubeconfig", str(kubeconfig), "--context", "test",
            "--request-timeout", "5", "--fail-on", "low",
            *_formats(out, "github" if debug else "sarif"), *(["--debug"] if debug else [])]
    run = _run(args, capfd, out)
    run.assert_no_leak()
    _expect_drift(run)


def test_the_nightly_report_never_holds_the_canary(
        world: World, debug: bool, capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Its bundle (HTML, JSON, Markdown, nightly.json) and its SQLite history, two nights."""
    for night in ("2026-11-26T03:00:00Z", "2026-11-27T03:00:00Z"):
        run = _run(["report", str(world.repo), "--live", str(world.live), "--out",
                    str(tmp_path / "bundle"), "--at", night, "--fail-on", "low",
                    *(["--debug"] if debug else [])], capfd, tmp_path)
        run.assert_no_leak()
        assert run.code == 2, run.stderr  # secrets/broken.yaml
    files = sorted(run.files)
    assert "bundle/report.html" in files and any(f.endswith(".sqlite") for f in files), files
    assert "&lt;redacted&gt;" in run.files["bundle/report.html"]  # the drift of env literals


def test_pack_tests_and_rule_listings_never_print_the_canary(
        world: World, debug: bool, capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    extra = ["--debug"] if debug else []
    run = _run(["test", str(world.policy), "--run", "CAN001", "--verbose", *extra], capfd,
               tmp_path)
    run.assert_no_leak()
    assert run.code == 1  # CAN001-fails.yaml
    assert "3 passed, 1 failed, 0 errors" in run.stdout, run.stdout
    for args in (["rules", "list", "--format", "json" if debug else "text"],
                 ["rules", "explain", "CAN002"]):
        run = _run([*args, "--policy", str(world.policy), *extra], capfd, tmp_path)
        run.assert_no_leak()
        assert run.code == 0 and ("CAN002" in run.stdout or "careless" in run.stdout)


def test_pack_tests_mask_what_a_careless_rule_quotes(
        world: World, capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    run = _run(["test", str(world.policy), "--run", "CAN002"], capfd, tmp_path)
    assert run.code == 1 and "unexpected finding" in run.stdout
    run.assert_no_leak()


# -- internal errors ---------------------------------------------------------------------------

def _crash(message: str) -> Callable[..., Any]:
    def crash(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError(message)
    return crash


CRASHES = {
    # After the estate is read: its Secret values, env literals and numbers.
    "check": ("checker.pipeline.settle_findings",
              f"cannot settle {V['data']} {V['env']} {V['applied']} {NUMBER}"),
    # While comparing: the declared values are known, the live ones just read.
    "drift-compare": ("checker.drift.engine.DriftEngine.diff",
                      f"cannot compare {V['data']} with {V['live']} ({V['live-env']})"),
    # After comparing: everything read.
    "drift-report": ("checker.drift.run.settle_findings",
                     f"cannot settle {V['live']} {V['live-applied']} {V['extra']}"),
}


@pytest.mark.parametrize("crash", sorted(CRASHES))
def test_internal_errors_mask_the_secret_values_they_quote(
        world: World, crash: str, debug: bool, capfd: pytest.CaptureFixture[str],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target, message = CRASHES[crash]
    monkeypatch.setattr(target, _crash(message))
    command = ["check", str(world.repo), "--policy", str(world.policy)] \
        if crash == "check" else ["drift", str(world.repo), "--live", str(world.live)]
    run = _run([*command, *_formats(tmp_path, "json"), *(["--debug"] if debug else [])],
               capfd, tmp_path)
    assert run.code == 2
    run.assert_no_leak()
    assert f"RuntimeError: cannot {message.split()[1]} {MASK}" in run.stderr, run.stderr
    assert ("Traceback (most recent call last)" in run.stderr) == debug


def test_an_internal_error_before_the_rules_are_loaded_is_masked(
        world: World, capfd: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The estate is read; the packs' rules are completed with its constraints next.
    monkeypatch.setattr("checker.packs.LoadedPacks.with_estate",
                        _crash(f"cannot load {V['data']}"))
    run = _run(["check", str(world.repo)], capfd, tmp_path)
    assert run.code == 2 and "internal error" in run.stderr
    run.assert_no_leak()
