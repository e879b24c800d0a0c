"""An OPA engine in a child process, so that a query that runs too long can be stopped.

OPA's evaluation cannot be interrupted from Python, so the engine lives in a child process
started afresh (never `fork`ed: a process that has run the Go runtime can hang in a forked
child). On a timeout the child is killed; the next call starts a new one and loads the same
modules and data again.

The child is a new interpreter started with `subprocess`, talking over a socket pair: pickled
messages, each behind its length. multiprocessing's own `spawn` costs more for one long-lived
helper: each run also started its resource tracker (another interpreter), the child
re-imported the parent's main script (the whole CLI, when started as `gitops-checker`), and
importing the package costs each run ~10 ms.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import pickle
import select
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple, NoReturn

from checker.rego.engine import (
    InProcessEngine,
    RegoError,
    RegoProblem,
    RegoTimeout,
    data_json,
)

OPA_MISSING = ("the OPA engine is not installed (Python package opa-golib-python-bindings; "
               "`pip install --ignore-requires-python opa-golib-python-bindings==0.4.4`, "
               "see docs/install.md): Rego rules cannot be evaluated")


def _child_program(fd: int) -> str:
    """The child's program: this process's import path (as multiprocessing's spawn hands it
    over), set before anything is imported, then the loop on the inherited socket. The
    child runs isolated (`-I`): the working directory, usually the checked repository, is
    not on its path, so a `json.py` there is never imported."""
    return (f"import sys; sys.path[:] = {list(sys.path)!r}; "
            f"from checker.rego.worker import serve_socket; serve_socket({fd})")


def serve_socket(fd: int) -> None:
    """The child's entry point: serve the parent on the socket `fd` until it goes away
    (without collecting garbage cycles: requests and answers make none)."""
    gc.disable()
    conn = Channel(socket.socket(fileno=fd))
    try:
        _serve(conn)
    finally:
        conn.close()


class Channel:
    """Messages over a connected socket: each pickled, behind its length."""

    _HEADER = struct.Struct("!Q")

    def __init__(self, sock: socket.socket) -> None:
        self._socket = sock
        self._poller: select.poll | None = None

    def send(self, message: Any) -> None:
        self.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    def send_bytes(self, data: bytes) -> None:
        """A message pickled already (`pickle.dumps`)."""
        self._socket.sendall(self._HEADER.pack(len(data)))
        self._socket.sendall(data)

    def recv(self) -> Any:
        """The next message; EOFError when the other end has closed."""
        (size,) = self._HEADER.unpack(self._read(self._HEADER.size))
        return pickle.loads(self._read(size))

    def poll(self, timeout: float) -> bool:
        """Whether a message (or the other end's closing) arrives within `timeout` s.
        (`poll`, not `select`: a process may hold more than 1,024 descriptors.)"""
        if self._poller is None:
            self._poller = select.poll()
            self._poller.register(self._socket, select.POLLIN)
        return bool(self._poller.poll(max(0, int(timeout * 1000))))

    def close(self) -> None:
        self._socket.close()

    def _read(self, size: int) -> bytearray:
        data = bytearray(size)
        view, done = memoryview(data), 0
        while done < size:
            received = self._socket.recv_into(view[done:])
            if not received:
                raise EOFError
            done += received
        return data


def _serve(conn: Channel) -> None:
    """The child's loop: one engine, requests in, results or errors out."""
    try:
        engine: InProcessEngine | None = InProcessEngine()
        missing = None
    except ImportError:
        engine, missing = None, RegoProblem(OPA_MISSING)
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        op = request[0]
        if op == "check":  # no answer: what it finds is the next `load`'s (same modules)
            if engine is not None:
                with contextlib.suppress(Exception):
                    engine.check(request[1])
            continue
        if engine is None:
            answers = len(request[2]) if op == "query_each" else 1
            for _ in range(answers):
                conn.send(("error", ("unavailable", [missing])))
            continue
        try:
            if op == "load":
                conn.send(("ok", engine.load(request[1], request[2])))
            elif op == "query":
                conn.send(("ok", engine.query(request[1], request[2])))
            elif op == "query_each":
                # One answer per input, sent as soon as it is known: the parent reads them
                # while the next are evaluated.
                for item in request[2]:  # one answer per input, whatever happens
                    try:
                        conn.send(("ok", engine.query_json(request[1], item.text)
                                   if type(item) is JsonInput else
                                   engine.query(request[1], item)))
                    except RegoError as exc:
                        conn.send(("error", (exc.kind, exc.problems)))
                    except Exception as exc:  # noqa: BLE001 - the parent must hear about it
                        conn.send(("error", ("internal", [RegoProblem(
                            f"the OPA engine failed: {type(exc).__name__}")])))
            else:
                return
        except RegoError as exc:
            conn.send(("error", (exc.kind, exc.problems)))
        except Exception as exc:  # noqa: BLE001 - the parent must hear about any failure
            conn.send(("error", ("internal", [RegoProblem(
                f"the OPA engine failed: {type(exc).__name__}")])))


class JsonInput(NamedTuple):
    """An input as JSON text (UTF-8), as the bindings write one."""

    text: bytes


def _json_input(value: Any) -> Any:
    """`value` as JSON text, or as it is when it cannot be written (the worker then reports
    what OPA's bindings say of it, as for any input) or is None (no input at all)."""
    if value is None:
        return value
    try:
        return JsonInput(json.dumps(value, ensure_ascii=False).encode("utf-8"))
    except (TypeError, ValueError, UnicodeEncodeError, RecursionError):
        return value


_Worker = tuple[subprocess.Popen[bytes], Channel]

_spare: _Worker | None = None
_spare_lock = threading.Lock()
_preloading: threading.Thread | None = None
"""Sending the modules to the spare: finished before anything else is sent to it."""


def start_spare() -> None:
    """Start an OPA worker before it is needed (while the estate loads), so that its process
    start and the engine's import (~0.1 s) happen beside other work: the next
    `WorkerEngine` takes it. `discard_spare` ends one that was not taken."""
    global _spare
    with _spare_lock:
        if _spare is None:
            try:
                _spare = _spawn()
            except (OSError, RuntimeError):
                pass  # no spare: the first engine starts its own worker (and reports why not)


def preload_spare(modules: Mapping[str, str]) -> None:
    """Have the spare parse and compile `modules` now (while the estate loads): an engine
    that takes it and loads the same modules then only adds the data. Nothing happens
    without a spare. Sent from a thread: more than the pipe holds would otherwise wait
    until the spare has started and reads."""
    global _preloading
    with _spare_lock:
        if _spare is None or _preloading is not None:
            return
        conn, request = _spare[1], ("check", dict(modules))

        def send() -> None:
            with contextlib.suppress(OSError, ValueError):
                conn.send(request)

        _preloading = threading.Thread(target=send, name="gitops-checker-opa-preload",
                                       daemon=True)
        _preloading.start()


def discard_spare() -> None:
    """End a spare no engine took: it holds nothing, so it is not waited for (nor what is
    being sent to it: the process is ended)."""
    spare = _pop_spare(sent=False)
    if spare is not None:
        _end(*spare, grace=0.0)


def _take_spare() -> _Worker | None:
    spare = _pop_spare()
    if spare is not None and spare[0].poll() is not None:
        _end(*spare)
        return None
    return spare


def _pop_spare(*, sent: bool = True) -> _Worker | None:
    """The spare; with `sent`, once its modules are sent (or failed to be: it died)."""
    global _spare, _preloading
    with _spare_lock:
        spare, _spare = _spare, None
        preloading, _preloading = _preloading, None
    if sent and preloading is not None:
        preloading.join()
    return spare


def _spawn() -> _Worker:
    """A new worker process. Quiet unless GITOPS_CHECKER_DEBUG is set: the Go runtime writes
    goroutine dumps to stderr when it dies (out of memory); the parent reports the crash
    itself, the user's terminal gets no 64 KB trace."""
    parent, child = socket.socketpair()
    quiet = subprocess.DEVNULL if not os.environ.get("GITOPS_CHECKER_DEBUG") else None
    try:
        process = subprocess.Popen(
            [sys.executable, *subprocess._args_from_interpreter_flags(),  # type: ignore[attr-defined]
             "-I", "-c", _child_program(child.fileno())],
            stdin=subprocess.DEVNULL, stdout=quiet, stderr=quiet,
            pass_fds=(child.fileno(),))
    except BaseException:
        parent.close()
        raise
    finally:
        child.close()
    return process, Channel(parent)


def _end(process: subprocess.Popen[bytes], conn: Channel, *,
         grace: float = 0.5) -> None:
    """Ask a worker to stop, and make sure it does (killed after `grace` seconds)."""
    try:
        conn.send(("stop",))
    except (OSError, ValueError):
        pass
    conn.close()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class WorkerEngine:
    """A `RegoEngine` whose queries can time out."""

    def __init__(self, default_timeout: float | None = None) -> None:
        self.default_timeout = default_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Channel | None = None
        self._modules: Mapping[str, str] = {}
        self._data = b""
        self._load_problems: list[RegoProblem] = []
        self.restarts = 0

    def load(self, modules: Mapping[str, str], data: Mapping[str, Any]) -> list[RegoProblem]:
        # Sent as JSON: pickled objects would be rebuilt in the worker before OPA copies them.
        self._modules, self._data = dict(modules), data_json(data) if data else b""
        self._stop()
        self._load_problems = self._start()
        return self._load_problems

    def query(self, query: str, input: Any, timeout: float | None = None) -> list[dict[str, Any]]:
        if self._conn is None:
            self._start()
            self.restarts += 1
        assert self._conn is not None
        limit = timeout if timeout is not None else self.default_timeout
        self._send(("query", query, input))
        message = f"query did not finish within {limit:g} s" if limit else ""
        return self._receive(limit, message)  # type: ignore[no-any-return]

    @staticmethod
    def encode_each(query: str, inputs: Sequence[Any]) -> bytes:
        """The request `query_each` sends for these inputs, made ahead of time: while the
        worker still answers an earlier request, not while it waits for this one. Inputs
        go as the JSON text OPA reads, so the worker neither rebuilds nor rewrites them."""
        return pickle.dumps(("query_each", query, [_json_input(item) for item in inputs]),
                            protocol=pickle.HIGHEST_PROTOCOL)

    def query_each(self, query: str, inputs: Sequence[Any], timeout: float | None = None,
                   *, encoded: bytes | None = None
                   ) -> Iterator[list[dict[str, Any]] | RegoError]:
        """The answers to one query text over many inputs, in order, each bounded by the
        timeout as `query` is; a failure is yielded in its input's place. The inputs are
        sent at once and answered back to back, so no answer waits for a round trip.
        `encoded`: `encode_each(query, inputs)`, made earlier."""
        limit = timeout if timeout is not None else self.default_timeout
        message = f"query did not finish within {limit:g} s" if limit else ""
        pending = list(inputs)
        while pending:
            if self._conn is None:
                self._start()
                self.restarts += 1
            assert self._conn is not None
            try:
                if encoded is not None and len(pending) == len(inputs):
                    self._send(encoded=encoded)
                else:
                    self._send(("query_each", query, pending))
            except RegoError as exc:  # gone before it was asked: the first input's answer
                yield exc
                pending, encoded = pending[1:], None
                continue
            encoded = None  # a restarted worker is sent what is left
            answered = 0
            try:
                while answered < len(pending):
                    try:
                        answer: list[dict[str, Any]] | RegoError = \
                            self._receive(limit, message)
                    except RegoError as exc:
                        answer = exc
                    answered += 1
                    if self._conn is None:  # timed out or crashed: the worker is gone
                        yield answer
                        break
                    yield answer
            except GeneratorExit:
                if answered < len(pending):
                    self._stop()  # answers still coming would be read as another query's
                raise
            pending = pending[answered:]

    def close(self) -> None:
        self._stop()

    def _start(self) -> list[RegoProblem]:
        self._process, self._conn = _take_spare() or _spawn()
        self._send(("load", self._modules, self._data))
        # Loading is bounded by the size of the policies, not by input: no timeout.
        problems: list[RegoProblem] = self._receive(None, "")
        return problems

    def _receive(self, limit: float | None, timeout_message: str) -> Any:
        assert self._conn is not None
        if limit is not None and limit > 0 and not self._conn.poll(limit):
            self._stop()
            raise RegoTimeout("timeout", [RegoProblem(timeout_message)])
        try:
            status, payload = self._conn.recv()
        except (EOFError, OSError):
            self._crashed()
        if status == "error":
            kind, problems = payload
            raise RegoError(kind, problems)
        return payload

    def _send(self, message: Any = None, *, encoded: bytes | None = None) -> None:
        """A request to the worker (`encoded`: pickled already); one that has gone away is
        a crash, as `_receive` reports it."""
        assert self._conn is not None
        try:
            if encoded is not None:
                self._conn.send_bytes(encoded)
            else:
                self._conn.send(message)
        except OSError:
            self._crashed()

    def _crashed(self) -> NoReturn:
        code = None
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self._process.wait(timeout=1)
        self._stop()
        raise RegoError("crash", [RegoProblem(
            f"the OPA worker process ended unexpectedly (exit code {code})")]) from None

    def _stop(self) -> None:
        process, conn, self._process, self._conn = self._process, self._conn, None, None
        if conn is not None and process is not None:
            _end(process, conn)
        elif conn is not None:
            conn.close()
