"""Who owns which field of a live object, from its `metadata.managedFields` (FieldsV1).

Each managedFields entry is a field set written as a nested map: `f:<name>` is a map member,
`k:<json>` the item of an associative list whose key fields equal that JSON object, `v:<json>`
the item of a set-like list equal to that value, `i:<n>` the item at index n, and `.` the node
itself. A leaf `{}` means the manager owns the whole field, atomic maps and lists included.

Used to say who changed a drifted field and to ignore fields owned by chosen managers. List
items are named by their index in the LIVE object, so pointers here are live pointers.

Ownership of a map or list-item node (e.g. `/spec/template/spec/containers/0`): the managers
whose set has `.` there, or a leaf `{}` at the node or above it. Owning fields inside an item
does not make a manager an owner of the item itself (a patcher adding one env var to a
container does not own the container).
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from checker.parse import pointer_tokens
from checker.schema import escape_pointer_token


@dataclass(frozen=True, slots=True)
class FieldOwner:
    manager: str
    operation: str  # "Apply" or "Update", as written
    time: str | None  # RFC 3339, as written; None if absent
    subresource: str | None = None  # e.g. "status", "scale"

    def describe(self) -> str:
        """E.g. `kubectl-edit (Update) at 2026-11-26T02:13:00Z`, `… via /scale`."""
        text = f"{self.manager} ({self.operation})"
        if self.time:
            text += f" at {self.time}"
        if self.subresource:
            text += f" via /{self.subresource}"
        return text


def _same(a: Any, b: Any) -> bool:
    """JSON equality: 80 == 80.0, but true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


_BAD = object()


@functools.lru_cache(maxsize=4096)
def _json(text: str) -> Any:
    """Parsed once per distinct text (item keys repeat across objects); read-only results."""
    try:
        return json.loads(text)
    except ValueError:
        return _BAD


def _names_item(key: str, index: int, item: Any) -> bool:
    """Whether the FieldsV1 key `k:…`, `v:…` or `i:…` names `item`, at `index` of its list."""
    kind, _, rest = key.partition(":")
    if kind == "k":
        fields = _json(rest)
        return (isinstance(fields, dict) and isinstance(item, Mapping) and bool(fields)
                and all(name in item and _same(item[name], value)
                        for name, value in fields.items()))
    if kind == "v":
        value = _json(rest)
        return value is not _BAD and _same(value, item)
    return kind == "i" and rest.isdigit() and int(rest) == index


def _list(value: Any) -> Sequence[Any] | None:
    return value if isinstance(value, Sequence) and not isinstance(value, str) else None


def _moment(time: str | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat(time) if time else None
    except ValueError:
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _recency(owner: FieldOwner) -> tuple[bool, float]:
    """Sort key: most recent first, undated (or unreadable) last."""
    moment = _moment(owner.time)
    return moment is None, -moment.timestamp() if moment else 0.0


@dataclass(frozen=True, slots=True)
class _Step:
    """One pointer token resolved against the live object: a map member or a list item."""
    name: str | None = None  # map member
    index: int = -1  # list item, with its live value
    item: Any = None


class Ownership:
    """The managedFields of one live object, to look fields up in."""

    def __init__(self, live: Mapping[str, Any],
                 entries: list[tuple[FieldOwner, Mapping[str, Any]]]) -> None:
        self._live = live
        self._entries = entries
        self._owned: dict[FieldOwner, list[str]] = {}

    @classmethod
    def of(cls, live: Mapping[str, Any]) -> Ownership:
        """Never raises: malformed entries (and a malformed managedFields) are skipped."""
        metadata = live.get("metadata") if isinstance(live, Mapping) else None
        written = metadata.get("managedFields") if isinstance(metadata, Mapping) else None
        entries: list[tuple[FieldOwner, Mapping[str, Any]]] = []
        for entry in written if isinstance(written, list) else []:
            if not isinstance(entry, Mapping):
                continue
            fields, manager = entry.get("fieldsV1"), entry.get("manager")
            if not isinstance(fields, Mapping) or not isinstance(manager, str):
                continue
            operation, time, sub = (entry.get(k) for k in ("operation", "time", "subresource"))
            owner = FieldOwner(manager, operation if isinstance(operation, str) else "",
                               time if isinstance(time, str) and time else None,
                               sub if isinstance(sub, str) and sub else None)
            entries.append((owner, fields))
        return cls(live if isinstance(live, Mapping) else {}, entries)

    @property
    def present(self) -> bool:
        """Whether the object had usable managedFields."""
        return bool(self._entries)

    def managers(self) -> list[FieldOwner]:
        """Every usable entry, in the order written."""
        return [owner for owner, _ in self._entries]

    def owners(self, pointer: str, *, inherit: bool = False) -> list[FieldOwner]:
        """Owners of the field at `pointer` (into the live object), most recent first.

        [] when a list index of the pointer is not in the live object. With `inherit`, a field
        nobody owns is attributed to the owners (`.`) of its nearest owned map or list item, as
        kubectl-blame does: the best guess for "who put this here", not ownership.
        """
        steps = self._resolve(pointer)
        if steps is None:
            return []
        found = [owner for owner, fields in self._entries if _owns(fields, steps)]
        while inherit and not found and steps:
            steps = steps[:-1]
            found = [owner for owner, fields in self._entries if _owns(fields, steps)]
        return sorted(found, key=_recency)

    def owned(self, accept: Callable[[FieldOwner], bool]) -> list[str]:
        """Live pointers of every leaf and `.`-owned list item of the accepted managers.

        Members and items not in the live object are skipped; sorted, without duplicates.
        """
        found: set[str] = set()
        for owner, fields in self._entries:
            if accept(owner):
                _leaves(fields, self._live, "", found)
        return sorted(found)

    def owned_by(self, owner: FieldOwner) -> list[str]:
        """`owned` of the entries equal to `owner`, computed once per owner (the engine asks
        for the same entries' fields twice)."""
        found = self._owned.get(owner)
        if found is None:
            found = self._owned[owner] = self.owned(functools.partial(operator.eq, owner))
        return found

    def _resolve(self, pointer: str) -> list[_Step] | None:
        """The pointer as map members and live list items; None if an index is not live."""
        steps: list[_Step] = []
        node: Any = self._live
        for token in pointer_tokens(pointer):
            items = _list(node)
            if items is None:
                steps.append(_Step(name=token))
                node = node.get(token) if isinstance(node, Mapping) else None
            elif token.isdigit() and int(token) < len(items):
                node = items[int(token)]
                steps.append(_Step(index=int(token), item=node))
            else:
                return None
        return steps


def _child(fields: Mapping[str, Any], step: _Step) -> Any:
    if step.name is not None:
        return fields.get("f:" + step.name)
    return next((child for key, child in fields.items()
                 if _names_item(key, step.index, step.item)), None)


def _owns(fields: Mapping[str, Any], steps: list[_Step]) -> bool:
    """Whether a field set has `.` or a leaf at the end of `steps`, or a leaf on the way."""
    node: Any = fields
    for depth, step in enumerate(steps):
        if depth and not node:
            return True  # an atomic field above the pointer
        node = _child(node, step)
        if not isinstance(node, Mapping):
            return False
    return (bool(steps) and not node) or "." in node


def _leaves(fields: Mapping[str, Any], live: Any, pointer: str, found: set[str]) -> None:
    """Add to `found` the live pointers of the leaves and `.`-owned items of a field set."""
    members = live if type(live) is dict or isinstance(live, Mapping) else None
    items = _list(live) if members is None else None
    for key, child in fields.items():
        if key == "." or not (type(child) is dict or isinstance(child, Mapping)):
            continue
        if key.startswith("f:"):
            name = key[2:]
            if members is None or name not in members:
                continue
            value, here = members[name], f"{pointer}/{escape_pointer_token(name)}"
        else:
            if items is None:
                continue
            index = next((i for i, item in enumerate(items) if _names_item(key, i, item)), None)
            if index is None:
                continue
            value, here = items[index], f"{pointer}/{index}"
            if "." in child:
                found.add(here)
        if not child:
            found.add(here)
        else:
            _leaves(child, value, here, found)
