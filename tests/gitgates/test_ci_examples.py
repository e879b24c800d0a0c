"""The CI examples of docs/ci.md (docs/examples/*.yml) are valid and run real commands.

* Every example parses as YAML (GitHub's `on:` is read by YAML 1.1 as the boolean True).
* Every `gitops-checker …` command line in a `run:` / `script:` block, and in the shell
  blocks of docs/ci.md, is accepted by the real argument parser (`checker.cli.build_parser`):
  the subcommand and every flag exist. Each `--format` names a reporter, and at most one
  writes to standard output (the CLI's own rule).
* GitHub workflows: jobs with steps, actions pinned to a version tag or a commit, explicit
  permissions with nothing written beyond code scanning, full history where history is read,
  reports uploaded even when the gate fails, and uploaded files that the commands write.
* The GitLab example: a merge-request job with full history, the same gate, the JUnit report
  and the SARIF kept whatever the outcome.
* When available offline, the SchemaStore schemas bundled with `check-jsonschema` and the
  `actionlint` binary validate the files too (skipped otherwise; nothing is downloaded).
"""

from __future__ import annotations

import argparse
import functools
import importlib.resources
import io
import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from checker.cli import _parse_formats, build_parser
from checker.errors import UsageError
from checker.report import REPORTERS

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "docs" / "examples"
CI_DOC = REPO_ROOT / "docs" / "ci.md"
FILES = sorted([*EXAMPLES.glob("*.yml"), *EXAMPLES.glob("*.yaml")])

SCRIPT_KEYS = frozenset({"run", "script", "before_script", "after_script"})
GITLAB_RESERVED = frozenset({"stages", "variables", "default", "include", "workflow", "image",
                             "services", "cache", "before_script", "after_script", "spec"})
# `owner/repo[/path]@ref`: a version tag (v4, v4.1, v4.1.2) or a full commit SHA.
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$")
WRITE_ALLOWED = frozenset({"security-events"})
SHELL_KEYWORDS = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!", "{", "}",
                            "time", "exec", "command"})
OPERATORS = frozenset({";", "&&", "||", "|", "&", "(", ")", ";;", "|&"})
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@functools.cache
def _load(path: Path) -> Any:
    """The parsed file (cached: callers do not modify it)."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _is_github(doc: Any) -> bool:
    return isinstance(doc, dict) and "jobs" in doc and ("on" in doc or True in doc)


def _triggers(workflow: dict[Any, Any]) -> Any:
    """`on:`, which YAML 1.1 (PyYAML) reads as the key True."""
    return workflow["on"] if "on" in workflow else workflow[True]


# -- shell command lines ------------------------------------------------------------------

def _substitute(text: str) -> str:
    """Expressions and variables as plain words, so shlex sees the words the shell would."""
    text = re.sub(r"\$\{\{.*?\}\}", "EXPR", text, flags=re.DOTALL)   # ${{ github.base_ref }}
    text = re.sub(r"\$\{[^}]*\}", "VALUE", text)                 # ${VAR}, ${VAR:-x}
    text = re.sub(r"\$([A-Za-z_][A-Za-z0-9_]*|[?@#*$!0-9-])", "VALUE", text)
    return text


def _commands(script: str) -> Iterator[list[str]]:
    """Every simple command of a shell script, as words (operators split commands,
    redirections dropped, leading keywords and assignments skipped)."""
    script = _substitute(re.sub(r"\\\r?\n", " ", script))
    for line in script.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
        command: list[str] = []
        skip = False
        for token in [*tokens, ";"]:
            if skip:
                skip = False
                continue
            if token in OPERATORS:
                if command:
                    yield command
                command = []
            elif set(token) <= set("<>&") and token:   # >, >>, <, >&: drop the target too
                if command and command[-1].isdigit():
                    command.pop()                         # the fd of 2>
                skip = True
            elif not command and (token in SHELL_KEYWORDS or ASSIGNMENT.match(token)):
                continue
            else:
                command.append(token)


def _checker_argv(words: list[str]) -> list[str] | None:
    """The arguments of a gitops-checker invocation (also `python -m checker`)."""
    if words and Path(words[0]).name == "gitops-checker":
        return words[1:]
    if len(words) >= 3 and Path(words[0]).name.startswith("python") and \
            words[1:3] == ["-m", "checker"]:
        return words[3:]
    return None


def _scripts(node: Any, job: str | None = None) -> Iterator[tuple[str | None, str]]:
    """(job, script text) of every run/script block, with the job it belongs to."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in SCRIPT_KEYS:
                yield from ((job, text) for text in _flatten(value) if isinstance(text, str))
            else:
                yield from _scripts(value, job)
    elif isinstance(node, list):
        for item in node:
            yield from _scripts(item, job)


def _flatten(value: Any) -> Iterator[Any]:
    if isinstance(value, list):
        for item in value:
            yield from _flatten(item)
    else:
        yield value


def _jobs(doc: dict[Any, Any]) -> dict[str, dict[str, Any]]:
    if _is_github(doc):
        return dict(doc["jobs"])
    return {k: v for k, v in doc.items()
            if isinstance(k, str) and isinstance(v, dict) and k not in GITLAB_RESERVED}


@dataclass(frozen=True)
class Invocation:
    file: str
    job: str | None
    argv: tuple[str, ...]


@functools.cache
def _invocations(path: Path) -> list[Invocation]:
    doc = _load(path)
    found = []
    for job, body in _jobs(doc).items():
        for _, script in _scripts(body, job):
            for words in _commands(script):
                argv = _checker_argv(words)
                if argv is not None:
                    found.append(Invocation(path.name, job, tuple(argv)))
    return found


def _doc_invocations() -> list[Invocation]:
    """Command lines of docs/ci.md: its shell blocks and its `gitops-checker …` code spans."""
    if not CI_DOC.is_file():
        return []
    text = CI_DOC.read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"```(?:sh|bash|shell|console)\n(.*?)```", text, flags=re.DOTALL):
        for words in _commands(block):
            argv = _checker_argv(words)
            if argv is not None:
                found.append(Invocation("ci.md", None, tuple(argv)))
    for span in re.findall(r"(?<!`)`(gitops-checker [^`]+)`(?!`)", text):
        for words in _commands(span):
            argv = _checker_argv(words)
            if argv is not None:
                found.append(Invocation("ci.md", None, tuple(argv)))
    return found


def _subcommands(parser: argparse.ArgumentParser) -> set[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


SOD_REGISTERED = "sod" in _subcommands(build_parser())
EXAMPLE_INVOCATIONS = [inv for path in FILES for inv in _invocations(path)]
DOC_INVOCATIONS = _doc_invocations()


def _parse(argv: tuple[str, ...]) -> argparse.Namespace | None:
    """The real parser's reading; None for --version/--help (which exit 0)."""
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()) as err:
        try:
            return build_parser().parse_args(list(argv))
        except SystemExit as exc:
            if exc.code in (0, None):
                return None
            raise AssertionError(err.getvalue()) from None
        except UsageError as exc:
            raise AssertionError(f"gitops-checker {' '.join(argv)}: {exc}") from None


def _params(invocations: list[Invocation]) -> list[Any]:
    return [pytest.param(inv, id=f"{inv.file}:{inv.job}:{' '.join(inv.argv[:1])}-{i}",
                         marks=pytest.mark.xfail(inv.argv[:1] == ("sod",) and not SOD_REGISTERED,
                                                 reason="`sod` is not registered yet",
                                                 strict=False))
            for i, inv in enumerate(invocations)]


def _formats(ns: argparse.Namespace | None) -> list[tuple[str, str | None]]:
    if ns is None or not getattr(ns, "formats", None):
        return []
    return _parse_formats(ns.formats)


def _files_written(path: Path, job: str, name: str) -> set[str]:
    """The files a job's gitops-checker commands write in format `name`."""
    files: set[str] = set()
    for inv in _invocations(path):
        if inv.job != job:
            continue
        argv = list(inv.argv)
        specs = [argv[i + 1] for i, word in enumerate(argv[:-1]) if word == "--format"]
        specs += [word.removeprefix("--format=") for word in argv if word.startswith("--format=")]
        for spec in specs:
            fmt, _, target = spec.partition("=")
            if fmt == name and target:
                files.add(target)
    return files


# -- every example ------------------------------------------------------------------------

def test_there_are_examples() -> None:
    names = {p.name for p in FILES}
    assert {"github-actions.yml", "gitlab-ci.yml"} <= names


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_example_is_yaml_and_runs_gitops_checker(path: Path) -> None:
    doc = _load(path)
    assert isinstance(doc, dict) and doc, f"{path.name}: not a mapping"
    assert _jobs(doc), f"{path.name}: no jobs"
    assert _invocations(path), f"{path.name}: no gitops-checker command found"


@pytest.mark.parametrize("invocation", _params(EXAMPLE_INVOCATIONS))
def test_example_command_is_accepted_by_the_cli(invocation: Invocation) -> None:
    ns = _parse(invocation.argv)
    for name, _ in _formats(ns):
        assert name in REPORTERS, f"{invocation}: unknown format {name!r}"


@pytest.mark.parametrize("invocation", _params(DOC_INVOCATIONS))
def test_ci_doc_command_is_accepted_by_the_cli(invocation: Invocation) -> None:
    _parse(invocation.argv)


def test_ci_doc_points_at_every_example() -> None:
    text = CI_DOC.read_text(encoding="utf-8")
    for path in FILES:
        assert f"examples/{path.name}" in text, f"docs/ci.md does not mention {path.name}"
    for name in re.findall(r"examples/([\w.-]+\.ya?ml)", text):
        assert (EXAMPLES / name).is_file(), f"docs/ci.md names a missing example {name}"
    assert DOC_INVOCATIONS, "no gitops-checker command found in docs/ci.md"


def test_command_extraction() -> None:
    script = ('status=0\nif [ "$X" = 1 ]; then gitops-checker check --base "origin/${{ a.b }}" \\\n'
              '  --format text || status=$?; fi\nFOO=1 gitops-checker sod --range "$A..$B" '
              '2>/dev/null && echo ok\npython -m checker rules list # a comment')
    argvs = [a for words in _commands(script) if (a := _checker_argv(words)) is not None]
    assert argvs == [["check", "--base", "origin/EXPR", "--format", "text"],
                     ["sod", "--range", "VALUE..VALUE"], ["rules", "list"]]


# -- GitHub Actions -----------------------------------------------------------------------

GITHUB = [p for p in FILES if _is_github(_load(p))]


def _permissions(workflow: dict[Any, Any], job: dict[str, Any]) -> Any:
    return job.get("permissions", workflow.get("permissions"))


def _if(step: dict[str, Any]) -> str:
    return str(step.get("if", ""))


@pytest.mark.parametrize("path", GITHUB, ids=lambda p: p.name)
def test_github_workflow_structure(path: Path) -> None:
    wf = _load(path)
    assert isinstance(wf.get("name"), str)
    assert _triggers(wf), "no triggers"
    for job_id, job in wf["jobs"].items():
        assert job.get("runs-on"), f"{job_id}: no runs-on"
        steps = job.get("steps")
        assert isinstance(steps, list) and steps, f"{job_id}: no steps"
        for step in steps:
            assert ("uses" in step) != ("run" in step), f"{job_id}: {step} needs uses or run"
            if "uses" in step:
                assert PINNED.match(step["uses"]), f"{job_id}: {step['uses']} is not pinned"
        perms = _permissions(wf, job)
        assert isinstance(perms, dict), f"{job_id}: permissions are not set explicitly"
        for scope, level in perms.items():
            assert level in ("read", "none") or scope in WRITE_ALLOWED, \
                f"{job_id}: {scope}: {level}"


@pytest.mark.parametrize("path", GITHUB, ids=lambda p: p.name)
def test_github_history_and_uploads(path: Path) -> None:
    wf = _load(path)
    for job_id, job in wf["jobs"].items():
        steps = job["steps"]
        invocations = [inv for inv in _invocations(path) if inv.job == job_id]
        reads_history = any(inv.argv[:1] == ("sod",) or "--base" in inv.argv
                            for inv in invocations)
        if reads_history:
            checkouts = [s for s in steps if s.get("uses", "").startswith("actions/checkout@")]
            assert checkouts and all(s.get("with", {}).get("fetch-depth") == 0
                                     for s in checkouts), f"{job_id}: needs fetch-depth: 0"
        for step in steps:
            uses = step.get("uses", "")
            if uses.startswith(("github/codeql-action/upload-sarif@", "actions/upload-artifact@")):
                # The gate fails the job; its reports are uploaded all the same.
                assert "!cancelled()" in _if(step) or "always()" in _if(step), \
                    f"{job_id}: {uses} would be skipped when the gate fails"
            if uses.startswith("github/codeql-action/upload-sarif@"):
                assert _permissions(wf, job).get("security-events") == "write"
                assert step["with"].get("category")
                assert step["with"]["sarif_file"] in _files_written(path, job_id, "sarif")
            if uses.startswith("actions/upload-artifact@"):
                listed = {line.strip() for line in str(step["with"]["path"]).splitlines()}
                written = {f for fmt in REPORTERS for f in _files_written(path, job_id, fmt)}
                assert listed and listed <= written, f"{job_id}: uploads {listed - written}"
        for step in steps:
            run = step.get("run", "")
            # A step that captures the exit code to do more work must still end with it.
            if re.search(r"\|\|\s*status=\$\?", run):
                lines = [ln.strip() for ln in run.strip().splitlines()]
                assert lines[-1] == 'exit "$status"', f"{job_id}: exit code swallowed"


def test_github_pull_request_gate() -> None:
    path = EXAMPLES / "github-actions.yml"
    wf = _load(path)
    assert "pull_request" in _triggers(wf)
    # Code scanning compares a pull request with its base branch's latest analysis.
    assert "push" in _triggers(wf)
    gate = [inv for inv in _invocations(path)
            if inv.argv[:1] == ("check",) and "--base" in inv.argv]
    assert gate, "no `check --base` in the pull-request workflow"
    job = wf["jobs"][gate[0].job]
    step = next(s for s in job["steps"] if "--base" in s.get("run", ""))
    assert step.get("if") == "github.event_name == 'pull_request'"
    assert "github.base_ref" in json.dumps(step.get("env", {})) + step["run"]
    ns = _parse(gate[0].argv)
    assert ns is not None and ns.base.startswith("origin/")
    formats = dict(_formats(ns))
    assert {"sarif", "junit", "markdown", "github"} <= formats.keys()
    summary = [s for s in job["steps"] if "GITHUB_STEP_SUMMARY" in s.get("run", "")]
    assert summary and formats["markdown"] in summary[0]["run"]
    assert "!cancelled()" in _if(summary[0])


# -- GitLab CI ----------------------------------------------------------------------------

def _gitlab_job(doc: dict[str, Any], name: str) -> dict[str, Any]:
    """A job with its `extends` merged in (one level of hidden templates is all we use)."""
    job = dict(doc[name])
    parents = job.pop("extends", [])
    for parent in [parents] if isinstance(parents, str) else parents:
        merged = dict(_gitlab_job(doc, parent))
        for key, value in job.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
        job = merged
    return job


def test_gitlab_merge_request_gate() -> None:
    path = EXAMPLES / "gitlab-ci.yml"
    doc = _load(path)
    gate = [inv for inv in _invocations(path)
            if inv.argv[:1] == ("check",) and "--base" in inv.argv]
    assert gate, "no `check --base` in the GitLab example"
    job = _gitlab_job(doc, str(gate[0].job))
    assert {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'} in job["rules"]
    scripts = "\n".join(text for _, text in _scripts(job))
    assert str(job.get("variables", {}).get("GIT_DEPTH")) == "0" or "git fetch" in scripts
    assert "$CI_MERGE_REQUEST_TARGET_BRANCH_NAME" in scripts
    ns = _parse(gate[0].argv)
    assert ns is not None and ns.base.startswith("origin/")
    formats = dict(_formats(ns))
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always"
    assert artifacts["reports"]["junit"] == formats["junit"]
    assert formats["sarif"] in artifacts["paths"]


def test_gitlab_jobs_have_scripts() -> None:
    doc = _load(EXAMPLES / "gitlab-ci.yml")
    for name in _jobs(doc):
        if not name.startswith("."):
            job = _gitlab_job(doc, name)
            assert job.get("script"), f"{name}: no script"
            assert job.get("rules"), f"{name}: runs on every pipeline"


# -- offline validators, when present -----------------------------------------------------

def _vendored_schema(name: str) -> dict[str, Any]:
    try:
        vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
        return json.loads((vendor / name).read_text(encoding="utf-8"))
    except (ModuleNotFoundError, FileNotFoundError):
        pytest.skip("check-jsonschema (SchemaStore schemas) is not installed")


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_schemastore_schema(path: Path) -> None:
    import jsonschema

    doc = _load(path)
    if _is_github(doc):
        doc = {("on" if k is True else k): v for k, v in doc.items()}
        schema = _vendored_schema("github-workflows.json")
    else:
        schema = _vendored_schema("gitlab-ci.json")
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def test_actionlint() -> None:
    actionlint = shutil.which("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed")
    result = subprocess.run([actionlint, "-no-color", "-oneline", *map(str, GITHUB)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
