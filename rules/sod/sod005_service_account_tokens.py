"""Workloads run as their own ServiceAccount and mount no API token they do not use.

Why it matters: every pod gets a ServiceAccount, `default` unless told otherwise, and by
default a token for it is mounted into every container. Pods sharing the `default`
ServiceAccount share whatever is ever granted to it, so one binding meant for one application
silently empowers all of them, and an auditor cannot tell which workload holds which right. A
token mounted into a pod that never calls the Kubernetes API is a credential an attacker can
steal from a compromised container (an ERP add-on, a report renderer) and use against the
cluster.

What is checked, for Deployments, StatefulSets, DaemonSets, Jobs, CronJobs and Pods in a
namespace of one of the `tiers`:

1. the pod spec names a ServiceAccount: `serviceAccountName` (or the deprecated
   `serviceAccount`) is set and is not `default`;
2. no token is mounted that is not needed: `automountServiceAccountToken` is `false` on the
   pod spec, or unset there and `false` on the ServiceAccount object in the estate, unless the
   ServiceAccount is named by some RoleBinding or ClusterRoleBinding of the estate (directly,
   or through the groups `system:serviceaccounts` / `system:serviceaccounts:<namespace>`):
   then it has rights to use, and needs the token.

Both findings can be raised for one workload. The second one relies on the estate holding the
RBAC objects: a repository that keeps its bindings elsewhere will see every token as unused.
A token used for something other than the Kubernetes API (for example Vault's Kubernetes
auth) is better given as a projected `serviceAccountToken` volume with its own audience and
expiry, with `automountServiceAccountToken: false`.

Options:

- `tiers`: the tiers checked. Default `[critical, standard]`; non-production namespaces are
  off by default (add `nonprod` to report them as low).

Severity: high in `critical` namespaces, medium in `standard`, low in `nonprod`.

Passing:

```yaml
kind: Deployment
metadata: {name: ledger-api, namespace: ledger}
spec:
  template:
    spec:
      serviceAccountName: ledger-api
      automountServiceAccountToken: false
```

Failing: the same Deployment without `serviceAccountName` (default ServiceAccount) and with
the token mounted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from checker.k8s import pod_spec
from checker.model import Manifest, Violation
from checker.pyrules import Estate, RuleContext
from checker.tiers import TIERS

from ._rbac import OptionError, rbac, string_list

WORKLOADS = (("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"),
             ("batch", "Job"), ("batch", "CronJob"), ("", "Pod"))

METADATA = {
    "id": "SOD005",
    "name": "default-service-account-or-idle-token",
    "category": "sod",
    "severity": "high",
    "tier_severity": {"critical": "high", "standard": "medium", "nonprod": "low"},
    "scope": "estate",
    "kinds": ["apps/Deployment", "apps/StatefulSet", "apps/DaemonSet", "batch/Job",
              "batch/CronJob", "/Pod"],
    "options": {"tiers": ["critical", "standard"]},
    "remediation": "Give each workload its own ServiceAccount (serviceAccountName) and set "
                   "automountServiceAccountToken: false on the pod spec or the ServiceAccount "
                   "unless the workload calls the Kubernetes API with rights bound to it.",
    "references": [
        ("https://kubernetes.io/docs/tasks/configure-pod-container/"
         "configure-service-account/"),
        "https://kubernetes.io/docs/concepts/security/service-accounts/",
        ("https://kubernetes.io/docs/concepts/security/rbac-good-practices/"
         "#workload-creation"),
    ],
}


def _service_account(spec: Mapping[str, Any], pointer: str
                     ) -> tuple[str, str, str] | None:
    """(name, pointer, how it was found) of the pod's ServiceAccount; None if unreadable."""
    for key in ("serviceAccountName", "serviceAccount"):
        if key in spec:
            value = spec[key]
            if not isinstance(value, str):
                return None
            if value:
                return value, f"{pointer}/{key}", f"{key}: {value}"
    return "default", pointer, "serviceAccountName is not set"


def _declared_automount(estate: Estate) -> dict[tuple[str | None, str], bool | None]:
    """ServiceAccounts of the estate → their automountServiceAccountToken if a boolean."""
    found: dict[tuple[str | None, str], bool | None] = {}
    for account in estate.of_kind("ServiceAccount", ""):
        value = account.obj.get("automountServiceAccountToken")
        found.setdefault((account.resource.namespace, account.resource.name),
                         value if isinstance(value, bool) else None)
    return found


def check(estate: Estate, ctx: RuleContext) -> Iterator[tuple[Manifest, Violation]]:
    tiers = string_list(ctx.options["tiers"], "tiers")
    if set(tiers) - set(TIERS):
        raise OptionError(f"option tiers: expected some of {', '.join(TIERS)}")
    index = rbac(estate)
    accounts = _declared_automount(estate)
    for group, kind in WORKLOADS:
        for workload in estate.of_kind(kind, group):
            if ctx.tier(workload) not in tiers:
                continue
            found = pod_spec(workload)
            if found is None:
                continue
            spec, pointer = found
            account = _service_account(spec, pointer)
            if account is None:
                continue
            name, account_pointer, how = account
            namespace = workload.resource.namespace
            if name == "default":
                yield workload, Violation(
                    f"pods of {kind} {workload.resource.name} run as the namespace's default "
                    f"ServiceAccount ({how}); give the workload its own", account_pointer)
            if not index.service_account_bound(namespace, name):
                yield from _token(accounts, workload, spec, pointer, namespace, name)


def _token(accounts: Mapping[tuple[str | None, str], bool | None], workload: Manifest,
           spec: Mapping[str, Any], pointer: str, namespace: str | None, name: str
           ) -> Iterator[tuple[Manifest, Violation]]:
    pod_value = spec.get("automountServiceAccountToken")
    if pod_value is not None and not isinstance(pod_value, bool):
        return  # unreadable: the schema stage reports it
    if pod_value is False:
        return
    declared = (namespace, name) in accounts
    account_value = accounts.get((namespace, name))
    if pod_value is None and account_value is False:
        return
    if pod_value is True:
        why, at = "automountServiceAccountToken: true on the pod spec", \
            f"{pointer}/automountServiceAccountToken"
    elif declared:
        why, at = ("automountServiceAccountToken is not false on the pod spec nor on the "
                   "ServiceAccount"), pointer
    else:
        why, at = ("automountServiceAccountToken is not false on the pod spec, and the "
                   "ServiceAccount is not declared in the estate"), pointer
    yield workload, Violation(
        f"pods of {workload.resource.kind} {workload.resource.name} mount a token of "
        f"ServiceAccount {namespace or '?'}/{name} ({why}) but no RoleBinding or "
        "ClusterRoleBinding of the estate names that ServiceAccount, so nothing shows the "
        "pods need it", at)
