"""`drift` against a Kubernetes API on loopback, through the official client.

Live objects are seeded as a real API server returns them (the oracle files are real
servers' answers: managedFields, defaults, status); faults are injected per resource type.
"""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import yaml

from checker.cli import main
from checker.config import Config
from checker.drift.live import Cluster, read_cluster
from checker.drift.normalize import SecretMask
from checker.drift.run import LiveSource, run_drift
from tests.drift.cluster import FakeCluster

ORACLES = Path(__file__).parent.parent / "data" / "drift" / "oracles"


def _load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ORACLES / name).read_text())
    return loaded


def _repo(tmp_path: Path, *documents: dict[str, Any]) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir(exist_ok=True)
    for index, document in enumerate(documents):
        (repo / f"{index:02d}-{document['kind'].lower()}.yaml").write_text(
            yaml.safe_dump(document, sort_keys=False))
    return repo


def _drift(cluster: FakeCluster, tmp_path: Path, repo: Path, *, timeout: float = 5.0,
           config: Config | None = None) -> Any:
    kubeconfig = cluster.kubeconfig(tmp_path / "kubeconfig")
    connected = Cluster.connect(kubeconfig=kubeconfig, context="test", timeout=timeout,
                                sleep=lambda _seconds: None)
    try:
        return run_drift([str(repo)], root=repo, config=config or Config(),
                         live_source=LiveSource(kubeconfig=kubeconfig, context="test"),
                         cluster=connected)
    finally:
        connected.close()


def _config_map(name: str, namespace: str = "finance", **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, **extra},
            "data": {"mode": "prod"}}


def _by_rule(report: Any) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for finding in report.findings:
        found.setdefault(finding.rule_id, []).append(finding)
    return found


def test_drift_of_real_server_objects_with_attribution(cluster: FakeCluster,
                                                        tmp_path: Path) -> None:
    cluster.seed(_load("smd-deploy-live.yaml"))
    cluster.seed(_load("ssd-svc-label-live.yaml"))
    cluster.seed(_config_map("stray", labels={"gitops-checker.io/managed-by": "finance"}))
    cluster.seed(_config_map("unrelated"))  # no ownership mark: not this estate's business
    cluster.seed({"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "kube-root-ca.crt", "namespace": "finance",
                               "labels": {"gitops-checker.io/managed-by": "x"}}})
    repo = _repo(tmp_path, _load("smd-deploy-config.yaml"), _load("ssd-svc-no-label-config.yaml"),
                 _config_map("settings"))

    run = _drift(cluster, tmp_path, repo)

    assert run.report.errors == ()
    found = _by_rule(run.report)
    assert sorted(found) == ["DRF001", "DRF002", "DRF003"]
    [missing] = found["DRF001"]
    assert missing.resource.name == "settings"
    assert missing.location.path == "02-configmap.yaml"
    [extra] = found["DRF002"]
    assert extra.resource.name == "stray"
    [label] = found["DRF003"]
    assert label.resource.name == "httpbin-svc"
    assert label.location.pointer == "/metadata/labels/delete-me"
    assert label.details["change"] == "undeclared"
    assert label.details["changed_by"] == {"manager": "argocd-controller", "operation": "Apply",
                                           "time": "2025-05-16T19:01:22Z"}
    assert "argocd-controller (Apply) at 2025-05-16T19:01:22Z" in label.message
    assert run.report.exit_code(Config().fail_on) in (0, 1)


def test_one_paginated_list_per_declared_type_and_no_object_gets(cluster: FakeCluster,
                                                                  tmp_path: Path) -> None:
    for index in range(7):
        cluster.seed(_config_map(f"cm-{index}"))
    kubeconfig = cluster.kubeconfig(tmp_path / "kubeconfig")
    connected = Cluster.connect(kubeconfig=kubeconfig, context="test")
    try:
        state = read_cluster(connected, {("", "ConfigMap"): ["v1"]}, {}, SecretMask(),
                             page_size=3)
    finally:
        connected.close()
    assert sorted(key.name for key in state.objects) == [f"cm-{i}" for i in range(7)]
    lists = cluster.calls("v1/configmaps")
    assert [call.query.get("limit") for call in lists] == ["3", "3", "3"]
    assert "continue" not in lists[0].query and all("continue" in c.query for c in lists[1:])
    assert all(call.method == "GET" and call.path == "/api/v1/configmaps" for call in lists)


def test_forbidden_cluster_wide_list_falls_back_to_declared_namespaces(
        cluster: FakeCluster, tmp_path: Path) -> None:
    cluster.seed(_config_map("settings"))
    cluster.fail("v1/configmaps", 403, times=1)  # the cluster-wide LIST only
    run = _drift(cluster, tmp_path, _repo(tmp_path, _config_map("settings")))
    assert run.report.errors == ()
    assert run.report.findings == ()
    paths = [call.path for call in cluster.calls("v1/configmaps")]
    assert paths == ["/api/v1/configmaps", "/api/v1/namespaces/finance/configmaps"]


def test_unreadable_type_is_an_error_never_missing(cluster: FakeCluster, tmp_path: Path) -> None:
    cluster.fail("v1/configmaps", 403)
    run = _drift(cluster, tmp_path, _repo(tmp_path, _config_map("settings")))
    assert [f.rule_id for f in run.report.findings] == []
    [error] = run.report.errors
    assert "1 declared ConfigMap object(s) (core) not compared" in error.message
    assert "HTTP 403" in error.message
    assert run.report.exit_code(Config().fail_on) == 2


@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttling_and_server_errors_are_retried(cluster: FakeCluster, tmp_path: Path,
                                                  status: int) -> None:
    cluster.seed(_config_map("settings"))
    cluster.fail("v1/configmaps", status, times=2)
    run = _drift(cluster, tmp_path, _repo(tmp_path, _config_map("settings")))
    assert run.report.errors == ()
    assert run.report.findings == ()
    assert len(cluster.calls("v1/configmaps")) == 3


def test_persistent_server_errors_give_up_with_the_type_named(cluster: FakeCluster,
                                                             tmp_path: Path) -> None:
    cluster.seed(_config_map("settings"))
    cluster.fail("v1/configmaps", 500)
    run = _drift(cluster, tmp_path, _repo(tmp_path, _config_map("settings")))
    [error] = run.report.errors
    assert "ConfigMap" in error.message and "gave up after 5 attempts: HTTP 500" in error.message
    assert not run.report.findings
    assert len(cluster.calls("v1/configmaps")) == 5


def test_expired_continue_token_restarts_the_list(cluster: FakeCluster, tmp_path: Path) -> None:
    for index in range(5):
        cluster.seed(_config_map(f"cm-{index}"))
    cluster.expire_continue("v1/configmaps")
    kubeconfig = cluster.kubeconfig(tmp_path / "kubeconfig")
    connected = Cluster.connect(kubeconfig=kubeconfig, context="test")
    try:
        state = read_cluster(connected, {("", "ConfigMap"): ["v1"]}, {}, SecretMask(),
                             page_size=2)
    finally:
        connected.close()
    assert state.unreadable == {}
    assert sorted(key.name for key in state.objects) == [f"cm-{i}" for i in range(5)]
    first_pages = [c for c in cluster.calls("v1/configmaps") if "continue" not in c.query]
    assert len(first_pages) == 2  # started over once


def test_truncated_json_is_retried(cluster: FakeCluster, tmp_path: Path) -> None:
    cluster.seed(_config_map("settings"))
    cluster.truncate("v1/configmaps", times=1)
    run = _drift(cluster, tmp_path, _repo(tmp_path, _config_map("settings")))
    assert run.report.errors == ()
    assert run.report.findings == ()


def test_timeouts_are_reported_as_unreadable(cluster: FakeCluster, tmp_path: Path) -> None:
    cluster.seed(_config_map("settings"))
    cluster.delay("v1/configmaps", 1.0)
    run = _drift(cluster, tmp_path, _repo(tmp_path, _config_map("settings")), timeout=0.1)
    [error] = run.report.errors
    assert "timed out" in error.message and "ConfigMap" in error.message
    assert not run.report.findings


def test_refused_connection_checks_nothing_and_exits_2(cluster: FakeCluster,
                                                       tmp_path: Path) -> None:
    kubeconfig = cluster.kubeconfig(tmp_path / "kubeconfig", server=FakeCluster.refused_url())
    repo = _repo(tmp_path, _config_map("settings"))
    connected = Cluster.connect(kubeconfig=kubeconfig, context="test", timeout=1,
                                sleep=lambda _s: None)
    run = run_drift([str(repo)], root=repo, config=Config(),
                    live_source=LiveSource(kubeconfig=kubeconfig), cluster=connected)
    assert run.report.findings == ()
    assert any("connection refused" in e.message for e in run.report.errors)
    assert run.report.exit_code(Config().fail_on) == 2


def test_kind_the_server_does_not_serve_is_unchecked(cluster: FakeCluster,
                                                     tmp_path: Path) -> None:
    certificate = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                   "metadata": {"name": "web", "namespace": "finance"},
                   "spec": {"secretName": "web-tls", "issuerRef": {"name": "le"}}}
    run = _drift(cluster, tmp_path, _repo(tmp_path, certificate))
    [error] = run.report.errors
    assert "Certificate" in error.message and "does not serve" in error.message
    assert not run.report.findings


def test_secret_values_never_leave_the_run(cluster: FakeCluster, tmp_path: Path) -> None:
    import base64

    declared_value, live_value, same = "declared-pass-8472", "live-pass-9931", "same-value-123"
    cluster.seed({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                  "metadata": {"name": "db", "namespace": "finance", "annotations": {
                      "kubectl.kubernetes.io/last-applied-configuration": json.dumps({
                          "apiVersion": "v1", "kind": "Secret",
                          "metadata": {"name": "db", "namespace": "finance"},
                          "stringData": {"password": live_value, "old": live_value}})}},
                  "data": {"password": base64.b64encode(live_value.encode()).decode(),
                           "user": base64.b64encode(same.encode()).decode(),
                           "old": base64.b64encode(live_value.encode()).decode()}})
    repo = _repo(tmp_path, {"apiVersion": "v1", "kind": "Secret",
                            "metadata": {"name": "db", "namespace": "finance"},
                            "stringData": {"password": declared_value, "user": same}})
    kubeconfig = cluster.kubeconfig(tmp_path / "kubeconfig")
    outputs = {}
    for name in ("text", "json", "sarif", "junit", "markdown", "github"):
        stdout, stderr = io.StringIO(), io.StringIO()
        with redirect_stdout(stdout), redirect_stderr(stderr):
            code = main(["drift", str(repo), "--kubeconfig", str(kubeconfig), "--context",
                         "test", "--format", name, "--fail-on", "low"])
        assert code == 1, stderr.getvalue()
        outputs[name] = stdout.getvalue() + stderr.getvalue()
    for text in outputs.values():
        for value in (declared_value, live_value, same):
            assert value not in text
            assert base64.b64encode(value.encode()).decode() not in text
    report = json.loads(outputs["json"])
    changes = {f["details"]["path"]: f for f in report["findings"]}
    assert sorted(changes) == ["data.old", "stringData.password"]
    password = changes["stringData.password"]["details"]
    assert password["declared"] != password["live"]
    assert password["live"].startswith("<secret ")
    assert changes["data.old"]["details"]["evidence"] == \
        "in the configuration last applied with kubectl apply"


def test_cli_reports_exit_codes(cluster: FakeCluster, tmp_path: Path) -> None:
    cluster.seed(_config_map("settings"))
    repo = _repo(tmp_path, _config_map("settings"))
    kubeconfig = cluster.kubeconfig(tmp_path / "kubeconfig")
    args = ["drift", str(repo), "--kubeconfig", str(kubeconfig), "--context", "test"]
    with redirect_stdout(io.StringIO()) as out:
        assert main(args) == 0
    assert "no findings" in out.getvalue().lower() or "0 findings" in out.getvalue()
    shutil.rmtree(repo)
    repo = _repo(tmp_path, _config_map("settings"), _config_map("other"))
    with redirect_stdout(io.StringIO()) as out:
        assert main([*args[:1], str(repo), *args[2:], "--fail-on", "low"]) == 1
    assert "ConfigMap/finance/other is declared but not in the cluster" in out.getvalue()
    with redirect_stderr(io.StringIO()) as err:
        assert main([*args, "--kubeconfig", str(tmp_path / "nope")]) == 2
    assert "does not exist" in err.getvalue()


@pytest.mark.parametrize(("declared", "live", "predicted", "resource", "expected"), [
    ("ssd-configmap-config.yaml", "ssd-configmap-live.yaml", "ssd-configmap-predicted-live.json",
     "v1/configmaps", {("undeclared", "data.key3")}),
    ("ssd-svc-no-label-config.yaml", "ssd-svc-label-live.yaml",
     "ssd-svc-no-label-predicted-live.json", "v1/services",
     {("undeclared", "metadata.labels.delete-me")}),
    ("ssd-deploy-with-manual-apply-config.yaml", "ssd-deploy-with-manual-apply-live.yaml",
     "ssd-deploy-with-manual-apply-predicted-live.json", "apps/v1/deployments",
     # The server's answer also carries a label its mutating webhook adds on apply.
     {("not-live", ("spec.template.spec.containers[name=main-container]"
                   ".ports[containerPort=40,protocol=TCP]")),
      ("not-live", "metadata.labels.mutation-test")}),
])
def test_server_side_diff_compares_the_servers_answer(
        cluster: FakeCluster, tmp_path: Path, declared: str, live: str, predicted: str,
        resource: str, expected: set[tuple[str, str]]) -> None:
    """The server's answers here are the real ones recorded in the oracle data."""
    live_object = _load(live)
    cluster.seed(live_object)
    answer = json.loads((ORACLES / predicted).read_text())
    cluster.answer_dry_run(resource, answer)
    config = Config()
    config = dataclasses.replace(config, drift=dataclasses.replace(config.drift,
                                                                   server_side=True))
    run = _drift(cluster, tmp_path, _repo(tmp_path, _load(declared)), config=config)
    assert run.report.errors == ()
    assert {(f.details["change"], f.details["path"]) for f in run.report.findings} == expected
    patches = [c for c in cluster.calls(resource) if c.method == "PATCH"]
    assert len(patches) == 1
    assert patches[0].query == {"dryRun": "All", "fieldManager": "gitops-checker",
                                "force": "true"}
    assert cluster.emulator_objects_unchanged(live_object)


def test_server_side_diff_refused_falls_back_with_a_note(cluster: FakeCluster,
                                                         tmp_path: Path) -> None:
    cluster.seed(_load("ssd-configmap-live.yaml"))
    cluster.refuse_patch("v1/configmaps")
    repo = _repo(tmp_path, _load("ssd-configmap-config.yaml"))
    kubeconfig = cluster.kubeconfig(tmp_path / "kubeconfig")
    with redirect_stdout(io.StringIO()) as out:
        code = main(["drift", str(repo), "--kubeconfig", str(kubeconfig), "--context", "test",
                     "--server-side-diff", "--format", "json", "--fail-on", "low"])
    assert code == 1
    findings = json.loads(out.getvalue())["findings"]
    by_rule = {f["rule_id"]: f for f in findings}
    assert sorted(by_rule) == ["DRF003", "DRF004"]
    assert by_rule["DRF003"]["details"]["path"] == "data.key3"  # found client-side
    assert "1 ConfigMap object(s) compared client-side" in by_rule["DRF004"]["message"]
    assert "HTTP 403" in by_rule["DRF004"]["message"]
