"""The types every stage shares: what was loaded, what a rule says, what a reporter prints.

Everything here is immutable. Stages hand these to each other; only `checker.findings`
turns a rule's `Violation` into a `Finding`, whatever engine produced it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Severity(str, enum.Enum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse: critical=4 … info=0."""
        return _SEVERITY_RANK[self]

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls(text.lower())
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown severity {text!r}; expected one of {names}") from None


_SEVERITY_RANK = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.INFO: 0,
}

CATEGORIES = (
    "schema", "sod", "resources", "cost", "tls", "backup", "availability",
    "security", "deprecation", "drift", "git", "policy", "exception",
)
"""Built-in categories; third-party rules may name others (lowercase words with dashes)."""

ENGINES = ("schema", "rego", "python", "drift", "git")


@dataclass(frozen=True, slots=True)
class Location:
    """Where something is: a POSIX path relative to the scanned root, 1-based line and column.

    `pointer` is the JSON pointer of the field inside the object, when known.
    """

    path: str | None
    line: int | None = None
    column: int | None = None
    pointer: str = ""


@dataclass(frozen=True, slots=True)
class ResourceKey:
    """Identity used to pair objects: group, kind, namespace, name (no version)."""

    group: str
    kind: str
    namespace: str | None
    name: str


@dataclass(frozen=True, slots=True)
class Resource:
    """The object a finding is about, as a person would name it."""

    api_version: str
    kind: str
    namespace: str | None
    name: str

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def key(self) -> ResourceKey:
        return ResourceKey(self.group, self.kind, self.namespace, self.name)

    def display(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{where}{self.name}"


@dataclass(frozen=True, slots=True)
class Manifest:
    """One Kubernetes object as declared in the repository.

    `location.pointer` is the object's own pointer inside its document (`/items/3` for a
    member of a `kind: List`, empty otherwise); field pointers in findings are relative to
    the object and are joined to it when a line is looked up.
    """

    resource: Resource
    obj: Mapping[str, Any]
    location: Location
    doc_index: int
    origin: str | None = None
    patches: tuple[tuple[str, int], ...] = ()
    """(path, document index) of the patches a renderer applied to the object, newest last:
    a field the source document lacks is looked up there."""
    cluster: str | None = None
    """The cluster an app deploys the object to (Argo CD destination name or server, Flux
    kubeConfig reference); None when no app says."""

    @property
    def key(self) -> ResourceKey:
        return self.resource.key


@dataclass(frozen=True, slots=True)
class Violation:
    """What a rule yields: a message and, where it can say, the field at fault."""

    message: str
    pointer: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    tier: str | None = None
    """The tier this violation is judged by, when it is not the object's own: a backup
    schedule in `velero` is as bad as the RPO it misses for the namespaces it covers."""
    identity: str | None = None
    """What tells this violation apart from others of its rule on the same object, when the
    message does not stay the same while the problem lasts (drift messages carry live values
    and per-run Secret masks); the fingerprint is built from it instead of the message."""


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """A rule's identity and documentation, as reporters need it (SARIF `rules`)."""

    id: str
    name: str
    severity: Severity
    category: str
    description: str
    engine: str
    remediation: str = ""
    help_uri: str | None = None
    tier_severity: Mapping[str, Severity] = field(default_factory=dict)
    """Severity by the tier of the object's namespace, where it differs from `severity`."""


@dataclass(frozen=True, slots=True)
class Finding:
    rule_id: str
    rule_name: str
    severity: Severity
    category: str
    message: str
    resource: Resource | None
    location: Location
    engine: str
    fingerprint: str
    suppressed_by: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def sort_key(self) -> tuple[Any, ...]:
        loc = self.location
        return (
            loc.path or "", loc.line or 0, loc.column or 0, -self.severity.rank,
            self.rule_id, loc.pointer, self.message, self.fingerprint,
        )


@dataclass(frozen=True, slots=True)
class ToolError:
    """Something the tool could not decide: input it could not read, a rule that failed.

    Any of these makes the run exit 2 (fail closed).
    """

    kind: str
    message: str
    path: str | None = None
    line: int | None = None

    def sort_key(self) -> tuple[Any, ...]:
        return (self.path or "", self.line or 0, self.kind, self.message)


@dataclass(frozen=True, slots=True)
class BaseComparison:
    """How a change compares with its merge base (`check --base REF`): findings the base
    already had are kept in the report, suppressed by `base …`, so that only new ones fail
    the gate; those the change fixed are listed here."""

    ref: str
    commit: str
    new: int
    unchanged: int
    fixed: tuple[Finding, ...]
    base_errors: tuple[ToolError, ...] = ()
    """What could not be checked on the base: its findings may be incomplete, so some
    findings may be reported as new that are not."""


@dataclass(frozen=True, slots=True)
class Report:
    findings: tuple[Finding, ...]
    errors: tuple[ToolError, ...]
    rules: Mapping[str, RuleInfo]
    files: int
    objects: int
    tool_version: str
    base: BaseComparison | None = None

    @property
    def active_findings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.suppressed_by is None)

    def count_by_severity(self) -> dict[str, int]:
        counts = {s.value: 0 for s in Severity}
        for f in self.active_findings:
            counts[f.severity.value] += 1
        return counts

    def exit_code(self, fail_on: Severity) -> int:
        """0 clean, 1 findings at or above `fail_on`, 2 when something went unchecked."""
        if self.errors:
            return 2
        if any(f.severity.rank >= fail_on.rank for f in self.active_findings):
            return 1
        return 0
