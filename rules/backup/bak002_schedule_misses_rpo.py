"""Backup schedules run often enough for the RPO of the volumes they back up.

The recovery point objective is how much data the business accepts to lose: with a daily
backup the newest copy can be 24 hours old when the disk dies, which for a critical ledger or
invoicing namespace (default RPO 1 hour) means a day of postings re-keyed by hand, or lost.
The schedule's frequency is the RPO of the data it protects.

What is checked, per Velero `Schedule` (`spec.schedule`) and k8up `Schedule`
(`spec.backup.schedule`; `@hourly-random` and friends run once per period): the longest gap
between two runs (cron evaluated over a long sample, `@every`, descriptors) must not exceed
the `rpo_hours` of the tier of every volume whose data the schedule backs up (coverage
resolved as in BAK001) — unless another schedule backing up that volume meets the RPO (a
cluster-wide daily schedule next to an hourly one for the critical namespaces is fine). The
finding is on the Schedule, at its schedule field, with the numbers: the gap, the strictest
namespace and its RPO, the volumes that no faster schedule covers. A schedule expression that
cannot be read is reported too (Velero and k8up would refuse it, or run it differently than
its author believes).

Tier requirements: `rpo_hours` (critical 1, standard 24, nonprod none). Options: the coverage
options of BAK001 (set them alike). Severity follows the tier whose RPO is missed (critical:
critical, standard: high, nonprod: low), not the Schedule's own namespace (usually `velero`);
the details name that tier.

Databases: a CloudNativePG cluster with WAL archiving meets its RPO by continuous archiving
(`archive_timeout` 5 minutes by default), not by a schedule, and its volumes are created by
the operator rather than declared in git; BAK004 checks that archiving. Volume schedules are
still checked here for every declared claim and StatefulSet template, including database
files, because a StatefulSet database without WAL archiving has only those backups.

Passing (a claim in namespace erp-prod, labelled `gitops-checker.io/tier: critical`):

    apiVersion: velero.io/v1
    kind: Schedule
    metadata: {name: erp-hourly, namespace: velero}
    spec:
      schedule: "0 * * * *"
      template: {includedNamespaces: [erp-prod]}

Failing: the same Schedule with `schedule: "0 2 * * *"` as the only one covering the claim —
"runs with gaps of up to 24h (0 2 * * *); critical namespace erp-prod requires an RPO of 1h
for PersistentVolumeClaim erp-prod/filestore, which no faster schedule backs up".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from checker.model import Manifest, Violation
from checker.pyrules import Estate, RuleContext

from ._helpers import COVERAGE_OPTIONS, by_strictest, coverage_map, gap, hours

METADATA = {
    "id": "BAK002",
    "name": "backup-schedule-misses-rpo",
    "category": "backup",
    "severity": "high",
    "tier_severity": {"critical": "critical", "standard": "high", "nonprod": "low"},
    "scope": "estate",
    "kinds": ["velero.io/Schedule", "k8up.io/Schedule"],
    "options": dict(COVERAGE_OPTIONS),
    "remediation": "Run the schedule at least as often as the RPO of the strictest tier it "
                   "covers (e.g. `0 * * * *` for a 1-hour RPO), or add a faster schedule for "
                   "those namespaces.",
    "references": [
        "https://velero.io/docs/main/api-types/schedule/",
        "https://docs.k8up.io/k8up/references/schedule-specification.html",
        "https://cloudnative-pg.io/documentation/current/wal_archiving/",
    ],
}


def check(estate: Estate, ctx: RuleContext) -> Iterator[tuple[Manifest, Violation]]:
    found = coverage_map(estate, ctx.options)
    gaps = {id(s): gap(s) for s in found.schedules}
    for schedule in found.schedules:
        if schedule.tool == "Velero" and schedule.spec.get("paused") is True:
            continue
        longest = gaps[id(schedule)]
        if longest is None:
            yield schedule.manifest, Violation(
                f"schedule {schedule.expression!r} cannot be read as a cron expression, a "
                "descriptor or @every <duration>", schedule.schedule_pointer)
            continue
        missed = []
        for volume in found.covered_by(schedule):
            rpo = ctx.requirement(volume.manifest, "rpo_hours")
            if not isinstance(rpo, int | float) or isinstance(rpo, bool):
                continue
            limit = dt.timedelta(hours=rpo)
            if longest <= limit:
                continue
            if any((g := gaps.get(id(other))) is not None and g <= limit
                   for other in found.covering(volume)):
                continue
            missed.append((volume, float(rpo)))
        if not missed:
            continue
        ordered = by_strictest(missed)
        volume, rpo = ordered[0]
        tier = ctx.tier(volume.manifest)
        others = len(ordered) - 1
        also = f" (and {others} more volume{'s' if others != 1 else ''})" if others else ""
        yield schedule.manifest, Violation(
            f"runs with gaps of up to {hours(longest)} ({schedule.expression}); {tier} "
            f"namespace {volume.namespace} requires an RPO of "
            f"{hours(dt.timedelta(hours=rpo))} for {volume.display()}{also}, which no faster "
            "schedule backs up",
            schedule.schedule_pointer,
            {"gap_hours": longest.total_seconds() / 3600, "required_rpo_hours": rpo,
             "required_by_tier": tier,
             "volumes": [v.display() for v, _ in ordered]}, tier)
