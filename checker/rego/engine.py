"""Where Rego runs: the `RegoEngine` protocol and the in-process OPA behind it.

The engine is OPA's own Go `rego` package, embedded through `opa_bindings`. Two facts shape
this module: a module that fails to compile poisons the whole engine (OPA compiles every
module when the first query is prepared), so `InProcessEngine.load` isolates bad modules and
loads the rest; and an evaluation cannot be interrupted, so timeouts live one level up, in
`checker.rego.worker`, which runs an engine in a process it can kill.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

_LOCATED = re.compile(r"^(?P<path>[^\s:][^:\n]*?):(?P<line>\d+):\s*(?P<message>.*)$")


@dataclass(frozen=True, slots=True)
class RegoProblem:
    """One compile or runtime problem, located in a module when OPA says where."""

    message: str
    path: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}: " if self.path and self.line else ""
        return f"{where}{self.message}"


class RegoError(Exception):
    """OPA refused a module or a query failed at run time."""

    def __init__(self, kind: str, problems: list[RegoProblem]):
        super().__init__("; ".join(map(str, problems)) or kind)
        self.kind = kind
        self.problems = problems


class RegoTimeout(RegoError):
    """A query ran longer than it was allowed to."""


class RegoEngine(Protocol):
    """A Rego evaluator: load modules and data once, then query many times."""

    def load(self, modules: Mapping[str, str], data: Mapping[str, Any]) -> list[RegoProblem]:
        """Replace all modules and data. Modules that do not parse or compile are left out
        and reported; the others are loaded."""
        ...

    def query(self, query: str, input: Any, timeout: float | None = None) -> list[dict[str, Any]]:
        """Evaluate a query; one binding dict per result. Raises `RegoError`/`RegoTimeout`."""
        ...

    def close(self) -> None: ...


def parse_problems(message: str) -> list[RegoProblem]:
    """OPA's error text (`N errors occurred:` then `file:line: code: text` lines) as problems."""
    problems = []
    for raw in message.splitlines():
        if raw.startswith("\t"):
            continue  # OPA's excerpt of the source and its ^ marker under a parse error
        line = raw.strip()
        line = re.sub(r"^((bundle activation failed|prepare_error|eval_error|parse_error):\s*)+",
                      "", line)
        line = re.sub(r"^\d+ errors? occurred:?\s*", "", line)
        if not line:
            continue
        located = _LOCATED.match(line)
        if located and not located["path"].startswith(("http", "rego_")):
            problems.append(RegoProblem(located["message"], located["path"],
                                        int(located["line"])))
        elif line:
            problems.append(RegoProblem(line))
    return problems or [RegoProblem(message.strip() or "unknown OPA error")]


FORBIDDEN_BUILTINS = {
    "http.send": "reaches the network",
    "net.lookup_ip_addr": "reaches the network (DNS)",
    "opa.runtime": "reads the checker's environment variables",
}
"""Builtins a policy may not call: policies can come from the checked repository, and
nothing in it may reach the network or read the CI job's secrets (docs/security.md)."""

_FORBIDDEN_CALL = re.compile(
    r"(?<![\w.])(" + "|".join(re.escape(name) for name in FORBIDDEN_BUILTINS) + r")\s*\(")
_STRING_OR_COMMENT = re.compile(r'"(?:[^"\\\n]|\\.)*"|`[^`]*`|#[^\n]*')


def code_only(source: str) -> str:
    """A module with its strings and comments blanked out, offsets (and lines) kept."""
    return _STRING_OR_COMMENT.sub(_blank, source)


def _blank(match: re.Match[str]) -> str:
    text = match.group()
    if "\n" not in text:
        return " " * len(text)
    return "\n".join(" " * len(line) for line in text.split("\n"))


def sandboxed(modules: Mapping[str, str]) -> tuple[dict[str, str], list[RegoProblem]]:
    """The modules that call no forbidden builtin, and a located problem for each that
    does (it is not loaded at all)."""
    allowed: dict[str, str] = {}
    problems: list[RegoProblem] = []
    for name, source in modules.items():
        code = code_only(source)
        match = _FORBIDDEN_CALL.search(code)
        if match is None:
            allowed[name] = source
            continue
        builtin = match.group(1)
        problems.append(RegoProblem(
            f"calls {builtin}, which {FORBIDDEN_BUILTINS[builtin]}: not allowed in policies; "
            "the module is not loaded", name, code.count("\n", 0, match.start()) + 1))
    return allowed, problems


class InProcessEngine:
    """OPA in this process. Reuse one per process: `close()` does not give memory back."""

    def __init__(self) -> None:
        from opa_bindings import OpaEngine  # loads a 30 MB shared library: only when used

        self._factory = OpaEngine
        self._engine = OpaEngine()
        self._engine.print_handler = _ignore_print
        self._fresh = True
        self._checked: tuple[dict[str, str], list[RegoProblem], Any] | None = None

    def check(self, modules: Mapping[str, str]) -> None:
        """Parse and compile `modules` ahead of the data (while the estate loads): a `load`
        of the same modules then only adds the data to the engine that compiled them."""
        problems, engine = self._compiled(modules)
        self._checked = (dict(modules), problems, engine)

    def load(self, modules: Mapping[str, str], data: Mapping[str, Any] | bytes
             ) -> list[RegoProblem]:
        """`data` may come as JSON already (UTF-8 bytes): the worker hands it to OPA
        without building it as Python objects first (at 10,000 documents the inventory's
        objects were a quarter of the worker's peak memory)."""
        from opa_bindings import OpaError

        checked, self._checked = self._checked, None
        if checked is not None and checked[0] == modules and checked[2] is self._engine:
            problems, engine = list(checked[1]), checked[2]
        else:
            problems, engine = self._compiled(modules)
        if data:
            try:
                _add_data(engine, data)
            except OpaError as exc:
                raise RegoError("data", [RegoProblem(
                    f"the data document cannot be loaded: {exc.code}")]) from None
        self._engine = engine
        return problems

    def _compiled(self, modules: Mapping[str, str]) -> tuple[list[RegoProblem], Any]:
        """(problems, the engine holding the modules that parse and compile together, and no
        data: this engine's current one)."""
        from opa_bindings import OpaError

        parsed, problems = sandboxed(modules)
        # A module that does not parse is refused by `add_policy` and leaves the engine as
        # it was. Compile errors only surface when a query is prepared, and one bad module
        # fails them all: drop the modules OPA names and try again until the rest compile.
        while True:
            engine = self._new_engine()
            self._engine = engine  # (closed by the next new engine)
            for name, source in list(parsed.items()):
                try:
                    engine.add_policy(name, source)
                except OpaError as exc:
                    problems.extend(_with_path(parse_problems(exc.message), name))
                    del parsed[name]
            try:
                # Before the data: OPA keeps every query it prepared, at a cost that grows
                # with the data (~120 MB at 10,000 documents for this probe alone).
                engine.eval_query("__gitops_checker_probe := 1")
            except OpaError as exc:
                found = _with_path(parse_problems(exc.message), None)
                culprits = {p.path for p in found if p.path in parsed}
                if not culprits:
                    problems.extend(found)
                    parsed.clear()
                    continue
                problems.extend(p for p in found if p.path in culprits)
                for name in culprits:
                    del parsed[name]
                continue
            return problems, engine

    def _new_engine(self) -> Any:
        if self._fresh:
            self._fresh = False
            return self._engine
        self._engine.close()
        engine = self._factory()
        engine.print_handler = _ignore_print
        return engine

    def query(self, query: str, input: Any, timeout: float | None = None) -> list[dict[str, Any]]:
        from opa_bindings import OpaError

        try:
            result: list[dict[str, Any]] = self._engine.eval_query(query, input)
        except OpaError as exc:
            raise RegoError(exc.code, parse_problems(exc.message)) from None
        return result

    def query_json(self, query: str, input_json: bytes) -> list[dict[str, Any]]:
        """`query` with its input as JSON text already (UTF-8, as the bindings would write
        it): handed to OPA as it is, not built as Python objects and written again (the
        worker receives its inputs that way: ~0.1 ms per object at 10,000 documents)."""
        from opa_bindings import OpaError

        engine: Any = self._engine
        if not all(hasattr(engine, name) for name in
                   ("_call", "_lib", "_eval_lock", "_eval_reset", "_eval_result")):
            return self.query(query, json.loads(input_json))  # other bindings
        call, library, lock = engine._call, engine._lib, engine._eval_lock
        reset, result = engine._eval_reset, engine._eval_result
        try:
            # What `eval_query` itself does around the input it serialises (0.4.4).
            with lock:
                reset()
                rows = result(call(library.OpaEvalQuery, query.encode("utf-8"), input_json,
                                   0, 0))
        except OpaError as exc:
            raise RegoError(exc.code, parse_problems(exc.message)) from None
        return [row.get("bindings", {}) for row in rows] if rows else []

    def close(self) -> None:
        self._engine.close()


def data_json(data: Mapping[str, Any]) -> bytes:
    """The data document as OPA's bindings serialise it (UTF-8; a lone surrogate fails)."""
    try:
        return json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise RegoError("data", [RegoProblem(
            f"the data document cannot be loaded: not valid UTF-8 ({exc.reason})")]) from None


def _add_data(engine: Any, data: Mapping[str, Any] | bytes) -> None:
    if not isinstance(data, bytes):
        engine.add_data(dict(data))
        return
    call, library = getattr(engine, "_call", None), getattr(engine, "_lib", None)
    if call is None or library is None:  # other bindings: through Python objects
        engine.add_data(json.loads(data))
        return
    # What `add_data` itself does after serialising (opa-golib-python-bindings 0.4.4).
    call(library.OpaAddData, b"", data)


def _ignore_print(message: str, location: str) -> None:
    """Rego `print()` output is debugging noise; it must not reach reports on stdout."""


def _with_path(problems: list[RegoProblem], default: str | None) -> list[RegoProblem]:
    return [p if p.path or default is None else RegoProblem(p.message, default, p.line)
            for p in problems]
