"""RBAC as the estate declares it: roles (with built-ins and aggregation), bindings, subjects.

Shared by the rules of the `sod` pack. Everything here reads objects defensively: a field of
the wrong type grants nothing (the schema stage reports the object), and nothing here raises
on odd input. Option values, on the other hand, are the estate owner's configuration: a
malformed option raises `OptionError` (a `ValueError`) naming the option, so that the run
reports a rule error instead of silently checking less.

Semantics follow the Kubernetes RBAC authorizer:

- a rule grants verb V on resource R of API group G when its `verbs` hold V or `*`, its
  `apiGroups` hold G or `*`, and its `resources` hold R, `*`, or `*/<sub>` for a subresource
  `<r>/<sub>`; `resourceNames` narrow a rule to named objects (the rules of this pack count
  such a rule as a grant and show the names in the message; SOD001's "everything" excludes it);
- a RoleBinding grants its role's permissions in its own namespace only (a ClusterRole bound
  by a RoleBinding included); a ClusterRoleBinding grants them in every namespace and on
  cluster-scoped resources;
- a ServiceAccount subject without `namespace` in a RoleBinding means the binding's namespace;
- an aggregated ClusterRole (`aggregationRule.clusterRoleSelectors`) holds the rules of every
  ClusterRole whose labels match, estate and built-in alike.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from checker.k8s import selector_matches
from checker.model import Manifest
from checker.pyrules import Estate, RuleContext

from ._builtin_roles import BUILTIN_CLUSTER_ROLES

RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_RESOURCES = frozenset({"roles", "rolebindings", "clusterroles", "clusterrolebindings"})
RBAC_WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection",
                              "escalate", "bind"})
READ_VERBS = frozenset({"get", "list", "watch"})

SERVICE_ACCOUNT = "ServiceAccount"
ALL_SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"
"""Every ServiceAccount of the cluster is in this group, and in `system:serviceaccounts:<ns>`."""


def strings(value: Any) -> frozenset[str]:
    """The strings of a list field; anything else grants nothing."""
    if not isinstance(value, list):
        return frozenset()
    return frozenset(item for item in value if isinstance(item, str))


def _hits(granted: frozenset[str], wanted: Iterable[str]) -> list[str]:
    """Which of `wanted` a rule's list covers (`*` on either side covers everything)."""
    wanted = sorted(set(wanted))
    if "*" in granted:
        return wanted
    if "*" in wanted:
        return sorted(granted)
    return [item for item in wanted if item in granted]


def _resource_hits(granted: frozenset[str], wanted: Iterable[str]) -> list[str]:
    wanted = sorted(set(wanted))
    if "*" in granted:
        return wanted
    if "*" in wanted:
        return sorted(granted)
    found = []
    for item in wanted:
        _, slash, sub = item.partition("/")
        if item in granted or (slash and f"*/{sub}" in granted):
            found.append(item)
    return found


def _show(items: Iterable[str], core: bool = False) -> str:
    shown = ["core" if core and item == "" else item for item in sorted(items)]
    return ", ".join(shown) if shown else "nothing"


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One entry of a role's `rules`, and where it was declared."""

    verbs: frozenset[str]
    api_groups: frozenset[str]
    resources: frozenset[str]
    resource_names: frozenset[str]
    non_resource_urls: frozenset[str]
    index: int
    declared_in: str
    """The role that declares the rule (`ClusterRole x`): aggregation brings in others'."""

    @classmethod
    def read(cls, value: Any, index: int, declared_in: str) -> PolicyRule | None:
        if not isinstance(value, Mapping):
            return None
        return cls(strings(value.get("verbs")), strings(value.get("apiGroups")),
                   strings(value.get("resources")), strings(value.get("resourceNames")),
                   strings(value.get("nonResourceURLs")), index, declared_in)

    def where(self, role: Role | None = None) -> str:
        """`rules[2]` of the role itself, or `rules[2] of ClusterRole y` when aggregated."""
        if role is not None and role.display() == self.declared_in:
            return f"rules[{self.index}]"
        return f"rules[{self.index}] of {self.declared_in}"

    def allows(self, verb: str, group: str, resource: str) -> bool:
        """Does this rule grant `verb` on `resource` (`pods/exec` for a subresource) of
        `group` (`""` for the core group)?"""
        return bool(_hits(self.verbs, [verb]) and _hits(self.api_groups, [group])
                    and _resource_hits(self.resources, [resource]))

    def overlap(self, verbs: Iterable[str], groups: Iterable[str], resources: Iterable[str]
                ) -> tuple[list[str], list[str], list[str]] | None:
        """The verbs, groups and resources of the request this rule grants, or None.

        `*` in the request means "any": a request for `*` resources in group `apps` is
        granted by a rule on `deployments` there."""
        hit_verbs = _hits(self.verbs, verbs)
        hit_groups = _hits(self.api_groups, groups)
        hit_resources = _resource_hits(self.resources, resources)
        if hit_verbs and hit_groups and hit_resources:
            return hit_verbs, hit_groups, hit_resources
        return None

    @property
    def everything(self) -> bool:
        """`*` verbs on `*` resources in `*` API groups, not narrowed to named objects."""
        return "*" in self.verbs and "*" in self.api_groups and "*" in self.resources and \
            not self.resource_names

    def describe(self) -> str:
        """`patch, update on deployments (apps)`, from what the rule declares."""
        if self.non_resource_urls and not self.resources:
            return f"{_show(self.verbs)} on URLs {_show(self.non_resource_urls)}"
        text = f"{_show(self.verbs)} on {_show(self.resources)} ({_show(self.api_groups, True)})"
        if self.resource_names:
            text += f" limited to names {_show(self.resource_names)}"
        return text


@dataclass(frozen=True, slots=True)
class Role:
    """A Role or ClusterRole with its effective rules."""

    kind: str
    name: str
    namespace: str | None
    rules: tuple[PolicyRule, ...]
    builtin: bool
    manifest: Manifest | None

    def display(self) -> str:
        where = f"{self.namespace}/" if self.kind == "Role" and self.namespace else ""
        return f"{self.kind} {where}{self.name}" + (" (built-in)" if self.builtin else "")

    @property
    def everything(self) -> bool:
        """Holds a rule with `*` verbs on `*` resources in `*` API groups (cluster-admin)."""
        return any(rule.everything for rule in self.rules)

    def find(self, verbs: Iterable[str], groups: Iterable[str], resources: Iterable[str]
             ) -> list[PolicyRule]:
        """The rules granting any of `verbs` on any of `resources` in any of `groups`."""
        verbs, groups, resources = list(verbs), list(groups), list(resources)
        return [rule for rule in self.rules if rule.overlap(verbs, groups, resources)]


@dataclass(frozen=True, slots=True)
class Subject:
    """Who a binding names. ServiceAccounts carry their namespace, Users and Groups none."""

    kind: str
    name: str
    namespace: str | None = None

    def display(self) -> str:
        if self.kind == SERVICE_ACCOUNT:
            return f"ServiceAccount {self.namespace or '?'}/{self.name}"
        return f"{self.kind} {self.name}"

    def covers_service_account(self, namespace: str | None, name: str) -> bool:
        """Does a binding to this subject apply to ServiceAccount `namespace/name`?"""
        if self.kind == SERVICE_ACCOUNT:
            return self.namespace == namespace and self.name == name
        if self.kind == "Group":
            return self.name == ALL_SERVICE_ACCOUNTS_GROUP or \
                self.name == f"{ALL_SERVICE_ACCOUNTS_GROUP}:{namespace}"
        return False


@dataclass(frozen=True, slots=True)
class Binding:
    """A RoleBinding or ClusterRoleBinding, its resolved role and its subjects."""

    manifest: Manifest
    kind: str
    namespace: str | None
    role_kind: str
    role_name: str
    role: Role | None
    subjects: tuple[tuple[int, Subject], ...]

    @property
    def cluster_wide(self) -> bool:
        return self.kind == "ClusterRoleBinding"

    def display(self) -> str:
        where = f"{self.namespace}/" if self.namespace and not self.cluster_wide else ""
        return f"{self.kind} {where}{self.manifest.resource.name}"

    def scope(self) -> str:
        if self.cluster_wide:
            return "cluster-wide"
        return f"in namespace {self.namespace}" if self.namespace else \
            "in the namespace it is applied to"

    def role_display(self) -> str:
        if self.role is not None:
            return self.role.display()
        where = f"{self.namespace}/" if self.role_kind == "Role" and self.namespace else ""
        return f"{self.role_kind} {where}{self.role_name} (not declared in the estate)"


@dataclass(frozen=True, slots=True)
class Grant:
    """One subject of one binding: the unit most findings are about."""

    binding: Binding
    subject: Subject
    index: int

    @property
    def pointer(self) -> str:
        return f"/subjects/{self.index}"

    @property
    def role(self) -> Role | None:
        return self.binding.role

    def via(self) -> str:
        """`ClusterRoleBinding x → ClusterRole y`, for messages."""
        return f"{self.binding.display()} → {self.binding.role_display()}"


class Rbac:
    """The estate's RBAC: look roles up, walk bindings. Build with `rbac(estate)`."""

    def __init__(self, estate: Estate):
        self._cluster_roles: dict[str, Manifest] = {}
        self._roles: dict[tuple[str | None, str], Manifest] = {}
        for manifest in estate.of_kind("ClusterRole", RBAC_GROUP):
            self._cluster_roles.setdefault(manifest.resource.name, manifest)
        for manifest in estate.of_kind("Role", RBAC_GROUP):
            self._roles.setdefault((manifest.resource.namespace, manifest.resource.name),
                                   manifest)
        self._resolved: dict[str, Role | None] = {}
        self._bound: set[tuple[str | None, str]] | None = None
        self._bound_groups: set[str] = set()
        self.bindings: list[Binding] = []
        for kind in ("ClusterRoleBinding", "RoleBinding"):
            for manifest in estate.of_kind(kind, RBAC_GROUP):
                binding = self._binding(manifest)
                if binding is not None:
                    self.bindings.append(binding)

    # -- roles -------------------------------------------------------------------------

    def cluster_role(self, name: str) -> Role | None:
        """An estate ClusterRole, else a built-in one, else None (unknown)."""
        if name not in self._resolved:
            self._resolved[name] = None  # cycle guard while aggregating
            self._resolved[name] = self._cluster_role(name, set())
        return self._resolved[name]

    def role(self, namespace: str | None, name: str) -> Role | None:
        manifest = self._roles.get((namespace, name))
        if manifest is None:
            return None
        return Role("Role", name, namespace, tuple(_rules_of(manifest.obj, f"Role "
                    f"{namespace + '/' if namespace else ''}{name}")), False, manifest)

    def _cluster_role_objects(self) -> Iterator[tuple[str, Mapping[str, Any], bool]]:
        for name, manifest in self._cluster_roles.items():
            yield name, manifest.obj, False
        for name, obj in BUILTIN_CLUSTER_ROLES.items():
            if name not in self._cluster_roles:
                yield name, obj, True

    def _cluster_role(self, name: str, seen: set[str]) -> Role | None:
        manifest = self._cluster_roles.get(name)
        obj: Mapping[str, Any] | None = manifest.obj if manifest is not None else \
            BUILTIN_CLUSTER_ROLES.get(name)
        if obj is None:
            return None
        builtin = manifest is None
        seen = seen | {name}
        rules = self._effective_rules(name, obj, builtin, seen)
        return Role("ClusterRole", name, None, tuple(rules), builtin, manifest)

    def _effective_rules(self, name: str, obj: Mapping[str, Any], builtin: bool,
                         seen: set[str]) -> list[PolicyRule]:
        label = f"ClusterRole {name}" + (" (built-in)" if builtin else "")
        aggregation = obj.get("aggregationRule")
        selectors = aggregation.get("clusterRoleSelectors") \
            if isinstance(aggregation, Mapping) else None
        if not isinstance(selectors, list):
            return _rules_of(obj, label)
        rules: list[PolicyRule] = []
        for other, other_obj, other_builtin in self._cluster_role_objects():
            if other in seen:
                continue
            labels = _labels(other_obj)
            if any(_selects(s, labels) for s in selectors):
                rules.extend(self._effective_rules(other, other_obj, other_builtin,
                                                   seen | {other}))
        return rules

    # -- bindings ----------------------------------------------------------------------

    def _binding(self, manifest: Manifest) -> Binding | None:
        obj = manifest.obj
        ref = obj.get("roleRef")
        if not isinstance(ref, Mapping) or not isinstance(ref.get("name"), str) or \
                ref.get("kind") not in ("Role", "ClusterRole"):
            return None
        kind = manifest.resource.kind
        namespace = manifest.resource.namespace if kind == "RoleBinding" else None
        role_kind, role_name = str(ref["kind"]), str(ref["name"])
        role: Role | None = None
        if role_kind == "ClusterRole":
            role = self.cluster_role(role_name)
        elif kind == "RoleBinding":
            role = self.role(namespace, role_name)
        subjects = []
        raw = obj.get("subjects")
        for index, item in enumerate(raw if isinstance(raw, list) else []):
            subject = _subject(item, namespace)
            if subject is not None:
                subjects.append((index, subject))
        return Binding(manifest, kind, namespace, role_kind, role_name, role, tuple(subjects))

    def grants(self) -> Iterator[Grant]:
        """Every (binding, subject) pair, ClusterRoleBindings first, in load order."""
        for binding in self.bindings:
            for index, subject in binding.subjects:
                yield Grant(binding, subject, index)

    def service_account_bound(self, namespace: str | None, name: str) -> bool:
        """Is the ServiceAccount named by some binding (directly or through its
        `system:serviceaccounts[:<ns>]` groups)?"""
        if self._bound is None:
            self._bound = {(g.subject.namespace, g.subject.name) for g in self.grants()
                           if g.subject.kind == SERVICE_ACCOUNT}
            self._bound_groups = {g.subject.name for g in self.grants()
                                  if g.subject.kind == "Group"}
        return (namespace, name) in self._bound or \
            ALL_SERVICE_ACCOUNTS_GROUP in self._bound_groups or \
            f"{ALL_SERVICE_ACCOUNTS_GROUP}:{namespace}" in self._bound_groups


def _selects(selector: Any, labels: Mapping[str, Any]) -> bool:
    """`checker.k8s.selector_matches`, after checking the selector's shape: that helper
    raises on a `matchLabels` that is not a mapping or `values` that are not a list (reported
    to the engine's maintainers); a malformed selector selects nothing."""
    if not isinstance(selector, Mapping):
        return False
    match_labels = selector.get("matchLabels")
    if match_labels is not None and not isinstance(match_labels, Mapping):
        return False
    expressions = selector.get("matchExpressions")
    if expressions is not None:
        if not isinstance(expressions, list):
            return False
        for expression in expressions:
            values = expression.get("values") if isinstance(expression, Mapping) else None
            if values is not None and not isinstance(values, list):
                return False
    return selector_matches(selector, labels)


def _labels(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = obj.get("metadata")
    labels = metadata.get("labels") if isinstance(metadata, Mapping) else None
    return labels if isinstance(labels, Mapping) else {}


def _rules_of(obj: Mapping[str, Any], label: str) -> list[PolicyRule]:
    raw = obj.get("rules")
    if not isinstance(raw, list):
        return []
    found = []
    for index, item in enumerate(raw):
        rule = PolicyRule.read(item, index, label)
        if rule is not None:
            found.append(rule)
    return found


def _subject(value: Any, binding_namespace: str | None) -> Subject | None:
    if not isinstance(value, Mapping):
        return None
    kind, name = value.get("kind"), value.get("name")
    if kind not in (SERVICE_ACCOUNT, "User", "Group") or not isinstance(name, str) or not name:
        return None
    if kind == SERVICE_ACCOUNT:
        namespace = value.get("namespace")
        if not isinstance(namespace, str) or not namespace:
            namespace = binding_namespace
        return Subject(SERVICE_ACCOUNT, name, namespace)
    return Subject(str(kind), name)


_CACHE: list[tuple[Estate, Rbac]] = []


def rbac(estate: Estate) -> Rbac:
    """The estate's RBAC index, built once per estate (rules of a run share it)."""
    if _CACHE and _CACHE[0][0] is estate:
        return _CACHE[0][1]
    index = Rbac(estate)
    _CACHE[:] = [(estate, index)]
    return index


# -- options: subject patterns ---------------------------------------------------------


class OptionError(ValueError):
    """A rule option the estate owner configured cannot be read (reported as a rule error,
    so that a typo never silently checks less)."""


@dataclass(frozen=True, slots=True)
class SubjectPattern:
    """`{kind: Group, name: platform-admins}` or `{kind: ServiceAccount, namespace: ci,
    name: "runner-*"}`; names and namespaces are shell-style patterns (`*`, `?`, `[…]`)."""

    kind: str
    name: str
    namespace: str | None = None

    def matches(self, subject: Subject) -> bool:
        if not fnmatch.fnmatchcase(subject.kind, self.kind) or \
                not fnmatch.fnmatchcase(subject.name, self.name):
            return False
        if subject.kind == SERVICE_ACCOUNT and self.namespace is not None:
            return fnmatch.fnmatchcase(subject.namespace or "", self.namespace)
        return True

    def display(self) -> str:
        if self.kind == SERVICE_ACCOUNT:
            return f"ServiceAccount {self.namespace}/{self.name}"
        return f"{self.kind} {self.name}"


def subject_patterns(value: Any, option: str) -> list[SubjectPattern]:
    """Read an option holding a list of subject patterns; `ValueError` if malformed."""
    if not isinstance(value, list):
        raise OptionError(f"option {option} must be a list of {{kind, name[, namespace]}}")
    patterns = []
    for position, item in enumerate(value):
        where = f"option {option}[{position}]"
        if not isinstance(item, Mapping):
            raise OptionError(f"{where} must be a mapping with kind and name")
        kind, name, namespace = item.get("kind"), item.get("name"), item.get("namespace")
        if not isinstance(kind, str) or not isinstance(name, str) or not kind or not name:
            raise OptionError(f"{where} needs kind (Group, User, ServiceAccount) and name")
        if namespace is not None and not isinstance(namespace, str):
            raise OptionError(f"{where}: namespace must be a string")
        if kind == SERVICE_ACCOUNT and not namespace:
            raise OptionError(f"{where}: a ServiceAccount needs its namespace "
                             "(\"*\" for any namespace)")
        patterns.append(SubjectPattern(kind, name, namespace))
    return patterns


def matching(patterns: Sequence[SubjectPattern], subject: Subject) -> SubjectPattern | None:
    return next((p for p in patterns if p.matches(subject)), None)


def show_patterns(patterns: Sequence[SubjectPattern]) -> str:
    return ", ".join(p.display() for p in patterns) or "none configured"


def string_list(value: Any, option: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise OptionError(f"option {option} must be a list of strings")
    return list(value)


# -- tiers -----------------------------------------------------------------------------


def namespace_tier(ctx: RuleContext, namespace: str) -> str:
    """The tier of a namespace by name (its label, else the config's patterns, else the
    default tier)."""
    found = ctx.tiers.namespace_tier(namespace)
    return found[0] if found is not None else ctx.tiers.policy.default


def known_namespaces(estate: Estate) -> list[str]:
    """Namespaces the estate declares or puts objects in, sorted."""
    names = set(estate.namespaces)
    names.update(m.resource.namespace for m in estate.manifests if m.resource.namespace)
    return sorted(names)
