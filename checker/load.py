"""Turn files into Manifests: read bytes safely, parse, recognise Kubernetes objects.

A file whose documents are none of them Kubernetes objects (Helm values, CI workflows,
`kustomization.yaml`) is skipped, not reported. Inside a file that does hold objects, a
document that is a list, a scalar or a mapping without `apiVersion`/`kind` is an error:
something meant to be an object went unchecked.
"""

from __future__ import annotations

import errno
import gc
import json
import os
import stat
import sys
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from yaml.nodes import Node

from checker.discover import Candidate, Skipped
from checker.kinds import is_cluster_scoped
from checker.model import Location, Manifest, Resource, ToolError
from checker.parse import (
    AmbiguousScalar,
    Document,
    DocumentComposer,
    DocumentError,
    LinePositions,
    parse_json,
    parse_yaml,
    pointer_exists,
    walk_pointer,
)

MAX_FILE_BYTES = 64 * 1024 * 1024
"""Files larger than this are not read (reported as unchecked)."""

NOT_CLUSTER_OBJECTS = frozenset({
    ("kustomize.config.k8s.io", "Kustomization"),
    ("kustomize.config.k8s.io", "Component"),
    ("kpt.dev", "Kptfile"),
    ("", "Config"),  # a kubeconfig
})
"""Documents with apiVersion/kind that configure tools rather than describe cluster objects."""

IGNORED_FILENAMES = frozenset({".gitops-checker.yaml", ".gitops-checker.yml",
                               ".pre-commit-config.yaml", ".pre-commit-hooks.yaml"})


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str
    text: str
    is_json: bool
    fast: bool = False
    """Read by the parser's fast path: fields are found from its lines (`LinePositions`)."""


@dataclass
class LoadResult:
    manifests: list[Manifest] = field(default_factory=list)
    errors: list[ToolError] = field(default_factory=list)
    sources: dict[str, SourceFile] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    ambiguous: dict[tuple[str, int], tuple[AmbiguousScalar, ...]] = field(default_factory=dict)
    chunks: dict[tuple[str, int], tuple[int, int, int]] = field(default_factory=dict)
    files: int = 0
    parsed: dict[str, list[Document | DocumentError]] = field(default_factory=dict)
    """Each YAML/JSON file as read, for renderers that use the same files (plain
    kustomizations), so that nothing is parsed twice. The data is shared: never mutate."""


def read_text(candidate: Candidate) -> str | ToolError:
    """Decode a file as Kubernetes tooling would (UTF-8, or UTF-16/32 with a BOM)."""
    name = candidate.display
    try:
        if candidate.path is None:
            data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
        else:
            if candidate.problem is not None:
                return ToolError("unreadable", candidate.problem, name)
            try:
                mode = os.stat(candidate.path).st_mode
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    return ToolError("unreadable", "symbolic link loop: it never reaches a "
                                     "file", name)
                if candidate.path.is_symlink():
                    return ToolError("unreadable", "broken symbolic link (its target does "
                                     "not exist)", name)
                raise
            if not stat.S_ISREG(mode):
                # A FIFO would block forever and /dev/zero never ends.
                return ToolError("unreadable", "not a regular file", name)
            with open(candidate.path, "rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return ToolError("unreadable", f"cannot read file: {exc.strerror or exc}", name)
    if len(data) > MAX_FILE_BYTES:
        return ToolError("too-large", f"input exceeds {MAX_FILE_BYTES:,} bytes", name)
    for bom, codec in ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
                       (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"),
                       (b"\xef\xbb\xbf", "utf-8")):
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(codec)
            except UnicodeDecodeError as exc:
                return _decode_error(name, data, exc, len(bom), codec)
    if b"\x00" in data[:8192]:
        return ToolError("binary", "binary file (NUL bytes), not YAML or JSON", name, 1)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _decode_error(name, data, exc, 0, "utf-8")


def _decode_error(name: str, data: bytes, exc: UnicodeDecodeError, skip: int,
                  codec: str) -> ToolError:
    line = data.count(b"\n", 0, skip + exc.start) + 1
    return ToolError("encoding", f"invalid {codec.upper()} at byte {skip + exc.start}: "
                     f"{exc.reason}", name, line)


def is_object(doc: Any) -> bool:
    return (isinstance(doc, dict) and isinstance(doc.get("apiVersion"), str)
            and isinstance(doc.get("kind"), str))


def looks_like_object(doc: Any) -> bool:
    """A mapping meant to be an object, even if misspelled (`apiversion`, `Kind`)."""
    return isinstance(doc, dict) and any(
        isinstance(key, str) and key.lower() in ("apiversion", "kind") for key in doc)


def is_cluster_object(doc: Mapping[str, Any]) -> bool:
    group = doc["apiVersion"].rpartition("/")[0]
    return (group, doc["kind"]) not in NOT_CLUSTER_OBJECTS


def load(candidates: Iterable[Candidate], *, default_namespace: str | None = None,
         progress: Any = None, ahead: ReadAhead | None = None) -> LoadResult:
    """`ahead`: a helper reading the last of the candidates (`ReadAhead.start`), whose
    results are taken in their turn."""
    result = LoadResult()
    wanted = _wanted(candidates)
    read_here = wanted if ahead is None else wanted[:len(wanted) - len(ahead.candidates)]
    assert ahead is None or wanted[len(read_here):] == ahead.candidates
    for candidate in read_here:
        _record(candidate, read_one(candidate), result, default_namespace)
        if progress is not None:
            progress()
    if ahead is not None:
        for candidate, read in ahead.results():
            _record(candidate, read, result, default_namespace)
            if progress is not None:
                progress()
    result.files = len(wanted)
    return result


def _wanted(candidates: Iterable[Candidate]) -> list[Candidate]:
    """The candidates that are read (the checker's own configuration files are not)."""
    return [c for c in candidates if c.path is None or c.path.name not in IGNORED_FILENAMES]


Read = tuple[str | ToolError, list[Document | DocumentError]]
"""A file's text (or why it cannot be read) and its documents as parsed."""


def read_one(candidate: Candidate) -> Read:
    text = read_text(candidate)
    if isinstance(text, ToolError) or not text.strip():
        return text, []
    is_json = candidate.display.lower().endswith(".json")
    return text, list(parse_json(text) if is_json else parse_yaml(text))


def _read_many(candidates: Sequence[Candidate]) -> list[Read]:
    """The helper process's work."""
    return [read_one(candidate) for candidate in candidates]


def available_cores() -> int:
    """The cores this process may run on."""
    affinity = getattr(os, "sched_getaffinity", None)  # Linux; elsewhere every core
    return len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)


PARALLEL_READ_FILES = 1500
"""From this many files, a helper process reads and parses the second half of them while
this process lists the Kustomize tree and reads the first half: reading is most of the load,
which would otherwise leave the second core idle (docs/performance.md). Below it, starting
the helper costs about what it saves."""

READ_AHEAD_CHUNK = 256
"""Files the helper hands over at a time: the first are recorded here while it reads on."""


class ReadAhead:
    """Files read and parsed by a helper process, handed over in order.

    The helper is `spawn`ed, as the OPA workers are (this process may have threads). If it
    cannot start or fails, the files it has not handed over are read here instead, so the
    result is the same either way: a parser error surfaces as it would here."""

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        self.candidates = list(candidates)
        self._pool: Any = None
        self._futures: list[Any] = []

    @classmethod
    def start(cls, candidates: Sequence[Candidate], *, cores: int) -> ReadAhead | None:
        """A helper for the second half of `candidates`, when they are many enough and a
        second core is there; None otherwise."""
        wanted = _wanted(candidates)
        if cores < 2 or len(wanted) < PARALLEL_READ_FILES or any(c.path is None for c in wanted):
            return None
        ahead = cls(wanted[len(wanted) // 2:])
        try:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # (no garbage cycles collected there: it parses and hands over, nothing stays)
            ahead._pool = ProcessPoolExecutor(max_workers=1,
                                              mp_context=multiprocessing.get_context("spawn"),
                                              initializer=gc.disable)
            ahead._futures = [ahead._pool.submit(_read_many,
                                                 ahead.candidates[i:i + READ_AHEAD_CHUNK])
                              for i in range(0, len(ahead.candidates), READ_AHEAD_CHUNK)]
        except (OSError, RuntimeError, ImportError):
            ahead.close()
        return ahead

    def results(self) -> Iterator[tuple[Candidate, Read]]:
        handed = 0
        try:
            for future in self._futures:
                try:
                    reads = future.result()
                except Exception:  # noqa: BLE001 - the helper's trouble: the rest are read here
                    break
                yield from zip(self.candidates[handed:handed + len(reads)], reads, strict=True)
                handed += len(reads)
        finally:
            self.close(wait=handed == len(self.candidates))
        for candidate in self.candidates[handed:]:
            yield candidate, read_one(candidate)

    def close(self, *, wait: bool = False) -> None:
        """`wait`: for the helper to exit (it has nothing left to do)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=True)


def _record(candidate: Candidate, read: Read, result: LoadResult,
            default_namespace: str | None) -> None:
    name = candidate.display
    text, entries = read
    if isinstance(text, ToolError):
        result.errors.append(text)
        return
    is_json = candidate.display.lower().endswith(".json")
    if not text.strip():
        result.skipped.append(Skipped(name, "empty file"))
        return
    result.parsed[name] = entries
    documents = [e for e in entries if isinstance(e, Document)]
    for entry in entries:
        if isinstance(entry, DocumentError):
            result.errors.append(ToolError(entry.kind, _error_text(entry), name, entry.line))
    objects = [d for d in documents if is_object(d.data) and is_cluster_object(d.data)
               or looks_like_object(d.data) and not is_object(d.data)
               or isinstance(d.data, list) and any(is_object(item) for item in d.data)]
    if not objects and not any(isinstance(e, DocumentError) for e in entries):
        if any(d.data is not None for d in documents):
            result.skipped.append(Skipped(name, "not Kubernetes objects"))
        else:
            result.skipped.append(Skipped(name, "no documents"))
        return
    result.sources[name] = SourceFile(name, text, is_json,
                                      fast=bool(documents) and all(d.fast for d in documents))
    for doc in documents:
        result.chunks[(name, doc.index)] = doc.chunk
        if doc.ambiguous:
            result.ambiguous[(name, doc.index)] = doc.ambiguous
        data = doc.data
        if data is None:
            continue
        if not isinstance(data, dict):
            shape = "a list" if isinstance(data, list) else "a scalar"
            result.errors.append(ToolError(
                "not-an-object", f"document {doc.index + 1} is {shape}, not a Kubernetes "
                "object (a list of objects needs `kind: List` and `items`)", name, doc.line))
            continue
        if not is_object(data):
            missing = [k for k in ("apiVersion", "kind") if not isinstance(data.get(k), str)]
            near = [k for k in data if isinstance(k, str) and k.lower() in
                    ("apiversion", "kind") and k not in ("apiVersion", "kind")]
            hint = f" (found {', '.join(repr(k) for k in near)}: keys are case-sensitive)" \
                if near else ""
            result.errors.append(ToolError(
                "not-an-object", f"document {doc.index + 1} has no string "
                f"{' or '.join(missing)}{hint}; it cannot be checked", name, doc.line))
            continue
        if not is_cluster_object(data):
            continue
        _add_object(result, data, Location(name, doc.line), doc.index, default_namespace)


def _add_object(result: LoadResult, obj: dict[str, Any], location: Location, doc_index: int,
                default_namespace: str | None) -> None:
    kind = obj["kind"]
    items = obj.get("items")
    if kind.endswith("List") and isinstance(items, list) and "spec" not in obj:
        for i, item in enumerate(items):
            pointer = f"{location.pointer}/items/{i}"
            where = Location(location.path, None, None, pointer)
            if is_object(item):
                _add_object(result, item, where, doc_index, default_namespace)
            else:
                result.errors.append(ToolError(
                    "not-an-object", f"{kind} item {i + 1} has no apiVersion or kind",
                    location.path, location.line))
        return
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    name = metadata.get("name") or metadata.get("generateName") or ""
    namespace = metadata.get("namespace")
    if not isinstance(namespace, str) or not namespace:
        namespace = None
        if default_namespace and not is_cluster_scoped(obj["apiVersion"], kind):
            namespace = default_namespace
    if not isinstance(name, str):
        name = json.dumps(name, default=str)  # the schema reports the wrong type
    resource = Resource(obj["apiVersion"], kind, namespace, name)
    result.manifests.append(Manifest(resource, obj, location, doc_index))


def _error_text(error: DocumentError) -> str:
    where = f"document {error.index + 1}: " if error.index else ""
    return where + error.message


LINE_INDEX_FILES = 64
"""Files whose line index is kept: findings are located in file order, so a few suffice
(keeping every file's cost ~90 MB at 10,000 documents and saved nothing measurable)."""


class Locator:
    """Finds the line and column of a field, composing a document only when asked."""

    def __init__(self, result: LoadResult, *, cache_size: int = 64) -> None:
        self._sources = result.sources
        self._parsed = result.parsed
        self._chunks = result.chunks
        self._chunk_nodes: OrderedDict[tuple[str, int], DocumentComposer] = OrderedDict()
        self._line_index: OrderedDict[str, LinePositions] = OrderedDict()
        self._cache_size = cache_size

    def position(self, manifest: Manifest, pointer: str, *,
                 value: bool = False) -> tuple[int | None, int | None]:
        """Line and column of a field's key (or of its value with `value=True`)."""
        path = manifest.location.path
        if path is None:
            return manifest.location.line, None
        key = (path, manifest.doc_index)
        lines = self._line_positions(path)
        if lines is not None:
            found = lines.position(manifest.doc_index, manifest.location.pointer + pointer,
                                   value=value, data=self._document_data(path,
                                                                         manifest.doc_index))
            if found is not None:
                return found
        root = self._document_node(path, manifest.doc_index)
        if root is None:
            return manifest.location.line, None
        node = walk_pointer(root, manifest.location.pointer + pointer, value=value)
        return node.start_mark.line + 1 + self._chunks[key][1], node.start_mark.column + 1

    def locate(self, manifest: Manifest, pointer: str
               ) -> tuple[str | None, int | None, int | None]:
        """(path, line, column) of a field: in the newest patch a renderer applied that
        writes it (the file a person edits to change the value), else in the object's
        source document."""
        line, column = self.position(manifest, pointer)
        if not manifest.patches or not pointer:
            return manifest.location.path, line, column
        # The last patch that writes the field set its value: newest first, then the source.
        for path, doc_index in reversed(manifest.patches):
            patch = self._document_node(path, doc_index)
            if patch is not None and pointer_exists(patch, pointer):
                node = walk_pointer(patch, pointer)
                return path, node.start_mark.line + 1 + self._chunks[(path, doc_index)][1], \
                    node.start_mark.column + 1
        return manifest.location.path, line, column

    def _document_data(self, path: str, doc_index: int) -> Any:
        """The document's values as the load read them (None: not at hand), so that
        `LinePositions` need not read it again."""
        entries = self._parsed.get(path)
        if entries is None:
            return None
        entry = entries[doc_index] if doc_index < len(entries) else None
        if not isinstance(entry, Document) or entry.index != doc_index:
            entry = next((e for e in entries if isinstance(e, Document) and
                          e.index == doc_index), None)
        return entry.data if entry is not None else None

    def _line_positions(self, path: str) -> LinePositions | None:
        """The cheap way (no composing), for files the fast path reads."""
        source = self._sources.get(path)
        if source is None or not source.fast:
            return None
        found = self._line_index.get(path)
        if found is None:
            found = self._line_index[path] = LinePositions(source.text)
            if len(self._line_index) > LINE_INDEX_FILES:
                self._line_index.popitem(last=False)
        else:
            self._line_index.move_to_end(path)
        return found

    def _document_node(self, path: str, doc_index: int) -> Node | None:
        """The composed document; each document of its part of the file is composed at most
        once, and only as far into the file as asked."""
        source = self._sources.get(path)
        chunk = self._chunks.get((path, doc_index))
        if source is None or chunk is None:
            return None
        char_offset, _, index = chunk
        cache_key = (path, char_offset)
        composer = self._chunk_nodes.get(cache_key)
        if composer is None:
            composer = DocumentComposer(source.text[char_offset:], is_json=source.is_json)
            self._chunk_nodes[cache_key] = composer
            if len(self._chunk_nodes) > self._cache_size:
                self._chunk_nodes.popitem(last=False)[1].close()
        else:
            self._chunk_nodes.move_to_end(cache_key)
        return composer.node(index)

