"""Every critical database has a declared, recurring restore test.

"Regularly test restore speed and application consistency, not just backup completion" — a
backup that was never restored is a hope, not a control: credentials rotate, buckets get
lifecycle rules, extensions change, WAL goes missing. For the ledger's database the restore
must be rehearsed, and the rehearsal belongs in git next to the database, where reviewers and
auditors can see it.

Which databases: CloudNativePG `Cluster`s, and StatefulSets with a regular container whose
image name (the last path segment without tag or digest) matches option `database_images`
(default postgres, postgresql, mysql, mariadb, mongo — add redis or others when they hold
records), in the tiers of option `tiers` (default critical).

What counts as a restore test of database `D` in namespace `N` (define it once, check it
everywhere):

1. a `CronJob` (not suspended) or `Job` anywhere in the estate labelled
   `gitops-checker.io/restore-test-for` (option `restore_test_label`) with the value `D` (when
   it runs in `N`) or `N/D` (from any namespace) — the job restores the latest backup into a
   scratch instance, runs consistency checks (row counts, trial balance, `pg_amcheck`) and
   reports the time it took;
2. (option `accept_recovery_clusters`, default true) for a CloudNativePG cluster, another
   `Cluster` that is not a replica cluster and bootstraps from its backups:
   `spec.bootstrap.recovery.source` naming an `externalClusters` entry whose Barman object
   store (`barmanObjectStore.destinationPath`, or the Barman Cloud Plugin's ObjectStore with
   the same destination) and server name (`serverName`, default the entry's name) are the
   production cluster's, or `spec.bootstrap.recovery.backup.name` naming a CloudNativePG
   `Backup` of it. Such a cluster proves the backups restore when it is (re)created; pair it
   with a job that recreates it if the test must recur.

A Cluster that is itself a restore test (it carries the label, or it bootstraps from the
backups of another Cluster of the estate) is not asked for a restore test of its own.

Passing:

    apiVersion: batch/v1
    kind: CronJob
    metadata:
      name: erp-db-restore-test
      namespace: erp-prod
      labels: {gitops-checker.io/restore-test-for: erp-db}
    spec:
      schedule: "0 5 * * 6"
      jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [
        {name: restore, image: "registry.example.com/restore-test:1.4"}]}}}}

next to the critical CloudNativePG Cluster `erp-prod/erp-db`. Failing:

    apiVersion: postgresql.cnpg.io/v1
    kind: Cluster
    metadata: {name: erp-db, namespace: erp-prod}
    spec: {instances: 3}

with no such CronJob or recovery Cluster — "no restore test for CloudNativePG Cluster
erp-prod/erp-db: no CronJob or Job labelled gitops-checker.io/restore-test-for: erp-db …".
"""

from __future__ import annotations

from collections.abc import Iterator

from checker.k8s import labels_of
from checker.model import Manifest, Violation
from checker.pyrules import Estate, RuleContext

from ._cnpg import CNPG, database_image, recovers_from, spec_of
from ._helpers import namespace_of

METADATA = {
    "id": "BAK005",
    "name": "restore-test-missing",
    "category": "backup",
    "severity": "high",
    "scope": "estate",
    "kinds": ["postgresql.cnpg.io/Cluster", "apps/StatefulSet", "batch/CronJob", "batch/Job"],
    "tier_severity": {"critical": "high", "standard": "medium", "nonprod": "low"},
    "options": {
        "tiers": ["critical"],
        "restore_test_label": "gitops-checker.io/restore-test-for",
        "accept_recovery_clusters": True,
        "database_images": ["postgres", "postgresql", "mysql", "mariadb", "mongo"],
    },
    "remediation": "Add a CronJob that restores the latest backup into a scratch instance and "
                   "checks it, labelled gitops-checker.io/restore-test-for: <database> (or "
                   "<namespace>/<database> from another namespace), or a CloudNativePG "
                   "recovery Cluster bootstrapped from the production cluster's backups.",
    "references": [
        "https://cloudnative-pg.io/documentation/current/recovery/",
        "https://cloudnative-pg.io/documentation/current/backup/#backup-frequency-and-rto",
        "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/",
    ],
}


def _restore_jobs(estate: Estate, label: str) -> list[tuple[Manifest, str, bool]]:
    """(job, the database it tests as namespace/name, suspended)."""
    found = []
    for kind in ("CronJob", "Job"):
        for job in estate.of_kind(kind, "batch"):
            value = labels_of(job).get(label)
            if not isinstance(value, str) or not value.strip():
                continue
            target = value.strip()
            if "/" not in target:
                target = f"{namespace_of(job)}/{target}"
            suspended = kind == "CronJob" and spec_of(job).get("suspend") is True
            found.append((job, target, suspended))
    return found


def check(estate: Estate, ctx: RuleContext) -> Iterator[tuple[Manifest, Violation]]:
    tiers = ctx.options.get("tiers") or []
    label = str(ctx.options.get("restore_test_label") or "gitops-checker.io/restore-test-for")
    patterns = [str(p) for p in ctx.options.get("database_images") or []]
    jobs = _restore_jobs(estate, label)
    clusters = estate.of_kind("Cluster", CNPG)
    databases: list[tuple[Manifest, str]] = [(c, "CloudNativePG Cluster") for c in clusters]
    for workload in estate.of_kind("StatefulSet", "apps"):
        image = database_image(workload, patterns)
        if image:
            databases.append((workload, f"StatefulSet ({image})"))
    for database, what in databases:
        if ctx.tier(database) not in tiers:
            continue
        if database.resource.kind == "Cluster" and (
                labels_of(database).get(label) or
                any(recovers_from(database, other, estate) for other in clusters)):
            continue  # the cluster is itself a restore test of another one
        if database.resource.kind == "Cluster" and ctx.options.get("accept_recovery_clusters") \
                and any(recovers_from(other, database, estate) for other in clusters):
            continue
        target = f"{namespace_of(database)}/{database.resource.name}"
        mine = [(job, suspended) for job, aim, suspended in jobs if aim == target]
        if any(not suspended for _, suspended in mine):
            continue
        if mine:
            names = ", ".join(f"{j.resource.namespace or '-'}/{j.resource.name}"
                              for j, _ in mine)
            reason = f"its restore-test CronJob {names} is suspended"
        else:
            alternatives = " or a recovery Cluster bootstrapped from its backups" if \
                database.resource.kind == "Cluster" and \
                ctx.options.get("accept_recovery_clusters") else ""
            reason = (f"no CronJob or Job labelled {label}: {database.resource.name} (or "
                      f"{target}){alternatives}")
        yield database, Violation(
            f"no restore test for {what.split(' (')[0]} {target}: {reason}; a backup "
            "that is never restored is not known to work", "",
            {"restore_test_label": label, "database": target})
