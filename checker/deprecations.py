"""Deprecated and removed built-in Kubernetes APIs, for the selected `--kubernetes-version`.

Two sources, merged:

- `schemas/deprecations.json`, generated from the schemas bundled in `kubernetes-validate`
  by scripts/generate_deprecations.py: which group/version/kind each minor version
  1.25–1.37 serves (so when it was last served, i.e. removed after), and the deprecation
  remarks some schema descriptions carry ("Deprecated: This API is deprecated in v1.33+").
- `KNOWN` below, written by hand from the Kubernetes "Deprecated API Migration Guide"
  (https://kubernetes.io/docs/reference/using-api/deprecation-guide/) and the release
  announcements: APIs removed before 1.25 (absent from every bundled schema, so only their
  replacement matters), when the APIs removed within 1.25–1.37 were deprecated, the
  replacement to use and the field changes worth knowing. Where both say something, this
  table wins; tests check that its removals agree with the schemas.

Where neither says when an alpha or beta version was deprecated, it is treated as
deprecated ("superseded") from the first version that also serves a more stable version of
the same kind: the earliest the deprecation policy allows, and when most recent removals
were deprecated (HPA v2beta2, the flowcontrol betas, CSIStorageCapacity, PodDisruptionBudget,
CronJob). The messages say "superseded by", not "deprecated since", as the release is a guess. GA
versions are only deprecated by the table or the schema descriptions (`autoscaling/v1` lives
on next to `autoscaling/v2`).

Rules: DEP001 (served but deprecated) and DEP002 (served, not yet deprecated, but removed
in a later bundled version). An apiVersion the selected version does not serve at all is
SCH005's (checker/schema.py); `replacement` gives what to use instead.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from checker.model import RuleInfo, Severity, Violation
from checker.resources import SCHEMAS_DIR

DATA_FILE = SCHEMAS_DIR / "deprecations.json"
GUIDE_URL = "https://kubernetes.io/docs/reference/using-api/deprecation-guide/"

RULES = {
    rule.id: rule
    for rule in (
        RuleInfo("DEP001", "deprecated-api", Severity.MEDIUM, "deprecation",
                 "The object's apiVersion is deprecated in the selected Kubernetes version: "
                 "it is still served, with a warning, and is removed in a later release "
                 "(the message says which, and what replaces it).", "schema",
                 "Move the object to the replacement apiVersion the message names (mind the "
                 "notable field changes it lists); `kubectl convert` can help.",
                 help_uri=GUIDE_URL),
        RuleInfo("DEP002", "api-removed-in-future", Severity.LOW, "deprecation",
                 "The object's apiVersion is served, and not yet deprecated, in the selected "
                 "Kubernetes version, but a later version (up to 1.37) no longer serves it: "
                 "upgrading the cluster past that version breaks the object.", "schema",
                 "Plan the move to the replacement the message names before upgrading to "
                 "the version that removes this one.", help_uri=GUIDE_URL),
    )
}


@dataclass(frozen=True, slots=True)
class Known:
    """A hand-written fact about one group/version and some of its kinds."""

    api_version: str
    kinds: tuple[str, ...]
    removed_in: str | None
    deprecated_in: str | None = None
    replacement: str | None = None
    """The apiVersion to use instead (same kind unless `replacement_kind`)."""
    replacement_kind: str | None = None
    alternative: str = ""
    """What to use when no API replaces this one."""
    notes: str = ""


_APPS = "`spec.selector` is required and immutable (use the template's labels)"
_FLOWCONTROL = ("FlowSchema", "PriorityLevelConfiguration")
_RBAC = ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")

KNOWN: tuple[Known, ...] = (
    # Removed in 1.16.
    Known("extensions/v1beta1", ("DaemonSet", "Deployment", "ReplicaSet"), "1.16",
          replacement="apps/v1", notes=_APPS),
    Known("apps/v1beta1", ("ControllerRevision", "Deployment", "ReplicaSet", "StatefulSet"),
          "1.16", replacement="apps/v1", notes=_APPS),
    Known("apps/v1beta2", ("ControllerRevision", "DaemonSet", "Deployment", "ReplicaSet",
                           "StatefulSet"), "1.16", replacement="apps/v1", notes=_APPS),
    Known("extensions/v1beta1", ("NetworkPolicy",), "1.16", replacement="networking.k8s.io/v1"),
    Known("extensions/v1beta1", ("PodSecurityPolicy",), "1.16",
          alternative="Pod Security Admission (`pod-security.kubernetes.io/*` namespace labels) "
                      "or a policy engine; PodSecurityPolicy is gone since 1.25"),
    Known("scheduling.k8s.io/v1alpha1", ("PriorityClass",), "1.17",
          replacement="scheduling.k8s.io/v1"),
    # Removed in 1.22.
    Known("admissionregistration.k8s.io/v1beta1",
          ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"), "1.22",
          replacement="admissionregistration.k8s.io/v1",
          notes="`webhooks[*].sideEffects` and `admissionReviewVersions` are required; "
                "`failurePolicy` defaults to Fail and `timeoutSeconds` to 10"),
    Known("apiextensions.k8s.io/v1beta1", ("CustomResourceDefinition",), "1.22",
          replacement="apiextensions.k8s.io/v1",
          notes="`spec.scope` is required; `validation`, `subresources` and "
                "`additionalPrinterColumns` move under `spec.versions[*]`, each version "
                "needs a structural `schema.openAPIV3Schema`"),
    Known("apiregistration.k8s.io/v1beta1", ("APIService",), "1.22",
          replacement="apiregistration.k8s.io/v1"),
    Known("authentication.k8s.io/v1beta1", ("TokenReview",), "1.22",
          replacement="authentication.k8s.io/v1"),
    Known("authorization.k8s.io/v1beta1",
          ("LocalSubjectAccessReview", "SelfSubjectAccessReview", "SubjectAccessReview"),
          "1.22", replacement="authorization.k8s.io/v1",
          notes="`spec.group` is renamed `spec.groups`"),
    Known("certificates.k8s.io/v1beta1", ("CertificateSigningRequest",), "1.22",
          replacement="certificates.k8s.io/v1",
          notes="`spec.signerName` and `spec.usages` are required"),
    Known("coordination.k8s.io/v1beta1", ("Lease",), "1.22", replacement="coordination.k8s.io/v1"),
    Known("extensions/v1beta1", ("Ingress",), "1.22", deprecated_in="1.14",
          replacement="networking.k8s.io/v1",
          notes="`spec.backend` is `spec.defaultBackend`; `serviceName`/`servicePort` become "
                "`service.name` and `service.port.number` or `.name`; every path needs a "
                "`pathType` (ImplementationSpecific keeps the old matching)"),
    Known("networking.k8s.io/v1beta1", ("Ingress",), "1.22", deprecated_in="1.19",
          replacement="networking.k8s.io/v1",
          notes="`spec.backend` is `spec.defaultBackend`; `serviceName`/`servicePort` become "
                "`service.name` and `service.port.number` or `.name`; every path needs a "
                "`pathType` (ImplementationSpecific keeps the old matching)"),
    Known("networking.k8s.io/v1beta1", ("IngressClass",), "1.22", deprecated_in="1.19",
          replacement="networking.k8s.io/v1"),
    Known("rbac.authorization.k8s.io/v1alpha1", _RBAC, "1.22",
          replacement="rbac.authorization.k8s.io/v1"),
    Known("rbac.authorization.k8s.io/v1beta1", _RBAC, "1.22", deprecated_in="1.17",
          replacement="rbac.authorization.k8s.io/v1"),
    Known("scheduling.k8s.io/v1beta1", ("PriorityClass",), "1.22", deprecated_in="1.14",
          replacement="scheduling.k8s.io/v1"),
    Known("storage.k8s.io/v1beta1", ("CSIDriver", "CSINode", "StorageClass", "VolumeAttachment"),
          "1.22", replacement="storage.k8s.io/v1"),
    # Removed in 1.25.
    Known("batch/v1beta1", ("CronJob",), "1.25", deprecated_in="1.21", replacement="batch/v1"),
    Known("discovery.k8s.io/v1beta1", ("EndpointSlice",), "1.25", deprecated_in="1.21",
          replacement="discovery.k8s.io/v1",
          notes="per-endpoint `nodeName` and `zone` replace `topology`"),
    Known("events.k8s.io/v1beta1", ("Event",), "1.25", deprecated_in="1.19",
          replacement="events.k8s.io/v1",
          notes="`involvedObject` is `regarding`; `type` is Normal or Warning; the "
                "`deprecated*` fields may not be set"),
    Known("autoscaling/v2beta1", ("HorizontalPodAutoscaler",), "1.25", deprecated_in="1.22",
          replacement="autoscaling/v2",
          notes="`targetAverageUtilization` becomes `target.averageUtilization` with "
                "`target.type: Utilization` (likewise `targetAverageValue`, `targetValue`)"),
    Known("policy/v1beta1", ("PodDisruptionBudget",), "1.25", deprecated_in="1.21",
          replacement="policy/v1",
          notes="an empty `spec.selector` selects every pod of the namespace (none in v1beta1)"),
    Known("policy/v1beta1", ("PodSecurityPolicy",), "1.25", deprecated_in="1.21",
          alternative="Pod Security Admission (`pod-security.kubernetes.io/*` namespace labels) "
                      "or a policy engine"),
    Known("node.k8s.io/v1beta1", ("RuntimeClass",), "1.25", deprecated_in="1.22",
          replacement="node.k8s.io/v1"),
    # Removed within the bundled versions (the schemas confirm the removal).
    Known("autoscaling/v2beta2", ("HorizontalPodAutoscaler",), "1.26", deprecated_in="1.23",
          replacement="autoscaling/v2"),  # same spec shape: only the apiVersion changes
    Known("flowcontrol.apiserver.k8s.io/v1beta1", _FLOWCONTROL, "1.26", deprecated_in="1.23",
          replacement="flowcontrol.apiserver.k8s.io/v1",
          notes="v1 renames `spec.limited.assuredConcurrencyShares` to "
                "`nominalConcurrencyShares`"),
    Known("storage.k8s.io/v1beta1", ("CSIStorageCapacity",), "1.27", deprecated_in="1.24",
          replacement="storage.k8s.io/v1"),
    Known("flowcontrol.apiserver.k8s.io/v1beta2", _FLOWCONTROL, "1.29", deprecated_in="1.26",
          replacement="flowcontrol.apiserver.k8s.io/v1",
          notes="v1beta3 and v1 rename `spec.limited.assuredConcurrencyShares` to "
                "`nominalConcurrencyShares`"),
    Known("flowcontrol.apiserver.k8s.io/v1beta3", _FLOWCONTROL, "1.32", deprecated_in="1.29",
          replacement="flowcontrol.apiserver.k8s.io/v1",
          notes="in v1 `spec.limited.nominalConcurrencyShares` defaults to 30 only when unset "
                "(an explicit 0 stays 0)"),
    # Deprecated, no removal announced.
    Known("v1", ("Endpoints",), None, deprecated_in="1.33",
          replacement="discovery.k8s.io/v1", replacement_kind="EndpointSlice",
          notes="a Service may have several EndpointSlices, tied to it by the "
                "`kubernetes.io/service-name` label; `addressType` is required"),
)


@dataclass(frozen=True, slots=True)
class ApiStatus:
    """What is known of one group/version/kind, seen from one Kubernetes version."""

    api_version: str
    kind: str
    kubernetes_version: str
    served: bool
    first_served: str | None
    """First bundled version serving it ("1.25" means 1.25 or earlier); None: none does."""
    last_served: str | None
    deprecated_in: str | None
    """Since when it is deprecated, when known (may be later than `kubernetes_version`)."""
    superseded_by: str | None
    """When the deprecation is only inferred: the more stable apiVersion served from
    `deprecated_in` on."""
    removed_in: str | None
    replacement: str | None
    """"apiVersion Kind" to move to in the end."""
    replacement_from: str | None
    """First bundled version serving `replacement`, when it is one of them."""
    usable_now: str | None
    """The best "apiVersion Kind" outranking this one that `kubernetes_version` serves."""
    alternative: str
    """What to use when no API replaces it."""
    hint: str
    """The deprecation remark of the API's own schema description, if any."""
    notes: str
    """Field changes worth knowing when moving to `replacement`."""
    source: str
    """Where the facts are from: "migration-guide" (the hand-written table),
    "schema-description" or "schemas" (derived from which versions serve what)."""

    @property
    def deprecated(self) -> bool:
        """Deprecated in `kubernetes_version` (whether or not it still serves it)."""
        return self.deprecated_in is not None and \
            _minor(self.deprecated_in) <= _minor(self.kubernetes_version)


@dataclass(frozen=True, slots=True)
class _Table:
    versions: tuple[str, ...]
    served: dict[tuple[str, str, str], tuple[int, int]]
    hints: dict[tuple[str, str, str], tuple[str, str]]
    by_group_kind: dict[tuple[str, str], tuple[str, ...]]
    known: dict[tuple[str, str, str], Known]


def _minor(version: str) -> int:
    major, _, minor = version.partition(".")
    if major != "1" or not minor.isdigit():
        raise ValueError(f"not a Kubernetes 1.x version: {version!r}")
    return int(minor)


_VERSION = re.compile(r"v([1-9][0-9]*)(?:(alpha|beta)([1-9][0-9]*))?")
_LEVEL = {"alpha": 0, "beta": 1, None: 2}


def version_rank(version: str) -> tuple[int, int, int]:
    """Kubernetes' version priority: GA over beta over alpha, then the higher numbers."""
    match = _VERSION.fullmatch(version)
    if match is None:
        return (-1, 0, 0)
    return (_LEVEL[match.group(2)], int(match.group(1)), int(match.group(3) or 0))


def _split(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


@lru_cache(maxsize=1)
def _table() -> _Table:
    data: dict[str, Any] = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    served: dict[tuple[str, str, str], tuple[int, int]] = {}
    hints: dict[tuple[str, str, str], tuple[str, str]] = {}
    by_group_kind: dict[tuple[str, str], list[str]] = {}
    for entry in data["apis"]:
        gvk = (entry["group"], entry["version"], entry["kind"])
        served[gvk] = (_minor(entry["first"]), _minor(entry["last"]))
        if "deprecated_in" in entry:
            hints[gvk] = (entry["deprecated_in"], entry.get("hint", ""))
        by_group_kind.setdefault((gvk[0], gvk[2]), []).append(gvk[1])
    known: dict[tuple[str, str, str], Known] = {}
    for fact in KNOWN:
        group, version = _split(fact.api_version)
        for kind in fact.kinds:
            known[(group, version, kind)] = fact
    return _Table(
        versions=tuple(data["versions"]), served=served, hints=hints,
        by_group_kind={key: tuple(sorted(versions, key=version_rank, reverse=True))
                       for key, versions in by_group_kind.items()},
        known=known)


def supported_versions() -> tuple[str, ...]:
    """The Kubernetes versions the generated table covers."""
    return _table().versions


def _serves(table: _Table, gvk: tuple[str, str, str], minor: int) -> bool:
    span = table.served.get(gvk)
    return span is not None and span[0] <= minor <= span[1]


def _best_served(table: _Table, group: str, kind: str, minor: int,
                 above: str | None) -> str | None:
    """The highest-ranked version of group/kind served in 1.`minor`, outranking `above`."""
    floor = version_rank(above) if above is not None else (-2, 0, 0)
    for version in table.by_group_kind.get((group, kind), ()):
        if version_rank(version) <= floor:
            break
        if _serves(table, (group, version, kind), minor):
            return version
    return None


def _api_version(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


@lru_cache(maxsize=4096)
def api_status(group: str, version: str, kind: str,
               kubernetes_version: str) -> ApiStatus | None:
    """Everything known of group/version/kind as of `kubernetes_version`; None when it is
    not a built-in API the table knows (a CRD, a typo)."""
    table = _table()
    if kubernetes_version not in table.versions:
        raise ValueError(f"unsupported Kubernetes version {kubernetes_version!r}; expected one "
                         f"of {', '.join(table.versions)}")
    if kind.endswith("List") and kind != "List":
        item = api_status(group, version, kind[:-4], kubernetes_version)
        if item is not None:
            replacement = item.replacement and item.replacement + "List"
            usable = item.usable_now and item.usable_now + "List"
            return dataclasses.replace(item, kind=kind, replacement=replacement,
                                       usable_now=usable)
    gvk = (group, version, kind)
    fact = table.known.get(gvk)
    span = table.served.get(gvk)
    if fact is None and span is None:
        return None
    selected = _minor(kubernetes_version)
    newest = _minor(table.versions[-1])

    # Replacement: the table's, else the best version of the same kind in the newest release.
    if fact is not None and fact.replacement is not None:
        target_group, target_version = _split(fact.replacement)
        target_kind = fact.replacement_kind or kind
    else:
        target_group, target_kind = group, kind
        target_version = _best_served(table, group, kind, newest, above=version) or ""
    replacement = replacement_from = usable_now = None
    if target_version:
        replacement = f"{_api_version(target_group, target_version)} {target_kind}"
        target_span = table.served.get((target_group, target_version, target_kind))
        if target_span is not None:
            replacement_from = f"1.{target_span[0]}"
        floor = version if (target_group, target_kind) == (group, kind) else None
        now = _best_served(table, target_group, target_kind, selected, above=floor)
        if now is not None:
            usable_now = f"{_api_version(target_group, now)} {target_kind}"

    # Deprecation: the table's, else a schema description's, else superseded in the schemas.
    hint = table.hints.get(gvk)
    deprecated_in = fact.deprecated_in if fact is not None else None
    if deprecated_in is None and hint is not None:
        deprecated_in = hint[0]
    superseded_by = None
    if deprecated_in is None and span is not None and version_rank(version)[0] < _LEVEL[None]:
        for minor in range(span[0], span[1] + 1):
            newer = _best_served(table, group, kind, minor, above=version)
            if newer is not None:
                deprecated_in, superseded_by = f"1.{minor}", _api_version(group, newer)
                break
    if fact is not None and fact.removed_in is not None:
        removed_in: str | None = fact.removed_in
    elif span is not None and span[1] < newest:
        removed_in = f"1.{span[1] + 1}"
    else:
        removed_in = None
    return ApiStatus(
        api_version=_api_version(group, version), kind=kind,
        kubernetes_version=kubernetes_version,
        served=_serves(table, gvk, selected),
        first_served=f"1.{span[0]}" if span else None,
        last_served=f"1.{span[1]}" if span else None,
        deprecated_in=deprecated_in, superseded_by=superseded_by, removed_in=removed_in,
        replacement=replacement,
        replacement_from=replacement_from, usable_now=usable_now,
        alternative=fact.alternative if fact is not None else "",
        hint=hint[1] if hint is not None else "",
        notes=fact.notes if fact is not None else "",
        source="migration-guide" if fact is not None else
        "schema-description" if hint is not None else "schemas")


def _advice(status: ApiStatus) -> str:
    """What to do, as the end of a message."""
    if status.replacement is None:
        if status.alternative:
            return f"no API replaces it: {status.alternative}"
        if status.hint:
            return f"no API replaces it (its description: \"{status.hint}\")"
        return f"no newer version of it is served by Kubernetes {_table().versions[-1]}"
    if status.usable_now == status.replacement or (
            status.usable_now is None and status.replacement_from is None):
        text = f"use {status.replacement} instead"
    elif status.usable_now is not None:
        text = f"use {status.usable_now} now, {status.replacement} from Kubernetes " \
               f"{status.replacement_from}"
    else:
        text = f"move to {status.replacement}, served from Kubernetes {status.replacement_from}"
    if status.notes:
        text += f" (notable changes: {status.notes})"
    return text


def _details(status: ApiStatus) -> dict[str, Any]:
    details: dict[str, Any] = {
        "kubernetes_version": status.kubernetes_version,
        "superseded_in" if status.superseded_by else "deprecated_in": status.deprecated_in,
        "removed_in": status.removed_in,
        "replacement": status.replacement,
        "source": status.source,
    }
    if status.superseded_by:
        details["superseded_by"] = status.superseded_by
    if status.replacement_from:
        details["replacement_served_from"] = status.replacement_from
    if status.usable_now and status.usable_now != status.replacement:
        details["usable_now"] = status.usable_now
    if status.notes:
        details["notes"] = status.notes
    return details


def deprecation_findings(api_version: str, kind: str,
                         kubernetes_version: str) -> list[tuple[str, Violation]]:
    """DEP001/DEP002 violations (pointer `/apiVersion`) of an object, for one version.

    Nothing for an API the version does not serve (SCH005 reports it) or does not know.
    """
    group, version = _split(api_version)
    status = api_status(group, version, kind, kubernetes_version)
    if status is None or not status.served:
        return []
    name = f"{api_version} {kind}"
    first, newest = _table().versions[0], _table().versions[-1]
    if status.deprecated:
        since = status.deprecated_in
        if status.superseded_by is not None:
            text = f"{name} is superseded by {status.superseded_by}"
            if since != first:  # else: since 1.25 or earlier, nobody knows
                text += f" since Kubernetes {since}"
        else:
            text = f"{name} is deprecated since Kubernetes {since}"
        if status.removed_in is not None:
            text += f" and removed in {status.removed_in}"
        elif status.superseded_by is not None:
            text += f", still served in {newest}"
        else:
            text += ", with no removal announced"
        return [("DEP001", Violation(f"{text}; {_advice(status)}", "/apiVersion",
                                     _details(status)))]
    if status.removed_in is not None:
        text = f"{name} is removed in Kubernetes {status.removed_in}"
        if status.superseded_by is not None:
            text += f" (superseded by {status.superseded_by} in {status.deprecated_in})"
        elif status.deprecated_in is not None:
            text += f" (deprecated from {status.deprecated_in})"
        return [("DEP002", Violation(f"{text}; {_advice(status)}", "/apiVersion",
                                     _details(status)))]
    return []


def replacement(group: str, version: str, kind: str,
                kubernetes_version: str | None = None) -> str | None:
    """What to use instead of group/version/kind, as "apiVersion Kind" (or, when no API
    replaces it, a short phrase), for "…; use X instead". None when nothing is known.

    With `kubernetes_version`, prefers what that version serves, and says when the
    replacement only comes later; None for an API that version is too old to serve yet.
    """
    table = _table()
    status = api_status(group, version, kind, kubernetes_version or table.versions[-1])
    if status is None:
        return None
    if kubernetes_version is not None and status.first_served is not None and \
            _minor(status.first_served) > _minor(kubernetes_version):
        return None  # not removed: not introduced yet
    if status.replacement is None:
        return status.alternative or None
    if kubernetes_version is None or status.usable_now == status.replacement or \
            status.replacement_from is None:
        return status.replacement
    if status.usable_now is not None:
        return status.usable_now
    return f"{status.replacement} (served from Kubernetes {status.replacement_from})"
