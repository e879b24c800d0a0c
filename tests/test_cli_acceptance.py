"""Acceptance tests: the real CLI, as a subprocess, on the scenarios in tests/fixtures/.

Each scenario directory is named after what it shows. For every run we assert the exact
exit code, the exact (rule_id, path, line) findings and (kind, path, line) errors, and
that nothing crashed (no traceback, no "internal error" on stderr).

Inputs with odd bytes (invalid UTF-8, binary, UTF-16, CRLF) are generated under tmp_path
so that `git diff` of the fixtures stays readable. The `gitignored` fixture keeps its
ignore file as `gitignore` (a real `.gitignore` would stop git tracking the very files it
ignores); the test copies the directory and renames it.

Runs that read no stdin and write no files are started in parallel when the module's
first test runs (see `Cli` and PREFETCH); the module as a whole is marked `slow`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import checker

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CONSOLE_SCRIPT = Path(sys.executable).parent / "gitops-checker"

Hit = tuple[str, str | None, int | None]
"""(rule_id or error kind, path, line)."""

pytestmark = pytest.mark.slow

_ENV_DROP = ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS",
             "LINES", "PYTHONWARNINGS")


@dataclass
class Run:
    """The outcome of one CLI invocation."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def report(self) -> dict[str, Any]:
        """The JSON report written to standard output."""
        assert self.stdout, f"no JSON on stdout; stderr:\n{self.stderr}"
        data: dict[str, Any] = json.loads(self.stdout)
        return data

    def findings(self) -> list[Hit]:
        """(rule_id, path, line) of every finding, sorted."""
        return sorted((f["rule_id"], f["location"]["path"], f["location"]["line"])
                      for f in self.report()["findings"])

    def errors(self) -> list[Hit]:
        """(kind, path, line) of every error, sorted."""
        return sorted((e["kind"], e["path"], e["line"]) for e in self.report()["errors"])


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _ENV_DROP}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def run_cli(*args: str | Path, cwd: Path, stdin: bytes | None = None,
            timeout: float = 60, command: list[str] | None = None) -> Run:
    """Run `python -m checker ARGS` and check that it did not crash.

    These scenarios are about reading and the schema stage: `check` runs without the bundled
    rule packs, whose findings are tested on the example estates."""
    argv = [str(a) for a in args]
    if argv and argv[0] == "check":
        argv.append("--no-bundled-packs")
    base = command if command is not None else [sys.executable, "-m", "checker"]
    started = time.monotonic()
    proc = subprocess.run([*base, *argv], cwd=cwd, input=stdin, capture_output=True,
                          timeout=timeout, env=_env(), check=False)
    run = Run(argv, proc.returncode, proc.stdout.decode("utf-8"),
              proc.stderr.decode("utf-8"), time.monotonic() - started)
    assert "Traceback" not in run.stderr, run.stderr
    assert "internal error" not in run.stderr, run.stderr
    return run


def check_json(target: str | Path, *extra: str | Path, cwd: Path) -> Run:
    return run_cli("check", target, "--format", "json", *extra, cwd=cwd)


class Cli:
    """Runs of the CLI on fixtures that read no stdin and write no files, memoized.

    Such a run depends only on its arguments, so runs are started ahead of time, in
    parallel (PREFETCH), and each test picks up its result; an unlisted run just starts
    when asked for.
    """

    def __init__(self, cwd: Path, workers: int) -> None:
        self._cwd = cwd
        self._pool = ThreadPoolExecutor(max_workers=workers)
        self._runs: dict[tuple[str, ...], Future[Run]] = {}

    def _key(self, args: tuple[str | Path, ...]) -> tuple[str, ...]:
        return tuple(str(a) for a in args)

    def start(self, *args: str | Path) -> None:
        key = self._key(args)
        if key not in self._runs:
            self._runs[key] = self._pool.submit(run_cli, *key, cwd=self._cwd)

    def __call__(self, *args: str | Path) -> Run:
        """`gitops-checker ARGS` (already started or not)."""
        self.start(*args)
        return self._runs[self._key(args)].result()

    def json(self, scenario: str, *extra: str) -> Run:
        """`gitops-checker check tests/fixtures/SCENARIO --format json EXTRA`."""
        return self("check", FIXTURES / scenario, "--format", "json", *extra)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    name: str
    exit_code: int
    findings: list[Hit] = field(default_factory=list)
    errors: list[Hit] = field(default_factory=list)
    summary: dict[str, int] = field(default_factory=dict)
    """Expected values for some keys of the report's `summary`."""


SCENARIOS = [
    Scenario("valid-deployment", 0, summary={"files": 1, "objects": 2, "findings": 0}),
    Scenario("unknown-field", 1, [("SCH002", "deployment.yaml", 20)]),
    Scenario("wrong-type", 1, [("SCH001", "deployment.yaml", 8),
                               ("SCH001", "deployment.yaml", 21)]),
    Scenario("yaml11-boolean-label", 1, [("SCH003", "deployment.yaml", 10)]),
    Scenario("yaml11-octal-string", 1, [("SCH003", "configmap.yaml", 12)],
             summary={"objects": 2}),
    Scenario("multi-document", 1, [("SCH001", "all.yaml", 18), ("SCH002", "all.yaml", 28)],
             summary={"files": 1, "objects": 3}),
    Scenario("kind-list", 2, [("SCH002", "list.yaml", 21)],
             [("not-an-object", "list.yaml", 3)], summary={"objects": 2}),
    Scenario("unknown-kind", 0, [("SCH004", "widget.yaml", 3)],
             summary={"findings": 1, "low": 1}),
    Scenario("crd-in-repo", 1, [("SCH001", "backups.yaml", 18),
                                ("SCH002", "backups.yaml", 19)],
             summary={"files": 2, "objects": 3}),
    Scenario("malformed-yaml-then-valid", 2, [("SCH002", "manifests.yaml", 18)],
             [("syntax", "manifests.yaml", 8)]),
    Scenario("duplicate-keys", 2, [("SCH002", "deployment.yaml", 28)],
             [("duplicate-key", "deployment.yaml", 10)]),
    Scenario("alias-bomb", 2, [("SCH002", "bomb.yaml", 23)], [("alias-bomb", "bomb.yaml", 13)]),
    Scenario("empty-file", 0, summary={"files": 4, "objects": 0}),
    Scenario("list-document", 2, [], [("not-an-object", "mixed.yaml", 10)],
             summary={"objects": 1}),
    Scenario("scalar-document", 2, [("SCH002", "mixed.yaml", 16)],
             [("not-an-object", "mixed.yaml", 9)], summary={"objects": 2}),
    Scenario("non-kubernetes-yaml", 0, summary={"files": 4, "objects": 0}),
    Scenario("config-exclude", 0, summary={"files": 1, "objects": 1}),
    # Exceptions that are not honoured are findings of their own (EXC002, EXC001 expired).
    Scenario("suppressed", 1, [("SCH002", "with-reason.yaml", 10),
                               ("EXC002", "without-reason.yaml", 8),
                               ("SCH002", "without-reason.yaml", 9),
                               ("EXC002", "without-reason.yaml", 17),
                               ("SCH002", "without-reason.yaml", 19),
                               ("EXC001", "without-reason.yaml", 29),
                               ("SCH002", "without-reason.yaml", 30)],
             summary={"findings": 6, "suppressed": 1, "high": 3, "medium": 3}),
    Scenario("json-file", 1, [("SCH001", "deployment.json", 7),
                              ("SCH002", "deployment.json", 20),
                              ("SCH001", "tabbed.json", 9)]),
    Scenario("removed-api", 1, [("SCH005", "hpa.yaml", 3)]),
]


def _json_args(scenario: str, *extra: str) -> tuple[str, ...]:
    return ("check", str(FIXTURES / scenario), "--format", "json", *extra)


PREFETCH: list[tuple[str, ...]] = [
    *(_json_args(s.name) for s in SCENARIOS),
    _json_args("unknown-field", "--fail-on", "critical"),
    _json_args("unknown-field", "--no-strict"),
    _json_args("unknown-kind", "--fail-on", "low"),
    _json_args("unknown-kind", "--unknown-kinds", "error"),
    _json_args("unknown-kind", "--unknown-kinds", "ignore", "--fail-on", "info"),
    _json_args("removed-api", "--kubernetes-version", "1.25"),
    _json_args("gitignored"),
    ("check", str(FIXTURES / "valid-deployment")),
    ("check", str(FIXTURES / "malformed-yaml-then-valid")),
    ("check", str(FIXTURES / "suppressed")),
    _json_args("yaml11-after-syntax-error"),
    _json_args("yaml11-flow-mapping"),
    ("check", str(FIXTURES / "suppressed" / "with-reason.yaml"), "--root",
     str(FIXTURES / "suppressed"), "--format", "json"),
    ("check", str(FIXTURES / "config-exclude" / "wip.draft.yaml"), "--root",
     str(FIXTURES / "config-exclude"), "--format", "json"),
    _json_args("bad-config"),
    ("check", str(FIXTURES / "valid-deployment"), "--config",
     str(FIXTURES / "valid-deployment" / "nope.yaml")),
    ("check", str(FIXTURES / "unknown-kind"), "--fail-on", "severe"),
    ("check", str(FIXTURES / "valid-deployment"), "--kubernetes-version", "1.99"),
    ("check", str(FIXTURES / "unknown-field"), "--format", "text", "--format", "json"),
    ("check", str(FIXTURES / "unknown-field"), "--format", "yaml"),
    ("check", "no/such/dir"),
    ("--version",),
]
"""Runs started in parallel as soon as the first test asks for the `cli` fixture."""


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    runner = Cli(tmp_path_factory.mktemp("cli-cwd"), workers=min(8, os.cpu_count() or 2))
    for args in PREFETCH:
        runner.start(*args)
    yield runner
    runner.close()


def assert_scenario(run: Run, scenario: Scenario) -> dict[str, Any]:
    """Exit code, findings, errors and summary exactly as the scenario says."""
    assert run.returncode == scenario.exit_code, run.stderr
    assert run.findings() == sorted(scenario.findings)
    assert run.errors() == sorted(scenario.errors)
    report = run.report()
    summary = report["summary"]
    flat = {**summary, **summary["by_severity"]}
    for key, value in scenario.summary.items():
        assert flat[key] == value, f"summary {key}"
    active = [f for f in report["findings"] if f["suppressed_by"] is None]
    assert summary["findings"] == len(active)
    assert summary["suppressed"] == len(report["findings"]) - len(active)
    assert summary["errors"] == len(report["errors"])
    assert sum(summary["by_severity"].values()) == len(active)
    return report


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario(scenario: Scenario, cli: Cli) -> None:
    assert_scenario(cli.json(scenario.name), scenario)


def test_alias_bomb_ends_fast(cli: Cli) -> None:
    run = cli.json("alias-bomb")
    assert run.seconds < 10, f"took {run.seconds:.1f}s"
    (error,) = run.report()["errors"]
    assert error["message"] == "alias expansion exceeds 1,000,000 nodes (a YAML alias bomb?)"


def test_yaml11_messages_explain_the_reading(cli: Cli) -> None:
    (finding,) = cli.json("yaml11-boolean-label").report()["findings"]
    assert finding["location"]["pointer"] == "/metadata/labels/canary"
    assert finding["details"]["yaml_token"] == "yes"
    assert "boolean true" in finding["message"] and '"yes"' in finding["message"]

    (finding,) = cli.json("yaml11-octal-string").report()["findings"]
    assert finding["location"]["pointer"] == "/data/mode"
    # The digits are never repeated: in a Secret they could be a PIN.
    assert "yaml_token" not in finding["details"]
    assert "0644" not in finding["message"] and "420" not in finding["message"]
    assert "leading zero" in finding["message"] and "octal" in finding["message"]


def test_kind_list_item_pointer(cli: Cli) -> None:
    (finding,) = cli.json("kind-list").report()["findings"]
    assert finding["location"]["pointer"] == "/items/1/strngData"
    assert finding["location"]["column"] == 5
    assert finding["resource"] == {"apiVersion": "v1", "kind": "Secret",
                                   "namespace": "default", "name": "second"}


def test_json_file_columns(cli: Cli) -> None:
    report = cli.json("json-file").report()
    where = sorted((f["location"]["path"], f["location"]["line"], f["location"]["column"],
                    f["location"]["pointer"]) for f in report["findings"])
    assert where == [
        ("deployment.json", 7, 35, "/metadata/labels/tier"),
        ("deployment.json", 20, 13, "/spec/template/spec/containers/0/restartPolice"),
        ("tabbed.json", 9, 3, "/data/port"),
    ]


def test_crd_in_repo_valid_object_passes(cli: Cli) -> None:
    report = cli.json("crd-in-repo").report()
    names = {f["resource"]["name"] for f in report["findings"]}
    assert names == {"broken"}  # "nightly" matches the CRD's schema


def test_suppressed_with_reason_alone_exits_0(cli: Cli) -> None:
    fixture = FIXTURES / "suppressed"
    run = cli("check", fixture / "with-reason.yaml", "--root", fixture, "--format", "json")
    assert_scenario(run, Scenario("suppressed/with-reason", 0,
                                  [("SCH002", "with-reason.yaml", 10)],
                                  summary={"findings": 0, "suppressed": 1}))
    (finding,) = run.report()["findings"]
    assert finding["suppressed_by"] == "annotation: read by the legacy operator, removed in Q3"


def test_suppressed_text(cli: Cli) -> None:
    run = cli("check", FIXTURES / "suppressed")
    assert run.returncode == 1
    assert run.stdout.count("(suppressed: annotation: read by the legacy operator") == 1
    assert run.stdout.rstrip("\n").endswith("6 findings (3 high, 3 medium), 1 suppressed")


def test_gitignored(tmp_path: Path) -> None:
    tree = tmp_path / "gitignored"
    shutil.copytree(FIXTURES / "gitignored", tree)
    (tree / "gitignore").rename(tree / ".gitignore")
    run = check_json(tree, cwd=tmp_path)
    assert_scenario(run, Scenario("gitignored", 0, summary={"files": 2, "objects": 2}))


def test_gitignored_files_would_fail_without_the_ignore_file(cli: Cli) -> None:
    run = cli.json("gitignored")  # in the fixture the ignore file is not named .gitignore
    assert_scenario(run, Scenario("gitignored-control", 1, [
        ("SCH001", "rendered/deployment.yaml", 8), ("SCH002", "scratch.local.yaml", 7)]))


def test_config_exclude_hides_files_that_would_fail(tmp_path: Path) -> None:
    empty_config = tmp_path / "empty.yaml"
    empty_config.write_text("", encoding="utf-8")
    run = check_json(FIXTURES / "config-exclude", "--config", empty_config, cwd=tmp_path)
    assert_scenario(run, Scenario("config-exclude-control", 1, [
        ("SCH001", "legacy/old.yaml", 9), ("SCH002", "wip.draft.yaml", 7)]))


def test_config_exclude_applies_to_named_files(cli: Cli) -> None:
    fixture = FIXTURES / "config-exclude"
    run = cli("check", fixture / "wip.draft.yaml", "--root", fixture, "--format", "json")
    assert_scenario(run, Scenario("config-exclude-named", 0, summary={"files": 0}))


def test_bad_config(cli: Cli) -> None:
    run = cli.json("bad-config")
    assert run.returncode == 2
    assert run.stdout == ""
    lines = [line for line in run.stderr.splitlines() if line]
    assert len(lines) == 2, run.stderr
    unknown, wrong = lines
    assert unknown.startswith("gitops-checker: error: config ")
    assert "unknown key 'fail_onn'" in unknown
    assert "did you mean 'fail_on'?" in unknown
    assert "expected one of: kubernetes_version, fail_on," in unknown
    assert "key 'unknown_kinds'" in wrong
    assert 'found "sometimes"' in wrong
    assert "expected one of warn, error, ignore" in wrong


def test_missing_config_file(cli: Cli) -> None:
    run = cli("check", FIXTURES / "valid-deployment", "--config",
              FIXTURES / "valid-deployment" / "nope.yaml")
    assert run.returncode == 2
    assert "nope.yaml does not exist" in run.stderr


# ------------------------------------------------------------ generated (odd bytes)


def test_invalid_utf8(tmp_path: Path) -> None:
    tree = tmp_path / "invalid-utf8"
    tree.mkdir()
    (tree / "latin1.yaml").write_bytes(
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cafe\n  namespace: default\n"
        b"data:\n  greeting: caf\xe9\n")
    (tree / "truncated-utf16.yaml").write_bytes(
        b"\xff\xfe" + "apiVersion: v1\nkind: ConfigMap\n".encode("utf-16-le") + b"a")
    (tree / "readable.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n  namespace: default\n"
        "  bogus: 1\n", encoding="utf-8")
    run = check_json(tree, cwd=tmp_path)
    assert_scenario(run, Scenario("invalid-utf8", 2, [("SCH002", "readable.yaml", 6)], [
        ("encoding", "latin1.yaml", 7), ("encoding", "truncated-utf16.yaml", 3)],
        summary={"files": 3, "objects": 1}))
    messages = {e["path"]: e["message"] for e in run.report()["errors"]}
    assert messages["latin1.yaml"].startswith("invalid UTF-8 at byte ")
    assert messages["truncated-utf16.yaml"].startswith("invalid UTF-16-LE at byte ")


def test_binary_file(tmp_path: Path) -> None:
    tree = tmp_path / "binary-file"
    tree.mkdir()
    (tree / "logo.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10")
    (tree / "data.json").write_bytes(bytes(range(256)))
    run = check_json(tree, cwd=tmp_path)
    assert_scenario(run, Scenario("binary-file", 2, [], [
        ("binary", "data.json", 1), ("binary", "logo.yaml", 1)], summary={"files": 2}))


def test_utf16_bom(tmp_path: Path) -> None:
    tree = tmp_path / "utf16-bom"
    tree.mkdir()
    unknown_field = (FIXTURES / "unknown-field" / "deployment.yaml").read_text("utf-8")
    label = (FIXTURES / "yaml11-boolean-label" / "deployment.yaml").read_text("utf-8")
    (tree / "le.yaml").write_bytes(b"\xff\xfe" + unknown_field.encode("utf-16-le"))
    (tree / "be.yaml").write_bytes(b"\xfe\xff" + label.encode("utf-16-be"))
    (tree / "utf8-bom.json").write_bytes(
        b"\xef\xbb\xbf" + (FIXTURES / "json-file" / "tabbed.json").read_bytes())
    run = check_json(tree, cwd=tmp_path)
    assert_scenario(run, Scenario("utf16-bom", 1, [
        ("SCH002", "le.yaml", 20), ("SCH003", "be.yaml", 10), ("SCH001", "utf8-bom.json", 9)]))
    columns = {f["location"]["path"]: f["location"]["column"] for f in run.report()["findings"]}
    assert columns == {"le.yaml": 11, "be.yaml": 5, "utf8-bom.json": 3}


# ------------------------------------------------------------------------- text output


def test_text_clean_run(cli: Cli) -> None:
    run = cli("check", FIXTURES / "valid-deployment")
    assert run.returncode == 0
    assert run.stdout == "1 file, 2 objects: no findings\n"
    assert run.stderr == ""


def test_text_findings_and_errors(cli: Cli) -> None:
    run = cli("check", FIXTURES / "malformed-yaml-then-valid")
    assert run.returncode == 2
    assert "\x1b[" not in run.stdout  # no colour when stdout is not a terminal
    assert run.stdout == (
        "manifests.yaml\n"
        "  18:7     high     SCH002 unknown-field  Service/default/after-the-break: "
        "unknown field `spec.ports[0].tragetPort`\n"
        "\n"
        "Could not check\n"
        "  manifests.yaml:8: syntax: while parsing a flow sequence; "
        "did not find expected ',' or ']'\n"
        "\n"
        "1 file, 1 object: 1 finding (1 high); 1 input could not be checked\n"
    )


# ------------------------------------------------------------------------------ options


def test_fail_on_critical_passes_high_findings(cli: Cli) -> None:
    run = cli.json("unknown-field", "--fail-on", "critical")
    assert_scenario(run, Scenario("unknown-field", 0, [("SCH002", "deployment.yaml", 20)]))


def test_fail_on_low_fails_unknown_kind(cli: Cli) -> None:
    run = cli.json("unknown-kind", "--fail-on", "low")
    assert_scenario(run, Scenario("unknown-kind", 1, [("SCH004", "widget.yaml", 3)]))


def test_fail_on_rejects_unknown_severity(cli: Cli) -> None:
    run = cli("check", FIXTURES / "unknown-kind", "--fail-on", "severe")
    assert run.returncode == 2
    assert "unknown severity 'severe'" in run.stderr


def test_unknown_kinds_error(cli: Cli) -> None:
    run = cli.json("unknown-kind", "--unknown-kinds", "error")
    assert_scenario(run, Scenario("unknown-kind", 1, [("SCH004", "widget.yaml", 3)],
                                  summary={"high": 1, "low": 0}))


def test_unknown_kinds_ignore(cli: Cli) -> None:
    run = cli.json("unknown-kind", "--unknown-kinds", "ignore", "--fail-on", "info")
    assert_scenario(run, Scenario("unknown-kind", 0, summary={"objects": 1}))


def test_no_strict_hides_unknown_fields(cli: Cli) -> None:
    run = cli.json("unknown-field", "--no-strict")
    assert_scenario(run, Scenario("unknown-field", 0))


def test_kubernetes_version_selects_schemas(cli: Cli) -> None:
    run = cli.json("removed-api", "--kubernetes-version", "1.25")
    assert_scenario(run, Scenario("removed-api@1.25", 1, [("DEP001", "hpa.yaml", 3),
                                                          ("SCH001", "hpa.yaml", 13)]))


def test_kubernetes_version_out_of_range(cli: Cli) -> None:
    run = cli("check", FIXTURES / "valid-deployment", "--kubernetes-version", "1.99")
    assert run.returncode == 2
    assert run.stdout == ""
    assert "invalid choice: '1.99'" in run.stderr
    assert "'1.25'" in run.stderr and "'1.37'" in run.stderr


def test_multiple_formats(tmp_path: Path) -> None:
    run = run_cli("check", FIXTURES / "unknown-field", "--format", "text",
                  "--format", "json=out/report.json", "--format", "sarif=out/report.sarif",
                  cwd=tmp_path)
    assert run.returncode == 1
    assert "SCH002 unknown-field" in run.stdout
    report = json.loads((tmp_path / "out" / "report.json").read_text("utf-8"))
    assert [f["rule_id"] for f in report["findings"]] == ["SCH002"]
    sarif = json.loads((tmp_path / "out" / "report.sarif").read_text("utf-8"))
    assert sarif["version"] == "2.1.0"
    (result,) = sarif["runs"][0]["results"]
    assert result["ruleId"] == "SCH002"
    region = result["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 20, "startColumn": 11}


def test_two_formats_on_stdout_is_a_usage_error(cli: Cli) -> None:
    run = cli("check", FIXTURES / "unknown-field", "--format", "text", "--format", "json")
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr == ("gitops-checker: error: formats text, json all write to standard "
                          "output; give all but one a file (NAME=FILE)\n")


def test_unknown_format(cli: Cli) -> None:
    run = cli("check", FIXTURES / "unknown-field", "--format", "yaml")
    assert run.returncode == 2
    assert "unknown format 'yaml'" in run.stderr


def test_nonexistent_path(cli: Cli) -> None:
    run = cli("check", "no/such/dir")
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr == "gitops-checker: error: path 'no/such/dir' does not exist\n"


def test_stdin(tmp_path: Path) -> None:
    data = (FIXTURES / "unknown-field" / "deployment.yaml").read_bytes()
    run = run_cli("check", "-", "--format", "json", cwd=tmp_path, stdin=data)
    assert_scenario(run, Scenario("stdin", 1, [("SCH002", "-", 20)], summary={"files": 1}))


def test_version(cli: Cli) -> None:
    run = cli("--version")
    assert run.returncode == 0
    assert run.stdout == f"gitops-checker {checker.__version__}\n"


@pytest.mark.skipif(not CONSOLE_SCRIPT.exists(), reason="console script not installed")
def test_console_script(tmp_path: Path) -> None:
    run = run_cli("--version", cwd=tmp_path, command=[str(CONSOLE_SCRIPT)])
    assert run.returncode == 0
    assert re.fullmatch(r"gitops-checker \S+\n", run.stdout)


# ------------------------------------------------- regressions (bugs found by these tests)


def test_yaml11_after_syntax_error(cli: Cli) -> None:
    run = cli.json("yaml11-after-syntax-error")
    assert_scenario(run, Scenario("yaml11-after-syntax-error", 2,
                                  [("SCH003", "manifests.yaml", 16)],
                                  [("syntax", "manifests.yaml", 9)]))


def test_yaml11_flow_mapping(cli: Cli) -> None:
    run = cli.json("yaml11-flow-mapping")
    assert_scenario(run, Scenario("yaml11-flow-mapping", 1, [
        ("SCH001", "configmap.yaml", 8), ("SCH003", "configmap.yaml", 8)]))
    port = next(f for f in run.report()["findings"] if f["location"]["pointer"] == "/data/port")
    assert "0644" not in port["message"]


def test_crlf_malformed_then_valid(tmp_path: Path) -> None:
    tree = tmp_path / "crlf"
    tree.mkdir()
    text = (FIXTURES / "malformed-yaml-then-valid" / "manifests.yaml").read_text("utf-8")
    (tree / "manifests.yaml").write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    run = check_json(tree, cwd=tmp_path)
    assert_scenario(run, Scenario("crlf", 2, [("SCH002", "manifests.yaml", 18)],
                                  [("syntax", "manifests.yaml", 8)]))


def test_custom_list_kind_with_empty_spec(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "checker", "check", str(FIXTURES / "custom-list-kind"),
         "--format", "json"], cwd=tmp_path, capture_output=True, env=_env(), timeout=60,
        check=False)
    stderr = proc.stderr.decode("utf-8")
    assert "internal error" not in stderr, stderr
    report = json.loads(proc.stdout)
    hits = {(f["rule_id"], f["location"]["path"], f["location"]["line"])
            for f in report["findings"]}
    assert ("SCH002", "configmap.yaml", 7) in hits
