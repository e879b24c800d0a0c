"""`RemoteEngine` against the loopback OPA REST double (`tests/rego/opa_server.py`)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from checker.rego.engine import InProcessEngine, RegoError, RegoTimeout
from checker.rego.remote import RemoteEngine
from tests.rego.opa_server import OpaTestServer

LABELS = """package k8s.labels

required := {"app", "team"}

missing contains name if {
	some name in required
	not input.metadata.labels[name]
}

deny contains msg if {
	some name in missing
	msg := sprintf("missing label %q", [name])
}

labels := {k: v | some k, v in input.metadata.labels}
"""

IMAGES = """package k8s.images

import data.inventory

allowed(image) if {
	some prefix in inventory.registries
	startswith(image, prefix)
}

deny contains msg if {
	some c in input.spec.containers
	not allowed(c.image)
	msg := sprintf("image %s is not from an allowed registry", [c.image])
}

summary := {"containers": count(input.spec.containers), "limits": data.limits}
"""

# Calls a function defined in a module that sorts (and is pushed) after it.
USES_LIB = """package k8s.uses

tagged(image) := data.zz.lib.has_tag(image)
"""

LIB = """package zz.lib

has_tag(image) if contains(image, ":")
"""

SYNTAX_ERROR = """package broken

deny contains msg if {
	msg := "never closed"
"""

UNSAFE_VAR = """package unsafe


allow if x == 1
"""

MODULES = {"labels.rego": LABELS, "images.rego": IMAGES, "uses.rego": USES_LIB,
           "lib.rego": LIB}
DATA: dict[str, Any] = {"inventory": {"registries": ["registry.example/", "ghcr.io/acme/"]},
                        "limits": [1, 2, 3]}
POD = {
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {"containers": [{"name": "a", "image": "registry.example/web:1"},
                            {"name": "b", "image": "docker.io/evil"}]},
}
QUERIES: list[tuple[str, Any]] = [
    ("r := data.k8s.labels.deny", POD),
    ("r := data.k8s.labels.missing; s := data.k8s.labels.labels", POD),
    ("r := data.k8s.images.deny", POD),
    ("r := data.k8s.images.summary", POD),
    ("some name in data.k8s.labels.missing", POD),
    ("r := data.k8s.images.deny[_]", POD),
    ("r := data.k8s.uses.tagged(input.spec.containers[_].image)", POD),
    ("r := data.inventory; s := {x | some x in data.limits}", None),
    ('data.k8s.labels.missing["nope"]', POD),
    ("r := input", {}),
    ("r := input", None),
    ("x := 1", {"metadata": {}}),
]


@pytest.fixture
def engine(opa_server: str) -> Iterator[RemoteEngine]:
    remote = RemoteEngine(opa_server, timeout=5)
    yield remote
    remote.close()


def test_queries_answer_as_the_in_process_engine(engine: RemoteEngine) -> None:
    assert engine.load(MODULES, DATA) == []
    local = InProcessEngine()
    try:
        assert local.load(MODULES, DATA) == []
        for query, input in QUERIES:
            assert engine.query(query, input) == local.query(query, input), query
    finally:
        local.close()
    assert engine.query("r := data.k8s.labels.deny", POD) == [{"r": ['missing label "team"']}]
    assert engine.query('data.k8s.labels.missing["nope"]', POD) == []


def test_modules_go_under_prefix_and_data_under_its_own_keys(
        engine: RemoteEngine, opa_double: OpaTestServer) -> None:
    opa_double.preload({"other-team/policy.rego": "package other\n\nx := 1\n"},
                       {"other": {"keep": True}})
    assert engine.load(MODULES, DATA) == []
    assert set(opa_double.policies) == {"other-team/policy.rego",
                                        *(f"gitops-checker/{name}" for name in MODULES)}
    assert opa_double.data == {"other": {"keep": True}, **DATA}
    assert ("PUT", "/v1/data") not in opa_double.requests
    assert ("PUT", "/v1/data/inventory") in opa_double.requests
    assert engine.query("r := data.other.x", None) == [{"r": 1}]


def test_modules_that_do_not_parse_or_compile_are_reported_and_the_rest_load(
        engine: RemoteEngine, opa_double: OpaTestServer) -> None:
    problems = engine.load({**MODULES, "broken.rego": SYNTAX_ERROR, "unsafe.rego": UNSAFE_VAR},
                           DATA)
    by_path = {p.path: p for p in problems}
    assert set(by_path) == {"broken.rego", "unsafe.rego"}, problems
    assert by_path["broken.rego"].line == 5  # OPA points past the end: "unexpected eof"
    assert "rego_parse_error" in by_path["broken.rego"].message
    assert by_path["unsafe.rego"].line == 4
    assert by_path["unsafe.rego"].message == "rego_unsafe_var_error: var x is unsafe"
    assert str(by_path["unsafe.rego"]).startswith("unsafe.rego:4: ")
    assert "gitops-checker/broken.rego" not in opa_double.policies
    assert "gitops-checker/unsafe.rego" not in opa_double.policies
    assert engine.query("r := data.k8s.labels.deny", POD) == [{"r": ['missing label "team"']}]
    assert engine.query("r := data.k8s.uses.tagged(\"a:1\")", None) == [{"r": True}]


def test_a_module_that_breaks_on_reload_loses_its_earlier_version(
        engine: RemoteEngine, opa_double: OpaTestServer) -> None:
    assert engine.load({"labels.rego": LABELS}, {}) == []
    problems = engine.load({"labels.rego": LABELS.replace("required :=", "required ::=")}, {})
    assert [(p.path, p.line) for p in problems] == [("labels.rego", 3)]
    assert opa_double.policies == {}
    assert engine.query("r := data.k8s.labels.required", None) == []


def test_second_load_removes_our_stale_modules_and_data_only(
        engine: RemoteEngine, opa_double: OpaTestServer) -> None:
    opa_double.preload({"team-x/keep.rego": "package team_x\n\nok := true\n"}, {"team_y": 1})
    assert engine.load(MODULES, DATA) == []
    assert engine.load({"labels.rego": LABELS}, {"inventory": {"registries": []}}) == []
    assert set(opa_double.policies) == {"team-x/keep.rego", "gitops-checker/labels.rego"}
    assert opa_double.data == {"team_y": 1, "inventory": {"registries": []}}
    assert engine.query("r := data.k8s.images.deny", POD) == []
    # Another engine with the same prefix (a later run) also cleans up our modules.
    later = RemoteEngine(opa_double.url)
    try:
        assert later.load({}, {}) == []
    finally:
        later.close()
    assert set(opa_double.policies) == {"team-x/keep.rego"}


def test_a_stale_module_others_depend_on_is_reported_where_it_is(
        engine: RemoteEngine, opa_double: OpaTestServer) -> None:
    assert engine.load({"lib.rego": LIB}, {}) == []
    other_team = RemoteEngine(opa_double.url, prefix="team-x")
    try:
        assert other_team.load({"uses.rego": USES_LIB}, {}) == []
    finally:
        other_team.close()
    problems = engine.load({"labels.rego": LABELS}, {})
    assert [(p.path, p.line) for p in problems] == [("gitops-checker/lib.rego", None)]
    assert "cannot delete this stale module" in problems[0].message
    assert "has_tag" in problems[0].message
    assert set(opa_double.policies) == {"gitops-checker/lib.rego", "team-x/uses.rego",
                                        "gitops-checker/labels.rego"}


def test_push_false_queries_what_the_server_has(opa_double: OpaTestServer) -> None:
    opa_double.preload({"deployed/labels.rego": LABELS}, {})
    remote = RemoteEngine(opa_double.url, push=False)
    try:
        assert remote.load(MODULES, DATA) == []
        assert opa_double.requests == []  # nothing pushed, not even the data
        assert remote.query("r := data.k8s.labels.missing", POD) == [{"r": ["team"]}]
    finally:
        remote.close()
    assert set(opa_double.policies) == {"deployed/labels.rego"}
    assert opa_double.data == {}


def test_a_wrong_token_is_a_clear_error(opa_double: OpaTestServer) -> None:
    opa_double.token = "right-token"
    wrong = RemoteEngine(opa_double.url, token="wrong-token")
    try:
        with pytest.raises(RegoError) as loading:
            wrong.load(MODULES, DATA)
        assert loading.value.kind == "unauthorized"
        assert "check the token" in str(loading.value)
        assert "401" in str(loading.value)
        with pytest.raises(RegoError) as querying:
            wrong.query("x := 1", {"token": "not echoed"})
        assert querying.value.kind == "unauthorized"
        assert "not echoed" not in str(querying.value)
    finally:
        wrong.close()
    right = RemoteEngine(opa_double.url, token="right-token")
    try:
        assert right.load({"labels.rego": LABELS}, {}) == []
        assert right.query("r := data.k8s.labels.missing", POD) == [{"r": ["team"]}]
    finally:
        right.close()


def test_a_closed_port_is_a_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    remote = RemoteEngine(f"http://127.0.0.1:{port}", timeout=2, retries=0)
    try:
        with pytest.raises(RegoError) as caught:
            remote.query("x := 1", {"password": "hunter2"})
        assert caught.value.kind == "connection"
        assert not isinstance(caught.value, RegoTimeout)
        message = str(caught.value)
        assert message.startswith(f"cannot reach OPA at http://127.0.0.1:{port}: ")
        assert "refused" in message.lower()
        assert "hunter2" not in message
        with pytest.raises(RegoError, match="cannot reach OPA"):
            remote.load(MODULES, DATA)
    finally:
        remote.close()


def test_a_slow_query_times_out(engine: RemoteEngine, opa_double: OpaTestServer) -> None:
    opa_double.slow_queries["r := 1"] = 3.0
    started = time.monotonic()
    with pytest.raises(RegoTimeout) as caught:
        engine.query("r := 1", {"secret": "s3cr3t"}, timeout=0.2)
    assert time.monotonic() - started < 1.5
    assert caught.value.kind == "timeout"
    assert "0.2 s" in str(caught.value)
    assert "s3cr3t" not in str(caught.value)
    # The engine stays usable, with its default timeout again.
    assert engine.query("r := 2", None) == [{"r": 2}]


def test_a_slow_push_times_out(opa_double: OpaTestServer) -> None:
    opa_double.slow_requests["PUT /v1/policies/gitops-checker/labels.rego"] = 3.0
    remote = RemoteEngine(opa_double.url, timeout=0.2, retries=0)
    try:
        with pytest.raises(RegoTimeout, match="OPA did not answer within 0.2 s"):
            remote.load({"labels.rego": LABELS}, {})
    finally:
        remote.close()


def test_the_default_timeout_applies_to_queries(opa_double: OpaTestServer) -> None:
    opa_double.slow_queries["r := 1"] = 3.0
    remote = RemoteEngine(opa_double.url, timeout=0.2)
    try:
        with pytest.raises(RegoTimeout):
            remote.query("r := 1", None)
    finally:
        remote.close()


def test_query_errors_keep_opa_kinds(engine: RemoteEngine) -> None:
    with pytest.raises(RegoError) as parse:
        engine.query("r :=", None)
    assert parse.value.kind == "prepare_error"
    assert "rego_parse_error" in str(parse.value)
    with pytest.raises(RegoError) as unsafe:
        engine.query("r := y", None)
    assert unsafe.value.kind == "prepare_error"
    assert "var y is unsafe" in str(unsafe.value)
    with pytest.raises(RegoError) as runtime:
        engine.query("r := 1 / 0", None)
    assert runtime.value.kind == "eval_error"
    assert "divide by zero" in str(runtime.value)


def test_data_that_is_not_an_object_is_pushed_too(
        engine: RemoteEngine, opa_double: OpaTestServer) -> None:
    assert engine.load({}, {"limits": [1, 2], "enabled": False, "name": "x"}) == []
    assert opa_double.data == {"limits": [1, 2], "enabled": False, "name": "x"}
    assert engine.query("r := data.enabled", None) == [{"r": False}]


def test_urls() -> None:
    assert RemoteEngine("https://opa.example").url == "https://opa.example:443"
    assert RemoteEngine("http://[::1]:8181/").url == "http://[::1]:8181"
    for bad in ("opa:8181", "ftp://opa.example", "http://opa.example/opa", "http://h:99999"):
        with pytest.raises(ValueError):
            RemoteEngine(bad)
    with pytest.raises(ValueError) as caught:
        RemoteEngine("http://admin:pa55word@opa.example")
    assert "pa55word" not in str(caught.value)
    with pytest.raises(ValueError):
        RemoteEngine("http://opa.example", prefix="/")


class _Proxy(BaseHTTPRequestHandler):
    """Not OPA: a proxy in front of it that lists no policies and fails the rest in HTML."""

    def do_GET(self) -> None:
        self._answer(200, "OK", b'{"result": []}', "application/json")

    def do_PUT(self) -> None:
        self._answer(502, "Bad Gateway", b"<html>upstream down</html>", "text/html")

    do_POST = do_PUT

    def _answer(self, status: int, reason: str, body: bytes, content_type: str) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(status, reason)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_an_answer_that_is_not_opa_json_names_the_http_status() -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    remote = RemoteEngine(f"http://127.0.0.1:{httpd.server_address[1]}", retries=0, timeout=5)
    try:
        with pytest.raises(RegoError) as loading:  # opa_client's PUT: the status comes from
            remote.load({"labels.rego": LABELS}, {})  # the response hook
        assert loading.value.kind == "http"
        assert "HTTP 502 Bad Gateway" in str(loading.value)
        with pytest.raises(RegoError) as querying:
            remote.query("x := 1", {"a": 1})
        assert querying.value.kind == "http"
        assert "HTTP 502" in str(querying.value)
    finally:
        remote.close()
        httpd.shutdown()
        httpd.server_close()
