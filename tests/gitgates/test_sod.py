"""`gitops-checker sod`: segregation of duties in real git histories (docs/git-gates.md).

Every test builds a repository with gitpython and runs the command line on it.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from checker.cli import main
from checker.config import Config, load_config
from checker.errors import ConfigError
from checker.gitgates.codeowners import parse_codeowners
from checker.gitgates.settings import Identity
from checker.gitgates.sod import sod_findings
from tests.gitgates.sod_repo import ALICE, BOB, CAROL, DAVE, FIONA, Repo

CONFIG = """\
sod:
  protected:
    - paths: ["clusters/prod/**"]
      approvers: [platform-leads, finance-it]
    - paths: ["clusters/staging/**"]
      approvers: [platform-leads]
      tier: nonprod
  groups:
    platform-leads: ["alice@example.com", "Bob Builder <bob@example.com>"]
    finance-it: ["FIONA@example.com"]
  aliases:
    - ["alice@example.com", "alice@home.example"]
"""
OWNERS = "* @acme/platform-leads\n"


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    """No user or system git configuration (signing, hooks, templates) leaks in."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def _estate(tmp_path: Path, config: str = CONFIG, owners: str | None = OWNERS) -> Repo:
    """A repository whose first commit (the base of every range) holds the estate."""
    (tmp_path / "sod.yaml").write_text(config)
    repo = Repo(tmp_path / "repo")
    files = {"clusters/prod/odoo.yaml": "replicas: 2\n",
             "clusters/staging/odoo.yaml": "replicas: 1\n", "apps/tools.yaml": "a: 1\n"}
    if owners is not None:
        files[".github/CODEOWNERS"] = owners
    repo.commit(ALICE, "estate", files)
    repo.repo.create_tag("base")
    return repo


def _sod(repo: Repo, *args: str, config: Path | None = None) -> tuple[int, dict[str, Any], str]:
    out, err = io.StringIO(), io.StringIO()
    config = config or repo.path.parent / "sod.yaml"
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["sod", "--repo", str(repo.path), "--config", str(config),
                     "--format", "json", "--fail-on", "low", *args])
    report = json.loads(out.getvalue()) if out.getvalue() else {}
    return code, report, err.getvalue()


def _findings(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(f["rule_id"], f["location"]["path"], f["severity"]) for f in report["findings"]]


def _one(report: dict[str, Any], rule_id: str) -> dict[str, Any]:
    found = [f for f in report["findings"] if f["rule_id"] == rule_id]
    assert len(found) == 1, report["findings"]
    return found[0]


# -- approval by trailer ---------------------------------------------------------------------


def test_trailer_approval_by_another_group_member_passes(tmp_path: Path) -> None:
    repo = _estate(tmp_path)
    repo.commit(DAVE, f"prod: three replicas\n\nApproved-by: {FIONA}",
                {"clusters/prod/odoo.yaml": "replicas: 3\n"})
    repo.commit(DAVE, "staging too\n\nreviewed-by: bob@EXAMPLE.com",
                {"clusters/staging/odoo.yaml": "replicas: 3\n"})
    repo.commit(DAVE, "tools, unprotected", {"apps/tools.yaml": "a: 2\n"})
    code, report, err = _sod(repo, "--range", "base..HEAD")
    assert (code, err) == (0, ""), report
    assert report["findings"] == []
    assert report["summary"]["objects"] == 3 and report["summary"]["files"] == 3


def test_unapproved_change_is_git001_at_the_protected_file(tmp_path: Path) -> None:
    repo = _estate(tmp_path)
    short = repo.commit(DAVE, "prod: three replicas", {"clusters/prod/odoo.yaml": "r: 3\n",
                                                       "clusters/prod/db.yaml": "d: 1\n",
                                                       "apps/tools.yaml": "a: 2\n"})
    code, report, _ = _sod(repo, "--range", "base..HEAD")
    assert code == 1
    finding = _one(report, "GIT001")
    assert finding["location"] == {"path": "clusters/prod/db.yaml", "line": None,
                                   "column": None, "pointer": ""}
    assert finding["severity"] == "high" and finding["category"] == "git"
    assert finding["message"].startswith(
        f"commit {short} by {DAVE} changes protected clusters/prod/db.yaml and 1 more file(s) "
        "without enough approval: needs 1 approval(s) from platform-leads or finance-it by "
        "someone other than its author; no approval trailer and no merge by an approver")
    details = finding["details"]
    assert details["files"] == ["clusters/prod/db.yaml", "clusters/prod/odoo.yaml"]
    assert details["commit"] == repo.sha() and details["author"] == DAVE
    assert (details["tier"], details["tier_source"]) == (
        "critical", "sod.protected[0] (clusters/prod/**)")


def test_severity_follows_the_tier_of_the_protected_entry(tmp_path: Path) -> None:
    repo = _estate(tmp_path)
    repo.commit(DAVE, "staging", {"clusters/staging/odoo.yaml": "replicas: 2\n"})
    code, report, _ = _sod(repo, "--range", "base..HEAD")
    assert code == 1  # --fail-on low
    assert _findings(report) == [("GIT001", "clusters/staging/odoo.yaml", "low")]
    code, _, _ = _sod(repo, "--range", "base..HEAD", "--fail-on", "medium")
    assert code == 0


def test_approval_from_someone_in_no_required_group_does_not_count(tmp_path: Path) -> None:
    repo = _estate(tmp_path)
    repo.commit(DAVE, "prod\n\nApproved-by: Carol Contractor <carol@example.com>",
                {"clusters/prod/odoo.yaml": "replicas: 3\n"})
    # finance-it may approve prod, not staging
    repo.commit(DAVE, "staging\n\nApproved-by: fiona@example.com",
                {"clusters/staging/odoo.yaml": "replicas: 3\n"})
    code, report, _ = _sod(repo, "--range", "base..HEAD")
    assert code == 1
    assert _findings(report) == [("GIT001", "clusters/prod/odoo.yaml", "high"),
                                 ("GIT001", "clusters/staging/odoo.yaml", "low")]
    prod = report["findings"][0]
    assert f"; not counted: {CAROL} (Approved-by trailer of {prod['details']['commit'][:7]}): " \
        "in none of those groups" in prod["message"]
    assert prod["details"]["not_counted"][0]["identity"] == CAROL


def test_trailers_only_count_in_the_trailer_block(tmp_path: Path) -> None:
    repo = _estate(tmp_path)
    repo.commit(DAVE, "prod\n\nApproved-by: bob@example.com was asked, did not answer\n\n"
                "The body goes on.", {"clusters/prod/odoo.yaml": "replicas: 3\n"})
    code, report, _ = _sod(repo, "--range", "base..HEAD")
    assert code == 1 and _one(report, "GIT001")


# -- self-approval ---------------------------------------------------------------------------


def test_author_approving_own_commit_is_git002(tmp_path: Path) -> None:
    repo = _estate(tmp_path)
    short = repo.commit(ALICE, "prod\n\nApproved-by: ALICE@example.com",
                        {"clusters/prod/odoo.yaml": "replicas: 3\n"})
    code, report, _ = _sod(repo, "--range", "base..HEAD")
    assert code == 1
    finding = _one(report, "GIT002")
    assert finding["message"] == (
        f"commit {short} by {ALICE} changes protected clusters/prod/odoo.yaml and is approved "
        f"only by its author (ALICE@example.com via Approved-by trailer of {short}); needs 1 "
        "approval(s) from platform-leads or finance-it by someone other than its author")
    assert finding["details"]["self_approvals"] == [
        {"identity": "ALICE@example.com", "via": f"Approved-by trailer of {short}"}]


def test_another_identity_of_the_author_is_still_the_author(tmp_path: Path) -> None:
    repo = _estate(tmp_path)
    # an alias from sod.aliases
    repo.commit("Alice <alice@home.example>", "prod 1\n\nApproved-by: alice@example.com",
                {"clusters/prod/odoo.yaml": "replicas: 3\n"})
    # the name and email a group entry ties together
    repo.commit("Bob Builder <bob@laptop.local>", "prod 2\n\nReviewed-by: bob@example.com",
                {"clusters/prod/odoo.yaml": "replicas: 4\n"})
    # a co-author
    repo.commit(DAVE, "prod 3\n\nCo-authored-by: Fiona Finance <fiona@example.com>\n"
                "Approved-by: Fiona Finance <fiona@example.com>",
                {"clusters/prod/odoo.yaml": "replicas: 5\n"})
    code, report, _ = _sod(repo, "--range", "base..HEAD")
    assert code == 1
    assert [f["rule_id"] for f in report["findings"]] == ["GIT002"] * 3


def test_one_approver_counts_once_towards_min_approvals(tmp_path: Path) -> None:
    config = CONFIG.replace("approvers: [platform-leads, finance-it]\n",
                            "approvers: [platform-leads, finance-it]\n      min_approvals: 2\n")
    repo = _estate(tmp_path, config)
    repo.commit(DAVE, "prod\n\nApproved-by: fiona@example.com\n"
                "Reviewed-by: Fiona Finance <fiona@example.com>",
                {"clusters/prod/odoo.yaml": "replicas: 3\n"})
    code, report, _ = _sod(repo, "--range", "base..HEAD")
    assert code == 1
    assert "(has 1: fiona@example.com)" in _one(report, "GIT001")["message"]
    repo.commit(DAVE, "prod\n\nApproved-by: fiona@example.com\nApproved-by: bob@example.com",
                {"clusters/prod/odoo.yaml": "replicas: 4\n"})
    code, report, _ = _sod(repo, "--range", "HEAD~1..HEAD")
    assert (code, report["findings"]) == (0, [])


# -- merges ----------------------------------------------------------------------------------


def test_merge_by_an_approver_approves_what_it_brings_in(tmp_path: Path) -> None:
    repo = _estate(tmp_path)
    repo.branch("feature")
    repo.commit(DAVE, "prod 1", {"clusters/prod/odoo.yaml": "replicas: 3\n"})
    repo.commit(DAVE, "prod 2", {"clusters/prod/db.yaml": "d: 1\n"})
    repo.checkout("main")
    repo.commit(CAROL, "tools", {"apps/tools.yaml": "a: 2\n"})
    repo.merge(BOB, "feature", "Merge branch 'feature'")
    code, report, _ = _sod(repo, "--range", "base..HEAD")
    assert (code, report["findings"]) == (0, [])
    assert report["summary"]["objects"] == 4


def test_author_merging_own_branch_is_self_approval(tmp_path: Path) -> None:
    repo = _estate(tmp_path)
    repo.branch("feature")
    short = repo.commit(ALICE, "prod", {"clusters/prod/odoo.yaml": "replicas: 3\n"})
    repo.checkout("main")
    merge = repo.merge(ALICE, "feature", "Merge branch 'feature'")
    code, report, _ = _sod(repo, "--range", "base..HEAD")
    assert code == 1
    finding = _one(report, "GIT002")
    assert finding["message"].startswith(f"commit {short} by {ALICE}")
    assert f"({ALICE} via merge {merge})" in finding["message"]


def test_approval_trailers_of_the_merge_commit_count(tmp_path: Path) -> None:
    """GitLab-style: the merge request's approvals are trailers of the merge commit."""
    repo = _estate(tmp_path)
    repo.branch("feature")
    repo.commit(DAVE, "prod", {"clusters/prod/odoo.yaml": "replicas: 3\n"})
    repo.checkout("main")
    repo.merge(DAVE, "feature", "Merge branch 'feature' into 'main'\n\nSee merge request !7\n\n"
               "Approved-by: Bob Builder <bob@example.com>")
    code, report, _ = _sod(repo, "--range", "base..HEAD")
    assert (code, report["findings"]) == (0, [])


def test_with_trusted_committers_only_approvals_the_forge_recorded_count(
        tmp_path: Path) -> None:
    github = "GitHub <noreply@github.com>"
    repo = _estate(tmp_path, CONFIG + '  trusted_committers: ["noreply@github.com"]\n')
    repo.branch("typed")
    typed = repo.commit(DAVE, "prod\n\nApproved-by: bob@example.com",
                        {"clusters/prod/odoo.yaml": "replicas: 3\n"})
    repo.checkout("main")
    repo.branch("reviewed")
    repo.commit(CAROL, "prod db", {"clusters/prod/db.yaml": "d: 1\n"})
    repo.checkout("main")
    local = repo.merge(ALICE, "typed", "Merge typed")  # a local merge: anyone can write it
    repo.merge(BOB, "reviewed", "Merge pull request #8", committer=github)  # the web merge
    code, report, _ = _sod(repo, "--range", "base..HEAD")
    assert code == 1
    finding = _one(report, "GIT001")
    assert finding["details"]["commit"][:7] == typed
    assert finding["details"]["not_counted"] == [
        {"identity": "bob@example.com", "via": f"Approved-by trailer of {typed}",
         "why": f"{typed} was committed by {DAVE}, not by a trusted committer"},
        {"identity": ALICE, "via": f"merge {local}",
         "why": f"{local} was committed by {ALICE}, not by a trusted committer"}]


def test_conflict_resolution_in_a_merge_is_a_change_of_its_own(tmp_path: Path) -> None:
    repo = _estate(tmp_path)
    repo.branch("feature")
    repo.commit(DAVE, "feature\n\nApproved-by: fiona@example.com",
                {"clusters/prod/odoo.yaml": "replicas: 3\n"})
    repo.checkout("main")
    repo.commit(CAROL, "main\n\nApproved-by: fiona@example.com",
                {"clusters/prod/odoo.yaml": "replicas: 4\n"})
    merge = repo.merge(BOB, "feature", "Merge branch 'feature'",
                       resolve={"clusters/prod/odoo.yaml": "replicas: 9\n"})
    code, report, _ = _sod(repo, "--range", "base..HEAD")
    assert code == 1
    finding = _one(report, "GIT001")
    assert finding["message"].startswith(
        f"merge {merge} by {BOB} changes protected clusters/prod/odoo.yaml in the merge itself "
        "(beyond git's automatic merge) without enough approval")


def test_a_clean_merge_is_not_a_change_and_a_reviewed_resolution_passes(tmp_path: Path) -> None:
    repo = _estate(tmp_path)
    repo.branch("feature")
    repo.commit(DAVE, "feature\n\nApproved-by: fiona@example.com",
                {"clusters/prod/odoo.yaml": "replicas: 3\n"})
    repo.checkout("main")
    repo.commit(CAROL, "main\n\nApproved-by: fiona@example.com",
                {"clusters/prod/odoo.yaml": "replicas: 4\n"})
    repo.merge(BOB, "feature", "Merge branch 'feature'\n\nReviewed-by: fiona@example.com",
               resolve={"clusters/prod/odoo.yaml": "replicas: 9\n"})
    code, report, _ = _sod(repo, "--range", "base..HEAD")
    assert (code, report["findings"]) == (0, [])


# -- renames ---------------------------------------------------------------------------------


def test_renames_into_and_out_of_protected_paths_are_protected_changes(tmp_path: Path) -> None:
    repo = _estate(tmp_path)
    into = repo.commit(DAVE, "promote tools to prod",
                       renames={"apps/tools.yaml": "clusters/prod/tools.yaml"})
    out = repo.commit(DAVE, "retire the prod odoo",
                      renames={"clusters/prod/odoo.yaml": "archive/odoo.yaml"})
    code, report, _ = _sod(repo, "--range", "base..HEAD")
    assert code == 1
    assert _findings(report) == [("GIT001", "clusters/prod/odoo.yaml", "high"),
                                 ("GIT001", "clusters/prod/tools.yaml", "high")]
    by_commit = {f["details"]["commit"][:7]: f for f in report["findings"]}
    assert by_commit[into]["details"]["renames"] == [
        {"from": "apps/tools.yaml", "to": "clusters/prod/tools.yaml"}]
    assert by_commit[out]["details"]["renames"] == [
        {"from": "clusters/prod/odoo.yaml", "to": "archive/odoo.yaml"}]


# -- signatures ------------------------------------------------------------------------------


SIGNED = CONFIG.replace("approvers: [platform-leads, finance-it]\n",
                        "approvers: [platform-leads, finance-it]\n      require_signed: true\n")


def test_unsigned_commit_on_a_signed_path_is_git003(tmp_path: Path) -> None:
    repo = _estate(tmp_path, SIGNED)
    short = repo.commit(DAVE, "prod\n\nApproved-by: bob@example.com",
                        {"clusters/prod/odoo.yaml": "replicas: 3\n"})
    repo.commit(DAVE, "staging needs no signature", {"clusters/staging/odoo.yaml": "r: 3\n"})
    code, report, _ = _sod(repo, "--range", "base..HEAD", "--fail-on", "high")
    assert code == 1
    finding = _one(report, "GIT003")
    assert finding["message"] == (
        f"commit {short} by {DAVE} changes protected clusters/prod/odoo.yaml and is not signed "
        "(sod.protected[0] (clusters/prod/**) requires signed commits)")


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")
def test_ssh_signed_commit_passes(tmp_path: Path) -> None:
    key = tmp_path / "signing-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dave", "-f",
                    str(key)], check=True)
    repo = _estate(tmp_path, SIGNED)
    repo.commit(DAVE, "prod\n\nApproved-by: bob@example.com",
                {"clusters/prod/odoo.yaml": "replicas: 3\n"}, signing_key=key)
    assert repo.repo.head.commit.gpgsig  # a real SSH signature, not verified by sod
    code, report, _ = _sod(repo, "--range", "base..HEAD")
    assert (code, report["findings"]) == (0, [])


def test_merges_that_bring_protected_changes_must_be_signed_too(tmp_path: Path) -> None:
    key = tmp_path / "signing-key"
    if shutil.which("ssh-keygen") is None:
        pytest.skip("needs ssh-keygen")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    repo = _estate(tmp_path, SIGNED)
    repo.branch("feature")
    repo.commit(DAVE, "prod", {"clusters/prod/odoo.yaml": "replicas: 3\n"}, signing_key=key)
    repo.checkout("main")
    merge = repo.merge(BOB, "feature", "Merge branch 'feature'")
    code, report, _ = _sod(repo, "--range", "base..HEAD")
    assert code == 1
    assert _one(report, "GIT003")["message"].startswith(f"merge {merge} by {BOB}")


# -- CODEOWNERS ------------------------------------------------------------------------------


def test_no_codeowners_file_is_one_git004_per_protected_entry(tmp_path: Path) -> None:
    repo = _estate(tmp_path, owners=None)
    code, report, _ = _sod(repo, "--range", "base..HEAD")  # an empty range
    assert code == 1
    assert _findings(report) == [("GIT004", ".github/CODEOWNERS", "high"),
                                 ("GIT004", ".github/CODEOWNERS", "low")]
    assert report["findings"][0]["message"] == (
        "no CODEOWNERS file at HEAD (looked for .github/CODEOWNERS, CODEOWNERS, "
        "docs/CODEOWNERS): the 1 file(s) under protected sod.protected[0] (clusters/prod/**) "
        "have no owners")


def test_protected_files_the_last_matching_line_leaves_unowned_are_git004(
        tmp_path: Path) -> None:
    owners = ("# owners\n/clusters/ @acme/platform-leads\n"
              "clusters/prod/*.yaml @acme/finance-it fiona@example.com\n"
              "/clusters/prod/generated/\n")
    repo = _estate(tmp_path, owners=owners)
    repo.commit(BOB, "generated\n\nApproved-by: fiona@example.com",
                {"clusters/prod/generated/x.yaml": "x: 1\n"})
    code, report, _ = _sod(repo, "--range", "base..HEAD")
    assert code == 1
    finding = _one(report, "GIT004")
    assert finding["location"]["path"] == "clusters/prod/generated/x.yaml"
    assert finding["message"] == (
        "clusters/prod/generated/x.yaml is protected (sod.protected[0] (clusters/prod/**)) but "
        "has no code owner: line 4 of .github/CODEOWNERS ('/clusters/prod/generated/') gives "
        "it no owner")


def test_owner_group_approving_its_own_change_is_git005(tmp_path: Path) -> None:
    repo = _estate(tmp_path, owners="/clusters/prod/ @acme/platform-leads\n")
    short = repo.commit(ALICE, "prod\n\nApproved-by: Bob Builder <bob@example.com>",
                        {"clusters/prod/odoo.yaml": "replicas: 3\n"})
    repo.commit(ALICE, "prod again\n\nApproved-by: Fiona Finance <fiona@example.com>",
                {"clusters/prod/odoo.yaml": "replicas: 4\n"})
    repo.commit(DAVE, "prod by someone outside the team\n\nApproved-by: bob@example.com",
                {"clusters/prod/odoo.yaml": "replicas: 5\n"})
    code, report, _ = _sod(repo, "--range", "base..HEAD")
    assert code == 1
    finding = _one(report, "GIT005")
    assert finding["severity"] == "medium"
    assert finding["message"] == (
        f"commit {short} by {ALICE} changes protected clusters/prod/odoo.yaml owned by "
        "platform-leads (in .github/CODEOWNERS) and is approved only by members of that same "
        f"group ({BOB}): the owning group approves its own change")
    code, _, _ = _sod(repo, "--range", "base..HEAD", "--fail-on", "high")
    assert code == 0


def test_ownership_is_read_from_the_base_so_a_change_cannot_reassign_it(
        tmp_path: Path) -> None:
    repo = _estate(tmp_path, owners="/clusters/prod/ @acme/platform-leads\n")
    repo.commit(ALICE, "prod, and hand the directory to finance\n\nApproved-by: bob@example.com",
                {"clusters/prod/odoo.yaml": "replicas: 3\n",
                 ".github/CODEOWNERS": "/clusters/prod/ @acme/finance-it\n"})
    code, report, _ = _sod(repo, "--range", "base..HEAD")
    assert code == 1 and _one(report, "GIT005")


def test_codeowners_patterns_follow_github() -> None:
    owners = parse_codeowners(
        "*  @acme/everyone\n*.sql dba@example.com\n/docs/* @docs\napps/ @acme/apps\n"
        "/clusters/prod @acme/leads  # prod\nclusters/prod/tmp/\n[GitLab section]\n"
        "**/secrets/** @acme/security\n", "CODEOWNERS")
    assert owners.owners_of("README.md") == ("@acme/everyone",)
    assert owners.owners_of("db/x.sql") == ("dba@example.com",)
    assert owners.owners_of("docs/a.md") == ("@docs",)
    assert owners.owners_of("docs/sub/b.md") == ("@acme/everyone",)  # `*` does not descend
    assert owners.owners_of("x/apps/y.yaml") == ("@acme/apps",)
    assert owners.owners_of("clusters/prod/a.yaml") == ("@acme/leads",)
    assert owners.owners_of("clusters/prod/tmp/a.yaml") == ()
    assert owners.owners_of("clusters/production/a.yaml") == ("@acme/everyone",)
    assert owners.owners_of("a/secrets/b/c") == ("@acme/security",)
    assert owners.problems == ()
    broken = parse_codeowners("/x not-an-owner\n", "CODEOWNERS")
    assert broken.rules == () and broken.problems[0][0] == 1


def test_unreadable_codeowners_line_is_an_error(tmp_path: Path) -> None:
    repo = _estate(tmp_path, owners="* @acme/platform-leads\n/clusters/prod/ !!\n")
    code, report, _ = _sod(repo, "--range", "base..HEAD")
    assert code == 2
    assert report["errors"][0]["path"] == ".github/CODEOWNERS"
    assert report["errors"][0]["line"] == 2


# -- configuration, exceptions, other formats -------------------------------------------------


def test_exceptions_and_rule_settings_apply_and_pack_rule_settings_do_not_break_sod(
        tmp_path: Path) -> None:
    config = CONFIG + (
        "rules:\n  REP001: {severity: low}\n  unsigned-commit: {enabled: false}\n"
        "  GIT001: {severity: critical}\n"
        "exceptions:\n  - rules: [GIT001, RUN001]\n    paths: [clusters/staging/**]\n"
        "    reason: staging is rebuilt nightly\n")
    repo = _estate(tmp_path, config)
    repo.commit(DAVE, "both", {"clusters/prod/odoo.yaml": "r: 3\n",
                               "clusters/staging/odoo.yaml": "r: 3\n"})
    code, report, _ = _sod(repo, "--range", "base..HEAD")
    assert code == 1
    prod, staging = report["findings"]
    assert (prod["rule_id"], prod["severity"], prod["suppressed_by"]) == \
        ("GIT001", "critical", None)
    assert staging["suppressed_by"] == "config exception #1: staging is rebuilt nightly"


def test_misspelt_git_rule_is_a_config_error(tmp_path: Path) -> None:
    repo = _estate(tmp_path, CONFIG + "rules:\n  GIT010: {enabled: false}\n")
    code, report, err = _sod(repo, "--range", "base..HEAD")
    assert (code, report) == (2, {})
    assert "unknown rule GIT010" in err and "Traceback" not in err


def test_config_is_validated(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG.replace("[platform-leads]", "[platform-lead]"))
    with pytest.raises(ConfigError, match=r"unknown group\(s\) platform-lead"):
        load_config(path)
    path.write_text(CONFIG.replace("tier: nonprod", "tier: prod"))
    with pytest.raises(ConfigError, match="sod.protected.1.tier"):
        load_config(path)
    path.write_text(CONFIG + "  approvers: []\n")
    with pytest.raises(ConfigError, match="unknown key 'sod.approvers'"):
        load_config(path)
    path.write_text(CONFIG)
    settings = load_config(path).sod
    assert settings.protected[1].tier == "nonprod" and settings.protected[0].min_approvals == 1
    assert settings.in_group(Identity.parse("Fiona F <fiona@EXAMPLE.com>"), "finance-it")
    assert not settings.in_group(Identity.parse("Bob Builder <bob@elsewhere.example>"),
                                 "platform-leads")  # an entry with an email needs the email
    assert settings.in_group(Identity.parse("alice@home.example"), "platform-leads")  # alias


def test_text_and_sarif_reports(tmp_path: Path) -> None:
    repo = _estate(tmp_path)
    repo.commit(DAVE, "prod", {"clusters/prod/odoo.yaml": "replicas: 3\n"})
    sarif = tmp_path / "out.sarif"
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["sod", "--repo", str(repo.path), "--config", str(tmp_path / "sod.yaml"),
                     "--base", "base", "--format", "text", "--format", f"sarif={sarif}"])
    assert code == 1
    assert "GIT001 unapproved-change" in out.getvalue()
    result = json.loads(sarif.read_text())["runs"][0]["results"][0]
    assert result["ruleId"] == "GIT001"
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
        "clusters/prod/odoo.yaml"


# -- what cannot be decided ------------------------------------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (("--range", "nope..HEAD"), "unknown revision 'nope'"),
    (("--range", "base...HEAD"), "expected BASE..HEAD"),
    (("--range", "HEAD"), "expected BASE..HEAD"),
    (("--base", "missing"), "unknown revision 'missing'"),
])
def test_bad_ranges_exit_2_with_a_message(tmp_path: Path, args: tuple[str, ...],
                                          message: str) -> None:
    repo = _estate(tmp_path)
    code, report, err = _sod(repo, *args)
    assert (code, report) == (2, {})
    assert message in err and "Traceback" not in err


def test_not_a_repository_or_no_sod_config_exits_2(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "sod.yaml").write_text(CONFIG)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["sod", "--repo", str(tmp_path / "plain"), "--range", "a..b"])
    assert code == 2 and "is not in a git repository" in err.getvalue()
    repo = _estate(tmp_path)
    (tmp_path / "empty.yaml").write_text("fail_on: high\n")
    code, _, err_text = _sod(repo, "--range", "base..HEAD", config=tmp_path / "empty.yaml")
    assert code == 2 and "no `sod.protected` paths" in err_text


def test_shallow_history_inside_the_range_is_an_error(tmp_path: Path) -> None:
    repo = _estate(tmp_path)
    repo.commit(DAVE, "one\n\nApproved-by: bob@example.com", {"apps/tools.yaml": "a: 2\n"})
    repo.commit(DAVE, "two\n\nApproved-by: bob@example.com", {"apps/tools.yaml": "a: 3\n"})
    repo.branch("other", "base")
    repo.checkout("main")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--depth", "2", "--no-single-branch",
                    f"file://{repo.path}", str(clone)], check=True)
    code, report, _ = _sod(Repo(clone, existing=True), "--range", "origin/other..origin/main",
                           config=tmp_path / "sod.yaml")
    assert code == 2
    assert "the clone is shallow inside the range" in report["errors"][0]["message"]


def test_sod_findings_for_check_base(tmp_path: Path) -> None:
    repo = _estate(tmp_path)
    repo.commit(DAVE, "prod", {"clusters/prod/odoo.yaml": "replicas: 3\n"})
    config = load_config(tmp_path / "sod.yaml")
    findings, errors = sod_findings(repo.path / "clusters", "base..HEAD", config)
    assert errors == [] and [f.rule_id for f in findings] == ["GIT001"]
    findings, errors = sod_findings(repo.path, "nope..HEAD", config)
    assert findings == [] and "unknown revision 'nope'" in errors[0].message
    assert sod_findings(repo.path, "base..HEAD", Config()) == ([], [])


def test_rules_explain_knows_the_git_rules() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["rules", "explain", "owners-approve-own-changes"])
    assert code == 0
    assert out.getvalue().startswith("GIT005 owners-approve-own-changes\nseverity: medium "
                                     "(critical medium, nonprod info, standard low)")
