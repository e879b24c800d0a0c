"""JSON Schemas for CRD-backed kinds, derived from CustomResourceDefinitions.

A CRD's `openAPIV3Schema` is an OpenAPI v3 *structural* schema. The API server reads
it with Kubernetes-specific semantics that plain JSON Schema lacks: unknown fields are
pruned (rejected under strict field validation), `nullable` widens a type, and
`x-kubernetes-*` extensions change what is accepted. This module rewrites such a
schema into a draft 2020-12 JSON Schema that rejects what the API server would reject,
so objects can be validated offline (e.g. with jsonschema-rs).

Conversion rules (see `openapi_to_json_schema`):

- Strict objects: an object schema without `additionalProperties` and without
  `x-kubernetes-preserve-unknown-fields: true` gets `additionalProperties: false`.
  This includes objects that declare no properties at all (the API server prunes every
  field of those too), e.g. an empty marker struct such as `uuidSpec: {}`.
  Sub-schemas under `allOf`/`anyOf`/`oneOf`/`not` are never made strict: in a
  structural schema they only restate constraints on fields declared outside them.
- `nullable: true` adds `"null"` to `type`. As in the API server, an `enum` still
  applies to null, but `allOf`/`anyOf`/`oneOf`/`not` do not (they are wrapped so a
  null skips them).
- `x-kubernetes-int-or-string: true` becomes `type: ["integer", "string"]`.
- `x-kubernetes-embedded-resource: true` allows `apiVersion`, `kind` (both required,
  as the API server requires them) and `metadata` (any ObjectMeta fields).
- `x-kubernetes-list-type: set` becomes `uniqueItems: true` (the API server rejects
  duplicates in sets).
- OpenAPI 3.0's boolean `exclusiveMinimum`/`exclusiveMaximum` become the numeric
  2020-12 form.
- Dropped: `description`, `example`, `default`, `title`, `externalDocs`, every other
  `x-kubernetes-*` key, and anything that is not a JSON Schema validation keyword.
  `format` is kept as an annotation (formats are not asserted by default).
- `x-kubernetes-validations` (CEL rules) cannot be evaluated offline; they are dropped
  and counted (`CrdVersion.cel_rules_dropped`).

Known gap: the API server silently drops a `null` value of a non-nullable field that is
not required (or has a default); these schemas reject such a null instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from checker.parse import DocumentError, parse_yaml

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
CRD_KIND = "CustomResourceDefinition"
CRD_API_VERSIONS = ("apiextensions.k8s.io/v1", "apiextensions.k8s.io/v1beta1")

GVK = tuple[str, str, str]

# Keywords copied unchanged: their meaning is the same in OpenAPI 3.0 and JSON Schema.
_PASSTHROUGH = (
    "enum",
    "format",
    "maxItems",
    "maxLength",
    "maxProperties",
    "minItems",
    "minLength",
    "minProperties",
    "multipleOf",
    "pattern",
    "required",
    "uniqueItems",
)
_JUNCTORS = ("allOf", "anyOf", "oneOf")
_INT_OR_STRING_ANYOF = ({"type": "integer"}, {"type": "string"})

# Embedded resources: the API server requires a non-empty apiVersion that parses as
# [group/]version, and a kind that is a DNS-1035 label ignoring case.
_EMBEDDED_API_VERSION = {
    "type": "string",
    "minLength": 1,
    "pattern": "^[^/]+(/[^/]+)?$",
}
_EMBEDDED_KIND = {
    "type": "string",
    "pattern": "^[A-Za-z]([-A-Za-z0-9]*[A-Za-z0-9])?$",
    "maxLength": 63,
}


@dataclass(frozen=True)
class CrdVersion:
    """One version of a CRD with its generated JSON Schema."""

    group: str
    version: str
    kind: str
    plural: str
    scope: str
    served: bool
    storage: bool
    deprecated: bool
    cel_rules_dropped: int
    has_schema: bool
    """False when the CRD gives no schema for this version; `schema` then only checks
    apiVersion, kind and that metadata is an object."""
    schema: dict[str, Any]

    @property
    def key(self) -> GVK:
        return (self.group, self.version, self.kind)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


@dataclass(frozen=True)
class ConvertedSchema:
    schema: dict[str, Any]
    cel_rules_dropped: int


def is_crd(doc: Any) -> bool:
    """True for an apiextensions.k8s.io v1 or v1beta1 CustomResourceDefinition."""
    return (
        isinstance(doc, Mapping)
        and doc.get("kind") == CRD_KIND
        and doc.get("apiVersion") in CRD_API_VERSIONS
    )


def schemas_from_crd(crd: Mapping[str, Any]) -> dict[GVK, dict[str, Any]]:
    """JSON Schemas keyed by (group, version, kind), one per *served* version.

    Raises ValueError if `crd` is not a CustomResourceDefinition or is malformed.
    A version without a schema gets one that only checks apiVersion and kind.
    """
    return {v.key: v.schema for v in crd_versions(crd) if v.served}


def crd_versions(crd: Mapping[str, Any]) -> list[CrdVersion]:
    """Every version of `crd` (served or not), in the CRD's own order."""
    name = _crd_name(crd)
    if not is_crd(crd):
        raise ValueError(
            f"{name}: not a CustomResourceDefinition "
            f"(apiVersion={crd.get('apiVersion')!r}, kind={crd.get('kind')!r}; "
            f"expected kind {CRD_KIND} in one of {', '.join(CRD_API_VERSIONS)})"
            if isinstance(crd, Mapping)
            else f"not a CustomResourceDefinition: expected a mapping, got {type(crd).__name__}"
        )
    spec = crd.get("spec")
    if not isinstance(spec, Mapping):
        raise ValueError(f"{name}: CRD has no spec")  # noqa: TRY004 - the API promises ValueError
    group = spec.get("group")
    names = spec.get("names")
    if not isinstance(group, str) or not group:
        raise ValueError(f"{name}: CRD has no spec.group")
    if (
        not isinstance(names, Mapping)
        or not isinstance(names.get("kind"), str)
        or not names["kind"]
    ):
        raise ValueError(f"{name}: CRD has no spec.names.kind")
    kind: str = names["kind"]
    plural = str(names.get("plural") or "")
    scope = str(spec.get("scope") or "Namespaced")
    v1beta1 = crd["apiVersion"] == "apiextensions.k8s.io/v1beta1"
    # v1beta1 defaulted preserveUnknownFields to true: no pruning, so nothing is strict.
    strict = spec.get("preserveUnknownFields", v1beta1) is not True

    versions = spec.get("versions")
    if versions is None and v1beta1 and isinstance(spec.get("version"), str):
        versions = [{"name": spec["version"], "served": True, "storage": True}]
    if not isinstance(versions, list) or not versions:
        raise ValueError(f"{name}: CRD has no spec.versions")
    shared_schema = _openapi_schema(spec.get("validation")) if v1beta1 else None

    out: list[CrdVersion] = []
    for index, entry in enumerate(versions):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise ValueError(f"{name}: spec.versions[{index}] has no name")  # noqa: TRY004
        version: str = entry["name"]
        openapi = _openapi_schema(entry.get("schema"))
        if openapi is None:
            openapi = shared_schema
        where = f"{name} {group}/{version}"
        if openapi is None:
            schema = _minimal_schema(group, version, kind)
            cel = 0
        else:
            converted = _convert_root(
                openapi, group, version, kind, strict=strict, where=where
            )
            schema, cel = converted.schema, converted.cel_rules_dropped
        out.append(
            CrdVersion(
                group=group,
                version=version,
                kind=kind,
                plural=plural,
                scope=scope,
                served=entry.get("served", True) is True,
                storage=entry.get("storage", False) is True,
                deprecated=entry.get("deprecated", False) is True,
                cel_rules_dropped=cel,
                has_schema=openapi is not None,
                schema=schema,
            )
        )
    return out


def openapi_to_json_schema(
    schema: Mapping[str, Any], *, strict: bool = True, where: str = "schema"
) -> ConvertedSchema:
    """Convert one OpenAPI v3 structural schema (any level) to draft 2020-12 keywords.

    No `$schema` is added; `strict=False` leaves unknown fields allowed everywhere.
    """
    converter = _Converter(strict=strict, where=where)
    return ConvertedSchema(
        converter.convert(schema, "", structural=True), converter.cel_rules
    )


def load_yaml_documents(text: str) -> list[Any]:
    """All documents of a (multi-document) YAML text, read as Kubernetes reads them.

    Empty documents are skipped; a document that cannot be read raises ValueError.
    """
    documents = []
    for entry in parse_yaml(text):
        if isinstance(entry, DocumentError):
            raise ValueError(f"line {entry.line}: {entry.message}")  # noqa: TRY004
        if entry.data is not None:
            documents.append(entry.data)
    return documents


def iter_crds(documents: list[Any]) -> Iterator[Mapping[str, Any]]:
    """The CRDs among parsed YAML documents, including items of a `List`."""
    for doc in documents:
        if is_crd(doc):
            yield doc
        elif isinstance(doc, Mapping) and isinstance(doc.get("items"), list):
            yield from (item for item in doc["items"] if is_crd(item))


# --- internals ---------------------------------------------------------------------


def _crd_name(crd: Any) -> str:
    if isinstance(crd, Mapping):
        metadata = crd.get("metadata")
        if isinstance(metadata, Mapping) and metadata.get("name"):
            return f"CRD {metadata['name']}"
    return "CRD <unnamed>"


def _openapi_schema(holder: Any) -> Mapping[str, Any] | None:
    """`holder.openAPIV3Schema` from a `schema:` (v1) or `validation:` (v1beta1) block."""
    if isinstance(holder, Mapping):
        schema = holder.get("openAPIV3Schema")
        if schema is not None:
            if not isinstance(schema, Mapping):
                raise ValueError(
                    f"openAPIV3Schema must be a mapping, got {type(schema).__name__}"
                )
            return schema
    return None


def _type_meta(group: str, version: str, kind: str) -> dict[str, Any]:
    return {
        "apiVersion": {"type": "string", "enum": [f"{group}/{version}"]},
        "kind": {"type": "string", "enum": [kind]},
    }


def _minimal_schema(group: str, version: str, kind: str) -> dict[str, Any]:
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "type": "object",
        "required": ["apiVersion", "kind"],
        "properties": {
            **_type_meta(group, version, kind),
            "metadata": {"type": "object"},
        },
    }


def _convert_root(
    openapi: Mapping[str, Any],
    group: str,
    version: str,
    kind: str,
    *,
    strict: bool,
    where: str,
) -> ConvertedSchema:
    converter = _Converter(strict=strict, where=where)
    root = converter.convert(openapi, "", structural=True, embedded=True)
    properties = root.setdefault("properties", {})
    properties.update(_type_meta(group, version, kind))
    root["type"] = "object"
    return ConvertedSchema(
        {"$schema": JSON_SCHEMA_DIALECT, **root}, converter.cel_rules
    )


class _Converter:
    def __init__(self, *, strict: bool, where: str) -> None:
        self.strict = strict
        self.where = where
        self.cel_rules = 0

    def fail(self, path: str, message: str) -> ValueError:
        return ValueError(f"{self.where}: openAPIV3Schema{path}: {message}")

    def convert(
        self, node: Any, path: str, *, structural: bool, embedded: bool = False
    ) -> dict[str, Any]:
        """Convert `node`. `structural` is False under a junctor (allOf/anyOf/oneOf/not),
        where no strictness is added; `embedded` marks the resource root."""
        if not isinstance(node, Mapping):
            raise self.fail(
                path, f"expected a schema mapping, got {type(node).__name__}"
            )

        rules = node.get("x-kubernetes-validations")
        if isinstance(rules, list):
            self.cel_rules += len(rules)

        nullable = node.get("nullable") is True
        preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
        int_or_string = node.get("x-kubernetes-int-or-string") is True
        embedded = embedded or node.get("x-kubernetes-embedded-resource") is True

        out: dict[str, Any] = {}
        types = self._types(node, path, int_or_string)
        if types is not None:
            out["type"] = types[0] if len(types) == 1 else types

        for key in _PASSTHROUGH:
            if key in node:
                out[key] = _plain(node[key])
        if node.get("x-kubernetes-list-type") == "set":
            out["uniqueItems"] = True
        self._bounds(node, out, path)

        if "properties" in node:
            out["properties"] = self._schema_map(
                node["properties"], f"{path}.properties", structural
            )
        if "patternProperties" in node:
            out["patternProperties"] = self._schema_map(
                node["patternProperties"], f"{path}.patternProperties", structural
            )
        additional = node.get("additionalProperties")
        if isinstance(additional, bool):
            out["additionalProperties"] = additional
        elif additional is not None:
            out["additionalProperties"] = self.convert(
                additional, f"{path}.additionalProperties", structural=structural
            )
        items = node.get("items")
        if isinstance(items, list):
            out["prefixItems"] = [
                self.convert(item, f"{path}.items[{i}]", structural=structural)
                for i, item in enumerate(items)
            ]
        elif items is not None:
            out["items"] = self.convert(items, f"{path}.items", structural=structural)

        junctors = self._junctors(node, path)
        if int_or_string and _is_int_or_string_anyof(junctors.get("anyOf")):
            del junctors["anyOf"]  # restates the type we already set

        if embedded:
            self._embed_type_meta(out)

        is_object = (types is not None and "object" in types) or "properties" in out
        if (
            structural
            and self.strict
            and is_object
            and not preserve
            and "additionalProperties" not in out
        ):
            out["additionalProperties"] = False

        if nullable and types is not None and "null" not in types:
            widened = [*types, "null"]
            out["type"] = widened
        if junctors:
            if nullable:
                # The API server validates only type and enum for a null value.
                out["anyOf"] = [{"type": "null"}, junctors]
            else:
                out.update(junctors)
        return out

    def _types(
        self, node: Mapping[str, Any], path: str, int_or_string: bool
    ) -> list[str] | None:
        if int_or_string:
            return ["integer", "string"]
        raw = node.get("type")
        if raw is None:
            return None
        if isinstance(raw, str):
            return [raw]
        if isinstance(raw, list) and all(isinstance(t, str) for t in raw) and raw:
            return list(raw)
        raise self.fail(path, f"invalid type {raw!r}")

    def _bounds(self, node: Mapping[str, Any], out: dict[str, Any], path: str) -> None:
        """minimum/maximum, with OpenAPI 3.0's boolean exclusive flags made numeric."""
        for bound, exclusive in (
            ("minimum", "exclusiveMinimum"),
            ("maximum", "exclusiveMaximum"),
        ):
            flag = node.get(exclusive)
            if bound in node:
                if flag is True:
                    out[exclusive] = node[bound]
                else:
                    out[bound] = node[bound]
            if isinstance(flag, (int, float)) and not isinstance(flag, bool):
                out[exclusive] = flag  # already JSON Schema style

    def _schema_map(self, value: Any, path: str, structural: bool) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(path, f"expected a mapping, got {type(value).__name__}")
        return {
            str(name): self.convert(sub, f"{path}.{name}", structural=structural)
            for name, sub in value.items()
        }

    def _junctors(self, node: Mapping[str, Any], path: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for key in _JUNCTORS:
            if key in node:
                branches = node[key]
                if not isinstance(branches, list) or not branches:
                    raise self.fail(path, f"{key} must be a non-empty list")
                found[key] = [
                    self.convert(b, f"{path}.{key}[{i}]", structural=False)
                    for i, b in enumerate(branches)
                ]
        if "not" in node:
            found["not"] = self.convert(node["not"], f"{path}.not", structural=False)
        return found

    @staticmethod
    def _embed_type_meta(out: dict[str, Any]) -> None:
        """apiVersion/kind required, metadata open: ObjectMeta is checked elsewhere."""
        properties = out.setdefault("properties", {})
        properties["apiVersion"] = {
            **properties.get("apiVersion", {}),
            **_EMBEDDED_API_VERSION,
        }
        properties["kind"] = {**properties.get("kind", {}), **_EMBEDDED_KIND}
        metadata = properties.setdefault("metadata", {"type": "object"})
        # Declared constraints (e.g. name maxLength) stay; unknown-field strictness does not.
        if metadata.get("additionalProperties") is False:
            del metadata["additionalProperties"]
        required = out.setdefault("required", [])
        for name in ("apiVersion", "kind"):
            if name not in required:
                required.append(name)


def _is_int_or_string_anyof(branches: Any) -> bool:
    return isinstance(branches, list) and sorted(
        branches, key=lambda b: str(b)
    ) == list(_INT_OR_STRING_ANYOF)


def _plain(value: Any) -> Any:
    """A detached copy of a JSON-like value (lists and mappings copied recursively)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
