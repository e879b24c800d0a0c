"""Render Helm charts in process, like `helm template`, with `helm-python-sdk`.

The SDK (Helm v4's Go SDK behind a C ABI, loaded with ctypes) is an optional extra:
`pip install 'gitops-checker[helm]'`. Without it every chart is reported as not rendered,
with that hint. Nothing is ever fetched: a chart's dependencies must be vendored under its
`charts/` directory, and remote or OCI charts are reported as not rendered.

The SDK is imported only when a chart is rendered, so that importing this module (and the
processes the OPA worker spawns, which re-import the main module) never start a Go
runtime. Once it is loaded, this process must not `fork` without `exec` (the
`multiprocessing` "fork" start method): a forked copy of a Go runtime can hang.
"""

from __future__ import annotations

import importlib.util
import json
import re
import tarfile
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any

from checker.parse import Document, parse_yaml
from checker.render import NotRendered, Rendered, RenderOrigin

INSTALL_HINT = "pip install 'gitops-checker[helm]'"


def _installed() -> bool:
    try:
        return importlib.util.find_spec("helm_python") is not None
    except (ImportError, ValueError):
        return False


HELM_AVAILABLE: bool = _installed()
"""Whether the helm extra is installed (checked without loading its Go library)."""

MAX_ARCHIVE_BYTES = 50 * 1024 * 1024  # a chart archive larger than this is not looked into
MAX_ARCHIVE_MEMBERS = 10_000  # members read while looking for an archive's Chart.yaml
MAX_CHART_YAML_BYTES = 1024 * 1024
MAX_VALUES_FILE_BYTES = 10 * 1024 * 1024
MIN_SECRET_LENGTH = 6  # shorter value strings are not hidden in Helm's messages

_NOT_INSTALLED = f"Helm chart not rendered: the helm extra is not installed ({INSTALL_HINT})"


def sdk_identity() -> str | None:
    """The installed SDK's version (what its renders depend on), without loading it."""
    from checker.installed import installed

    return installed().versions["helm-python-sdk"]


class _Unavailable(Exception):
    """The SDK cannot be used; the message says why."""


def _sdk() -> ModuleType:
    """The `helm_python` module, imported (and its Go library loaded) on first use."""
    if not HELM_AVAILABLE:
        raise _Unavailable(_NOT_INSTALLED)
    try:
        import helm_python
    except ImportError:
        raise _Unavailable(_NOT_INSTALLED) from None
    except Exception as exc:  # noqa: BLE001 - HelmLibraryError: a wheel for another platform
        raise _Unavailable(f"Helm chart not rendered: the Helm library could not be loaded "
                           f"({_one_line(str(exc))}); reinstall it with {INSTALL_HINT}") from None
    return helm_python


# ------------------------------------------------------------------------------ discovery


def is_chart_dir(path: Path) -> bool:
    """Whether `path` is a chart directory (holds a `Chart.yaml`)."""
    return path.is_dir() and (path / "Chart.yaml").is_file()


def is_chart_archive(path: Path) -> bool:
    """Whether `path` is a `.tgz` chart archive (a gzipped tar with `<chart>/Chart.yaml`)."""
    return _archive_chart_yaml(path) is not None


def _archive_chart_yaml(path: Path) -> Mapping[str, Any] | None:
    """The `Chart.yaml` of a chart archive, read without extracting anything; None when
    `path` is not a readable chart archive within the size limits."""
    if path.suffix != ".tgz" or not path.is_file():
        return None
    try:
        if path.stat().st_size > MAX_ARCHIVE_BYTES:
            return None
        with tarfile.open(path, mode="r:gz") as archive:
            for count, member in enumerate(archive):
                if count >= MAX_ARCHIVE_MEMBERS:
                    return None
                parts = PurePosixPath(member.name).parts
                if len(parts) != 2 or parts[1] != "Chart.yaml" or parts[0] in ("..", "/"):
                    continue
                if not member.isfile() or member.size > MAX_CHART_YAML_BYTES:
                    return None
                stream = archive.extractfile(member)
                if stream is None:
                    return None
                return _chart_yaml_text(stream.read(MAX_CHART_YAML_BYTES).decode("utf-8"))
    except (tarfile.TarError, OSError, EOFError, zlib.error, UnicodeDecodeError):
        return None
    return None


def _chart_yaml_text(text: str) -> Mapping[str, Any] | None:
    """The first document of a `Chart.yaml` when it is a mapping naming a chart."""
    for document in parse_yaml(text):
        if isinstance(document, Document) and isinstance(document.data, Mapping) \
                and isinstance(document.data.get("name"), str):
            return document.data
        return None
    return None


def _dir_chart_yaml(chart_dir: Path) -> Mapping[str, Any] | None:
    path = chart_dir / "Chart.yaml"
    try:
        if not path.is_file() or path.stat().st_size > MAX_CHART_YAML_BYTES:
            return None
        return _chart_yaml_text(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None


def remote_chart(reference: str, path: str, line: int | None = None) -> NotRendered:
    """The report for a chart the deployer pulls from a repository or registry (an Argo CD
    Application's `chart:`, a Flux HelmRelease's HelmRepository/OCIRepository)."""
    return NotRendered(path, f"Helm chart {reference} not rendered: remote and OCI charts "
                             "are not fetched", line)


# ------------------------------------------------------------------------------ rendering


@dataclass
class _Chart:
    """A chart being rendered: where it is, for mapping Helm's template names to files."""

    path: Path
    root: Path
    rel: str
    archive: bool
    _meta: dict[Path, Mapping[str, Any] | None] = field(default_factory=dict)

    def relative(self, path: Path) -> str:
        return _relative(path, self.root)

    @property
    def chart_yaml(self) -> str:
        return self.rel if self.archive else self.relative(self.path / "Chart.yaml")

    def metadata(self, path: Path) -> Mapping[str, Any] | None:
        if path not in self._meta:
            self._meta[path] = _archive_chart_yaml(path) if path.is_file() \
                else _dir_chart_yaml(path)
        return self._meta[path]

    def subchart(self, parent: Path, name: str) -> Path | None:
        """The directory or archive under `parent/charts` for the dependency Helm calls
        `name` (its alias or chart name)."""
        charts = parent / "charts"
        meta = self.metadata(parent) or {}
        for dep in meta.get("dependencies") or ():
            if isinstance(dep, Mapping) and dep.get("alias") == name and dep.get("name"):
                name = str(dep["name"])
                break
        direct = charts / name
        if direct.is_dir() and (self.metadata(direct) or {}).get("name") == name:
            return direct
        try:
            entries = sorted(charts.iterdir())
        except OSError:
            return None
        for entry in entries:
            if (entry.is_dir() or entry.suffix == ".tgz") \
                    and (self.metadata(entry) or {}).get("name") == name:
                return entry
        return None

    def locate(self, key: str) -> tuple[str, str | None]:
        """(`source`, `generated_by`) for a template Helm names `key`
        ("odoo/charts/redis/templates/x.yaml"): the file itself when it is on disk, else
        the archive holding it (or the chart's Chart.yaml), with `key` as generated_by."""
        if self.archive:
            return self.rel, key
        parts = key.split("/")[1:]
        base = self.path
        while len(parts) > 2 and parts[0] == "charts":
            sub = self.subchart(base, parts[1])
            if sub is None:
                return self.chart_yaml, key
            if sub.is_file():
                return self.relative(sub), key
            base, parts = sub, parts[2:]
        if ".." not in parts and base.joinpath(*parts).is_file():
            return self.relative(base.joinpath(*parts)), None
        return self.chart_yaml, key


def render_chart(
    chart: Path,
    *,
    root: Path,
    release: str,
    namespace: str | None,
    values: Mapping[str, Any] | None = None,
    value_files: Sequence[Path] = (),
    kube_version: str | None = None,
    api_versions: Sequence[str] = (),
    include_crds: bool = True,
    app: str | None = None,
) -> tuple[list[Rendered], list[NotRendered]]:
    """Render a chart directory or `.tgz` like `helm template` does.

    Values are merged in Helm's order: the chart's defaults, `value_files` in order, then
    `values`. `namespace` is the release namespace (`.Release.Namespace`, "default" when
    None); objects are left as the templates make them and the namespace is recorded in
    the origin. CRDs under `crds/` are included unless `include_crds` is false (Argo CD and
    Flux both apply them). Each object's `source` is its template file relative to `root`.
    """
    state = _Chart(chart, root, _relative(chart, root), archive=chart.is_file())
    origin = RenderOrigin("helm", state.rel, app, namespace)
    try:
        helm = _sdk()
    except _Unavailable as exc:
        return [], [NotRendered(state.rel, str(exc))]

    problems: list[NotRendered] = []
    try:
        helm.validate_release_name(release)
    except helm.HelmError as exc:
        return [], [NotRendered(state.rel, f"Helm chart not rendered: release name "
                                           f"{release!r} is not valid: {_one_line(str(exc))}")]

    user: dict[str, Any] = {}
    secrets: set[str] = set()
    for value_file in value_files:
        loaded = _read_values_file(helm, value_file, root)
        if isinstance(loaded, NotRendered):
            return [], [loaded, NotRendered(state.rel, "Helm chart not rendered: a values "
                                                       "file could not be read")]
        _merge_values(user, loaded)
    if values:
        _merge_values(user, json.loads(json.dumps(values, default=str)))
    secrets.update(_strings(user))

    try:
        loaded_chart = helm.Chart.load(chart)
    except helm.HelmError as exc:
        return [], [_load_error(state, str(exc), secrets)]
    with loaded_chart:
        keep = _template_names(loaded_chart) | {kube_version or "", *api_versions}
        try:
            effective = loaded_chart.merge_values(user)
        except helm.HelmError:
            effective = user
        # The chart's own defaults may hold secrets too (a `fail` message can print any).
        secrets.update(_strings(effective))
        problems.extend(_missing_dependencies(state, loaded_chart, effective))

        opts: dict[str, Any] = {"name": release, "namespace": namespace or "default",
                                "revision": 1, "is_install": True}
        if kube_version:
            opts["kube_version"] = kube_version
        if api_versions:
            opts["api_versions"] = list(api_versions)
        try:
            # Chart.render does not pass kube_version/api_versions, which the C ABI takes.
            from helm_python import _native

            manifests: dict[str, str] = json.loads(_native.call_string(
                "helm_render", loaded_chart._raw(), json.dumps(user), json.dumps(opts)))
        except helm.HelmError as exc:
            problems.append(_render_error(state, str(exc), secrets, keep))
            return [], problems

        rendered: list[Rendered] = []
        for key in sorted(manifests):
            name = key.rsplit("/", 1)[-1]
            if name == "NOTES.txt" or name.startswith("_") or not manifests[key].strip():
                continue
            source, generated_by = state.locate(key)
            _collect(manifests[key], key, source, generated_by, origin, rendered, problems)
        if include_crds:
            # Read after rendering: Helm drops the subcharts the values turn off from the
            # loaded chart while rendering (so a loaded Chart is never rendered twice).
            for crd in loaded_chart.crds:
                key = str(crd.get("filename") or crd.get("name") or "")
                source, generated_by = state.locate(key)
                _collect(str(crd.get("data") or ""), key, source, generated_by, origin,
                         rendered, problems)
    return rendered, problems


def _collect(text: str, key: str, source: str, generated_by: str | None, origin: RenderOrigin,
             rendered: list[Rendered], problems: list[NotRendered]) -> None:
    """The objects of one rendered template (or CRD file), and its unreadable documents."""
    for document in parse_yaml(text):
        if not isinstance(document, Document):
            problems.append(NotRendered(
                source, f"the rendered Helm template {key} is not valid YAML "
                        f"(line {document.line} of its output): {document.message}",
                document.line if generated_by is None else None))
        elif document.data is None:
            continue
        elif not isinstance(document.data, Mapping):
            problems.append(NotRendered(
                source, f"a document rendered from {key} is not a Kubernetes object "
                        f"(a {type(document.data).__name__}, line {document.line} of its "
                        "output)", document.line if generated_by is None else None))
        else:
            rendered.append(Rendered(document.data, source, origin, generated_by))


def _read_values_file(helm: ModuleType, path: Path, root: Path) -> dict[str, Any] | NotRendered:
    """A values file as Helm reads it (`-f`), or why it cannot be read."""
    rel = _relative(path, root)
    try:
        if path.stat().st_size > MAX_VALUES_FILE_BYTES:
            return NotRendered(rel, f"Helm values file is larger than "
                                    f"{MAX_VALUES_FILE_BYTES // (1024 * 1024)} MiB")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return NotRendered(rel, "Helm values file not found")
    except (OSError, UnicodeDecodeError) as exc:
        return NotRendered(rel, f"Helm values file could not be read: {type(exc).__name__}")
    try:
        parsed: dict[str, Any] = helm.values_from_yaml(text)
    except helm.HelmError as exc:
        return NotRendered(rel, "Helm values file is not valid: "
                           + _sanitize(str(exc), set(), ()), _error_line(str(exc)))
    return parsed


def _merge_values(base: dict[str, Any], override: Mapping[str, Any]) -> None:
    """Merge `override` into `base` like Helm merges `-f` files: maps key by key, anything
    else replaced (a null stays, and later removes the chart's default)."""
    for key, value in override.items():
        current = base.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            _merge_values(current, value)
        else:
            base[key] = json.loads(json.dumps(value)) if isinstance(value, (dict, list)) \
                else value


def _lookup(values: Mapping[str, Any], dotted: str) -> Any:
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _dependency_enabled(dep: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    """Whether the values turn a dependency on: its `condition` (the first path that holds
    a boolean), else its `tags` (on when any is true), else on."""
    for path in str(dep.get("condition") or "").split(","):
        found = _lookup(values, path.strip()) if path.strip() else None
        if isinstance(found, bool):
            return found
    tags = values.get("tags")
    states = [tags[t] for t in dep.get("tags") or ()
              if isinstance(tags, Mapping) and isinstance(tags.get(t), bool)]
    return any(states) if states else True


def _missing_dependencies(state: _Chart, chart: Any,
                          values: Mapping[str, Any]) -> Iterator[NotRendered]:
    """Dependencies declared in Chart.yaml, turned on, and not vendored under `charts/`."""
    present = {str(dep.get("name")) for dep in chart.dependencies}
    chart_yaml_lines: list[str] = []
    if not state.archive:
        try:
            chart_yaml_lines = (state.path / "Chart.yaml").read_text(encoding="utf-8") \
                .splitlines()
        except (OSError, UnicodeDecodeError):
            pass
    for dep in chart.metadata.get("dependencies") or ():
        if not isinstance(dep, Mapping):
            continue
        name = str(dep.get("name") or "")
        if name in present or not _dependency_enabled(dep, values):
            continue
        repository = re.sub(r"(?<=://)[^/@\s]+@", "", str(dep.get("repository") or ""))
        where = f" from {repository}" if repository else ""
        version = f" {dep['version']}" if dep.get("version") else ""
        yield NotRendered(
            state.chart_yaml,
            f"Helm dependency {name}{version}{where} is not vendored under charts/ and is "
            "not fetched: its objects are not checked (run `helm dependency build` and "
            "commit charts/ to check them)",
            _dependency_line(chart_yaml_lines, name))


_NAME_LINE = re.compile(r"""^\s*(?:-\s+)?name:\s*["']?([^"'#\s]+)["']?\s*(?:#.*)?$""")


def _dependency_line(lines: list[str], name: str) -> int | None:
    """The line of `- name: <name>` under `dependencies:` in a Chart.yaml."""
    inside = False
    for number, line in enumerate(lines, start=1):
        if line.startswith("dependencies:"):
            inside = True
        elif line and not line[0].isspace() and not line.startswith(("-", "#")):
            inside = False
        elif inside:
            match = _NAME_LINE.match(line)
            if match and match.group(1) == name:
                return number
    return None


# ------------------------------------------------------------------------- Helm's errors


_LOCATION = re.compile(r"([\w.\-]+(?:/[\w.\-]+)*/(?:templates|crds)/[^\s:()\"'<>]+):(\d+)")
_QUOTED = re.compile(r"\"(?:[^\"\\\n]|\\.)*\"|`[^`\n]*`|(?<!\w)'[^'\n]*'(?!\w)")
_POINTER = re.compile(r"/[\w./-]*")  # a JSON pointer into the values (schema errors)
_DEFINE = re.compile(r"""\{\{-?\s*(?:define|template|include|block)\s+"([^"]+)\"""")


def _render_error(state: _Chart, message: str, secrets: set[str],
                  keep: Iterable[str]) -> NotRendered:
    """A NotRendered pointing at the template Helm names in its error, when it names one."""
    text = _sanitize(message, secrets, keep)
    match = _LOCATION.search(message)
    if match:
        source, generated_by = state.locate(match.group(1))
        line = int(match.group(2)) if generated_by is None else None
        return NotRendered(source, f"Helm template error: {text}", line)
    return NotRendered(state.rel, f"Helm chart not rendered: {text}")


_CHART_FILE = re.compile(r"cannot load ([\w.\-]+(?:/[\w.\-]+)*):")


def _load_error(state: _Chart, message: str, secrets: set[str]) -> NotRendered:
    """A chart Helm cannot load, at the file (Chart.yaml, values.yaml, …) and line Helm
    names in its message, when it names one inside a chart directory."""
    text = "Helm chart could not be loaded: " + _sanitize(message, secrets, ())
    match = _CHART_FILE.search(message)
    if match and not state.archive and ".." not in match.group(1).split("/") \
            and (state.path / match.group(1)).is_file():
        return NotRendered(state.relative(state.path / match.group(1)), text,
                           _error_line(message))
    return NotRendered(state.rel, text)


def _template_names(chart: Any) -> set[str]:
    """Names Helm quotes in its errors that are no secret: template files and defines."""
    names = {f"{chart.name}/{t['name']}" for t in chart.templates}
    for template in chart.templates:
        names.update(_DEFINE.findall(str(template.get("data") or "")))
    return names


def _sanitize(message: str, secrets: set[str], keep: Iterable[str]) -> str:
    """Helm's message on one line, without what may be a secret value: quoted strings
    longer than 3 characters (except template names) and the string values supplied by
    the deployer's values."""
    protected: dict[str, str] = {}

    def protect(text: str) -> str:
        for number, name in enumerate(sorted(set(keep), key=len, reverse=True)):
            if name and name in text:
                token = f"\x00{number}\x00"
                protected[token] = name
                text = text.replace(name, token)
        return text

    text = protect(_one_line(message))

    def redact_quoted(match: re.Match[str]) -> str:
        quoted = match.group(0)
        inner = quoted[1:-1]
        if len(inner) <= 3 or inner in protected or _POINTER.fullmatch(inner):
            return quoted
        return f"{quoted[0]}…{quoted[-1]}"

    text = _QUOTED.sub(redact_quoted, text)
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= MIN_SECRET_LENGTH:
            text = text.replace(secret, "…")
    for token, name in protected.items():
        text = text.replace(token, name)
    return text


def _strings(values: Any) -> Iterator[str]:
    if isinstance(values, str):
        yield values
    elif isinstance(values, Mapping):
        for value in values.values():
            yield from _strings(value)
    elif isinstance(values, list):
        for value in values:
            yield from _strings(value)


def _error_line(message: str) -> int | None:
    match = re.search(r"\bline (\d+)\b", message)
    return int(match.group(1)) if match else None


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _relative(path: Path, root: Path) -> str:
    """`path` relative to `root`, in POSIX form; as given when it is outside `root`."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix() or "."
    except ValueError:
        return path.as_posix()
