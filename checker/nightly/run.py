"""The `report` command: the policy check and drift together, recorded in the history, and
written as a bundle (HTML, JSON, Markdown) for the morning read."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from checker.config import Config
from checker.model import Finding, Report, ToolError
from checker.nightly.history import Comparison, History, Observation
from checker.pyrules import Estate
from checker.tiers import TierResolver

BUNDLE = ("report.html", "report.json", "summary.md", "nightly.json")


@dataclass
class Nightly:
    """Everything the bundle's writers need."""

    report: Report
    comparison: Comparison
    scope: str
    at: dt.datetime
    tiers: dict[str, str]
    """Fingerprint → tier of the finding's namespace (or object)."""
    drift_source: str | None
    """Where live state came from; None when drift was not compared."""
    remediation: dict[str, str] = field(default_factory=dict)

    def age(self, finding: Finding) -> dt.timedelta:
        since = self.comparison.since.get(finding.fingerprint, self.at)
        return self.at - since

    def is_new(self, finding: Finding) -> bool:
        return finding.fingerprint in self.comparison.new


def run_report(paths: Sequence[str], *, root: Path, config: Config, out: Path,
               history: Path | None, live_source: Any | None, nights: int,
               at: dt.datetime, baseline: Path | None = None) -> Nightly:
    from checker.pipeline import run_check

    checked = run_check(paths, root=root, config=config, baseline=baseline)
    report = checked.report
    drift_source = None
    if live_source is not None:
        from checker.drift.run import run_drift

        drift = run_drift(paths, root=root, config=config, live_source=live_source,
                          baseline=baseline)
        report = _merged(report, drift.report)
        drift_source = drift.live.source
    resolver = TierResolver(config.tiers, Estate(checked.manifests).namespaces)
    tiers = {f.fingerprint: _tier(f, resolver, config) for f in report.findings}
    # The root's name as given, not resolved: a checkout behind a symbolic link that moves
    # with each commit (git-sync) must keep one history.
    estate = root.name if root.name not in ("", ".", "..") else root.resolve().name
    cluster = getattr(live_source, "cluster", None) if live_source is not None else None
    scope = f"{estate}@{cluster}" if cluster else estate
    observations = [Observation(f.fingerprint, f.rule_id, f.severity.value, f.category,
                                _subject(f)) for f in report.active_findings]
    comparison = History(history or out / "history.sqlite").record(
        scope, at, report.tool_version, observations,
        drift=sum(1 for f in report.active_findings if f.category == "drift"),
        errors=len(report.errors), nights=nights)
    nightly = Nightly(report, comparison, scope, at, tiers, drift_source,
                      {rule_id: info.remediation for rule_id, info in report.rules.items()
                       if info.remediation})
    write_bundle(nightly, out)
    return nightly


def write_bundle(nightly: Nightly, out: Path) -> None:
    from checker.nightly import html
    from checker.report import json_report, markdown

    out.mkdir(parents=True, exist_ok=True)
    with (out / "report.json").open("w", encoding="utf-8") as stream:
        json_report.write(nightly.report, stream)
    (out / "report.html").write_text(html.render(nightly), encoding="utf-8")
    (out / "summary.md").write_text(summary_markdown(nightly, markdown), encoding="utf-8")
    (out / "nightly.json").write_text(json.dumps(nightly_json(nightly), indent=2) + "\n",
                                      encoding="utf-8")


def nightly_json(nightly: Nightly) -> dict[str, Any]:
    """The history's view, for dashboards: changes since the previous run, ages, trend."""
    comparison = nightly.comparison
    return {
        "scope": nightly.scope,
        "at": _stamp(nightly.at),
        "previous": _stamp(comparison.previous.at) if comparison.previous else None,
        "new": sorted(comparison.new),
        "still_open": sorted(comparison.still_open),
        "fixed": [{"fingerprint": o.fingerprint, "rule_id": o.rule_id,
                   "severity": o.severity, "subject": o.subject,
                   "last_seen": _stamp(comparison.previous.at) if comparison.previous else None}
                  for o in comparison.fixed],
        "since": {fp: _stamp(at) for fp, at in sorted(comparison.since.items())},
        # first seen (of the current unbroken stretch) per open finding; last seen is now
        "trend": [{"at": _stamp(run.at), "findings": run.findings - run.drift,
                   "drift": run.drift, "errors": run.errors} for run in comparison.trend],
    }


def summary_markdown(nightly: Nightly, markdown: Any) -> str:
    """A chat- or issue-sized summary: the counts, what changed overnight, the worst."""
    report, comparison = nightly.report, nightly.comparison
    active = report.active_findings
    drift = [f for f in active if f.category == "drift"]
    lines = [f"## Nightly report: {nightly.scope} — {nightly.at:%Y-%m-%d %H:%M} UTC", ""]
    counts = report.count_by_severity()
    status = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none"
    lines.append(f"**{len(active)} findings** ({status}), of which **{len(drift)} drift**; "
                 f"**{len(comparison.new)} new**, {len(comparison.fixed)} fixed, "
                 f"{len(comparison.still_open)} still open since "
                 + (f"{comparison.previous.at:%Y-%m-%d %H:%M} UTC." if comparison.previous
                    else "— the first run (nothing to compare with)."))
    if report.errors:
        lines += ["", (f"⚠️ **{len(report.errors)} input(s) could not be checked**: see the "
                      "report's *Could not check* section.")]
    new = sorted((f for f in active if nightly.is_new(f)),
                 key=lambda f: (-f.severity.rank, f.rule_id))
    if new:
        lines += ["", "### New since the previous run", ""]
        lines += [f"- {f.severity.value} `{f.rule_id}` {_subject(f)}: "
                  f"{_one_line(f.message)}" for f in new[:20]]
        if len(new) > 20:
            lines.append(f"- … and {len(new) - 20} more")
    oldest = sorted(drift, key=lambda f: -nightly.age(f).total_seconds())[:5]
    if oldest:
        lines += ["", "### Oldest drift", ""]
        lines += [f"- {_age(nightly.age(f))}: `{f.rule_id}` {_subject(f)}: "
                  f"{_one_line(f.message)}" for f in oldest]
    if comparison.fixed:
        lines += ["", "### Fixed since the previous run", ""]
        lines += [f"- `{o.rule_id}` {o.subject}" for o in comparison.fixed[:20]]
    return "\n".join(lines) + "\n"


def _merged(check: Report, drift: Report) -> Report:
    findings = tuple(sorted((*check.findings, *drift.findings), key=Finding.sort_key))
    errors = tuple(sorted(set(check.errors) | set(drift.errors), key=ToolError.sort_key))
    return replace(check, findings=findings, errors=errors,
                   rules={**check.rules, **drift.rules})


def _tier(finding: Finding, resolver: TierResolver, config: Config) -> str:
    tier = finding.details.get("tier")
    if isinstance(tier, str):
        return tier
    namespace = finding.resource.namespace if finding.resource else None
    if finding.resource is not None and finding.resource.kind == "Namespace":
        namespace = finding.resource.name
    if namespace:
        found = resolver.namespace_tier(namespace)
        if found is not None:
            return found[0]
    return config.tiers.default


def _subject(finding: Finding) -> str:
    if finding.resource is not None:
        return finding.resource.display()
    return finding.location.path or "(estate)"


def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _age(delta: dt.timedelta) -> str:
    days = delta.days
    if days >= 1:
        return f"{days} day{'s' if days != 1 else ''}"
    hours = delta.seconds // 3600
    return f"{hours} h" if hours else "new"


def _stamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
