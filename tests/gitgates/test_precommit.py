"""The pre-commit hooks of `.pre-commit-hooks.yaml`, run for real by the `pre-commit` tool.

A throwaway git repository holds a copy of this working tree (uncommitted changes included)
at one commit: that is the hook repository (`repo:` and `rev:` of a user's config). A second
repository is a small estate with a `.pre-commit-config.yaml` naming it. pre-commit clones
the hook repository, builds each hook's virtualenv with `pip install .` (a real, non-editable
install: the wheel's own copy of schemas/ and rules/) and runs the hooks on `git commit`.

Offline: pip is pointed at the wheelhouse `make install` builds beside the venv
(`$VENV/wheelhouse`) with no index. The hook environments are built once per test session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
WHEELHOUSE = Path(sys.prefix) / "wheelhouse"
TIMEOUT = 600

NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels:
    gitops-checker.io/tier: standard
"""

WEB = """\
apiVersion: v1
kind: ServiceAccount
metadata:
  name: web
  namespace: shop
automountServiceAccountToken: false
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels:
    team: shop
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      serviceAccountName: web
      automountServiceAccountToken: false
      containers:
        - name: web
          image: registry.example.com/shop/web:1.4.2
          ports:
            - containerPort: 8080
          readinessProbe:
            httpGet:
              path: /healthz
              port: 8080
          resources:
            requests:
              cpu: 100m
              memory: 128Mi
            limits:
              cpu: 400m
              memory: 256Mi
"""

# A schema error (SCH002: `restartPolice`), a bundled Rego rule (SEC003: privileged) and the
# estate's own pack (SHOP001: no team label).
WORKER = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels:
      app: worker
  template:
    metadata:
      labels:
        app: worker
    spec:
      serviceAccountName: web
      automountServiceAccountToken: false
      containers:
        - name: worker
          image: registry.example.com/shop/worker:2.0.1
          restartPolice: Always
          readinessProbe:
            exec:
              command: [worker, --ready]
          securityContext:
            privileged: true
          resources:
            requests:
              cpu: 100m
              memory: 128Mi
            limits:
              cpu: 400m
              memory: 256Mi
"""

CONFIG = """\
policies:
  - policy/shop
exclude:
  - policy/
"""

PACK = """\
name: shop
description: The shop team's own rules.
"""

TEAM_RULE = """\
package shop.team_label

import rego.v1

# METADATA
# title: Workloads name their team
# description: Every Deployment carries a `team` label, so that alerts reach someone.
# custom:
#   id: SHOP001
#   name: team-label-missing
#   severity: high
#   category: ownership
#   remediation: Add metadata.labels.team.
deny contains result if {
	input.kind == "Deployment"
	not input.metadata.labels.%s
	result := {"msg": sprintf("Deployment %%s has no team label", [input.metadata.name]),
	           "pointer": "/metadata"}
}
"""

TEAM_TEST = """\
package shop.team_label_test

import rego.v1

import data.shop.team_label

test_unlabelled_deployment_is_denied if {
	count(team_label.deny) == 1 with input as {"kind": "Deployment", "metadata": {"name": "w"}}
}

test_labelled_deployment_passes if {
	deployment := {"kind": "Deployment", "metadata": {"name": "w", "labels": {"team": "x"}}}
	count(team_label.deny) == 0 with input as deployment
}
"""

PRE_COMMIT_CONFIG = """\
repos:
  - repo: {repo}
    rev: {rev}
    hooks:
      - id: gitops-checker-schema
      - id: gitops-checker
      - id: gitops-checker-test
        args: [policy/shop]
        files: ^policy/
"""


@dataclass(frozen=True)
class HookRepo:
    path: Path
    rev: str


def _git(cwd: Path, *args: str, env: dict[str, str]) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT, check=True)
    return done.stdout.strip()


def _base_env(pre_commit_home: Path) -> dict[str, str]:
    """The caller's environment without anything that would make pip, virtualenv, git or
    pre-commit reach beyond this machine or the temporary directories (or, when the suite
    itself runs inside a git hook, at the caller's repository)."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PIP_", "VIRTUALENV_", "PRE_COMMIT", "GIT_", "PYTHON"))}
    env.update({
        "PRE_COMMIT_HOME": str(pre_commit_home),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(WHEELHOUSE),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "VIRTUALENV_NO_PERIODIC_UPDATE": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Dana Developer", "GIT_AUTHOR_EMAIL": "dana@example.com",
        "GIT_COMMITTER_NAME": "Dana Developer", "GIT_COMMITTER_EMAIL": "dana@example.com",
    })
    return env


def _hook_env(pre_commit_home: Path) -> dict[str, str]:
    """As a user on Python < 3.14 builds the hook environments (docs/git-gates.md)."""
    return {**_base_env(pre_commit_home), "PIP_IGNORE_REQUIRES_PYTHON": "1"}


def _tree_files() -> list[Path]:
    """The working tree as git would commit it with `git add -A`: tracked and untracked
    files, less the ignored ones (.venv, build/, caches)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO_ROOT, capture_output=True, timeout=60, check=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("GIT_")}).stdout
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: every file
        skip = {".git", ".venv", "build", "dist", "__pycache__", ".mypy_cache",
                ".ruff_cache", ".pytest_cache"}
        return [p.relative_to(REPO_ROOT) for p in REPO_ROOT.rglob("*")
                if p.is_file() and not skip & set(p.relative_to(REPO_ROOT).parts)
                and not any(part.endswith(".egg-info") for part in p.parts)]
    return [Path(name) for name in listed.decode().split("\0") if name]


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> HookRepo:
    if not any(WHEELHOUSE.glob("setuptools-*.whl")):
        pytest.fail(f"no wheelhouse at {WHEELHOUSE}: `make install` builds it (the hook "
                    "environments are built from it, offline); run `make install`")
    path = tmp_path_factory.mktemp("hook-repo")
    for name in _tree_files():
        source = REPO_ROOT / name
        if source.is_file():  # tracked files deleted in the working tree are left out
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, path / name)
    env = _base_env(tmp_path_factory.mktemp("unused-home"))
    _git(path, "init", "--quiet", env=env)
    _git(path, "add", "--all", env=env)
    _git(path, "commit", "--quiet", "--no-verify", "-m", "the working tree", env=env)
    return HookRepo(path, _git(path, "rev-parse", "HEAD", env=env))


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def _pre_commit(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pre_commit", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)


def _commit(cwd: Path, message: str, env: dict[str, str]) -> tuple[int, str]:
    """`git commit`, which runs the installed pre-commit hook: its code and output."""
    done = subprocess.run(["git", "commit", "-m", message], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)
    return done.returncode, done.stdout + done.stderr


def _estate(path: Path, hooks: HookRepo, env: dict[str, str]) -> Path:
    path.mkdir()
    files = {
        "namespace.yaml": NAMESPACE,
        "apps/web.yaml": WEB,
        ".gitops-checker.yaml": CONFIG,
        "policy/shop/pack.yaml": PACK,
        "policy/shop/team_label.rego": TEAM_RULE % "team",
        "policy/shop/team_label_test.rego": TEAM_TEST,
        ".pre-commit-config.yaml": PRE_COMMIT_CONFIG.format(repo=hooks.path, rev=hooks.rev),
    }
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text, encoding="utf-8")
    _git(path, "init", "--quiet", env=env)
    return path


def _commits(path: Path, env: dict[str, str]) -> int:
    return int(_git(path, "rev-list", "--count", "--all", env=env) or 0)


@pytest.mark.slow
def test_hooks_gate_git_commits(tmp_path: Path, hook_repo: HookRepo,
                                pre_commit_home: Path) -> None:
    env = _hook_env(pre_commit_home)
    estate = _estate(tmp_path / "estate", hook_repo, env)
    installed = _pre_commit(estate, "install", env=env)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    built = _pre_commit(estate, "install-hooks", env=env)
    assert built.returncode == 0, built.stdout + built.stderr

    # A good change: every hook runs and passes, the commit is made.
    _git(estate, "add", "--all", env=env)
    code, output = _commit(estate, "shop: web", env)
    assert code == 0, output
    for name in ("gitops-checker (schemas)", "gitops-checker (schemas and policies)",
                 "gitops-checker (rule pack tests)"):
        assert any(line.startswith(name) and line.endswith("Passed")
                   for line in output.splitlines()), output
    assert _commits(estate, env) == 1

    # A bad manifest: the schema hook and the policy hook fail, naming the file and the
    # rules; the unchanged web.yaml is not reported; no commit is made.
    (estate / "apps" / "worker.yaml").write_text(WORKER, encoding="utf-8")
    _git(estate, "add", "--all", env=env)
    code, output = _commit(estate, "shop: worker", env)
    assert code != 0, output
    schema_part, _, policy_part = output.partition("gitops-checker (schemas and policies)")
    assert any(line.startswith("gitops-checker (schemas).") and line.endswith("Failed")
               for line in schema_part.splitlines()), output
    assert "apps/worker.yaml" in schema_part and "SCH002" in schema_part, output
    assert "SEC003" not in schema_part and "SHOP001" not in schema_part, output  # schema only
    for expected in ("Failed", "apps/worker.yaml", "SCH002", "SEC003", "SHOP001",
                     "Deployment/shop/worker"):
        assert expected in policy_part, output
    assert "Deployment/shop/web" not in output, output
    assert "(rule pack tests)" in output and "Skipped" in output, output  # no pack file
    assert _commits(estate, env) == 1

    # A broken rule: the pack's own tests fail the commit (the manifests' hooks skip).
    _git(estate, "reset", "--quiet", "HEAD", "--", "apps/worker.yaml", env=env)
    (estate / "apps" / "worker.yaml").unlink()
    (estate / "policy/shop/team_label.rego").write_text(TEAM_RULE % "owner", encoding="utf-8")
    _git(estate, "add", "--all", env=env)
    code, output = _commit(estate, "shop: owner label", env)
    assert code != 0, output
    assert "FAIL  shop/team_label_test.rego::test_labelled_deployment_passes" in output, output
    assert "1 passed, 1 failed" in output, output
    assert _commits(estate, env) == 1


@pytest.mark.slow
def test_try_repo_runs_a_hook_on_named_files(tmp_path: Path, hook_repo: HookRepo,
                                             pre_commit_home: Path) -> None:
    """`pre-commit try-repo`, as a hook author tries hooks before tagging a release (it
    builds the hook's environment afresh, in a store of its own, at each call)."""
    env = _hook_env(pre_commit_home)
    estate = _estate(tmp_path / "estate", hook_repo, env)
    (estate / "apps" / "worker.yaml").write_text(WORKER, encoding="utf-8")
    _git(estate, "add", "--all", env=env)
    tried = _pre_commit(estate, "try-repo", str(hook_repo.path), "gitops-checker-schema",
                        "--ref", hook_repo.rev, "--files", "apps/worker.yaml", "apps/web.yaml",
                        env=env)
    output = tried.stdout + tried.stderr
    assert tried.returncode == 1, output
    assert "apps/worker.yaml" in output and "SCH002" in output, output
    assert "Deployment/shop/web" not in output, output


@pytest.mark.slow
@pytest.mark.skipif(sys.version_info >= (3, 14), reason="the OPA wheel installs as it is")
def test_policy_hook_env_needs_ignore_requires_python_before_314(
        tmp_path: Path, hook_repo: HookRepo) -> None:
    """Without PIP_IGNORE_REQUIRES_PYTHON the OPA wheel is refused: the hook environment is
    not built, with pip's reason, instead of a hook that cannot evaluate Rego."""
    env = _base_env(tmp_path / "pre-commit-home")
    estate = _estate(tmp_path / "estate", hook_repo, env)
    config = PRE_COMMIT_CONFIG.format(repo=hook_repo.path, rev=hook_repo.rev)
    config = config.split("      - id: gitops-checker-schema\n")[0] + \
        "      - id: gitops-checker\n"
    (estate / ".pre-commit-config.yaml").write_text(config, encoding="utf-8")
    built = _pre_commit(estate, "install-hooks", env=env)
    output = built.stdout + built.stderr
    log = tmp_path / "pre-commit-home" / "pre-commit.log"
    output += log.read_text(encoding="utf-8") if log.is_file() else ""
    assert built.returncode != 0, output
    assert "'opa-golib-python-bindings' requires a different Python" in output, output
