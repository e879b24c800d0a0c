"""Only platform admins hold escalate, bind or impersonate (or `*` on roles and identities).

Why it matters: these verbs are the ways around RBAC itself. `escalate` lets a subject write a
Role granting more than it holds; `bind` lets it bind any role, cluster-admin included, to
anyone; `impersonate` lets it act as another user, group or ServiceAccount and so take their
rights. `*` verbs on roles, clusterroles, users, groups or serviceaccounts include all three.
On a finance platform each of them turns a limited account into an unlimited one, so they
belong to the platform administrators only.

What is checked: every subject of every RoleBinding and ClusterRoleBinding whose role (estate
Role or ClusterRole with aggregation resolved, or the built-in `admin`, `edit`, `view`) has a
rule with

- verb `escalate`, `bind` or `impersonate` on any resource, or
- verb `*` on `roles`, `clusterroles`, `users`, `groups` or `serviceaccounts` (or `*`
  resources) in a matching API group,

unless the subject matches `admins`. Note that the built-in `edit` and `admin` roles grant
`impersonate` on ServiceAccounts: whoever holds them in a namespace can act as any
ServiceAccount there, as the Kubernetes documentation warns. Roles granting everything
(cluster-admin and its equivalents) are SOD001's findings and are not repeated here.

Options:

- `admins`: subjects allowed these verbs, `{kind, name}` or `{kind: ServiceAccount,
  namespace, name}`; shell patterns allowed. Default: the Groups `platform:break-glass` and
  `platform-admins`.

Severity: high; low for a RoleBinding in a `nonprod` namespace (a ClusterRoleBinding takes the
tier of its file or the default tier).

Passing: ClusterRole `rbac-manager` (verbs `bind`, `escalate` on roles) bound to Group
`platform-admins`.

Failing:

```yaml
kind: RoleBinding
metadata: {name: devs, namespace: payments}
roleRef: {kind: ClusterRole, name: edit}
subjects: [{kind: Group, name: payments-devs}]
```
"""

from __future__ import annotations

from collections.abc import Iterator

from checker.model import Manifest, Violation
from checker.pyrules import Estate, RuleContext

from ._rbac import PolicyRule, Role, matching, rbac, show_patterns, subject_patterns

ESCALATION_VERBS = ("escalate", "bind", "impersonate")
IDENTITY_RESOURCES = {
    "roles": "rbac.authorization.k8s.io", "clusterroles": "rbac.authorization.k8s.io",
    "users": "", "groups": "", "serviceaccounts": "",
}

METADATA = {
    "id": "SOD003",
    "name": "privilege-escalation-verbs",
    "category": "sod",
    "severity": "high",
    "tier_severity": {"critical": "high", "standard": "high", "nonprod": "low"},
    "scope": "estate",
    "kinds": ["rbac.authorization.k8s.io/ClusterRoleBinding",
              "rbac.authorization.k8s.io/RoleBinding"],
    "options": {
        "admins": [{"kind": "Group", "name": "platform:break-glass"},
                   {"kind": "Group", "name": "platform-admins"}],
    },
    "remediation": "Remove escalate, bind and impersonate (and `*` verbs on roles and "
                   "identities) from roles held by anyone but the platform admins. For people "
                   "who deploy, prefer a purpose-made Role over the built-in edit/admin, which "
                   "grant impersonation of the namespace's ServiceAccounts.",
    "references": [
        ("https://kubernetes.io/docs/concepts/security/rbac-good-practices/"
         "#privilege-escalation-risks"),
        ("https://kubernetes.io/docs/reference/access-authn-authz/rbac/"
         "#privilege-escalation-prevention-and-bootstrapping"),
        ("https://kubernetes.io/docs/reference/access-authn-authz/authentication/"
         "#user-impersonation"),
    ],
}


def escalation_rules(role: Role) -> list[tuple[PolicyRule, list[str]]]:
    """The rules of a role that allow escalation, with the verbs that do."""
    found = []
    for rule in role.rules:
        verbs = [verb for verb in ESCALATION_VERBS if verb in rule.verbs]
        if "*" in rule.verbs and any(rule.allows("*", group, resource)
                                     for resource, group in IDENTITY_RESOURCES.items()):
            verbs.append("*")
        if verbs:
            found.append((rule, verbs))
    return found


def check(estate: Estate, ctx: RuleContext) -> Iterator[tuple[Manifest, Violation]]:
    admins = subject_patterns(ctx.options["admins"], "admins")
    for grant in rbac(estate).grants():
        role = grant.role
        if role is None or role.everything or matching(admins, grant.subject):
            continue
        found = escalation_rules(role)
        if not found:
            continue
        what = "; ".join(f"{rule.where(role)}: {rule.describe()}" for rule, _ in found)
        verbs = sorted({verb for _, hit in found for verb in hit})
        yield grant.binding.manifest, Violation(
            f"{grant.subject.display()} gets {', '.join(verbs)} {grant.binding.scope()} "
            f"through {grant.via()} ({what}); only admins may ({show_patterns(admins)})",
            grant.pointer,
            {"subject": grant.subject.display(), "verbs": verbs,
             "binding": grant.binding.display(), "role": role.display()})
