"""Namespace tiers and what each tier requires.

Every object belongs to a tier: `critical` (core finance: ledger, invoicing, treasury,
production ERP and its database), `standard`, or `nonprod` (dev, staging, CI, training).
The tier is read, in order, from:

1. the label `gitops-checker.io/tier` of the object's Namespace (or of a Namespace object
   itself), when the estate declares it;
2. the config's `tiers.namespaces` patterns (first match), e.g. `"erp-prod*": critical`;
3. the config's `tiers.paths` globs on the file the object is declared in;
4. `tiers.default`, which is `standard` unless configured: an unknown namespace is neither
   waved through as non-production nor held to production's bar.

Requirements per tier (RPO, retention, replicas, ratios, storage classes, …) are config with
the defaults below; rules read them through `RuleContext.requirement`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from checker.model import Manifest, RuleInfo, Severity, Violation

TIER_LABEL = "gitops-checker.io/tier"
TIERS = ("critical", "standard", "nonprod")
DEFAULT_TIER = "standard"

DEFAULT_REQUIREMENTS: Mapping[str, Mapping[str, Any]] = {
    "critical": {
        "rpo_hours": 1,                    # newest backup at most this old
        "backup_retention_days": 30,       # backups kept at least this long
        "backup_required": True,
        "min_replicas": 2,
        "max_limit_request_ratio": 2.0,    # memory/CPU limit ÷ request
        "storage_classes": [],             # allowed PVC storage classes; [] = any
        "require_image_digest": True,
        "require_rate_limit": True,
        "require_pdb": True,
        "require_zone_spread": True,
        "min_db_instances": 2,
    },
    "standard": {
        "rpo_hours": 24,
        "backup_retention_days": 7,
        "backup_required": True,
        "min_replicas": 1,
        "max_limit_request_ratio": 4.0,
        "storage_classes": [],
        "require_image_digest": False,
        "require_rate_limit": False,
        "require_pdb": False,
        "require_zone_spread": False,
        "min_db_instances": 1,
    },
    "nonprod": {
        "rpo_hours": None,                 # no backup required
        "backup_retention_days": 0,
        "backup_required": False,
        "min_replicas": 1,
        "max_limit_request_ratio": 8.0,
        "storage_classes": [],
        "require_image_digest": False,
        "require_rate_limit": False,
        "require_pdb": False,
        "require_zone_spread": False,
        "min_db_instances": 1,
    },
}


@dataclass(frozen=True)
class TierPolicy:
    default: str = DEFAULT_TIER
    namespaces: Sequence[tuple[str, str]] = ()
    paths: Sequence[tuple[str, str]] = ()
    requirements: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: DEFAULT_REQUIREMENTS)

    @classmethod
    def from_config(cls, data: Mapping[str, Any] | None) -> TierPolicy:
        """From the config's validated `tiers` section; requirements merge over defaults."""
        data = data or {}
        overrides = data.get("requirements") or {}
        requirements = {tier: {**DEFAULT_REQUIREMENTS[tier], **(overrides.get(tier) or {})}
                        for tier in TIERS}
        return cls(default=data.get("default", DEFAULT_TIER),
                   namespaces=tuple((data.get("namespaces") or {}).items()),
                   paths=tuple((data.get("paths") or {}).items()),
                   requirements=requirements)


@dataclass
class TierResolver:
    """The tier of each object, from the estate's Namespaces and the policy."""

    policy: TierPolicy
    namespaces: Mapping[str, Manifest]

    def tier(self, manifest: Manifest) -> str:
        return self.explain(manifest)[0]

    def explain(self, manifest: Manifest) -> tuple[str, str]:
        """(tier, where it came from) — reported in findings so auditors can follow it."""
        resource = manifest.resource
        namespace = resource.name if resource.kind == "Namespace" and resource.group == "" \
            else resource.namespace
        if namespace:
            tier = self.namespace_tier(namespace)
            if tier is not None:
                return tier
        path = manifest.location.path or ""
        for pattern, tier_name in self.policy.paths:
            if _path_match(path, pattern):
                return tier_name, f"config tiers.paths {pattern!r}"
        return self.policy.default, "default"

    def namespace_tier(self, namespace: str) -> tuple[str, str] | None:
        declared = self.namespaces.get(namespace)
        if declared is not None:
            labels = (declared.obj.get("metadata") or {}).get("labels") or {}
            value = labels.get(TIER_LABEL) if isinstance(labels, Mapping) else None
            if value in TIERS:
                return str(value), f"label {TIER_LABEL} on Namespace {namespace}"
        for pattern, tier_name in self.policy.namespaces:
            if fnmatch.fnmatchcase(namespace, pattern):
                return tier_name, f"config tiers.namespaces {pattern!r}"
        return None

    def requirement(self, manifest: Manifest, key: str) -> Any:
        return self.policy.requirements[self.tier(manifest)][key]


def _path_match(path: str, pattern: str) -> bool:
    from checker.exceptions import path_glob_match

    return path_glob_match(path, pattern)


def invalid_tier_labels(namespaces: Mapping[str, Manifest]) -> list[tuple[Manifest, str]]:
    """Namespaces whose tier label is not one of the tiers (a typo must not silently
    demote a critical namespace to the default)."""
    wrong = []
    for manifest in namespaces.values():
        labels = (manifest.obj.get("metadata") or {}).get("labels") or {}
        value = labels.get(TIER_LABEL) if isinstance(labels, Mapping) else None
        if value is not None and value not in TIERS:
            wrong.append((manifest, str(value)))
    return wrong


RULES = {
    "TIER001": RuleInfo(
        "TIER001", "invalid-tier-label", Severity.HIGH, "policy",
        f"A Namespace's {TIER_LABEL} label is not one of {', '.join(TIERS)}: its objects "
        "fall back to another tier and may be held to a lower bar.", "python",
        f"Set {TIER_LABEL} to critical, standard or nonprod."),
}


def tier_label_violations(resolver: TierResolver) -> list[tuple[Manifest, Violation]]:
    found = []
    for manifest, value in invalid_tier_labels(resolver.namespaces):
        tier, source = resolver.explain(manifest)
        found.append((manifest, Violation(
            f"tier label {value!r} is not one of {', '.join(TIERS)}; the namespace is "
            f"treated as {tier} ({source})",
            "/metadata/labels/" + TIER_LABEL.replace("/", "~1"))))
    return found


def rego_data(resolver: TierResolver, namespace_names: Iterable[str]) -> dict[str, Any]:
    """`data.gitops_checker` for Rego rules: the tier of every namespace named, the default,
    and what each tier requires."""
    namespaces = {}
    for name in sorted(set(namespace_names)):
        found = resolver.namespace_tier(name)
        namespaces[name] = found[0] if found else resolver.policy.default
    return {"tiers": {"namespaces": namespaces, "default": resolver.policy.default},
            "requirements": {k: dict(v) for k, v in resolver.policy.requirements.items()}}
