"""What a kind's schema says about a field, as far as comparing values needs it.

Three facts decide whether a declared and a live value are the same: how a list's items are
identified (`x-kubernetes-list-map-keys`, or the strategic-merge key), whether a value is a
quantity (`1000m` is `1`), and whether a field takes an integer or a string (`8080` and
`"8080"` then mean the same). Built-in kinds carry all three in the bundled OpenAPI schemas;
CRD schemas as bundled keep only the int-or-string types, so CRD lists fall back to the
usual `name` key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_QUANTITY_REF = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_INT_OR_STRING_REF = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"


class Shape:
    """One node of a schema, with `$ref`s into the definitions resolved on the way down.

    Child nodes are made once and kept (a kind's shape is reused for all its objects)."""

    __slots__ = ("_definitions", "_extra", "_fields", "_item", "_node", "_ref")

    def __init__(self, node: Mapping[str, Any] | None,
                 definitions: Mapping[str, Any], ref: str = "") -> None:
        self._definitions = definitions
        self._ref = ref
        self._node: Mapping[str, Any] = {}
        self._fields: dict[str, Shape] = {}
        self._extra: Shape | None = None
        self._item: Shape | None = None
        depth = 0
        while isinstance(node, Mapping) and "$ref" in node and depth < 32:
            self._ref = str(node["$ref"]).rpartition("/")[2]
            target = definitions.get(self._ref)
            node = target if isinstance(target, Mapping) else None
            depth += 1
        if isinstance(node, Mapping):
            self._node = node

    @property
    def known(self) -> bool:
        return bool(self._node) or bool(self._ref)

    def field(self, name: str) -> Shape:
        found = self._fields.get(name)
        if found is not None:
            return found
        properties = self._node.get("properties")
        if isinstance(properties, Mapping) and name in properties:
            found = self._fields[name] = Shape(properties[name], self._definitions)
            return found
        extra = self._node.get("additionalProperties")
        if isinstance(extra, Mapping):
            if self._extra is None:
                self._extra = Shape(extra, self._definitions)
            return self._extra
        return UNKNOWN

    def item(self) -> Shape:
        if self._item is None:
            items = self._node.get("items")
            self._item = Shape(items, self._definitions) if isinstance(items, Mapping) \
                else UNKNOWN
        return self._item

    @property
    def list_keys(self) -> tuple[str, ...] | None:
        """The fields that identify an item of this list, when items are matched by key."""
        keys = self._node.get("x-kubernetes-list-map-keys")
        if isinstance(keys, list) and keys and all(isinstance(k, str) for k in keys):
            return tuple(keys)
        key = self._node.get("x-kubernetes-patch-merge-key")
        if isinstance(key, str) and self._node.get("x-kubernetes-patch-strategy") != "replace":
            return (key,)
        return None

    @property
    def is_set(self) -> bool:
        """A list of scalars whose order does not matter (`x-kubernetes-list-type: set`)."""
        return self._node.get("x-kubernetes-list-type") == "set"

    @property
    def is_quantity(self) -> bool:
        return self._ref == _QUANTITY_REF

    @property
    def is_int_or_string(self) -> bool:
        if self._ref == _INT_OR_STRING_REF or self._node.get("x-kubernetes-int-or-string"):
            return True
        types = self._node.get("type")
        return isinstance(types, list) and "integer" in types and "string" in types


UNKNOWN = Shape(None, {})
