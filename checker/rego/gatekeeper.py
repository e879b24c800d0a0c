"""Gatekeeper `ConstraintTemplate`s and their constraints, evaluated the way `gator` does.

A template carries Rego (usually v0) that reads `input.review.object` and
`input.parameters` and yields `violation[{"msg": …}]`; a constraint (kind = the template's
`spec.crd.spec.names.kind`, group `constraints.gatekeeper.sh`) says where it applies
(`spec.match`), with what parameters, and how loudly (`spec.enforcementAction`).

As Gatekeeper does, each template's package and its `libs` are moved to a namespace of their
own, so two templates may use the same package or library names without clashing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from checker.model import Manifest, RuleInfo, Severity
from checker.rego.convert import RegoConversionError
from checker.rego.match import validate_match
from checker.rego.policies import RULE_ID, PolicyProblem, RegoModule, read_module
from checker.secrets import masked

TEMPLATE_GROUP = "templates.gatekeeper.sh"
CONSTRAINT_GROUP = "constraints.gatekeeper.sh"
ADMISSION_TARGET = "admission.k8s.gatekeeper.sh"
SEVERITY_ANNOTATION = "gitops-checker.io/severity"
RULE_ID_ANNOTATION = "gitops-checker.io/rule-id"

ENFORCEMENT_SEVERITY = {
    "deny": Severity.HIGH,
    "warn": Severity.MEDIUM,
    "dryrun": Severity.LOW,
}
"""How an enforcementAction reads as a severity: what the cluster would block fails the gate."""

_PACKAGE_LINE = re.compile(r"^package\s+[^\s#]+", re.MULTILINE)
_DATA_LIB = re.compile(r"\bdata\.lib\b")


@dataclass(frozen=True, slots=True)
class Template:
    kind: str
    package: str
    modules: tuple[RegoModule, ...]
    manifest: Manifest


@dataclass(frozen=True, slots=True)
class Constraint:
    """One constraint object: a rule of its own, with the template that evaluates it."""

    info: RuleInfo
    template: Template
    match: Mapping[str, Any]
    parameters: Any
    manifest: Manifest
    enforcement: str = "deny"
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ref(self) -> str:
        return f"data.{self.template.package}.violation"


def is_template(manifest: Manifest) -> bool:
    return manifest.resource.group == TEMPLATE_GROUP and manifest.resource.kind == \
        "ConstraintTemplate"


def is_constraint(manifest: Manifest) -> bool:
    return manifest.resource.group == CONSTRAINT_GROUP


def read_templates(manifests: Iterable[Manifest]) -> tuple[dict[str, Template],
                                                           list[PolicyProblem]]:
    templates: dict[str, Template] = {}
    problems: list[PolicyProblem] = []
    for manifest in manifests:
        if not is_template(manifest):
            continue
        where = manifest.location.path or "-"
        try:
            template = _read_template(manifest)
        except RegoConversionError as exc:
            problems.append(PolicyProblem(f"ConstraintTemplate {manifest.resource.name}: "
                                          f"{exc.message}", exc.path or where,
                                          exc.line or manifest.location.line))
            continue
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            problems.append(PolicyProblem(f"ConstraintTemplate {manifest.resource.name} is "
                                          f"incomplete: {exc}", where, manifest.location.line))
            continue
        if template.kind in templates:
            first = templates[template.kind].manifest.location
            problems.append(PolicyProblem(
                f"ConstraintTemplate for {template.kind} is declared twice (also at "
                f"{first.path}:{first.line}); the first one is used", where,
                manifest.location.line))
            continue
        templates[template.kind] = template
    return templates, problems


def _read_template(manifest: Manifest) -> Template:
    spec = manifest.obj["spec"]
    kind = spec["crd"]["spec"]["names"]["kind"]
    if not isinstance(kind, str) or not kind:
        raise ValueError("spec.crd.spec.names.kind is missing")
    targets = [t for t in spec["targets"] if t.get("target") == ADMISSION_TARGET]
    if not targets:
        raise ValueError(f"no target {ADMISSION_TARGET}")
    target = targets[0]
    if "rego" not in target:
        raise ValueError("only Rego templates are supported (this one has no `rego`; "
                         "CEL `code` templates are not evaluated)")
    own = re.sub(r"\W", "_", kind.lower())
    package = f"gatekeeper.templates.{own}"
    libs_root = f"data.gatekeeper.libs.{own}.lib"
    base = manifest.location.path or "-"
    modules = []
    sources = [("rego", target["rego"])] + [
        (f"libs[{i}]", lib) for i, lib in enumerate(target.get("libs") or [])]
    for label, text in sources:
        if not isinstance(text, str):
            raise TypeError(f"{label} is not a string")
        module = read_module(text, f"{base}#{kind}.{label}")
        if label == "rego":
            new_package = package
        else:
            if module.package != "lib" and not module.package.startswith("lib."):
                raise ValueError(f"{label}: library packages must start with `lib` "
                                 f"(found {module.package})")
            new_package = f"gatekeeper.libs.{own}.{module.package}"
        source = _PACKAGE_LINE.sub(f"package {new_package}", module.source, count=1)
        source = _DATA_LIB.sub(libs_root, source)
        modules.append(RegoModule(module.path, new_package, source, module.rules,
                                  module.package_metadata))
    return Template(kind, package, tuple(modules), manifest)


def read_constraints(manifests: Iterable[Manifest], templates: Mapping[str, Template]
                     ) -> tuple[list[Constraint], list[PolicyProblem]]:
    constraints: list[Constraint] = []
    problems: list[PolicyProblem] = []
    for manifest in manifests:
        if not is_constraint(manifest):
            continue
        where = manifest.location.path or "-"
        kind, name = manifest.resource.kind, manifest.resource.name
        template = templates.get(kind)
        if template is None:
            known = ", ".join(sorted(templates)) or "none"
            problems.append(PolicyProblem(f"constraint {kind}/{name} has no ConstraintTemplate "
                                          f"(templates found: {known})", where,
                                          manifest.location.line))
            continue
        spec = manifest.obj.get("spec") or {}
        if not isinstance(spec, Mapping):
            problems.append(PolicyProblem(f"constraint {kind}/{name}: spec is not a mapping",
                                          where, manifest.location.line))
            continue
        match = spec.get("match") or {}
        wrong = validate_match(match)
        if wrong:
            problems.extend(PolicyProblem(f"constraint {kind}/{name}: {m}", where,
                                          manifest.location.line) for m in wrong)
            continue
        action = str(spec.get("enforcementAction") or "deny")
        if action == "scoped":
            # Gatekeeper's per-enforcement-point actions: the strictest one counts here.
            points = [p.get("action") for p in spec.get("scopedEnforcementActions") or []
                      if isinstance(p, Mapping)]
            action = next((a for a in ("deny", "warn", "dryrun") if a in points), "deny")
        if action not in ENFORCEMENT_SEVERITY:
            problems.append(PolicyProblem(
                f"constraint {kind}/{name}: unknown enforcementAction {action!r} (expected "
                f"{', '.join(ENFORCEMENT_SEVERITY)} or scoped)", where, manifest.location.line))
            continue
        annotation_problems = _annotation_problems(manifest)
        if annotation_problems:
            problems.extend(PolicyProblem(f"constraint {kind}/{name}: {m}", where,
                                          manifest.location.line) for m in annotation_problems)
            continue
        constraints.append(Constraint(
            _constraint_info(manifest, template, action), template, match,
            spec.get("parameters"), manifest, action))
    return constraints, problems


def _annotation_problems(manifest: Manifest) -> list[str]:
    """A misspelt severity or id must not silently fall back (a gate would pass)."""
    annotations = (manifest.obj.get("metadata") or {}).get("annotations") or {}
    problems = []
    severity = annotations.get(SEVERITY_ANNOTATION)
    if severity is not None:
        try:
            Severity.parse(str(severity))
        except ValueError as exc:
            problems.append(f"annotation {SEVERITY_ANNOTATION}: {exc}")
    rule_id = annotations.get(RULE_ID_ANNOTATION)
    if rule_id is not None and (not isinstance(rule_id, str) or not RULE_ID.match(rule_id)):
        problems.append(f"annotation {RULE_ID_ANNOTATION} {rule_id!r} is malformed (pattern "
                        f"{RULE_ID.pattern})")
    return problems


def _constraint_info(manifest: Manifest, template: Template, action: str) -> RuleInfo:
    annotations = (manifest.obj.get("metadata") or {}).get("annotations") or {}
    template_annotations = (template.manifest.obj.get("metadata") or {}).get(
        "annotations") or {}
    severity = ENFORCEMENT_SEVERITY[action]
    override = annotations.get(SEVERITY_ANNOTATION)
    if isinstance(override, str):
        severity = Severity.parse(override)  # checked by _annotation_problems
    kind, name = manifest.resource.kind, manifest.resource.name
    rule_id = annotations.get(RULE_ID_ANNOTATION) or f"{kind}.{name}"
    title = template_annotations.get("metadata.gatekeeper.sh/title") or kind
    description = template_annotations.get("description") or f"Gatekeeper constraint " \
        f"{kind}/{name} (template {template.manifest.location.path})"
    return RuleInfo(id=str(rule_id), name=f"{_kebab(kind)}.{name}", severity=severity,
                    category="policy", description=f"{title}: {description}"
                    if title != kind else str(description), engine="rego")


def _kebab(text: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", text).lower()


def constraint_crd(template: Template) -> dict[str, Any]:
    """The CRD Gatekeeper would create for a template, so constraints are schema-checked
    (their `parameters` against the template's schema) instead of being unknown kinds."""
    spec = template.manifest.obj["spec"]["crd"]["spec"]
    parameters = ((spec.get("validation") or {}).get("openAPIV3Schema")
                  or {"type": "object", "x-kubernetes-preserve-unknown-fields": True})
    constraint_spec = {
        "type": "object",
        "properties": {
            "match": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "enforcementAction": {"type": "string"},
            "scopedEnforcementActions": {
                "type": "array",
                "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            "parameters": parameters,
        },
    }
    schema = {"type": "object", "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"},
        "metadata": {"type": "object"}, "spec": constraint_spec,
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
    kind = template.kind
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.lower()}.{CONSTRAINT_GROUP}"},
        "spec": {
            "group": CONSTRAINT_GROUP,
            "scope": "Cluster",
            "names": {"kind": kind, "plural": kind.lower(), "singular": kind.lower(),
                      "listKind": f"{kind}List"},
            "versions": [{"name": version, "served": True, "storage": version == "v1beta1",
                          "schema": {"openAPIV3Schema": schema}}
                         for version in ("v1beta1", "v1alpha1", "v1")],
        },
    }


def review(manifest: Manifest) -> dict[str, Any]:
    """`input.review` as Gatekeeper builds it for an object being created, without the
    object itself (the batch query adds it, so that it crosses into OPA once)."""
    resource = manifest.resource
    group, _, version = resource.api_version.rpartition("/")
    return {
        "kind": {"group": group, "version": version, "kind": resource.kind},
        "name": resource.name,
        "namespace": resource.namespace or "",
        "operation": "CREATE",
        "userInfo": {"username": "gitops-checker"},
        "dryRun": True,
    }


def inventory(manifests: Iterable[Manifest]) -> dict[str, Any]:
    """`data.inventory` in Gatekeeper's shape, from every object of the estate:
    `cluster[apiVersion][kind][name]` and `namespace[ns][apiVersion][kind][name]`."""
    from checker.kinds import is_cluster_scoped

    cluster: dict[str, Any] = {}
    namespaced: dict[str, Any] = {}
    for manifest in manifests:
        resource = manifest.resource
        if is_cluster_scoped(resource.api_version, resource.kind):
            branch = cluster
        else:
            branch = namespaced.setdefault(resource.namespace or "", {})
        branch.setdefault(resource.api_version, {}).setdefault(resource.kind, {})[
            resource.name] = masked(manifest.obj)
    return {"cluster": cluster, "namespace": namespaced}
