"""Field-by-field comparison of one declared object with its live counterpart.

Only what was declared is compared: the server fills in defaults (`dnsPolicy`,
`revisionHistoryLimit`, `protocol: TCP`), controllers add status, and none of that is drift.
A live field that was *not* declared is drift only with evidence that it should not be there
(`claims`): it is in the last-applied configuration of a client-side apply, or owned by an
apply or a hand edit according to `managedFields` — the field was removed from the
repository, or added in the cluster.

Values are compared as the API server means them: `1000m` is `1`, `8080` is `"8080"` where a
field takes both, `{}`/`[]`/`null` mean the field is unset, and list items are matched by
their keys (a container by `name`, a port by `containerPort` and `protocol`), not their
position.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from checker.drift.shape import UNKNOWN, Shape
from checker.k8s import quantity
from checker.schema import escape_pointer_token


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


ABSENT: Any = _Missing()
"""A field that is not there (distinct from an explicit `null`)."""

CHANGED, NOT_LIVE, UNDECLARED = "changed", "not-live", "undeclared"

_PLAIN_SCALARS = frozenset({str, int, bool, float})
"""Types whose equal values of the same type are the same to the server (`same_scalar`)."""

_KEY_DEFAULTS = {"protocol": "TCP"}
"""Key fields the server fills in when a manifest leaves them out, so that a declared port
without `protocol` is the live port with `protocol: TCP`."""


@dataclass(frozen=True, slots=True)
class FieldDrift:
    """One field whose live value is not what was declared.

    `pointer` names the field in the declared object (for a field only the cluster has: where
    it would be declared); `live_pointer` names it in the live object ("" when absent there).
    `path` is the same field for people: `spec.template.spec.containers[name=web].image`.
    """

    change: str
    pointer: str
    live_pointer: str
    path: str
    declared: Any = ABSENT
    live: Any = ABSENT
    evidence: str = ""


def is_empty(value: Any) -> bool:
    return value is ABSENT or value is None or value == {} or value == []


def compare(declared: Any, live: Any, shape: Shape = UNKNOWN,
            claims: Mapping[str, str] | None = None,
            item_claims: Mapping[str, str] | None = None,
            everything: str | None = None) -> list[FieldDrift]:
    """Every declared field whose live value differs, and every claimed undeclared field.

    `item_claims` is weaker evidence that counts only for whole list items: any writer of an
    item in a declared list put it there on purpose (no server default adds list items),
    whereas the creator of an object also owns the defaults it was given. `everything` claims
    every live field with that evidence: when `declared` is the server's own answer to a
    dry-run apply, anything it lacks is drift.
    """
    walker = _Walker(claims or {}, item_claims or {}, everything)
    walker.node(declared, live, shape, ("", "", ""))
    return walker.found


class _Walker:
    def __init__(self, claims: Mapping[str, str], item_claims: Mapping[str, str],
                 everything: str | None) -> None:
        self.claims = claims
        self.item_claims = item_claims
        self.everything = everything
        self.claimed_within = _ancestors(claims)
        self.found: list[FieldDrift] = []

    def node(self, declared: Any, live: Any, shape: Shape, where: tuple[str, str, str]) -> None:
        kind = type(declared)
        if kind in _PLAIN_SCALARS and type(live) is kind and declared == live:
            return  # the common case, decided as `same_scalar` would decide it
        pointer, live_pointer, path = where
        if is_empty(declared):
            # `{}`, `[]` and `null` declare nothing: what the cluster has there is judged as
            # if the field were absent from the repository.
            if not is_empty(live):
                self.undeclared(live, where)
            return
        if live is ABSENT or live is None:
            self.found.append(FieldDrift(NOT_LIVE, pointer, "", path, declared))
            return
        if kind is dict or isinstance(declared, Mapping):
            if not isinstance(live, Mapping):
                self.found.append(FieldDrift(CHANGED, pointer, live_pointer, path, declared, live))
                return
            self.mapping(declared, live, shape, where)
        elif isinstance(declared, list):
            if not isinstance(live, list):
                self.found.append(FieldDrift(CHANGED, pointer, live_pointer, path, declared, live))
                return
            self.sequence(declared, live, shape, where)
        elif not same_scalar(declared, live, shape):
            self.found.append(FieldDrift(CHANGED, pointer, live_pointer, path, declared, live))

    def mapping(self, declared: Mapping[str, Any], live: Mapping[str, Any], shape: Shape,
                where: tuple[str, str, str]) -> None:
        pointer, live_pointer, path = where
        for key, value in declared.items():
            theirs = live.get(key, ABSENT)
            kind = type(value)
            if kind in _PLAIN_SCALARS and type(theirs) is kind and value == theirs:
                continue  # as `node` would decide, without making the pointers
            token = "/" + escape_pointer_token(key)
            self.node(value, theirs, shape.field(key),
                      (pointer + token, live_pointer + token, _join(path, key)))
        claims, claimed_within = self.claims, self.claimed_within
        for key, value in live.items():
            if key not in declared:
                token = "/" + escape_pointer_token(key)
                here = live_pointer + token
                if self.everything is None and here not in claims \
                        and here not in claimed_within:
                    continue  # nothing claims it or anything in it: `undeclared` would say so
                self.undeclared(value, (pointer + token, here, _join(path, key)))

    def sequence(self, declared: list[Any], live: list[Any], shape: Shape,
                 where: tuple[str, str, str]) -> None:
        pointer, live_pointer, path = where
        keys = _list_keys(shape, declared, live)
        if keys is None:
            self.positional(declared, live, shape, where)
            return
        # Items with the same key (an env var named twice: the API server accepts it, with
        # a warning) are paired in order, the n-th declared with the n-th live.
        live_by_key: dict[str, list[int]] = {}
        for index, item in enumerate(live):
            live_by_key.setdefault(_identity(item, keys), []).append(index)
        matched: set[int] = set()
        item_shape = shape.item()
        for index, item in enumerate(declared):
            identity = _identity(item, keys)
            label = f"{path}[{_describe_identity(item, keys)}]"
            candidates = live_by_key.get(identity)
            if not candidates:
                self.found.append(FieldDrift(NOT_LIVE, f"{pointer}/{index}", "", label, item))
                continue
            found = candidates.pop(0)
            matched.add(found)
            if isinstance(item, Mapping):
                item = {**{k: _KEY_DEFAULTS[k] for k in keys if k in _KEY_DEFAULTS
                           and k not in item and k in live[found]}, **item}
            self.node(item, live[found], item_shape,
                      (f"{pointer}/{index}", f"{live_pointer}/{found}", label))
        for index, item in enumerate(live):
            item_pointer = f"{live_pointer}/{index}"
            evidence = self.claims.get(item_pointer) or self.item_claims.get(item_pointer) \
                or self.everything
            if index not in matched and evidence:
                label = f"{path}[{_describe_identity(item, keys)}]"
                self.found.append(FieldDrift(
                    UNDECLARED, f"{pointer}/{len(declared) + index}", item_pointer, label,
                    ABSENT, item, evidence))

    def positional(self, declared: list[Any], live: list[Any], shape: Shape,
                   where: tuple[str, str, str]) -> None:
        """Lists without keys are atomic: same length, and each item as declared."""
        pointer, live_pointer, path = where
        if shape.is_set and all(not isinstance(v, Mapping | list) for v in [*declared, *live]):
            if sorted(map(_canonical_text, declared)) != sorted(map(_canonical_text, live)):
                self.found.append(FieldDrift(CHANGED, pointer, live_pointer, path, declared, live))
            return
        if len(declared) != len(live):
            self.found.append(FieldDrift(CHANGED, pointer, live_pointer, path, declared, live))
            return
        before = len(self.found)
        item_shape = shape.item()
        for index, (mine, theirs) in enumerate(zip(declared, live, strict=True)):
            self.node(mine, theirs, item_shape,
                      (f"{pointer}/{index}", f"{live_pointer}/{index}", f"{path}[{index}]"))
        if any(not isinstance(v, Mapping) for v in declared) and len(self.found) > before:
            # A list of plain values (command, args) changes as a whole.
            del self.found[before:]
            self.found.append(FieldDrift(CHANGED, pointer, live_pointer, path, declared, live))

    def undeclared(self, live: Any, where: tuple[str, str, str]) -> None:
        pointer, live_pointer, path = where
        evidence = self.claims.get(live_pointer, self.everything)
        if evidence is not None:
            if not is_empty(live):
                self.found.append(FieldDrift(UNDECLARED, pointer, live_pointer, path, ABSENT,
                                             live, evidence))
            return
        if live_pointer not in self.claimed_within:
            return
        if isinstance(live, Mapping):
            for key, value in live.items():
                token = "/" + escape_pointer_token(key)
                self.undeclared(value, (pointer + token, live_pointer + token, _join(path, key)))
        elif isinstance(live, list):
            for index, value in enumerate(live):
                self.undeclared(value, (f"{pointer}/{index}", f"{live_pointer}/{index}",
                                        f"{path}[{index}]"))


def same_scalar(declared: Any, live: Any, shape: Shape = UNKNOWN) -> bool:
    """Whether two scalars mean the same to the API server."""
    if declared == live and type(declared) is type(live):
        return True
    if isinstance(declared, bool) or isinstance(live, bool):
        return False
    if isinstance(declared, int | float) and isinstance(live, int | float):
        return Decimal(str(declared)) == Decimal(str(live))
    if shape.is_quantity or (not shape.known and _has_unit(declared, live)):
        mine, theirs = quantity(declared), quantity(live)
        return mine is not None and mine == theirs
    if shape.is_int_or_string or not shape.known:
        return _integer_text(declared) is not None and \
            _integer_text(declared) == _integer_text(live)
    return False


def _has_unit(*values: Any) -> bool:
    return any(isinstance(v, str) and v[-1:].isalpha() for v in values)


def _integer_text(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return str(int(value))
    return None


def _canonical_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _list_keys(shape: Shape, declared: Sequence[Any], live: Sequence[Any]
               ) -> tuple[str, ...] | None:
    keys = shape.list_keys
    if keys is not None:
        return keys
    if shape.known and shape.item().known:
        return None  # the schema knows this list and gives it no keys: it is atomic
    for items in (declared, live):
        names = [i.get("name") if isinstance(i, Mapping) else None for i in items]
        if not names or not all(isinstance(n, str) for n in names) or \
                len(set(names)) != len(names):
            return None  # `name` does not identify these items
    return ("name",)


def _identity(item: Any, keys: tuple[str, ...]) -> str:
    if not isinstance(item, Mapping):
        return _canonical_text(item)
    values = []
    for key in keys:
        value = item.get(key, _KEY_DEFAULTS.get(key))
        # A number and its text are one key (8080 is "8080"), but two texts are two keys:
        # containers named "0" and "00" are two containers.
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        values.append(value)
    return _canonical_text(values)


def _describe_identity(item: Any, keys: tuple[str, ...]) -> str:
    if not isinstance(item, Mapping):
        return _canonical_text(item)
    parts = [f"{key}={item[key]}" for key in keys if key in item]
    return ",".join(parts) or "?"


def _join(path: str, key: str) -> str:
    if key.replace("-", "").replace("_", "").isalnum():
        return f"{path}.{key}" if path else key
    return f'{path}["{key}"]'


def _ancestors(pointers: Iterable[str]) -> set[str]:
    """Every proper ancestor of the pointers, the root excepted (`/a/b/c` → `/a`, `/a/b`).

    Walked up from each pointer's parent, stopping at one already found: its own
    ancestors were added with it."""
    found: set[str] = set()
    for pointer in pointers:
        end = pointer.rfind("/")
        while end > 0:
            parent = pointer[:end]
            if parent in found:
                break
            found.add(parent)
            end = pointer.rfind("/", 0, end)
    return found
