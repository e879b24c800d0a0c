"""Which objects a Gatekeeper constraint applies to: its `spec.match` block, as Gatekeeper reads it.

The rules follow Gatekeeper's "The match field" documentation (website/docs/howto.md, v3.x) and
the field descriptions of its match schema (config/crd/bases/match.gatekeeper.sh_matchcrd.yaml);
where those are silent, the known behaviour of Gatekeeper's matcher (pkg/mutation/match, which
also matches constraints, in the webhook, audit and `gator`). Every present matcher must hold; an absent
or empty one matches everything.

Decisions where the documentation leaves room, and why:

- Cluster-scoped objects other than Namespace pass `namespaces`, `excludedNamespaces` and
  `namespaceSelector` whatever they say. howto.md: "`namespaces`, `excludedNamespaces`, and
  `namespaceSelector` will match on cluster scoped resources which are not namespaced. To avoid
  this adjust the `scope` to `Namespaced`."
- A Namespace object (group "", kind Namespace) is its own namespace for `namespaces` and
  `excludedNamespaces`, and `namespaceSelector` reads its own labels (howto.md: "a label selector
  against an object's containing namespace or the object itself, if the object is a
  namespace"). For `scope` it counts as cluster-scoped, as in Gatekeeper.
- Namespace labels include `kubernetes.io/metadata.name: <name>`: the API server sets that label
  on every Namespace (Kubernetes >= 1.22, KEP-2161; kubernetes.io "Well-Known Labels" page) before
  admission, so Gatekeeper's selectors see it even when the manifest does not carry it.
  `gator` on raw manifests would not add it; we follow the cluster.
- A namespaced object whose namespace is not declared in the estate: its labels are unknown.
  Gatekeeper's matcher reports an error here ("namespace selector for namespace-scoped object
  but missing Namespace"), and in a cluster the namespace exists with labels we cannot see. We
  fail closed: only requirements on `kubernetes.io/metadata.name` (known from the name) are
  evaluated, every other requirement is assumed to hold, so the rule is evaluated rather than
  silently skipped.
- A namespaced object without `metadata.namespace` is in namespace "" (callers fill the default
  namespace first). Gatekeeper would treat such an object like a cluster-scoped one.
- Whether an object is cluster-scoped comes from the caller (`cluster_scoped`), not from
  `metadata.namespace`, which the API server ignores on cluster-scoped kinds.
- `name` also matches `metadata.generateName` for `prefix*` and `*infix*` globs, as Gatekeeper's
  wildcard does; globs may also have a `*` at both ends (match schema: "globbing at its front and
  end").
- Within a `kinds` entry an empty `apiGroups` or `kinds` list means any, as in Gatekeeper.
- `source`: objects here are the estate's own manifests, i.e. Gatekeeper's `Original` source, so
  `source: Generated` (expansion-generated resources only) matches nothing.
- An unknown `scope` value (e.g. "cluster") matches everything, as in Gatekeeper's matcher;
  unknown keys have no effect there either. `validate_match` reports both.

`constraint_matches` raises `MatchError` for what Gatekeeper cannot evaluate either: wrong
types, a bad label selector (unknown operator, values with Exists, no values with In, invalid
label keys or values) and an invalid `source`. `validate_match` also reports lint-level problems
that do not stop matching: unknown keys, unknown scope, globs Gatekeeper's pattern rejects, a
`*` that is not alone in `apiGroups`, and groups or kinds that cannot be what was meant.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
"""Set by the API server on every Namespace to the namespace's name."""

_MATCH_KEYS = (
    "kinds", "scope", "namespaces", "excludedNamespaces",
    "labelSelector", "namespaceSelector", "name", "source",
)
_KINDS_ENTRY_KEYS = ("apiGroups", "kinds")
_SELECTOR_KEYS = ("matchLabels", "matchExpressions")
_EXPRESSION_KEYS = ("key", "operator", "values")
_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
_SCOPES = ("*", "Cluster", "Namespaced")
_SOURCES = ("All", "Generated", "Original")

# Gatekeeper's wildcard pattern (namespaces, excludedNamespaces, name).
_WILDCARD = re.compile(r"^\*?[-:a-z0-9]*\*?$")
# Kubernetes label keys (qualified names) and values.
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class MatchError(ValueError):
    """The constraint's match block is malformed (e.g. an unknown selector operator).

    The message says which key.
    """


@dataclass(frozen=True, slots=True)
class _Problem:
    path: str
    message: str
    fatal: bool  # Gatekeeper could not evaluate the match either

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def validate_match(match: Any) -> list[str]:
    """Problems in a match block (wrong types, unknown operators, unknown keys).

    Readable messages, each naming the key (e.g. `match.kinds[0].apiGroups`); [] when fine.
    Includes problems that do not stop `constraint_matches` (unknown keys, an unknown scope).
    """
    return [str(p) for p in _problems(match)]


def constraint_matches(match: Mapping[str, Any] | None, obj: Mapping[str, Any],
                       namespaces: Mapping[str, Mapping[str, Any]], *,
                       cluster_scoped: bool) -> bool:
    """Does a constraint with this `spec.match` apply to `obj`?

    `namespaces` maps namespace name -> the Namespace object declared in the estate (may be missing:
    a namespace that is referenced but not declared). `cluster_scoped` tells whether obj's kind is
    cluster-scoped. Raises `MatchError` when the match block cannot be evaluated.
    """
    if match is None:
        return True
    fatal = [p for p in _problems(match) if p.fatal]
    if fatal:
        raise MatchError("; ".join(map(str, fatal)))
    target = _Target.of(obj, cluster_scoped)
    return (
        _kinds_match(match.get("kinds"), target.group, target.kind)
        and _scope_match(match.get("scope"), target)
        and _namespaces_match(match.get("namespaces"), target)
        and _excluded_namespaces_match(match.get("excludedNamespaces"), target)
        and _label_selector_match(match.get("labelSelector"), target)
        and _namespace_selector_match(match.get("namespaceSelector"), target, namespaces)
        and _name_match(match.get("name"), target)
        and match.get("source") in (None, "", "All", "Original")
    )


# --- matching -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Target:
    group: str
    kind: str
    name: str
    generate_name: str
    namespace: str  # "" for cluster-scoped objects; a Namespace's own name for a Namespace
    labels: dict[str, str]
    is_namespace: bool
    cluster_scoped: bool  # True for a Namespace too

    @classmethod
    def of(cls, obj: Mapping[str, Any], cluster_scoped: bool) -> _Target:
        api_version = obj.get("apiVersion")
        group = api_version.rpartition("/")[0] if isinstance(api_version, str) else ""
        kind = _str(obj.get("kind"))
        meta = obj.get("metadata")
        meta = meta if isinstance(meta, Mapping) else {}
        name = _str(meta.get("name"))
        is_namespace = group == "" and kind == "Namespace"
        labels = _labels(meta)
        if is_namespace:
            namespace = name
            labels[NAMESPACE_NAME_LABEL] = name
        elif cluster_scoped:
            namespace = ""
        else:
            namespace = _str(meta.get("namespace"))
        return cls(group=group, kind=kind, name=name,
                   generate_name=_str(meta.get("generateName")), namespace=namespace,
                   labels=labels, is_namespace=is_namespace,
                   cluster_scoped=cluster_scoped or is_namespace)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _labels(meta: Mapping[str, Any]) -> dict[str, str]:
    raw = meta.get("labels")
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): _label_text(v) for k, v in raw.items()}


def _label_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def kinds_match(kinds: Sequence[Mapping[str, Any]] | None, obj: Mapping[str, Any]) -> bool:
    """Is `obj` (by API group and kind) one of `kinds`, a list in `match.kinds`' shape?
    An empty or missing list matches every object."""
    api_version = obj.get("apiVersion")
    group = api_version.rpartition("/")[0] if isinstance(api_version, str) else ""
    return _kinds_match(kinds, group, _str(obj.get("kind")))


def _kinds_match(kinds: Sequence[Mapping[str, Any]] | None, group: str, kind: str) -> bool:
    if not kinds:
        return True
    for entry in kinds:
        names = entry.get("kinds") or []
        groups = entry.get("apiGroups") or []
        if (not names or "*" in names or kind in names) and (
                not groups or "*" in groups or group in groups):
            return True
    return False


def _scope_match(scope: str | None, target: _Target) -> bool:
    if scope == "Cluster":
        return target.cluster_scoped
    if scope == "Namespaced":
        return not target.cluster_scoped
    return True  # "*", absent, or unknown (Gatekeeper treats a typo as "*")


def _namespaces_match(patterns: list[str] | None, target: _Target) -> bool:
    if not patterns or (target.cluster_scoped and not target.is_namespace):
        return True
    return any(_glob(p, target.namespace) for p in patterns)


def _excluded_namespaces_match(patterns: list[str] | None, target: _Target) -> bool:
    if not patterns or (target.cluster_scoped and not target.is_namespace):
        return True
    return not any(_glob(p, target.namespace) for p in patterns)


def _label_selector_match(selector: Mapping[str, Any] | None, target: _Target) -> bool:
    return selector is None or _selector_matches(selector, target.labels)


def _namespace_selector_match(selector: Mapping[str, Any] | None, target: _Target,
                              namespaces: Mapping[str, Mapping[str, Any]]) -> bool:
    if selector is None:
        return True
    if target.is_namespace:
        return _selector_matches(selector, target.labels)
    if target.cluster_scoped:
        return True
    declared = namespaces.get(target.namespace)
    if isinstance(declared, Mapping):
        meta = declared.get("metadata")
        labels = _labels(meta) if isinstance(meta, Mapping) else {}
        labels[NAMESPACE_NAME_LABEL] = target.namespace
        return _selector_matches(selector, labels)
    # Undeclared: only the name label is known; assume every other requirement holds.
    return _selector_matches(selector, {NAMESPACE_NAME_LABEL: target.namespace},
                             known_keys={NAMESPACE_NAME_LABEL})


def _name_match(pattern: str | None, target: _Target) -> bool:
    if not pattern:
        return True
    if _glob(pattern, target.name):
        return True
    # generateName is a prefix, so only globs that leave the end open can match it.
    if pattern.endswith("*") and target.generate_name:
        if pattern.startswith("*"):
            return pattern[1:-1] in target.generate_name
        return target.generate_name.startswith(pattern[:-1])
    return False


def _glob(pattern: str, candidate: str) -> bool:
    """Gatekeeper's wildcard: `prefix*`, `*suffix`, `*infix*`, otherwise an exact name."""
    starts, ends = pattern.startswith("*"), pattern.endswith("*")
    if starts and ends:
        return pattern.removeprefix("*").removesuffix("*") in candidate
    if starts:
        return candidate.endswith(pattern[1:])
    if ends:
        return candidate.startswith(pattern[:-1])
    return pattern == candidate


def _selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str],
                      known_keys: set[str] | None = None) -> bool:
    """Kubernetes label-selector semantics; keys outside `known_keys` (when given) are unknown
    and their requirements assumed to hold."""
    def known(key: str) -> bool:
        return known_keys is None or key in known_keys

    for key, value in (selector.get("matchLabels") or {}).items():
        if known(key) and labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op = expr["key"], expr["operator"]
        if not known(key):
            continue
        values = expr.get("values") or []
        present = key in labels
        ok = {
            "In": present and labels.get(key) in values,
            "NotIn": not present or labels.get(key) not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }[op]
        if not ok:
            return False
    return True


# --- validation -----------------------------------------------------------------------------


def _problems(match: Any) -> list[_Problem]:
    if match is None:
        return []
    if not isinstance(match, Mapping):
        return [_Problem("match", f"must be an object, not {_type(match)}", fatal=True)]
    out: list[_Problem] = []
    _unknown_keys(match, _MATCH_KEYS, "match", out)
    _check_kinds(match.get("kinds"), out)
    scope = match.get("scope")
    if scope is not None:
        if not isinstance(scope, str):
            out.append(_Problem("match.scope", f"must be a string, not {_type(scope)}", True))
        elif scope and scope not in _SCOPES:
            out.append(_Problem(
                "match.scope", f"unknown scope {scope!r} (one of {_listing(_SCOPES)}); "
                "Gatekeeper treats it as '*' and matches every object", fatal=False))
    for key in ("namespaces", "excludedNamespaces"):
        patterns = match.get(key)
        if patterns is None:
            continue
        if not _is_list(patterns):
            out.append(_Problem(f"match.{key}", f"must be a list, not {_type(patterns)}", True))
            continue
        for i, pattern in enumerate(patterns):
            _check_wildcard(pattern, f"match.{key}[{i}]", out)
    if match.get("name") is not None:
        _check_wildcard(match["name"], "match.name", out)
    for key in ("labelSelector", "namespaceSelector"):
        if match.get(key) is not None:
            _check_selector(match[key], f"match.{key}", out)
    source = match.get("source")
    if source not in (None, "") and source not in _SOURCES:
        what = repr(source) if isinstance(source, str) else f"a {_type(source)}"
        out.append(_Problem("match.source",
                            f"must be one of {_listing(_SOURCES)}, not {what}", fatal=True))
    return out


def validate_kinds(kinds: Any, where: str) -> list[str]:
    """Problems in a kinds list of `match.kinds`' shape found elsewhere (`where` names it),
    lint-level ones included: a kinds list that cannot match what was meant hides findings."""
    out: list[_Problem] = []
    _check_kinds(kinds, out, where)
    return [str(p) for p in out]


def _check_kinds(kinds: Any, out: list[_Problem], where: str = "match.kinds") -> None:
    if kinds is None:
        return
    if not _is_list(kinds):
        out.append(_Problem(where, f"must be a list, not {_type(kinds)}", True))
        return
    for i, entry in enumerate(kinds):
        path = f"{where}[{i}]"
        if not isinstance(entry, Mapping):
            out.append(_Problem(path, "must be an object with apiGroups and kinds, "
                                f"not {_type(entry)}", True))
            continue
        _unknown_keys(entry, _KINDS_ENTRY_KEYS, path, out)
        groups = _check_strings(entry.get("apiGroups"), f"{path}.apiGroups", out)
        names = _check_strings(entry.get("kinds"), f"{path}.kinds", out)
        if "*" in groups and len(groups) > 1:
            out.append(_Problem(f"{path}.apiGroups",
                                "'*' must be the only entry when present", fatal=False))
        for j, group in enumerate(groups):
            if "/" in group:
                out.append(_Problem(f"{path}.apiGroups[{j}]", f"{group!r} has a version; "
                                    "apiGroups hold group names only (e.g. 'apps')", False))
            elif group in ("core", "v1"):
                out.append(_Problem(f"{path}.apiGroups[{j}]", f"{group!r} matches no group; "
                                    "the core API group is written \"\"", False))
        for j, name in enumerate(names):
            if name != "*" and name[:1].islower():
                out.append(_Problem(f"{path}.kinds[{j}]", f"{name!r} looks like a resource "
                                    "name; kinds are matched against the object's kind "
                                    "exactly (e.g. 'Pod')", False))


def _check_strings(value: Any, path: str, out: list[_Problem]) -> list[str]:
    """The strings of a list field, reporting a non-list or non-string items."""
    if value is None:
        return []
    if not _is_list(value):
        out.append(_Problem(path, f"must be a list of strings, not {_type(value)}", True))
        return []
    strings: list[str] = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            strings.append(item)
        else:
            out.append(_Problem(f"{path}[{i}]", f"must be a string, not {_type(item)}", True))
    return strings


def _check_wildcard(pattern: Any, path: str, out: list[_Problem]) -> None:
    if not isinstance(pattern, str):
        out.append(_Problem(path, f"must be a string, not {_type(pattern)}", True))
    elif not _WILDCARD.match(pattern):
        out.append(_Problem(path, f"{pattern!r} is not a valid name or glob: lowercase letters, "
                            "digits, '-' and ':' with an optional '*' at the start and/or end "
                            "only (the API server rejects it)", fatal=False))


def _check_selector(selector: Any, path: str, out: list[_Problem]) -> None:
    if not isinstance(selector, Mapping):
        out.append(_Problem(path, f"must be a label selector object, not {_type(selector)}",
                            True))
        return
    _unknown_keys(selector, _SELECTOR_KEYS, path, out)
    labels = selector.get("matchLabels")
    if labels is not None:
        if not isinstance(labels, Mapping):
            out.append(_Problem(f"{path}.matchLabels",
                                f"must be a map of label to value, not {_type(labels)}", True))
        else:
            for key, value in labels.items():
                where = f"{path}.matchLabels.{key}"
                _check_label_key(key, where, out)
                _check_label_value(value, where, out)
    expressions = selector.get("matchExpressions")
    if expressions is None:
        return
    if not _is_list(expressions):
        out.append(_Problem(f"{path}.matchExpressions",
                            f"must be a list, not {_type(expressions)}", True))
        return
    for i, expr in enumerate(expressions):
        _check_expression(expr, f"{path}.matchExpressions[{i}]", out)


def _check_expression(expr: Any, path: str, out: list[_Problem]) -> None:
    if not isinstance(expr, Mapping):
        out.append(_Problem(path, "must be an object with key, operator and values, "
                            f"not {_type(expr)}", True))
        return
    _unknown_keys(expr, _EXPRESSION_KEYS, path, out)
    if "key" not in expr:
        out.append(_Problem(f"{path}.key", "is required", True))
    else:
        _check_label_key(expr["key"], f"{path}.key", out)
    op = expr.get("operator")
    if op is None:
        out.append(_Problem(f"{path}.operator", f"is required (one of {_listing(_OPERATORS)})",
                            True))
    elif op not in _OPERATORS:
        what = repr(op) if isinstance(op, str) else f"a {_type(op)}"
        hint = _did_you_mean(op, _OPERATORS) if isinstance(op, str) else ""
        out.append(_Problem(f"{path}.operator", f"unknown operator {what}: must be one of "
                            f"{_listing(_OPERATORS)}{hint}", True))
    values = _check_strings(expr.get("values"), f"{path}.values", out)
    for j, value in enumerate(values):
        _check_label_value(value, f"{path}.values[{j}]", out)
    if op in ("In", "NotIn") and not values and not _is_list_with_items(expr.get("values")):
        out.append(_Problem(f"{path}.values", f"must not be empty with operator {op}", True))
    elif op in ("Exists", "DoesNotExist") and expr.get("values"):
        out.append(_Problem(f"{path}.values", f"must be empty with operator {op}", True))


def _check_label_key(key: Any, path: str, out: list[_Problem]) -> None:
    if not isinstance(key, str):
        out.append(_Problem(path, f"label key must be a string, not {_type(key)}", True))
        return
    prefix, slash, name = key.rpartition("/")
    valid = (
        0 < len(name) <= 63 and _LABEL_NAME.match(name) is not None
        and (not slash or (0 < len(prefix) <= 253 and _DNS_SUBDOMAIN.match(prefix) is not None))
    )
    if not valid:
        out.append(_Problem(path, f"{key!r} is not a valid label key", True))


def _check_label_value(value: Any, path: str, out: list[_Problem]) -> None:
    if not isinstance(value, str):
        out.append(_Problem(path, f"label value must be a string, not {_type(value)}", True))
    elif value and (len(value) > 63 or not _LABEL_NAME.match(value)):
        out.append(_Problem(path, f"{value!r} is not a valid label value", True))


def _unknown_keys(block: Mapping[Any, Any], known: tuple[str, ...], path: str,
                  out: list[_Problem]) -> None:
    for key in block:
        if key not in known:
            hint = _did_you_mean(key, known) if isinstance(key, str) else ""
            out.append(_Problem(f"{path}.{key}", "unknown key, which Gatekeeper ignores"
                                f"{hint or '; known keys: ' + _listing(known)}", fatal=False))


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    by_fold = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(word.lower(), list(by_fold), n=1, cutoff=0.75)
    return f"; did you mean {by_fold[close[0]]!r}?" if close else ""


def _is_list(value: Any) -> bool:
    return isinstance(value, list | tuple)


def _is_list_with_items(value: Any) -> bool:
    return _is_list(value) and len(value) > 0


def _listing(items: Iterable[str]) -> str:
    return ", ".join(repr(i) for i in items)


def _type(value: Any) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean", int: "integer",
             float: "number", type(None): "null"}
    return names.get(type(value), "object" if isinstance(value, Mapping) else type(value).__name__)
