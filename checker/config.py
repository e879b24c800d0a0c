"""`.gitops-checker.yaml`: declared as a JSON schema, validated whole, then defaulted."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from checker.drift.settings import DriftSettings
from checker.drift.settings import settings_from as drift_settings
from checker.errors import ConfigError
from checker.exceptions import ConfigException
from checker.findings import RuleSettings
from checker.gitgates.settings import SodSettings
from checker.gitgates.settings import settings_from as sod_settings
from checker.model import Severity
from checker.parse import Document, parse_yaml
from checker.render.stage import RenderSettings
from checker.render.stage import settings_from as render_settings
from checker.resources import SCHEMAS_DIR as SCHEMA_ROOT
from checker.resources import schema_errors
from checker.tiers import TierPolicy
from checker.versions import DEFAULT_VERSION

CONFIG_NAMES = (".gitops-checker.yaml", ".gitops-checker.yml")
CONFIG_SCHEMA = SCHEMA_ROOT / "config.schema.json"
UNKNOWN_KIND_ACTIONS = ("warn", "error", "ignore")
DEFAULT_RULE_TIMEOUT = 30.0
"""Seconds one Rego query may take; generous, since a batch holds every rule for an object."""


@dataclass(frozen=True)
class Config:
    kubernetes_version: str = DEFAULT_VERSION
    fail_on: Severity = Severity.HIGH
    strict: bool = True
    unknown_kinds: str = "warn"
    namespace: str | None = None
    exclude: tuple[str, ...] = ()
    crds: tuple[str, ...] = ()
    rules: Mapping[str, RuleSettings] = field(default_factory=dict)
    rule_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    packs: Mapping[str, RuleSettings] = field(default_factory=dict)
    categories: Mapping[str, RuleSettings] = field(default_factory=dict)
    policies: tuple[str, ...] = ()
    policy_namespaces: tuple[str, ...] = ("main",)
    all_namespaces: bool = False
    bundled_packs: bool = True
    trust_config_code: bool = False
    """Run Python rules of the policy directories this config names. Set only from the
    command line: a repository cannot vouch for its own code."""
    rule_timeout: float = DEFAULT_RULE_TIMEOUT
    exceptions: tuple[ConfigException, ...] = ()
    baseline: str | None = None
    opa_url: str | None = None
    tiers: TierPolicy = field(default_factory=TierPolicy)
    render: RenderSettings = field(default_factory=RenderSettings)
    drift: DriftSettings = field(default_factory=DriftSettings)
    sod: SodSettings = field(default_factory=SodSettings)
    path: str | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, path: str | None = None) -> Config:
        """Build from already-validated data."""
        rules = _settings(data.get("rules"))
        base = cls()
        return replace(
            base,
            kubernetes_version=data.get("kubernetes_version", base.kubernetes_version),
            fail_on=Severity(data["fail_on"]) if "fail_on" in data else base.fail_on,
            strict=data.get("strict", base.strict),
            unknown_kinds=data.get("unknown_kinds", base.unknown_kinds),
            namespace=data.get("namespace"),
            exclude=tuple(data.get("exclude", ())),
            crds=tuple(data.get("crds", ())),
            rules=rules,
            rule_options={key: value["options"] for key, value in (data.get("rules") or {}).items()
                          if "options" in value},
            packs=_settings(data.get("packs")),
            categories=_settings(data.get("categories")),
            policies=tuple(data.get("policies", ())),
            policy_namespaces=tuple(data.get("policy_namespaces", base.policy_namespaces)),
            all_namespaces=data.get("all_namespaces", False),
            bundled_packs=data.get("bundled_packs", True),
            rule_timeout=float(data.get("rule_timeout", base.rule_timeout)),
            exceptions=tuple(ConfigException.from_mapping(item, index)
                             for index, item in enumerate(data.get("exceptions", ()))),
            baseline=data.get("baseline"),
            opa_url=data.get("opa_url"),
            tiers=TierPolicy.from_config(data.get("tiers")),
            render=render_settings(data.get("render")),
            drift=drift_settings(data.get("drift")),
            sod=sod_settings(data.get("sod")),
            path=path,
        )


def _settings(data: Mapping[str, Any] | None) -> dict[str, RuleSettings]:
    return {
        key: RuleSettings(
            severity=Severity(value["severity"]) if "severity" in value else None,
            enabled=value.get("enabled"),
        )
        for key, value in (data or {}).items()
    }


def find_config(root: Path) -> Path | None:
    for name in CONFIG_NAMES:
        candidate = root / name
        if candidate.is_file():
            return candidate
    return None


def load_config(path: Path | None, *, display: str | None = None) -> Config:
    """Read and validate a config file; None gives the defaults."""
    if path is None:
        return Config()
    shown = display or path.as_posix()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config {shown}: cannot read: {exc}") from None
    docs: list[Document] = []
    for entry in parse_yaml(text):
        if not isinstance(entry, Document):
            raise ConfigError(f"config {shown}:{entry.line or '?'}: {entry.message}")
        docs.append(entry)
    data = docs[0].data if docs else None
    if data is None:
        return Config(path=shown)
    if len(docs) > 1:
        raise ConfigError(f"config {shown}: expected one YAML document, found {len(docs)}")
    validate_config_data(data, shown)
    for index, item in enumerate(data.get("exceptions") or ()):
        try:
            ConfigException.from_mapping(item, index)
        except ValueError as exc:
            raise ConfigError(f"config {shown}: key 'exceptions.{index}.until': {exc}") from None
    return Config.from_mapping(data, path=shown)


def validate_config_data(data: Any, shown: str) -> None:
    errors = schema_errors(CONFIG_SCHEMA, data)
    if not errors:
        return
    schema = json.loads(CONFIG_SCHEMA.read_text(encoding="utf-8"))
    raise ConfigError("\n".join(_explain(error, schema, shown) for error in errors))


def _explain(error: Any, schema: Mapping[str, Any], shown: str) -> str:
    key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    found = json.dumps(error.instance, default=str)
    if len(found) > 60:
        found = found[:57] + "..."
    if error.validator == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        extras = [k for k in error.instance if k not in allowed]
        parts = []
        for extra in extras:
            hint = difflib.get_close_matches(extra, allowed, n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
            where = f"{key}.{extra}" if error.absolute_path else extra
            parts.append(f"config {shown}: unknown key {where!r}{suggestion} "
                         f"(expected one of: {', '.join(allowed)})")
        return "\n".join(parts)
    expected = _expected(error)
    return f"config {shown}: key {key!r}: found {found}, expected {expected}"


def _expected(error: Any) -> str:
    schema = error.schema
    if error.validator == "enum":
        return "one of " + ", ".join(str(v) for v in error.validator_value)
    if error.validator == "type":
        return f"a {error.validator_value}"
    if error.validator == "pattern":
        description = schema.get("description", "")
        return f"a value matching {error.validator_value}" + (
            f" ({description})" if description else "")
    return error.message
