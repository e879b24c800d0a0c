"""No subject holds two conflicting duties (deploy and approve, deploy and edit the audit trail).

Why it matters: segregation of duties is the first question of any finance audit. The
identity that ships a change to production must not also approve it, nor be able to alter or
delete the audit trail that records it; otherwise one compromised or dishonest account can
make a change and hide it. In a GitOps estate most of these duties are given by RoleBindings,
so the repository is where the conflict shows.

What is checked: every RoleBinding and ClusterRoleBinding of the estate, grouped by subject
(a Group, a User, or a ServiceAccount with its namespace, as the bindings name them). A
subject holds a duty when one of its bindings gives it a role that

- has a name matching one of the duty's `roles` patterns (this works for roles the estate
  binds without declaring them), or
- grants one of the duty's `permissions`: any of its `verbs` on any of its `resources` in any
  of its `apiGroups` (`*` means any), through a binding that applies in a namespace matching
  its `namespaces` patterns and of one of its `tiers` (both optional; a ClusterRoleBinding
  applies everywhere and always matches).

The duties of a conflict are mutually exclusive: a subject holding two or more of them gets
one finding per conflict. It is reported on the binding that gives the second duty (in the
order the conflict lists them), at the subject, and the message names the binding and the
reason for each duty held.

Default duties (finance defaults; configure your own role names):

- `deployer`: creates or changes what runs outside non-production: create/update/patch of
  Deployments, StatefulSets, DaemonSets, Pods, Jobs, CronJobs, Argo CD Applications and
  ApplicationSets, Argo Rollouts, Flux Kustomizations and HelmReleases, in `critical` or
  `standard` namespaces; or a role named `*deployer*`.
- `approver`: approves releases or changes. Kubernetes has no generic "approve" permission
  (release approval normally happens in Git, as a reviewed merge, which this checker does not
  see), so this duty is recognised by role name: `*approver*`, `*approval*`,
  `*release-manager*`.
- `audit-log-editor`: can alter or delete the audit trail. Read access is not this duty: an
  auditor must read logs. It is any write (create, update, patch, delete, deletecollection)
  on any resource in the namespaces that hold audit and log pipelines (`audit`, `audit-*`,
  `*-audit`, `logging`, `logging-*`, `*-logging`), or a role named `*audit*admin*`,
  `*audit*editor*` or `*audit*writer*` (a role named `auditor` or `audit-viewer` is a reader
  and does not count).

Default conflicts: `deploy-vs-approve` (deployer, approver) and `deploy-vs-audit` (deployer,
audit-log-editor).

Options:

- `duties`: `{name: {description, roles: [patterns], permissions: [{verbs, apiGroups,
  resources, namespaces, tiers}]}}`. Duties you configure are added to the defaults, or
  replace a default duty of the same name.
- `conflicts`: `[{name, duties: [duty, duty, ...]}]`; replaces the default list.
- `exempt`: subjects never reported (`{kind, name}`, ServiceAccounts with `namespace`).
  Default: the break-glass Group `platform:break-glass` (it holds everything by design) and
  the GitOps controllers (Argo CD's application controller in `argocd`; Flux's
  kustomize-controller and helm-controller in `flux-system`): a controller deploys everything,
  the audit stack included; its segregation is the reviewed merge in Git, and its reach is
  SOD001's and SOD004's business.

Subjects are compared as named: a User who is also a member of a Group is not joined to it
(group membership lives in the identity provider, outside the estate).

Passing: Group `release-managers` bound to ClusterRole `release-approver`, Group `payments-dev`
bound to Role `deployer` in namespace `payments` — two subjects.

Failing:

```yaml
kind: RoleBinding
metadata: {name: deployers, namespace: ledger}
roleRef: {kind: Role, name: deployer}
subjects: [{kind: Group, name: ledger-team}]
---
kind: ClusterRoleBinding
metadata: {name: approvers}
roleRef: {kind: ClusterRole, name: release-approver}
subjects: [{kind: Group, name: ledger-team}]
```
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from checker.model import Manifest, Violation
from checker.pyrules import Estate, RuleContext
from checker.tiers import TIERS

from ._rbac import Grant, OptionError, Subject, matching, rbac, string_list, subject_patterns

_WRITE = ["create", "update", "patch"]
_PRODUCTION = ["critical", "standard"]

DEFAULT_DUTIES: dict[str, dict[str, Any]] = {
    "deployer": {
        "description": "changes what runs in production",
        "roles": ["*deployer*"],
        "permissions": [
            {"verbs": _WRITE, "apiGroups": ["apps"],
             "resources": ["deployments", "statefulsets", "daemonsets"], "tiers": _PRODUCTION},
            {"verbs": _WRITE, "apiGroups": [""], "resources": ["pods"], "tiers": _PRODUCTION},
            {"verbs": _WRITE, "apiGroups": ["batch"], "resources": ["jobs", "cronjobs"],
             "tiers": _PRODUCTION},
            {"verbs": _WRITE, "apiGroups": ["argoproj.io"],
             "resources": ["applications", "applicationsets", "rollouts"],
             "tiers": _PRODUCTION},
            {"verbs": _WRITE, "apiGroups": ["kustomize.toolkit.fluxcd.io"],
             "resources": ["kustomizations"], "tiers": _PRODUCTION},
            {"verbs": _WRITE, "apiGroups": ["helm.toolkit.fluxcd.io"],
             "resources": ["helmreleases"], "tiers": _PRODUCTION},
        ],
    },
    "approver": {
        "description": "approves releases or changes",
        "roles": ["*approver*", "*approval*", "*release-manager*"],
    },
    "audit-log-editor": {
        "description": "can alter or delete the audit trail",
        "roles": ["*audit*admin*", "*audit*editor*", "*audit*writer*"],
        "permissions": [
            {"verbs": ["create", "update", "patch", "delete", "deletecollection"],
             "apiGroups": ["*"], "resources": ["*"],
             "namespaces": ["audit", "audit-*", "*-audit", "logging", "logging-*",
                            "*-logging"]},
        ],
    },
}

METADATA = {
    "id": "SOD002",
    "name": "conflicting-duties",
    "category": "sod",
    "severity": "high",
    "scope": "estate",
    "kinds": ["rbac.authorization.k8s.io/ClusterRoleBinding",
              "rbac.authorization.k8s.io/RoleBinding"],
    "options": {
        "duties": DEFAULT_DUTIES,
        "conflicts": [
            {"name": "deploy-vs-approve", "duties": ["deployer", "approver"]},
            {"name": "deploy-vs-audit", "duties": ["deployer", "audit-log-editor"]},
        ],
        "exempt": [
            {"kind": "Group", "name": "platform:break-glass"},
            {"kind": "ServiceAccount", "namespace": "argocd",
             "name": "argocd-application-controller"},
            {"kind": "ServiceAccount", "namespace": "flux-system", "name": "kustomize-controller"},
            {"kind": "ServiceAccount", "namespace": "flux-system", "name": "helm-controller"},
        ],
    },
    "remediation": "Give each conflicting duty to a different identity: split the role or the "
                   "group so that the deploying identity (a person's group or a pipeline's "
                   "ServiceAccount) cannot approve releases or write in the audit and logging "
                   "namespaces. Where one team must hold both, record the compensating control "
                   "as a dated exception.",
    "references": [
        "https://kubernetes.io/docs/concepts/security/rbac-good-practices/",
        "https://kubernetes.io/docs/reference/access-authn-authz/rbac/#rolebinding-and-clusterrolebinding",
    ],
}


@dataclass(frozen=True, slots=True)
class Permission:
    verbs: list[str]
    groups: list[str]
    resources: list[str]
    namespaces: list[str] | None
    tiers: list[str] | None


@dataclass(frozen=True, slots=True)
class Duty:
    name: str
    description: str
    roles: list[str]
    permissions: list[Permission]


@dataclass(frozen=True, slots=True)
class Held:
    """Evidence that a subject holds a duty: the grant and why it counts."""

    grant: Grant
    reason: str


def _duties(value: Any) -> dict[str, Duty]:
    if not isinstance(value, Mapping):
        raise OptionError("option duties must map duty names to {roles, permissions}")
    merged = {**DEFAULT_DUTIES, **value}
    duties = {}
    for name, spec in merged.items():
        where = f"option duties.{name}"
        if not isinstance(spec, Mapping):
            raise OptionError(f"{where} must be a mapping with roles and/or permissions")
        unknown = set(spec) - {"description", "roles", "permissions"}
        if unknown:
            raise OptionError(f"{where}: unknown key {', '.join(sorted(map(str, unknown)))} "
                             "(known: description, roles, permissions)")
        roles = string_list(spec.get("roles", []), f"{where}.roles")
        raw = spec.get("permissions", [])
        if not isinstance(raw, list):
            raise OptionError(f"{where}.permissions must be a list")
        permissions = [_permission(item, f"{where}.permissions[{i}]")
                       for i, item in enumerate(raw)]
        if not roles and not permissions:
            raise OptionError(f"{where} needs roles or permissions")
        duties[str(name)] = Duty(str(name), str(spec.get("description") or name), roles,
                                 permissions)
    return duties


def _permission(value: Any, where: str) -> Permission:
    if not isinstance(value, Mapping):
        raise OptionError(f"{where} must be a mapping {{verbs, apiGroups, resources}}")
    unknown = set(value) - {"verbs", "apiGroups", "resources", "namespaces", "tiers"}
    if unknown:
        raise OptionError(f"{where}: unknown key {', '.join(sorted(map(str, unknown)))}")
    verbs = string_list(value.get("verbs"), f"{where}.verbs")
    groups = string_list(value.get("apiGroups"), f"{where}.apiGroups")
    resources = string_list(value.get("resources"), f"{where}.resources")
    if not verbs or not groups or not resources:
        raise OptionError(f"{where} needs verbs, apiGroups and resources")
    namespaces = string_list(value["namespaces"], f"{where}.namespaces") \
        if "namespaces" in value else None
    tiers = string_list(value["tiers"], f"{where}.tiers") if "tiers" in value else None
    if tiers and set(tiers) - set(TIERS):
        raise OptionError(f"{where}.tiers: expected some of {', '.join(TIERS)}")
    return Permission(verbs, groups, resources, namespaces, tiers)


def _conflicts(value: Any, duties: Mapping[str, Duty]) -> list[tuple[str, list[str]]]:
    if not isinstance(value, list):
        raise OptionError("option conflicts must be a list of {name, duties}")
    conflicts = []
    for index, item in enumerate(value):
        where = f"option conflicts[{index}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise OptionError(f"{where} needs a name and a list of duties")
        names = string_list(item.get("duties"), f"{where}.duties")
        if len(set(names)) < 2:
            raise OptionError(f"{where} ({item['name']}) needs at least two different duties")
        unknown = [name for name in names if name not in duties]
        if unknown:
            raise OptionError(f"{where} ({item['name']}): unknown duty {', '.join(unknown)} "
                             f"(known: {', '.join(sorted(duties))})")
        conflicts.append((str(item["name"]), list(dict.fromkeys(names))))
    return conflicts


def _reason(duty: Duty, grant: Grant, ctx: RuleContext) -> str | None:
    """Why this grant gives the duty, or None."""
    binding, role = grant.binding, grant.role
    name = role.name if role is not None else binding.role_name
    for pattern in duty.roles:
        if fnmatch.fnmatchcase(name, pattern):
            return f"role name matches {pattern!r}"
    if role is None:
        return None
    for permission in duty.permissions:
        if not binding.cluster_wide:
            namespace = binding.namespace or ""
            if permission.namespaces is not None and not any(
                    fnmatch.fnmatchcase(namespace, p) for p in permission.namespaces):
                continue
            if permission.tiers is not None and ctx.tier(binding.manifest) not in \
                    permission.tiers:
                continue
        for rule in role.rules:
            hit = rule.overlap(permission.verbs, permission.groups, permission.resources)
            if hit is not None:
                verbs, _, resources = hit
                return (f"{rule.where(role)} grants {', '.join(verbs)} on "
                        f"{', '.join(resources)} {binding.scope()}")
    return None


def check(estate: Estate, ctx: RuleContext) -> Iterator[tuple[Manifest, Violation]]:
    duties = _duties(ctx.options["duties"])
    conflicts = _conflicts(ctx.options["conflicts"], duties)
    exempt = subject_patterns(ctx.options["exempt"], "exempt")
    wanted = {name for _, names in conflicts for name in names}
    held: dict[Subject, dict[str, Held]] = {}
    for grant in rbac(estate).grants():
        if matching(exempt, grant.subject):
            continue
        for name in sorted(wanted):
            if name in held.get(grant.subject, {}):
                continue
            reason = _reason(duties[name], grant, ctx)
            if reason is not None:
                held.setdefault(grant.subject, {})[name] = Held(grant, reason)
    for subject, found in held.items():
        for conflict, names in conflicts:
            present = [name for name in names if name in found]
            if len(present) < 2:
                continue
            evidence = "; ".join(
                f"{name} ({duties[name].description}) through {found[name].grant.via()}: "
                f"{found[name].reason}" for name in present)
            where = found[present[1]].grant
            yield where.binding.manifest, Violation(
                f"{subject.display()} holds conflicting duties ({conflict}): {evidence}",
                where.pointer,
                {"subject": subject.display(), "conflict": conflict,
                 "bindings": [found[name].grant.binding.display() for name in present]})
