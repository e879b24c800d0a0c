"""The render stage: load what is written, render what the deployer renders, and hand the
pipeline the objects that reach the cluster, each located in the file a person edits.

Files that a kustomization reads (resources, patches) are not checked on their own: a patch
is not an object, and a base's Deployment is checked as each overlay renders it. What cannot
be rendered here is said: a remote base is finding RND001 (exit 2 with `render.strict`), an
overlay that does not build is an error (its objects went unchecked).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checker.cache import RenderCache, binary_signature, git_config_files
from checker.discover import (
    Candidate,
    Skipped,
    forget_real_paths,
    real_path,
    relative_display,
    repository_top,
)
from checker.kinds import is_cluster_scoped
from checker.load import LoadResult, ReadAhead, available_cores, load
from checker.model import Location, Manifest, Resource, RuleInfo, Severity, ToolError, Violation
from checker.render import NotRendered, Rendered, RenderOrigin, apps, helm, kustomize
from checker.render.plain import Parsed, render_plain

RULES = {
    "RND001": RuleInfo(
        "RND001", "not-rendered", Severity.INFO, "policy",
        "Something the deployer renders could not be rendered offline (a remote Kustomize "
        "base, a chart from a registry, an application of another repository): its objects "
        "were not checked.", "python",
        "Vendor the remote base or chart into the repository, or check the repository that "
        "holds it; set `render.strict: true` to fail the run instead."),
}


@dataclass
class RenderSettings:
    strict: bool = False
    """Not-rendered inputs are errors (exit 2) instead of RND001 findings."""
    standalone_bases: bool = False
    """Also check bases on their own, as if applied directly."""
    repo_urls: tuple[str, ...] = ()
    """URLs that mean this repository, besides its git remotes (for Argo CD and Flux apps)."""


@dataclass
class EstateLoad:
    loaded: LoadResult
    not_rendered: list[tuple[NotRendered, bool]] = field(default_factory=list)
    """What could not be rendered, and whether only in part (an app rendered without a
    setting it has, e.g. Flux postBuild substitutions): partial ones are never errors, since
    the objects were checked."""
    inputs: set[Path] = field(default_factory=set)
    """Every file the load read or handed to a renderer (for the result cache): the files
    found, what kustomizations name, every file beside a kustomization (local plug-in
    configurations), and the charts' files."""
    complete_inputs: bool = True
    """False when a renderer read files that are not all in `inputs` (not cacheable)."""


def load_estate(candidates: Sequence[Candidate], *, root: Path,
                default_namespace: str | None, settings: RenderSettings,
                charts: Sequence[Path] = (), kubernetes_version: str | None = None,
                progress: Callable[[], None] | None = None,
                render_cache: RenderCache | None = None) -> EstateLoad:
    """Load the candidates, render what the deployer renders, and return the objects the
    cluster would get: apps (Argo CD, Flux) first, with their destinations and values, then
    the Kustomize overlays and Helm charts no app deploys, as they stand."""
    real_root = root.resolve()
    forget_real_paths()

    @functools.cache
    def display(path: Path) -> str:  # asked again and again of the same paths
        return relative_display(real_path(path), real_root)

    # Half of many files are read by a helper while the Kustomize tree is listed here.
    ahead = ReadAhead.start(candidates, cores=available_cores())
    try:
        directories = {c.path.parent for c in candidates if c.path is not None}
        tree = kustomize.scan(directories, display, repository_top(root))
        consumed = {display(p) for p in tree.consumed_files()}
        loaded = load(candidates, default_namespace=default_namespace, progress=progress,
                      ahead=ahead)
    finally:
        if ahead is not None:
            ahead.close()
    written: dict[str, list[Manifest]] = {}
    for manifest in loaded.manifests:
        written.setdefault(manifest.location.path or "", []).append(manifest)
    kustomize_dirs = {display(d) for d in tree.kustomizations}
    standalone_dirs = {display(d) for d in tree.used_dirs} if settings.standalone_bases \
        else set()
    kept = []
    for manifest in loaded.manifests:
        path = manifest.location.path or ""
        folder = path.rpartition("/")[0] or "."
        if path in consumed and folder not in standalone_dirs:
            continue
        if folder in kustomize_dirs and path not in consumed:
            continue  # not listed by the kustomization in its directory: never deployed
        kept.append(manifest)
    loaded.manifests = kept
    # A patch is not an object; Kustomize itself reports a broken one when it builds.
    loaded.errors = [e for e in loaded.errors
                     if not (e.path in consumed and e.kind == "not-an-object")]
    unlisted = sorted(p for p in written if p not in consumed
                      and (p.rpartition("/")[0] or ".") in kustomize_dirs)
    loaded.skipped.extend(Skipped(p, "not listed by the kustomization of its directory "
                                     "(never deployed)") for p in unlisted)
    result = EstateLoad(loaded)
    result.inputs.update(c.path for c in candidates if c.path is not None)
    # A kustomization appearing where there was none changes what is deployed.
    result.inputs.update(d / name for d in directories for name in kustomize.KUSTOMIZATION_NAMES)
    result.inputs.update(tree.consumed_files())
    for directory, kustomization in tree.kustomizations.items():
        result.inputs.update(kustomization.patch_files)
        result.inputs.update(_files_in(directory))
    for chart in charts:
        _chart_inputs(result, chart)
    # A kustomization that cannot be read would fail the deployer too: its objects went
    # unchecked.
    loaded.errors.extend(ToolError("render", p.reason, p.path, p.line) for p in tree.problems)
    instructions, app_problems = apps.render_instructions(
        [m for group in written.values() for m in group], root=root,
        repos=_repo_identities(root, settings.repo_urls, render_cache))
    rendered_apps = {i.app for i in instructions}
    result.not_rendered.extend((p, p.reason.split(": ", 1)[0] in rendered_apps)
                               for p in app_problems)
    deployed = {(root / i.path).resolve() for i in instructions}
    if any(i.kind == "kustomize" and (root / i.path).resolve() not in tree.kustomizations
           for i in instructions):
        result.complete_inputs = False  # an app builds a directory nobody scanned
    builds = _build_overlays(
        [((root / i.path).resolve(), i.app, i.namespace) for i in instructions
         if i.kind == "kustomize"]
        + [(d, None, None) for d in tree.roots() if d not in deployed], tree, root, display,
        lambda path: loaded.parsed.get(display(path)), render_cache)
    # Plain directories an app deploys are checked as each app deploys them, once per app,
    # instead of as written.
    standalone = list(loaded.manifests)
    claimed: set[tuple[str, int, str]] = set()
    app_copies: list[Manifest] = []
    for instruction in instructions:
        target = (root / instruction.path).resolve()
        if instruction.kind == "kustomize":
            # Flux's targetNamespace sets every namespaced object's namespace (as Kustomize's
            # `namespace:`); Argo CD's destination fills only those that declare none.
            forced = instruction.namespace if instruction.app.startswith("Kustomization ") \
                else None
            _render_overlay(target, tree, result, written, display, builds,
                            default_namespace, instruction.app, instruction.namespace, forced,
                            instruction.cluster)
        elif instruction.kind == "helm":
            _chart_inputs(result, target)
            result.inputs.update(root / f for f in instruction.value_files)
            _render_chart(target, result, written, root, default_namespace, instruction,
                          kubernetes_version, render_cache)
        else:
            copies = _place_directory(standalone, target, display, instruction)
            claimed.update(_identity(m) for m in copies)
            app_copies.extend(copies)
    loaded.manifests = [m for m in loaded.manifests if m.origin is not None
                        or _identity(m) not in claimed] + app_copies
    for directory in tree.roots():
        if directory not in deployed:
            _render_overlay(directory, tree, result, written, display, builds,
                            default_namespace, None, None)
    for chart in charts:
        if chart.resolve() not in deployed:
            _render_chart(chart.resolve(), result, written, root, default_namespace, None,
                          kubernetes_version, render_cache)
    return result


def _repo_identities(root: Path, configured: Sequence[str], cache: RenderCache | None
                     ) -> set[str]:
    """`apps.repo_identities`, with the remotes read without gitpython when it can be
    helped (importing it and reading the configuration cost ~35 ms of a pre-commit run)."""
    return apps.repo_identities(root, configured, remotes=False) | _remotes(root, cache)


def _remotes(root: Path, cache: RenderCache | None) -> set[str]:
    """The remotes' identities: none outside a repository; kept in the render cache
    (normalised: no credentials) by the content of the configuration files, where the
    repository is found as gitpython finds it (`root`'s path has no link, `.git` is a
    directory with a HEAD, not a worktree's `.git` file) and no configuration file includes
    another; never kept when they could not be read."""
    given = Path(os.path.abspath(root))
    if not any((d / ".git").exists() or (d / "HEAD").exists()
               for top in {given, Path(os.path.realpath(root))} for d in (top, *top.parents)):
        return set()
    top = repository_top(root)
    files = git_config_files(root)
    if cache is None or given != top and top not in given.parents or \
            not (top / ".git" / "HEAD").is_file() or _includes_another(files):
        return apps.remote_identities(root) or set()
    key = cache.key(files, "git remotes")
    kept = cache.get(key)
    if isinstance(kept, list) and all(isinstance(i, str) for i in kept):
        return set(kept)
    remotes = apps.remote_identities(root)
    if remotes is None:
        return set()
    cache.put(key, sorted(remotes), files=files, tool="git remotes")
    return remotes


def _includes_another(files: Sequence[Path]) -> bool:
    """Whether a git configuration file may include another (`[include]`, `[includeIf]`)."""
    for path in files:
        try:
            if b"include" in path.read_bytes().lower():
                return True
        except OSError:
            continue  # missing: the key records it
    return False


_Build = tuple[Path, "str | None", "str | None"]
"""An overlay to build: directory, deploying app, destination namespace."""


def _build_overlays(jobs: Sequence[_Build], tree: kustomize.KustomizeTree, root: Path,
                    display: Callable[[Path], str], parsed: Parsed,
                    cache: RenderCache | None = None
                    ) -> dict[_Build, tuple[list[Rendered], list[NotRendered]]]:
    """Every `kubectl kustomize` build the estate needs, run side by side: each is a
    process of its own, so a pool of threads keeps the cores busy (results are used in the
    estate's order, so the report does not depend on which finished first)."""
    wanted = [job for job in dict.fromkeys(jobs)
              if not tree.remote_of(job[0]) and not tree.outside_of(job[0])]
    results: dict[_Build, tuple[list[Rendered], list[NotRendered]]] = {}
    for job in wanted:
        kustomization = tree.kustomizations.get(job[0])
        if kustomization is None or kustomization.local_dirs or kustomization.is_component:
            continue  # (an app's directory outside what was scanned: kubectl builds it)
        rendered = render_plain(job[0], kustomization.data, kustomization.file,
                                kustomization.local_files, display,
                                RenderOrigin("kustomize", display(job[0]), job[1], job[2]),
                                parsed)
        if rendered is not None:
            results[job] = (rendered, [])
    built = [job for job in wanted if job not in results]
    keys: dict[Path, tuple[str, bytes]] = {}
    if cache is not None and built:
        tool = f"{binary_signature(kustomize.kubectl_path())}\0{root.resolve()}"  # paths shown
        for job in built:
            if job[0] not in tree.kustomizations:
                continue  # what it reads is not known here: built every time
            if job[0] not in keys:  # taken before the build (checked again before keeping)
                keys[job[0]] = cache.key(_build_inputs(tree, job[0]), tool)
            stored = cache.get(keys[job[0]])
            if isinstance(stored, list):
                results[job] = ([Rendered(obj, source, RenderOrigin(
                    "kustomize", display(job[0]), job[1], job[2]), generated_by, applied)
                    for obj, source, generated_by, applied in stored], [])
        built = [job for job in built if job not in results]
    if not built:
        return {job: results[job] for job in wanted}
    with ThreadPoolExecutor(max_workers=max(1, min(len(built), os.cpu_count() or 1))) as pool:
        futures = {job: pool.submit(kustomize.render, job[0], root=root, display=display,
                                    app=job[1], namespace=job[2]) for job in built}
        results.update({job: future.result() for job, future in futures.items()})
    if cache is not None:
        for job in built:
            if job[0] not in keys:
                continue
            rendered, problems = results[job]
            if not problems:  # a failed build is tried again next time
                cache.put(keys[job[0]], [(r.obj, r.source, r.generated_by, r.transformations)
                                         for r in rendered],
                          files=_build_inputs(tree, job[0]), tool=tool)
        cache.prune()
    return {job: results[job] for job in wanted}


def _build_inputs(tree: kustomize.KustomizeTree, directory: Path) -> list[Path]:
    """What a build of the overlay may read: each kustomization of its closure, the files
    they name and every file beside them."""
    files: list[Path] = []
    for kustomization in tree.closure(directory):
        files.append(kustomization.file)
        files.extend(kustomization.local_files)
        files.extend(kustomization.patch_files)
        files.extend(_files_in(kustomization.directory))
    return files


def _render_overlay(directory: Path, tree: kustomize.KustomizeTree, result: EstateLoad,
                    written: Mapping[str, list[Manifest]], display: Callable[[Path], str],
                    builds: Mapping[_Build, tuple[list[Rendered], list[NotRendered]]],
                    default_namespace: str | None, app: str | None,
                    namespace: str | None, forced_namespace: str | None = None,
                    cluster: str | None = None) -> None:
    outside = tree.outside_of(directory)
    if outside:
        # Each entry that leads outside is an error at its line already (tree.problems); an
        # overlay that only uses such a base is named too, since it is not built either.
        own = tree.kustomizations[directory].file
        if own not in outside:
            result.loaded.errors.append(ToolError(
                "render", f"not built: it uses {', '.join(display(f) for f in outside)}, "
                "which names files outside the repository", display(directory)))
        return
    remote = tree.remote_of(directory)
    if remote:
        result.not_rendered.append((NotRendered(
            display(directory), f"not rendered: remote resource(s) {', '.join(remote)} are "
            "never fetched" + (f" (deployed by {app})" if app else "")), False))
        return
    rendered, problems = builds[(directory, app, namespace)]
    literals = [v for k in tree.kustomizations.values() for v in k.secret_literals
                if len(v) >= 4]
    for problem in problems:
        reason = problem.reason
        for literal in sorted(literals, key=len, reverse=True):
            reason = reason.replace(literal, "<redacted>")  # secretGenerator literals
        if reason.startswith("not rendered"):
            result.not_rendered.append((NotRendered(problem.path, reason, problem.line),
                                        False))
        else:
            result.loaded.errors.append(ToolError("render", reason, problem.path,
                                                  problem.line))
    patches = [display(p) for p in tree.patch_files(directory)]
    result.loaded.manifests.extend(_manifests(rendered, written, default_namespace, patches,
                                              forced_namespace, cluster))


def _render_chart(chart: Path, result: EstateLoad, written: Mapping[str, list[Manifest]],
                  root: Path, default_namespace: str | None,
                  instruction: apps.RenderInstruction | None,
                  kubernetes_version: str | None = None, cache: RenderCache | None = None
                  ) -> None:
    """A chart with the values its app gives (or its defaults, when no app deploys it)."""
    if not (helm.is_chart_dir(chart) or helm.is_chart_archive(chart)):
        return
    if instruction is None:
        name = chart.name.removesuffix(".tgz")
        rendered, problems = _chart_render(chart, root, cache, release=name,
                                           namespace=default_namespace,
                                           kube_version=_kube(kubernetes_version))
    else:
        rendered, problems = _chart_render(
            chart, root, cache, release=instruction.release or chart.name,
            namespace=instruction.namespace or default_namespace, values=instruction.values,
            value_files=[root / f for f in instruction.value_files], app=instruction.app,
            kube_version=_kube(kubernetes_version))
    for problem in problems:
        if "not installed" in problem.reason or "not fetched" in problem.reason:
            result.not_rendered.append((problem, False))
        else:
            result.loaded.errors.append(ToolError("render", problem.reason, problem.path,
                                                  problem.line))
    result.loaded.manifests.extend(_manifests(
        rendered, written, default_namespace,
        cluster=instruction.cluster if instruction is not None else None))


def _chart_render(chart: Path, root: Path, cache: RenderCache | None, *,
                  value_files: Sequence[Path] = (), **options: Any
                  ) -> tuple[list[Rendered], list[NotRendered]]:
    """`helm.render_chart`, kept in the render cache by the content of the chart's files and
    its values files and by every option (values included): a kept render does not even
    load Helm's library. Kept like a kubectl build (never when it failed); not kept for a
    chart with a linked directory inside (Helm follows it, the file listing does not)."""
    chart_files = _chart_files(chart)
    if cache is None or not helm.HELM_AVAILABLE or not chart_files:
        return helm.render_chart(chart, root=root, value_files=value_files, **options)
    settings = repr(("helm", helm.sdk_identity(), binary_signature(helm.__file__),
                     str(root.resolve()), [str(f) for f in value_files],  # merged in order
                     sorted(options.items(), key=lambda i: i[0])))
    files = [*chart_files, *value_files]
    key = cache.key(files, settings)
    stored = cache.get(key)
    if isinstance(stored, list) and all(isinstance(r, Rendered) for r in stored):
        return stored, []
    rendered, problems = helm.render_chart(chart, root=root, value_files=value_files,
                                           **options)
    if not problems:
        cache.put(key, rendered, files=files, tool=settings)
    return rendered, problems


def _chart_files(chart: Path) -> list[Path] | None:
    """A chart's files (an archive: itself; nothing there: none); None when they cannot all
    be listed (a linked directory, which Helm follows and a listing does not; an unreadable
    one)."""
    if chart.is_file():
        return [chart]
    if not chart.is_dir():
        return []
    found: list[Path] = []
    failed: list[OSError] = []
    for directory, subdirectories, names in os.walk(chart, onerror=failed.append):
        for name in subdirectories:
            if os.path.islink(os.path.join(directory, name)):
                return None
        found.extend(Path(directory, name) for name in names)
    return None if failed else found


def _place_directory(written: Sequence[Manifest], target: Path,
                     display: Callable[[Path], str], instruction: apps.RenderInstruction
                     ) -> list[Manifest]:
    """A plain directory an app deploys: copies of its objects as written (never of another
    app's copies), those that declare no namespace in the app's destination (every
    namespaced one, for a Flux targetNamespace), the app recorded."""
    prefix = display(target).rstrip("/") + "/"
    if prefix == "./":
        prefix = ""
    copies = []
    for manifest in written:
        path = manifest.location.path or ""
        name = path.rpartition("/")[2]
        inside = path.startswith(prefix) and (
            instruction.directory_recurse or "/" not in path[len(prefix):]) and (
            instruction.include is None or _glob_any(name, instruction.include)) and not (
            instruction.exclude is not None and _glob_any(name, instruction.exclude))
        if not inside:
            continue
        metadata = manifest.obj.get("metadata")
        declared = isinstance(metadata, dict) and bool(metadata.get("namespace"))
        resource = manifest.resource
        namespace = resource.namespace
        forced = instruction.app.startswith("Kustomization ")  # Flux targetNamespace
        if (forced or not declared) and instruction.namespace and not is_cluster_scoped(
                resource.api_version, resource.kind):
            namespace = instruction.namespace
        origin = _with_cluster(f"directory {display(target)} (app {instruction.app})",
                               instruction.cluster)
        copies.append(dataclasses.replace(
            manifest, resource=dataclasses.replace(resource, namespace=namespace),
            origin=origin, cluster=instruction.cluster))
    return copies


def _manifests(rendered: Sequence[Rendered], written: Mapping[str, list[Manifest]],
               default_namespace: str | None, patches: Sequence[str] = (),
               forced_namespace: str | None = None, cluster: str | None = None
               ) -> list[Manifest]:
    """Rendered objects located in their source files (the document they came from, so that
    findings point at lines a person edits)."""
    manifests = []
    for item in rendered:
        obj = item.obj
        raw_metadata = obj.get("metadata")
        metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
        name = str(metadata.get("name") or metadata.get("generateName") or "")
        namespace = metadata.get("namespace")
        api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
        if forced_namespace and not is_cluster_scoped(api_version, kind):
            namespace = forced_namespace
            obj = {**obj, "metadata": {**metadata, "namespace": forced_namespace}}
        elif not isinstance(namespace, str) or not namespace:
            namespace = None
            fallback = item.origin.destination_namespace or default_namespace
            if fallback and not is_cluster_scoped(api_version, kind):
                namespace = fallback
        source = item.source
        candidates = written.get(source or "", [])
        doc_index, line = 0, None
        if candidates and item.generated_by is None:
            chosen = candidates[kustomize.match_document([m.obj for m in candidates], obj)]
            doc_index, line = chosen.doc_index, chosen.location.line
        pointer = ""
        if candidates and item.generated_by is None:
            pointer = chosen.location.pointer  # an item of a `kind: List`
        targeting = {id(m) for m in _patched_by(
            [m for patch in patches for m in written.get(patch, [])], kind, name)}
        applied = tuple((patch, m.doc_index) for patch in patches
                        for m in written.get(patch, []) if id(m) in targeting)
        manifests.append(Manifest(Resource(api_version, kind, namespace, name), obj,
                                  Location(source, line, None, pointer), doc_index,
                                  origin=_with_cluster(item.origin.describe(), cluster),
                                  patches=applied, cluster=cluster))
    return manifests


def _patched_by(documents: Sequence[Manifest], kind: str, name: str) -> list[Manifest]:
    """The documents of a patch file that target an object: same kind and name, or, when
    none has the very name, the longest name the object's carries whole at its start or end
    (a namePrefix/nameSuffix) — `web` must not take the patch of `web-worker`."""
    same_kind = [m for m in documents if m.resource.kind == kind and m.resource.name]
    exact = [m for m in same_kind if m.resource.name == name]
    if exact:
        return exact
    affixed = [m for m in same_kind if _affixed(name, m.resource.name)]
    longest = max((len(m.resource.name) for m in affixed), default=0)
    return [m for m in affixed if len(m.resource.name) == longest]


def _affixed(name: str, original: str) -> bool:
    return (name.endswith(original) and name[:-len(original)].endswith(("-", "."))) or (
        name.startswith(original) and name[len(original):].startswith(("-", ".")))


def _files_in(path: Path) -> list[Path]:
    """The regular files of a directory (or the file itself); nothing if it cannot be read."""
    try:
        if path.is_file():
            return [path]
        return [f for f in path.iterdir() if f.is_file()]
    except OSError:
        return []


def _chart_inputs(result: EstateLoad, chart: Path) -> None:
    """A chart's files among what the run read; a chart whose files cannot all be listed
    makes the run one the result cache does not keep."""
    files = _chart_files(chart)
    if files is None:
        result.complete_inputs = False
    else:
        result.inputs.update(files)


def _kube(version: str | None) -> str | None:
    """`.Capabilities.KubeVersion` of charts: the version checked against (`1.37` → v1.37.0)."""
    return f"v{version}.0" if version else None


def _identity(manifest: Manifest) -> tuple[str, int, str]:
    """Where an object was written: its file, document and List item."""
    location = manifest.location
    return location.path or "", manifest.doc_index, location.pointer


def _with_cluster(origin: str, cluster: str | None) -> str:
    return f"{origin} → cluster {cluster}" if cluster else origin


def _glob_any(name: str, patterns: str) -> bool:
    """Argo CD's directory include/exclude: a glob, or `{a,b}` alternatives."""
    text = patterns.strip()
    options = text[1:-1].split(",") if text.startswith("{") and text.endswith("}") else [text]
    return any(fnmatch.fnmatchcase(name, option.strip()) for option in options)


def not_rendered_violation(item: NotRendered) -> Violation:
    return Violation(item.reason, "", {"not_rendered": item.path})


def not_rendered_error(item: NotRendered) -> ToolError:
    return ToolError("not-rendered", item.reason, item.path, item.line)


def settings_from(data: Mapping[str, Any] | None) -> RenderSettings:
    data = data or {}
    return RenderSettings(strict=bool(data.get("strict", False)),
                          standalone_bases=bool(data.get("standalone_bases", False)),
                          repo_urls=tuple(data.get("repo_urls", ())))
