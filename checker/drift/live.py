"""What the cluster runs: read from a live API server, or from `kubectl get -o yaml` dumps.

Reading is all-or-nothing per resource type: a type is either listed completely (every page)
or reported as unreadable with the reason, so that an object the checker could not see is
never reported as missing. Live Secrets are masked as they arrive.

From a cluster: the official `kubernetes` client (kubeconfig, contexts, in-cluster config,
auth plugins, TLS) and raw GETs — discovery, then one paginated LIST per resource type the
estate declares (across all namespaces; per declared namespace when RBAC allows only that).
Objects are parsed from JSON directly, not through the client's model classes (10× faster,
and CRDs have none). Importing the client costs ~0.6 s, so only this module does.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from checker.discover import discover
from checker.drift.normalize import SecretMask, mapping_at, masked_live
from checker.errors import CheckerError
from checker.load import LoadResult, load
from checker.model import Location, Manifest, Resource, ResourceKey, ToolError
from checker.secrets import secret_texts

TypeKey = tuple[str, str]
"""(group, kind): the unit in which live state is read, or not."""

PAGE_SIZE = 500
MAX_ATTEMPTS = 5
"""Attempts per request on 429/5xx/timeouts/refused connections, with backoff."""
MAX_LIST_RESTARTS = 3
"""Times a LIST is restarted from the first page when its continue token expires (410)."""


@dataclass
class LiveState:
    """Live objects by key, and the types that could not be read (with why)."""

    objects: dict[ResourceKey, Manifest] = field(default_factory=dict)
    read_types: set[TypeKey] = field(default_factory=set)
    unreadable: dict[TypeKey, str] = field(default_factory=dict)
    errors: list[ToolError] = field(default_factory=list)
    source: str = ""
    notes: list[str] = field(default_factory=list)
    loaded: LoadResult | None = None
    """The snapshot files as loaded, to locate live-only objects in them."""
    resources: dict[TypeKey, ApiResource] = field(default_factory=dict)
    """The API resource each type was read from (a cluster only)."""
    secret_texts: dict[ResourceKey, tuple[str, ...]] = field(default_factory=dict)
    """The secret values each live object held before it was masked (Secret values, env
    literals named like secrets), for the redactor of what the run prints: a live value may
    be quoted where no mask applies (an annotation, a container's env)."""

    def readable(self, group: str, kind: str) -> bool:
        return (group, kind) in self.read_types and (group, kind) not in self.unreadable

    def add(self, manifest: Manifest) -> None:
        self.objects[manifest.key] = manifest

    def find(self, key: ResourceKey) -> Manifest | None:
        """The live object with this key; a cluster-scoped object matches whatever namespace
        the manifest gave it."""
        found = self.objects.get(key)
        if found is None and key.namespace is not None:
            found = self.objects.get(ResourceKey(key.group, key.kind, None, key.name))
        return found


def read_snapshot(paths: Sequence[Path], root: Path, mask: SecretMask) -> LiveState:
    """Objects from dump files (`kubectl get … -o yaml|json`: Lists or multi-document).

    A type counts as read when the dump has at least one object of it: a dump says nothing
    about kinds it does not contain. A dump with unreadable parts makes every type unsure.
    """
    # Dumps are often kept in a git-ignored directory: every file given is read.
    candidates, _ = discover([str(p) for p in paths], root, gitignore=False)
    loaded = load(candidates)
    state = LiveState(source="snapshot " + ", ".join(str(p) for p in paths), loaded=loaded)
    state.errors.extend(ToolError(e.kind, f"live snapshot: {e.message}", e.path, e.line)
                        for e in loaded.errors)
    for manifest in loaded.manifests:
        texts = tuple(secret_texts(manifest.obj))
        if texts:
            state.secret_texts[manifest.key] = texts
        obj = masked_live(manifest.obj, mask)
        state.add(Manifest(manifest.resource, obj, manifest.location, manifest.doc_index))
        state.read_types.add((manifest.resource.group, manifest.resource.kind))
    if not loaded.manifests and not loaded.errors:
        state.errors.append(ToolError("live", "live snapshot holds no Kubernetes objects: "
                                      "nothing could be compared", None, None))
    if loaded.errors:
        for type_key in state.read_types:
            state.unreadable[type_key] = "part of the live snapshot could not be read"
    return state


class LiveError(Exception):
    """A request that failed for good (after retries)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class ApiResource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace is not None and self.namespaced:
            return f"{base}/namespaces/{quote(namespace, safe='')}/{self.plural}"
        return f"{base}/{self.plural}"


class Cluster:
    """Raw, retried GETs (and dry-run applies) against the API server of a kubeconfig."""

    def __init__(self, api_client: Any, *, timeout: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._api = api_client
        self.timeout = timeout
        self._sleep = sleep
        self.requests = 0

    @classmethod
    def connect(cls, *, kubeconfig: Path | None, context: str | None, timeout: float = 30.0,
                sleep: Callable[[float], None] = time.sleep) -> Cluster:
        from kubernetes import client, config  # the ~0.6 s import, only when drift runs
        from kubernetes.config.config_exception import ConfigException

        configuration = client.Configuration()
        try:
            if kubeconfig is None and context is None and _in_cluster():
                config.load_incluster_config(client_configuration=configuration)
            else:
                config.load_kube_config(config_file=str(kubeconfig) if kubeconfig else None,
                                        context=context, client_configuration=configuration,
                                        persist_config=False)
        except (ConfigException, OSError, ValueError, TypeError) as exc:
            where = f" {kubeconfig}" if kubeconfig else ""
            raise CheckerError(f"cannot load kubeconfig{where}: {exc}") from None
        configuration.retries = False  # retried here, with backoff and a bound
        return cls(client.ApiClient(configuration), timeout=timeout, sleep=sleep)

    @property
    def host(self) -> str:
        return str(self._api.configuration.host)

    def get(self, path: str, query: Sequence[tuple[str, Any]] = ()) -> Mapping[str, Any]:
        """A GET's JSON body; retried on 429/5xx, timeouts and refused connections."""
        return self._request("GET", path, query)

    def apply_dry_run(self, path: str, body: Mapping[str, Any],
                      manager: str) -> Mapping[str, Any]:
        """The object the server would store if `body` were applied (server-side apply,
        `dryRun=All`): its defaults, webhooks and field ownership, nothing persisted."""
        query = [("dryRun", "All"), ("fieldManager", manager), ("force", "true")]
        return self._request("PATCH", path, query, body=body,
                             content_type="application/apply-patch+yaml")

    def _request(self, method: str, path: str, query: Sequence[tuple[str, Any]],
                 body: Mapping[str, Any] | None = None,
                 content_type: str | None = None) -> Mapping[str, Any]:
        import urllib3

        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        last = ""
        for attempt in range(MAX_ATTEMPTS):
            self.requests += 1
            try:
                serialized = self._api.param_serialize(
                    method, path, query_params=list(query), header_params=dict(headers),
                    body=body, auth_settings=["BearerToken"])
                response = self._api.call_api(*serialized, _request_timeout=self.timeout)
                data = response.read()
                status = response.status
                retry_after = response.headers.get("Retry-After")
                content_type = str(response.headers.get("Content-Type") or "")
            except urllib3.exceptions.HTTPError as exc:
                last = _transport_problem(exc)
                self._backoff(attempt, None)
                continue
            except Exception as exc:  # noqa: BLE001 - the client raises its own ApiException
                status = getattr(exc, "status", None)
                if not isinstance(status, int):
                    raise LiveError(f"request failed: {type(exc).__name__}") from None
                data, retry_after = (getattr(exc, "body", b"") or b""), None
                content_type = ""
            if status == 429 or status >= 500:
                last = f"HTTP {status}{_status_message(data)}"
                self._backoff(attempt, retry_after)
                continue
            if status >= 400:
                raise LiveError(f"HTTP {status}{_status_message(data)}", status)
            try:
                parsed = json.loads(data)
            except ValueError:
                last = "the response was not complete JSON (truncated?)" \
                    if "json" in content_type or not content_type else \
                    f"the response was not JSON but {content_type.split(';')[0]} (a proxy's " \
                    "page?)"
                self._backoff(attempt, None)
                continue
            if not isinstance(parsed, dict):
                raise LiveError("the response was not a JSON object")
            return parsed
        raise LiveError(f"gave up after {MAX_ATTEMPTS} attempts: {last}")

    def _backoff(self, attempt: int, retry_after: str | None) -> None:
        if attempt == MAX_ATTEMPTS - 1:
            return
        delay = min(0.2 * 2 ** attempt, 5.0) * (0.5 + random.random() / 2)
        if retry_after is not None:
            try:
                delay = min(max(float(retry_after), 0.0), 10.0)
            except ValueError:
                pass
        self._sleep(delay)

    def close(self) -> None:
        self._api.close()


def _in_cluster() -> bool:
    import os

    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and \
        Path("/var/run/secrets/kubernetes.io/serviceaccount/token").is_file()


def _transport_problem(exc: Exception) -> str:
    text = type(exc).__name__
    reason = getattr(exc, "reason", None)
    if reason is not None:
        text = type(reason).__name__
    if "Timeout" in text:
        return "timed out"
    if "NewConnection" in text or "Connection" in text:
        return "connection refused or unreachable"
    return f"transport error ({text})"


def _status_message(data: bytes | str) -> str:
    """The `message` of a Kubernetes Status body, shortened; never the raw body."""
    try:
        status = json.loads(data)
    except (ValueError, TypeError):
        return ""
    message = status.get("message") if isinstance(status, dict) else None
    if not isinstance(message, str) or not message:
        return ""
    return f": {message[:300]}"


class Discovery:
    """Which resource serves a (group, kind), in which versions, namespaced or not."""

    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster
        self._by_group_version: dict[tuple[str, str], list[ApiResource] | str] = {}
        self._preferred: dict[str, str] | None = None
        self.problems: list[str] = []
        self.rejected: LiveError | None = None
        """A 401: the credentials were refused, and every later request would be too."""

    def resource(self, group: str, version: str, kind: str) -> ApiResource | str:
        """The resource for a kind in a version (else the group's preferred version), or
        why there is none."""
        listed = self._group_version(group, version)
        if isinstance(listed, list):
            for resource in listed:
                if resource.kind == kind:
                    return resource
        preferred = self._preferred_versions().get(group)
        if preferred and preferred != version:
            other = self._group_version(group, preferred)
            if isinstance(other, list):
                for resource in other:
                    if resource.kind == kind:
                        return resource
        if isinstance(listed, str):
            return listed
        return f"the server does not serve {kind} in {group or 'core'}/{version}"

    def _preferred_versions(self) -> dict[str, str]:
        if self._preferred is None:
            self._preferred = {"": "v1"}
            try:
                groups = self._cluster.get("/apis").get("groups") or []
            except LiveError as exc:
                self.problems.append(f"discovery of /apis failed: {exc}")
                self.rejected = exc if exc.status == 401 else self.rejected
                groups = []
            for entry in groups:
                if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                    version = (entry.get("preferredVersion") or {}).get("version")
                    if isinstance(version, str):
                        self._preferred[entry["name"]] = version
        return self._preferred

    def _group_version(self, group: str, version: str) -> list[ApiResource] | str:
        key = (group, version)
        if key not in self._by_group_version:
            path = f"/apis/{group}/{version}" if group else f"/api/{version}"
            try:
                body = self._cluster.get(path)
            except LiveError as exc:
                self.rejected = exc if exc.status == 401 else self.rejected
                if exc.status == 404:
                    self._by_group_version[key] = \
                        f"the server does not serve {group or 'core'}/{version}"
                else:
                    self._by_group_version[key] = f"discovery of {path} failed: {exc}"
                return self._by_group_version[key]
            resources = []
            for entry in body.get("resources") or []:
                if not isinstance(entry, dict) or "/" in str(entry.get("name", "")):
                    continue  # subresources (deployments/scale)
                verbs = entry.get("verbs") or []
                if "list" not in verbs:
                    continue
                resources.append(ApiResource(group, version, str(entry["name"]),
                                             str(entry.get("kind")),
                                             bool(entry.get("namespaced"))))
            self._by_group_version[key] = resources
        return self._by_group_version[key]


def read_cluster(cluster: Cluster, wanted: Mapping[TypeKey, Iterable[str]],
                 namespaces: Mapping[TypeKey, set[str]], mask: SecretMask,
                 *, page_size: int = PAGE_SIZE) -> LiveState:
    """List every wanted (group, kind) — tried in the given versions, in order — once.

    `namespaces` are the namespaces the estate declares objects of a type in: when a
    cluster-wide LIST is forbidden, those are listed one by one instead.
    """
    state = LiveState(source=f"cluster {cluster.host}")
    discovery = Discovery(cluster)
    for type_key, versions in sorted(wanted.items()):
        if discovery.rejected is not None:  # not asked again, not retried
            state.unreadable[type_key] = "the server rejected the credentials (HTTP 401)"
            continue
        group, kind = type_key
        found: ApiResource | str = "no version to look up"
        for version in versions:
            found = discovery.resource(group, version, kind)
            if isinstance(found, ApiResource):
                break
        if isinstance(found, str):
            state.unreadable[type_key] = found
            continue
        try:
            items = _list_all(cluster, found, None, page_size)
        except LiveError as exc:
            discovery.rejected = exc if exc.status == 401 else discovery.rejected
            if exc.status != 403 or not found.namespaced or not namespaces.get(type_key):
                state.unreadable[type_key] = f"LIST {found.path()} failed: {exc}"
                continue
            items, problem = _list_by_namespace(cluster, found, namespaces[type_key],
                                                page_size)
            if problem:
                state.unreadable[type_key] = problem
                continue
        state.read_types.add(type_key)
        state.resources[type_key] = found
        for item in items:
            _add_live(state, found, item, mask)
    state.notes.extend(discovery.problems)
    if discovery.rejected is not None:
        state.errors.append(ToolError(
            "live", f"the cluster at {cluster.host} rejected the credentials "
            f"({discovery.rejected}): nothing more was read from it; check the kubeconfig's "
            "user (an expired token or client certificate?)"))
    return state


def _list_by_namespace(cluster: Cluster, resource: ApiResource, names: Iterable[str],
                       page_size: int) -> tuple[list[Mapping[str, Any]], str]:
    items: list[Mapping[str, Any]] = []
    for namespace in sorted(names):
        try:
            items.extend(_list_all(cluster, resource, namespace, page_size))
        except LiveError as exc:
            return [], f"LIST {resource.path(namespace)} failed: {exc}"
    return items, ""


def _list_all(cluster: Cluster, resource: ApiResource, namespace: str | None,
              page_size: int) -> list[Mapping[str, Any]]:
    """Every page of a LIST; restarted from the start when the continue token expires."""
    for _ in range(MAX_LIST_RESTARTS + 1):
        items: list[Mapping[str, Any]] = []
        token = ""
        expired = False
        while True:
            query: list[tuple[str, Any]] = [("limit", page_size)]
            if token:
                query.append(("continue", token))
            try:
                body = cluster.get(resource.path(namespace), query)
            except LiveError as exc:
                if exc.status == 410 and token:
                    expired = True
                    break
                raise
            page = body.get("items")
            if not isinstance(page, list):
                raise LiveError("the LIST response has no items")
            items.extend(item for item in page if isinstance(item, dict))
            token = str((body.get("metadata") or {}).get("continue") or "")
            if not token:
                return items
        if not expired:
            break
    raise LiveError(f"the list kept expiring (410 Gone) after {MAX_LIST_RESTARTS} restarts")


def _add_live(state: LiveState, resource: ApiResource, item: Mapping[str, Any],
              mask: SecretMask) -> None:
    obj = dict(item)
    # Items of a LIST carry no apiVersion/kind of their own.
    obj.setdefault("apiVersion", resource.api_version)
    obj.setdefault("kind", resource.kind)
    metadata = mapping_at(obj, "metadata")
    name = str(metadata.get("name") or "")
    namespace = metadata.get("namespace") if resource.namespaced else None
    texts = tuple(secret_texts(obj))
    obj = masked_live(obj, mask)
    manifest = Manifest(Resource(resource.api_version, resource.kind,
                                 namespace if isinstance(namespace, str) else None, name),
                        obj, Location(None), 0)
    state.add(manifest)
    if texts:
        state.secret_texts[manifest.key] = texts
