"""Backup schedules keep their backups as long as the tiers they protect require.

Retention is what lets a finance team restore the state before a bad month-end run, a
corrupting import or a ransomware encryption that went unnoticed for a week; auditors also ask
how far back the books can be recovered. A schedule that deletes its backups after a day
protects against a dead disk only.

What is checked, per backup schedule, against `backup_retention_days` of the tier of every
volume whose data the schedule backs up (coverage as in BAK001) — unless another schedule
backing up that volume keeps its backups long enough (a short-lived hourly schedule next to a
daily one kept 30 days is a sound pattern):

- Velero: `spec.template.ttl` (a Go duration such as `720h`); absent or zero, the server's
  `--default-backup-ttl` applies, option `velero_default_ttl` (default `720h`, Velero's
  default). An unreadable ttl is reported.
- k8up: retention is the repository's prune policy, `spec.prune.retention`
  (`keepLast`, `keepHourly`, `keepDaily`, `keepWeekly`, `keepMonthly`, `keepYearly`), applied
  with restic's `forget`, which keeps a snapshot when any policy keeps it. The rule counts a
  conservative horizon: each policy keeps N buckets of one unit (hour, day, 7 days, 28 days for
  a month, 365 days for a year), and never more than one snapshot per interval between two
  backup runs, so a policy covers N × max(unit, shortest interval of `spec.backup.schedule`);
  `keepLast: N` covers N × the shortest interval. The horizon is the largest of them.
  `keepTags`, `tags` and `hostnames` filters are ignored (they only keep more). Without a prune
  section, a prune schedule or any keep policy, k8up never forgets snapshots: unlimited.
  `keepJobs`, `successfulJobsHistoryLimit` and `failedJobsHistoryLimit` are the history of
  Kubernetes Jobs, not of backups, and are not retention.

The finding is on the Schedule, at the ttl (or the retention), with the numbers. Tier
requirements: `backup_retention_days` (critical 30, standard 7, nonprod 0). Options:
`velero_default_ttl`, and the coverage options of BAK001 (set them alike). Severity follows
the tier whose retention is missed (critical: critical, standard: high, nonprod: low), not the
Schedule's own namespace (usually `velero`); the details name that tier.

Passing (a claim in critical namespace erp-prod, 30 days required):

    apiVersion: k8up.io/v1
    kind: Schedule
    metadata: {name: backups, namespace: erp-prod}
    spec:
      backup: {schedule: "@hourly-random"}
      prune:
        schedule: "@daily-random"
        retention: {keepLast: 24, keepDaily: 14, keepWeekly: 6}   # 6 × 7 = 42 days

Failing: a Velero Schedule covering the claim with `template: {includedNamespaces:
[erp-prod], ttl: 168h}` — "keeps backups 7 days (spec.template.ttl 168h); critical namespace
erp-prod requires 30 days for PersistentVolumeClaim erp-prod/filestore, which no other schedule
keeps long enough".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from checker.k8s import duration
from checker.model import Manifest, Violation
from checker.pyrules import Estate, RuleContext

from ._helpers import (
    COVERAGE_OPTIONS,
    Schedule,
    by_strictest,
    coverage_map,
    days_text,
    mapping,
    shortest_gap,
)

METADATA = {
    "id": "BAK003",
    "name": "backup-retention-too-short",
    "category": "backup",
    "severity": "high",
    "tier_severity": {"critical": "critical", "standard": "high", "nonprod": "low"},
    "scope": "estate",
    "kinds": ["velero.io/Schedule", "k8up.io/Schedule"],
    "options": {"velero_default_ttl": "720h", **COVERAGE_OPTIONS},
    "remediation": "Keep backups at least as long as the strictest tier requires: raise "
                   "spec.template.ttl of the Velero Schedule (e.g. 720h for 30 days), or the "
                   "keepDaily/keepWeekly/keepMonthly counts of the k8up prune retention.",
    "references": [
        "https://velero.io/docs/main/api-types/schedule/",
        "https://velero.io/docs/main/how-velero-works/#set-a-backup-to-expire",
        "https://docs.k8up.io/k8up/how-tos/schedules.html",
        ("https://restic.readthedocs.io/en/stable/060_forget.html"
         "#removing-snapshots-according-to-a-policy"),
    ],
}

_UNIT_DAYS = {"keepHourly": 1 / 24, "keepDaily": 1.0, "keepWeekly": 7.0,
              "keepMonthly": 28.0, "keepYearly": 365.0}


class Retention:
    """How long a schedule keeps its backups: `days` None = forever; or unreadable."""

    def __init__(self, days: float | None, how: str, pointer: str, readable: bool = True):
        self.days, self.how, self.pointer, self.readable = days, how, pointer, readable


def retention(schedule: Schedule, options: Mapping[str, Any]) -> Retention:
    if schedule.tool == "Velero":
        return _velero(schedule, options)
    return _k8up(schedule)


def _velero(schedule: Schedule, options: Mapping[str, Any]) -> Retention:
    template = mapping(schedule.spec.get("template"))
    ttl = template.get("ttl")
    if ttl is None:
        default = duration(options.get("velero_default_ttl"))
        days = default.total_seconds() / 86400 if default else 30.0
        return Retention(days, f"ttl unset, server default {options.get('velero_default_ttl')}",
                         "/spec/template")
    parsed = duration(ttl)
    if parsed is None:
        return Retention(0, f"spec.template.ttl {ttl!r}", "/spec/template/ttl", readable=False)
    if parsed == dt.timedelta(0):
        default = duration(options.get("velero_default_ttl"))
        days = default.total_seconds() / 86400 if default else 30.0
        return Retention(days, f"ttl {ttl} means the server default "
                         f"{options.get('velero_default_ttl')}", "/spec/template/ttl")
    return Retention(parsed.total_seconds() / 86400, f"spec.template.ttl {ttl}",
                     "/spec/template/ttl")


def _count(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return 0


def _k8up(schedule: Schedule) -> Retention:
    prune = schedule.spec.get("prune")
    if not isinstance(prune, Mapping) or not prune.get("schedule"):
        return Retention(None, "no prune schedule: k8up never forgets snapshots", "/spec")
    policy = mapping(prune.get("retention"))
    counts = {key: _count(policy.get(key)) for key in ("keepLast", *_UNIT_DAYS)}
    if not any(counts.values()):
        return Retention(None, "the prune retention sets no keep policy: restic removes "
                         "nothing", "/spec/prune")
    interval = shortest_gap(schedule)
    interval_days = interval.total_seconds() / 86400 if interval else 0.0
    horizons = {}
    if counts["keepLast"]:
        horizons["keepLast"] = counts["keepLast"] * interval_days
    for key, unit in _UNIT_DAYS.items():
        if counts[key]:
            horizons[key] = counts[key] * max(unit, interval_days)
    best = max(horizons, key=lambda k: horizons[k])
    shown = ", ".join(f"{k} {counts[k]}" for k in ("keepLast", *_UNIT_DAYS) if counts[k])
    return Retention(horizons[best], f"spec.prune.retention {shown}",
                     "/spec/prune/retention")


def check(estate: Estate, ctx: RuleContext) -> Iterator[tuple[Manifest, Violation]]:
    found = coverage_map(estate, ctx.options)
    kept = {id(s): retention(s, ctx.options) for s in found.schedules}
    for schedule in found.schedules:
        own = kept[id(schedule)]
        if not own.readable:
            yield schedule.manifest, Violation(
                f"{own.how} is not a duration (such as 720h): Velero refuses the backup",
                own.pointer)
            continue
        if own.days is None:
            continue
        short = []
        for volume in found.covered_by(schedule):
            required = ctx.requirement(volume.manifest, "backup_retention_days")
            if not isinstance(required, int | float) or isinstance(required, bool) or \
                    required <= 0 or own.days >= required:
                continue
            if any((r := kept.get(id(other))) is not None and r.readable and
                   (r.days is None or r.days >= required) for other in found.covering(volume)):
                continue
            short.append((volume, float(required)))
        if not short:
            continue
        ordered = sorted(by_strictest(short), key=lambda pair: -pair[1])
        volume, required = ordered[0]
        tier = ctx.tier(volume.manifest)
        others = len(ordered) - 1
        also = f" (and {others} more volume{'s' if others != 1 else ''})" if others else ""
        yield schedule.manifest, Violation(
            f"keeps backups {days_text(round(own.days, 2))} ({own.how}); {tier} namespace "
            f"{volume.namespace} requires {days_text(required)} for {volume.display()}{also}, "
            "which no other schedule keeps long enough",
            own.pointer,
            {"retention_days": own.days, "required_days": required, "required_by_tier": tier,
             "volumes": [v.display() for v, _ in ordered]}, tier)
