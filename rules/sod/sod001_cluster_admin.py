"""Only break-glass subjects are bound to cluster-admin or to a role granting everything.

Why it matters: `cluster-admin`, or any role with `*` verbs on `*` resources in `*` API groups,
can read every Secret (database passwords, payment-provider keys), rewrite every workload
and every RoleBinding, and erase its own traces. On a finance platform that power belongs to
an audited break-glass identity used under incident procedure, never to a team, a person's
day-to-day account or an automation.

What is checked: every subject of every RoleBinding and ClusterRoleBinding of the estate whose
role is

- the built-in ClusterRole `cluster-admin` (unless the estate redefines it), or
- any Role or ClusterRole declared in the estate holding a rule with `*` verbs, `*` resources
  and `*` apiGroups and no `resourceNames` (aggregated ClusterRoles are resolved, so a
  ClusterRole labelled into an aggregation counts for the role it widens).

A RoleBinding to such a role is reported too: in its namespace it grants full control,
Secrets and RBAC included. The finding is on the subject (`/subjects/N`) and names the binding,
the role and where it applies. Subjects matching `break_glass` are exempt.

Roles the estate binds but does not declare, other than the built-ins `cluster-admin`,
`admin`, `edit` and `view`, cannot be judged and are not reported (a role is "not declared"
when it lives only in the cluster). `admin` and `edit` are powerful (Secrets, workloads,
RoleBindings for `admin`) but not everything: SOD003 and SOD004 look at them.

Options:

- `break_glass`: subjects allowed to hold it, each `{kind, name}` (`Group`, `User`) or
  `{kind: ServiceAccount, namespace, name}`; names may be shell patterns. Default: the Group
  `platform:break-glass`.

Severity: critical; `high` for a RoleBinding in a `nonprod` namespace. A ClusterRoleBinding is
cluster-scoped and takes the tier of its file (config `tiers.paths`) or the default tier.

Passing:

```yaml
kind: ClusterRoleBinding
metadata: {name: break-glass}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: Group, name: "platform:break-glass"}]
```

Failing:

```yaml
kind: ClusterRoleBinding
metadata: {name: ops-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: Group, name: ops-team}]
```
"""

from __future__ import annotations

from collections.abc import Iterator

from checker.model import Manifest, Violation
from checker.pyrules import Estate, RuleContext

from ._rbac import matching, rbac, show_patterns, subject_patterns

METADATA = {
    "id": "SOD001",
    "name": "cluster-admin-binding",
    "category": "sod",
    "severity": "critical",
    "tier_severity": {"critical": "critical", "standard": "critical", "nonprod": "high"},
    "scope": "estate",
    "kinds": ["rbac.authorization.k8s.io/ClusterRoleBinding",
              "rbac.authorization.k8s.io/RoleBinding"],
    "options": {
        "break_glass": [{"kind": "Group", "name": "platform:break-glass"}],
    },
    "remediation": "Bind a role with only the verbs and resources the subject needs (the "
                   "built-in admin, edit or view, or a purpose-made Role), scoped with a "
                   "RoleBinding to the namespaces it works in. Keep cluster-admin for the "
                   "break-glass group, used under the incident procedure and reviewed after.",
    "references": [
        "https://kubernetes.io/docs/reference/access-authn-authz/rbac/#user-facing-roles",
        ("https://kubernetes.io/docs/concepts/security/rbac-good-practices/"
         "#least-privilege"),
    ],
}


def check(estate: Estate, ctx: RuleContext) -> Iterator[tuple[Manifest, Violation]]:
    exempt = subject_patterns(ctx.options["break_glass"], "break_glass")
    for grant in rbac(estate).grants():
        role = grant.role
        if role is None or not role.everything or matching(exempt, grant.subject):
            continue
        power = next(rule for rule in role.rules if rule.everything)
        yield grant.binding.manifest, Violation(
            f"{grant.subject.display()} is bound to {role.display()} "
            f"{grant.binding.scope()}, whose {power.where(role)} grants every verb on every "
            f"resource; only break-glass subjects may hold it ({show_patterns(exempt)})",
            grant.pointer,
            {"subject": grant.subject.display(), "binding": grant.binding.display(),
             "role": role.display()})
