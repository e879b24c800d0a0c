"""The check pipeline: discover → load → validate → stamp → Report."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from checker import __version__, crds
from checker.config import Config
from checker.discover import Skipped, discover
from checker.errors import ConfigError
from checker.findings import RuleSettings, Stamper
from checker.load import LoadResult, Locator, load
from checker.model import Finding, Manifest, Report, RuleInfo, Severity, ToolError, Violation
from checker.schema import RULES as SCHEMA_RULES
from checker.schema import SchemaSource, SchemaViolation, validate

ProgressHook = Callable[[int, int], None]
"""Called with (files done, files total)."""


@dataclass
class CheckRun:
    """What a check produced, with what the reporters need and what was skipped."""

    report: Report
    skipped: list[Skipped] = field(default_factory=list)
    manifests: list[Manifest] = field(default_factory=list)


def run_check(paths: Sequence[str], *, root: Path, config: Config,
              progress: ProgressHook | None = None) -> CheckRun:
    candidates, skipped = discover(paths, root, exclude=config.exclude)
    total = len(candidates)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    loaded = load(candidates, default_namespace=config.namespace, progress=tick)
    loaded.skipped.extend(skipped)
    source = SchemaSource(config.kubernetes_version, strict=config.strict)
    errors = list(loaded.errors)
    errors.extend(_register_crds(source, loaded.manifests, root, config.crds))

    settings = dict(_resolve_rule_settings(config))
    locator = Locator(loaded)
    stamper = Stamper(position=locator.position, settings=settings)
    findings = list(_schema_findings(loaded, source, stamper, locator, errors))

    report = Report(
        findings=_distinct_fingerprints(sorted(findings, key=Finding.sort_key)),
        errors=tuple(sorted(set(errors), key=ToolError.sort_key)),
        rules=_rules_used(findings),
        files=loaded.files,
        objects=len(loaded.manifests),
        tool_version=__version__,
    )
    return CheckRun(report, sorted(loaded.skipped, key=lambda s: s.display), loaded.manifests)


def _resolve_rule_settings(config: Config) -> Iterable[tuple[str, RuleSettings]]:
    """Config keys may name a rule by id or by name; settle them on ids."""
    by_name = {rule.name: rule.id for rule in SCHEMA_RULES.values()}
    resolved: dict[str, RuleSettings] = {}
    if config.unknown_kinds == "error":
        resolved["SCH004"] = RuleSettings(severity=Severity.HIGH)
    elif config.unknown_kinds == "ignore":
        resolved["SCH004"] = RuleSettings(enabled=False)
    unknown = sorted(k for k in config.rules if k not in SCHEMA_RULES and k not in by_name)
    if unknown:
        known = ", ".join(f"{r.id} ({r.name})" for r in SCHEMA_RULES.values())
        raise ConfigError(f"config {config.path or ''}: unknown rule {', '.join(unknown)} under "
                          f"`rules`; known rules: {known}")
    for key, value in config.rules.items():
        resolved[by_name.get(key, key)] = value
    return resolved.items()


def _register_crds(source: SchemaSource, manifests: Iterable[Manifest], root: Path,
                   extra: Iterable[str]) -> list[ToolError]:
    errors: list[ToolError] = []
    declared = [m for m in manifests if crds.is_crd(m.obj)]
    extra_manifests: list[Manifest] = []
    missing = [p for p in extra if not (root / p).exists()]
    errors.extend(ToolError("config", f"CRD path {p!r} (config `crds`) does not exist")
                  for p in missing)
    extra_paths = [str(root / p) for p in extra if p not in missing]
    if extra_paths:
        candidates, _ = discover(extra_paths, root)
        loaded: LoadResult = load(candidates)
        errors.extend(loaded.errors)
        extra_manifests = [m for m in loaded.manifests if crds.is_crd(m.obj)]
    for manifest in [*extra_manifests, *declared]:
        try:
            source.add_estate_crd(manifest.obj)
        except (ValueError, TypeError, KeyError, RecursionError) as exc:
            errors.append(ToolError("crd", f"cannot use CRD {manifest.resource.name}: {exc}",
                                    manifest.location.path, manifest.location.line))
    return errors


def _schema_findings(loaded: LoadResult, source: SchemaSource, stamper: Stamper,
                     locator: Locator, errors: list[ToolError]) -> Iterable[Finding]:
    """Schema findings of every object; an object that cannot be validated is an error."""
    unknown = SCHEMA_RULES["SCH004"]

    def on_unknown(manifest: Manifest) -> list[SchemaViolation]:
        if not stamper.enabled(unknown):
            return []
        return [SchemaViolation("SCH004", Violation(
            f"no schema for {manifest.resource.api_version} {manifest.resource.kind}; "
            "the object was not validated", "/kind"))]

    for manifest in loaded.manifests:
        try:
            items = validate(manifest, source, on_unknown)
        except (ValueError, OSError, RecursionError) as exc:
            # One object the validator cannot handle must not hide the rest of the estate.
            errors.append(ToolError(
                "schema-engine", f"{manifest.resource.display()}: could not be validated: "
                f"{type(exc).__name__}", manifest.location.path, manifest.location.line))
            continue
        for item in items:
            rule_id, violation = item.rule_id, item.violation
            if item.value_is_yaml11:
                rule_id, violation = _explain_yaml11(loaded, locator, manifest, violation)
            rule = SCHEMA_RULES[rule_id]
            if stamper.enabled(rule):
                yield stamper.stamp(rule, violation, manifest)


def _explain_yaml11(loaded: LoadResult, locator: Locator, manifest: Manifest,
                    violation: Violation) -> tuple[str, Violation]:
    """A type error on a value only YAML 1.1 reads as non-string becomes SCH003."""
    path = manifest.location.path or ""
    ambiguous = loaded.ambiguous.get((path, manifest.doc_index))
    if not ambiguous:
        return "SCH001", violation
    line, column = locator.position(manifest, violation.pointer, value=True)
    for scalar in ambiguous:
        if (scalar.line, scalar.column) == (line, column):
            if isinstance(scalar.value, bool):
                # A YAML 1.1 boolean word (yes, on, …) reveals nothing; quote it back.
                token = scalar.text
                reading = f"unquoted `{token}` is read by Kubernetes as the boolean " \
                          f"{'true' if scalar.value else 'false'}; quote it (\"{token}\")"
                details = {**violation.details, "yaml_token": token}
            else:
                # The digits may be a secret (a PIN): describe them, never repeat them.
                reading = "an unquoted number with a leading zero is read by Kubernetes " \
                          "as an octal number; quote the value"
                details = dict(violation.details)
            return "SCH003", Violation(f"{violation.message}: {reading} to keep a string",
                                       violation.pointer, details)
    return "SCH001", violation


def _distinct_fingerprints(findings: list[Finding]) -> tuple[Finding, ...]:
    """The same object declared twice (a staging and a prod copy) must not merge into one
    alert: repeats of a fingerprint, in path order, get an occurrence suffix."""
    seen: dict[str, int] = {}
    result = []
    for finding in findings:
        count = seen.get(finding.fingerprint, 0)
        seen[finding.fingerprint] = count + 1
        if count:
            digest = hashlib.sha256(f"{finding.fingerprint}:{count}".encode()).hexdigest()[:32]
            finding = dataclasses.replace(finding, fingerprint=digest)
        result.append(finding)
    return tuple(result)


def _rules_used(findings: Iterable[Finding]) -> dict[str, RuleInfo]:
    known = dict(SCHEMA_RULES)
    return {f.rule_id: known[f.rule_id] for f in findings if f.rule_id in known}
