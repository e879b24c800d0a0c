"""A loopback Kubernetes API server for the drift tests, built on kmock's `KubernetesEmulator`.

kmock keeps the objects (`emulator.objects`), the resource table (`emulator.resources`), parses
requests and serves HTTP; its reactions DSL injects the faults (`fail`, `fail_html`,
`expire_continue`, `truncate`, `fail_discovery`). This module fills what kmock 0.8 lacks or gets
wrong:

- discovery as a real API server answers it (`groupVersion: "v1"` for `/api/v1`, `kind`,
  `namespaced`, sorted `verbs`, subresources, a stable `preferredVersion`), from the declared
  resources only (kmock also advertises anything a reaction's filter names);
- LIST with `limit`/`continue` (opaque tokens holding the next key, as the API server's do),
  `kind: <Kind>List`, `apiVersion`, `metadata.resourceVersion` and `remainingItemCount`;
- `/api/v1/namespaces[/<name>]`, which kmock's path parser reads as a namespace prefix (and
  fails on outright);
- bearer-token auth (401 otherwise) and `Status` bodies without kmock's tracebacks.

The emulator is asynchronous and the `kubernetes` client is not, so the server runs on an event
loop in a background thread (`background_loop()`); every change is made on that loop.
`Retry-After` is sent in whole seconds (rounded up), as real servers do: urllib3, under the
`kubernetes` client, sleeps that long and retries 429/503 answers that carry it (3 times).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import json
import math
import re
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple, Self, TypeVar

import aiohttp.web
import attrs
import kmock
import yaml
from kmock import KubernetesEmulator, KubernetesError, KubernetesNotFoundError, ResourceInfo

T = TypeVar("T")
ResourceRef = str | tuple[str, str, str]  # "apps/v1/deployments", "v1/configmaps", (g, v, plural)

# group, version, plural, kind, namespaced, subresources
DEFAULT_RESOURCES: tuple[tuple[str, str, str, str, bool, tuple[str, ...]], ...] = (
    ("", "v1", "namespaces", "Namespace", False, ("status", "finalize")),
    ("", "v1", "configmaps", "ConfigMap", True, ()),
    ("", "v1", "secrets", "Secret", True, ()),
    ("", "v1", "services", "Service", True, ("status",)),
    ("", "v1", "serviceaccounts", "ServiceAccount", True, ("token",)),
    ("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ("status",)),
    ("apps", "v1", "deployments", "Deployment", True, ("status", "scale")),
    ("apps", "v1", "statefulsets", "StatefulSet", True, ("status", "scale")),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role", True, ()),
    ("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True, ()),
    ("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, ()),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False, ()),
    ("networking.k8s.io", "v1", "ingresses", "Ingress", True, ("status",)),
    ("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, ("status",)),
    ("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ("status",)),
    ("batch", "v1", "cronjobs", "CronJob", True, ("status",)),
    ("traefik.io", "v1alpha1", "ingressroutes", "IngressRoute", True, ()),
    ("velero.io", "v1", "schedules", "Schedule", True, ("status",)),
)
_SUBRESOURCES = {"scale": ("Scale", ["get", "patch", "update"]),
                 "token": ("TokenRequest", ["create"])}
_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
            410: "Expired", 429: "TooManyRequests", 500: "InternalError",
            503: "ServiceUnavailable", 504: "Timeout"}
_MESSAGES = {404: "the server could not find the requested resource",
             429: "Too many requests, please try again later.",
             500: "Internal error occurred: injected fault",
             503: "the server is currently unable to handle the request"}
_EXPIRED = ("The provided continue parameter is too old to display a consistent list result. You"
            " can start a new list without the continue parameter, or use the continue token in"
            " this response to retrieve the remainder of the results.")
_NAMESPACES_PATH = re.compile(
    r"/api/v1/namespaces(?:/(?P<name>[^/]+)(?:/(?P<sub>status|finalize))?)?/?")


class Call(NamedTuple):
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, str]


def status_body(code: int, message: str, reason: str | None = None,
                details: Mapping[str, Any] | None = None,
                metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A `Status` object, as the API server sends with every error."""
    body = {"kind": "Status", "apiVersion": "v1", "metadata": dict(metadata or {}),
            "status": "Failure",
            "message": message, "reason": reason or _REASONS.get(code, "Unknown"), "code": code}
    return body | ({"details": dict(details)} if details else {})


def _not_found() -> KubernetesError:
    return KubernetesError(404, "NotFound", _MESSAGES[404])


def _ref(ref: ResourceRef) -> kmock.resource:
    parts = tuple(ref.split("/")) if isinstance(ref, str) else ref
    return kmock.resource(*(("", *parts) if len(parts) == 2 else parts))


def _api_version(res: kmock.resource) -> str:
    return f"{res.group}/{res.version}" if res.group else str(res.version)


def _encode_continue(rv: int, start: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return int(data["rv"]), str(data["start"])
    except (ValueError, KeyError, TypeError) as exc:
        raise KubernetesError(400, "BadRequest", f"continue key is not valid: {exc}") from None


@attrs.define(kw_only=True)
class ClusterEmulator(KubernetesEmulator):
    """kmock's emulator with the discovery, LIST and auth of a real API server."""

    token: str = "drift-test-token"
    rv: int = 1000  # the resourceVersion of the latest change
    delays: dict[kmock.resource, float] = attrs.field(factory=dict)
    closing: asyncio.Event = attrs.field(factory=asyncio.Event)  # ends delays when stopping
    arrivals: list[tuple[float, str, str]] = attrs.field(factory=list)
    """(time.monotonic(), method, path) of every request, as it arrived."""

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        self.arrivals.append((time.monotonic(), raw_request.method, raw_request.path))
        match = _NAMESPACES_PATH.fullmatch(raw_request.path)
        if match is None:
            return await super().__call__(raw_request)
        await raw_request.read()
        request = kmock.Request(
            id=len(self._requests), raw_request=raw_request, url=raw_request.url,
            method=raw_request.method, params=dict(raw_request.query),
            headers=dict(raw_request.headers), resource=kmock.resource("", "v1", "namespaces"),
            action=(kmock.action.FETCH if match["name"] else kmock.action.LIST)
            if raw_request.method == "GET" else None,
            name=match["name"], subresource=match["sub"])
        self._requests.append(request)
        try:
            return await self._handle(request)
        except Exception as exc:  # noqa: BLE001 - as RawHandler.__call__: answer, keep it
            self.errors.append(exc)
            return await self._render_error(exc)

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        headers = {key.lower(): value for key, value in request.headers.items()}
        if headers.get("authorization") != f"Bearer {self.token}":
            raise KubernetesError(401, "Unauthorized", "Unauthorized")
        seconds = self.delays.get(request.resource) if request.resource else None
        if seconds is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.closing.wait(), seconds)
        if "dryRun" in request.params:
            # A dry run persists nothing: skip kmock's storage of the change (it stores even
            # what reactions answer) and answer with the reactions or `dry_run_answer`.
            return await kmock.KubernetesScaffold._handle(self, request)
        return await super()._handle(request)

    async def _serve_update(self, request: kmock.Request) -> dict[str, Any]:
        if "dryRun" not in request.params:
            result: dict[str, Any] = await super()._serve_update(request)
            return result
        return self.dry_run_answer(request)

    def dry_run_answer(self, request: kmock.Request) -> dict[str, Any]:
        """A server-side apply dry run without a scripted answer: the live object with the
        applied fields merged in (maps merged, lists replaced), which is what a server
        answers for simple objects; tests of real verdicts script the server's answer."""
        res, _ = self._lookup(request)
        key = (res, request.namespace, str(request.name))
        if key not in self.objects or self.objects[key].deleted:
            raise _not_found()
        return _merged(copy.deepcopy(self.objects[key].raw), request.data or {})

    async def _render_error(self, exc: Exception) -> aiohttp.web.StreamResponse:
        if isinstance(exc, KubernetesNotFoundError):  # kmock's own: unknown paths
            exc = _not_found()
        if isinstance(exc, KubernetesError):
            body = status_body(exc.status, exc.message or "", exc.reason, exc.details)
            return aiohttp.web.json_response(body, status=exc.status)
        return await super()._render_error(exc)

    def _groups(self) -> dict[str, list[str]]:  # in the order declared: the first is preferred
        groups: dict[str, list[str]] = {}
        for res in self.resources:
            versions = groups.setdefault(str(res.group), [])
            versions += [] if res.version in versions else [str(res.version)]
        return groups

    def _group(self, name: str) -> dict[str, Any]:
        versions = [{"groupVersion": f"{name}/{v}", "version": v} for v in self._groups()[name]]
        return {"name": name, "versions": versions, "preferredVersion": versions[0]}

    async def _serve_api(self, request: kmock.Request) -> dict[str, Any]:
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}

    async def _serve_apis(self, request: kmock.Request) -> dict[str, Any]:
        groups = [self._group(group) for group in self._groups() if group]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    async def _serve_group(self, request: kmock.Request) -> dict[str, Any]:
        if request.resource is None or not request.resource.group \
                or request.resource.group not in self._groups():
            raise _not_found()
        return {"kind": "APIGroup", "apiVersion": "v1", **self._group(request.resource.group)}

    async def _serve_version(self, request: kmock.Request) -> dict[str, Any]:
        assert request.resource is not None
        group, version = request.resource.group, request.resource.version
        found = [(res, self.resources[res]) for res in self.resources
                 if (res.group, res.version) == (group, version)]
        if not found:
            raise _not_found()
        entries = []
        for res, info in found:
            entries.append({"name": res.plural, "singularName": info.singular or "",
                            "namespaced": bool(info.namespaced), "kind": info.kind,
                            "verbs": sorted(info.verbs)}
                           | ({"shortNames": sorted(info.shortnames)} if info.shortnames else {}))
            for sub in sorted(info.subresources):
                kind, verbs = _SUBRESOURCES.get(sub, (info.kind, ["get", "patch", "update"]))
                entries.append({"name": f"{res.plural}/{sub}", "singularName": "",
                                "namespaced": bool(info.namespaced), "kind": kind, "verbs": verbs})
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": _api_version(request.resource), "resources": entries}

    def _lookup(self, request: kmock.Request) -> tuple[kmock.resource, ResourceInfo]:
        res = request.resource
        if res is None or res not in self.resources \
                or (request.namespace and not self.resources[res].namespaced):
            raise _not_found()
        return res, self.resources[res]

    async def _serve_list(self, request: kmock.Request) -> dict[str, Any]:
        res, info = self._lookup(request)
        token = request.params.get("continue")
        rv, start = _decode_continue(token) if token else (self.rv, "")
        try:
            limit = max(int(request.params.get("limit") or 0), 0)
        except ValueError:
            raise KubernetesError(400, "BadRequest", "limit: not an integer") from None
        rows = sorted(((f"{ns}/{name}" if ns else name, obj)
                       for (r, ns, name), obj in self.objects.items()
                       if r == res and not obj.deleted and request.namespace in (None, ns)),
                      key=lambda row: row[0])
        rows = [row for row in rows if row[0] >= start]
        page, rest = (rows[:limit], rows[limit:]) if limit else (rows, [])
        metadata: dict[str, Any] = {"resourceVersion": str(rv)}
        if rest:
            metadata |= {"continue": _encode_continue(rv, page[-1][0] + "\x00"),
                         "remainingItemCount": len(rest)}
        return {"kind": f"{info.kind}List", "apiVersion": _api_version(res),
                "metadata": metadata, "items": [obj.raw for _, obj in page]}

    async def _serve_fetch(self, request: kmock.Request) -> dict[str, Any]:
        res, info = self._lookup(request)
        key = (res, request.namespace, str(request.name))
        if request.subresource and request.subresource not in info.subresources:
            raise _not_found()
        if key not in self.objects or self.objects[key].deleted:
            what = f"{res.plural}.{res.group}" if res.group else res.plural
            raise KubernetesError(404, "NotFound", f'{what} "{request.name}" not found',
                                  {"name": request.name, "group": res.group, "kind": res.plural})
        return self.objects[key].raw

    async def expired(self, request: kmock.Request) -> dict[str, Any]:
        """A 410 body with a token to go on from the same key (an inconsistent continuation)."""
        _, start = _decode_continue(request.params["continue"])
        return status_body(410, _EXPIRED, metadata={"continue": _encode_continue(self.rv, start)})

    async def truncated(self, request: kmock.Request) -> bytes:
        full = await (self._serve_fetch if request.name else self._serve_list)(request)
        data = json.dumps(full).encode()
        return data[: len(data) // 2]


def _merged(base: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            base[key] = _merged(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


@contextlib.contextmanager
def background_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running in a daemon thread until the block ends."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-cluster", daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()


class FakeCluster:
    """A Kubernetes API on 127.0.0.1 for one test: `with FakeCluster(loop) as cluster: ...`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, token: str = "drift-test-token") -> None:
        self.token = token
        self._loop = loop
        self._server: kmock.Server | None = None
        self.emulator: ClusterEmulator
        self.url = ""

    def __enter__(self) -> Self:
        async def start() -> tuple[ClusterEmulator, kmock.Server]:
            emulator = ClusterEmulator(token=self.token)
            for group, version, plural, kind, namespaced, subresources in DEFAULT_RESOURCES:
                emulator.resources[kmock.resource(group, version, plural)] = ResourceInfo(
                    kind=kind, namespaced=namespaced, singular=kind.lower(),
                    verbs=("get", "list", "watch"), subresources=subresources)
            await emulator.__aenter__()
            return emulator, await kmock.Server(emulator).__aenter__()

        self.emulator, self._server = self._run(start())
        self.url = f"http://127.0.0.1:{self._server.port}"
        return self

    def __exit__(self, *exc_info: object) -> None:
        async def close() -> list[Exception]:
            self.emulator.closing.set()
            if self._server is not None:
                await self._server.__aexit__(None, None, None)
            errors = [e for e in self.emulator.errors if not isinstance(e, KubernetesError)]
            await self.emulator.__aexit__(None, None, None)
            return errors

        errors = self._run(close())
        self._server = None
        assert not errors, f"the fake cluster failed while serving: {errors!r}"

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    def _on_loop(self, fn: Callable[[], T]) -> T:
        async def call() -> T:
            return fn()
        return self._run(call())

    # -- setup ----------------------------------------------------------------------------

    def kubeconfig(self, path: Path, context: str = "test", *, server: str | None = None,
                   token: str | None = None) -> Path:
        """Write (or add `context` to) a kubeconfig for this server: plain http, token auth."""
        config = yaml.safe_load(path.read_text()) if path.exists() else None
        config = config or {"apiVersion": "v1", "kind": "Config", "preferences": {},
                            "current-context": context}
        entries = {"clusters": {"cluster": {"server": server or self.url}},
                   "users": {"user": {"token": token or self.token}},
                   "contexts": {"context": {"cluster": context, "user": context,
                                            "namespace": "default"}}}
        for section, entry in entries.items():
            others = [e for e in config.get(section) or [] if e.get("name") != context]
            config[section] = [*others, {"name": context, **entry}]
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def add_resource(self, group: str, version: str, plural: str, kind: str,
                     namespaced: bool = True, verbs: Iterable[str] = ("get", "list", "watch"),
                     *, subresources: Iterable[str] = (), shortnames: Iterable[str] = ()) -> None:
        info = ResourceInfo(kind=kind, namespaced=namespaced, singular=kind.lower(), verbs=verbs,
                            subresources=subresources, shortnames=shortnames)
        res = kmock.resource(group, version, plural)
        self._on_loop(lambda: self.emulator.resources.__setitem__(res, info))

    def seed(self, obj: Mapping[str, Any]) -> None:
        """Store a live object; LIST and GET return it verbatim."""
        group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
        metadata = obj.get("metadata") or {}
        name, namespace = metadata.get("name"), metadata.get("namespace")

        def store() -> None:
            emulator = self.emulator
            found = [res for res in emulator.resources
                     if (res.group, res.version, emulator.resources[res].kind)
                     == (group, version, obj.get("kind"))]
            if not found or not name:
                raise ValueError(f"no resource registered for {obj.get('apiVersion')} "
                                 f"{obj.get('kind')} (see add_resource), or no metadata.name")
            if bool(emulator.resources[found[0]].namespaced) != bool(namespace):
                raise ValueError(f"{obj.get('kind')} {name}: metadata.namespace does not fit")
            emulator.objects[found[0], namespace, name] = copy.deepcopy(dict(obj))
            emulator.rv += 1

        self._on_loop(store)

    # -- faults ---------------------------------------------------------------------------

    def _react(self, view: kmock.View, times: int | None, after: int, *payload: Any) -> None:
        """Answer calls number `after`..`after + times - 1` from now (0-based) with `payload`."""
        def install() -> None:
            start = len(view) + after
            reaction = view[start: None if times is None else start + times]
            for item in payload:
                reaction = reaction << item

        self._on_loop(install)

    def fail(self, resource: ResourceRef, status: int, times: int | None = None,
             retry_after: float | None = None, *, after: int = 0) -> None:
        """Answer requests for `resource` (all of them, or `times` after `after`) with `status`."""
        res = _ref(resource)
        message = _MESSAGES.get(status, f"injected fault {status}")
        if status == 403:
            message = (f'{res.plural} is forbidden: User "system:serviceaccount:drift:checker"'
                       f' cannot list resource "{res.plural}" in API group "{res.group}"'
                       " at the cluster scope")
        details: dict[str, Any] = {"group": res.group, "kind": res.plural}
        headers: dict[str, str] = {}
        if retry_after is not None:  # whole seconds: urllib3 rejects "0.5" (InvalidHeader)
            details["retryAfterSeconds"] = math.ceil(retry_after)
            headers = {"Retry-After": str(details["retryAfterSeconds"])}
        body = status_body(status, message, details=details)
        self._react(self.emulator[res], times, after, status, kmock.headers(headers), body)

    def expire_continue(self, resource: ResourceRef, after_pages: int = 1,
                        times: int | None = 1) -> None:
        """Answer the continue request that follows page `after_pages` with 410 Expired, once
        (or `times` continue requests in a row; None: every one)."""
        view = self.emulator[_ref(resource)][lambda request: "continue" in request.params]
        self._react(view, times, after_pages - 1, 410, self.emulator.expired)

    def delay(self, resource: ResourceRef, seconds: float) -> None:
        """Hold every request for `resource` for `seconds` (until the server stops at most)."""
        res = _ref(resource)
        self._on_loop(lambda: self.emulator.delays.__setitem__(res, seconds))

    def truncate(self, resource: ResourceRef, times: int | None = None, *, after: int = 0) -> None:
        """Answer with 200 and the first half of the JSON body only."""
        headers: kmock.headers[str] = kmock.headers({"Content-Type": "application/json"})
        self._react(self.emulator[_ref(resource)], times, after, 200, headers,
                    self.emulator.truncated)

    def fail_html(self, resource: ResourceRef, status: int, times: int | None = None, *,
                  after: int = 0) -> None:
        """Answer with `status` and an HTML page, as a proxy or load balancer in front of the
        API server does (a 502 from an ingress, a 200 login page of an SSO proxy)."""
        page = (f"<html><head><title>{status}</title></head><body><h1>{status}</h1>"
                "<p>upstream proxy</p></body></html>").encode()
        self._react(self.emulator[_ref(resource)], times, after, status,
                    kmock.headers({"Content-Type": "text/html"}), page)

    def answer_dry_run(self, resource: ResourceRef, answer: Mapping[str, Any]) -> None:
        """Answer server-side apply dry runs for `resource` with `answer` (a server's reply)."""
        view = self.emulator[_ref(resource)][lambda request: "dryRun" in request.params]
        self._react(view, None, 0, 200, kmock.headers({"Content-Type": "application/json"}),
                    copy.deepcopy(dict(answer)))

    def refuse_patch(self, resource: ResourceRef) -> None:
        """403 for every PATCH of `resource` (read-only RBAC), LIST and GET unaffected."""
        res = _ref(resource)
        body = status_body(403, f'{res.plural} is forbidden: User "system:serviceaccount:drift:'
                                f'checker" cannot patch resource "{res.plural}" in API group '
                                f'"{res.group}"', details={"group": res.group, "kind": res.plural})
        view = self.emulator[_ref(resource)][lambda request: request.method.value == "PATCH"]
        self._react(view, None, 0, 403, body)

    def fail_discovery(self, path: str, status: int, times: int | None = None) -> None:
        """Answer `GET <path>` (e.g. "/apis", "/apis/apps/v1") with `status`."""
        body = status_body(status, _MESSAGES.get(status, f"injected fault {status}"))
        self._react(self.emulator[f"get {path}"], times, 0, status, body)

    def stop(self) -> None:
        """Stop listening: the port then refuses connections. Recorded requests stay."""
        async def stop(server: kmock.Server | None) -> None:
            self.emulator.closing.set()
            if server is not None:
                await server.__aexit__(None, None, None)

        self._run(stop(self._server))
        self._server = None

    @staticmethod
    def refused_url() -> str:
        """A loopback URL with nothing listening (a port just freed by this process)."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return f"http://127.0.0.1:{sock.getsockname()[1]}"

    # -- assertions -----------------------------------------------------------------------

    def emulator_objects_unchanged(self, obj: Mapping[str, Any]) -> bool:
        """Whether the stored object is still exactly `obj` (a dry run persisted nothing)."""
        metadata = obj.get("metadata") or {}
        api_version, kind = str(obj["apiVersion"]), str(obj["kind"])
        for res, info in self.emulator.resources.items():
            if _api_version(res) == api_version and info.kind == kind:
                key = (res, metadata.get("namespace") if info.namespaced else None,
                       metadata["name"])
                stored = self._on_loop(
                    lambda key=key: copy.deepcopy(self.emulator.objects[key].raw))
                return bool(stored == obj)
        return False

    def arrivals(self, path: str) -> list[float]:
        """When the requests for `path` (e.g. "/api/v1/configmaps") arrived (time.monotonic)."""
        return [at for at, _, seen in list(self.emulator.arrivals) if seen == path]

    @property
    def requests(self) -> list[Call]:
        return [Call(r.method.value, r.url.path, dict(r.params)) for r in list(self.emulator)]

    def calls(self, resource: ResourceRef) -> list[Call]:
        """The requests for one resource type (LISTs, GETs of objects, any namespace)."""
        res = _ref(resource)
        return [Call(r.method.value, r.url.path, dict(r.params))
                for r in list(self.emulator) if r.resource is not None and r.resource == res]
