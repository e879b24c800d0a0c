"""Rego policies the conftest way: modules, their packages, their rules and METADATA.

A policy directory holds `*.rego` modules (v0 sources are converted to v1 first), data files
(YAML/JSON merged under `data`) and, possibly, Gatekeeper templates and constraints. In each
evaluated package, rules named `deny`, `violation` (failures) and `warn` (warnings), alone or
with a `_suffix`, produce findings; `exception` rules name suffixes whose results are
suppressed. Identity and severity come from OPA `# METADATA` annotations:

    # METADATA
    # title: Ingress terminates TLS
    # description: …
    # custom:
    #   id: TLS001
    #   severity: high
    #   category: tls
    deny_no_tls contains msg if { … }

Without METADATA a rule is known as `<package>.<rule>` (e.g. `main.deny`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from checker.model import RuleInfo, Severity
from checker.rego.convert import RegoConversionError, is_v1, to_v1
from checker.rego.match import validate_kinds
from checker.tiers import TIERS

CONFTEST_RULE = re.compile(r"^(?P<kind>deny|violation|warn)(?:_(?P<suffix>[A-Za-z0-9_]+))?$")
_PACKAGE = re.compile(r"^package\s+(?P<name>[A-Za-z_][\w.]*(?:\[\"[^\"]*\"\])*)")
_RULE_HEAD = re.compile(r"^(?:default\s+)?(?P<name>[A-Za-z_]\w*)\b(?P<rest>.*)$")
_SLUG = re.compile(r"[^a-z0-9]+")
RULE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_.:/-]{0,99}$")
"""Ids of Rego rules and constraints: a letter, then letters, digits and `_ . : / -`."""
RULE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
CATEGORY = re.compile(r"^[a-z][a-z0-9-]{0,49}$")
_KEYWORDS = frozenset({"import", "package", "default", "else", "not", "some", "every"})


@dataclass(frozen=True, slots=True)
class RuleHead:
    name: str
    line: int
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RegoModule:
    """One loaded module: its display path, package and top-level rules, in v1 syntax."""

    path: str
    package: str
    source: str
    rules: tuple[RuleHead, ...]
    package_metadata: Mapping[str, Any] = field(default_factory=dict)
    pack: str | None = None

    @property
    def is_test(self) -> bool:
        return self.path.endswith("_test.rego")


@dataclass(frozen=True, slots=True)
class RegoRule:
    """A conftest-style rule that yields findings, with the module it comes from."""

    info: RuleInfo
    package: str
    name: str
    path: str
    line: int
    warning: bool
    suffix: str | None
    pack: str | None = None
    kinds: tuple[Mapping[str, Any], ...] | None = None
    """METADATA `custom.kinds` (Gatekeeper's `match.kinds` shape): the only objects the
    rule is asked about. None: every object."""

    @property
    def ref(self) -> str:
        return f"data.{self.package}.{self.name}"


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    """A policy file that could not be used, with where."""

    message: str
    path: str
    line: int | None = None


def read_module(source: str, path: str, *, pack: str | None = None) -> RegoModule:
    """Convert (if v0) and scan a module. Raises `RegoConversionError` naming the line."""
    if not is_v1(source):
        source = to_v1(source, path)
    package, package_metadata, heads = scan_module(source, path)
    return RegoModule(path, package, source, tuple(heads), package_metadata, pack)


def scan_module(source: str, path: str) -> tuple[str, Mapping[str, Any], list[RuleHead]]:
    """The package, package-scoped METADATA and top-level rule heads of a v1 module.

    Rules are recognised at the start of a line, as `opa fmt` writes them; a head indented
    or split oddly is still evaluated by OPA but gets no METADATA of its own here.
    """
    lines = source.splitlines()
    package = ""
    package_metadata: Mapping[str, Any] = {}
    heads: dict[str, RuleHead] = {}
    pending: Mapping[str, Any] | None = None
    depths = _line_depths(source)
    index = 0
    while index < len(lines):
        text = lines[index]
        stripped = text.strip()
        depth = depths[index]
        if depth == 0 and stripped == "# METADATA":
            block = []
            index += 1
            while index < len(lines) and lines[index].lstrip().startswith("#"):
                block.append(re.sub(r"^\s*# ?", "", lines[index]))
                index += 1
            pending = _parse_metadata("\n".join(block), path, index - len(block))
            continue
        if depth == 0 and text and not text[0].isspace() and not stripped.startswith("#"):
            found_package = _PACKAGE.match(text)
            if found_package:
                package = found_package["name"]
                if pending is not None:
                    package_metadata = pending
                pending = None
            else:
                head = _RULE_HEAD.match(text)
                if head and head["name"] not in _KEYWORDS:
                    name = head["name"]
                    if pending is not None and pending.get("scope") == "package":
                        package_metadata = pending
                        pending = None
                    existing = heads.get(name)
                    metadata = pending if pending is not None else {}
                    if existing is None:
                        heads[name] = RuleHead(name, index + 1, metadata)
                    elif metadata:
                        _check_same_identity(existing, metadata, path, index + 1)
                        if not existing.metadata:
                            heads[name] = RuleHead(name, existing.line, metadata)
                pending = None
        index += 1
    if not package:
        raise RegoConversionError("no package declaration", path, 1)
    return package, package_metadata, list(heads.values())


def _line_depths(source: str) -> list[int]:
    """For each line, the bracket depth at its start, outside strings and comments; a line
    that starts inside a multi-line raw string counts as nested. Enough to tell top-level
    rule heads from body lines."""
    depths = [0]
    depth = 0
    quote: str | None = None
    escaped = False
    comment = False
    for char in source:
        if char == "\n":
            comment = False
            if quote == '"':
                quote = None  # an unterminated string: OPA will say so
            depths.append(depth + (1 if quote == "`" else 0))
            continue
        if comment:
            continue
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = None
            continue
        if char in "\"`":
            quote = char
        elif char == "#":
            comment = True
        elif char in "{[(":
            depth += 1
        elif char in "}])":
            depth = max(depth - 1, 0)
    return depths


def _check_same_identity(existing: RuleHead, metadata: Mapping[str, Any], path: str,
                         line: int) -> None:
    first = (existing.metadata.get("custom") or {}).get("id")
    second = (metadata.get("custom") or {}).get("id")
    if first and second and first != second:
        raise RegoConversionError(
            f"rule {existing.name} has two ids ({first} at line {existing.line}, {second}); "
            f"give each its own rule name ({existing.name}_<suffix>) so findings can be told "
            "apart", path, line)


def _parse_metadata(text: str, path: str, line: int) -> Mapping[str, Any]:
    try:
        data = yaml.load(text, Loader=yaml.CSafeLoader) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = line + (mark.line if mark is not None else 0)
        raise RegoConversionError(f"METADATA block is not valid YAML: "
                                  f"{getattr(exc, 'problem', exc)}", path, where) from None
    if not isinstance(data, dict):
        raise RegoConversionError("METADATA block must be a YAML mapping", path, line)
    custom = data.get("custom")
    if custom is not None and not isinstance(custom, dict):
        raise RegoConversionError("METADATA `custom` must be a mapping", path, line)
    for key, pattern, example in (("id", RULE_ID, "TLS001"), ("name", RULE_NAME, "ingress-tls"),
                                  ("category", CATEGORY, "tls")):
        value = (custom or {}).get(key)
        if value is not None and (not isinstance(value, str) or not pattern.match(value)):
            raise RegoConversionError(f"METADATA custom.{key} {value!r} is malformed (e.g. "
                                      f"{example!r}; pattern {pattern.pattern})", path, line)
    severity = (custom or {}).get("severity")
    if severity is not None:
        try:
            Severity.parse(str(severity))
        except ValueError as exc:
            raise RegoConversionError(f"METADATA custom.severity: {exc}", path, line) from None
    for key in ("kinds", "inventory"):
        problems = validate_kinds((custom or {}).get(key), f"custom.{key}")
        if problems:
            raise RegoConversionError(f"METADATA {'; '.join(problems)}", path, line)
    by_tier = (custom or {}).get("tier_severity")
    if by_tier is not None:
        if not isinstance(by_tier, dict) or set(by_tier) - set(TIERS):
            raise RegoConversionError(f"METADATA custom.tier_severity must map tiers "
                                      f"({', '.join(TIERS)}) to severities", path, line)
        for value in by_tier.values():
            try:
                Severity.parse(str(value))
            except ValueError as exc:
                raise RegoConversionError(f"METADATA custom.tier_severity: {exc}", path,
                                          line) from None
    return data


def conftest_rules(module: RegoModule) -> list[RegoRule]:
    """The rules of a module that produce findings, with their identities."""
    rules = []
    # A package's METADATA gives its rules defaults (severity, category), never identity.
    package_custom = {k: v for k, v in (module.package_metadata.get("custom") or {}).items()
                      if k not in ("id", "name")}
    for head in module.rules:
        match = CONFTEST_RULE.match(head.name)
        if match is None:
            continue
        warning = match["kind"] == "warn"
        custom = {**package_custom, **(head.metadata.get("custom") or {})}
        default_id = f"{module.package}.{head.name}"
        rule_id = str(custom.get("id") or default_id)
        title = head.metadata.get("title") or module.package_metadata.get("title")
        name = str(custom.get("name") or (_slug(title) if title else default_id))
        severity = Severity.parse(str(custom["severity"])) if custom.get("severity") else (
            Severity.MEDIUM if warning else Severity.HIGH)
        description = str(head.metadata.get("description") or title or
                          f"Rego rule {default_id} ({module.path})")
        related = head.metadata.get("related_resources") or []
        if not isinstance(related, list):
            related = [related]
        help_uri = None
        if related and isinstance(related[0], dict):
            help_uri = related[0].get("ref")
        elif related and isinstance(related[0], str):
            help_uri = related[0]
        info = RuleInfo(
            id=rule_id, name=name, severity=severity,
            category=_slug(str(custom.get("category") or "policy")),
            description=description, engine="rego",
            remediation=str(custom.get("remediation") or ""), help_uri=help_uri,
            tier_severity={str(tier): Severity.parse(str(value)) for tier, value in
                           (custom.get("tier_severity") or {}).items()},
        )
        kinds = custom.get("kinds")
        rules.append(RegoRule(info, module.package, head.name, module.path, head.line, warning,
                              match["suffix"], module.pack,
                              tuple(kinds) if kinds is not None else None))
    return rules


def has_exception_rule(module: RegoModule) -> bool:
    return any(head.name == "exception" for head in module.rules)


def _slug(text: str) -> str:
    return _SLUG.sub("-", text.lower()).strip("-") or "rule"


def find_policy_files(directory: Path) -> tuple[list[Path], list[Path]]:
    """Rego modules and data/Gatekeeper files of a policy directory, sorted.

    `tests/` directories (YAML rule cases) and `pack.yaml` are not policy input.
    """
    rego, other = [], []
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if any(part.startswith(".") or part in ("tests", "__pycache__")
               for part in relative.parts[:-1]) or not path.is_file():
            continue
        if path.suffix == ".rego":
            rego.append(path)
        elif path.suffix in (".yaml", ".yml", ".json") and path.name != "pack.yaml":
            other.append(path)
    return rego, other


def merge_data(target: dict[str, Any], value: Mapping[str, Any], where: str,
               problems: list[PolicyProblem]) -> None:
    """Deep-merge a data file into the data document; conflicting leaves are problems."""
    for key, item in value.items():
        if key in target and isinstance(target[key], dict) and isinstance(item, Mapping):
            merge_data(target[key], item, where, problems)
        elif key in target and target[key] != item:
            problems.append(PolicyProblem(f"data key {key!r} is already set by another data "
                                          "file with a different value", where))
        else:
            target[key] = item


def packages_of(modules: Iterable[RegoModule]) -> list[str]:
    return sorted({m.package for m in modules})
