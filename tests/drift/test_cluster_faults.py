"""Cluster faults, each handled as docs/drift.md ("Failures are not drift") says: 429, 5xx,
timeouts, refused connections and bodies that are not (complete) JSON are retried — at most
5 attempts, exponential backoff, `Retry-After` honoured; 401, 403 and 404 are not; 410 on a
continue token restarts the list. What still fails leaves its type unread, named with the
reason; a declared object of an unread type is never reported missing, and the run exits 2.

Faults are the loopback API server's reactions (tests/drift/cluster.py). Backoff sleeps are
recorded instead of slept (`Sleeps`), except where `Retry-After` is checked: there the server's
arrival times show the wait.
"""

from __future__ import annotations

import base64
import io
import json
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import yaml

from checker.cli import main
from checker.config import Config
from checker.drift.live import MAX_ATTEMPTS, MAX_LIST_RESTARTS, Cluster, read_cluster
from checker.drift.normalize import SecretMask
from checker.drift.run import DriftRun, LiveSource, run_drift
from tests.drift.cluster import FakeCluster

NAMESPACE = "finance"
CONFIG_MAPS = "/api/v1/configmaps"


class Sleeps(list[float]):
    """A `sleep` that records the delays asked for (and, with `real`, sleeps them)."""

    def __init__(self, real: bool = False) -> None:
        super().__init__()
        self.real = real

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        if self.real:
            time.sleep(seconds)


def _config_map(name: str, mode: str = "prod") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": NAMESPACE}, "data": {"mode": mode}}


def _secret(name: str, password: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "data": {"password": base64.b64encode(password.encode()).decode()}}


def _deployment(name: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "app",
                                                           "image": "nginx:1.27"}]}}}}


def _repo(tmp_path: Path, *documents: dict[str, Any]) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    for index, document in enumerate(documents):
        (repo / f"{index:02d}-{document['kind'].lower()}.yaml").write_text(
            yaml.safe_dump(document, sort_keys=False))
    return repo


def _drift(cluster: FakeCluster, tmp_path: Path, repo: Path, *, timeout: float = 5.0,
           sleep: Sleeps | None = None) -> DriftRun:
    kubeconfig = cluster.kubeconfig(tmp_path / "kubeconfig")
    connected = Cluster.connect(kubeconfig=kubeconfig, context="test", timeout=timeout,
                                sleep=sleep if sleep is not None else Sleeps())
    try:
        return run_drift([str(repo)], root=repo, config=Config(),
                         live_source=LiveSource(kubeconfig=kubeconfig, context="test"),
                         cluster=connected)
    finally:
        connected.close()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> Sleeps:
    """The backoff of the clusters the command line connects to, recorded, not slept."""
    recorded = Sleeps()
    connect = Cluster.connect.__func__  # type: ignore[attr-defined]

    def recording(cls: type[Cluster], **kwargs: Any) -> Cluster:
        return connect(cls, **kwargs, sleep=recorded)  # type: ignore[no-any-return]

    monkeypatch.setattr(Cluster, "connect", classmethod(recording))
    return recorded


def _cli(kubeconfig: Path, repo: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["drift", str(repo), "--kubeconfig", str(kubeconfig), "--context", "test",
                     "--format", "json", "--fail-on", "low", *args])
    return code, json.loads(out.getvalue()) if out.getvalue() else {}, err.getvalue()


def _rules(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted((f["rule_id"], f["resource"]["kind"], f["resource"]["name"])
                  for f in report["findings"])


def _backoff_shape(delays: list[float]) -> None:
    """Exponential with jitter: attempt i waits 0.2·2^i s, halved at most by the jitter."""
    assert len(delays) == MAX_ATTEMPTS - 1
    for attempt, delay in enumerate(delays):
        assert 0.1 * 2 ** attempt <= delay <= 0.2 * 2 ** attempt


# -- 401 ---------------------------------------------------------------------------------------

def test_rejected_credentials_are_not_retried_and_name_the_server(
        cluster: FakeCluster, tmp_path: Path, sleeps: Sleeps) -> None:
    cluster.seed(_config_map("settings"))
    kubeconfig = cluster.kubeconfig(tmp_path / "kubeconfig", token="expired-token")
    repo = _repo(tmp_path, _config_map("settings"), _deployment("web"))
    code, report, err = _cli(kubeconfig, repo)
    assert code == 2, err
    assert report["findings"] == []  # nothing reported missing
    messages = [e["message"] for e in report["errors"]]
    [rejected] = [m for m in messages if m.startswith("the cluster at ")]
    assert rejected.startswith(f"the cluster at {cluster.url} rejected the credentials "
                               "(HTTP 401: Unauthorized)")
    assert sorted(m for m in messages if m != rejected) == [
        ("1 declared ConfigMap object(s) (core) not compared: discovery of /api/v1 failed: "
         "HTTP 401: Unauthorized"),
        ("1 declared Deployment object(s) (apps) not compared: the server rejected the "
         "credentials (HTTP 401)")]
    assert sleeps == []  # no retry
    paths = [path for _, _, path in cluster.emulator.arrivals]
    assert len(paths) == len(set(paths)) and CONFIG_MAPS not in paths  # once each, no LIST


# -- 403, 404, 410 -----------------------------------------------------------------------------

def test_forbidden_type_is_named_while_the_others_are_compared(
        cluster: FakeCluster, tmp_path: Path, sleeps: Sleeps) -> None:
    cluster.seed(_config_map("settings", mode="edited"))
    cluster.seed(_secret("db", "rotated-pass-0412"))
    cluster.fail("v1/configmaps", 403)  # cluster-wide and per namespace
    repo = _repo(tmp_path, _config_map("settings"), _config_map("absent-but-unreadable"),
                 _secret("db", "declared-pass-7731"), _deployment("web"))
    code, report, _ = _cli(cluster.kubeconfig(tmp_path / "kubeconfig"), repo)
    assert code == 2  # exit 2 wins over the drift found
    assert _rules(report) == [("DRF001", "Deployment", "web"), ("DRF003", "Secret", "db")]
    [error] = report["errors"]
    assert "2 declared ConfigMap object(s) (core) not compared" in error["message"]
    assert "HTTP 403" in error["message"] and "forbidden" in error["message"]
    calls = [c.path for c in cluster.calls("v1/configmaps")]
    assert calls == [CONFIG_MAPS, f"/api/v1/namespaces/{NAMESPACE}/configmaps"]  # not retried
    assert sleeps == []


def test_list_not_found_after_discovery_is_unread_not_missing(
        cluster: FakeCluster, tmp_path: Path, sleeps: Sleeps) -> None:
    """The type is served by discovery, but its LIST answers 404 (a CRD deleted meanwhile)."""
    cluster.seed(_secret("db", "same"))
    cluster.fail("v1/configmaps", 404)
    repo = _repo(tmp_path, _config_map("settings"), _secret("db", "same"))
    code, report, _ = _cli(cluster.kubeconfig(tmp_path / "kubeconfig"), repo)
    assert code == 2
    assert report["findings"] == []
    [error] = report["errors"]
    assert "ConfigMap" in error["message"] and "HTTP 404" in error["message"]
    assert len(cluster.calls("v1/configmaps")) == 1 and sleeps == []


def test_a_continue_token_that_keeps_expiring_gives_up_after_the_restarts(
        cluster: FakeCluster, tmp_path: Path) -> None:
    for index in range(4):
        cluster.seed(_config_map(f"cm-{index}"))
    cluster.expire_continue("v1/configmaps", times=None)
    connected = Cluster.connect(kubeconfig=cluster.kubeconfig(tmp_path / "kubeconfig"),
                                context="test", sleep=Sleeps())
    try:
        state = read_cluster(connected, {("", "ConfigMap"): ["v1"]}, {}, SecretMask(),
                             page_size=2)
    finally:
        connected.close()
    assert state.objects == {}
    assert "410" in state.unreadable[("", "ConfigMap")]
    first_pages = [c for c in cluster.calls("v1/configmaps") if "continue" not in c.query]
    assert len(first_pages) == MAX_LIST_RESTARTS + 1


# -- retried: 429, 5xx, bodies that are not JSON, timeouts, refused connections ----------------

def test_service_unavailable_then_success_gives_the_right_result(
        cluster: FakeCluster, tmp_path: Path) -> None:
    cluster.seed(_config_map("settings", mode="edited"))
    cluster.fail("v1/configmaps", 503, times=2)
    sleep = Sleeps()
    run = _drift(cluster, tmp_path, _repo(tmp_path, _config_map("settings")), sleep=sleep)
    assert run.report.errors == ()
    [finding] = run.report.findings
    assert (finding.rule_id, finding.details["path"]) == ("DRF003", "data.mode")
    assert (finding.details["declared"], finding.details["live"]) == ("prod", "edited")
    assert len(cluster.calls("v1/configmaps")) == 3 and len(sleep) == 2


def test_retry_after_is_honoured(cluster: FakeCluster, tmp_path: Path) -> None:
    cluster.seed(_config_map("settings"))
    cluster.fail("v1/configmaps", 429, times=1, retry_after=2)
    sleep = Sleeps(real=True)
    run = _drift(cluster, tmp_path, _repo(tmp_path, _config_map("settings")), sleep=sleep)
    assert run.report.errors == () and run.report.findings == ()
    assert sleep == [2.0]
    first, second = cluster.arrivals(CONFIG_MAPS)
    assert second - first >= 1.9


@pytest.mark.parametrize("fault", ["429", "500", "503", "truncated", "html-200", "html-502"])
def test_persistent_faults_are_retried_with_backoff_then_unread(
        cluster: FakeCluster, tmp_path: Path, sleeps: Sleeps, fault: str) -> None:
    cluster.seed(_config_map("settings"))
    cluster.seed(_secret("db", "same"))
    if fault == "truncated":
        cluster.truncate("v1/configmaps")
    elif fault.startswith("html-"):
        cluster.fail_html("v1/configmaps", int(fault[5:]))
    else:
        cluster.fail("v1/configmaps", int(fault))
    repo = _repo(tmp_path, _config_map("settings"), _secret("db", "same"))
    code, report, _ = _cli(cluster.kubeconfig(tmp_path / "kubeconfig"), repo)
    assert code == 2
    assert report["findings"] == []
    [error] = report["errors"]
    message = error["message"]
    assert "1 declared ConfigMap object(s) (core) not compared" in message
    assert f"gave up after {MAX_ATTEMPTS} attempts" in message
    assert "<html" not in message and "upstream proxy" not in message  # never the raw body
    if fault == "truncated":
        assert "not complete JSON (truncated?)" in message
    elif fault == "html-200":
        assert "not JSON but text/html (a proxy's page?)" in message
    else:
        assert f"HTTP {fault.removeprefix('html-')}" in message
    assert len(cluster.calls("v1/configmaps")) == MAX_ATTEMPTS
    _backoff_shape(sleeps)


@pytest.mark.parametrize("status", [200, 502])
def test_one_html_answer_is_retried(cluster: FakeCluster, tmp_path: Path, status: int) -> None:
    cluster.seed(_config_map("settings"))
    cluster.fail_html("v1/configmaps", status, times=1)
    run = _drift(cluster, tmp_path, _repo(tmp_path, _config_map("settings")))
    assert run.report.errors == () and run.report.findings == ()
    assert len(cluster.calls("v1/configmaps")) == 2


def test_slow_responses_past_the_request_timeout_are_retried_then_unread(
        cluster: FakeCluster, tmp_path: Path, sleeps: Sleeps) -> None:
    cluster.seed(_config_map("settings"))
    cluster.seed(_secret("db", "rotated-pass-0412"))
    cluster.delay("v1/configmaps", 2.0)
    repo = _repo(tmp_path, _config_map("settings"), _secret("db", "declared-pass-7731"))
    started = time.monotonic()
    code, report, _ = _cli(cluster.kubeconfig(tmp_path / "kubeconfig"), repo,
                           "--request-timeout", "0.2")
    assert time.monotonic() - started < MAX_ATTEMPTS * 2.0  # the timeout, not the delay
    assert code == 2
    assert _rules(report) == [("DRF003", "Secret", "db")]  # the other type compared
    [error] = report["errors"]
    assert "ConfigMap" in error["message"] and "timed out" in error["message"]
    assert len(cluster.calls("v1/configmaps")) == MAX_ATTEMPTS
    _backoff_shape(sleeps)


def test_refused_connections_are_retried_then_nothing_is_checked(
        cluster: FakeCluster, tmp_path: Path, sleeps: Sleeps) -> None:
    kubeconfig = cluster.kubeconfig(tmp_path / "kubeconfig", server=FakeCluster.refused_url())
    code, report, _ = _cli(kubeconfig, _repo(tmp_path, _config_map("settings")))
    assert code == 2
    assert report["findings"] == []
    assert any("connection refused" in e["message"] and "ConfigMap" in e["message"]
               for e in report["errors"]), report["errors"]
    assert sleeps and len(sleeps) % (MAX_ATTEMPTS - 1) == 0
    for start in range(0, len(sleeps), MAX_ATTEMPTS - 1):
        _backoff_shape(sleeps[start:start + MAX_ATTEMPTS - 1])


def test_a_server_that_stops_mid_run_leaves_the_rest_unread(
        cluster: FakeCluster, tmp_path: Path) -> None:
    """Discovery and the first LIST succeed; then the port refuses connections."""
    cluster.seed(_config_map("settings"))
    cluster.seed(_secret("db", "same"))
    kubeconfig = cluster.kubeconfig(tmp_path / "kubeconfig")
    connected = Cluster.connect(kubeconfig=kubeconfig, context="test", timeout=2,
                                sleep=Sleeps())
    wanted = {("", "ConfigMap"): ["v1"], ("", "Secret"): ["v1"]}
    stopped: list[bool] = []
    original = connected.get

    def get(path: str, query: Any = ()) -> Any:
        if path == "/api/v1/secrets" and not stopped:
            cluster.stop()
            stopped.append(True)
        return original(path, query)

    connected.get = get  # type: ignore[method-assign]
    try:
        state = read_cluster(connected, wanted, {}, SecretMask())
    finally:
        connected.close()
    assert state.readable("", "ConfigMap") and not state.readable("", "Secret")
    assert "connection refused" in state.unreadable[("", "Secret")]
    assert sorted(key.name for key in state.objects) == ["settings"]

