"""Validate objects against Kubernetes and CRD JSON schemas, offline, with jsonschema-rs.

Built-in kinds use the strict schemas shipped in the `kubernetes-validate` package (one
directory per Kubernetes minor version). CRD-backed kinds use the schemas generated into
`schemas/crds/` (see scripts/generate_crd_schemas.py) plus any CRD found in the scanned
estate, which wins over the bundled one. Schemas are looked up by group + version + kind.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema_rs

from checker import crds, deprecations
from checker.errors import ConfigError
from checker.model import Manifest, RuleInfo, Severity, Violation
from checker.resources import SCHEMAS_DIR
from checker.versions import DEFAULT_VERSION, SUPPORTED_VERSIONS

if TYPE_CHECKING:
    from checker.cache import JsonCache

SCHEMA_ROOT = SCHEMAS_DIR
CRD_SCHEMA_DIR = SCHEMA_ROOT / "crds"

MAX_ERRORS_PER_OBJECT = 25

NOT_SERVED = "not-served"
"""What `SchemaSource.validator` returns for a CRD version that is declared but not served."""

_SAFE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{0,99}")

BUILTIN_GROUPS = frozenset({"", "apps", "batch", "autoscaling", "policy", "extensions"})

RULES = {
    rule.id: rule
    for rule in (
        RuleInfo("SCH001", "schema-violation", Severity.HIGH, "schema",
                 "The object does not match the Kubernetes or CRD schema; the API server "
                 "would reject it.", "schema",
                 "Fix the field as the message says; `kubectl explain KIND.FIELD` shows "
                 "the expected type."),
        RuleInfo("SCH002", "unknown-field", Severity.HIGH, "schema",
                 "The object has a field its schema does not define. Strict field validation "
                 "(kubectl's default) rejects it; without it the field is silently dropped.",
                 "schema", "Remove the field or correct its spelling or indentation."),
        RuleInfo("SCH003", "yaml-ambiguous-scalar", Severity.HIGH, "schema",
                 "An unquoted value that Kubernetes' YAML 1.1 reader turns into a boolean or "
                 "an octal number sits where the schema wants a string.", "schema",
                 "Quote the value (`\"yes\"`, `\"0755\"`)."),
        RuleInfo("SCH004", "unknown-kind", Severity.LOW, "schema",
                 "No schema is known for this apiVersion and kind, so the object was not "
                 "validated.", "schema",
                 "Add the CRD to the repository, or check the apiVersion and kind for typos."),
        RuleInfo("SCH005", "api-not-served", Severity.HIGH, "schema",
                 "The apiVersion and kind are not served: a built-in API that does not exist "
                 "in the selected Kubernetes version (removed, or misspelled), or a CRD version "
                 "that is declared but not served. The API server rejects the object.",
                 "schema", "Use a served apiVersion (see `kubectl api-resources`) and check "
                 "the spelling of the kind."),
    )
}


@dataclass(frozen=True, slots=True)
class SchemaViolation:
    rule_id: str
    violation: Violation
    value_is_yaml11: bool = False
    """A string was wanted and a boolean or number found: maybe YAML 1.1 (SCH003)."""


class SchemaSource:
    """Finds and compiles the schema for a group/version/kind, caching validators."""

    def __init__(self, kubernetes_version: str = DEFAULT_VERSION, *, strict: bool = True,
                 crd_dir: Path = CRD_SCHEMA_DIR, reach_cache: JsonCache | None = None
                 ) -> None:
        """`reach_cache`: where the definitions each built-in kind reaches are kept, so that
        a run validating a few kinds need not read all definitions (1.8 MB of JSON, ~20 ms
        with their registry: most of a pre-commit hook's schema stage)."""
        if kubernetes_version not in SUPPORTED_VERSIONS:
            raise ConfigError(
                f"unsupported Kubernetes version {kubernetes_version!r}; expected one of "
                f"{', '.join(SUPPORTED_VERSIONS)}")
        self.kubernetes_version = kubernetes_version
        self.strict = strict
        self._crd_dir = crd_dir
        self._validators: dict[tuple[str, str, str], Any] = {}
        self._estate_crds: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._reach_cache = reach_cache

    @cached_property
    def _builtin_dir(self) -> Any:
        suffix = "-local-strict" if self.strict else "-local"
        # Found, not imported: the package's own code imports `jsonschema` (~0.1 s), and
        # only its data is used here.
        spec = importlib.util.find_spec("kubernetes_validate")
        places = list(spec.submodule_search_locations or ()) if spec is not None else []
        base = Path(places[0]) if places else resources.files("kubernetes_validate")
        return base.joinpath("kubernetes-json-schema", f"v{self.kubernetes_version}.0{suffix}")

    @cached_property
    def _definitions_document(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(
            self._builtin_dir.joinpath("_definitions.json").read_text())
        return document

    @cached_property
    def _registry(self) -> Any:
        document = self._definitions_document
        return jsonschema_rs.Registry([(document["$id"], document)])

    def _registry_for(self, schema: Mapping[str, Any], schema_text: str) -> Any:
        """A registry for one built-in kind's schema: with a cache, the definitions it
        reaches (kept by the content of its schema and the identity of the definitions'
        file); else all of them, shared by every kind."""
        if self._reach_cache is None:
            return self._registry
        try:
            found = self._builtin_dir.joinpath("_definitions.json").stat()
        except OSError:
            return self._registry
        identity = f"{_REACH_FORMAT}\0{self._builtin_dir}\0{found.st_size}\0" \
                   f"{found.st_mtime_ns}\0{found.st_ino}\0"
        digest = hashlib.blake2b((identity + schema_text).encode("utf-8", "surrogatepass"),
                                 digest_size=20).hexdigest()
        kept = self._reach_cache.get(digest)
        if not _is_reach_entry(kept):
            document = self._definitions_document
            kept = {"$id": document.get("$id"), "$schema": document.get("$schema"),
                    "$defs": reached_definitions(schema, document.get("$defs") or {})}
            self._reach_cache.put(digest, kept)
        return jsonschema_rs.Registry([(kept["$id"], kept)])

    @cached_property
    def _crd_index(self) -> dict[tuple[str, str, str], Mapping[str, Any]]:
        index_file = self._crd_dir / "index.json"
        if not index_file.is_file():
            return {}
        entries = json.loads(index_file.read_text(encoding="utf-8"))
        return {(e["group"], e["version"], e["kind"]): e for e in entries}

    def add_estate_crd(self, crd: Mapping[str, Any]) -> None:
        """Use a CRD declared in the scanned estate (it wins over a bundled one)."""
        for gvk, schema in crds.schemas_from_crd(crd).items():
            # Compiled now, so a broken CRD is reported against the CRD, not its objects.
            validator = jsonschema_rs.validator_for(schema)
            self._estate_crds[gvk] = schema
            self._validators[gvk] = validator

    def validator(self, group: str, version: str, kind: str) -> Any | None | str:
        """A compiled validator, None when the kind is unknown, or NOT_SERVED."""
        gvk = (group, version, kind)
        if gvk in self._validators:
            return self._validators[gvk]
        found: Any = self._compile(gvk)
        self._validators[gvk] = found
        return found

    def _compile(self, gvk: tuple[str, str, str]) -> Any | None | str:
        group, version, kind = gvk
        if gvk in self._estate_crds:
            return jsonschema_rs.validator_for(self._estate_crds[gvk])
        if is_builtin_group(group):
            found = self._builtin_schema_text(group, version, kind)
            if found is not None:
                schema, text = found
                return jsonschema_rs.validator_for(schema,
                                                   registry=self._registry_for(schema, text))
        entry = self._crd_index.get(gvk)
        if entry is not None:
            if not entry.get("file"):
                return NOT_SERVED
            schema = json.loads((self._crd_dir / entry["file"]).read_text(encoding="utf-8"))
            return jsonschema_rs.validator_for(schema)
        return None

    def raw_schema(self, group: str, version: str, kind: str
                   ) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
        """(schema, definitions its `$ref`s point into) of a kind, uncompiled; None if unknown.

        For readers that need what a schema says rather than a verdict (drift reads list
        keys, quantities and int-or-string fields from it).
        """
        gvk = (group, version, kind)
        if gvk in self._estate_crds:
            return self._estate_crds[gvk], {}
        if is_builtin_group(group):
            schema = self._builtin_schema(group, version, kind)
            if schema is not None:
                return schema, self._definitions
        entry = self._crd_index.get(gvk)
        if entry is not None and entry.get("file"):
            return json.loads((self._crd_dir / entry["file"]).read_text(encoding="utf-8")), {}
        return None

    @cached_property
    def _definitions(self) -> Mapping[str, Any]:
        definitions: Mapping[str, Any] = self._definitions_document.get("$defs", {})
        return definitions

    def _builtin_schema(self, group: str, version: str, kind: str) -> dict[str, Any] | None:
        found = self._builtin_schema_text(group, version, kind)
        return None if found is None else found[0]

    def _builtin_schema_text(self, group: str, version: str, kind: str
                             ) -> tuple[dict[str, Any], str] | None:
        """A built-in kind's schema, and the text it was read from."""
        if not _SAFE_NAME.fullmatch(kind) or not _SAFE_NAME.fullmatch(version):
            return None
        prefix = _FILE_PREFIXES.get(group, group.split(".")[0])
        name = f"{kind.lower()}-{prefix}-{version}.json" if prefix else f"{kind.lower()}-{version}.json"
        candidate = self._builtin_dir.joinpath(name)
        if not candidate.is_file():
            return None
        text = candidate.read_text()
        schema: dict[str, Any] = json.loads(text)
        api_version = f"{group}/{version}" if group else version
        properties = schema.get("properties", {})
        # Files exist for every definition (Affinity, Container…): only top-level kinds
        # declare their apiVersion and kind.
        if api_version not in (properties.get("apiVersion", {}).get("enum") or ()):
            return None
        if kind not in (properties.get("kind", {}).get("enum") or ()):
            return None
        return schema, text


_REACH_FORMAT = 1
_DEFINITION_REF = "#/$defs/"


def reached_definitions(schema: Mapping[str, Any], definitions: Mapping[str, Any]
                        ) -> dict[str, Any]:
    """The definitions `schema` refers to (`…#/$defs/NAME`), and those they refer to, on
    and on: all that validating against it can read."""
    reached: dict[str, Any] = {}
    pending = list(_definition_refs(schema))
    while pending:
        name = pending.pop()
        if name in reached or name not in definitions:
            continue
        reached[name] = definitions[name]
        pending.extend(_definition_refs(definitions[name]))
    return reached


def _definition_refs(node: Any) -> Iterator[str]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and _DEFINITION_REF in ref:
                yield ref.split(_DEFINITION_REF, 1)[1]
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _is_reach_entry(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("$id"), str) and \
        isinstance(value.get("$defs"), dict)


_FILE_PREFIXES = {"internal.apiserver.k8s.io": "apiserverinternal"}
"""Groups whose schema files are not named after the group's first label."""


def is_builtin_group(group: str) -> bool:
    return group in BUILTIN_GROUPS or group.endswith(".k8s.io")


def escape_pointer_token(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer_of(path: Iterable[str | int]) -> str:
    return "".join("/" + escape_pointer_token(p) for p in path)


_TYPE_NAMES = {"null": "null", "boolean": "boolean", "integer": "integer", "number": "number",
               "string": "string", "array": "list", "object": "mapping"}


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "mapping"


def _field_name(path: list[str | int]) -> str:
    if not path:
        return "the object"
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (("." if text else "") + str(part))
    return f"`{text}`"


def describe_errors(validator: Any, obj: Mapping[str, Any]) -> Iterator[SchemaViolation]:
    """Schema errors as violations. Messages never quote the object's values (they may be
    secrets); they name the field, what was expected and the type found."""
    count = 0
    for error in validator.iter_errors(obj):
        for violation in _describe(error):
            count += 1
            if count > MAX_ERRORS_PER_OBJECT:
                yield SchemaViolation("SCH001", Violation(
                    f"more than {MAX_ERRORS_PER_OBJECT} schema errors; the rest are not listed"))
                return
            yield violation


def _describe(error: Any) -> list[SchemaViolation]:
    if error.kind.name in ("additionalProperties", "unevaluatedProperties"):
        path = list(error.instance_path)
        return [SchemaViolation("SCH002", Violation(
            f"unknown field {_field_name([*path, name])}", pointer_of([*path, name]),
            {"unknown_field": name})) for name in sorted(error.kind.unexpected or [])]
    return [_describe_one(error)]


def _describe_one(error: Any) -> SchemaViolation:
    path = list(error.instance_path)
    kind = error.kind
    name = kind.name
    pointer = pointer_of(path)
    where = _field_name(path)
    if name == "type":
        expected = [_TYPE_NAMES.get(t, t) for t in kind.types if t != "null"]
        found = _type_of(error.instance)
        wants_string = "string" in expected
        return SchemaViolation("SCH001", Violation(
            f"{where} must be {' or '.join(expected)}, not {found}", pointer,
            {"expected": expected, "found": found}),
            value_is_yaml11=wants_string and found in ("boolean", "integer", "number"))
    if name == "required":
        field_path = [*path, kind.property]
        return SchemaViolation("SCH001", Violation(
            f"{_field_name(field_path)} is required", pointer,
            {"missing": kind.property}))
    if name == "enum":
        options = ", ".join(json.dumps(o) for o in kind.options[:12])
        return SchemaViolation("SCH001", Violation(
            f"{where} must be one of {options}", pointer, {"allowed": list(kind.options)}))
    if name == "pattern":
        return SchemaViolation("SCH001", Violation(
            f"{where} does not match the pattern {kind.pattern}", pointer))
    if name in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength",
                "maxLength", "minItems", "maxItems", "minProperties", "maxProperties",
                "multipleOf"):
        words = re.sub(r"(?<!^)([A-Z])", r" \1", name).lower()
        bound = next(iter(kind.as_dict().values()), "")
        return SchemaViolation("SCH001", Violation(f"{where} violates {words} {bound}".rstrip(),
                                                   pointer))
    if name == "uniqueItems":
        return SchemaViolation("SCH001", Violation(f"{where} has duplicate items", pointer))
    if name in ("oneOf", "anyOf"):
        return SchemaViolation("SCH001", Violation(
            f"{where} must match exactly one allowed form (for example an integer or a "
            "string), not a " + _type_of(error.instance), pointer))
    # jsonschema-rs's own message quotes the value, which may be a secret: name the keyword.
    return SchemaViolation("SCH001", Violation(f"{where} fails the schema's `{name}` check",
                                               pointer))


def validate(manifest: Manifest, source: SchemaSource,
             on_unknown: Callable[[Manifest], Iterable[SchemaViolation]] | None = None,
             ) -> list[SchemaViolation]:
    resource = manifest.resource
    group, _, version = resource.api_version.rpartition("/")
    validator = source.validator(group, version, resource.kind)
    if validator == NOT_SERVED:
        return [SchemaViolation("SCH005", Violation(
            f"{resource.api_version} {resource.kind} is declared by its CRD but not served",
            "/apiVersion"))]
    if validator is None:
        if is_builtin_group(group):
            instead = deprecations.replacement(group, version, resource.kind,
                                               source.kubernetes_version)
            return [SchemaViolation("SCH005", Violation(
                f"{resource.api_version} {resource.kind} is not an API of Kubernetes "
                f"{source.kubernetes_version} (removed, or misspelled)"
                + (f"; use {instead} instead" if instead else ""), "/apiVersion"))]
        return list(on_unknown(manifest)) if on_unknown else []
    return list(describe_errors(validator, manifest.obj))
