"""`check --base REF`: pull-request mode on real git repositories.

Only findings the merge base does not have fail the gate; moved files and shifted lines
make nothing new; the base is read from git objects and the working tree is untouched.
"""

from __future__ import annotations

import io
import json
import re
from contextlib import chdir, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import git
import pytest

from checker.cli import main

NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: erp
  labels:
    gitops-checker.io/tier: critical
"""

WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: erp
spec:
  replicas: 2
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
        - name: web
          image: odoo:17.0
          {extra}
"""

AUTHOR = git.Actor("Dana Developer", "dana@example.com")



def _run(cwd: Path, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with chdir(cwd), redirect_stdout(out), redirect_stderr(err):
        code = main(["check", *args, "--no-progress"])
    return code, out.getvalue(), err.getvalue()


def _json(cwd: Path, *args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = _run(cwd, *args, "--format", "json")
    assert "Traceback" not in err
    return code, json.loads(out)


def _commit(repo: git.Repo, message: str) -> git.Commit:
    repo.git.add(A=True)
    return repo.index.commit(message, author=AUTHOR, committer=AUTHOR)


@pytest.fixture
def repo(tmp_path: Path) -> git.Repo:
    """main: a namespace and a Deployment with an unknown field (SCH002) among others."""
    repo = git.Repo.init(tmp_path / "estate", initial_branch="main")
    root = Path(repo.working_tree_dir or "")
    (root / "apps").mkdir()
    (root / "apps" / "namespace.yaml").write_text(NAMESPACE)
    (root / "apps" / "web.yaml").write_text(WEB.format(name="web", extra="colour: blue"))
    _commit(repo, "estate")
    repo.git.checkout("-b", "feature")
    return repo


def _root(repo: git.Repo) -> Path:
    return Path(repo.working_tree_dir or "")


def _rules(findings: list[dict[str, Any]]) -> set[tuple[str, str | None]]:
    return {(f["rule_id"], f["location"]["path"]) for f in findings
            if f["suppressed_by"] is None}


def test_a_change_without_new_problems_passes_and_counts_what_was_there(
        repo: git.Repo) -> None:
    root = _root(repo)
    code, report = _json(root, ".", "--base", "main")
    _, full = _json(root, ".")
    assert code == 0
    assert report["base"]["new"] == 0
    assert report["base"]["unchanged"] == full["summary"]["findings"] > 0
    assert report["base"]["fixed"] == [] and report["base"]["errors"] == []
    assert all(f["suppressed_by"].startswith("base main (") for f in report["findings"])
    assert {f["details"]["baseline_state"] for f in report["findings"]} == {"unchanged"}


def test_only_new_findings_fail_and_fixed_ones_are_counted(repo: git.Repo) -> None:
    root = _root(repo)
    web = root / "apps" / "web.yaml"
    web.write_text(web.read_text().replace("colour: blue", ""))          # fixes SCH002
    (root / "apps" / "cron.yaml").write_text(
        WEB.format(name="cron", extra="flavour: mint"))                  # a new Deployment
    _commit(repo, "fix web, add cron")
    code, report = _json(root, ".", "--base", "main")
    assert code == 1
    new = [f for f in report["findings"] if f["suppressed_by"] is None]
    assert new and {f["location"]["path"] for f in new} == {"apps/cron.yaml"}
    assert ("SCH002", "apps/cron.yaml") in _rules(new)
    assert report["base"]["new"] == len(new)
    assert [(f["rule_id"], f["location"]["path"]) for f in report["base"]["fixed"]] == \
        [("SCH002", "apps/web.yaml")]
    assert {f["details"]["baseline_state"] for f in new} == {"new"}


def test_moving_files_and_shifting_lines_makes_nothing_new(repo: git.Repo) -> None:
    root = _root(repo)
    (root / "clusters" / "prod").mkdir(parents=True)
    repo.git.mv("apps/web.yaml", "clusters/prod/web.yaml")
    moved = root / "clusters" / "prod" / "web.yaml"
    moved.write_text("# moved here for the prod cluster\n\n" + moved.read_text())
    repo.git.mv("apps/namespace.yaml", "clusters/prod/namespace.yaml")
    _commit(repo, "move")
    code, report = _json(root, ".", "--base", "main")
    assert (code, report["base"]["new"], report["base"]["fixed"]) == (0, 0, [])
    assert report["base"]["unchanged"] > 0


def test_uncommitted_changes_are_what_is_judged_and_nothing_is_touched(
        repo: git.Repo) -> None:
    root = _root(repo)
    extra = root / "apps" / "worker.yaml"
    extra.write_text(WEB.format(name="worker", extra="size: xl"))        # untracked
    web = root / "apps" / "web.yaml"
    web.write_text(web.read_text() + "---\n")                            # modified, unstaged
    status, head = repo.git.status("--porcelain"), repo.head.commit.hexsha
    stamps = {p: p.stat().st_mtime_ns for p in root.rglob("*") if ".git" not in p.parts}
    code, report = _json(root, ".", "--base", "main")
    assert code == 1
    assert {f["location"]["path"] for f in report["findings"]
            if f["suppressed_by"] is None} == {"apps/worker.yaml"}
    assert repo.git.status("--porcelain") == status and repo.head.commit.hexsha == head
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*") if ".git" not in p.parts} == \
        stamps


def test_the_merge_base_is_the_comparison_not_the_tip_of_the_ref(repo: git.Repo) -> None:
    root = _root(repo)
    # main moves on after the branch: a finding added there is not this change's.
    repo.git.checkout("main")
    (root / "apps" / "batch.yaml").write_text(WEB.format(name="batch", extra="tint: red"))
    _commit(repo, "main moves on")
    repo.git.checkout("feature")
    (root / "apps" / "cron.yaml").write_text(WEB.format(name="cron", extra="flavour: mint"))
    _commit(repo, "add cron")
    code, report = _json(root, ".", "--base", "main")
    merge_base = repo.merge_base("main", "HEAD")[0].hexsha
    assert report["base"]["commit"] == merge_base
    assert code == 1
    assert {f["location"]["path"] for f in report["findings"]
            if f["suppressed_by"] is None} == {"apps/cron.yaml"}


def test_the_base_is_judged_by_its_own_configuration(repo: git.Repo) -> None:
    root = _root(repo)
    (root / ".gitops-checker.yaml").write_text("rules:\n  SCH002: {enabled: false}\n")
    _commit(repo, "config on main")
    repo.git.checkout("main")
    repo.git.merge("feature")
    repo.git.checkout("-b", "strict", "main")
    # The change switches the rule back on: the existing unknown field is its finding.
    (root / ".gitops-checker.yaml").write_text("rules: {}\n")
    _commit(repo, "enable SCH002")
    code, report = _json(root, ".", "--base", "main")
    assert code == 1
    assert _rules(report["findings"]) == {("SCH002", "apps/web.yaml")}


def test_text_and_markdown_list_new_findings_and_count_the_rest(repo: git.Repo) -> None:
    root = _root(repo)
    web = root / "apps" / "web.yaml"
    web.write_text(web.read_text().replace("colour: blue", ""))
    (root / "apps" / "cron.yaml").write_text(WEB.format(name="cron", extra="flavour: mint"))
    _commit(repo, "change")
    code, text, _ = _run(root, ".", "--base", "main")
    assert code == 1
    assert "apps/cron.yaml" in text and "SCH002" in text
    assert "apps/web.yaml\n" not in text          # the base's findings are not listed
    assert re.search(r"Compared with the merge base of main \([0-9a-f]{12}\): \d+ new, "
                     r"1 fixed, \d+ already there", text)
    assert "fixed: apps/web.yaml SCH002" in text
    _, markdown, _ = _run(root, ".", "--base", "main", "--format", "markdown")
    assert "Compared with the merge base of `main`" in markdown
    assert "1 fixed finding" in markdown and "base main" not in markdown


def test_sarif_marks_new_and_unchanged_results(repo: git.Repo) -> None:
    root = _root(repo)
    (root / "apps" / "cron.yaml").write_text(WEB.format(name="cron", extra="flavour: mint"))
    _commit(repo, "add cron")
    _, out, _ = _run(root, ".", "--base", "main", "--format", "sarif")
    results = json.loads(out)["runs"][0]["results"]
    states = {(r["baselineState"], r["locations"][0]["physicalLocation"]["artifactLocation"]
               ["uri"].rsplit("/", 1)[-1]) for r in results}
    assert states == {("new", "cron.yaml"), ("unchanged", "web.yaml")}
    assert all("suppressions" in r for r in results if r["baselineState"] == "unchanged")


@pytest.mark.parametrize(("args", "message"), [
    (("--base", "no-such-branch"), "--base no-such-branch: no such commit"),
    (("--base", "main", "--changed"), "cannot be used with --changed"),
])
def test_bad_requests_exit_2_with_a_clear_message(repo: git.Repo, args: tuple[str, ...],
                                                  message: str) -> None:
    code, _out, err = _run(_root(repo), ".", *args)
    assert code == 2 and message in err and "Traceback" not in err


def test_outside_a_repository_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "web.yaml").write_text(WEB.format(name="web", extra=""))
    code, _, err = _run(tmp_path, ".", "--base", "main")
    assert code == 2 and "--base needs a git repository" in err


def test_a_base_that_cannot_be_checked_leaves_every_finding_new(repo: git.Repo) -> None:
    root = _root(repo)
    repo.git.checkout("main")
    (root / ".gitops-checker.yaml").write_text("rules: [not, a, mapping]\n")
    _commit(repo, "broken config on main")
    repo.git.checkout("-b", "repair")
    (root / ".gitops-checker.yaml").unlink()
    _commit(repo, "repair config")
    code, report = _json(root, ".", "--base", "main")
    assert code == 1
    assert report["base"]["unchanged"] == 0 and report["base"]["new"] > 0
    [error] = report["base"]["errors"]
    assert "could not be checked" in error["message"]
    assert report["errors"] == []


SOD_CONFIG = """\
sod:
  protected:
    - paths: ["apps/**", ".gitops-checker.yaml"]
      approvers: [platform-leads]
  groups:
    platform-leads: ["lee@example.com"]
"""


def _protect(repo: git.Repo) -> None:
    """On main: apps/ and the config protected, owned by platform-leads."""
    root = _root(repo)
    repo.git.checkout("main")
    (root / ".gitops-checker.yaml").write_text(SOD_CONFIG)
    (root / "CODEOWNERS").write_text("apps/ @acme/platform-leads\n"
                                     "/.gitops-checker.yaml @acme/platform-leads\n")
    _commit(repo, "protect apps")


def test_segregation_of_duties_of_the_change_is_part_of_the_gate(repo: git.Repo) -> None:
    root = _root(repo)
    _protect(repo)
    repo.git.checkout("-b", "unreviewed")
    web = root / "apps" / "web.yaml"
    web.write_text(web.read_text().replace("replicas: 2", "replicas: 2\n  revisionHistoryLimit: 5"))
    _commit(repo, "scale web")                      # by Dana, approved by nobody
    code, report = _json(root, ".", "--base", "main")
    assert code == 1
    [finding] = [f for f in report["findings"] if f["rule_id"].startswith("GIT")]
    assert (finding["rule_id"], finding["location"]["path"]) == ("GIT001", "apps/web.yaml")
    assert finding["suppressed_by"] is None and finding["details"]["baseline_state"] == "new"
    assert report["base"]["new"] == 1


def test_a_change_cannot_weaken_the_rules_it_is_judged_by(repo: git.Repo) -> None:
    root = _root(repo)
    _protect(repo)
    repo.git.checkout("-b", "sneaky")
    (root / ".gitops-checker.yaml").write_text("sod:\n  protected: []\n")
    web = root / "apps" / "web.yaml"
    web.write_text(web.read_text().replace("replicas: 2", "replicas: 2\n  revisionHistoryLimit: 5"))
    _commit(repo, "drop protection, scale web")
    code, report = _json(root, ".", "--base", "main")
    assert code == 1
    found = {(f["rule_id"], f["location"]["path"]) for f in report["findings"]
             if f["rule_id"].startswith("GIT")}
    assert found == {("GIT001", ".gitops-checker.yaml")}, found


def test_approved_changes_pass_the_gate(repo: git.Repo) -> None:
    root = _root(repo)
    _protect(repo)
    repo.git.checkout("-b", "reviewed")
    web = root / "apps" / "web.yaml"
    web.write_text(web.read_text().replace("replicas: 2", "replicas: 2\n  revisionHistoryLimit: 5"))
    _commit(repo, "scale web\n\nApproved-by: Lee Lead <lee@example.com>\n")
    code, report = _json(root, ".", "--base", "main")
    assert [f for f in report["findings"] if f["rule_id"].startswith("GIT")] == []
    assert code == 0
