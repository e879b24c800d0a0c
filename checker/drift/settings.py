"""The `drift:` section of the configuration: what to ignore, what marks an object as this
estate's, and how to compare."""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pathspec

from checker.errors import ConfigError
from checker.model import ResourceKey

DEFAULT_TRACKING_LABEL = "gitops-checker.io/managed-by"
DEFAULT_IGNORED_MANAGERS = ("kube-controller-manager",)
"""Fields these managers own are theirs to change (HPA-scaled replicas, revision history)."""
HAND_EDIT_MANAGERS = ("kubectl-edit", "kubectl-patch", "kubectl-label", "kubectl-annotate",
                      "kubectl-set", "kubectl-scale", "kubectl-replace", "kubectl-rollout")
"""Managers that only ever write what a person typed: a field they own that the repository
does not declare was added by hand."""

@dataclass(frozen=True, slots=True)
class IgnoreRule:
    """Differences not to report: fields by pointer or path (`*` for any item), fields owned
    by managers, for objects selected by kind, namespace and name globs."""

    fields: tuple[tuple[str, ...], ...] = ()
    managers: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    names: tuple[str, ...] = ()

    def selects(self, key: ResourceKey) -> bool:
        return (_any_glob(self.kinds, key.kind, f"{key.group}/{key.kind}")
                and _any_glob(self.namespaces, key.namespace or "")
                and _any_glob(self.names, key.name))

    def covers(self, pointer: str) -> bool:
        tokens = _tokens(pointer)
        return any(len(tokens) >= len(pattern) and all(
            p in ("*", t) for p, t in zip(pattern, tokens, strict=False))
            for pattern in self.fields)


@dataclass(frozen=True, slots=True)
class DriftSettings:
    tracking_label: str = DEFAULT_TRACKING_LABEL
    tracking_value: str | None = None
    apps: tuple[str, ...] = ()
    """Argo CD Applications / Flux objects (by name) whose objects belong to this estate,
    besides those the estate declares."""
    ignore: tuple[IgnoreRule, ...] = ()
    ignore_managers: tuple[str, ...] = DEFAULT_IGNORED_MANAGERS
    hand_edit_managers: tuple[str, ...] = HAND_EDIT_MANAGERS
    aggregated_roles: bool = True
    """Ignore the rules of aggregated ClusterRoles (the aggregation controller fills them)."""
    extra_kinds: tuple[str, ...] = ()
    """Kinds (`Kind` or `group/Kind`) scanned for undeclared objects besides declared ones."""
    server_side: bool = False
    clusters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(cluster, path globs): where objects no Argo CD or Flux app places are deployed,
    by the file that declares them (the apps' own definitions, bootstrap manifests)."""

    def cluster_of(self, path: str | None) -> str | None:
        if path is None:
            return None
        for cluster, spec in _cluster_specs(self.clusters):
            if spec.match_file(path):
                return cluster
        return None


@functools.cache
def _cluster_specs(clusters: tuple[tuple[str, tuple[str, ...]], ...]
                   ) -> list[tuple[str, pathspec.GitIgnoreSpec]]:
    return [(name, pathspec.GitIgnoreSpec.from_lines(globs)) for name, globs in clusters]


def settings_from(data: Mapping[str, Any] | None) -> DriftSettings:
    data = data or {}
    rules = []
    for index, entry in enumerate(data.get("ignore") or ()):
        patterns: list[tuple[str, ...]] = []
        for pointer in entry.get("pointers") or ():
            patterns.append(_tokens(pointer))
        for path in entry.get("paths") or ():
            try:
                patterns.append(parse_path(path))
            except ValueError as exc:
                raise ConfigError(f"drift.ignore[{index}].paths: {exc}") from None
        rules.append(IgnoreRule(tuple(patterns), tuple(entry.get("managers") or ()),
                                tuple(entry.get("kinds") or ()),
                                tuple(entry.get("namespaces") or ()),
                                tuple(entry.get("names") or ())))
    tracking = data.get("tracking") or {}
    return DriftSettings(
        tracking_label=tracking.get("label", DEFAULT_TRACKING_LABEL),
        tracking_value=tracking.get("value"),
        apps=tuple(tracking.get("apps") or ()),
        ignore=tuple(rules),
        ignore_managers=tuple(data.get("ignore_managers", DEFAULT_IGNORED_MANAGERS)),
        hand_edit_managers=tuple(data.get("hand_edit_managers", HAND_EDIT_MANAGERS)),
        aggregated_roles=bool(data.get("ignore_aggregated_cluster_role_rules", True)),
        extra_kinds=tuple(data.get("extra_kinds") or ()),
        server_side=bool(data.get("server_side_diff", False)),
        clusters=tuple((str(name), tuple(globs or ()))
                       for name, globs in (data.get("clusters") or {}).items()),
    )


_PATH_TOKEN = re.compile(r'\.([A-Za-z0-9_-]+)|\."((?:[^"\\]|\\.)*)"|\["((?:[^"\\]|\\.)*)"\]'
                         r"|\[(\d*)\]")


def parse_path(path: str) -> tuple[str, ...]:
    """A jq-like path (`.spec.template.spec.containers[].image`,
    `.metadata.annotations["example.com/x"]`, `.spec.ports[0]`) as pointer tokens."""
    tokens: list[str] = []
    position = 0
    while position < len(path):
        match = _PATH_TOKEN.match(path, position)
        if match is None:
            raise ValueError(f"cannot read path {path!r} at {path[position:]!r} (use "
                             '.field, ."quoted", ["key"], [] or [N])')
        name, quoted, bracket, index = match.groups()
        if name is not None:
            tokens.append(name)
        elif quoted is not None or bracket is not None:
            tokens.append(re.sub(r"\\(.)", r"\1", quoted if quoted is not None else bracket))
        else:
            tokens.append(index or "*")
        position = match.end()
    if not tokens:
        raise ValueError(f"empty path {path!r}")
    return tuple(tokens)


def _tokens(pointer: str) -> tuple[str, ...]:
    if not pointer:
        return ()
    return tuple(t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/"))


def _any_glob(patterns: Sequence[str], *values: str) -> bool:
    return not patterns or any(fnmatch.fnmatchcase(v, p) for p in patterns for v in values)


