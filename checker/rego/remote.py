"""A `RegoEngine` that evaluates on a remote OPA server, through `opa-python-client`.

`RemoteEngine.load` pushes our modules as policies with ids `<prefix>/<module name>` and our
data document key by key (`PUT /v1/data/<key>`, never `PUT /v1/data`: the server's data
document is shared, and replacing it whole would wipe what others keep there). Queries are
ad-hoc queries (`POST /v1/query`). With `push=False` the server is assumed to hold the policies
and data already (deployed by a bundle, say): `load` sends nothing, not even the data.

Failures become the errors of `checker.rego.engine`, with `RegoError.kind`:

- `connection`: OPA cannot be reached (refused, unknown host, TLS failure, connect timeout);
- `timeout` (a `RegoTimeout`): no answer within the read timeout;
- `unauthorized`: HTTP 401/403, a missing or wrong bearer token;
- `prepare_error` / `eval_error`: OPA refused the query (HTTP 400) or it failed while running
  (HTTP 500), the same kinds as `InProcessEngine` uses;
- `http`: any other answer that is not what OPA's REST API promises;
- `input`: the input cannot be sent as JSON (NaN or infinity).

Input documents may hold Secrets: nothing here logs them, and no message of ours repeats
them (OPA's own error text, passed on, may quote a value, as it does in process).

Where `opa_client` (3.0) is used and where it is not:

- Policies, policy list, deletions, dict-valued data and queries go through its
  `update_policy_from_string` (with `rego_compat=False`: its v0-to-v1 rewriting would upload
  a module other than the one we were given), `get_policies_list`, `delete_policy`,
  `update_or_create_data`, `delete_data` and `ad_hoc_query`.
- Per-request timeouts: the client passes its `timeout` attribute to every request; a small
  subclass makes that attribute thread-local, so one call can have its own limit without
  racing other threads. It holds a `(connect, read)` pair, which `requests` accepts.
- Error details: its exceptions keep part of OPA's error JSON (`delete_policy` drops the
  `errors` list that says which module depends on the one being deleted) and not the HTTP
  status, and a body that is not JSON surfaces as a bare decoding error. A response hook on
  its `requests` session records, per thread, the status of the last answer and, when it
  is an error, OPA's error JSON; it is only read to build the `RegoError`, never logged.
- Two requests go around its methods, through its own session (its private `_session`:
  same token, retries and TLS settings): `PUT /v1/data/<key>` for a value that is not an object (`update_or_create_data`
  only takes dicts), and `POST /v1/query` with an input that is falsy but not None (`{}`,
  `[]`, `0`, `""`, `false`), which `ad_hoc_query` would silently leave out, making `input`
  undefined instead of empty.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import requests
import urllib3
from opa_client import OpaClient
from opa_client.errors import (
    DeleteDataError,
    DeletePolicyError,
    PolicyNotFoundError,
    RegoParseError,
    TypeException,
)

from checker.rego.engine import RegoError, RegoProblem, RegoTimeout, parse_problems, sandboxed

_T = TypeVar("_T")

#: Seconds allowed to open a connection, whatever the read timeout.
CONNECT_TIMEOUT = 10.0

_OpaClientError = (RegoParseError, DeletePolicyError, DeleteDataError, PolicyNotFoundError)


class _Client(OpaClient):
    """`OpaClient` with a per-thread, per-call timeout and a record of the last HTTP status."""

    def __init__(self, **kwargs: Any) -> None:
        self._calls = threading.local()
        self._default_timeout: Any = None
        super().__init__(**kwargs)  # sets self.timeout: the default, through the setter

    @property
    def timeout(self) -> Any:
        return getattr(self._calls, "timeout", self._default_timeout)

    @timeout.setter
    def timeout(self, value: Any) -> None:
        self._default_timeout = value

    def _init_session(self) -> requests.Session:
        session = super()._init_session()
        session.hooks["response"].append(self._remember)
        return session

    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._calls.status = (response.status_code, response.reason or "")
        body = None
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                pass
        self._calls.error = body if isinstance(body, dict) else None


class RemoteEngine:
    """OPA behind its REST API, e.g. `RemoteEngine("http://127.0.0.1:8181", token=...)`.

    `timeout` is the default read timeout, in seconds, of every request (`None`: no limit;
    connecting is always limited to `CONNECT_TIMEOUT`); `query(timeout=...)` overrides it
    for one query. A query that times out may still be running on the server. `retries` is
    opa_client's: how often a failed connection (and HTTP 500/502/504 to a GET, PUT or
    DELETE) is tried again, with a short backoff.
    """

    def __init__(self, url: str, *, token: str | None = None, push: bool = True,
                 prefix: str = "gitops-checker", timeout: float | None = None,
                 retries: int = 2) -> None:
        parts = urlsplit(url)
        if parts.username is not None or parts.password is not None:
            raise ValueError("OPA URL cannot hold credentials (not repeated here): use token=")
        if not prefix.strip("/"):
            raise ValueError("prefix cannot be empty: every policy on the server would be ours")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"OPA URL must be http(s)://host[:port], not {url!r}")
        if parts.path.strip("/") or parts.query or parts.fragment:
            # opa_client builds every URL as scheme://host:port/v1/...: no base path.
            raise ValueError(f"OPA URL cannot have a path: {url!r}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise ValueError(f"OPA URL has an invalid port: {url!r}") from None
        host = parts.hostname
        if ":" in host:
            host = f"[{host}]"  # IPv6: opa_client writes f"{host}:{port}"
        self.url = f"{parts.scheme}://{host}:{port}"
        self.push = push
        self.prefix = prefix.strip("/")
        self.timeout = timeout
        self._client = _Client(host=host, port=port, ssl=parts.scheme == "https",
                               token=token, retries=retries,
                               timeout=_requests_timeout(timeout))
        self._pushed_data: set[str] = set()

    # -- RegoEngine -----------------------------------------------------------------------

    def load(self, modules: Mapping[str, str], data: Mapping[str, Any]) -> list[RegoProblem]:
        """Make the server hold exactly our `modules` (ours: ids under `prefix/`) and `data`.

        Modules are pushed one by one; one that OPA refuses is reported (located in it when
        OPA says where) and not kept: a version of it pushed earlier is deleted. A refusal
        may come from a module that depends on one not pushed yet, so refused modules are
        pushed again while that makes progress. Our modules that are no longer in `modules`
        are deleted. Data goes under each top-level key of `data`; keys this engine pushed
        in an earlier `load` and no longer has are deleted (keys pushed by another process
        stay until overwritten). Raises `RegoError` when the server cannot be used at all
        (unreachable, wrong token).

        With `push=False`, nothing is sent (neither modules nor data) and nothing is
        reported: the server is expected to be set up already.
        """
        if not self.push:
            return []
        modules, problems = sandboxed(modules)
        ours = {pid for pid in self._call(self.timeout, self._client.get_policies_list)
                if isinstance(pid, str) and pid.startswith(self.prefix + "/")}
        wanted = {self._policy_id(name) for name in modules}
        # Stale modules go first (they could conflict with the new ones); one that others
        # still depend on is deleted once the new versions are in.
        undeleted = [pid for pid in sorted(ours - wanted) if self._delete_policy(pid)]
        problems.extend(self._push_data(data))
        refused = self._push_modules(modules)
        for pid in undeleted:
            trouble = self._delete_policy(pid)
            # Located in the server's policy id (no module of ours): it must not read as a
            # problem of every module.
            problems.extend(RegoProblem(f"cannot delete this stale module: {p.message}", pid)
                            for p in trouble)
        for name, found in refused.items():
            problems.extend(found)
            pid = self._policy_id(name)
            if pid in ours:
                problems.extend(
                    RegoProblem(f"an earlier version of this module stays on the server: "
                                f"{p.message}", name)
                    for p in self._delete_policy(pid))
        return problems

    def query(self, query: str, input: Any, timeout: float | None = None) -> list[dict[str, Any]]:
        limit = timeout if timeout is not None else self.timeout

        def send() -> Any:
            if input is None or input:
                return self._client.ad_hoc_query(query, input_data=input)
            response = self._client._session.post(  # falsy input: see the module docstring
                f"{self._client.root_url}/query", json={"query": query, "input": input},
                timeout=self._client.timeout)
            response.raise_for_status()
            return response.json()

        body = self._call(limit, send, context="query")
        result = body.get("result", []) if isinstance(body, dict) else None
        if not isinstance(result, list):
            raise RegoError("http", [RegoProblem(
                f"OPA at {self.url} answered the query without a list of results")])
        return result

    def close(self) -> None:
        self._client.close_connection()

    # -- loading --------------------------------------------------------------------------

    def _policy_id(self, name: str) -> str:
        return f"{self.prefix}/{name}"

    def _push_modules(self, modules: Mapping[str, str]) -> dict[str, list[RegoProblem]]:
        """Push modules; the ones OPA finally refused, with their problems."""
        refused: dict[str, list[RegoProblem]] = {}
        pending = list(modules)
        while pending:
            failed = []
            for name in pending:
                found = self._put_policy(name, modules[name])
                if found:
                    refused[name] = found
                    failed.append(name)
                else:
                    refused.pop(name, None)
            if len(failed) == len(pending):
                break
            # A syntax error stays one; a compile error may be an unmet dependency.
            pending = [name for name in failed
                       if not any("rego_parse_error" in p.message for p in refused[name])]
        return refused

    def _put_policy(self, name: str, source: str) -> list[RegoProblem]:
        pid = self._policy_id(name)
        if not source.strip():
            return [RegoProblem("rego_parse_error: empty module", name)]
        try:
            self._call(self.timeout, partial(self._client.update_policy_from_string,
                                             rego_compat=False),
                       source, quote(pid, safe="/"), context="refusable")
        except _Refused as exc:
            return _located(exc.body, pid, name, self.url)
        except TypeException as exc:  # pragma: no cover - the client's own argument check
            return [RegoProblem(str(exc.expression), name)]
        return []

    def _delete_policy(self, pid: str) -> list[RegoProblem]:
        try:
            self._call(self.timeout, self._client.delete_policy, quote(pid, safe="/"),
                       context="refusable")
        except _Refused as exc:
            if exc.status == 404:
                return []
            return _located(exc.body, pid, None, self.url)
        return []

    def _push_data(self, data: Mapping[str, Any]) -> list[RegoProblem]:
        problems: list[RegoProblem] = []
        for key, value in data.items():
            endpoint = quote(str(key), safe="")
            try:
                put = (self._client.update_or_create_data if isinstance(value, dict)
                       else self._put_raw_data)
                self._call(self.timeout, put, value, endpoint, context="refusable")
            except _Refused as exc:
                problems.extend(RegoProblem(f"data.{key}: {p}")
                                for p in _located(exc.body, None, None, self.url))
                self._pushed_data.discard(key)
            else:
                self._pushed_data.add(key)
        for key in sorted(self._pushed_data - set(data)):
            endpoint = quote(key, safe="")
            try:
                self._call(self.timeout, self._client.delete_data, endpoint,
                           context="refusable")
            except _Refused as exc:
                if exc.status != 404:
                    problems.extend(RegoProblem(f"cannot delete data.{key}: {p}")
                                    for p in _located(exc.body, None, None, self.url))
                    continue
            self._pushed_data.discard(key)
        return problems

    def _put_raw_data(self, value: Any, endpoint: str) -> None:
        """`PUT /v1/data/<endpoint>` for a value `update_or_create_data` does not take."""
        response = self._client._session.put(f"{self._client.root_url}/data/{endpoint}",
                                             json=value, timeout=self._client.timeout)
        response.raise_for_status()

    # -- requests and errors --------------------------------------------------------------

    def _call(self, limit: float | None, fn: Callable[..., _T], *args: Any,
              context: str = "admin") -> _T:
        """Run one `opa_client` call with a read timeout; turn what fails into `RegoError`.

        `context` is `query` (HTTP 400/500 are query errors), `refusable` (OPA refusing
        the content, HTTP 400/404, raises `_Refused` for the caller to report) or `admin`.
        """
        calls = self._client._calls
        calls.status = calls.error = None
        calls.timeout = _requests_timeout(limit)
        try:
            return fn(*args)
        except requests.exceptions.ConnectTimeout as exc:
            raise self._unreachable(exc) from None
        except requests.exceptions.Timeout:
            raise self._timeout(limit, context) from None
        except requests.exceptions.ConnectionError as exc:
            # A GET/PUT/DELETE that timed out on every retry arrives as a ConnectionError.
            if isinstance(getattr(exc.args[0] if exc.args else None, "reason", None),
                          urllib3.exceptions.ReadTimeoutError):
                raise self._timeout(limit, context) from None
            raise self._unreachable(exc) from None
        except requests.exceptions.HTTPError as exc:
            response = exc.response
            try:
                body = response.json() if response is not None else None
            except ValueError:
                body = None
            status = response.status_code if response is not None else 0
            raise self._failure(status, body, context) from None
        except _OpaClientError as exc:
            status = (calls.status or (0, ""))[0]
            body = calls.error or {"code": exc.expression, "message": exc.message,
                                   "errors": getattr(exc, "errors", None) or []}
            raise self._failure(status, body, context) from None
        except ValueError:  # requests' JSONDecodeError: an answer that is not JSON
            status, reason = calls.status or (0, "?")
            raise RegoError("http", [RegoProblem(
                f"OPA at {self.url} answered HTTP {status} {reason} with a body that is "
                f"not OPA's JSON")]) from None
        except requests.exceptions.InvalidJSONError as exc:  # NaN or infinity in the input
            raise RegoError("input", [RegoProblem(
                f"the input cannot be sent as JSON: {exc.args[0] if exc.args else exc}")]
            ) from None
        except requests.exceptions.RequestException as exc:
            raise RegoError("http", [RegoProblem(
                f"request to OPA at {self.url} failed: {type(exc).__name__}")]) from None
        finally:
            del calls.timeout

    def _timeout(self, limit: float | None, context: str) -> RegoTimeout:
        what = "query did not finish" if context == "query" else "OPA did not answer"
        return RegoTimeout("timeout", [RegoProblem(
            f"{what} within {limit:g} s" if limit is not None else f"{what} in time")])

    def _unreachable(self, exc: BaseException) -> RegoError:
        return RegoError("connection", [RegoProblem(
            f"cannot reach OPA at {self.url}: {_reason(exc)}")])

    def _failure(self, status: int, body: Any, context: str) -> RegoError:
        if not isinstance(body, dict):
            body = {}
        code = str(body.get("code") or "")
        message = str(body.get("message") or "")
        if status in (401, 403) or code == "unauthorized":
            return RegoError("unauthorized", [RegoProblem(
                f"OPA at {self.url} refused the request ({status or code}: "
                f"{message or 'unauthorized'}); check the token")])
        if context == "refusable" and status in (0, 400, 404):
            return _Refused(status, body)
        if context == "query" and status in (400, 500):
            kind = "prepare_error" if status == 400 else "eval_error"
            return RegoError(kind, _located(body, None, None, self.url))
        return RegoError("http", [RegoProblem(
            f"OPA at {self.url} answered HTTP {status or '?'}"
            + (f" ({code}: {message})" if code or message else ""))])


class _Refused(RegoError):
    """OPA refused a module or a data document (HTTP 400/404): a problem, not a failure."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__("refused", [])
        self.status = status
        self.body = body


def _located(body: dict[str, Any], pid: str | None, name: str | None,
             url: str) -> list[RegoProblem]:
    """Problems from OPA's error JSON; the ones in policy `pid` are located in module `name`."""
    problems = []
    for error in body.get("errors") or []:
        if not isinstance(error, dict):
            continue
        text = ": ".join(str(part) for part in (error.get("code"), error.get("message")) if part)
        location = error.get("location")
        if not isinstance(location, dict):
            location = {}
        file, row = location.get("file") or None, location.get("row")
        line = row if isinstance(row, int) and row > 0 else None
        if file is not None and file != pid:
            # Located in another module (a conflict with it, say): say where, but do not
            # put that module's line numbers on ours.
            text = f"{file}:{line}: {text}" if line else f"{file}: {text}"
            line = None
        problems.append(RegoProblem(text or "unknown OPA error", name, line if name else None))
    if problems:
        return problems
    message = str(body.get("message") or body.get("code") or f"OPA at {url} refused it")
    return [RegoProblem(p.message, name, p.line if p.path in (pid, None) else None)
            if name else p for p in parse_problems(message)]


def _requests_timeout(limit: float | None) -> tuple[float, float | None]:
    if limit is None:
        return (CONNECT_TIMEOUT, None)
    return (min(limit, CONNECT_TIMEOUT), limit)


def _reason(exc: BaseException) -> str:
    """The root cause of a connection failure, e.g. `Connection refused`."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return str(current.strerror)
        nested = [getattr(current, "reason", None), current.__cause__, current.__context__,
                  *current.args]
        todo.extend(e for e in nested if isinstance(e, BaseException))
    return type(exc).__name__
