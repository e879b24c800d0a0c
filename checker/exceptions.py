"""Accepted risks: exceptions in the config, in object annotations, and in a baseline file.

A suppressed finding is never dropped: it stays in JSON and SARIF output, marked with the
reason, because auditors need to see what was accepted. An exception past its date stops
suppressing and becomes a finding itself (EXC001); one without a reason or with a date that
cannot be read is a finding too (EXC002) and suppresses nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import functools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pathspec

from checker.errors import ConfigError
from checker.findings import IGNORE_ANNOTATION, IGNORE_REASON_ANNOTATION, IGNORE_UNTIL_ANNOTATION
from checker.model import Finding, Manifest, RuleInfo, Severity, Violation

RULES = {
    "EXC001": RuleInfo(
        "EXC001", "expired-exception", Severity.MEDIUM, "exception",
        "An exception (annotation or config entry) is past its `until` date, so it no longer "
        "suppresses anything.", "python",
        "Fix what the exception covered, or renew it with a new date and reason."),
    "EXC002": RuleInfo(
        "EXC002", "invalid-exception", Severity.MEDIUM, "exception",
        "An exception cannot be honoured: it has no reason, its date is not YYYY-MM-DD, or it "
        "names no known rule.", "python",
        "Give every exception a reason (gitops-checker.io/ignore-reason), a valid date and "
        "existing rule ids."),
}

BASELINE_VERSION = 1
BASELINE_PREFIX = "baseline "


@dataclass(frozen=True, slots=True)
class ConfigException:
    """One entry of the config's `exceptions`: which findings it accepts, why, until when."""

    rules: tuple[str, ...]
    reason: str
    until: dt.date | None = None
    paths: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    index: int = 0

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], index: int) -> ConfigException:
        until = data.get("until")
        return cls(
            rules=tuple(data["rules"]), reason=data["reason"].strip(),
            until=dt.date.fromisoformat(until) if isinstance(until, str) else until,
            paths=tuple(data.get("paths", ())), namespaces=tuple(data.get("namespaces", ())),
            kinds=tuple(data.get("kinds", ())), names=tuple(data.get("names", ())),
            index=index,
        )

    def covers(self, finding: Finding, rule_name: str) -> bool:
        if "*" not in self.rules and finding.rule_id not in self.rules and \
                rule_name not in self.rules:
            return False
        if self.paths and not any(path_glob_match(finding.location.path or "", p)
                                  for p in self.paths):
            return False
        resource = finding.resource
        if self.namespaces and (resource is None or not any(
                fnmatch.fnmatchcase(resource.namespace or "", n) for n in self.namespaces)):
            return False
        if self.kinds and (resource is None or resource.kind not in self.kinds):
            return False
        return not (self.names and (resource is None or not any(
            fnmatch.fnmatchcase(resource.name, n) for n in self.names)))


def path_glob_match(path: str, pattern: str) -> bool:
    """Gitignore semantics, as in `exclude`: `*.yaml` matches at any depth, `legacy/` a
    directory, `/top.yaml` only at the root, `**` any number of directories."""
    return _gitignore(pattern).match_file(path)


@functools.lru_cache(maxsize=512)
def _gitignore(pattern: str) -> pathspec.PathSpec:
    return pathspec.GitIgnoreSpec.from_lines([pattern])


def apply_config_exceptions(findings: Iterable[Finding], exceptions: Sequence[ConfigException],
                            names: Mapping[str, str], today: dt.date, config_path: str | None
                            ) -> tuple[list[Finding], list[tuple[RuleInfo, Violation, int]]]:
    """Suppress what live exceptions cover; expired ones are returned to become EXC001."""
    live = [e for e in exceptions if e.until is None or e.until >= today]
    expired = [e for e in exceptions if e.until is not None and e.until < today]
    result = []
    for finding in findings:
        if finding.suppressed_by is None:
            for exception in live:
                if exception.covers(finding, names.get(finding.rule_id, "")):
                    until = f" until {exception.until.isoformat()}" if exception.until else ""
                    finding = dataclasses.replace(
                        finding, suppressed_by=f"config exception #{exception.index + 1}"
                        f"{until}: {exception.reason}")
                    break
        result.append(finding)
    problems = [(RULES["EXC001"], Violation(
        f"exception #{e.index + 1} in {config_path or 'the config'} for "
        f"{', '.join(e.rules)} expired on {e.until.isoformat() if e.until else '?'}: "
        f"{e.reason}", f"/exceptions/{e.index}/until"), e.index) for e in expired]
    return result, problems


def annotation_problems(manifest: Manifest, known: Mapping[str, RuleInfo],
                        today: dt.date) -> Iterator[Violation]:
    """EXC001/EXC002 for an object's own ignore annotations (the Stamper applies them)."""
    metadata = manifest.obj.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if not isinstance(annotations, dict) or IGNORE_ANNOTATION not in annotations:
        return
    base = "/metadata/annotations/"
    ignored = annotations.get(IGNORE_ANNOTATION)
    ids = [p.strip() for p in ignored.split(",")] if isinstance(ignored, str) else []
    names = {info.name for info in known.values()}
    unknown = [i for i in ids if i and i not in known and i not in names]
    pointer = base + IGNORE_ANNOTATION.replace("/", "~1")
    if unknown:
        yield Violation(f"{IGNORE_ANNOTATION} names unknown rule(s) {', '.join(unknown)}; "
                        "nothing is suppressed for them", pointer, {"rules": unknown})
    reason = annotations.get(IGNORE_REASON_ANNOTATION)
    if not isinstance(reason, str) or not reason.strip():
        yield Violation(f"{IGNORE_ANNOTATION} without {IGNORE_REASON_ANNOTATION}: the "
                        "exception is not honoured until it says why", pointer)
    until = annotations.get(IGNORE_UNTIL_ANNOTATION)
    until_pointer = base + IGNORE_UNTIL_ANNOTATION.replace("/", "~1")
    if until is None:
        return
    try:
        expires = dt.date.fromisoformat(str(until).strip())
    except ValueError:
        yield Violation(f"{IGNORE_UNTIL_ANNOTATION} is not a date (YYYY-MM-DD); the "
                        "exception is not honoured", until_pointer)
        return
    if expires < today:
        yield Violation(f"exception for {', '.join(ids) or '(no rules)'} expired on "
                        f"{expires.isoformat()}; the findings it covered are reported again",
                        until_pointer, {"expired": expires.isoformat()})


def expired_annotation(violation: Violation) -> bool:
    return "expired" in violation.details


def read_baseline(path: Path) -> set[str]:
    """Fingerprints accepted by a baseline file written with --write-baseline."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"baseline {path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"baseline {path}: not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("version") != BASELINE_VERSION or \
            not isinstance(data.get("findings"), list):
        raise ConfigError(f"baseline {path}: expected a gitops-checker baseline (version "
                          f"{BASELINE_VERSION} with a `findings` list)")
    prints = set()
    for index, entry in enumerate(data["findings"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("fingerprint"), str):
            raise ConfigError(f"baseline {path}: findings[{index}] has no fingerprint")
        prints.add(entry["fingerprint"])
    return prints


def apply_baseline(findings: Iterable[Finding], accepted: set[str], shown: str
                   ) -> list[Finding]:
    return [dataclasses.replace(f, suppressed_by=f"{BASELINE_PREFIX}{shown}")
            if f.suppressed_by is None and f.fingerprint in accepted else f
            for f in findings]


def write_baseline(findings: Iterable[Finding], path: Path) -> int:
    """Accept every active finding, and keep those the previous baseline accepted (a refresh
    must not drop them); entries carry enough to be reviewed by a person."""
    entries = sorted(({"fingerprint": f.fingerprint, "rule_id": f.rule_id,
                       "path": f.location.path, "resource": f.resource.display()
                       if f.resource else None, "message": f.message}
                      for f in findings if f.suppressed_by is None
                      or f.suppressed_by.startswith(BASELINE_PREFIX)),
                     key=lambda e: (e["path"] or "", e["rule_id"], e["fingerprint"]))
    document = {"version": BASELINE_VERSION, "tool": "gitops-checker", "findings": entries}
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return len(entries)
