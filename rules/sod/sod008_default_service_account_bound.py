"""A namespace's `default` ServiceAccount is given no rights.

Why it matters: every pod that does not name a ServiceAccount runs as `default`. A role bound
to it is therefore held by every such pod of the namespace, today's and tomorrow's, including
an add-on or a debug pod nobody reviewed for it; the right cannot be traced to one workload.
Rights belong to a ServiceAccount made for the workload that needs them (SOD005 checks the
workloads' side).

What is checked: every subject of every RoleBinding and ClusterRoleBinding that is a
ServiceAccount named `default` (in the binding's namespace when the subject gives none),
whatever the role, unless the role's name matches `allowed_roles`.

Options:

- `allowed_roles`: shell patterns of role names the default ServiceAccount may hold.
  Default: none.

Severity: medium; high when the binding is in a `critical` namespace, low in `nonprod`
(a ClusterRoleBinding takes the tier of its file or the default tier).

Passing: a RoleBinding of Role `rates-writer` to ServiceAccount `treasury/rates-sync`.

Failing:

```yaml
kind: RoleBinding
metadata: {name: rates-writer, namespace: treasury}
roleRef: {kind: Role, name: rates-writer}
subjects: [{kind: ServiceAccount, name: default, namespace: treasury}]
```
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator

from checker.model import Manifest, Violation
from checker.pyrules import Estate, RuleContext

from ._rbac import SERVICE_ACCOUNT, rbac, string_list

METADATA = {
    "id": "SOD008",
    "name": "default-service-account-bound",
    "category": "sod",
    "severity": "medium",
    "tier_severity": {"critical": "high", "standard": "medium", "nonprod": "low"},
    "scope": "estate",
    "kinds": ["rbac.authorization.k8s.io/ClusterRoleBinding",
              "rbac.authorization.k8s.io/RoleBinding"],
    "options": {"allowed_roles": []},
    "remediation": "Create a ServiceAccount for the workload that needs the rights, bind the "
                   "role to it, set serviceAccountName on that workload, and remove the "
                   "default ServiceAccount from the binding.",
    "references": [
        "https://kubernetes.io/docs/concepts/security/service-accounts/",
        ("https://kubernetes.io/docs/reference/access-authn-authz/rbac/"
         "#service-account-permissions"),
    ],
}


def check(estate: Estate, ctx: RuleContext) -> Iterator[tuple[Manifest, Violation]]:
    allowed = string_list(ctx.options["allowed_roles"], "allowed_roles")
    for grant in rbac(estate).grants():
        subject, binding = grant.subject, grant.binding
        if subject.kind != SERVICE_ACCOUNT or subject.name != "default":
            continue
        if any(fnmatch.fnmatchcase(binding.role_name, p) for p in allowed):
            continue
        yield binding.manifest, Violation(
            f"the default ServiceAccount of namespace {subject.namespace or '?'} is bound to "
            f"{binding.role_display()} {binding.scope()} through {binding.display()}: every "
            "pod there that names no ServiceAccount holds it",
            grant.pointer,
            {"subject": subject.display(), "binding": binding.display()})
