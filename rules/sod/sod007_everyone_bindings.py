"""No role is bound to everyone: all authenticated users, anonymous callers or all ServiceAccounts.

Why it matters: a binding to `system:authenticated` gives its role to every identity the
cluster trusts, which on managed clusters can mean any account of the cloud provider; one to
`system:unauthenticated` or the user `system:anonymous` gives it to anybody who reaches the
API server; one to `system:serviceaccounts` gives it to every pod of every namespace. None of
these is an identity that can be held accountable, so nothing granted this way is segregated.

What is checked: every subject of every RoleBinding and ClusterRoleBinding that is the Group
`system:authenticated`, `system:unauthenticated` or `system:serviceaccounts`, or the User
`system:anonymous`, whatever the role (declared or not), unless the role's name matches
`allowed_roles`. The API server's own discovery bindings (`system:discovery`,
`system:basic-user`, `system:public-info-viewer`, `system:service-account-issuer-discovery`)
are allowed by default, so an estate that declares them explicitly passes. The per-namespace
group `system:serviceaccounts:<namespace>` is not reported here (SOD006 looks at it).

Options:

- `allowed_roles`: shell patterns of role names that may be bound to these subjects.

Severity: critical.

Passing: ClusterRoleBinding of ClusterRole `system:public-info-viewer` to Group
`system:unauthenticated`.

Failing:

```yaml
kind: ClusterRoleBinding
metadata: {name: read-everything}
roleRef: {kind: ClusterRole, name: view}
subjects: [{kind: Group, name: "system:authenticated"}]
```
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator

from checker.model import Manifest, Violation
from checker.pyrules import Estate, RuleContext

from ._rbac import ALL_SERVICE_ACCOUNTS_GROUP, rbac, string_list

EVERYONE = {
    ("Group", "system:authenticated"): "every authenticated identity",
    ("Group", "system:unauthenticated"): "every unauthenticated caller",
    ("User", "system:anonymous"): "every anonymous caller",
    ("Group", ALL_SERVICE_ACCOUNTS_GROUP): "every ServiceAccount of every namespace",
}

METADATA = {
    "id": "SOD007",
    "name": "binding-to-everyone",
    "category": "sod",
    "severity": "critical",
    "scope": "estate",
    "kinds": ["rbac.authorization.k8s.io/ClusterRoleBinding",
              "rbac.authorization.k8s.io/RoleBinding"],
    "options": {
        "allowed_roles": ["system:discovery", "system:basic-user",
                          "system:public-info-viewer", "system:service-account-issuer-discovery"],
    },
    "remediation": "Bind the role to the groups or ServiceAccounts that need it; never to "
                   "system:authenticated, system:unauthenticated, system:anonymous or "
                   "system:serviceaccounts.",
    "references": [
        "https://kubernetes.io/docs/reference/access-authn-authz/rbac/#discovery-roles",
        "https://kubernetes.io/docs/concepts/security/rbac-good-practices/",
    ],
}


def check(estate: Estate, ctx: RuleContext) -> Iterator[tuple[Manifest, Violation]]:
    allowed = string_list(ctx.options["allowed_roles"], "allowed_roles")
    for grant in rbac(estate).grants():
        who = EVERYONE.get((grant.subject.kind, grant.subject.name))
        if who is None:
            continue
        binding = grant.binding
        if any(fnmatch.fnmatchcase(binding.role_name, p) for p in allowed):
            continue
        yield binding.manifest, Violation(
            f"{grant.subject.display()} ({who}) is bound to {binding.role_display()} "
            f"{binding.scope()} through {binding.display()}",
            grant.pointer,
            {"subject": grant.subject.display(), "binding": binding.display()})
