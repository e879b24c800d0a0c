"""CI and GitOps identities neither write RBAC nor read Secrets outside their own namespace.

Why it matters: a pipeline runs code from many repositories and branches, and a GitOps
controller applies whatever reaches Git; both are the first thing an attacker goes for. If
such an identity can write Roles and RoleBindings it can give itself (or anyone) any right;
if it can read Secrets in other namespaces, it holds the production database and payment
credentials. On a finance platform the delivery path must not be a way around access control.

What is checked: every RoleBinding and ClusterRoleBinding naming a subject that matches
`ci_identities` or `gitops_controllers`, whose role (estate role with aggregation resolved, or
a built-in) grants

- RBAC writes: create, update, patch, delete, deletecollection, escalate or bind on roles,
  rolebindings, clusterroles or clusterrolebindings (`rbac.authorization.k8s.io`), or
- Secret reads: get, list or watch on secrets (core group),

outside the subject's own namespace: through a ClusterRoleBinding (every namespace), or a
RoleBinding in another namespace. Users and Groups have no namespace, so any such grant is
reported for them. One finding per subject and binding, at `/subjects/N`.

The GitOps trade-off: Argo CD's application controller and Flux's kustomize-controller and
helm-controller are, in their stock installs, bound to a ClusterRole with `*` on `*`
(Argo CD's own `argocd-application-controller` role; Flux's `cluster-reconciler` binding to
cluster-admin), because they apply whatever the repository declares, RBAC and Secrets
included. They are in the defaults on purpose: that concentration of power is exactly what a
finance auditor asks about, and a stock install is reported (by SOD001 too). The remedies are
to scope the controller (Argo CD: a namespaced install or apps in any namespace, AppProject
`clusterResourceWhitelist`/`namespaceResourceBlacklist`, and sync impersonation, an alpha
feature since Argo CD 2.13, where syncs run as a ServiceAccount of the destination so that
writes no longer use the controller's own rights; Flux: the multi-tenancy lockdown, where
Kustomizations and HelmReleases impersonate the tenant ServiceAccount of
`spec.serviceAccountName`), or to accept the risk as a dated exception
in the config (`exceptions:` with a reason and `until`), which keeps the finding visible as
suppressed in JSON and SARIF. Removing the controllers from `gitops_controllers` hides the
question altogether; only do that when another control covers it.

Options:

- `ci_identities`: subject patterns of CI identities. Default: ServiceAccounts (any
  namespace) named `ci`, `*-ci`, `ci-*`, `*-runner`, `gitlab-runner*`, `github-actions*`,
  `jenkins*`, `tekton*`, and every ServiceAccount of a namespace named `ci` or `*-ci`.
  Tekton's pipelines controller matches `tekton*` and is bound cluster-wide to its
  tenant-access ClusterRole, which in stock releases has included Secrets (for the
  credentials of TaskRuns): that is reported, on purpose, like any other CI identity.
- `gitops_controllers`: subject patterns of GitOps controllers. Default: ServiceAccount
  `argocd/argocd-application-controller`, `flux-system/kustomize-controller`,
  `flux-system/helm-controller`.

Patterns are `{kind, name}` or `{kind: ServiceAccount, namespace, name}` with shell-style
wildcards. A binding to the group `system:serviceaccounts:<namespace>` is not matched to the
identities of that namespace (see SOD007 for the cluster-wide group).

Severity: high; medium for a RoleBinding in a `nonprod` namespace.

Passing: ServiceAccount `gitlab/gitlab-runner` bound by a RoleBinding in `gitlab` to a Role
that reads Secrets there.

Failing:

```yaml
kind: ClusterRoleBinding
metadata: {name: runner}
roleRef: {kind: ClusterRole, name: edit}     # reads Secrets
subjects: [{kind: ServiceAccount, name: gitlab-runner, namespace: gitlab}]
```
"""

from __future__ import annotations

from collections.abc import Iterator

from checker.model import Manifest, Violation
from checker.pyrules import Estate, RuleContext

from ._rbac import (
    RBAC_GROUP,
    RBAC_RESOURCES,
    RBAC_WRITE_VERBS,
    READ_VERBS,
    SERVICE_ACCOUNT,
    Grant,
    PolicyRule,
    Role,
    matching,
    rbac,
    subject_patterns,
)


def _sa(namespace: str, name: str) -> dict[str, str]:
    return {"kind": "ServiceAccount", "namespace": namespace, "name": name}


METADATA = {
    "id": "SOD004",
    "name": "pipeline-rbac-or-secret-access",
    "category": "sod",
    "severity": "high",
    "tier_severity": {"critical": "high", "standard": "high", "nonprod": "medium"},
    "scope": "estate",
    "kinds": ["rbac.authorization.k8s.io/ClusterRoleBinding",
              "rbac.authorization.k8s.io/RoleBinding"],
    "options": {
        "ci_identities": [_sa("*", "ci"), _sa("*", "*-ci"), _sa("*", "ci-*"),
                          _sa("*", "*-runner"), _sa("ci", "*"), _sa("*-ci", "*"),
                          _sa("*", "gitlab-runner*"), _sa("*", "github-actions*"),
                          _sa("*", "jenkins*"), _sa("*", "tekton*")],
        "gitops_controllers": [_sa("argocd", "argocd-application-controller"),
                               _sa("flux-system", "kustomize-controller"),
                               _sa("flux-system", "helm-controller")],
    },
    "remediation": "Bind CI identities with RoleBindings in the namespaces they deploy to, "
                   "with roles that neither write RBAC objects nor read Secrets; let Secrets "
                   "reach workloads through an operator (External Secrets, Sealed Secrets) "
                   "rather than the pipeline. Scope GitOps controllers (Argo CD AppProjects and "
                   "sync impersonation, Flux multi-tenancy lockdown) or record the accepted "
                   "risk as a dated exception.",
    "references": [
        "https://kubernetes.io/docs/concepts/security/rbac-good-practices/",
        "https://argo-cd.readthedocs.io/en/stable/operator-manual/app-sync-using-impersonation/",
        "https://github.com/fluxcd/flux2-multi-tenancy",
    ],
}


def _capabilities(role: Role) -> list[tuple[str, list[PolicyRule]]]:
    found = []
    rbac_write = role.find(RBAC_WRITE_VERBS, [RBAC_GROUP], RBAC_RESOURCES)
    if rbac_write:
        found.append(("modify RBAC", rbac_write))
    secrets = role.find(READ_VERBS, [""], ["secrets"])
    if secrets:
        found.append(("read Secrets", secrets))
    return found


def _outside(grant: Grant) -> str | None:
    """Where the grant reaches beyond the subject's own namespace, or None."""
    subject, binding = grant.subject, grant.binding
    own = subject.namespace if subject.kind == SERVICE_ACCOUNT else None
    if binding.cluster_wide:
        return "cluster-wide" + (f", not only in its namespace {own}" if own else "")
    if own is not None and binding.namespace == own:
        return None
    return binding.scope() + (f", not its own namespace {own}" if own else "")


def check(estate: Estate, ctx: RuleContext) -> Iterator[tuple[Manifest, Violation]]:
    kinds = [("CI identity", subject_patterns(ctx.options["ci_identities"], "ci_identities")),
             ("GitOps controller", subject_patterns(ctx.options["gitops_controllers"],
                                                    "gitops_controllers"))]
    for grant in rbac(estate).grants():
        what = next((label for label, patterns in kinds
                     if matching(patterns, grant.subject)), None)
        if what is None or grant.role is None:
            continue
        where = _outside(grant)
        if where is None:
            continue
        role = grant.role
        capabilities = _capabilities(role)
        if not capabilities:
            continue
        evidence = " and ".join(
            f"{name} ({'; '.join(f'{r.where(role)}: {r.describe()}' for r in rules[:2])}"
            f"{'; …' if len(rules) > 2 else ''})" for name, rules in capabilities)
        yield grant.binding.manifest, Violation(
            f"{grant.subject.display()} ({what}) can {evidence} {where}, through "
            f"{grant.via()}",
            grant.pointer,
            {"subject": grant.subject.display(), "identity": what,
             "capabilities": [name for name, _ in capabilities],
             "binding": grant.binding.display(), "role": role.display()})
