"""The render stage: load what is written, render what the deployer renders, and hand the
pipeline the objects that reach the cluster, each located in the file a person edits.

Files that a kustomization reads (resources, patches) are not checked on their own: a patch
is not an object, and a base's Deployment is checked as each overlay renders it. What cannot
be rendered here is said: a remote base is finding RND001 (exit 2 with `render.strict`), an
overlay that does not build is an error (its objects went unchecked).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checker.discover import Candidate, Skipped, relative_display
from checker.kinds import is_cluster_scoped
from checker.load import LoadResult, load
from checker.model import Location, Manifest, Resource, RuleInfo, Severity, ToolError, Violation
from checker.render import NotRendered, Rendered, kustomize

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


@dataclass
class EstateLoad:
    loaded: LoadResult
    not_rendered: list[tuple[NotRendered, Manifest | None]] = field(default_factory=list)


def load_estate(candidates: Sequence[Candidate], *, root: Path,
                default_namespace: str | None, settings: RenderSettings,
                progress: Callable[[], None] | None = None) -> EstateLoad:
    """Load the candidates, render the Kustomize overlays among them, and return the objects
    the cluster would get."""
    def display(path: Path) -> str:
        return relative_display(path, root)

    directories = {c.path.parent for c in candidates if c.path is not None}
    tree = kustomize.scan(directories, display)
    consumed = {display(p) for p in tree.consumed_files()}
    loaded = load(candidates, default_namespace=default_namespace, progress=progress)
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
    result.not_rendered.extend((p, None) for p in tree.problems)
    for directory in tree.roots():
        remote = tree.remote_of(directory)
        if remote:
            result.not_rendered.append((NotRendered(
                display(directory), f"not rendered: remote resource(s) {', '.join(remote)} "
                "are never fetched"), None))
            continue
        rendered, problems = kustomize.render(directory, root=root, display=display)
        for problem in problems:
            loaded.errors.append(ToolError("render", problem.reason, problem.path,
                                           problem.line))
        patches = [display(p) for p in tree.patch_files(directory)]
        loaded.manifests.extend(_manifests(rendered, written, default_namespace, patches))
    return result


def _manifests(rendered: Sequence[Rendered], written: Mapping[str, list[Manifest]],
               default_namespace: str | None, patches: Sequence[str] = ()) -> list[Manifest]:
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
        if not isinstance(namespace, str) or not namespace:
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
        applied = tuple(
            (patch, m.doc_index) for patch in patches for m in written.get(patch, [])
            if m.resource.kind == kind and m.resource.name and m.resource.name in name)
        manifests.append(Manifest(Resource(api_version, kind, namespace, name), obj,
                                  Location(source, line, None, pointer), doc_index,
                                  origin=item.origin.describe(), patches=applied))
    return manifests


def not_rendered_violation(item: NotRendered) -> Violation:
    return Violation(item.reason, "", {"not_rendered": item.path})


def not_rendered_error(item: NotRendered) -> ToolError:
    return ToolError("not-rendered", item.reason, item.path, item.line)


def settings_from(data: Mapping[str, Any] | None) -> RenderSettings:
    data = data or {}
    return RenderSettings(strict=bool(data.get("strict", False)),
                          standalone_bases=bool(data.get("standalone_bases", False)))
