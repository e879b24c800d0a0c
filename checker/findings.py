"""The one place where a rule's Violation becomes a Finding.

Rules do not know their configured severity, their line, or whether they are suppressed:
this module stamps the rule's identity, applies severity overrides, looks up the line of
the offending field, computes a fingerprint and applies in-object suppressions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from checker.model import Finding, Location, Manifest, RuleInfo, Severity, Violation
from checker.secrets import Redactor

IGNORE_ANNOTATION = "gitops-checker.io/ignore"
IGNORE_REASON_ANNOTATION = "gitops-checker.io/ignore-reason"
IGNORE_UNTIL_ANNOTATION = "gitops-checker.io/ignore-until"


def fingerprint(rule_id: str, manifest: Manifest | None, pointer: str, message: str,
                path: str | None = None) -> str:
    """Stable across line shifts and file moves: built from what the finding is about."""
    if manifest is not None:
        key = manifest.key
        subject = f"{key.group}/{key.kind}/{key.namespace or ''}/{key.name}"
    else:
        subject = f"file:{path or ''}"
    # `surrogatepass`: a file name that is not UTF-8 (read with `surrogateescape`) has lone
    # surrogates, which strict UTF-8 refuses; every other text gives the same bytes.
    text = f"{rule_id}\x00{subject}\x00{pointer}\x00{message}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """Per-rule configuration: an overriding severity, or the rule switched off."""

    severity: Severity | None = None
    enabled: bool | None = None  # None: not said here (a pack or category setting may)

    def over(self, base: RuleSettings) -> RuleSettings:
        """These settings, falling back to `base` for what they do not say."""
        return RuleSettings(self.severity or base.severity,
                            base.enabled if self.enabled is None else self.enabled)


@dataclass
class Stamper:
    """Turns violations into findings, with the configuration and positions it needs."""

    position: Callable[[Manifest, str], tuple[int | None, int | None]]
    locate: Callable[[Manifest, str], tuple[str | None, int | None, int | None]] | None = None
    """(path, line, column) of a field, when it may live in another file than the object's
    (a Kustomize patch); `position` otherwise."""
    settings: Mapping[str, RuleSettings] = field(default_factory=dict)
    today: dt.date = field(default_factory=dt.date.today)
    tier_of: Callable[[Manifest], tuple[str, str]] | None = None
    """(tier, where it came from) of an object, for rules whose severity depends on it."""
    redactor: Redactor | None = None
    """Masks Secret values before anything is printed or fingerprinted."""
    defer_locations: bool = False
    """Leave lines to `located()`: looking fields up in file order composes each document
    once, where rule order would compose it again for every rule that reports on it."""
    _pending: dict[int, tuple[Finding, Manifest, str]] = field(default_factory=dict,
                                                                init=False, repr=False)

    def enabled(self, rule: RuleInfo) -> bool:
        return self.settings.get(rule.id, RuleSettings()).enabled is not False

    def stamp(self, rule: RuleInfo, violation: Violation, manifest: Manifest | None, *,
              path: str | None = None, line: int | None = None,
              suppressed_by: str | None = None) -> Finding:
        """`suppressed_by` is an engine's own exception (conftest `exception` rules); the
        object's annotations are consulted first."""
        if self.redactor is not None:
            violation = Violation(self.redactor.text(violation.message), violation.pointer,
                                  self.redactor.value(dict(violation.details)), violation.tier,
                                  violation.identity)
        configured = self.settings.get(rule.id)
        severity = rule.severity
        details = dict(violation.details)
        if rule.tier_severity and violation.tier is not None:
            tier, source = violation.tier, "the objects the finding is about"
            severity = rule.tier_severity.get(tier, severity)
            details.setdefault("tier", tier)
            details.setdefault("tier_source", source)
        elif rule.tier_severity and manifest is not None and self.tier_of is not None:
            tier, source = self.tier_of(manifest)
            severity = rule.tier_severity.get(tier, severity)
            details.setdefault("tier", tier)
            details.setdefault("tier_source", source)
        if configured and configured.severity:
            severity = configured.severity  # the config has the last word
        if manifest is not None and manifest.origin:
            details.setdefault("rendered_by", manifest.origin)
        if manifest is not None and self.defer_locations:
            location = Location(manifest.location.path, manifest.location.line, None,
                                manifest.location.pointer + violation.pointer)
        elif manifest is not None:
            location = self._location(manifest, violation.pointer)
        else:
            location = Location(path, line, None, violation.pointer)
        finding = Finding(
            rule_id=rule.id,
            rule_name=rule.name,
            severity=severity,
            category=rule.category,
            message=violation.message,
            resource=manifest.resource if manifest is not None else None,
            location=location,
            engine=rule.engine,
            fingerprint=fingerprint(rule.id, manifest, violation.pointer,
                                    violation.identity or violation.message,
                                    path),
            suppressed_by=self.suppression(rule, manifest) or suppressed_by,
            details=details,
        )
        if manifest is not None and self.defer_locations:
            self._pending[id(finding)] = (finding, manifest, violation.pointer)
        return finding

    def _location(self, manifest: Manifest, pointer: str) -> Location:
        if self.locate is not None:
            where, line, column = self.locate(manifest, pointer)
        else:
            where = manifest.location.path
            line, column = self.position(manifest, pointer)
        return Location(where, line, column, manifest.location.pointer + pointer)

    def located(self, findings: list[Finding]) -> list[Finding]:
        """The findings with the lines `stamp` deferred, looked up in file order."""
        wanted = [self._pending[id(f)] for f in findings if id(f) in self._pending
                  and self._pending[id(f)][0] is f]
        wanted.sort(key=lambda item: (item[1].location.path or "", item[1].doc_index))
        done = {id(finding): dataclasses.replace(finding,
                                                 location=self._location(manifest, pointer))
                for finding, manifest, pointer in wanted}
        for key in done:
            del self._pending[key]
        return [done.get(id(f), f) for f in findings]

    def suppression(self, rule: RuleInfo, manifest: Manifest | None) -> str | None:
        """The reason an in-object annotation suppresses this rule, if it does."""
        if manifest is None:
            return None
        metadata = manifest.obj.get("metadata")
        annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
        if not isinstance(annotations, dict):
            return None
        ignored = annotations.get(IGNORE_ANNOTATION)
        if not isinstance(ignored, str):
            return None
        ids = {part.strip() for part in ignored.split(",")}
        if rule.id not in ids and rule.name not in ids:
            return None
        reason = annotations.get(IGNORE_REASON_ANNOTATION)
        if not isinstance(reason, str) or not reason.strip():
            return None  # a suppression without a reason is not honoured
        until = annotations.get(IGNORE_UNTIL_ANNOTATION)
        if isinstance(until, str) and until.strip():
            try:
                expires = dt.date.fromisoformat(until.strip())
            except ValueError:
                return None
            if expires < self.today:
                return None
            return f"annotation until {expires.isoformat()}: {reason.strip()}"
        return f"annotation: {reason.strip()}"
