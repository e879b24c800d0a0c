"""Argo CD and Flux objects as render instructions.

An Argo CD `Application` or `ApplicationSet`, or a Flux `Kustomization` or `HelmRelease`,
declared in the repository says which directory or chart of the repository is deployed, with
which Helm values, into which namespace and cluster. `render_instructions` reads them from the
loaded manifests and returns one `RenderInstruction` per thing to render, and a `NotRendered`
for each app (or part of an app) that cannot be rendered from this checkout: a source in
another repository, a chart from a Helm repository, a generator or template that is not
evaluated here.

Decisions, where the deployer's behaviour cannot be reproduced exactly:

- The checked-out revision is rendered. `targetRevision` (Argo CD), `revision` (git
  generator) and the GitRepository's `ref` are not looked at.
- A source "is this repository" when its URL, normalised by `normalise_repo_url`, is one of
  `repos` (see `repo_identities`). Paths in apps are relative to the repository's top
  directory, which must be the scanned root.
- An app can give a `RenderInstruction` and `NotRendered` notes at once: the instruction is
  rendered, and each note says what was left out (Kustomize overrides written in the app,
  Flux post-build substitutions, a value file in another repository, a values Secret that
  is encrypted). When the deployer would fail to render the app (a missing value file, a
  path that does not exist) there is only the `NotRendered`.
- Helm values: `values` is applied after `value_files` (Argo CD: `helm.values` or
  `helm.valuesObject`, then `helm.parameters` set over them as `--set` would; Flux: the
  `valuesFrom` sources in order, then `spec.values`). Values from a Secret declared in the
  estate are used (as Flux would) but never quoted: every message names the Secret and key
  only, and the pipeline's redactor already masks the estate's Secret values. A Secret
  encrypted with SOPS is not read (a note says so).
- Namespaces: `namespace` is Argo CD's `destination.namespace` (set on namespaced objects
  that have none), a Flux Kustomization's `targetNamespace` (which, like Kustomize's
  `namespace:`, overrides the namespace of every namespaced object), or a HelmRelease's
  release namespace (`targetNamespace`, else the HelmRelease's namespace).
- A Flux Kustomization on a directory without a kustomization file renders every YAML file
  below it (Flux generates a kustomization.yaml over them): kind "directory" with
  `directory_recurse=True`.
- ApplicationSet templates: fasttemplate `{{param}}` in full; with `goTemplate: true`, the
  subset of Go templates made of field references (`{{ .path.basename }}`), literals,
  pipelines and the functions `index`, `lower`, `upper`, `trim`, `trimPrefix`, `trimSuffix`,
  `replace`, `default`, `quote` and `normalize`. Anything else (`if`, `range`, variables,
  other Sprig functions) and `templatePatch` gives a NotRendered naming it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import os
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from checker.discover import SKIPPED_DIRS
from checker.mappings import merge_over
from checker.model import Manifest
from checker.parse import Document, parse_yaml
from checker.render import NotRendered

ARGO_GROUP = "argoproj.io"
FLUX_KUSTOMIZE_GROUP = "kustomize.toolkit.fluxcd.io"
FLUX_HELM_GROUP = "helm.toolkit.fluxcd.io"
FLUX_SOURCE_GROUP = "source.toolkit.fluxcd.io"

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
"""The file names Kustomize (and Argo CD's discovery) recognise."""


@dataclass(frozen=True, slots=True)
class RenderInstruction:
    """One thing an app deploys from this repository: a directory or a chart, how to render
    it, and where its objects go."""

    app: str  # "Application argocd/erp-prod", "ApplicationSet argocd/tenants (tenant-a)"
    declared_in: str  # the file declaring the app, relative to the scanned root
    line: int | None
    kind: str  # "kustomize", "helm", "directory"
    path: str  # repository-relative directory (POSIX, normalised, "." for the top)
    namespace: str | None  # destination namespace (see the module's notes)
    cluster: str | None  # Argo CD destination name or server; Flux kubeConfig reference
    release: str | None = None  # Helm release name
    values: Mapping[str, Any] = field(default_factory=dict)  # applied after value_files
    value_files: tuple[str, ...] = ()  # repository-relative, in order
    directory_recurse: bool = False
    include: str | None = None  # Argo CD directory.include glob
    exclude: str | None = None  # Argo CD directory.exclude glob


# --------------------------------------------------------------------------------------
# Repository identity


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SCP_LIKE = re.compile(r"^(?:[^@/:]+@)?(?P<host>[^@/:]+):(?P<path>.*)$")


def normalise_repo_url(url: str) -> str:
    """A repository URL in a form that compares equal across its spellings.

    `https://github.com/Org/repo.git`, `ssh://git@github.com:22/Org/repo` and
    `git@GitHub.com:Org/repo` all give `github.com/Org/repo`: the scheme, credentials and
    port are dropped, the host is lowercased, `host:path` becomes `host/path`, and a
    trailing `.git` and `/` are removed. The path keeps its case. A local path is only
    stripped of its trailing `/` and `.git`.
    """
    text = url.strip()
    if _SCHEME.match(text):
        rest = text.split("://", 1)[1]
        authority, slash, path = rest.partition("/")
        host = authority.rpartition("@")[2]
        if host.startswith("["):  # [ipv6]:port
            host = host[: host.find("]") + 1] if "]" in host else host
        else:
            host = host.partition(":")[0]
        result = host.lower() + (("/" + path) if slash else "")
    else:
        match = _SCP_LIKE.match(text)
        if match and not re.match(r"^[A-Za-z]:[\\/]", text):  # not a Windows drive
            result = match["host"].lower() + "/" + match["path"].lstrip("/")
        else:
            result = text
    while True:
        stripped = result.rstrip("/").removesuffix(".git")
        if stripped == result:
            return result
        result = stripped


def display_url(url: str) -> str:
    """A URL as it may be printed: without the credentials some URLs carry."""
    if _SCHEME.match(url):
        scheme, rest = url.split("://", 1)
        authority, slash, path = rest.partition("/")
        if "@" in authority:
            authority = authority.rpartition("@")[2]
        return f"{scheme}://{authority}{slash}{path}"
    return url


def repo_identities(root: Path, configured: Sequence[str] = (), *,
                    remotes: bool = True) -> set[str]:
    """Normalised URLs that mean 'this repository': the configured ones plus (with `remotes`)
    the git remotes of `root`'s repository (its `url` and `pushurl`, after `insteadOf`
    rewriting), read from the git configuration without touching the network. Not a git
    repository: the configured ones only."""
    identities = {normalise_repo_url(u) for u in configured if isinstance(u, str) and u.strip()}
    return identities | (remote_identities(root) or set() if remotes else set())


def remote_identities(root: Path) -> set[str] | None:
    """The normalised remotes of `root`'s repository; None when they could not be read
    (no gitpython or git, not a repository, a broken configuration)."""
    urls = _remote_urls(root)
    if urls is None:
        return None
    return {n for n in (normalise_repo_url(url) for url in urls) if n}


def _remote_urls(root: Path) -> list[str] | None:
    try:
        import git  # gitpython; imported here so a missing git binary only costs remotes
    except ImportError:
        return None
    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.exc.GitError, OSError, ValueError):
        return None
    urls: list[str] = []
    try:
        with repo:
            reader = repo.config_reader()
            rewrites: list[tuple[str, str, bool]] = []  # (prefix, base, push only)
            remotes: list[tuple[str, bool]] = []  # (url, is push url)
            for section in reader.sections():
                url_section = re.fullmatch(r'url "(.*)"', section)
                remote_section = re.fullmatch(r'remote "(.*)"', section)
                if not url_section and not remote_section:
                    continue
                for option, value in reader.items_all(section):
                    if not isinstance(value, list):
                        value = [value]
                    key = option.lower()
                    for item in value:
                        if not isinstance(item, str):
                            continue
                        if url_section and key in ("insteadof", "pushinsteadof"):
                            rewrites.append((item, url_section[1], key == "pushinsteadof"))
                        elif remote_section and key in ("url", "pushurl"):
                            remotes.append((item, key == "pushurl"))
    except Exception:  # noqa: BLE001 - a broken git config means no remotes, never a crash
        return None
    for url, push in remotes:
        best: tuple[str, str] | None = None
        for prefix, base, push_only in rewrites:
            if push_only and not push:
                continue
            if url.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
                best = (prefix, base)
        urls.append(best[1] + url[len(best[0]):] if best else url)
    return urls


# --------------------------------------------------------------------------------------
# Entry point


def render_instructions(
    manifests: Sequence[Manifest], *, root: Path, repos: set[str],
) -> tuple[list[RenderInstruction], list[NotRendered]]:
    """The render instructions given by the Argo CD and Flux objects among `manifests`, and
    what cannot be rendered, in the order the apps are declared.

    `root` is the checkout (the repository's top directory); `repos` the URLs meaning this
    repository (normalised or not). Reads directories and value files under `root`, nothing
    else."""
    identities = {normalise_repo_url(r) for r in repos if isinstance(r, str)} - {""}
    ctx = _Context(root, identities, manifests)
    for manifest in manifests:
        group = manifest.resource.group
        kind = manifest.resource.kind
        if group == ARGO_GROUP and kind == "Application":
            _argo_application(ctx, manifest)
        elif group == ARGO_GROUP and kind == "ApplicationSet":
            _argo_application_set(ctx, manifest)
        elif group == FLUX_KUSTOMIZE_GROUP and kind == "Kustomization":
            _flux_kustomization(ctx, manifest)
        elif group == FLUX_HELM_GROUP and kind == "HelmRelease":
            _flux_helm_release(ctx, manifest)
    return ctx.instructions, ctx.not_rendered


@dataclass(frozen=True, slots=True)
class _App:
    """The app being read: its label and where it is declared."""

    label: str
    declared_in: str
    line: int | None


class _Context:
    def __init__(self, root: Path, repos: set[str], manifests: Sequence[Manifest]) -> None:
        self.root = root
        self.repos = repos
        self.instructions: list[RenderInstruction] = []
        self.not_rendered: list[NotRendered] = []
        self._objects: dict[tuple[str, str, str, str], Manifest] = {}
        for m in manifests:
            key = (m.resource.group, m.resource.kind, _ns(m.resource.namespace), m.resource.name)
            self._objects.setdefault(key, m)
        self._directories: list[str] | None = None

    def note(self, app: _App, reason: str) -> None:
        self.not_rendered.append(NotRendered(app.declared_in, f"{app.label}: {reason}", app.line))

    def find(self, group: str, kind: str, namespace: str | None, name: str) -> Manifest | None:
        return self._objects.get((group, kind, _ns(namespace), name))

    def is_this_repo(self, url: Any) -> bool:
        return isinstance(url, str) and normalise_repo_url(url) in self.repos

    def app_directory(self, app: _App, raw_path: Any, where: str = ""
                      ) -> tuple[str, Path] | None:
        """The repository path an app deploys and its directory, or None (noted) when it
        leads out of the repository or does not exist."""
        path = repo_path(raw_path if isinstance(raw_path, str) else "")
        if path is None:
            self.note(app, f"{where}path {raw_path!r} leads out of the repository; not "
                           "rendered")
            return None
        directory = self.directory(path)
        if directory is None:
            self.note(app, f"{where}path {path} does not exist in the repository; not "
                           "rendered")
            return None
        return path, directory

    def directory(self, path: str) -> Path | None:
        """The directory `path` (repository-relative) under the root, if it is one and does
        not lead out of the root through a symbolic link."""
        candidate = self.root / path
        if not candidate.is_dir():
            return None
        return candidate if self._inside(candidate) else None

    def file(self, path: str) -> Path | None:
        candidate = self.root / path
        if not candidate.is_file():
            return None
        return candidate if self._inside(candidate) else None

    def _inside(self, candidate: Path) -> bool:
        try:
            candidate.resolve().relative_to(self.root.resolve())
        except (ValueError, OSError):
            return False
        return True

    def directories(self) -> list[str]:
        """Every directory of the checkout as Argo CD's git generator lists them: relative,
        depth-first in name order, without hidden ones. A git clone has no directory without
        a file below it, nor the tool directories of `SKIPPED_DIRS`: neither is listed."""
        if self._directories is None:
            found: list[str] = []
            with_files: set[str] = set()
            root = str(self.root)
            for current, dirnames, filenames in os.walk(root):
                dirnames[:] = sorted(
                    d for d in dirnames
                    if d not in SKIPPED_DIRS and not os.path.islink(os.path.join(current, d)))
                rel = Path(os.path.relpath(current, root)).as_posix()
                if rel == ".":
                    continue
                parts = rel.split("/")
                if not any(part.startswith(".") for part in parts):
                    found.append(rel)
                if filenames:
                    with_files.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
            self._directories = [d for d in found if d in with_files]
        return self._directories


def _ns(namespace: str | None) -> str:
    return namespace or ""


def _label(kind: str, manifest: Manifest) -> str:
    ns = manifest.resource.namespace
    return f"{kind} {ns}/{manifest.resource.name}" if ns else f"{kind} {manifest.resource.name}"


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def repo_path(raw: str) -> str | None:
    """A path as written in an app, made repository-relative: POSIX, normalised, without a
    leading `./` or `/` ("." for the top). None when it leads out of the repository."""
    text = raw.strip().lstrip("/")
    norm = posixpath.normpath(text) if text else "."
    if norm == ".." or norm.startswith("../"):
        return None
    return norm


def detect_kind(directory: Path) -> str:
    """What Argo CD's discovery makes of a directory: "kustomize" with a kustomization file
    (it wins over a Chart.yaml), "helm" with a Chart.yaml, else "directory"."""
    try:
        names = set(os.listdir(directory))
    except OSError:
        return "directory"
    if names.intersection(KUSTOMIZATION_FILES):
        return "kustomize"
    if "Chart.yaml" in names:
        return "helm"
    return "directory"


def _fields(names: Iterable[str]) -> str:
    return ", ".join(n if n.startswith("kustomize.") else f"spec.{n}" for n in names)


def _truthy_keys(options: Mapping[str, Any], keys: Sequence[str]) -> list[str]:
    return [k for k in keys if options.get(k) not in (None, "", [], {}, False)]


# --------------------------------------------------------------------------------------
# Argo CD Application


_ARGO_KUSTOMIZE_OVERRIDES = ("namePrefix", "nameSuffix", "namespace", "images", "replicas",
                             "commonLabels", "commonAnnotations", "patches", "components")


def _argo_application(ctx: _Context, manifest: Manifest) -> None:
    app = _App(_label("Application", manifest), manifest.location.path or "",
               manifest.location.line)
    spec = _map(manifest.obj.get("spec"))
    _argo_app_spec(ctx, app, manifest.resource.name, spec)


def _argo_app_spec(ctx: _Context, app: _App, name: str, spec: Mapping[str, Any]) -> None:
    destination = _map(spec.get("destination"))
    namespace = _str(destination.get("namespace"))
    cluster = _str(destination.get("name")) or _str(destination.get("server"))
    sources = [s for s in _list(spec.get("sources")) if isinstance(s, Mapping)]
    multi = bool(sources)
    if not sources:
        single = spec.get("source")
        if not isinstance(single, Mapping):
            single = _map(spec.get("sourceHydrator")).get("drySource")
        if not isinstance(single, Mapping):
            ctx.note(app, "no source (spec.source, spec.sources or "
                          "spec.sourceHydrator.drySource); nothing is rendered")
            return
        sources = [single]
    refs = {s["ref"]: s for s in sources if multi and _str(s.get("ref"))}
    for index, source in enumerate(sources):
        if multi and _str(source.get("ref")) and not _str(source.get("path")) \
                and not _str(source.get("chart")):
            continue  # a ref-only source: it provides value files to the others
        where = f"source {index + 1}: " if multi else ""
        _argo_source(ctx, app, name, source, refs, namespace, cluster, where)


def _argo_source(ctx: _Context, app: _App, name: str, source: Mapping[str, Any],
                 refs: Mapping[str, Mapping[str, Any]], namespace: str | None,
                 cluster: str | None, where: str) -> None:
    repo_url = _str(source.get("repoURL")) or ""
    chart = _str(source.get("chart"))
    if chart:
        version = _str(source.get("targetRevision"))
        shown = f"{chart} {version}" if version else chart
        ctx.note(app, f"{where}chart {shown} from repository {display_url(repo_url)} is "
                      "not fetched; its objects are not rendered")
        return
    if not ctx.is_this_repo(repo_url):
        ctx.note(app, f"{where}source repository {display_url(repo_url) or '(none)'} is not "
                      "this repository; its manifests are not rendered")
        return
    if source.get("plugin") is not None:
        ctx.note(app, f"{where}config management plugin sources are not run; not rendered")
        return
    found = ctx.app_directory(app, source.get("path"), where)
    if found is None:
        return
    path, directory = found

    helm = _map(source.get("helm"))
    kustomize = _map(source.get("kustomize"))
    dir_options = _map(source.get("directory"))
    # As Argo CD, a block whose fields are all empty (`helm: {}`) sets no type.
    explicit = [k for k, options in (("helm", helm), ("kustomize", kustomize),
                                     ("directory", dir_options)) if not _is_zero_deep(options)]
    if len(explicit) > 1:
        ctx.note(app, f"{where}more than one source type is set ({', '.join(explicit)}); "
                      "Argo CD refuses such a source; not rendered")
        return
    detected = detect_kind(directory)
    kind = explicit[0] if explicit else detected
    if kind == "helm" and not (directory / "Chart.yaml").is_file():
        ctx.note(app, f"{where}helm options are set but {path} has no Chart.yaml; "
                      "not rendered")
        return
    if kind == "kustomize" and detected != "kustomize":
        ctx.note(app, f"{where}kustomize options are set but {path} has no kustomization "
                      "file; not rendered")
        return

    if kind == "kustomize":
        overrides = _truthy_keys(kustomize, _ARGO_KUSTOMIZE_OVERRIDES)
        if overrides:
            ctx.note(app, f"{where}not applied: "
                          f"{_fields('kustomize.' + o for o in overrides)}; {path} is "
                          "rendered as written")
        ctx.instructions.append(RenderInstruction(
            app.label, app.declared_in, app.line, "kustomize", path, namespace, cluster))
        return
    if kind == "directory":
        jsonnet = _map(dir_options.get("jsonnet"))
        if _truthy_keys(jsonnet, ("tlas", "extVars", "libs")):
            ctx.note(app, f"{where}directory.jsonnet options are not applied")
        ctx.instructions.append(RenderInstruction(
            app.label, app.declared_in, app.line, "directory", path, namespace, cluster,
            directory_recurse=dir_options.get("recurse") is True,
            include=_str(dir_options.get("include")),
            exclude=_str(dir_options.get("exclude"))))
        return

    # Helm from a directory of this repository.
    env = {
        "ARGOCD_APP_NAME": name,
        "ARGOCD_APP_NAMESPACE": namespace or "",
        "ARGOCD_APP_SOURCE_PATH": path,
        "ARGOCD_APP_SOURCE_REPO_URL": repo_url,
        "ARGOCD_APP_SOURCE_TARGET_REVISION": _str(source.get("targetRevision")) or "",
    }
    value_files: list[str] = []
    for raw in _list(helm.get("valueFiles")):
        if not isinstance(raw, str) or not raw:
            continue
        resolved = _argo_value_file(ctx, app, where, raw, path, refs, env,
                                    helm.get("ignoreMissingValueFiles") is True)
        if resolved is False:
            return
        if isinstance(resolved, str):
            value_files.append(resolved)

    values: dict[str, Any] = {}
    values_object = helm.get("valuesObject")
    values_text = helm.get("values")
    if isinstance(values_object, Mapping):
        values = _deep_copy(values_object)
    elif isinstance(values_text, Mapping):
        values = _deep_copy(values_text)
    elif isinstance(values_text, str) and values_text.strip():
        parsed = parse_values(values_text)
        if isinstance(parsed, str):
            ctx.note(app, f"{where}helm.values {parsed}; Argo CD cannot render it; not rendered")
            return
        values = parsed
    for parameter in _list(helm.get("parameters")):
        parameter = _map(parameter)
        pname = _str(parameter.get("name"))
        if pname is None:
            continue
        raw_value = parameter.get("value")
        text = raw_value if isinstance(raw_value, str) else "" if raw_value is None \
            else str(raw_value)
        value: Any = text if parameter.get("forceString") is True else set_value(text)
        error = set_path(values, pname, value)
        if error:
            ctx.note(app, f"{where}helm parameter {pname!r} is not applied: {error}")
    if _list(helm.get("fileParameters")):
        ctx.note(app, f"{where}helm.fileParameters are not applied")
    helm_namespace = _str(helm.get("namespace"))
    if helm_namespace and helm_namespace != namespace:
        ctx.note(app, f"{where}helm.namespace {helm_namespace} is not applied; the chart is "
                      f"rendered for namespace {namespace or '(none)'}")
    ctx.instructions.append(RenderInstruction(
        app.label, app.declared_in, app.line, "helm", path, namespace, cluster,
        release=_str(helm.get("releaseName")) or name, values=values,
        value_files=tuple(value_files)))


def _argo_value_file(ctx: _Context, app: _App, where: str, raw: str, chart_path: str,
                     refs: Mapping[str, Mapping[str, Any]], env: Mapping[str, str],
                     ignore_missing: bool) -> str | bool | None:
    """The repository-relative value file `raw` names; None to leave it out (with a note
    where needed); False when the app cannot be rendered (noted)."""
    if raw.startswith("$"):
        ref_name, _, rest = raw[1:].partition("/")
        ref = refs.get(ref_name)
        if ref is None:
            ctx.note(app, f"{where}value file {raw}: no source has ref {ref_name!r}; "
                          "not rendered")
            return False
        if not ctx.is_this_repo(ref.get("repoURL")):
            shown = display_url(_str(ref.get("repoURL")) or "(none)")
            ctx.note(app, f"{where}value file {raw} is in repository {shown}, not this "
                          "one; rendered without it")
            return None
        candidate = repo_path(_envsubst(rest, env))
    else:
        text = _envsubst(raw, env)
        if _SCHEME.match(text):
            ctx.note(app, f"{where}remote value file {display_url(text)} is not fetched; "
                          "rendered without it")
            return None
        candidate = repo_path(text) if text.startswith("/") \
            else repo_path(posixpath.join(chart_path, text))
    if candidate is None:
        ctx.note(app, f"{where}value file {raw} leads out of the repository; Argo CD "
                      "refuses it; not rendered")
        return False
    if ctx.file(candidate) is None:
        if ignore_missing:
            return None
        ctx.note(app, f"{where}value file {candidate} does not exist; Argo CD cannot render "
                      "the app; not rendered")
        return False
    return candidate


_ENV_VAR = re.compile(r"\$(?:\{([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*)|(\$))")


def _envsubst(text: str, env: Mapping[str, str]) -> str:
    """Argo CD's build-environment substitution ($VAR, ${VAR}, $$ for $); unknown
    variables are empty, as there."""
    def replace(match: re.Match[str]) -> str:
        if match[3]:
            return "$"
        return env.get(match[1] if match[1] is not None else match[2], "")
    return _ENV_VAR.sub(replace, text)


# --------------------------------------------------------------------------------------
# Argo CD ApplicationSet


_GENERATORS = ("list", "git", "clusters", "scmProvider", "pullRequest", "matrix", "merge",
               "clusterDecisionResource", "plugin")


def _argo_application_set(ctx: _Context, manifest: Manifest) -> None:
    label = _label("ApplicationSet", manifest)
    where = manifest.location.path or ""
    line = manifest.location.line
    appset = _App(label, where, line)
    spec = _map(manifest.obj.get("spec"))
    go = spec.get("goTemplate") is True
    options = [o for o in _list(spec.get("goTemplateOptions")) if isinstance(o, str)]
    if spec.get("templatePatch"):
        ctx.note(appset, "templatePatch is not evaluated; the generated applications are "
                         "not rendered")
        return
    template = _map(spec.get("template"))
    names: set[str] = set()
    for number, generator in enumerate(_list(spec.get("generators")), start=1):
        generator = _map(generator)
        kinds = [k for k in generator if k != "selector" and generator[k] is not None]
        if kinds == ["list"]:
            result = _list_generator(_map(generator["list"]), go)
            gen_template = _map(_map(generator["list"]).get("template"))
        elif kinds == ["git"]:
            result = _git_generator(ctx, _map(generator["git"]), go, options)
            gen_template = _map(_map(generator["git"]).get("template"))
        else:
            named = ", ".join(kinds) or "(empty)"
            ctx.note(appset, f"generator {number} ({named}) is not evaluated (only list and "
                             "git directories generators are); its applications are not "
                             "rendered")
            continue
        if isinstance(result, str):
            ctx.note(appset, f"generator {number} ({kinds[0]}): {result}; its applications "
                             "are not rendered")
            continue
        merged = _merge_missing(gen_template, template)
        selector = generator.get("selector")
        for element, params in enumerate(result, start=1):
            if selector is not None:
                matched = _selector_matches(_map(selector), params)
                if matched is None:
                    ctx.note(appset, f"generator {number}: its selector is not understood; "
                                     "its applications are not rendered")
                    break
                if not matched:
                    continue
            try:
                rendered = _render_template(merged, params, go, options)
            except TemplateError as exc:
                ctx.note(appset, f"generator {number}, parameter set {element}: template "
                                 f"not evaluated: {exc}; that application is not rendered")
                continue
            rendered = _map(rendered)
            name = _map(rendered.get("metadata")).get("name")
            if not isinstance(name, str) or not name or "{{" in name:
                ctx.note(appset, f"generator {number}, parameter set {element}: the "
                                 f"application has no usable name ({name!r}); not rendered")
                continue
            if name in names:
                ctx.note(appset, f"generator {number}: application name {name} is generated "
                                 "twice; the second is not rendered")
                continue
            names.add(name)
            app = _App(f"{label} ({name})", where, line)
            _argo_app_spec(ctx, app, name, _map(rendered.get("spec")))


def _list_generator(generator: Mapping[str, Any], go: bool) -> list[dict[str, Any]] | str:
    elements: list[Any] = list(_list(generator.get("elements")))
    elements_yaml = generator.get("elementsYaml")
    if isinstance(elements_yaml, str) and elements_yaml.strip():
        docs = list(parse_yaml(elements_yaml))
        if not docs or not isinstance(docs[0], Document) or not isinstance(docs[0].data, list):
            return "elementsYaml is not a YAML list"
        extra = docs[0].data
    else:
        extra = []
    result: list[dict[str, Any]] = []
    for element in elements:
        if not isinstance(element, Mapping):
            return "a list element is not a mapping"
        if go:
            result.append(_go_data(element))
            continue
        params: dict[str, Any] = {}
        for key, value in element.items():
            if key == "values" and isinstance(value, Mapping):
                for sub, sub_value in value.items():
                    if not isinstance(sub_value, str):
                        return f"element value values.{sub} is not a string (Argo CD needs " \
                               "strings unless goTemplate is true)"
                    params[f"values.{sub}"] = sub_value
            elif isinstance(value, str):
                params[key] = value
            else:
                return f"element value {key} is not a string (Argo CD needs strings unless " \
                       "goTemplate is true)"
        result.append(params)
    for element in extra:
        if not isinstance(element, Mapping):
            return "an elementsYaml element is not a mapping"
        result.append(_go_data(element) if go else dict(element))
    return result


def _git_generator(ctx: _Context, generator: Mapping[str, Any], go: bool,
                   options: Sequence[str]) -> list[dict[str, Any]] | str:
    repo_url = _str(generator.get("repoURL")) or ""
    if not ctx.is_this_repo(repo_url):
        return f"repository {display_url(repo_url) or '(none)'} is not this repository"
    directories = [_map(d) for d in _list(generator.get("directories"))]
    if not directories:
        if _list(generator.get("files")):
            return "the git files generator is not evaluated"
        return "neither directories nor files are given"
    patterns: list[tuple[re.Pattern[str], bool]] = []
    for item in directories:
        pattern = item.get("path")
        compiled = go_glob(pattern) if isinstance(pattern, str) else None
        if compiled is None:
            # Argo CD logs a malformed pattern and goes on without it.
            continue
        patterns.append((compiled, item.get("exclude") is True))
    selected = []
    for directory in ctx.directories():
        included = any(p.fullmatch(directory) for p, exclude in patterns if not exclude)
        excluded = any(p.fullmatch(directory) for p, exclude in patterns if exclude)
        if included and not excluded:
            selected.append(directory)
    prefix = _str(generator.get("pathParamPrefix"))
    values = {k: v for k, v in _map(generator.get("values")).items() if isinstance(v, str)}
    result = []
    for directory in selected:
        base = posixpath.basename(directory)
        params: dict[str, Any] = {}
        if go:
            fields = {"path": directory, "basename": base,
                      "basenameNormalized": sanitize_name(base),
                      "segments": directory.split("/")}
            if prefix:
                params[prefix] = {"path": fields}
            else:
                params["path"] = fields
        else:
            name = f"{prefix}.path" if prefix else "path"
            params[name] = directory
            params[f"{name}.basename"] = base
            params[f"{name}.basenameNormalized"] = sanitize_name(base)
            for i, segment in enumerate(directory.split("/")):
                if segment:
                    params[f"{name}[{i}]"] = segment
        if values:
            try:
                rendered = {k: replace(v, params, go, options) for k, v in values.items()}
            except TemplateError as exc:
                return f"values not evaluated: {exc}"
            if go:
                params["values"] = rendered
            else:
                params.update({f"values.{k}": v for k, v in rendered.items()})
        result.append(params)
    return result


def _merge_missing(dest: Any, src: Any) -> Any:
    """`src` filled into the empty fields of `dest` (mergo.Merge without override): how a
    generator's own template is completed by the ApplicationSet's."""
    if isinstance(dest, Mapping) and isinstance(src, Mapping):
        out = dict(dest)
        for key, value in src.items():
            if key not in out or _is_zero(out[key]):
                out[key] = value
            elif isinstance(out[key], Mapping) and isinstance(value, Mapping):
                out[key] = _merge_missing(out[key], value)
        return out
    return src if _is_zero(dest) else dest


def _is_zero_deep(value: Any) -> bool:
    if isinstance(value, Mapping):
        return all(_is_zero_deep(v) for v in value.values())
    return _is_zero(value)


def _is_zero(value: Any) -> bool:
    return value is None or value is False or value in ("", 0) or \
        (isinstance(value, (list, Mapping)) and not value)


def _selector_matches(selector: Mapping[str, Any], params: Mapping[str, Any]) -> bool | None:
    """A label selector over the string parameters; None when it is malformed."""
    labels = {k: v for k, v in params.items() if isinstance(v, str)}
    for key, value in _map(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for item in _list(selector.get("matchExpressions")):
        expression = _map(item)
        label = expression.get("key")
        operator = expression.get("operator")
        values = _list(expression.get("values"))
        if not isinstance(label, str):
            return None
        key = label
        if operator == "In":
            ok = key in labels and labels[key] in values
        elif operator == "NotIn":
            ok = key not in labels or labels[key] not in values
        elif operator == "Exists":
            ok = key in labels
        elif operator == "DoesNotExist":
            ok = key not in labels
        else:
            return None
        if not ok:
            return False
    return True


_INVALID_DNS = re.compile(r"[^-a-z0-9.]")


def sanitize_name(name: str) -> str:
    """Argo CD's `normalize`: lowercase, other characters than [-a-z0-9.] become `-`, at
    most 253 characters, no leading or trailing `-` or `.`."""
    return _INVALID_DNS.sub("-", name.lower())[:253].strip("-.")


def go_glob(pattern: str) -> re.Pattern[str] | None:
    """Go's `path.Match` pattern as a regular expression to `fullmatch`: `*` and `?` do not
    match `/`, `[...]` / `[^...]` classes, `\\` escapes. None when Go finds it malformed."""
    out: list[str] = []
    i, n = 0, len(pattern)

    def escaped(j: int) -> tuple[str, int] | None:
        if j >= n or pattern[j] in "-]":
            return None
        if pattern[j] == "\\":
            j += 1
            if j >= n:
                return None
        return pattern[j], j + 1

    while i < n:
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "\\":
            if i + 1 >= n:
                return None
            out.append(re.escape(pattern[i + 1]))
            i += 2
        elif c == "[":
            i += 1
            negate = i < n and pattern[i] == "^"
            if negate:
                i += 1
            ranges: list[str] = []
            while True:
                if i >= n:
                    return None
                if pattern[i] == "]" and ranges:
                    i += 1
                    break
                low = escaped(i)
                if low is None:
                    return None
                lo, i = low
                hi = lo
                if i < n and pattern[i] == "-":
                    high = escaped(i + 1)
                    if high is None:
                        return None
                    hi, i = high
                    if hi < lo:
                        return None
                ranges.append(re.escape(lo) + ("-" + re.escape(hi) if hi != lo else ""))
            out.append("[" + ("^" if negate else "") + "".join(ranges) + "]")
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out), re.DOTALL)


# --------------------------------------------------------------------------------------
# ApplicationSet templates


class TemplateError(Exception):
    """A template that is not evaluated here, or that Argo CD would fail on."""


def _render_template(node: Any, params: Mapping[str, Any], go: bool,
                     options: Sequence[str]) -> Any:
    """Every string (and mapping key) of the template with the parameters substituted."""
    if isinstance(node, str):
        return replace(node, params, go, options)
    if isinstance(node, Mapping):
        return {replace(k, params, go, options) if isinstance(k, str) else k:
                _render_template(v, params, go, options) for k, v in node.items()}
    if isinstance(node, list):
        return [_render_template(v, params, go, options) for v in node]
    return node


_TEMPLATED = re.compile(r"{{.*}}")


def replace(text: str, params: Mapping[str, Any], go: bool,
            options: Sequence[str] = ()) -> str:
    """One string of an ApplicationSet template rendered as Argo CD does."""
    if go:
        if "{{" not in text:
            return text
        return GoTemplate(text, options).execute(params)
    if not _TEMPLATED.search(text):
        return text
    out: list[str] = []
    pos = 0
    while True:
        start = text.find("{{", pos)
        if start < 0:
            out.append(text[pos:])
            return "".join(out)
        end = text.find("}}", start + 2)
        if end < 0:
            raise TemplateError(f"cannot find the end of {{{{ in {text!r}")
        out.append(text[pos:start])
        tag = text[start + 2:end]
        value = params.get(tag.strip())
        out.append(value if tag.strip() and isinstance(value, str) else "{{" + tag + "}}")
        pos = end + 2


def _go_data(value: Any) -> Any:
    """Data as Go sees it after `json.Unmarshal`: every number a float64."""
    if isinstance(value, Mapping):
        return {k: _go_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_go_data(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


_MISSING = object()


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # field, string, number, bool, nil, ident, pipe, lparen, rparen, var
    text: str
    value: Any = None


_KEYWORDS = frozenset({"if", "else", "end", "range", "with", "define", "template", "block",
                       "break", "continue"})


class GoTemplate:
    """The subset of Go's text/template that ApplicationSets commonly use (see the module's
    notes). Raises TemplateError for the rest."""

    def __init__(self, text: str, options: Sequence[str] = ()) -> None:
        self.text = text
        self.missing_error = any(o.replace(" ", "") == "missingkey=error" for o in options)
        self.parts = self._split(text)

    def execute(self, data: Mapping[str, Any]) -> str:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                out.append(_go_print(self._pipeline(part, data)))
        return "".join(out)

    # Lexing: the text into literal parts and the token lists of actions.

    def _split(self, text: str) -> list[str | list[_Token]]:
        parts: list[str | list[_Token]] = []
        pos = 0
        trim_next = False
        while True:
            start = text.find("{{", pos)
            literal = text[pos:] if start < 0 else text[pos:start]
            if trim_next:
                literal = literal.lstrip(" \t\r\n")
            if start < 0:
                parts.append(literal)
                return parts
            inner_start = start + 2
            if text.startswith("- ", inner_start) or text.startswith("-\t", inner_start) \
                    or text.startswith("-\n", inner_start):
                literal = literal.rstrip(" \t\r\n")
                inner_start += 1
            parts.append(literal)
            tokens, end, trim_next = self._lex_action(text, inner_start)
            if tokens:
                parts.append(tokens)
            pos = end

    def _lex_action(self, text: str, i: int) -> tuple[list[_Token], int, bool]:
        tokens: list[_Token] = []
        n = len(text)
        while True:
            while i < n and text[i] in " \t\r\n":
                i += 1
            if i >= n:
                raise TemplateError(f"unclosed action in {self.text!r}")
            if text.startswith("}}", i):
                return tokens, i + 2, False
            if text.startswith("-}}", i) and i > 0 and text[i - 1] in " \t\r\n":
                return tokens, i + 3, True
            if text.startswith("/*", i):
                end = text.find("*/", i + 2)
                if end < 0:
                    raise TemplateError(f"unclosed comment in {self.text!r}")
                i = end + 2
                continue
            c = text[i]
            if c == "|":
                tokens.append(_Token("pipe", c))
                i += 1
            elif c == "(":
                tokens.append(_Token("lparen", c))
                i += 1
            elif c == ")":
                tokens.append(_Token("rparen", c))
                i += 1
            elif c == '"':
                j = i + 1
                chars: list[str] = []
                while j < n and text[j] != '"':
                    if text[j] == "\\" and j + 1 < n:
                        chars.append({"n": "\n", "t": "\t", "\\": "\\", '"': '"'}
                                     .get(text[j + 1], "\\" + text[j + 1]))
                        j += 2
                    else:
                        chars.append(text[j])
                        j += 1
                if j >= n:
                    raise TemplateError(f"unterminated string in {self.text!r}")
                tokens.append(_Token("string", text[i:j + 1], "".join(chars)))
                i = j + 1
            elif c == "`":
                j = text.find("`", i + 1)
                if j < 0:
                    raise TemplateError(f"unterminated raw string in {self.text!r}")
                tokens.append(_Token("string", text[i:j + 1], text[i + 1:j]))
                i = j + 1
            elif c == "." or c == "$":
                match = re.compile(r"[.$][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*") \
                    .match(text, i)
                assert match is not None
                word = match.group()
                tokens.append(_Token("var" if c == "$" else "field", word))
                i = match.end()
            elif c.isdigit() or (c == "-" and i + 1 < n and text[i + 1].isdigit()):
                match = re.compile(r"-?\d+(?:\.\d+)?").match(text, i)
                assert match is not None
                word = match.group()
                tokens.append(_Token("number", word, float(word) if "." in word else int(word)))
                i = match.end()
            elif c.isalpha() or c == "_":
                match = re.compile(r"[A-Za-z_][A-Za-z0-9_]*").match(text, i)
                assert match is not None
                word = match.group()
                if word in _KEYWORDS:
                    raise TemplateError(f"{{{{{word}}}}} actions are not evaluated here")
                if word in ("true", "false"):
                    tokens.append(_Token("bool", word, word == "true"))
                elif word == "nil":
                    tokens.append(_Token("nil", word))
                else:
                    tokens.append(_Token("ident", word))
                i = match.end()
            else:
                raise TemplateError(f"unexpected {c!r} in {self.text!r}")

    # Evaluation.

    def _pipeline(self, tokens: Sequence[_Token], data: Mapping[str, Any]) -> Any:
        commands: list[list[_Token]] = [[]]
        depth = 0
        for token in tokens:
            if token.kind == "lparen":
                depth += 1
            elif token.kind == "rparen":
                depth -= 1
                if depth < 0:
                    raise TemplateError(f"unbalanced ) in {self.text!r}")
            if token.kind == "pipe" and depth == 0:
                commands.append([])
            else:
                commands[-1].append(token)
        if depth != 0:
            raise TemplateError(f"unbalanced ( in {self.text!r}")
        result: Any = _MISSING
        for command in commands:
            if not command:
                raise TemplateError(f"empty command in {self.text!r}")
            result = self._command(command, data, result)
        return result

    def _command(self, tokens: Sequence[_Token], data: Mapping[str, Any], piped: Any) -> Any:
        operands = self._operands(tokens, data)
        head = operands[0]
        if isinstance(head, _Token) and head.kind == "ident":  # a function
            args = [self._value(a, data) for a in operands[1:]]
            if piped is not _MISSING:
                args.append(piped)
            function = _GO_FUNCTIONS.get(head.text)
            if function is None:
                raise TemplateError(f"function {head.text!r} is not evaluated here")
            try:
                return function(*args)
            except TemplateError:
                raise
            except (TypeError, ValueError, IndexError, KeyError) as exc:
                raise TemplateError(f"{head.text}: {exc}") from None
        if len(operands) > 1 or piped is not _MISSING:
            raise TemplateError(f"cannot call a value with arguments in {self.text!r}")
        return self._value(head, data)

    def _operands(self, tokens: Sequence[_Token], data: Mapping[str, Any]) -> list[Any]:
        """Tokens grouped into operands: a parenthesised pipeline is evaluated, an ident is
        kept as a token (a function), anything else is kept for `_value`."""
        operands: list[Any] = []
        i = 0
        while i < len(tokens):
            token = tokens[i]
            if token.kind == "lparen":
                depth, j = 1, i + 1
                while depth:
                    if tokens[j].kind == "lparen":
                        depth += 1
                    elif tokens[j].kind == "rparen":
                        depth -= 1
                    j += 1
                operands.append(_Evaluated(self._pipeline(tokens[i + 1:j - 1], data)))
                i = j
                continue
            if token.kind == "ident" and operands:
                raise TemplateError(f"function {token.text!r} as an argument needs "
                                    "parentheses")
            operands.append(token)
            i += 1
        return operands

    def _value(self, operand: Any, data: Mapping[str, Any]) -> Any:
        if isinstance(operand, _Evaluated):
            return operand.value
        token: _Token = operand
        if token.kind in ("string", "number", "bool"):
            return token.value
        if token.kind == "nil":
            raise TemplateError("nil is not a command")
        if token.kind == "var":
            raise TemplateError(f"variables ({token.text}) are not evaluated here")
        if token.kind == "ident":
            raise TemplateError(f"function {token.text!r} used as a value")
        if token.kind == "field":
            return self._field(token.text, data)
        raise TemplateError(f"unexpected {token.text!r}")

    def _field(self, chain: str, data: Any) -> Any:
        if chain == ".":
            return data
        current: Any = data
        names = chain[1:].split(".")
        for position, name in enumerate(names):
            if isinstance(current, Mapping):
                if name in current:
                    current = current[name]
                elif self.missing_error:
                    raise TemplateError(f"map has no entry for key {name!r} "
                                        "(missingkey=error)")
                else:
                    current = None
            elif current is None:
                shown = "." + ".".join(names[:position])
                raise TemplateError(f"nil pointer evaluating {shown}.{name}")
            else:
                raise TemplateError(f"can't evaluate field {name} in a "
                                    f"{type(current).__name__}")
        return current


@dataclass(frozen=True, slots=True)
class _Evaluated:
    value: Any


def _go_print(value: Any) -> str:
    if value is None or value is _MISSING:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    raise TemplateError(f"printing a {type(value).__name__} is not evaluated here")


def go_float(value: float) -> str:
    """`fmt.Sprint(float64)`: the shortest digits that read back the same, in exponent form
    (`1e+06`, `1.5e-05`) when the exponent is below -4 or at least 6, as Go's `%v` does."""
    if math.isnan(value):
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    number = Decimal(repr(abs(value))).normalize()
    _sign, digit_tuple, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(str(d) for d in digit_tuple)
    exp10 = len(digits) + exponent - 1
    sign = "-" if value < 0 else ""
    if exp10 < -4 or exp10 >= 6:
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{body}e{'+' if exp10 >= 0 else '-'}{abs(exp10):02d}"
    return sign + format(number, "f")


def _go_index(item: Any, *keys: Any) -> Any:
    current = item
    for key in keys:
        if isinstance(current, Mapping):
            if not isinstance(key, str):
                raise TemplateError("index of a map needs a string key")
            current = current.get(key)
        elif isinstance(current, (list, str)):
            if isinstance(key, float) and key.is_integer():
                key = int(key)
            if not isinstance(key, int) or isinstance(key, bool):
                raise TemplateError("index of a list needs an integer")
            if not 0 <= key < len(current):
                raise TemplateError(f"index out of range: {key}")
            current = current[key]
        elif current is None:
            raise TemplateError("index of untyped nil")
        else:
            raise TemplateError(f"can't index item of type {type(current).__name__}")
    return current


def _go_string(value: Any) -> str:
    if value is None:
        return ""
    return _go_print(value)


def _go_empty(value: Any) -> bool:
    return value is None or value is False or value in ("", 0) or \
        (isinstance(value, (list, Mapping)) and not value)


def _go_quote(*values: Any) -> str:
    out = []
    for value in values:
        if value is not None:
            text = _go_string(value).replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'"{text}"')
    return " ".join(out)


_GO_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "index": _go_index,
    "lower": lambda s: _go_string(s).lower(),
    "upper": lambda s: _go_string(s).upper(),
    "trim": lambda s: _go_string(s).strip(" \t\n\r\v\f"),
    "trimPrefix": lambda prefix, s: _go_string(s).removeprefix(_go_string(prefix)),
    "trimSuffix": lambda suffix, s: _go_string(s).removesuffix(_go_string(suffix)),
    "replace": lambda old, new, s: _go_string(s).replace(_go_string(old), _go_string(new)),
    "default": lambda default, *given: default if not given or _go_empty(given[0])
    else given[0],
    "quote": _go_quote,
    "normalize": lambda s: sanitize_name(_go_string(s)),
}


# --------------------------------------------------------------------------------------
# Flux


def _flux_kubeconfig(spec: Mapping[str, Any]) -> str | None:
    kube_config = _map(spec.get("kubeConfig"))
    return _str(_map(kube_config.get("secretRef")).get("name")) \
        or _str(_map(kube_config.get("configMapRef")).get("name"))


def _flux_git_source(ctx: _Context, app: _App, ref: Mapping[str, Any],
                     default_namespace: str | None, what: str) -> bool:
    """Whether `ref` is a GitRepository of the estate pointing at this repository (noted
    when not)."""
    kind = _str(ref.get("kind")) or "(no kind)"
    name = _str(ref.get("name")) or "(no name)"
    namespace = _str(ref.get("namespace")) or default_namespace
    shown = f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"
    if kind != "GitRepository":
        ctx.note(app, f"{what} {shown} is not fetched (only GitRepository sources of this "
                      "repository are rendered); not rendered")
        return False
    source = ctx.find(FLUX_SOURCE_GROUP, "GitRepository", namespace, name)
    if source is None:
        ctx.note(app, f"source {shown} is not declared in the repository; not rendered")
        return False
    url = _str(_map(source.obj.get("spec")).get("url")) or ""
    if not ctx.is_this_repo(url):
        ctx.note(app, f"source {shown} is repository {display_url(url) or '(none)'}, not this "
                      "repository; not rendered")
        return False
    return True


_FLUX_KUSTOMIZE_OVERRIDES = ("namePrefix", "nameSuffix", "images", "patches", "components",
                             "commonMetadata", "postBuild")


def _flux_kustomization(ctx: _Context, manifest: Manifest) -> None:
    app = _App(_label("Kustomization", manifest), manifest.location.path or "",
               manifest.location.line)
    spec = _map(manifest.obj.get("spec"))
    namespace = manifest.resource.namespace
    if not _flux_git_source(ctx, app, _map(spec.get("sourceRef")), namespace, "source"):
        return
    found = ctx.app_directory(app, spec.get("path"))
    if found is None:
        return
    path, directory = found
    has_kustomization = any((directory / n).is_file() for n in KUSTOMIZATION_FILES)
    overrides = _truthy_keys(spec, _FLUX_KUSTOMIZE_OVERRIDES)
    if overrides:
        ctx.note(app, f"not applied: {_fields(overrides)}; {path} is rendered as written")
    ctx.instructions.append(RenderInstruction(
        app.label, app.declared_in, app.line,
        "kustomize" if has_kustomization else "directory", path,
        _str(spec.get("targetNamespace")), _flux_kubeconfig(spec),
        directory_recurse=not has_kustomization))


_FLUX_HELM_OVERRIDES = ("postRenderers", "commonMetadata")


def _flux_helm_release(ctx: _Context, manifest: Manifest) -> None:
    app = _App(_label("HelmRelease", manifest), manifest.location.path or "",
               manifest.location.line)
    spec = _map(manifest.obj.get("spec"))
    namespace = manifest.resource.namespace
    chart_ref = _map(spec.get("chartRef"))
    chart_spec: Mapping[str, Any]
    source_namespace = namespace
    if chart_ref:
        ref_kind = _str(chart_ref.get("kind")) or "(no kind)"
        ref_name = _str(chart_ref.get("name")) or "(no name)"
        ref_namespace = _str(chart_ref.get("namespace")) or namespace
        if ref_kind != "HelmChart":
            ctx.note(app, f"chart from {ref_kind} {ref_name} is not fetched; not rendered")
            return
        helm_chart = ctx.find(FLUX_SOURCE_GROUP, "HelmChart", ref_namespace, ref_name)
        if helm_chart is None:
            ctx.note(app, f"HelmChart {ref_name} is not declared in the repository; "
                          "not rendered")
            return
        chart_spec = _map(helm_chart.obj.get("spec"))
        source_namespace = ref_namespace
    else:
        chart_spec = _map(_map(spec.get("chart")).get("spec"))
        if not chart_spec:
            ctx.note(app, "neither spec.chart nor spec.chartRef is set; not rendered")
            return
    source_ref = _map(chart_spec.get("sourceRef"))
    chart_name = _str(chart_spec.get("chart")) or ""
    if source_ref.get("kind") == "HelmRepository":
        ctx.note(app, f"chart {chart_name} from a Helm repository (HelmRepository "
                      f"{_str(source_ref.get('name')) or '(no name)'}) is not fetched; "
                      "not rendered")
        return
    if not _flux_git_source(ctx, app, source_ref, source_namespace,
                            f"chart {chart_name} from"):
        return
    path = repo_path(chart_name)
    if path is None:
        ctx.note(app, f"chart path {chart_name!r} leads out of the repository; not rendered")
        return
    directory = ctx.directory(path)
    if directory is None or not (directory / "Chart.yaml").is_file():
        ctx.note(app, f"chart path {path} is not a chart directory (no Chart.yaml) in the "
                      "repository; not rendered")
        return
    value_files: list[str] = []
    raw_files = [f for f in _list(chart_spec.get("valuesFiles")) if isinstance(f, str)]
    if not raw_files and _str(chart_spec.get("valuesFile")):
        raw_files = [chart_spec["valuesFile"]]
    for raw in raw_files:
        resolved = repo_path(raw)
        if resolved is None:
            ctx.note(app, f"values file {raw} leads out of the repository; not rendered")
            return
        if ctx.file(resolved) is None:
            if chart_spec.get("ignoreMissingValuesFiles") is True:
                continue
            ctx.note(app, f"values file {resolved} does not exist; Flux cannot build the "
                          "chart; not rendered")
            return
        value_files.append(resolved)
    values = _flux_values(ctx, app, spec, namespace)
    if values is None:
        return
    overrides = _truthy_keys(spec, _FLUX_HELM_OVERRIDES)
    if overrides:
        ctx.note(app, f"not applied: {_fields(overrides)}; the chart is rendered without "
                      "them")
    target = _str(spec.get("targetNamespace"))
    name = manifest.resource.name
    release = _str(spec.get("releaseName")) or (f"{target}-{name}" if target else name)
    ctx.instructions.append(RenderInstruction(
        app.label, app.declared_in, app.line, "helm", path, target or namespace,
        _flux_kubeconfig(spec), release=shorten_release_name(release), values=values,
        value_files=tuple(value_files)))


def shorten_release_name(name: str) -> str:
    """Flux's release name shortening: names over 53 characters become their first 40
    characters, `-` and 12 hex digits of their SHA-256."""
    if len(name) <= 53:
        return name
    return name[:40] + "-" + hashlib.sha256(name.encode()).hexdigest()[:12]


def _flux_values(ctx: _Context, app: _App, spec: Mapping[str, Any],
                 namespace: str | None) -> dict[str, Any] | None:
    """spec.values merged over the valuesFrom sources, as helm-controller does; None when
    the release cannot be rendered (noted).

    helm-controller merges spec.values in before setting a `targetPath` value and again at
    the end, on maps that share their nested mappings: a `targetPath` below a mapping that
    spec.values sets wins over it, a top-level one loses to spec.values. The same merge and
    in-place set here give the same result."""
    inline = spec.get("values")
    inline_values = _deep_copy(inline) if isinstance(inline, Mapping) else {}
    result: dict[str, Any] = {}
    for reference in _list(spec.get("valuesFrom")):
        reference = _map(reference)
        kind = reference.get("kind")
        name = _str(reference.get("name")) or "(no name)"
        key = _str(reference.get("valuesKey")) or "values.yaml"
        optional = reference.get("optional") is True
        target_path = _str(reference.get("targetPath"))
        shown = f"{kind} {name} key {key}"
        if kind not in ("ConfigMap", "Secret"):
            ctx.note(app, f"valuesFrom kind {kind!r} is not supported by Flux; not rendered")
            return None
        source = ctx.find("", kind, namespace, name)
        if source is None:
            if not optional:
                ctx.note(app, f"values {kind} {name} is not declared in the repository; "
                              "rendered without it")
            continue
        data = _object_data(source.obj)
        if data is None:
            ctx.note(app, f"values {kind} {name} is encrypted or unreadable here; rendered "
                          "without it")
            continue
        if key not in data:
            ctx.note(app, f"values {shown} does not exist; rendered without it")
            continue
        text = data[key]
        if target_path:
            result = merge_maps(result, inline_values)
            if reference.get("literal") is True:
                value: Any = text
            elif len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
                value = text.strip("'\"")
            elif "," in text or text.startswith("{"):
                ctx.note(app, f"values {shown} holds Helm --set syntax (a comma or braces) "
                              "that is not evaluated here; rendered without it (set "
                              "literal: true to take it whole)")
                continue
            else:
                value = set_value(text)
            error = set_path(result, target_path, value)
            if error:
                ctx.note(app, f"values {shown}: targetPath {target_path!r} {error}; "
                              "rendered without it")
            continue
        parsed = parse_values(text) if kind == "ConfigMap" else parse_values(text, quote=False)
        if isinstance(parsed, str):
            ctx.note(app, f"values {shown} {parsed}; Flux cannot use it; not rendered")
            return None
        result = merge_maps(result, parsed)
    return merge_maps(result, inline_values)


def _object_data(obj: Mapping[str, Any]) -> dict[str, str] | None:
    """The string data of a ConfigMap, or the decoded data of a Secret (None when it is
    SOPS-encrypted or not decodable)."""
    if obj.get("kind") == "ConfigMap":
        return {k: v for k, v in _map(obj.get("data")).items() if isinstance(v, str)}
    if "sops" in obj:
        return None
    data: dict[str, str] = {}
    for key, value in _map(obj.get("data")).items():
        if not isinstance(value, str):
            continue
        try:
            data[key] = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
    for key, value in _map(obj.get("stringData")).items():
        if isinstance(value, str):
            data[key] = value
    return data


# --------------------------------------------------------------------------------------
# Helm values


def parse_values(text: str, *, quote: bool = True) -> dict[str, Any] | str:
    """A values document as Helm reads it (the first YAML document, a mapping; empty is
    {}), or what is wrong with it. `quote=False` keeps the text out of the message (the
    values of a Secret)."""
    for entry in parse_yaml(text):
        if isinstance(entry, Document):
            if entry.data is None:
                return {}
            if not isinstance(entry.data, Mapping):
                return "is not a YAML mapping"
            return _deep_copy(entry.data)
        where = f" (line {entry.line})" if entry.line else ""
        return f"is not valid YAML{where}" + (f": {entry.message}" if quote else "")
    return {}


merge_maps = merge_over
"""`overlay` merged over `base` as Helm's and Flux's MergeMaps do (checker.mappings)."""


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def set_value(text: str) -> Any:
    """A `--set` value as Helm types it: true/false/null, integers without a leading zero,
    `{a,b}` lists; anything else a string."""
    if len(text) >= 2 and text[0] == "{" and text[-1] == "}":
        inner = text[1:-1]
        return [_typed(part) for part in inner.split(",")] if inner else []
    return _typed(text)


def _typed(text: str) -> Any:
    lowered = text.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    if lowered == "null":
        return None
    if text == "0":
        return 0
    if text and text[0] != "0" and re.fullmatch(r"[+-]?\d+", text):
        number = int(text)
        if -(2 ** 63) <= number < 2 ** 63:
            return number
    return text


def _path_segments(path: str) -> list[str | int] | None:
    """`a.b[0].c\\.d` → ["a", "b", 0, "c.d"]; None when malformed."""
    segments: list[str | int] = []
    name: list[str] = []
    i, n = 0, len(path)
    pending = False  # a name is being read (or must be, after a dot)
    while i < n:
        c = path[i]
        if c == "\\" and i + 1 < n:
            name.append(path[i + 1])
            pending = True
            i += 2
        elif c == ".":
            if name:
                segments.append("".join(name))
                name = []
            elif not segments or not isinstance(segments[-1], int):
                return None
            pending = True
            i += 1
        elif c == "[":
            if name:
                segments.append("".join(name))
                name = []
            elif not segments:
                return None
            end = path.find("]", i)
            if end < 0 or not path[i + 1:end].isdigit():
                return None
            segments.append(int(path[i + 1:end]))
            pending = False
            i = end + 1
        else:
            name.append(c)
            pending = True
            i += 1
    if name:
        segments.append("".join(name))
    elif pending:
        return None
    return segments or None


def set_path(values: dict[str, Any], path: str, value: Any) -> str | None:
    """Set `value` at the Helm `--set` path in `values` (creating what is missing); what is
    wrong with the path, or None."""
    segments = _path_segments(path)
    if segments is None or not isinstance(segments[0], str):
        return "is not a valid value path"
    current: Any = values
    for position, segment in enumerate(segments):
        last = position == len(segments) - 1
        following = None if last else segments[position + 1]
        fresh: Any = [] if isinstance(following, int) else {}
        if isinstance(segment, str):
            if last:
                current[segment] = value
                return None
            child = current.get(segment)
            if not isinstance(child, (dict, list)) or \
                    isinstance(child, list) != isinstance(following, int):
                child = fresh
                current[segment] = child
            current = child
        else:
            if segment > 65536:
                return "has an index too large"
            while len(current) <= segment:
                current.append(None)
            if last:
                current[segment] = value
                return None
            child = current[segment]
            if not isinstance(child, (dict, list)) or \
                    isinstance(child, list) != isinstance(following, int):
                child = fresh
                current[segment] = child
            current = child
    return None
