"""The example estate against its live snapshot (fixtures/live/odoo-finance), through the CLI.

The snapshot is written by `scripts/generate_live_snapshot.py`, which plants a small set of
drifts (its docstring tells the night's story). `drift` must report exactly those, located in
the files people edit, attributed to the manager, operation and time of the hand edit, with
the severity of the namespace's tier, and nothing else: the rest of the snapshot is what an
API server adds (defaults, status, managedFields, autoscaled replicas, tracking marks…),
which is not drift. No Secret value may appear in any report format.

The estate deploys to two clusters, so each is compared on its own (`--cluster`), with its
own dump directory, as the README shows.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import io
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from checker.cli import main

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
ESTATE = "fixtures/estates/odoo-finance"
LIVE = "fixtures/live/odoo-finance"
GENERATOR = REPO_ROOT / "scripts" / "generate_live_snapshot.py"

pytestmark = pytest.mark.slow

MASK = re.compile(r"^<secret [0-9a-f]{8}>$")


@cache
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_live_snapshot", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


PROD, NONPROD = "prod-eu-central-1", "shared-nonprod"


def _drift(cluster: str, *args: str) -> tuple[int, str, str]:
    """`gitops-checker drift ESTATE --cluster C --live LIVE/C ARGS…` from the repository root,
    as the README runs it: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(REPO_ROOT), contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        code = main(["drift", ESTATE, "--cluster", cluster, "--live", f"{LIVE}/{cluster}",
                     *args])
    return code, out.getvalue(), err.getvalue()


@cache
def run(cluster: str, fmt: str) -> tuple[int, str, str]:
    return _drift(cluster, "--format", fmt)


# --- what was planted ------------------------------------------------------------------------

def _line(path: str, needle: str) -> int:
    """The first line of an estate file that contains `needle`."""
    lines = (REPO_ROOT / ESTATE / path).read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if needle in line)


def _item_line(path: str, kind: str, name: str) -> tuple[int, str]:
    """Line and pointer of a `List` item of a snapshot file (where an extra is located)."""
    node = yaml.compose((REPO_ROOT / path).read_text(encoding="utf-8"))
    items = next(value for key, value in node.value if key.value == "items")
    for index, item in enumerate(items.value):
        fields = {key.value: value for key, value in item.value}
        names = {key.value: value for key, value in fields["metadata"].value}
        if fields["kind"].value == kind and names["name"].value == name:
            return item.start_mark.line + 1, f"/items/{index}"
    raise AssertionError(f"{kind}/{name} not in {path}")


@dataclass(frozen=True)
class Planted:
    rule: str
    severity: str
    tier: str
    resource: str  # Kind/namespace/name
    path: str
    line: int
    pointer: str
    details: dict[str, Any] = field(default_factory=dict)
    """Expected details (a subset: tier, rendering and live source are checked elsewhere)."""

    @property
    def key(self) -> tuple[str, str, str, str, int, str]:
        return (self.rule, self.severity, self.resource, self.path, self.line, self.pointer)


def planted() -> list[Planted]:
    g = generator()
    extra_file = f"{LIVE}/{PROD}/{g.DEBUG_POLICY[0]}.yaml"
    extra_line, extra_pointer = _item_line(extra_file, "NetworkPolicy", g.DEBUG_POLICY[1])
    memory = "/spec/template/spec/containers/0/resources/limits/memory"
    return [
        Planted("DRF003", "high", "critical", "Deployment/erp-prod/odoo-web",
                "apps/odoo/overlays/prod/odoo-web-patch.yaml",
                _line("apps/odoo/overlays/prod/odoo-web-patch.yaml", "memory: 8Gi"), memory, {
                    "drift": "modified", "change": "changed",
                    "path": "spec.template.spec.containers[name=odoo].resources.limits.memory",
                    "live_pointer": memory, "declared": "8Gi", "live": g.EDITED[4],
                    "changed_by": {"manager": "kubectl-edit", "operation": "Update",
                                   "time": "2026-11-26T02:13:00Z"}}),
        Planted("DRF003", "high", "critical", "Deployment/erp-prod/odoo-cron",
                "apps/odoo/overlays/prod/odoo-cron-deployment.yaml",
                _line("apps/odoo/overlays/prod/odoo-cron-deployment.yaml", "replicas: 1"),
                "/spec/replicas", {
                    "drift": "modified", "change": "changed", "path": "spec.replicas",
                    "live_pointer": "/spec/replicas", "declared": 1, "live": 0,
                    "changed_by": {"manager": "kubectl-scale", "operation": "Update",
                                   "time": g.SCALED_AT, "subresource": "scale"}}),
        Planted("DRF001", "high", "critical", "Schedule/velero/erp-prod-filestore-hourly",
                "apps/odoo/overlays/prod/velero-schedules.yaml",
                _line("apps/odoo/overlays/prod/velero-schedules.yaml", "apiVersion:"), "",
                {"drift": "missing"}),
        Planted("DRF002", "high", "critical", "NetworkPolicy/erp-prod/oncall-psql-debug",
                extra_file, extra_line, extra_pointer, {
                    "drift": "extra",
                    "owned_by": "label gitops-checker.io/managed-by=on-call",
                    "changed_by": {"manager": "kubectl-create", "operation": "Update",
                                   "time": g.DEBUG_POLICY_AT}}),
        Planted("DRF003", "low", "nonprod", "Secret/erp-staging/mailpit-ui-auth",
                "apps/odoo/overlays/staging/mailpit-ui-auth.yaml",
                _line("apps/odoo/overlays/staging/mailpit-ui-auth.yaml", "ui-auth:"),
                "/stringData/ui-auth", {
                    "drift": "modified", "change": "changed", "path": "stringData.ui-auth",
                    "live_pointer": "/data/ui-auth",
                    "changed_by": {"manager": "kubectl-patch", "operation": "Update",
                                   "time": g.ROTATED_AT}}),
        Planted("DRF003", "high", "critical", "ConfigMap/argocd/argocd-cm",
                "bootstrap/argocd-cm.yaml", _line("bootstrap/argocd-cm.yaml", "admin.enabled:"),
                "/data/admin.enabled", {
                    "drift": "modified", "change": "changed", "path": 'data["admin.enabled"]',
                    "live_pointer": "/data/admin.enabled", "declared": True, "live": "false",
                    "changed_by": {"manager": "kubectl-client-side-apply",
                                   "operation": "Update",
                                   "time": g.TIMELINE["bootstrap"][1]}}),
    ]


def _key(finding: dict[str, Any]) -> tuple[str, str, str, str, int, str]:
    resource = finding["resource"]
    name = "/".join(p for p in (resource["kind"], resource.get("namespace"), resource["name"])
                    if p)
    location = finding["location"]
    return (finding["rule_id"], finding["severity"], name, location["path"], location["line"],
            location["pointer"])


def test_each_cluster_reports_exactly_its_planted_drifts() -> None:
    findings = []
    for cluster in (PROD, NONPROD):
        code, out, err = run(cluster, "json")
        # fail_on high: the nonprod cluster's only drift is low
        assert (code, err) == (1 if cluster == PROD else 0, "")
        report = json.loads(out)
        assert report["errors"] == []
        findings += report["findings"]
        for finding in report["findings"]:
            assert finding["details"]["live_source"] == f"snapshot {LIVE}/{cluster}"
    expected = planted()
    assert Counter(_key(f) for f in findings) == Counter(p.key for p in expected)
    by_key = {_key(f): f for f in findings}
    for plant in expected:
        finding = by_key[plant.key]
        details = finding["details"]
        assert finding["suppressed_by"] is None
        assert {k: details.get(k) for k in plant.details} == plant.details, finding["message"]
        assert details["tier"] == plant.tier
    secret = by_key[expected[4].key]["details"]
    assert MASK.match(secret["declared"]) and MASK.match(secret["live"])
    assert secret["declared"] != secret["live"]


def test_an_estate_of_several_clusters_needs_one_named() -> None:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(REPO_ROOT), contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        code = main(["drift", ESTATE, "--live", LIVE])
    assert code == 2
    assert ("the estate deploys to 2 clusters (prod-eu-central-1, shared-nonprod): choose the "
            "one read with --cluster") in err.getvalue()


def test_messages_name_values_and_who_changed_them() -> None:
    code, out, _ = run(PROD, "text")
    assert code == 1
    assert ("spec.template.spec.containers[name=odoo].resources.limits.memory: declared 8Gi, "
            "live 12Gi — changed by kubectl-edit (Update) at 2026-11-26T02:13:00Z") in out
    assert ("spec.replicas: declared 1, live 0 — changed by kubectl-scale (Update) at "
            "2026-11-26T02:19:00Z via /scale") in out
    assert "Schedule/velero/erp-prod-filestore-hourly is declared but not in the cluster" in out
    assert ("NetworkPolicy/erp-prod/oncall-psql-debug is in the cluster (label "
            "gitops-checker.io/managed-by=on-call) but not declared") in out
    assert 'data["admin.enabled"]: declared true, live false' in out
    assert out.rstrip().endswith("66 files, 76 objects: 5 findings (5 high)")
    code, out, _ = run(NONPROD, "text")
    assert code == 0
    assert re.search(r"stringData\.ui-auth: declared <secret [0-9a-f]{8}>, live "
                     r"<secret [0-9a-f]{8}> — changed by kubectl-patch \(Update\) at "
                     r"2026-11-26T02:47:00Z", out)
    assert out.rstrip().endswith("66 files, 27 objects: 1 finding (1 low)")


def _secret_values() -> set[str]:
    """Every Secret value of the snapshot and of the estate's Secret, as stored (base64) and
    decoded, and the password part of `user:password` values. Values under 12 characters
    (ports, database and user names) are words a report may well contain otherwise."""
    values: set[str] = set()
    for path in sorted((REPO_ROOT / LIVE).rglob("*.yaml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8"))["items"]:
            if item["kind"] == "Secret":
                for value in (item.get("data") or {}).values():
                    values.update((value, base64.b64decode(value).decode()))
    declared = yaml.safe_load((REPO_ROOT / ESTATE / "apps/odoo/overlays/staging/"
                               "mailpit-ui-auth.yaml").read_text(encoding="utf-8"))
    for value in declared["stringData"].values():
        values.update((value, base64.b64encode(value.encode()).decode()))
    values.update(v.split(":", 1)[1] for v in list(values) if v.startswith("testers:"))
    return {v for v in values if len(v) >= 12}


def test_planted_secret_values_are_the_ones_checked() -> None:
    values = _secret_values()
    _, _, _, rotated = generator().ROTATED
    assert rotated in values and rotated.split(":", 1)[1] in values
    assert "changeme-not-a-real-password" in values
    assert base64.b64encode(rotated.encode()).decode() in values


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "junit", "markdown", "github"])
def test_no_secret_value_in_any_format(fmt: str) -> None:
    code, out, err = run(NONPROD, fmt)
    assert code == 0
    assert "mailpit-ui-auth" in out  # the Secret's drift is in this report…
    leaked = sorted(v for v in _secret_values() if v in out or v in err)
    assert leaked == []  # …and none of its values


def _snapshot_items() -> dict[tuple[str, str, str | None, str], dict[str, Any]]:
    found = {}
    for path in sorted((REPO_ROOT / LIVE).rglob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert document["kind"] == "List" and document["apiVersion"] == "v1"
        for item in document["items"]:
            meta = item["metadata"]
            found[(path.parent.name, item["kind"], meta.get("namespace"), meta["name"])] = item
    return found


def test_snapshot_looks_like_what_an_api_server_returns() -> None:
    """Every object carries the server's metadata and who wrote it; and the snapshot holds the
    differences a naive diff would report, so that the test above shows they are not drift."""
    items = _snapshot_items()
    for key, item in items.items():
        meta = item["metadata"]
        assert re.fullmatch(r"[0-9a-f-]{36}", meta["uid"]), key
        assert meta["resourceVersion"].isdigit(), key
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["creationTimestamp"]), key
        assert meta["managedFields"], key
        for entry in meta["managedFields"]:
            assert entry["operation"] in ("Apply", "Update") and entry["fieldsType"] == "FieldsV1"
    prod = "prod-eu-central-1"
    web = items[(prod, "Deployment", "erp-prod", "odoo-web")]
    assert web["spec"]["progressDeadlineSeconds"] == 600  # defaults nobody declared
    pod = web["spec"]["template"]["spec"]
    assert (pod["dnsPolicy"], pod["schedulerName"]) == ("ClusterFirst", "default-scheduler")
    assert pod["containers"][0]["terminationMessagePath"] == "/dev/termination-log"
    assert web["status"]["replicas"] == 3
    assert [e["manager"] for e in web["metadata"]["managedFields"]][:2] == [
        "argocd-controller", "kubectl-edit"]
    ledger = items[(prod, "Deployment", "finance-ledger", "ledger-api")]
    assert ledger["spec"]["replicas"] == 5  # the HPA's; the estate declares none
    assert {"manager": "kube-controller-manager", "subresource": "scale"}.items() <= \
        next(e for e in ledger["metadata"]["managedFields"]
             if e.get("subresource") == "scale").items()
    service = items[(prod, "Service", "erp-prod", "odoo-web")]
    assert service["spec"]["clusterIP"] and service["spec"]["sessionAffinity"] == "None"
    secret = items[("shared-nonprod", "Secret", "erp-staging", "mailpit-ui-auth")]
    assert "stringData" not in secret and set(secret["data"]) == {"ui-auth"}
    assert (prod, "Schedule", "velero", "erp-prod-filestore-hourly") not in items
    assert (prod, "Schedule", "velero", "erp-prod-filestore-nightly") in items


def test_committed_snapshot_is_up_to_date(tmp_path: Path) -> None:
    """Regenerating gives the committed bytes (run `python scripts/generate_live_snapshot.py`
    after changing the estate or the generator)."""
    generator().write(tmp_path)
    fresh = {p.relative_to(tmp_path).as_posix(): p.read_bytes()
             for p in sorted(tmp_path.rglob("*.yaml"))}
    committed = {p.relative_to(REPO_ROOT / LIVE).as_posix(): p.read_bytes()
                 for p in sorted((REPO_ROOT / LIVE).rglob("*.yaml"))}
    assert sorted(fresh) == sorted(committed), \
        "fixtures/live/odoo-finance is stale: run python scripts/generate_live_snapshot.py"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert stale == [], \
        f"{stale} stale: run python scripts/generate_live_snapshot.py"
