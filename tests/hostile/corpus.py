"""The hostile-input corpus: every case is generated here, with what must come out of it.

A case is a small estate: the bad file(s) plus `good.yaml`, a Deployment with a known
finding (SCH002 at line 19), so that every run also shows that the rest of the estate was
still checked and reported. Most bad YAML documents are also placed first, in the middle and
last of a file between two sibling ConfigMaps whose own finding (SCH001, `data.k` must be a
string) must appear too: one bad document never hides the others of its file.

Expected outcomes follow what the Kubernetes tooling does (sigs.k8s.io/yaml, go-yaml v2,
kubectl, Kustomize, Helm); where the checker deliberately differs, `note` says why. Lines are
counted as YAML counts them (LF, CRLF, and a lone CR, NEL, LS or PS all end a line).

`tests/hostile/test_corpus.py` runs the cases; `tests/hostile/README.md` lists the families.
"""

from __future__ import annotations

import functools
import gzip
import random
import re
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

# ----------------------------------------------------------------------------- the estate

GOOD_PATH = "good.yaml"
GOOD = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ledger-api
  namespace: erp
spec:
  replicas: 2
  selector:
    matchLabels:
      app: ledger-api
  template:
    metadata:
      labels:
        app: ledger-api
    spec:
      containers:
        - name: api
          image: registry.example.com/ledger-api:1.4.2
          imagePullPolicyy: IfNotPresent
"""
GOOD_RULE, GOOD_LINE = "SCH002", 19
"""The good file's finding: must be in every report (`good=True`)."""

SIBLING = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: erp}}\n" \
          "data:\n  k: 1\n"
SIBLING_LINE = 5  # SCH001: `data.k` must be string, not integer

MARKER = "@@MARKER@@"
"""Replaced by an absolute path: a payload that would create this file if it ran."""
OUTSIDE = "@@OUTSIDE@@"
"""Replaced by the absolute path of a directory next to the estate (outside the repository),
holding `cm.yaml` (a ConfigMap), `kustomization.yaml` and `secret.env`."""
PORT = "@@PORT@@"
"""Replaced by the port of a loopback listener that counts connections (must stay 0)."""
ROOT = "@@ROOT@@"
"""Replaced (in arguments) by the estate's root directory."""

MIB = 1024 * 1024


@dataclass(frozen=True)
class Link:
    """A symbolic link to `target` (relative, or absolute; may use OUTSIDE)."""

    target: str


@dataclass(frozen=True)
class Fifo:
    """A named pipe: reading it would block forever."""


@dataclass(frozen=True)
class Locked:
    """A file (or, with `directory`, a directory holding `x.yaml` with this content) whose
    mode is 000: unreadable to anyone but root."""

    content: bytes
    directory: bool = False


@dataclass(frozen=True)
class Lazy:
    """Content made only when the case is written (big files: the corpus stays small)."""

    make: Callable[[], bytes]


FileSpec = bytes | Link | Fifo | Locked | Lazy


@dataclass(frozen=True)
class Err:
    """An error entry the report must hold: its file, its line (None: the error has none),
    words of its message (case-insensitive) and optionally its kind."""

    path: str
    line: int | None
    says: tuple[str, ...] = ()
    kind: str | None = None


@dataclass(frozen=True)
class Seen:
    """A finding the report must hold (besides the good one)."""

    rule: str
    path: str
    line: int | None = None  # None: not checked
    says: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    id: str
    family: str
    files: Mapping[str, FileSpec]
    errors: tuple[Err, ...] = ()
    findings: tuple[Seen, ...] = ()
    exit_code: int = -1  # -1: 2 when errors are expected, else 1 (the good finding)
    good: bool = True
    """The good file's finding must be reported."""
    report: bool = True
    """A JSON report is written (False: the run is refused as a whole, e.g. a bad config)."""
    stderr_says: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    """What to check, relative to the root (default: the root directory)."""
    stdin: bytes | None = None
    rules: bool = False
    """Run the bundled rule packs too (default: --no-bundled-packs, schema and given
    policies only: much faster, and the parser is what most cases are about)."""
    isolate: bool = False
    """Run in a child process with an address-space limit, measuring its peak RSS."""
    slow: bool = False
    seconds: float = 10.0
    """Time bound: the run must finish within it (wall clock)."""
    mib: int = 1024
    """Memory bound: peak RSS in MiB (of the child when isolated; of the test process, a
    high-water mark, when run in process)."""
    address_space_gib: int = 2
    as_nobody: bool = False
    """Run as uid/gid 65534 when the tests run as root (root reads mode-000 files)."""
    marker: bool = False
    """The files hold a payload that would create MARKER if it ever ran."""
    listener: bool = False
    """The files point at a loopback listener that must get no connection."""
    groupable: bool = True
    """May share an estate with the other cases of its family (a grouped run)."""
    note: str = ""

    @property
    def expected_exit(self) -> int:
        if self.exit_code != -1:
            return self.exit_code
        return 2 if self.errors else 1


def case(id: str, family: str, files: Mapping[str, FileSpec], **kwargs: Any) -> Case:
    item = Case(f"{family}/{id}", family, files, **kwargs)
    if item.args or item.paths or item.stdin is not None or item.as_nobody or item.rules \
            or not item.report:
        item = replace(item, groupable=False)  # a run of its own: its options are its own
    return item


# ------------------------------------------------------------------ documents in position

_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def yaml_lines(text: str) -> int:
    """Line breaks as YAML counts them."""
    return len(_BREAKS.findall(text))


@dataclass(frozen=True)
class Doc:
    """One bad (or odd) YAML document: its text, ending with a line break, and what it must
    give, with lines relative to the document (1 = its first line)."""

    name: str
    text: str
    errors: tuple[tuple[int | None, tuple[str, ...], str | None], ...] = ()
    findings: tuple[tuple[int, str], ...] = ()
    alone: tuple[tuple[int | None, tuple[str, ...], str | None], ...] | None = None
    """Errors when it is the only document of its file, when different (a scalar document
    in a file without objects is not Kubernetes YAML: skipped, not an error)."""
    note: str = ""


POSITIONS = ("alone", "first", "middle", "last")


def placed(doc: Doc, position: str, path: str) -> tuple[str, tuple[Err, ...], tuple[Seen, ...]]:
    """The file holding `doc` at `position` among two siblings, and what it must give."""
    order = {"alone": ["bad"], "first": ["bad", "a", "b"], "middle": ["a", "bad", "b"],
             "last": ["a", "b", "bad"]}[position]
    text, line = "", 1
    errors: list[Err] = []
    findings: list[Seen] = []
    for number, item in enumerate(order):
        if number:
            text += "---\n"
            line += 1
        if item == "bad":
            expected = doc.alone if position == "alone" and doc.alone is not None else doc.errors
            errors += [Err(path, None if rel is None else line + rel - 1, says, kind)
                       for rel, says, kind in expected]
            findings += [Seen(rule, path, line + rel - 1) for rel, rule in doc.findings]
            text += doc.text
            line += yaml_lines(doc.text)
        else:
            text += SIBLING.format(name=f"sibling-{item}")
            findings.append(Seen("SCH001", path, line + SIBLING_LINE - 1))
            line += yaml_lines(SIBLING.format(name="x"))
    return text, tuple(errors), tuple(findings)


def doc_cases(family: str, docs: list[Doc], positions: tuple[str, ...] = POSITIONS,
              **kwargs: Any) -> Iterator[Case]:
    for doc in docs:
        for position in positions:
            path = f"{doc.name}-{position}.yaml"
            text, errors, findings = placed(doc, position, path)
            yield case(f"{doc.name}@{position}", family,
                       {path: text.encode("utf-8", "surrogatepass")}, errors=errors,
                       findings=findings, note=doc.note, **kwargs)


def cm(body: str, name: str = "odd") -> str:
    """A ConfigMap in namespace erp whose last lines are `body` (starting at line 4)."""
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: erp}}\n{body}"


E = tuple[int | None, tuple[str, ...], str | None]


def err(line: int | None, *says: str, kind: str | None = None) -> E:
    return (line, says, kind)


NOT_OBJECT_MAPPING = (err(1, "no string apiVersion or kind", kind="not-an-object"),)
"""A mapping that is no object, in a file of objects: something meant to be one went
unchecked."""


# ----------------------------------------------------------------------------- 1. bombs


def _laughs(levels: int, fan: int, style: str) -> tuple[str, int | None]:
    """A billion-laughs document and the line of the first anchor whose expansion passes
    the node budget (None: it stays under it)."""
    lines, size, first_over = [], 0, None
    for level in range(levels):
        if style == "seq":
            items = ", ".join(["lol"] * fan if level == 0 else [f"*a{level - 1}"] * fan)
            lines.append(f"l{level}: &a{level} [{items}]")
        else:
            items = ", ".join(f"k{i}: " + ("lol" if level == 0 else f"*a{level - 1}")
                              for i in range(fan))
            lines.append(f"l{level}: &a{level} {{{items}}}")
        # nodes of the level: the collection, plus each item (and each key of a mapping)
        size = 1 + fan * ((1 if level == 0 else size) + (1 if style == "map" else 0))
        if size > 1_000_000 and first_over is None:
            first_over = level + 1
    return "\n".join(lines) + "\n", first_over


def bombs() -> Iterator[Case]:
    for levels, fan, style in ((5, 9, "seq"), (7, 9, "seq"), (9, 9, "seq"), (12, 9, "seq"),
                               (19, 2, "seq"), (40, 2, "seq"), (2, 100, "seq"),
                               (3, 100, "seq"), (6, 9, "map"), (9, 9, "map")):
        text, line = _laughs(levels, fan, style)
        name = f"laughs-{style}-{fan}x{levels}"
        if line is None:
            doc = Doc(name, text, NOT_OBJECT_MAPPING, alone=(),
                      note="under a million nodes: read (a data file: skipped when alone)")
        else:
            doc = Doc(name, text, (err(line, "alias expansion exceeds 1,000,000 nodes",
                                       kind="alias-bomb"),))
        yield from doc_cases("bomb", [doc], ("alone", "middle"), isolate=True, slow=True,
                             seconds=20, mib=700)
    # One long string and many aliases of it: few nodes, a huge expansion.
    for count in (16, 100, 1000):
        text = f's: &s "{"x" * MIB}"\nrefs: [' + ", ".join(["*s"] * count) + "]\n"
        over = (count + 1) * MIB > 64 * MIB
        doc = Doc(f"string-bomb-{count}", text,
                  (err(2, "exceeds 67,108,864 characters", kind="alias-bomb"),) if over
                  else NOT_OBJECT_MAPPING, alone=None if over else ())
        yield from doc_cases("bomb", [doc], ("alone", "middle"), isolate=True, slow=True,
                             seconds=20, mib=700)
    # A recursive alias and a bomb in the merge keys.
    yield from doc_cases("bomb", [
        Doc("recursive-alias", "a: &a [*a]\n", (err(1, "recursive alias", kind="alias-bomb"),)),
        Doc("merge-bomb", "".join(f"m{i}: &m{i}\n  <<: [" + (f"*m{i - 1}, " * 8 if i else "")
                                  + f"{{k{i}: v}}]\n  x{i}: [" +
                                  ", ".join([f"*m{i - 1}"] * 9 if i else ["v"]) + "]\n"
                                  for i in range(9)),
            (err(17, "alias expansion exceeds 1,000,000 nodes", kind="alias-bomb"),)),
    ], ("alone", "middle"), isolate=True, slow=True, seconds=20, mib=700)
    # A bomb where the checker reads YAML besides manifests.
    bomb, _ = _laughs(9, 9, "seq")
    yield case("in-kustomization", "bomb", {"app/kustomization.yaml": bomb.encode(),
                                            "app/cm.yaml": SIBLING.format(name="c").encode()},
               errors=(Err("app/kustomization.yaml", 7, ("alias expansion exceeds",),
                           "alias-bomb"),
                       Err("app/kustomization.yaml", 7, ("not a YAML mapping",), "render")),
               findings=(Seen("SCH001", "app/cm.yaml", SIBLING_LINE),),
               isolate=True, slow=True, seconds=20, mib=700,
               note="the kustomization cannot be read: its directory's files are checked as "
                    "written, and the error says the overlay was not rendered")
    yield case("in-helm-values", "bomb", {
        "charts/demo/Chart.yaml": b"apiVersion: v2\nname: demo\nversion: 0.1.0\n",
        "charts/demo/values.yaml": bomb.encode(),
        "charts/demo/templates/cm.yaml": SIBLING.format(name="c").encode()},
        errors=(Err("charts/demo/values.yaml", None, ("could not be loaded", "alias"),
                    "render"),),
        isolate=True, slow=True, seconds=30, mib=1500, address_space_gib=8,
        note="Helm (go-yaml) refuses excessive aliasing itself; its message names no line")
    yield case("in-policy-data", "bomb", {"policy/data.yaml": bomb.encode()},
               errors=(Err("policy/data.yaml", 7, ("alias expansion exceeds",), "policy"),
                       Err("policy/data.yaml", 7, ("alias expansion exceeds",), "alias-bomb")),
               args=("--policy", f"{ROOT}/policy"), isolate=True, slow=True, seconds=30,
               mib=1500, address_space_gib=8, note=IN_ESTATE)


# ---------------------------------------------------------------------------- 2. nesting


def _nested(style: str, depth: int) -> str:
    if style == "flow-seq":
        return "a: " + "[" * depth + "]" * depth + "\n"
    if style == "flow-map":
        return "a: " + "{a: " * depth + "1" + "}" * depth + "\n"
    if style == "block-seq":
        return "- " * depth + "x\n"
    if style == "block-map":
        return "".join(" " * level + f"k{level}:\n" for level in range(depth))
    if style == "json-array":
        return "[" * depth + "]" * depth
    return '{"a": ' * depth + "1" + "}" * depth


def nesting() -> Iterator[Case]:
    for style in ("flow-seq", "flow-map", "block-seq", "block-map", "json-array",
                  "json-object"):
        depths = (100, 1500, 3000) if style == "block-map" else (100, 2000, 10_000, 100_000)
        for depth in depths:
            text = _nested(style, depth)
            name = f"{style}-{depth}"
            heavy = depth >= 10_000
            bounds: dict[str, Any] = {"isolate": True, "slow": heavy, "seconds": 20,
                                         "mib": 600}
            if style.startswith("json"):
                path = f"{name}.json"
                errors = () if depth == 100 else (
                    Err(path, 1, ("nesting too deep",), "nesting"),)
                yield case(name, "nesting", {path: text.encode()}, errors=errors,
                           note="JSON: Python's recursion limit; the API server's is 10,000",
                           **bounds)
                continue
            if depth == 100:
                doc = Doc(name, text, NOT_OBJECT_MAPPING if style != "block-seq" else
                          (err(1, "is a list", kind="not-an-object"),), alone=())
            else:
                line = 1000 if style == "block-map" else 1
                doc = Doc(name, text, (err(line, "exceeded maximum nesting depth",
                                           kind="syntax"),),
                          note="libyaml (and go-yaml) stop at 1,000 levels")
            yield from doc_cases("nesting", [doc], ("alone", "middle") if depth <= 10_000
                                 else ("alone",), **bounds)
    # Deep but under the parser's limits, inside an object: reaches the schema stage.
    deep = cm("data:\n  k: 1\nx: " + "{a: " * 150 + "1" + "}" * 150 + "\n")
    yield case("object-150", "nesting", {"deep.yaml": deep.encode()},
               findings=(Seen("SCH001", "deep.yaml", 5),), isolate=True, seconds=20, mib=600)
    deep = cm("data:\n  k: 1\nx: " + "{a: " * 700 + "1" + "}" * 700 + "\n")
    yield case("object-700", "nesting", {"deep.yaml": deep.encode()},
               errors=(Err("deep.yaml", 1, ("nesting too deep",), "nesting"),),
               isolate=True, seconds=20, mib=600,
               note="past what is read without exhausting Python's stack: an error, not a "
                    "crash (Kubernetes reads up to 10,000 levels)")


# --------------------------------------------------------------------- 3. bytes: encodings

_INVALID_UTF8 = {
    "lone-continuation": b"\x80", "overlong-slash": b"\xc0\xaf", "truncated": b"\xe2\x82",
    "surrogate": b"\xed\xa0\x80", "byte-ff": b"\xff", "past-10ffff": b"\xf4\x90\x80\x80",
    "latin1": b"caf\xe9", "cp1252-quotes": b"\x93ok\x94", "five-bytes": b"\xf8\x88\x80\x80\x80",
}


def _first_invalid(data: bytes) -> int:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    raise AssertionError("valid UTF-8")


def encodings() -> Iterator[Case]:
    placements: dict[str, Callable[[bytes], bytes]] = {
        "first-byte": lambda bad: bad + b"\n" + SIBLING.format(name="a").encode(),
        "comment": lambda bad: b"# " + bad + b"\n" + SIBLING.format(name="a").encode(),
        "value": lambda bad: cm("data:\n  k: '").encode() + bad + b"'\n",
        "key-in-doc-2": lambda bad: SIBLING.format(name="a").encode() + b"---\n" +
        cm("data:\n  ").encode() + bad + b": v\n",
        "last-byte": lambda bad: SIBLING.format(name="a").encode() + b"# end " + bad,
    }
    for bad_name, bad in _INVALID_UTF8.items():
        for where, build in placements.items():
            data = build(bad)
            at = _first_invalid(data)
            path = f"{bad_name}-{where}.yaml"
            yield case(f"{bad_name}@{where}", "encoding", {path: data}, errors=(
                Err(path, data.count(b"\n", 0, at) + 1, (f"invalid utf-8 at byte {at}",),
                    "encoding"),),
                note="the file cannot be decoded: none of its documents is checked (kubectl "
                     "refuses it too); the other files are")
    body = SIBLING.format(name="a")
    boms = {
        "utf8-bom": b"\xef\xbb\xbf" + body.encode(),
        "utf16le-bom": b"\xff\xfe" + body.encode("utf-16-le"),
        "utf16be-bom": b"\xfe\xff" + body.encode("utf-16-be"),
        "utf32le-bom": b"\xff\xfe\x00\x00" + body.encode("utf-32-le"),
        "utf32be-bom": b"\x00\x00\xfe\xff" + body.encode("utf-32-be"),
        "utf8-double-bom": b"\xef\xbb\xbf\xef\xbb\xbf" + body.encode(),
    }
    for name, data in boms.items():
        yield case(name, "encoding", {f"{name}.yaml": data},
                   findings=(Seen("SCH001", f"{name}.yaml", SIBLING_LINE),),
                   note="kubectl decodes UTF-16/32 with a byte-order mark (BOMOverride)")
    yield case("utf16le-bom-json", "encoding", {"cm.json": b"\xff\xfe" + (
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j", '
        '"namespace": "erp"},\n "data": {"k": 1}}').encode("utf-16-le")},
        findings=(Seen("SCH001", "cm.json", 2),))
    broken = {
        "utf16le-odd-length": (b"\xff\xfe" + body.encode("utf-16-le") + b"\x00",
                               "invalid utf-16-le", 6),
        "utf16le-lone-surrogate": (b"\xff\xfe" + body.encode("utf-16-le") + b"\x00\xd8a\x00",
                                   "invalid utf-16-le", 6),
        "utf16be-lone-surrogate": (b"\xfe\xff" + body.encode("utf-16-be") + b"\xdc\x00",
                                   "invalid utf-16-be", 6),
        "utf32le-past-10ffff": (b"\xff\xfe\x00\x00" + body.encode("utf-32-le") +
                                b"\x00\x00\x11\x00", "invalid utf-32-le", 6),
        "utf8-bom-then-latin1": (b"\xef\xbb\xbf" + body.encode() + b"# caf\xe9\n",
                                 "invalid utf-8", 6),
    }
    for name, (data, says, line) in broken.items():
        yield case(name, "encoding", {f"{name}.yaml": data},
                   errors=(Err(f"{name}.yaml", line, (says,), "encoding"),))
    yield case("utf16le-without-bom", "encoding", {"nobom.yaml": body.encode("utf-16-le")},
               errors=(Err("nobom.yaml", 1, ("binary file",), "binary"),),
               note="without a BOM, UTF-16 has NUL bytes: read as binary, as kubectl does")
    # A byte-order mark inside the stream starts a new document for libyaml and go-yaml.
    text = body + "---\n\ufeff" + cm("data:\n  k: v\n")
    yield case("bom-inside-stream", "encoding", {"midbom.yaml": text.encode()},
               errors=(Err("midbom.yaml", 7, ("no string kind",), "not-an-object"),
                       Err("midbom.yaml", 8, ("did not find expected <document start>",),
                           "syntax")),
               findings=(Seen("SCH001", "midbom.yaml", SIBLING_LINE),))


# ---------------------------------------------------------- 4. control characters, NULs


def control_characters() -> Iterator[Case]:
    chars = ["\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x7f", "\x80", "\ufffe",
             "\uffff"]
    docs = [Doc(f"char-{ord(c):04x}", cm(f'data:\n  k: "a{c}b"\n'),
                (err(5, f"character #x{ord(c):04x} is not allowed", kind="syntax"),),
                note="go-yaml refuses the character; the documents around it are read")
            for c in chars]
    yield from doc_cases("control-char", docs, ("alone", "first", "middle", "last"))


def nul_bytes() -> Iterator[Case]:
    body = SIBLING.format(name="a").encode()
    pad = b"# " + b"p" * 9000 + b"\n"  # past the first 8 KiB, where NUL means binary
    yield case("first-byte", "nul", {"n.yaml": b"\x00" + body},
               errors=(Err("n.yaml", 1, ("binary file",), "binary"),))
    yield case("within-8k", "nul", {"n.yaml": body + b"# \x00\n"},
               errors=(Err("n.yaml", 1, ("binary file",), "binary"),),
               note="a NUL in the first 8 KiB: a binary file, not read at all")
    text = pad + body + b"---\n" + cm('data:\n  z: "a\x00b"\n', "b").encode() + b"---\n" + \
        SIBLING.format(name="c").encode()
    yield case("in-doc-2-after-8k", "nul", {"n.yaml": text},
               errors=(Err("n.yaml", 12, ("character #x0000",), "syntax"),),
               findings=(Seen("SCH001", "n.yaml", 6), Seen("SCH001", "n.yaml", 18)))
    yield case("last-byte-after-8k", "nul", {"n.yaml": pad + body + b"\x00"},
               errors=(Err("n.yaml", 7, ("character #x0000",), "syntax"),),
               note="the NUL makes the file's only document unreadable")
    yield case("in-comment-after-8k", "nul",
               {"n.yaml": pad + body + b"---\n# \x00\n" + cm("data:\n  k: v\n").encode()},
               errors=(Err("n.yaml", 8, ("character #x0000",), "syntax"),),
               findings=(Seen("SCH001", "n.yaml", 6),))
    yield case("json-after-8k", "nul", {"n.json": b'{"pad": "' + b"p" * 9000 +
                                        b'",\n "x": "a\x00b"}'},
               errors=(Err("n.json", 2, ("invalid control character",), "syntax"),))
    yield case("json-first-byte", "nul", {"n.json": b"\x00{}"},
               errors=(Err("n.json", 1, ("binary file",), "binary"),))


# ------------------------------------------------------------------------- 5. binaries


def _binary_expectation(path: str, data: bytes) -> tuple[Err, ...]:
    if b"\x00" in data[:8192]:
        return (Err(path, 1, ("binary file",), "binary"),)
    at = _first_invalid(data)
    return (Err(path, data.count(b"\n", 0, at) + 1, (f"invalid utf-8 at byte {at}",),
                "encoding"),)


def binaries() -> Iterator[Case]:
    rng = random.Random(20261207)
    blobs = {
        "random-512.yaml": rng.randbytes(512),
        "random-64k.yml": rng.randbytes(64 * 1024),
        "random-1m.json": rng.randbytes(MIB),
        "high-bytes.yaml": bytes(rng.randrange(0x80, 0x100) for _ in range(4096)),
        "png.yaml": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + rng.randbytes(256),
        "gzip.yaml": gzip.compress(SIBLING.format(name="z").encode() * 20, mtime=0),
        "zlib.yaml": zlib.compress(SIBLING.format(name="z").encode() * 20),
        "elf.yaml": b"\x7fELF\x02\x01\x01\x00" + bytes(56) + rng.randbytes(128),
        "zip.yml": b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + rng.randbytes(200),
        "pdf.yaml": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
        "sqlite.json": b"SQLite format 3\x00" + rng.randbytes(512),
    }
    for name, data in blobs.items():
        yield case(name.rpartition(".")[0], "binary", {name: data},
                   errors=_binary_expectation(name, data))


# -------------------------------------------------------------------- 6. duplicate keys


def duplicate_keys() -> Iterator[Case]:
    dup = "duplicate key"
    docs = [
        Doc("top", cm("data:\n  k: v\ndata:\n  k: w\n"), (err(6, dup, "'data'",
                                                             kind="duplicate-key"),)),
        Doc("nested", cm("data:\n  k: v\n  k: w\n"),
            (err(6, dup, "'k'", kind="duplicate-key"),)),
        Doc("in-list-item", cm("data:\n  k: v\nitems:\n  - a: 1\n    a: 2\n"),
            (err(8, dup, "'a'", kind="duplicate-key"),)),
        Doc("flow", cm("data: {k: v, k: w}\n"), (err(4, dup, kind="duplicate-key"),)),
        Doc("quoted-and-plain", cm('data:\n  k: v\n  "k": w\n'),
            (err(6, dup, kind="duplicate-key"),)),
        Doc("y-and-true", cm("data:\n  k: v\nlabels:\n  y: a\n  true: b\n"),
            (err(8, dup, "'true'", kind="duplicate-key"),),
            note="`y` is the boolean true to go-yaml v2: both keys are \"true\" in JSON"),
        Doc("int-and-string", cm('data:\n  1: a\n  "1": b\n'),
            (err(6, dup, "'1'", kind="duplicate-key"),)),
        Doc("octal-and-decimal", cm("data:\n  010: a\n  8: b\n"),
            (err(6, dup, "'8'", kind="duplicate-key"),), note="010 is octal 8 in YAML 1.1"),
        Doc("apiVersion", "apiVersion: v1\napiVersion: v2\nkind: ConfigMap\n"
                          "metadata: {name: d, namespace: erp}\n",
            (err(2, dup, "'apiVersion'", kind="duplicate-key"),)),
        Doc("metadata-name", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"
                             "  name: b\n  namespace: erp\n",
            (err(5, dup, "'name'", kind="duplicate-key"),)),
        Doc("merge-override", cm("data:\n  k: '1'\nbase: &b {k: v}\nover:\n  <<: *b\n  k: w\n"),
            note="an explicit key over a merged one is no duplicate (YAML merge rules)",
            findings=((6, "SCH002"), (7, "SCH002"))),
    ]
    yield from doc_cases("duplicate-key", docs)
    for name, text, line in (
        ("json-top", '{"apiVersion": "v1", "kind": "ConfigMap",\n "kind": "Secret"}', 2),
        ("json-nested", ('{"apiVersion": "v1", "kind": "ConfigMap", "metadata":\n'
                         ' {"name": "a",\n  "name": "b"}}'), 3),
        ("json-in-list", ('{"apiVersion": "v1", "kind": "List", "items": [\n'
                          ' {"a": 1,\n  "a": 2}]}'), 3),
    ):
        yield case(name, "duplicate-key", {f"{name}.json": text.encode()},
                   errors=(Err(f"{name}.json", line, ("duplicate key",), "duplicate-key"),),
                   note="strict decoding (kubectl --validate=strict, the API server) refuses "
                        "duplicate fields")


# ------------------------------------------------------------------------------ 7. tabs


def tabs() -> Iterator[Case]:
    docs = [
        Doc("indentation", cm("data:\n\tk: v\n"),
            (err(5, "cannot start any token", kind="syntax"),)),
        Doc("before-top-key", "\tapiVersion: v1\nkind: ConfigMap\n",
            (err(1, "cannot start any token", kind="syntax"),)),
        Doc("block-scalar-indent", cm("data:\n  k: |\n    x\n\ty\n"),
            (err(7, "tab character", kind="syntax"),)),
        Doc("tab-only-line", cm("data:\n  k: v\n\t\n  j: w\n"),
            (err(6, "tab character", kind="syntax"),)),
        Doc("after-colon", cm("data:\n  k:\t1\n"), findings=((5, "SCH001"),),
            note="a tab separates a value from its key: valid"),
        Doc("inside-quotes", cm('data:\n  k: "a\tb"\n  j: 1\n'), findings=((6, "SCH001"),)),
        Doc("inside-plain", cm("data:\n  k: a\tb\n  j: 1\n"), findings=((6, "SCH001"),)),
        Doc("in-flow", cm("data: {k: '1',\tj: 1}\n"), findings=((4, "SCH001"),)),
        Doc("trailing", cm("data:\t\n  k: 1\t\n"), findings=((5, "SCH001"),)),
    ]
    yield from doc_cases("tab", docs)
    yield case("json-indentation", "tab", {"t.json": (
        b'{\n\t"apiVersion": "v1",\n\t"kind": "ConfigMap",\n\t"metadata": {"name": "t", '
        b'"namespace": "erp"},\n\t"data": {\n\t\t"k": 1\n\t}\n}')},
        findings=(Seen("SCH001", "t.json", 6),), note="JSON allows tabs anywhere between tokens")


# ------------------------------------------------------------------------ 8. merge keys


def merge_keys() -> Iterator[Case]:
    base = "metadata:\n  name: m\n  namespace: erp\n  labels: &l {app: ledger, tier: '1'}\n"
    head = "apiVersion: v1\nkind: ConfigMap\n"

    def obj(rest: str) -> str:
        return head + base + rest

    docs = [
        Doc("merged", obj("data:\n  <<: *l\n  k: 1\n"), findings=((9, "SCH001"),),
            note="go-yaml v2 applies merge keys; the merged data is checked"),
        Doc("merged-value-checked", obj("other: &o {k: 1}\ndata:\n  <<: *o\n"),
            findings=((7, "SCH002"),)),
        Doc("list-of-merges", obj("data:\n  <<: [*l, {k: '2'}]\n  j: 1\n"),
            findings=((9, "SCH001"),)),
        Doc("two-merge-keys", obj("extra: &e {x: '1'}\ndata:\n  <<: *l\n  <<: *e\n  k: 1\n"),
            findings=((7, "SCH002"), (11, "SCH001")),
            note="go-yaml v2 merges every `<<` key of a mapping"),
        Doc("quoted-merge-key", obj('data:\n  "<<": x\n  k: 1\n'), findings=((9, "SCH001"),),
            note="a quoted `<<` is an ordinary key"),
        Doc("merge-scalar", obj("data:\n  <<: 1\n"),
            (err(8, "merge key needs a mapping", kind="yaml"),)),
        Doc("merge-list-with-scalar", obj("data:\n  <<: [*l, 2]\n"),
            (err(8, "merge key needs a mapping", kind="yaml"),)),
        Doc("merge-self", obj("data: &d\n  <<: *d\n"),
            (err(7, "recursive alias", kind="alias-bomb"),)),
        Doc("merge-undefined", obj("data:\n  <<: *nope\n"),
            (err(8, "found undefined alias", kind="syntax"),)),
    ]
    yield from doc_cases("merge-key", docs)


# ----------------------------------------------------------------- 9. anchors and aliases


def anchors() -> Iterator[Case]:
    anchor_doc = cm("data:\n  k: &shared '1'\n  j: 1\n", "anchored")
    alias_doc = cm("data:\n  k: *shared\n", "aliased")
    text = anchor_doc + "---\n" + alias_doc + "---\n" + SIBLING.format(name="after")
    yield case("across-documents", "anchor", {"x.yaml": text.encode()},
               errors=(Err("x.yaml", 12, ("found undefined alias",), "syntax"),),
               findings=(Seen("SCH001", "x.yaml", 6), Seen("SCH001", "x.yaml", 18)),
               note="anchors do not cross documents (YAML spec, go-yaml): the alias is an "
                    "error, both documents around it are checked")
    text = alias_doc + "---\n" + anchor_doc
    yield case("to-a-later-document", "anchor", {"x.yaml": text.encode()},
               errors=(Err("x.yaml", 5, ("found undefined alias",), "syntax"),),
               findings=(Seen("SCH001", "x.yaml", 12),))
    docs = [
        Doc("undefined", cm("data:\n  k: *nope\n"), (err(5, "found undefined alias",
                                                         kind="syntax"),)),
        Doc("alias-before-anchor", cm("data:\n  k: *a\n  j: &a v\n"),
            (err(5, "found undefined alias", kind="syntax"),)),
        Doc("redefined", cm("data:\n  k: &a '1'\n  j: &a '2'\n  i: *a\n"),
            (err(6, "found duplicate anchor", kind="syntax"),),
            note="the YAML spec and go-yaml allow a redefined anchor (the alias takes the "
                 "latest); libyaml's composer refuses it: a fail-closed divergence"),
        Doc("alias-of-mapping", cm("base: &b {k: 1}\ndata: *b\n"),
            findings=((4, "SCH002"), (4, "SCH001")),
            note="the field is reported where the anchored value is written"),
        Doc("anchor-on-document", "--- &doc\n" + cm("data:\n  k: 1\n"),
            findings=((6, "SCH001"),)),
    ]
    yield from doc_cases("anchor", docs, ("first", "middle", "last"))


# ------------------------------------------------------------------- 10. document shapes


def document_shapes() -> Iterator[Case]:
    scalar = (err(1, "is a scalar", kind="not-an-object"),)
    a_list = (err(1, "is a list", kind="not-an-object"),)
    docs = [
        Doc("scalar", "hello\n", scalar, alone=()),
        Doc("number", "42\n", scalar, alone=()),
        Doc("block-scalar", "|\n  text\n  more\n", scalar, alone=()),
        Doc("quoted-scalar", '"apiVersion: v1"\n', scalar, alone=()),
        Doc("list-of-objects", "- " + SIBLING.format(name="in-list").replace("\n", "\n  ")
            .rstrip() + "\n", a_list,
            note="a bare list of objects is no Kubernetes object (kubectl wants kind: List)"),
        Doc("list-of-scalars", "- a\n- b\n", a_list, alone=()),
        Doc("empty-mapping", "{}\n", NOT_OBJECT_MAPPING, alone=()),
        Doc("plain-mapping", "name: x\nreplicas: 2\n", NOT_OBJECT_MAPPING, alone=()),
        Doc("misspelled-keys", "apiversion: v1\nKind: ConfigMap\nmetadata: {name: x}\n",
            (err(1, "keys are case-sensitive", kind="not-an-object"),)),
        Doc("apiVersion-number", "apiVersion: 1\nkind: ConfigMap\n",
            (err(1, "no string apiVersion", kind="not-an-object"),)),
        Doc("kind-list-value", "apiVersion: v1\nkind: [ConfigMap]\n",
            (err(1, "no string kind", kind="not-an-object"),)),
        Doc("list-item-scalar", "apiVersion: v1\nkind: List\nitems:\n  - hello\n  - " +
            SIBLING.format(name="item").replace("\n", "\n    ").rstrip() + "\n",
            (err(1, "item 1 has no apiVersion or kind", kind="not-an-object"),),
            findings=((9, "SCH001"),)),
        Doc("null-document", "~\n", note="an empty document is nothing to check"),
        Doc("comments-only", "# nothing here\n", note="an empty document"),
    ]
    yield from doc_cases("document-shape", docs)


# ---------------------------------------------------------------- 11. non-string keys


def keys() -> Iterator[Case]:
    docs = [Doc(name, cm(f"data:\n  k: 1\n  {key}: v\n"), findings=((5, "SCH001"),), note=note)
            for name, key, note in (
                ("int", "1", "a JSON key \"1\""), ("octal", "010", "key \"8\""),
                ("hex", "0x1F", "key \"31\""), ("float", "1.5", "key \"1.5\""),
                ("bool-y", "y", "key \"true\" (YAML 1.1)"), ("bool-on", "on", "key \"true\""),
                ("timestamp", "2001-12-14", "a string: no timestamps"),
                ("past-uint64", "18446744073709551616", "a float key, as go-yaml reads it"),
                ("empty-string", '""', "the empty string is a key"),
                ("explicit-long", "? " + "k" * 2000 + "\n  ", "an explicit key may be long"))]
    docs += [Doc(name, cm(f"data:\n  k: v\n  {key}: v\n"), (err(6, says, kind="yaml"),),
                 note="sigs.k8s.io/yaml cannot turn the key into JSON")
             for name, key, says in (
                 ("null", "~", "mapping key must be a string"),
                 ("sequence", "? [a, b]\n  ", "mapping key must be a string"),
                 ("mapping", "? {a: 1}\n  ", "mapping key must be a string"),
                 ("infinity", ".inf", "infinite or NaN"), ("nan", ".nan", "infinite or NaN"))]
    docs.append(Doc("implicit-past-1024", cm("data:\n  k: v\n  " + "k" * 1025 + ": v\n"),
                    (err(6, kind="syntax"),),
                    note="a simple key is at most 1,024 characters (libyaml and go-yaml)"))
    yield from doc_cases("non-string-key", docs, ("alone", "middle", "last"))


# ------------------------------------------------------------------------- 12. YAML tags

DANGEROUS = [
    ("apply-system", "!!python/object/apply:os.system", f'["touch {MARKER}"]'),
    ("apply-check-call", "!!python/object/apply:subprocess.check_call", f"[[touch, {MARKER}]]"),
    ("new-system", "!!python/object/new:os.system", f'["touch {MARKER}"]'),
    ("apply-exec", "!!python/object/apply:builtins.exec", f"[\"open('{MARKER}', 'w')\"]"),
    ("object", "!!python/object:pathlib.Path", "{}"),
    ("name", "!!python/name:os.system", "''"),
    ("module", "!!python/module:os", "''"),
    ("tuple", "!!python/tuple", "[a, b]"),
    ("bytes", "!!python/bytes", "eA=="),
    ("verbatim-apply", "!<tag:yaml.org,2002:python/object/apply:os.system>",
     f'["touch {MARKER}"]'),
    ("set", "!!set", "{a, b}"),
    ("omap", "!!omap", "[{a: 1}]"),
    ("pairs", "!!pairs", "[{a: 1}]"),
    ("value", "!!value", "x"),
]


def tags() -> Iterator[Case]:
    placements = {
        "value": (lambda tag, node: cm(f"data:\n  k: {tag} {node}\n"), 5),
        "sequence-item": (lambda tag, node: cm(f"data:\n  k: v\nlist:\n  - {tag} {node}\n"), 7),
        "key": (lambda tag, node: cm(f"data:\n  ? {tag} {node}\n  : v\n"), 5),
        "document": (lambda tag, node: f"{tag} {node}\n", 1),
    }
    docs = [Doc(f"{name}-{where}", build(tag, node),
                (err(line, "unsupported yaml tag", kind="yaml-tag"),),
                note="never constructed: only plain YAML is read (go-yaml refuses these too)")
            for name, tag, node in DANGEROUS for where, (build, line) in placements.items()]
    yield from doc_cases("yaml-tag", docs, ("middle",), marker=True)
    for name, tag, node in DANGEROUS[:4]:
        short = tag.replace("!!python/", "!py!")
        text = "%TAG !py! tag:yaml.org,2002:python/\n---\n" + cm(f"data:\n  k: {short} {node}\n")
        yield case(f"tag-directive-{name}", "yaml-tag", {f"d-{name}.yaml": text.encode()},
                   errors=(Err(f"d-{name}.yaml", 7, ("unsupported yaml tag",), "yaml-tag"),),
                   marker=True)
    benign = [
        ("str-int", "!!str 123", None), ("binary", "!!binary aGVsbG8=", None),
        ("ref", "!Ref Something", None), ("sub", '!Sub "${Env}-x"', None),
        ("getatt", "!GetAtt A.Arn", None), ("custom-map", "!custom {a: b}", "SCH001"),
        ("timestamp", "!!timestamp 2001-12-14", None), ("int-quoted", '!!int "12"', "SCH001"),
        ("float-quoted", '!!float "1.5"', "SCH001"), ("map", "!!map {a: b}", "SCH001"),
        ("seq", "!!seq [a]", "SCH001"), ("null-tilde", "!!null ~", None),
    ]
    docs = [Doc(f"benign-{name}", cm(f"data:\n  k: {tagged}\n  j: 1\n"),
                findings=(((5, finding),) if finding else ()) + ((6, "SCH001"),),
                note="local tags are ignored and standard tags typed, as go-yaml does")
            for name, tagged, finding in benign]
    docs += [Doc(f"mistyped-{name}", cm(f"data:\n  k: {tagged}\n"), (err(5, says, kind="yaml"),),
                 note="go-yaml refuses a value that is not of its tag's type")
             for name, tagged, says in (
                 ("int", "!!int abc", "not a number"), ("float", "!!float x", "not a number"),
                 ("bool", "!!bool maybe", "not a boolean"), ("null", "!!null x", "not null"))]
    yield from doc_cases("yaml-tag", docs, ("alone", "middle"))


# ---------------------------------------------------------------------- 13. numbers


def numbers() -> Iterator[Case]:
    inf = "infinite or NaN"
    docs = [
        Doc("decimal-5000-digits", cm("data:\n  k: " + "9" * 5000 + "\n"),
            (err(5, inf, kind="yaml"),),
            note="past a 64-bit float: refused like 1e999 (was an unlocated error)"),
        Doc("decimal-400-digits", cm("data:\n  k: " + "1" * 400 + "\n"),
            (err(5, inf, kind="yaml"),)),
        Doc("hex-5000-digits", cm("data:\n  k: 0x" + "f" * 5000 + "\n  j: 1\n"),
            findings=((6, "SCH001"),),
            note="past uint64: go-yaml keeps the string (was a number that crashed OPA)"),
        Doc("binary-100-digits", cm("data:\n  k: 0b" + "1" * 100 + "\n  j: 1\n"),
            findings=((6, "SCH001"),)),
        Doc("past-uint64", cm("data:\n  k: 18446744073709551616\n"), findings=((5, "SCH001"),),
            note="a float to go-yaml"),
        Doc("infinity", cm("data:\n  k: .inf\n"), (err(5, inf, kind="yaml"),)),
        Doc("nan", cm("data:\n  k: .NaN\n"), (err(5, inf, kind="yaml"),)),
        Doc("exponent-overflow", cm("data:\n  k: 1e999\n"), (err(5, inf, kind="yaml"),)),
        Doc("octal", cm("data:\n  k: 0644\n"), findings=((5, "SCH003"),)),
    ]
    yield from doc_cases("number", docs, ("alone", "middle"))
    for name, text, says in (
        ("json-5000-digits", '{"apiVersion": "v1",\n "k": ' + "9" * 5000 + "}", "64-bit float"),
        ("json-exponent", '{"apiVersion": "v1",\n "k": 1e999}', "64-bit float"),
        ("json-nan", '{"apiVersion": "v1",\n "k": NaN}', "not json"),
        ("json-infinity", '{"apiVersion": "v1",\n "k": -Infinity}', "not json"),
    ):
        yield case(name, "number", {f"{name}.json": text.encode()},
                   errors=(Err(f"{name}.json", 2, (says,), "syntax"),))
    text = ('{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big", '
            '"namespace": "erp"},\n "data": {"k": 18446744073709551616}}')
    yield case("json-past-uint64", "number", {"big.json": text.encode()},
               findings=(Seen("SCH001", "big.json", 2),))
    text = ('{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s\\ud800", '
            '"namespace": "erp"},\n "data": {"k": "\\udfff", "j": 1}}')
    yield case("json-lone-surrogates", "number", {"surrogate.json": text.encode()},
               findings=(Seen("SCH001", "surrogate.json", 2),), rules=True, seconds=30,
               note="Go reads a lone surrogate escape as U+FFFD (was: no report at all)")


# ---------------------------------------------------------------------- 14. line breaks


def line_breaks() -> Iterator[Case]:
    for name, brk in (("nel", "\x85"), ("ls", "\u2028"), ("ps", "\u2029")):
        first = cm(f'data:\n  k: "a{brk}b"\n', "a")
        text = first + "---\nbroken: [\n---\n" + SIBLING.format(name="b")
        after = yaml_lines(first) + 3
        yield case(f"{name}-then-error", "line-break", {f"{name}.yaml": text.encode()},
                   errors=(Err(f"{name}.yaml", after, ("did not find expected node",),
                               "syntax"),),
                   findings=(Seen("SCH001", f"{name}.yaml", after + SIBLING_LINE),),
                   note="YAML counts it as a line break: lines agree with go-yaml's (the "
                        "document after the error was lost before)")
    for name, newline in (("cr", "\r"), ("crlf", "\r\n"), ("mixed", "\n\r")):
        text = (SIBLING.format(name="a") + "---\nbroken: [\n---\n" +
                SIBLING.format(name="b")).replace("\n", newline)
        lines = 5 + 3 if name != "mixed" else 2 * 5 + 3 * 2
        at = SIBLING_LINE if name != "mixed" else 2 * SIBLING_LINE - 1  # "\n\r": two breaks
        yield case(f"{name}-then-error", "line-break", {f"{name}.yaml": text.encode()},
                   errors=(Err(f"{name}.yaml", 8 if name != "mixed" else 15,
                               ("did not find expected node",), "syntax"),),
                   findings=(Seen("SCH001", f"{name}.yaml", at),
                             Seen("SCH001", f"{name}.yaml", lines + at)))
    pad = "# " + "p" * 9000 + "\n"
    text = pad + cm('data:\n  k: "x\x00y"\n', "a") + "---\nbroken: [\n---\n" + \
        SIBLING.format(name="b")
    yield case("nul-then-error", "line-break", {"n.yaml": text.encode()},
               errors=(Err("n.yaml", 6, ("character #x0000",), "syntax"),
                       Err("n.yaml", 9, ("did not find expected node",), "syntax")),
               findings=(Seen("SCH001", "n.yaml", 14),),
               note="a document emptied for a NUL keeps its length: later lines stay right")
    text = pad + cm('data:\n  k: "x\x00y"\n', "a") + "---\n" + GOOD.replace("ledger-api",
                                                                         "ledger-copy")
    yield case("nul-then-field", "line-break", {"n.yaml": text.encode()},
               errors=(Err("n.yaml", 6, ("character #x0000",), "syntax"),),
               findings=(Seen("SCH002", "n.yaml", 7 + GOOD_LINE),),
               note="the field's own line, not its document's (was: the document's line)")


# ------------------------------------------------------------------ 15. huge strings, files


def huge() -> Iterator[Case]:
    big = 10 * MIB
    bounds: dict[str, Any] = {"isolate": True, "seconds": 30, "mib": 900}
    strings: dict[str, Callable[[], bytes]] = {
        "plain-value": lambda: cm("data:\n  k: 1\n  big: " + "a" * big + "\n").encode(),
        "double-quoted": lambda: cm('data:\n  k: 1\n  big: "' + "\\x41" * (big // 4) +
                                    '"\n').encode(),
        "single-quoted": lambda: cm("data:\n  k: 1\n  big: '" + "it''s " * (big // 6) +
                                    "'\n").encode(),
        "literal-block": lambda: cm("data:\n  k: 1\n  big: |\n" +
                                    ("    " + "b" * 76 + "\n") * (big // 80)).encode(),
        "folded-block": lambda: cm("data:\n  k: 1\n  big: >\n" +
                                   ("    " + "c" * 76 + "\n") * (big // 80)).encode(),
        "explicit-key": lambda: cm("data:\n  k: 1\n  ? " + "d" * big + "\n  : v\n").encode(),
        "comment": lambda: cm("data:\n  k: 1\n# " + "e" * big + "\n").encode(),
        "annotation": lambda: ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ann\n"
                               "  namespace: erp\n  annotations:\n    big: " + "f" * big +
                               "\ndata:\n  k: 1\n").encode(),
    }
    for name, make in strings.items():
        line = 9 if name == "annotation" else 5
        yield case(name, "huge-string", {f"{name}.yaml": Lazy(make)},
                   findings=(Seen("SCH001", f"{name}.yaml", line),),
                   note="valid YAML (the API server would refuse a ConfigMap over 1 MiB)",
                   **bounds)
    yield case("implicit-key", "huge-string",
               {"key.yaml": Lazy(lambda: cm("data:\n  " + "g" * big + ": v\n").encode())},
               errors=(Err("key.yaml", 5, ("mapping values are not allowed",), "syntax"),),
               **bounds)
    yield case("one-line-no-newline", "huge-string", {"line.yaml": Lazy(lambda: b"h" * big)},
               note="a plain scalar: no Kubernetes object, skipped", **bounds)
    yield case("many-documents", "huge-string",
               {"docs.yaml": Lazy(lambda: ("---\n" + cm("data:\n  k: '1'\n", "d")).encode() *
                                  5000 + b"---\n" + SIBLING.format(name="last").encode())},
               findings=(Seen("SCH001", "docs.yaml", 5000 * 6 + 1 + SIBLING_LINE),),
               isolate=True, seconds=60, mib=900)


def huge_files() -> Iterator[Case]:
    bounds: dict[str, Any] = {"isolate": True, "slow": True, "seconds": 60, "mib": 1500,
                                 "groupable": False}
    big = 50 * MIB

    def value() -> bytes:
        return (cm("data:\n  k: 1\n  big: ") + "v" * big + "\n").encode()

    def random_bytes() -> bytes:
        rng = random.Random(50)
        return rng.randbytes(8192) + rng.randbytes(big - 8192)  # the first 8 KiB as below

    yield case("50mib-value", "huge-file", {"big.yaml": Lazy(value)},
               findings=(Seen("SCH001", "big.yaml", 5),), **bounds)
    yield case("50mib-value-all-rules", "huge-file", {"big.yaml": Lazy(value)},
               findings=(Seen("SCH001", "big.yaml", 5),), rules=True,
               **{**bounds, "seconds": 120, "mib": 2500, "address_space_gib": 16},
               note="every rule and the OPA engine see the 50 MiB object (the OPA worker is "
                    "a Go process: its address space is larger than what it uses)")
    yield case("50mib-comment", "huge-file", {"c.yaml": Lazy(lambda: (
        "# " + "c" * big + "\n" + SIBLING.format(name="c")).encode())},
        findings=(Seen("SCH001", "c.yaml", 1 + SIBLING_LINE),), **bounds)
    yield case("50mib-list", "huge-file", {"l.yaml": Lazy(lambda: b"- " + b"\n- ".join(
        b"item-%07d-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" % i for i in range(1_000_000)) +
        b"\n")}, note="a data file (skipped) of a million items",
        **{**bounds, "seconds": 90})
    yield case("50mib-random", "huge-file", {"r.yaml": Lazy(random_bytes)},
               errors=_binary_expectation("r.yaml", random.Random(50).randbytes(8192)),
               **bounds)
    yield case("65mib", "huge-file", {"over.yaml": Lazy(lambda: b"# " + b"o" * (65 * MIB) +
                                                        b"\n")},
               errors=(Err("over.yaml", None, ("exceeds 67,108,864 bytes",), "too-large"),),
               **bounds)


# ------------------------------------------------------------- 16. links, special files


def links() -> Iterator[Case]:
    good_cm = SIBLING.format(name="real").encode()
    outside_msg = ("outside the repository", "not read")
    yield case("to-etc-passwd", "symlink", {"passwd.yaml": Link("/etc/passwd")},
               errors=(Err("passwd.yaml", None, outside_msg, "unreadable"),),
               note="Argo CD refuses out-of-bounds links; the checker never reads them")
    yield case("to-file-outside", "symlink", {"cm.yaml": Link(f"{OUTSIDE}/cm.yaml")},
               errors=(Err("cm.yaml", None, outside_msg, "unreadable"),))
    yield case("named-on-command-line", "symlink", {"passwd.yaml": Link("/etc/passwd")},
               errors=(Err("passwd.yaml", None, outside_msg, "unreadable"),),
               paths=("passwd.yaml", GOOD_PATH), args=("--root", ROOT))
    yield case("through-linked-directory", "symlink", {"etc": Link("/etc")},
               paths=("etc/passwd", GOOD_PATH), args=("--root", ROOT),
               errors=(Err("etc/passwd", None, outside_msg, "unreadable"),),
               note="named inside the repository, it leads outside through a linked directory")
    yield case("loop", "symlink", {"a.yaml": Link("b.yaml"), "b.yaml": Link("a.yaml")},
               errors=(Err("a.yaml", None, ("symbolic link loop",), "unreadable"),
                       Err("b.yaml", None, ("symbolic link loop",), "unreadable")))
    yield case("self-loop", "symlink", {"self.yaml": Link("self.yaml")},
               errors=(Err("self.yaml", None, ("symbolic link loop",), "unreadable"),))
    yield case("directory-loop", "symlink", {"sub/up": Link(".."), "sub/cm.yaml": good_cm},
               findings=(Seen("SCH001", "sub/cm.yaml", SIBLING_LINE),),
               note="links to directories are not followed (no loop, no escape)")
    yield case("directory-outside", "symlink", {"etc": Link("/etc")},
               note="not followed: nothing outside is read")
    yield case("dangling", "symlink", {"gone.yaml": Link("missing.yaml")},
               errors=(Err("gone.yaml", None, ("broken symbolic link",), "unreadable"),))
    yield case("inside", "symlink", {"real/cm.yaml": good_cm, "alias.yaml": Link("real/cm.yaml")},
               findings=(Seen("SCH001", "real/cm.yaml", SIBLING_LINE),
                         Seen("SCH001", "alias.yaml", SIBLING_LINE)),
               note="a link inside the repository is read like the file it names")
    yield case("dev-zero", "symlink", {"zero.yaml": Link("/dev/zero")},
               errors=(Err("zero.yaml", None, ("not a regular file",), "unreadable"),))
    yield case("dev-urandom", "symlink", {"random.yaml": Link("/dev/urandom")},
               errors=(Err("random.yaml", None, ("not a regular file",), "unreadable"),))
    yield case("fifo", "symlink", {"pipe.yaml": Fifo()},
               errors=(Err("pipe.yaml", None, ("not a regular file",), "unreadable"),),
               seconds=5, note="a FIFO would block forever")
    yield case("directory-named-yaml", "symlink", {"dir.yaml/cm.yaml": good_cm},
               findings=(Seen("SCH001", "dir.yaml/cm.yaml", SIBLING_LINE),))


def unreadable() -> Iterator[Case]:
    common: dict[str, Any] = {"as_nobody": True, "isolate": True, "groupable": False,
                                 "seconds": 20}
    yield case("file", "unreadable", {"secret.yaml": Locked(SIBLING.format(name="s").encode())},
               errors=(Err("secret.yaml", None, ("permission denied",), "unreadable"),),
               **common)
    yield case("directory", "unreadable",
               {"locked": Locked(SIBLING.format(name="s").encode(), directory=True)},
               errors=(Err("locked", None, ("cannot list directory", "permission denied"),
                           "unreadable"),),
               note="os.walk skipped it silently before: its files went unchecked unseen",
               **common)
    yield case("kustomization", "unreadable", {
        "app/kustomization.yaml": Locked(b"resources: [cm.yaml]\n"),
        "app/cm.yaml": SIBLING.format(name="k").encode()},
        errors=(Err("app/kustomization.yaml", None, ("permission denied",), "unreadable"),
                Err("app/kustomization.yaml", None, ("cannot read the kustomization",),
                    "render")),
        findings=(Seen("SCH001", "app/cm.yaml", SIBLING_LINE),),
        **common)
    yield case("policy", "unreadable", {
        "policy/deny.rego": Locked(b"package main\n")},
        errors=(Err("policy/deny.rego", None, ("permission denied",), "policy"),),
        args=("--policy", f"{ROOT}/policy"), **common)


# ------------------------------------------------------------------------ 17. Kustomize

KUSTOMIZATION = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"


def kustomize() -> Iterator[Case]:
    cm_file = SIBLING.format(name="ov").encode()
    common: dict[str, Any] = {"seconds": 60, "groupable": False}
    remote = [
        ("https", f"http://127.0.0.1:{PORT}/base.yaml"),
        ("https-github", "https://github.com/example/platform//deploy/redis?ref=v1.2.0"),
        ("github-shorthand", "github.com/example/platform/deploy"),
        ("git-ssh", "git@github.com:example/platform.git//deploy"),
        ("ssh-url", "ssh://git@git.example.invalid/org/repo//x"),
        ("git-scheme", "git::https://git.example.invalid/org/repo//deploy?ref=main"),
    ]
    for name, url in remote:
        files = {"ov/kustomization.yaml": f"{KUSTOMIZATION}resources:\n  - {url}\n"
                 "  - cm.yaml\n".encode(), "ov/cm.yaml": cm_file}
        yield case(f"remote-{name}", "kustomize", files,
                   findings=(Seen("RND001", "ov", None, ("never fetched",)),),
                   listener=True, note="RND001 (info) by default: the overlay is not "
                   "rendered, and the report says so", **common)
        yield case(f"remote-{name}-strict", "kustomize",
                   {**files, ".gitops-checker.yaml": b"render:\n  strict: true\n"},
                   errors=(Err("ov", None, ("never fetched",), "not-rendered"),),
                   listener=True, **common)
    for name, section in (
        ("helm-chart", "helmCharts:\n  - name: redis\n    repo: http://127.0.0.1:" + PORT + "\n"),
        ("component", f"components:\n  - http://127.0.0.1:{PORT}/component\n"),
        ("patch", f"patches:\n  - path: http://127.0.0.1:{PORT}/patch.yaml\n"),
        ("openapi", f"openapi:\n  path: http://127.0.0.1:{PORT}/openapi.json\n"),
    ):
        files = {"ov/kustomization.yaml": f"{KUSTOMIZATION}resources: [cm.yaml]\n{section}"
                 .encode(), "ov/cm.yaml": cm_file}
        yield case(f"remote-{name}", "kustomize", files,
                   findings=(Seen("RND001", "ov", None, ("not rendered",)),),
                   listener=True, **common)
    outside = ("outside the repository", "not read")
    for name, section, line in (
        ("resource-dir", "resources:\n  - ../../outside\n  - cm.yaml\n", 4),
        ("resource-absolute-dir", f"resources:\n  - {OUTSIDE}\n  - cm.yaml\n", 4),
        ("resource-absolute-file", "resources:\n  - cm.yaml\n  - /etc/passwd\n", 5),
        ("resource-missing-outside", "resources:\n  - ../../nowhere\n  - cm.yaml\n", 4),
        ("generator-file", ("resources: [cm.yaml]\nconfigMapGenerator:\n  - name: leak\n"
                           "    files: [/etc/hostname]\n"), 6),
        ("generator-env", ("resources: [cm.yaml]\nsecretGenerator:\n  - name: leak\n"
                          f"    envs: [{OUTSIDE}/secret.env]\n"), 6),
        ("patch-file", f"resources: [cm.yaml]\npatches:\n  - path: {OUTSIDE}/cm.yaml\n", 5),
        ("component", "resources: [cm.yaml]\ncomponents:\n  - ../../outside\n", 5),
    ):
        files = {"ov/kustomization.yaml": (KUSTOMIZATION + section).encode(), "ov/cm.yaml": cm_file}
        yield case(f"outside-{name}", "kustomize", files,
                   errors=(Err("ov/kustomization.yaml", line, outside, "render"),),
                   note="never read, the overlay not built (was: read and checked, or a "
                        "Kustomize message naming no line)", **common)
    yield case("outside-linked-resource", "kustomize", {
        "ov/kustomization.yaml": f"{KUSTOMIZATION}resources:\n  - cm.yaml\n  - leak.yaml\n"
        .encode(), "ov/cm.yaml": cm_file, "ov/leak.yaml": Link(f"{OUTSIDE}/cm.yaml")},
        errors=(Err("ov/kustomization.yaml", 5, outside, "render"),
                Err("ov/leak.yaml", None, outside, "unreadable")), **common)
    yield case("outside-through-base", "kustomize", {
        "base/kustomization.yaml": f"{KUSTOMIZATION}resources:\n  - ../../outside\n".encode(),
        "ov/kustomization.yaml": f"{KUSTOMIZATION}resources:\n  - ../base\n  - cm.yaml\n"
        .encode(), "ov/cm.yaml": cm_file},
        errors=(Err("base/kustomization.yaml", 4, outside, "render"),
                Err("ov", None, ("not built", "base/kustomization.yaml"), "render")),
        **common)
    yield case("kustomization-is-outside-link", "kustomize", {
        "ov/kustomization.yaml": Link(f"{OUTSIDE}/kustomization.yaml"), "ov/cm.yaml": cm_file},
        errors=(Err("ov/kustomization.yaml", None, outside, "unreadable"),
                Err("ov/kustomization.yaml", None, ("outside the repository",), "render")),
        findings=(Seen("SCH001", "ov/cm.yaml", SIBLING_LINE),), **common)
    yield case("does-not-build", "kustomize", {
        "ov/kustomization.yaml": f"{KUSTOMIZATION}resources: [cm.yaml, missing.yaml]\n"
        .encode(), "ov/cm.yaml": cm_file},
        errors=(Err("ov", None, ("kustomize failed", "missing.yaml"), "render"),),
        **common)
    yield case("python-tag-in-kustomization", "kustomize", {
        "ov/kustomization.yaml": f"{KUSTOMIZATION}resources: [cm.yaml]\nnamePrefix: "
        f'!!python/object/apply:os.system ["touch {MARKER}"]\n'.encode(),
        "ov/cm.yaml": cm_file},
        errors=(Err("ov/kustomization.yaml", 4, ("unsupported yaml tag",), "yaml-tag"),
                Err("ov/kustomization.yaml", 4, ("not a YAML mapping",), "render")),
        findings=(Seen("SCH001", "ov/cm.yaml", SIBLING_LINE),), marker=True,
        **common)


# ----------------------------------------------------------------------------- 18. Helm

CHART = b"apiVersion: v2\nname: demo\nversion: 0.1.0\n"
TEMPLATE = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n" \
           "  namespace: erp\ndata:\n  k: v\n"


def helm() -> Iterator[Case]:
    common: dict[str, Any] = {"seconds": 60, "groupable": False}
    tpl = "charts/demo/templates/cm.yaml"

    def chart(template: str, **extra: bytes) -> dict[str, FileSpec]:
        files: dict[str, FileSpec] = {"charts/demo/Chart.yaml": CHART,
                                      tpl: template.encode()}
        files.update({f"charts/demo/{k.replace('_', '.')}": v for k, v in extra.items()})
        return files

    for name, template, line, says in (
        ("syntax", TEMPLATE + "  x: {{ .Values.x \n", 9, "unclosed action"),
        ("fail", TEMPLATE + '{{ fail "the ledger chart needs a database" }}\n', 8,
         "execution error"),
        ("required", TEMPLATE + '  x: {{ required "x is required" .Values.x }}\n', 8,
         "x is required"),
        ("include-loop", '{{- define "loop" -}}{{ include "loop" . }}{{- end -}}\n' + TEMPLATE +
         '  x: {{ include "loop" . }}\n', 9, "include"),
        ("missing-function", TEMPLATE + "  x: {{ nosuchfunction 1 }}\n", 8, "function"),
        ("invalid-yaml-output", TEMPLATE + "  x: [\n", 9, "not valid YAML"),
        ("python-tag-output",
         TEMPLATE + f'  x: !!python/object/apply:os.system ["touch {MARKER}"]\n',
         8, "unsupported YAML tag"),
        ("scalar-output", "just text\n", 1, "not a Kubernetes object"),
    ):
        yield case(name, "helm", chart(template), errors=(Err(tpl, line, (says,), "render"),),
                   marker=MARKER in template,
                   **common)
    yield case("bad-chart-yaml", "helm", {**chart(TEMPLATE),
                                         "charts/demo/Chart.yaml": b"name: demo\nversion: [\n"},
               errors=(Err("charts/demo/Chart.yaml", 2, ("could not be loaded",), "render"),),
               **common)
    yield case("bad-values-yaml", "helm", chart(TEMPLATE, values_yaml=b"a: 1\nb: [\n"),
               errors=(Err("charts/demo/values.yaml", 2, ("could not be loaded",), "render"),),
               **common)
    yield case("no-version", "helm", {**chart(TEMPLATE),
                                     "charts/demo/Chart.yaml": b"apiVersion: v2\nname: demo\n"},
               errors=(Err("charts/demo", None, ("version is required",), "render"),),
               **common)
    yield case("remote-dependency", "helm", {**chart(TEMPLATE), "charts/demo/Chart.yaml":
               CHART + b"dependencies:\n  - name: redis\n    version: 1.0.0\n"
               b"    repository: http://127.0.0.1:" + PORT.encode() + b"\n"},
               findings=(Seen("RND001", "charts/demo/Chart.yaml", 5, ("not fetched",)),),
               listener=True, **common)


# ----------------------------------------------------------------------------- 19. Rego

IN_ESTATE = ("the policy directory is inside the estate: its YAML is read both as policy data "
             "and as an estate file, and each reader reports it")

GOOD_REGO = """package main

import rego.v1

# METADATA
# custom:
#   id: HOS001
#   severity: high
deny_good contains msg if {
\tinput.kind == "Deployment"
\tmsg := "the good Rego rule fired"
}
"""


def rego() -> Iterator[Case]:
    common: dict[str, Any] = {"seconds": 60, "groupable": False,
                                 "args": ("--policy", f"{ROOT}/policy", "--rule-timeout", "2")}
    good = Seen("HOS001", GOOD_PATH, 1, ("good Rego rule",))
    modules = {
        "unsafe-var": (("package main\n\nimport rego.v1\n\ndeny_bad contains msg if {\n"
                       "\tinput.kind == undefined_thing.x\n\tmsg := \"x\"\n}\n"), 6, "unsafe"),
        "parse-error": ("package main\n\ndeny_bad contains msg if {\n\tinput.kind ==\n}\n", 5,
                        "parse_error"),
        "recursion": (("package main\n\nimport rego.v1\n\nf(x) := y if { y := f(x) }\n\n"
                      "deny_rec contains msg if {\n\tf(1)\n\tmsg := \"x\"\n}\n"), 5, "recursion"),
        "conflicting-types": (("package main\n\nimport rego.v1\n\nwarn_x := 1\n\n"
                              "warn_x contains \"a\" if { true }\n"), 5, "conflict"),
        "unknown-function": (("package main\n\nimport rego.v1\n\ndeny_f contains msg if {\n"
                             "\tmsg := no_such_builtin(input)\n}\n"), 6, "undefined function"),
        "http-send": (("package main\n\nimport rego.v1\n\ndeny_net contains msg if {\n"
                       '\tresp := http.send({"method": "get", '
                       f'"url": "http://127.0.0.1:{PORT}/x"}})\n'
                       '\tmsg := sprintf("%v", [resp.status_code])\n}\n'), 6,
                      "reaches the network"),
    }
    for name, (source, line, says) in modules.items():
        yield case(f"compile-{name}", "rego", {"policy/good.rego": GOOD_REGO.encode(),
                                               "policy/bad.rego": source.encode()},
                   errors=(Err("policy/bad.rego", line, (says,), "policy"),),
                   findings=(good,), listener=PORT in source, **common)
    slow = ("package main\n\nimport rego.v1\n\ndeny_slow contains msg if {\n"
            "\tr := numbers.range(1, 3000)\n\tsome i in r\n\tsome j in r\n\tsome k in r\n"
            "\ti * j * k == -1\n\tmsg := \"never\"\n}\n")
    yield case("never-terminates", "rego", {"policy/good.rego": GOOD_REGO.encode(),
                                            "policy/slow.rego": slow.encode()},
               errors=(Err(GOOD_PATH, 1, ("did not finish within 2 s", "policy/slow.rego:5"),
                           "policy"),),
               findings=(good,), **{**common, "seconds": 45},
               note="--rule-timeout 2: the OPA worker is killed, the rule named and not asked "
                    "again; the other rules still report")
    runtime = ("package main\n\nimport rego.v1\n\ndeny_num contains msg if {\n"
               "\tto_number(input.metadata.name) > 1\n\tmsg := \"x\"\n}\n")
    yield case("runtime-error", "rego", {"policy/good.rego": GOOD_REGO.encode(),
                                         "policy/num.rego": runtime.encode()},
               errors=(Err(GOOD_PATH, 1, ("main.deny_num", "policy/num.rego:5"), "policy"),),
               findings=(good,), **common)
    yield case("data-file-tag", "rego", {
        "policy/good.rego": GOOD_REGO.encode(),
        "policy/data.yaml": f'settings: !!python/object/apply:os.system ["touch {MARKER}"]\n'
        .encode()},
        errors=(Err("policy/data.yaml", 1, ("unsupported yaml tag",), "policy"),
                Err("policy/data.yaml", 1, ("unsupported yaml tag",), "yaml-tag")),
        findings=(good,), marker=True, note=IN_ESTATE, **common)
    yield case("data-file-duplicate", "rego", {
        "policy/good.rego": GOOD_REGO.encode(), "policy/data.yaml": b"a: 1\na: 2\n"},
        errors=(Err("policy/data.yaml", 2, ("duplicate key",), "policy"),
                Err("policy/data.yaml", 2, ("duplicate key",), "duplicate-key")),
        findings=(good,), note=IN_ESTATE, **common)


# --------------------------------------------------------------------- 20. Python rules

PACK = b"name: hostile\ndescription: rules that misbehave\n"


def _rule(rule_id: str, body: str, top: str = "") -> bytes:
    return f'''"""Rule {rule_id}: misbehaves on purpose.

Passing: nothing. Failing: everything.
"""
{top}
METADATA = {{"id": "{rule_id}", "name": "rule-{rule_id.lower()}", "category": "policy",
            "severity": "high", "kinds": ["apps/Deployment"]}}


def check(manifest, ctx):
{body}
'''.encode()


def python_rules() -> Iterator[Case]:
    common: dict[str, Any] = {"seconds": 30, "groupable": False,
                                 "args": ("--policy", f"{ROOT}/policy")}
    good_rule = _rule("HOP001", '    yield "the good Python rule fired"')
    good = Seen("HOP001", GOOD_PATH, 1, ("good Python rule",))
    for name, body, top, path, line, says in (
        ("raises", '    raise ValueError("boom")\n    yield', "", GOOD_PATH, 1,
         ("raised ValueError", "policy/bad_rule.py:11")),
        ("system-exit", "    raise SystemExit(3)\n    yield", "", GOOD_PATH, 1,
         ("raised SystemExit", "policy/bad_rule.py:11")),
        ("recursion", "    def f(n):\n        return f(n + 1)\n    f(0)\n    yield", "",
         GOOD_PATH, 1, ("raised RecursionError", "policy/bad_rule.py:12")),
        ("memory-error", "    raise MemoryError\n    yield", "", GOOD_PATH, 1,
         ("raised MemoryError",)),
        ("wrong-yield", "    yield 42", "", GOOD_PATH, 1, ("yielded a int",)),
        ("import-error", '    yield "x"', 'raise RuntimeError("at import")', "policy/bad_rule.py",
         5, ("import failed", "RuntimeError")),
        ("exit-at-import", '    yield "x"', "import sys\nsys.exit(0)", "policy/bad_rule.py", 6,
         ("import failed", "SystemExit")),
        ("syntax-error", "    yield (", "", "policy/bad_rule.py", 11, ("import failed",)),
    ):
        yield case(name, "python-rule", {"policy/pack.yaml": PACK,
                                         "policy/good_rule.py": good_rule,
                                         "policy/bad_rule.py": _rule("HOP002", body, top)},
                   errors=(Err(path, line, says, None),), findings=(good,),
                   **common)
    estate_rule = _rule("HOP003", "    raise KeyError('estate')\n    yield").replace(
        b'"kinds": ["apps/Deployment"]', b'"scope": "estate"')
    yield case("estate-rule-raises", "python-rule", {
        "policy/pack.yaml": PACK, "policy/good_rule.py": good_rule,
        "policy/estate_rule.py": estate_rule},
        errors=(Err("policy/estate_rule.py", 11, ("raised KeyError",), "rule"),),
        findings=(good,), **common)
    yield case("bad-metadata", "python-rule", {
        "policy/pack.yaml": PACK, "policy/good_rule.py": good_rule,
        "policy/bad_rule.py": _rule("hop", '    yield "x"')},
        errors=(Err("policy/bad_rule.py", 6, ("METADATA is invalid",), "policy"),),
        findings=(good,), **common)
    yield case("prints-a-lot", "python-rule", {
        "policy/pack.yaml": PACK, "policy/good_rule.py": good_rule,
        "policy/bad_rule.py": _rule("HOP002", '    print("x" * 5_000_000)\n    yield "p"')},
        findings=(good, Seen("HOP002", GOOD_PATH, 1)), **common)
    yield case("keyboard-interrupt", "python-rule", {
        "policy/pack.yaml": PACK, "policy/good_rule.py": good_rule,
        "policy/bad_rule.py": _rule("HOP002", "    raise KeyboardInterrupt\n    yield")},
        exit_code=2, good=False, report=False, stderr_says=("interrupted",),
        note="indistinguishable from Ctrl-C: the run stops with exit 2 and no report (never "
             "a pass)", **common)
    yield case("pack-yaml-tag", "python-rule", {
        "policy/pack.yaml": f'name: !!python/object/apply:os.system ["touch {MARKER}"]\n'
        .encode(), "policy/good_rule.py": good_rule},
        errors=(Err("policy/pack.yaml", 1, ("unsupported yaml tag",), "policy"),
                Err("policy/pack.yaml", 1, ("must be a mapping with a `name`",), "policy"),
                Err("policy/pack.yaml", 1, ("unsupported yaml tag",), "yaml-tag")),
        findings=(good,), marker=True, note=IN_ESTATE, **common)


# ------------------------------------------------------------------- 21. stdin, config


def other_inputs() -> Iterator[Case]:
    yield case("stdin-binary", "stdin", {}, stdin=b"\x00\x01binary",
               errors=(Err("-", 1, ("binary file",), "binary"),), good=False,
               paths=("-",), args=("--root", ROOT))
    yield case("stdin-python-tag", "stdin", {}, marker=True,
               stdin=cm(f'data:\n  k: !!python/object/apply:os.system ["touch {MARKER}"]\n')
               .encode(), errors=(Err("-", 5, ("unsupported yaml tag",), "yaml-tag"),),
               good=False, paths=("-",), args=("--root", ROOT))
    bomb, _ = _laughs(9, 9, "seq")
    yield case("stdin-bomb", "stdin", {}, stdin=bomb.encode(),
               errors=(Err("-", 7, ("alias expansion exceeds",), "alias-bomb"),), good=False,
               paths=("-",), args=("--root", ROOT), isolate=True, seconds=20, mib=700)
    for name, text in (("config-python-tag", (f'fail_on: !!python/object/apply:os.system '
                                               f'["touch {MARKER}"]\n')),
                       ("config-bomb", bomb)):
        yield case(name, "config", {".gitops-checker.yaml": text.encode()}, exit_code=2,
                   good=False, report=False, stderr_says=(".gitops-checker.yaml",),
                   marker=MARKER in text, groupable=False,
                   note="a config that cannot be read stops the run (exit 2, no report): "
                        "with the wrong config, no verdict can be trusted")


# ----------------------------------------------------------------------------- the corpus

FAMILIES: tuple[Callable[[], Iterator[Case]], ...] = (
    bombs, nesting, encodings, control_characters, nul_bytes, binaries, duplicate_keys,
    tabs, merge_keys, anchors, document_shapes, keys, tags, numbers, line_breaks, huge,
    huge_files, links, unreadable, kustomize, helm, rego, python_rules, other_inputs,
)


def corpus() -> list[Case]:
    cases = [c for family in FAMILIES for c in family()]
    ids = [c.id for c in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, duplicates
    return cases


def with_prefix(item: Case, prefix: str) -> Case:
    """The case with its files under `prefix/` (for a grouped run)."""
    def moved(path: str | None) -> str | None:
        return None if path is None else f"{prefix}/{path}"

    return replace(
        item, files={f"{prefix}/{k}": v for k, v in item.files.items()},
        errors=tuple(replace(e, path=moved(e.path) or "") for e in item.errors),
        findings=tuple(replace(f, path=moved(f.path) or "") for f in item.findings))


@functools.lru_cache(maxsize=1)
def families() -> dict[str, list[Case]]:
    grouped: dict[str, list[Case]] = {}
    for item in corpus():
        grouped.setdefault(item.family, []).append(item)
    return grouped


