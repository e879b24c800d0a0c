"""Pair declared objects with live ones and say, object by object and field by field, how the
cluster differs from the repository — and who made it differ."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from checker.drift.compare import FieldDrift, compare, is_empty
from checker.drift.live import LiveState
from checker.drift.managed import FieldOwner, Ownership
from checker.drift.normalize import SecretMask, is_secret, prepare
from checker.drift.settings import DriftSettings
from checker.drift.shape import UNKNOWN, Shape
from checker.model import Manifest, ResourceKey
from checker.schema import SchemaSource, escape_pointer_token
from checker.secrets import last_applied

MISSING, EXTRA, MODIFIED = "missing", "extra", "modified"
SERVER_SIDE_EVIDENCE = "the server's dry-run apply of the declared object would remove it"

Predictor = Callable[[Manifest, Manifest], Mapping[str, Any] | None]
"""(declared, live) → the server's dry-run apply of the declared object, or None."""

SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
HOOK_ANNOTATIONS = ("helm.sh/hook", "argocd.argoproj.io/hook")
"""Objects run at deploy time and deleted afterwards: absent from the cluster by design."""
LOCAL_CONFIG_ANNOTATION = "config.kubernetes.io/local-config"
ARGO_TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id"
ARGO_INSTANCE_LABEL = "app.kubernetes.io/instance"
FLUX_LABELS = ("kustomize.toolkit.fluxcd.io/name", "helm.toolkit.fluxcd.io/name")


@dataclass(frozen=True, slots=True)
class AttributedField:
    """A field drift with the managers that own the live value, latest writer first."""

    drift: FieldDrift
    owners: tuple[FieldOwner, ...] = ()


@dataclass(frozen=True, slots=True)
class ObjectDrift:
    status: str
    declared: Manifest | None
    live: Manifest | None
    fields: tuple[AttributedField, ...] = ()
    mark: str = ""
    """For an extra object: the ownership mark that makes it this estate's."""


@dataclass
class DriftResult:
    drifts: list[ObjectDrift] = field(default_factory=list)
    unchecked: dict[tuple[str, str], tuple[str, list[Manifest]]] = field(default_factory=dict)
    """(group, kind) → (why, the declared objects that could not be compared)."""
    compared: int = 0
    skipped: list[tuple[Manifest, str]] = field(default_factory=list)


class DriftEngine:
    def __init__(self, settings: DriftSettings, schemas: SchemaSource,
                 mask: SecretMask) -> None:
        self.settings = settings
        self.schemas = schemas
        self.mask = mask
        self._shapes: dict[tuple[str, str], Shape] = {}

    def diff(self, declared: Sequence[Manifest], live: LiveState,
             scanned_types: Iterable[tuple[str, str]] = (),
             predict: Predictor | None = None) -> DriftResult:
        """`predict` gives the server's dry-run apply of a declared object (server-side diff),
        or None to compare client-side."""
        result = DriftResult()
        autoscaled = _autoscaled([*declared, *live.objects.values()])
        seen: set[ResourceKey] = set()
        for manifest in declared:
            reason = _not_applied(manifest)
            if reason:
                result.skipped.append((manifest, reason))
                continue
            key = manifest.key
            seen.add(key)
            seen.add(ResourceKey(key.group, key.kind, None, key.name))
            if not live.readable(key.group, key.kind):
                why = live.unreadable.get((key.group, key.kind)) or \
                    f"the live state has no {key.kind} objects"
                result.unchecked.setdefault((key.group, key.kind), (why, []))[1].append(manifest)
                continue
            result.compared += 1
            found = live.find(key)
            if found is None:
                result.drifts.append(ObjectDrift(MISSING, manifest, None))
                continue
            predicted = predict(manifest, found) if predict is not None else None
            fields = self.fields(manifest, found, autoscaled, predicted)
            if fields:
                result.drifts.append(ObjectDrift(MODIFIED, manifest, found, tuple(fields)))
        owners = _EstateOwners(declared, self.settings)
        types = {*((m.key.group, m.key.kind) for m in declared), *scanned_types}
        for key, manifest in sorted(live.objects.items(), key=lambda kv: _sort_key(kv[0])):
            if key in seen or (key.group, key.kind) not in types:
                continue
            if not live.readable(key.group, key.kind) or _is_system(manifest):
                continue
            mark = owners.mark(manifest)
            if mark:
                result.drifts.append(ObjectDrift(EXTRA, None, manifest, mark=mark))
        return result

    def fields(self, declared: Manifest, live: Manifest,
               autoscaled: set[tuple[str | None, str, str]],
               predicted: Mapping[str, Any] | None = None) -> list[AttributedField]:
        """The drifted fields of one pair, ignored ones removed, each with its owners.

        With `predicted` (the server's answer to a dry-run apply, masked), that answer is
        compared with live instead of the declared object: every difference is drift.
        """
        resource = declared.resource
        raw_declared = self.mask.secret(declared.obj) if is_secret(declared.obj) \
            else declared.obj
        mine = prepare(predicted if predicted is not None else raw_declared,
                       namespace=resource.namespace, declared=raw_declared,
                       aggregated_roles=self.settings.aggregated_roles)
        theirs = prepare(live.obj, namespace=resource.namespace, declared=raw_declared,
                         aggregated_roles=self.settings.aggregated_roles)
        shape = self._shape(resource.api_version, resource.kind)
        ownership = Ownership.of(live.obj)
        rules = [r for r in self.settings.ignore if r.selects(declared.key)]
        ignored_managers = set(self.settings.ignore_managers)
        ignored_managers.update(m for r in rules for m in r.managers)
        if is_secret(live.obj):
            _drop_unknown_values(mine, theirs)
        claims = self._claims(live.obj, theirs, shape, ownership)
        item_claims: dict[str, str] = {}
        for owner in ownership.managers():
            if not owner.subresource and owner.manager not in ignored_managers:
                added = f"added by {owner.describe()}"
                for pointer in ownership.owned_by(owner):
                    item_claims[pointer] = added
        everything = SERVER_SIDE_EVIDENCE if predicted is not None else None
        drifted = compare(mine, theirs, shape, claims, item_claims, everything)
        ignore_replicas = (resource.namespace, resource.kind, resource.name) in autoscaled
        result = []
        for item in drifted:
            pointers = [p for p in (item.pointer, item.live_pointer) if p]
            if any(r.covers(p) for r in rules for p in pointers):
                continue
            if ignore_replicas and item.pointer == "/spec/replicas":
                continue
            owners = tuple(ownership.owners(item.live_pointer)) if item.live_pointer else ()
            if any(o.manager in ignored_managers for o in owners):
                continue
            if is_secret(declared.obj):
                item = _string_data_pointer(item, declared.obj)
            result.append(AttributedField(item, owners))
        return result

    def _shape(self, api_version: str, kind: str) -> Shape:
        """The kind's schema; for a version the bundled schemas lack (`apps/v1beta1`), the
        same kind in a served version (list keys and quantities do not change). Looked up
        once per kind and version: the schema files are read and parsed on each lookup."""
        key = (api_version, kind)
        found = self._shapes.get(key)
        if found is None:
            found = self._shapes[key] = self._find_shape(api_version, kind)
        return found

    def _find_shape(self, api_version: str, kind: str) -> Shape:
        group, _, version = api_version.rpartition("/")
        candidates = [(group, version)]
        candidates += [(group, v) for v in _STABLE_VERSIONS if v != version]
        candidates += [(g, "v1") for g in _SUCCESSOR_GROUPS.get(group, ())]
        for candidate_group, candidate_version in candidates:
            found = self.schemas.raw_schema(candidate_group, candidate_version, kind)
            if found is not None:
                return Shape(found[0], found[1])
        return UNKNOWN

    def _claims(self, live: Mapping[str, Any], prepared: Mapping[str, Any], shape: Shape,
                ownership: Ownership) -> dict[str, str]:
        """Live fields that were put there on purpose, with the evidence: the last
        client-side apply, a server-side apply, or a hand edit."""
        claims: dict[str, str] = {}
        hand = set(self.settings.hand_edit_managers)
        for entry in ownership.managers():
            if entry.subresource or entry.manager in self.settings.ignore_managers:
                continue
            if entry.operation == "Apply" or entry.manager in hand:
                evidence = f"set by {entry.describe()}"
                for pointer in ownership.owned_by(entry):
                    claims.setdefault(pointer, evidence)
        applied = last_applied(live)
        if applied is not None:
            for pointer in _applied_pointers(applied, prepared, shape, ""):
                claims[pointer] = "in the configuration last applied with kubectl apply"
        return claims


_STABLE_VERSIONS = ("v1", "v2", "v1beta1", "v1beta2")
_SUCCESSOR_GROUPS = {"extensions": ("apps", "networking.k8s.io", "policy")}


def _string_data_pointer(item: FieldDrift, declared: Mapping[str, Any]) -> FieldDrift:
    """A Secret key declared under `stringData` is compared as `data`, and found as written."""
    string_data = declared.get("stringData")
    if item.pointer.startswith("/data/") and isinstance(string_data, Mapping):
        key = item.pointer[len("/data/"):].split("/", 1)[0]
        if key.replace("~1", "/").replace("~0", "~") in string_data:
            return dataclasses.replace(item, pointer="/stringData/" + key,
                                       path="stringData" + item.path[len("data"):])
    return item


def _drop_unknown_values(declared: dict[str, Any], live: dict[str, Any]) -> None:
    """A Secret value the live state shows as null was withheld (a redacted dump): it cannot
    be compared, so it is not."""
    live_data = live.get("data")
    if not isinstance(live_data, dict):
        return
    unknown = [key for key, value in live_data.items() if value is None]
    for key in unknown:
        del live_data[key]
        if isinstance(declared.get("data"), dict):
            declared["data"].pop(key, None)


def _applied_pointers(applied: Any, live: Any, shape: Shape, pointer: str) -> Iterable[str]:
    """Live pointers of the fields a last-applied configuration sets (that live still has)."""
    if isinstance(applied, Mapping) and isinstance(live, Mapping):
        for key, value in applied.items():
            if key in live and key != "status":
                yield from _applied_pointers(value, live[key], shape.field(key),
                                             f"{pointer}/{escape_pointer_token(key)}")
        return
    if isinstance(applied, list) and isinstance(live, list) and shape.list_keys:
        keys = shape.list_keys
        index = {tuple(str(item.get(k)) for k in keys): i for i, item in enumerate(live)
                 if isinstance(item, Mapping)}
        for item in applied:
            if isinstance(item, Mapping):
                found = index.get(tuple(str(item.get(k, "TCP" if k == "protocol" else None))
                                        for k in keys))
                if found is not None:
                    yield from _applied_pointers(item, live[found], shape.item(),
                                                 f"{pointer}/{found}")
        return
    if not is_empty(applied):
        yield pointer


def _autoscaled(objects: Iterable[Manifest]) -> set[tuple[str | None, str, str]]:
    """(namespace, kind, name) of workloads an HorizontalPodAutoscaler scales."""
    targets = set()
    for manifest in objects:
        if manifest.resource.kind != "HorizontalPodAutoscaler":
            continue
        target = (manifest.obj.get("spec") or {}).get("scaleTargetRef") or {}
        if isinstance(target, Mapping) and target.get("kind") and target.get("name"):
            targets.add((manifest.resource.namespace, str(target["kind"]), str(target["name"])))
    return targets


def _not_applied(manifest: Manifest) -> str:
    annotations = (manifest.obj.get("metadata") or {}).get("annotations") or {}
    if not isinstance(annotations, Mapping):
        return ""
    for name in HOOK_ANNOTATIONS:
        if name in annotations:
            return f"a deploy hook ({name}): deleted after it runs"
    if str(annotations.get(LOCAL_CONFIG_ANNOTATION, "")).lower() == "true":
        return "local configuration: never applied"
    return ""


def _is_system(manifest: Manifest) -> bool:
    resource = manifest.resource
    metadata = manifest.obj.get("metadata") or {}
    if resource.namespace in SYSTEM_NAMESPACES or resource.name.startswith("system:"):
        return True
    if resource.kind == "Namespace" and (resource.name in SYSTEM_NAMESPACES
                                         or resource.name == "default"):
        return True
    if isinstance(metadata, Mapping) and metadata.get("ownerReferences"):
        return True  # made by a controller from an object that is compared itself
    return (resource.kind, resource.name) in (("ServiceAccount", "default"),
                                              ("ConfigMap", "kube-root-ca.crt"))


class _EstateOwners:
    """Recognises live objects that belong to this estate although it does not declare them:
    the tracking label, or the marks of an Argo CD Application / Flux object of the estate."""

    def __init__(self, declared: Sequence[Manifest], settings: DriftSettings) -> None:
        self.settings = settings
        self.argo_apps = {m.resource.name for m in declared
                          if m.resource.kind == "Application"
                          and m.resource.group == "argoproj.io"} | set(settings.apps)
        self.flux = {m.resource.name for m in declared
                     if m.resource.group in ("kustomize.toolkit.fluxcd.io",
                                             "helm.toolkit.fluxcd.io")} | set(settings.apps)

    def mark(self, manifest: Manifest) -> str:
        metadata = manifest.obj.get("metadata") or {}
        labels = metadata.get("labels") or {}
        annotations = metadata.get("annotations") or {}
        if not isinstance(labels, Mapping) or not isinstance(annotations, Mapping):
            return ""
        label = self.settings.tracking_label
        if label in labels and (self.settings.tracking_value is None
                                or labels[label] == self.settings.tracking_value):
            return f"label {label}={labels[label]}"
        tracking = annotations.get(ARGO_TRACKING_ANNOTATION)
        if isinstance(tracking, str) and tracking.split(":", 1)[0] in self.argo_apps:
            return f"Argo CD Application {tracking.split(':', 1)[0]}"
        instance = labels.get(ARGO_INSTANCE_LABEL)
        if isinstance(instance, str) and instance in self.argo_apps:
            return f"Argo CD Application {instance} (label tracking)"
        for flux_label in FLUX_LABELS:
            name = labels.get(flux_label)
            if isinstance(name, str) and name in self.flux:
                return f"Flux {flux_label.split('.')[0]} {name}"
        return ""


def _sort_key(key: ResourceKey) -> tuple[str, str, str, str]:
    return (key.group, key.kind, key.namespace or "", key.name)


def describe_value(value: Any, limit: int = 80) -> str:
    """A value as a short JSON-ish text for a message."""
    import json

    if isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return text if len(text) <= limit else text[:limit - 1] + "…"

