"""Non-production identities have no bindings in critical namespaces.

Why it matters: development, staging and CI identities are held to a lower bar: shared
credentials, broad self-service, tokens on laptops and runners. Separating production from
experimentation (a core recommendation for finance platforms) is void if one of those
identities can act in the ledger, invoicing or treasury namespaces, or read their data.

What is checked: every subject of every binding that applies in a `critical` namespace:

- a RoleBinding in a namespace of tier `critical`, or
- a ClusterRoleBinding (it applies in every namespace) when the estate has at least one
  critical namespace (declared, or holding objects; the message names up to three),

whose subject is a non-production identity:

- a ServiceAccount of a namespace of tier `nonprod`, or the group
  `system:serviceaccounts:<namespace>` of such a namespace;
- a Group or User whose name matches one of `nonprod_subjects`.

Tiers come from the namespace label `gitops-checker.io/tier`, else the config's
`tiers.namespaces` patterns, else the default tier. Any role counts, read-only ones included
(`view` shows Pod logs and ConfigMaps of production), unless its name matches
`allowed_roles`. ServiceAccounts are judged by their namespace's tier, not by their name.

Options:

- `nonprod_subjects`: shell patterns for Group and User names of non-production identities.
  Default: `*-dev`, `*-staging`, `*developers*`, `ci-*`.
- `allowed_roles`: patterns of role names that non-production identities may hold there
  (e.g. a purpose-made `incident-log-reader`). Default: none.

Passing: Group `ledger-oncall` bound to ClusterRole `view` in the critical namespace `ledger`.

Failing:

```yaml
kind: RoleBinding
metadata: {name: dev-debug, namespace: ledger}     # ledger is critical
roleRef: {kind: ClusterRole, name: view}
subjects: [{kind: Group, name: erp-developers}]
```
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Sequence

from checker.model import Manifest, Violation
from checker.pyrules import Estate, RuleContext

from ._rbac import (
    ALL_SERVICE_ACCOUNTS_GROUP,
    SERVICE_ACCOUNT,
    Grant,
    known_namespaces,
    namespace_tier,
    rbac,
    string_list,
)

METADATA = {
    "id": "SOD006",
    "name": "nonprod-identity-in-critical-namespace",
    "category": "sod",
    "severity": "high",
    "scope": "estate",
    "kinds": ["rbac.authorization.k8s.io/ClusterRoleBinding",
              "rbac.authorization.k8s.io/RoleBinding"],
    "options": {
        "nonprod_subjects": ["*-dev", "*-staging", "*developers*", "ci-*"],
        "allowed_roles": [],
    },
    "remediation": "Remove the binding, or give production access to a production identity "
                   "(an on-call group, a production pipeline's ServiceAccount in a production "
                   "namespace) under its own approval.",
    "references": [
        "https://kubernetes.io/docs/concepts/security/multi-tenancy/",
        "https://kubernetes.io/docs/concepts/security/rbac-good-practices/",
    ],
}


def _nonprod(grant: Grant, ctx: RuleContext, patterns: Sequence[str]) -> str | None:
    """Why the subject is a non-production identity, or None."""
    subject = grant.subject
    if subject.kind == SERVICE_ACCOUNT:
        if subject.namespace and namespace_tier(ctx, subject.namespace) == "nonprod":
            return f"its namespace {subject.namespace} is nonprod"
        return None
    prefix = ALL_SERVICE_ACCOUNTS_GROUP + ":"
    if subject.kind == "Group" and subject.name.startswith(prefix):
        namespace = subject.name.removeprefix(prefix)
        if namespace and namespace_tier(ctx, namespace) == "nonprod":
            return f"the ServiceAccounts of nonprod namespace {namespace}"
    pattern = next((p for p in patterns if fnmatch.fnmatchcase(subject.name, p)), None)
    return f"name matches {pattern!r}" if pattern is not None else None


def check(estate: Estate, ctx: RuleContext) -> Iterator[tuple[Manifest, Violation]]:
    patterns = string_list(ctx.options["nonprod_subjects"], "nonprod_subjects")
    allowed = string_list(ctx.options["allowed_roles"], "allowed_roles")
    critical = [ns for ns in known_namespaces(estate) if namespace_tier(ctx, ns) == "critical"]
    for grant in rbac(estate).grants():
        binding = grant.binding
        if any(fnmatch.fnmatchcase(binding.role_name, p) for p in allowed):
            continue
        if binding.cluster_wide:
            if not critical:
                continue
            shown = ", ".join(critical[:3]) + (", …" if len(critical) > 3 else "")
            noun = "namespaces" if len(critical) > 1 else "namespace"
            reach = f"cluster-wide, which includes the critical {noun} {shown}"
        elif ctx.tier(binding.manifest) == "critical":
            reach = f"in critical namespace {binding.namespace or '(unset)'}"
        else:
            continue
        why = _nonprod(grant, ctx, patterns)
        if why is None:
            continue
        yield binding.manifest, Violation(
            f"{grant.subject.display()}, a non-production identity ({why}), is bound to "
            f"{binding.role_display()} {reach} through {binding.display()}",
            grant.pointer,
            {"subject": grant.subject.display(), "binding": binding.display()})
