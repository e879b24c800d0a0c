"""Persistent volumes use a storage class the tier allows.

Why it matters: the storage class decides the disk's performance, replication, encryption,
reclaim policy (Delete loses the ledger's volume with its claim) and price. Production
databases belong on the fast, replicated, retained class; development data on the cheap
one. A claim on the wrong class is either an availability and compliance risk (critical
data on a non-replicated or Delete class) or an unmanaged storage cost (a staging
environment on premium SSD).

What is checked, when the tier requirement `storage_classes` is a non-empty list (default
empty = any class; set it per tier under `tiers.requirements` in the config):

- PersistentVolumeClaims: `spec.storageClassName` (or the deprecated annotation
  `volume.beta.kubernetes.io/storage-class`);
- StatefulSet `volumeClaimTemplates[].spec.storageClassName`;
- generic ephemeral volumes of any workload
  (`volumes[].ephemeral.volumeClaimTemplate.spec.storageClassName`);
- CloudNativePG Clusters: `spec.storage` and `spec.walStorage` (`storageClass`, else
  `pvcTemplate.storageClassName`).

A claim without a class gets the cluster's default StorageClass, which the repository does
not show: it is a finding in a tier with a restricted list, unless the option
`default_storage_class` names the default class and that class is allowed. An explicit
empty class (`""`) binds only pre-provisioned volumes without a class; it passes only if
`""` is in the list.

A Namespace may narrow the list further with the annotation
`gitops-checker.io/storage-classes: "premium-retain,premium-wal"` (option
`namespace_annotation`): with both, only classes in both lists are allowed (the annotation
can never widen the tier's list); with only the annotation, its list applies.

Options:
- `default_storage_class` (default empty: unknown): the name of the cluster's default class.
- `namespace_annotation` (default `gitops-checker.io/storage-classes`).

Passing (critical tier with `storage_classes: [premium-retain]`):

    kind: PersistentVolumeClaim
    spec: {storageClassName: premium-retain, accessModes: [ReadWriteOnce], ...}

Failing: `storageClassName: standard` there, or no `storageClassName` at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from checker.k8s import WORKLOAD_KINDS, annotations_of, pod_spec
from checker.model import Manifest, Violation
from checker.pyrules import RuleContext

from ._helpers import as_list, as_map, as_str_list

METADATA = {
    "id": "RES008",
    "name": "storage-class-not-allowed",
    "category": "resources",
    "severity": "medium",
    "tier_severity": {"critical": "high", "standard": "medium", "nonprod": "low"},
    "kinds": ["/PersistentVolumeClaim", "postgresql.cnpg.io/Cluster"]
             + [f"{group}/{kind}" for group, kind in WORKLOAD_KINDS],
    "options": {"default_storage_class": "",
                "namespace_annotation": "gitops-checker.io/storage-classes"},
    "remediation": "Set storageClassName to one of the classes the tier allows (see "
                   "tiers.requirements.<tier>.storage_classes in the configuration).",
    "references": [
        "https://kubernetes.io/docs/concepts/storage/storage-classes/",
        "https://kubernetes.io/docs/concepts/storage/persistent-volumes/#class-1",
        ("https://kubernetes.io/docs/concepts/storage/ephemeral-volumes/"
        "#generic-ephemeral-volumes"),
        "https://cloudnative-pg.io/documentation/current/storage/",
    ],
}

_BETA_ANNOTATION = "volume.beta.kubernetes.io/storage-class"

Claim = tuple[str, Any, str]  # (what, class or None when unset, pointer)


def _pvc_spec_class(spec: Mapping[str, Any], pointer: str) -> tuple[Any, str]:
    if "storageClassName" in spec and spec["storageClassName"] is not None:
        return spec["storageClassName"], f"{pointer}/storageClassName"
    return None, pointer


def _claims(manifest: Manifest) -> Iterator[Claim]:
    group, kind = manifest.resource.group, manifest.resource.kind
    spec = as_map(manifest.obj.get("spec"))
    if (group, kind) == ("", "PersistentVolumeClaim"):
        value, pointer = _pvc_spec_class(spec, "/spec")
        if value is None and isinstance(annotations_of(manifest).get(_BETA_ANNOTATION), str):
            value = annotations_of(manifest)[_BETA_ANNOTATION]
            pointer = "/metadata/annotations/volume.beta.kubernetes.io~1storage-class"
        yield "the claim", value, pointer
        return
    if (group, kind) == ("postgresql.cnpg.io", "Cluster"):
        for key in ("storage", "walStorage"):
            if key not in spec:
                continue
            storage = as_map(spec.get(key))
            if storage.get("storageClass") is not None:
                yield f"spec.{key}", storage["storageClass"], f"/spec/{key}/storageClass"
            else:
                template = as_map(storage.get("pvcTemplate"))
                value, pointer = _pvc_spec_class(template, f"/spec/{key}/pvcTemplate")
                yield f"spec.{key}", value, pointer if value is not None else f"/spec/{key}"
        return
    if (group, kind) == ("apps", "StatefulSet"):
        for index, template in enumerate(as_list(spec.get("volumeClaimTemplates"))):
            if not isinstance(template, Mapping):
                continue
            name = as_map(template.get("metadata")).get("name") or index
            value, pointer = _pvc_spec_class(as_map(template.get("spec")),
                                             f"/spec/volumeClaimTemplates/{index}/spec")
            yield f"volumeClaimTemplate {name}", value, pointer
    found = pod_spec(manifest)
    if found is None:
        return
    for index, volume in enumerate(as_list(found[0].get("volumes"))):
        volume = as_map(volume)
        template = as_map(as_map(volume.get("ephemeral")).get("volumeClaimTemplate"))
        if not template:
            continue
        value, pointer = _pvc_spec_class(
            as_map(template.get("spec")),
            f"{found[1]}/volumes/{index}/ephemeral/volumeClaimTemplate/spec")
        yield f"ephemeral volume {volume.get('name', index)}", value, pointer


def _allowed(manifest: Manifest, ctx: RuleContext) -> tuple[list[str], str]:
    """The allowed classes and where the list comes from."""
    tier = ctx.tier(manifest)
    allowed = as_str_list(ctx.requirement(manifest, "storage_classes"))
    source = f"the {tier} tier allows"
    key = ctx.options.get("namespace_annotation")
    namespace = ctx.estate.namespaces.get(manifest.resource.namespace or "")
    text = annotations_of(namespace).get(key) if namespace is not None and \
        isinstance(key, str) and key else None
    if isinstance(text, str):
        narrowed = [c.strip() for c in text.split(",") if c.strip()]
        if allowed:
            allowed = [c for c in allowed if c in narrowed]
            source = f"the {tier} tier and the namespace annotation {key} allow"
        else:
            allowed = narrowed
            source = f"the namespace annotation {key} allows"
        if not allowed:
            return [], f"the {tier} tier and the namespace annotation {key} allow no class"
    return allowed, source


def check(manifest: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    allowed, source = _allowed(manifest, ctx)
    if not allowed:
        if source.endswith("allow no class"):
            for what, _, pointer in _claims(manifest):
                yield Violation(f"{what}: {source}", pointer)
        return
    tier = ctx.tier(manifest)
    listed = ", ".join(repr(c) for c in allowed)
    default = ctx.options.get("default_storage_class")
    default = default if isinstance(default, str) and default else None
    for what, value, pointer in _claims(manifest):
        details = {"allowed": allowed, "tier": tier}
        if value is None:
            if default is not None and default in allowed:
                continue
            known = f"the cluster default {default!r}" if default else \
                "the cluster's default class, which the repository does not show"
            yield Violation(f"{what} names no storage class and gets {known}; {source} "
                            f"{listed}", pointer, details)
        elif str(value) not in allowed:
            yield Violation(f"{what} uses storage class {str(value)!r}; {source} {listed}",
                            pointer, {**details, "storage_class": str(value)})
