"""The fake cluster of the drift tests, driven only through the official `kubernetes` client.

`kubernetes` 37 regenerated `ApiClient`: `call_api(method, url, header_params, body,
post_params, _request_timeout)` takes a URL made by `param_serialize(...)` (query parameters go
there), returns a `RESTResponse` and raises nothing for a non-2xx status, so `_get` below does
what `call_api(..., _preload_content=False)` did in the older clients.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import urllib3
from kubernetes.client import ApiClient, Configuration, CoreV1Api
from kubernetes.client.exceptions import ApiException
from kubernetes.client.rest import RESTResponse

from tests.drift.cluster import Call, FakeCluster

Query = Sequence[tuple[str, Any]]


def _client(cluster: FakeCluster, tmp_path: Path, retries: Any = None,
            **kubeconfig: Any) -> ApiClient:
    path = cluster.kubeconfig(tmp_path / "kubeconfig", **kubeconfig)
    config = Configuration()
    kubernetes.config.load_kube_config(config_file=str(path), context="test",
                                       client_configuration=config)
    config.retries = retries
    return ApiClient(config)


@pytest.fixture
def api(cluster: FakeCluster, tmp_path: Path) -> Iterator[ApiClient]:
    path = cluster.kubeconfig(tmp_path / "kubeconfig")
    with kubernetes.config.new_client_from_config(config_file=str(path), context="test") as client:
        yield client


def _get(api: ApiClient, path: str, query: Query = (), timeout: Any = None) -> RESTResponse:
    """GET `path`; raise `ApiException` for a non-2xx status. `.data` holds the raw body."""
    request = api.param_serialize("GET", path, query_params=list(query),
                                  header_params={"Accept": "application/json"},
                                  auth_settings=["BearerToken"])
    response = api.call_api(*request, _request_timeout=timeout)
    data = response.read()
    if not 200 <= response.status <= 299:
        raise ApiException.from_response(http_resp=response, body=data.decode(), data=None)
    return response


def _json(api: ApiClient, path: str, query: Query = ()) -> Any:
    return json.loads(_get(api, path, query).data or b"")


def _pages(api: ApiClient, path: str, limit: int) -> list[dict[str, Any]]:
    pages = [_json(api, path, [("limit", limit)])]
    while token := pages[-1]["metadata"].get("continue"):
        pages.append(_json(api, path, [("limit", limit), ("continue", token)]))
    return pages


def _status(excinfo: pytest.ExceptionInfo[ApiException]) -> dict[str, Any]:
    body = json.loads(excinfo.value.body or "")
    assert body["kind"] == "Status" and body["status"] == "Failure"
    assert body["code"] == excinfo.value.status
    return body


def _configmap(name: str, namespace: str = "apps") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "data": {"name": name},
            "metadata": {"name": name, "namespace": namespace}}


def _deployment(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}",
                         "resourceVersion": "42", "generation": 3,
                         "managedFields": [{"manager": "argocd-controller", "operation": "Apply",
                                            "fieldsType": "FieldsV1",
                                            "fieldsV1": {"f:spec": {"f:replicas": {}}}}]},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "app"}]}}},
            "status": {"replicas": 2, "readyReplicas": 1, "observedGeneration": 3}}


# -- discovery ----------------------------------------------------------------------------


def test_core_discovery(api: ApiClient) -> None:
    assert _json(api, "/api")["versions"] == ["v1"]
    doc = _json(api, "/api/v1")
    assert (doc["kind"], doc["groupVersion"]) == ("APIResourceList", "v1")
    resources = {entry["name"]: entry for entry in doc["resources"]}
    assert resources["configmaps"] == {"name": "configmaps", "singularName": "configmap",
                                       "namespaced": True, "kind": "ConfigMap",
                                       "verbs": ["get", "list", "watch"]}
    assert resources["namespaces"]["namespaced"] is False
    assert resources["services/status"]["kind"] == "Service"
    assert _json(api, "/version")["gitVersion"].startswith("v1.")


def test_group_discovery(api: ApiClient, cluster: FakeCluster) -> None:
    cluster.add_resource("example.com", "v1beta1", "widgets", "Widget", namespaced=False,
                         verbs=("list", "get"))
    groups = {group["name"]: group for group in _json(api, "/apis")["groups"]}
    assert {"apps", "rbac.authorization.k8s.io", "networking.k8s.io", "autoscaling", "policy",
            "batch", "traefik.io", "velero.io", "example.com"} == set(groups)
    assert groups["autoscaling"]["preferredVersion"] == {"groupVersion": "autoscaling/v2",
                                                         "version": "v2"}
    assert _json(api, "/apis/traefik.io")["versions"] == [
        {"groupVersion": "traefik.io/v1alpha1", "version": "v1alpha1"}]

    apps = {entry["name"]: entry for entry in _json(api, "/apis/apps/v1")["resources"]}
    assert sorted(apps) == ["deployments", "deployments/scale", "deployments/status",
                            "statefulsets", "statefulsets/scale", "statefulsets/status"]
    assert apps["deployments"]["kind"] == "Deployment"
    assert apps["deployments/scale"]["kind"] == "Scale"

    widgets = _json(api, "/apis/example.com/v1beta1")
    assert widgets["groupVersion"] == "example.com/v1beta1"
    assert widgets["resources"] == [{"name": "widgets", "singularName": "widget",
                                     "namespaced": False, "kind": "Widget",
                                     "verbs": ["get", "list"]}]


@pytest.mark.parametrize("path", ["/apis/nope.io", "/apis/nope.io/v1", "/apis/apps/v2",
                                  "/apis/apps/v1/nopes", "/api/v1/namespaces/apps/clusterroles",
                                  "/healthz/nope"])
def test_unknown_paths_are_404_with_status(api: ApiClient, path: str) -> None:
    with pytest.raises(ApiException) as excinfo:
        _get(api, path)
    assert excinfo.value.status == 404
    assert _status(excinfo)["reason"] == "NotFound"


def test_wrong_token_is_unauthorized(cluster: FakeCluster, tmp_path: Path) -> None:
    with _client(cluster, tmp_path, token="not-the-token") as client, \
            pytest.raises(ApiException) as excinfo:
        _get(client, "/api/v1")
    assert excinfo.value.status == 401


# -- list and get -------------------------------------------------------------------------


def test_list_pages_with_limit_and_continue(api: ApiClient, cluster: FakeCluster) -> None:
    for index in range(7):
        cluster.seed(_configmap(f"cm-{index}"))
    cluster.seed(_configmap("elsewhere", namespace="other"))

    pages = _pages(api, "/api/v1/namespaces/apps/configmaps", limit=3)

    assert [len(page["items"]) for page in pages] == [3, 3, 1]
    names = [item["metadata"]["name"] for page in pages for item in page["items"]]
    assert names == [f"cm-{index}" for index in range(7)]
    assert {(page["kind"], page["apiVersion"]) for page in pages} == {("ConfigMapList", "v1")}
    assert len({page["metadata"]["resourceVersion"] for page in pages}) == 1
    assert [page["metadata"].get("remainingItemCount") for page in pages] == [4, 1, None]
    calls = cluster.calls("v1/configmaps")
    assert [call.query.get("limit") for call in calls] == ["3", "3", "3"]
    assert ["continue" in call.query for call in calls] == [False, True, True]


def test_cluster_wide_lists(api: ApiClient, cluster: FakeCluster) -> None:
    for namespace in ("a", "b", "c"):
        cluster.seed(_deployment(f"web-{namespace}", namespace))
    cluster.seed({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                  "metadata": {"name": "reader"}, "rules": []})

    pages = _pages(api, "/apis/apps/v1/deployments", limit=2)
    namespaces = [[item["metadata"]["namespace"] for item in page["items"]] for page in pages]
    assert namespaces == [["a", "b"], ["c"]]
    assert pages[0]["kind"] == "DeploymentList" and pages[0]["apiVersion"] == "apps/v1"
    roles = _json(api, "/apis/rbac.authorization.k8s.io/v1/clusterroles", [("limit", 500)])
    assert [item["metadata"]["name"] for item in roles["items"]] == ["reader"]
    assert "continue" not in roles["metadata"]


def test_typed_client_pages(api: ApiClient, cluster: FakeCluster) -> None:
    for index in range(5):
        cluster.seed(_configmap(f"cm-{index}"))
    core = CoreV1Api(api)

    first = core.list_namespaced_config_map("apps", limit=3)
    assert first.metadata is not None and first.metadata._continue
    second = core.list_namespaced_config_map("apps", limit=3, _continue=first.metadata._continue)

    names = [cm.metadata.name for cm in first.items + second.items if cm.metadata]
    assert names == [f"cm-{i}" for i in range(5)]
    assert second.metadata is not None and second.metadata._continue is None
    assert first.items[0].data == {"name": "cm-0"}


def test_get_returns_the_seeded_object_verbatim(api: ApiClient, cluster: FakeCluster) -> None:
    seeded = _deployment("web", "shop")
    cluster.seed(seeded)
    cluster.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})

    assert _json(api, "/apis/apps/v1/namespaces/shop/deployments/web") == seeded
    assert _json(api, "/apis/apps/v1/namespaces/shop/deployments")["items"] == [seeded]
    assert _json(api, "/api/v1/namespaces/shop")["metadata"] == {"name": "shop"}
    assert [ns["metadata"]["name"] for ns in _json(api, "/api/v1/namespaces")["items"]] == ["shop"]
    with pytest.raises(ApiException) as excinfo:
        _get(api, "/apis/apps/v1/namespaces/shop/deployments/gone")
    assert excinfo.value.status == 404
    assert _status(excinfo)["message"] == 'deployments.apps "gone" not found'


def test_seed_refuses_what_it_cannot_place(cluster: FakeCluster) -> None:
    with pytest.raises(ValueError, match="no resource registered"):
        cluster.seed({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
    with pytest.raises(ValueError, match="namespace"):
        cluster.seed({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "no-ns"}})


# -- faults -------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "reason"), [(403, "Forbidden"), (404, "NotFound"),
                                                (500, "InternalError"),
                                                (503, "ServiceUnavailable")])
def test_fail_once(api: ApiClient, cluster: FakeCluster, status: int, reason: str) -> None:
    cluster.fail("apps/v1/deployments", status, times=1)

    with pytest.raises(ApiException) as excinfo:
        _get(api, "/apis/apps/v1/deployments")
    assert excinfo.value.status == status
    assert _status(excinfo)["reason"] == reason
    assert _json(api, "/apis/apps/v1/deployments")["items"] == []
    assert _json(api, "/api/v1/configmaps")["kind"] == "ConfigMapList"  # other resources: fine


def test_fail_after_some_calls(api: ApiClient, cluster: FakeCluster) -> None:
    _get(api, "/api/v1/secrets")  # calls before fail() do not count
    cluster.fail("v1/secrets", 500, times=1, after=1)
    statuses = []
    for _ in range(3):
        try:
            statuses.append(_get(api, "/api/v1/secrets").status)
        except ApiException as exc:
            statuses.append(exc.status)
    assert statuses == [200, 500, 200]


def test_429_with_retry_after(cluster: FakeCluster, tmp_path: Path) -> None:
    cluster.fail("v1/configmaps", 429, retry_after=2)
    with _client(cluster, tmp_path, retries=False) as client, \
            pytest.raises(ApiException) as excinfo:
        _get(client, "/api/v1/configmaps")
    assert excinfo.value.status == 429
    assert (excinfo.value.headers or {})["Retry-After"] == "2"
    assert _status(excinfo)["details"]["retryAfterSeconds"] == 2


def test_urllib3_retries_429_with_retry_after_by_default(api: ApiClient,
                                                         cluster: FakeCluster) -> None:
    cluster.fail("v1/configmaps", 429, times=1, retry_after=0)
    assert _get(api, "/api/v1/configmaps").status == 200
    assert len(cluster.calls("v1/configmaps")) == 2


@pytest.mark.parametrize("after_pages", [1, 2])
def test_expired_continue_forces_a_restart(api: ApiClient, cluster: FakeCluster,
                                           after_pages: int) -> None:
    for index in range(7):
        cluster.seed(_configmap(f"cm-{index}"))
    cluster.expire_continue("v1/configmaps", after_pages=after_pages)
    path = "/api/v1/namespaces/apps/configmaps"

    token = _json(api, path, [("limit", 3)])["metadata"]["continue"]
    for _ in range(after_pages - 1):
        token = _json(api, path, [("limit", 3), ("continue", token)])["metadata"]["continue"]
    with pytest.raises(ApiException) as excinfo:
        _get(api, path, [("limit", 3), ("continue", token)])
    assert excinfo.value.status == 410
    body = _status(excinfo)
    assert body["reason"] == "Expired" and body["metadata"]["continue"]

    pages = _pages(api, path, limit=3)  # a restarted list is not expired again
    assert sum(len(page["items"]) for page in pages) == 7


def test_delay_makes_the_client_time_out(api: ApiClient, cluster: FakeCluster) -> None:
    cluster.delay("v1/configmaps", 5)
    started = time.monotonic()
    with pytest.raises(urllib3.exceptions.MaxRetryError) as excinfo:
        _get(api, "/api/v1/configmaps", timeout=(1, 0.1))
    assert isinstance(excinfo.value.reason, urllib3.exceptions.ReadTimeoutError)
    assert time.monotonic() - started < 2
    assert len(cluster.calls("v1/configmaps")) == 4  # urllib3 retries a read 3 times
    assert _get(api, "/api/v1/secrets", timeout=(1, 0.5)).status == 200


def test_truncated_body_does_not_parse(api: ApiClient, cluster: FakeCluster) -> None:
    cluster.seed(_configmap("cm"))
    cluster.truncate("v1/configmaps", times=1)

    response = _get(api, "/api/v1/configmaps")
    cut, full = response.data or b"", _get(api, "/api/v1/configmaps").data or b""

    assert response.status == 200 and response.headers["Content-Type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut)
    assert 0 < len(cut) < len(full) and full.startswith(cut)


def test_fail_discovery(api: ApiClient, cluster: FakeCluster) -> None:
    cluster.fail_discovery("/apis", 503)
    with pytest.raises(ApiException) as excinfo:
        _get(api, "/apis")
    assert excinfo.value.status == 503
    assert _json(api, "/api")["versions"] == ["v1"]
    assert _json(api, "/apis/apps/v1")["groupVersion"] == "apps/v1"


def test_refused_connections(cluster: FakeCluster, tmp_path: Path) -> None:
    with _client(cluster, tmp_path, server=cluster.refused_url()) as client, \
            pytest.raises(urllib3.exceptions.MaxRetryError) as excinfo:
        _get(client, "/api")
    assert isinstance(excinfo.value.reason, urllib3.exceptions.NewConnectionError)

    with _client(cluster, tmp_path, retries=False) as client:
        assert _get(client, "/api").status == 200
        cluster.stop()
        with pytest.raises(urllib3.exceptions.NewConnectionError, match="refused"):
            _get(client, "/api/v1")
    assert cluster.requests == [Call("GET", "/api", {})]


# -- the fixture itself -------------------------------------------------------------------


def test_requests_are_recorded(api: ApiClient, cluster: FakeCluster) -> None:
    cluster.seed(_configmap("cm"))
    _get(api, "/apis")
    _get(api, "/api/v1/namespaces/apps/configmaps", [("limit", 500)])
    _get(api, "/api/v1/namespaces/apps/configmaps/cm")
    assert cluster.requests == [
        Call("GET", "/apis", {}),
        Call("GET", "/api/v1/namespaces/apps/configmaps", {"limit": "500"}),
        Call("GET", "/api/v1/namespaces/apps/configmaps/cm", {}),
    ]
    assert [call.path for call in cluster.calls("v1/configmaps")] == [
        "/api/v1/namespaces/apps/configmaps", "/api/v1/namespaces/apps/configmaps/cm"]


def test_a_cluster_starts_fast(cluster_loop: Any) -> None:
    started = time.monotonic()
    with FakeCluster(cluster_loop) as fake:
        elapsed = time.monotonic() - started
        assert fake.url.startswith("http://127.0.0.1:")
    assert elapsed < 0.2
