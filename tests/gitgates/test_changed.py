"""`check --changed FILE…`: the pre-commit view of the estate.

The contract: the findings reported for a set of changed files are exactly the findings a
full check reports located in those files — no more (nothing from other files), no less
(estate-wide rules and tiers still see the whole estate).
"""

from __future__ import annotations

import io
import json
import shutil
from contextlib import chdir, redirect_stderr, redirect_stdout
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from checker.cli import main

REPO_ROOT = Path(__file__).resolve().parents[2]
ESTATE = REPO_ROOT / "fixtures" / "estates" / "odoo-finance"



def _run(cwd: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    out, err = io.StringIO(), io.StringIO()
    with chdir(cwd), redirect_stdout(out), redirect_stderr(err):
        code = main(["check", *args, "--format", "json", "--no-progress"])
    return code, json.loads(out.getvalue()), err.getvalue()


def _keys(report: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    return sorted((f["rule_id"], f["location"]["path"], f["fingerprint"],
                   f["suppressed_by"] is not None) for f in report["findings"])


@cache
def _full(schema_only: bool = False) -> tuple[tuple[str, str, str, bool], ...]:
    extra = ("--schema-only",) if schema_only else ()
    _, report, _ = _run(ESTATE, ".", *extra)
    return tuple(_keys(report))


CHANGED = [
    ["clusters/prod/reporting/ingress.yaml"],           # a plain file, estate-wide TLS rules
    ["apps/odoo/overlays/prod/odoo-web-patch.yaml"],     # a Kustomize patch: findings land here
    ["apps/odoo/components/session-redis/redis.yaml"],   # a component's source file
    ["bootstrap/argocd-cm.yaml", "apps/odoo/overlays/prod/postgres-cluster.yaml"],
    ["README.md"],                                       # not a manifest: nothing to report
]


@pytest.mark.slow
@pytest.mark.parametrize("changed", CHANGED, ids=lambda c: "+".join(Path(p).name for p in c))
def test_changed_files_report_exactly_their_share_of_the_full_check(changed: list[str]) -> None:
    code, report, err = _run(ESTATE, "--changed", *changed)
    assert err == "" and report["errors"] == []
    expected = [k for k in _full() if k[1] in changed]
    assert _keys(report) == expected
    assert code == (1 if _blocking(report) else 0)


def _blocking(report: dict[str, Any]) -> bool:
    return any(f["severity"] in ("high", "critical") and f["suppressed_by"] is None
               for f in report["findings"])


def test_schema_only_reports_the_schema_stage_alone() -> None:
    changed = "bootstrap/argocd-cm.yaml"
    code, report, _ = _run(ESTATE, "--changed", "--schema-only", changed,
                           "apps/odoo/overlays/prod/odoo-web-patch.yaml")
    assert {f["rule_id"] for f in report["findings"]} == {"SCH003"}
    assert [k for k in _full(schema_only=True) if k[1] == changed] == _keys(report)
    assert code == 1


def test_a_change_that_fixes_its_file_passes(tmp_path: Path) -> None:
    estate = tmp_path / "estate"
    shutil.copytree(ESTATE, estate)
    config_map = estate / "bootstrap" / "argocd-cm.yaml"
    text = config_map.read_text()
    assert "admin.enabled: on" in text
    config_map.write_text(text.replace("admin.enabled: on", 'admin.enabled: "on"'))
    code, report, _ = _run(estate, "--changed", "--schema-only", "bootstrap/argocd-cm.yaml")
    assert (code, report["findings"]) == (0, [])


def test_deleted_files_and_paths_outside_the_estate_report_nothing(tmp_path: Path) -> None:
    code, report, err = _run(ESTATE, "--changed", "gone.yaml", str(tmp_path / "elsewhere.yaml"))
    assert (code, report["findings"], report["errors"], err) == (0, [], [], "")


def test_the_root_is_the_estate_not_the_changed_files_directory() -> None:
    # Tiers come from Namespace objects in other files: a finding's tier-based severity must
    # be the one the full check gives it.
    changed = "apps/odoo/overlays/prod/odoo-web-patch.yaml"
    _, report, _ = _run(ESTATE, "--changed", changed)
    _, full, _ = _run(ESTATE, ".")
    severities = {f["fingerprint"]: f["severity"] for f in full["findings"]}
    assert report["findings"]
    assert all(severities[f["fingerprint"]] == f["severity"] for f in report["findings"])
