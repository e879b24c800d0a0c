"""A test double of OPA's REST API, backed by the real OPA engine.

`OpaTestServer` answers HTTP on 127.0.0.1 (an ephemeral port, one thread per connection) the
way an OPA server does, for the subset of the REST API that `opa_client` and
`checker.rego.remote.RemoteEngine` use. Policies and data are kept here; after every change
they are all loaded again into a `checker.rego.engine.InProcessEngine` (OPA's own Go engine),
so parsing, compiling and evaluating are OPA's, and only the HTTP layer is a stand-in.

Endpoints (request and response shapes as in https://www.openpolicyagent.org/docs/rest-api):

- `GET /health` -> 200 `{}`
- `GET /v1/policies` -> `{"result": [{"id", "raw"}, ...]}` (no `ast`: the engine has none)
- `GET /v1/policies/{id}` -> `{"result": {"id", "raw"}}`, or 404
- `PUT /v1/policies/{id}` (body: Rego text) -> 200 `{}`, or 400 with OPA's error JSON
  (`errors[]` with `code`, `message`, `location.file`/`row`) when the module does not parse or
  compile with the others; the server then keeps what it had
- `DELETE /v1/policies/{id}` -> 200 `{}`; 404 when unknown; 400 when others depend on it
- `GET /v1/data[/{path}]` -> `{"result": ...}`, or `{}` when undefined
- `POST /v1/data[/{path}]` (body `{"input": ...}`) -> the same, evaluated with that input
- `PUT /v1/data[/{path}]` (body: JSON) -> 204, creating the parents (`mkdir -p`); 404 when a
  parent is not an object; 400 when the policies no longer compile with it
- `DELETE /v1/data/{path}` -> 204, or 404
- `POST /v1/query` (body `{"query", "input"}`) -> `{"result": [bindings, ...]}`, `{}` when
  there are none; 400 `invalid_parameter` when the query does not parse or compile, 500
  `internal_error` when evaluation fails

Errors are OPA's `{"code", "message"[, "errors"]}`; with a `token`, a request without
`Authorization: Bearer <token>` gets 401 `unauthorized`. Unknown paths get 404, other
methods 405. Column numbers are not known (the engine's errors are text) and are left out of
`location`.

Test hooks: `slow_queries` maps a query text, and `slow_requests` a request line such as
`"PUT /v1/policies/x"`, to seconds to wait before answering (the wait ends early when the
server stops); `requests` records `(method, path)` of each request
(never a body: inputs may hold Secrets); `preload()` sets policies and data directly, as if
they had been deployed some other way.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import unquote, urlsplit

from checker.rego.engine import InProcessEngine, RegoError, RegoProblem, parse_problems

_COUNT = re.compile(r"^\d+ errors? occurred:?\s*")
_CODED = re.compile(r"^(?P<code>[a-z][a-z0-9_]*_error):\s*(?P<message>.*)$")
_MISSING = object()


class OpaTestServer:
    """An OPA REST API on 127.0.0.1; `with OpaTestServer() as server: server.url`."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.policies: dict[str, str] = {}
        self.data: dict[str, Any] = {}
        self.slow_queries: dict[str, float] = {}
        self.slow_requests: dict[str, float] = {}
        self.requests: list[tuple[str, str]] = []
        self._engine = InProcessEngine()
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._httpd is not None, "the server is not started"
        port = self._httpd.server_address[1]
        return f"http://127.0.0.1:{port}"

    def start(self) -> OpaTestServer:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        httpd.daemon_threads = True
        httpd.double = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="opa-test-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            self._engine.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- state ----------------------------------------------------------------------------

    def preload(self, policies: Mapping[str, str], data: Mapping[str, Any] | None = None) -> None:
        """Set policies and data without the REST API; they must load cleanly."""
        with self._lock:
            self.policies = dict(policies)
            self.data = copy.deepcopy(dict(data or {}))
            problems = self._engine.load(self.policies, self.data)
        assert not problems, problems

    def _change(self, policies: dict[str, str], data: dict[str, Any]) -> list[RegoProblem]:
        """Load `policies` and `data`; keep them if they load cleanly, else go back."""
        with self._lock:
            problems = self._engine.load(policies, data)
            if problems:
                self._engine.load(self.policies, self.data)
                return problems
            self.policies, self.data = policies, data
            return []

    def _query(self, query: str, input: Any) -> list[dict[str, Any]]:
        with self._lock:
            return self._engine.query(query, input)

    def _sleep(self, delay: float | None) -> bool:
        """Wait `delay` seconds; False when the server stopped meanwhile."""
        if delay:
            self._stopping.wait(delay)
        return not self._stopping.is_set()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "OpaTestServer/1"
    # One write per response (headers and body buffered, flushed after each request) and
    # no Nagle: otherwise every request waits for a delayed ACK.
    wbufsize = -1
    disable_nagle_algorithm = True

    @property
    def double(self) -> OpaTestServer:
        return self.server.double  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet, and request lines are all it would say anyway

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    # -- routing --------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        double = self.double
        double.requests.append((method, path))
        if not double._sleep(double.slow_requests.get(f"{method} {path}")):
            self.close_connection = True  # stopped while waiting: no answer
            return
        if double.token is not None and (
                self.headers.get("Authorization") != f"Bearer {double.token}"):
            self._error(401, "unauthorized", "request rejected by administrative policy")
            return
        try:
            self._route(method, path, body)
        except Exception as exc:  # noqa: BLE001 - a bug in the double: answer 500, as OPA
            self._error(500, "internal_error", f"test server: {type(exc).__name__}: {exc}")

    def _route(self, method: str, path: str, body: bytes) -> None:
        if path == "/health":
            if self._allow(method, "GET"):
                self._json(200, {})
        elif path in ("/v1/policies", "/v1/policies/"):
            if self._allow(method, "GET"):
                self._list_policies()
        elif path.startswith("/v1/policies/"):
            pid = unquote(path[len("/v1/policies/"):])
            if self._allow(method, "GET", "PUT", "DELETE"):
                {"GET": self._get_policy, "PUT": self._put_policy,
                 "DELETE": self._delete_policy}[method](pid, body)
        elif path == "/v1/data" or path.startswith("/v1/data/"):
            segments = [unquote(s) for s in path[len("/v1/data"):].split("/") if s]
            if self._allow(method, "GET", "POST", "PUT", "DELETE"):
                {"GET": self._get_data, "POST": self._get_data, "PUT": self._put_data,
                 "DELETE": self._delete_data}[method](segments, body)
        elif path == "/v1/query":
            if self._allow(method, "POST"):
                self._post_query(body)
        else:
            self._error(404, "resource_not_found", f"{path} is not an endpoint of this server")

    def _allow(self, method: str, *methods: str) -> bool:
        if method in methods:
            return True
        self._error(405, "method_not_allowed", f"{method} is not allowed here")
        return False

    # -- policies -------------------------------------------------------------------------

    def _list_policies(self) -> None:
        with self.double._lock:
            result = [{"id": pid, "raw": raw} for pid, raw in sorted(self.double.policies.items())]
        self._json(200, {"result": result})

    def _get_policy(self, pid: str, body: bytes) -> None:
        raw = self.double.policies.get(pid)
        if raw is None:
            self._error(404, "resource_not_found", f"storage_not_found_error: policy id {pid!r}")
        else:
            self._json(200, {"result": {"id": pid, "raw": raw}})

    def _put_policy(self, pid: str, body: bytes) -> None:
        try:
            source = body.decode("utf-8")
        except UnicodeDecodeError:
            self._error(400, "invalid_parameter", "policy is not UTF-8")
            return
        with self.double._lock:
            problems = self.double._change({**self.double.policies, pid: source},
                                           self.double.data)
        if problems:
            self._error(400, "invalid_parameter", "error(s) occurred while compiling module(s)",
                        opa_errors(problems))
        else:
            self._json(200, {})

    def _delete_policy(self, pid: str, body: bytes) -> None:
        with self.double._lock:
            if pid not in self.double.policies:
                self._error(404, "resource_not_found",
                            f"storage_not_found_error: policy id {pid!r}")
                return
            rest = {k: v for k, v in self.double.policies.items() if k != pid}
            problems = self.double._change(rest, self.double.data)
        if problems:
            self._error(400, "invalid_parameter", "error(s) occurred while compiling module(s)",
                        opa_errors(problems))
        else:
            self._json(200, {})

    # -- data -----------------------------------------------------------------------------

    def _get_data(self, segments: list[str], body: bytes) -> None:
        input: Any = None
        if body:
            request = self._parse_json(body)
            if request is _MISSING:
                return
            input = request.get("input") if isinstance(request, dict) else None
        ref = "data" + "".join(f"[{json.dumps(s)}]" for s in segments)
        try:
            rs = self.double._query(f"x := {ref}", input)
        except RegoError as exc:
            self._query_error(exc)
            return
        self._json(200, {"result": rs[0]["x"]} if rs else {})

    def _put_data(self, segments: list[str], body: bytes) -> None:
        value = self._parse_json(body)
        if value is _MISSING:
            return
        with self.double._lock:
            data = copy.deepcopy(self.double.data)
            if not segments:
                if not isinstance(value, dict):
                    self._error(400, "invalid_parameter", "the data document must be an object")
                    return
                data = value
            else:
                parent = data
                for segment in segments[:-1]:
                    parent = parent.setdefault(segment, {})
                    if not isinstance(parent, dict):
                        self._error(404, "resource_conflict",
                                    f"storage_write_conflict_error: /{'/'.join(segments)}")
                        return
                parent[segments[-1]] = value
            problems = self.double._change(dict(self.double.policies), data)
        if problems:
            self._error(400, "invalid_parameter", "error(s) occurred while compiling module(s)",
                        opa_errors(problems))
        else:
            self._empty(204)

    def _delete_data(self, segments: list[str], body: bytes) -> None:
        with self.double._lock:
            data = copy.deepcopy(self.double.data)
            parent: Any = data
            for segment in segments[:-1]:
                parent = parent.get(segment) if isinstance(parent, dict) else None
            if not segments or not isinstance(parent, dict) or segments[-1] not in parent:
                self._error(404, "resource_not_found",
                            f"storage_not_found_error: /{'/'.join(segments)}: document missing")
                return
            del parent[segments[-1]]
            problems = self.double._change(dict(self.double.policies), data)
        if problems:
            self._error(400, "invalid_parameter", "error(s) occurred while compiling module(s)",
                        opa_errors(problems))
        else:
            self._empty(204)

    # -- queries --------------------------------------------------------------------------

    def _post_query(self, body: bytes) -> None:
        request = self._parse_json(body)
        if request is _MISSING:
            return
        if not isinstance(request, dict) or not isinstance(request.get("query"), str):
            self._error(400, "invalid_parameter", "missing query")
            return
        query = request["query"]
        if not self.double._sleep(self.double.slow_queries.get(query)):
            self.close_connection = True  # stopped while waiting: no answer
            return
        try:
            rs = self.double._query(query, request.get("input"))
        except RegoError as exc:
            self._query_error(exc)
            return
        self._json(200, {"result": rs} if rs else {})

    def _query_error(self, exc: RegoError) -> None:
        if exc.kind in ("prepare_error", "parse_error"):
            self._error(400, "invalid_parameter", str(exc), opa_errors(exc.problems))
        else:
            self._error(500, "internal_error", str(exc))

    # -- responses ------------------------------------------------------------------------

    def _parse_json(self, body: bytes) -> Any:
        try:
            return json.loads(body or b"null")
        except ValueError:
            self._error(400, "invalid_parameter", "body contains malformed JSON")
            return _MISSING

    def _error(self, status: int, code: str, message: str,
               errors: list[dict[str, Any]] | None = None) -> None:
        payload: dict[str, Any] = {"code": code, "message": message}
        if errors:
            payload["errors"] = errors
        self._json(status, payload)

    def _json(self, status: int, payload: Any) -> None:
        raw = json.dumps(payload).encode()
        self._send(status, raw, "application/json")

    def _empty(self, status: int) -> None:
        self._send(status, b"", None)

    def _send(self, status: int, raw: bytes, content_type: str | None) -> None:
        try:
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            if status != 204:
                self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            if raw:
                self.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a timeout): nothing to do


def opa_errors(problems: list[RegoProblem]) -> list[dict[str, Any]]:
    """`InProcessEngine` problems as the `errors` list of OPA's error JSON.

    The engine's problems are OPA's error text, split into lines: `N errors occurred:`
    prefixes are dropped, `file:row: code: message` lines become located errors, and the
    source excerpt and caret lines that follow a parse error are left out.
    """
    errors: list[dict[str, Any]] = []
    for problem in problems:
        text = _COUNT.sub("", problem.message)
        if text != problem.message:
            parsed = [RegoProblem(p.message, p.path or problem.path, p.line)
                      for p in parse_problems(text)]
        else:
            parsed = [problem]
        for p in parsed:
            coded = _CODED.match(p.message)
            if not coded:
                continue
            error: dict[str, Any] = {"code": coded["code"], "message": coded["message"]}
            if p.path and p.path.isdigit():  # a query's "row:col" read as "path:line"
                error["location"] = {"file": "", "row": int(p.path)}
            elif p.path:
                error["location"] = {"file": p.path, **({"row": p.line} if p.line else {})}
            errors.append(error)
    return errors or [{"code": "rego_error", "message": str(p)} for p in problems]
