"""CloudNativePG clusters have enough instances, WAL archiving, retention and scheduled backups.

PostgreSQL is the system of record of the ERP: every posting, invoice and payment. The brief
asks for point-in-time restore and a high-availability design for production finance
databases. In CloudNativePG that takes four things, and each missing one is a separate finding
pointing where it belongs:

1. `spec.instances` (default 1) at least the tier's `min_db_instances` (critical 2): a single
   instance has no standby to fail over to. Pointer `/spec/instances` (or `/spec`).
2. Continuous WAL archiving to object storage — point-in-time recovery and an RPO of minutes
   (`archive_timeout` is 5 minutes by default). Accepted: the in-tree
   `spec.backup.barmanObjectStore` (deprecated since CloudNativePG 1.26; it archives WAL
   whenever it is configured, the `wal` subsection only tunes compression and encryption), or
   a plugin in `spec.plugins` with `isWALArchiver: true` and `enabled` not false (the Barman
   Cloud Plugin, `barman-cloud.cloudnative-pg.io`, the recommended way since 1.26).
3. A retention policy that keeps backups and WAL at least the tier's `backup_retention_days`:
   `spec.backup.retentionPolicy` for the in-tree store; for the Barman Cloud Plugin the
   `spec.retentionPolicy` of the `ObjectStore` (barmancloud.cnpg.io/v1) named by the plugin's
   `barmanObjectName` in the cluster's namespace — the finding goes on that ObjectStore, or on
   the plugin entry when the ObjectStore is not in the estate. `30d`/`4w`/`1m` (a month counted
   as 28 days). Not checked for third-party archiver plugins.
4. A `ScheduledBackup` (same namespace, `spec.cluster.name`) that is not suspended and whose
   `method` the cluster supports (barmanObjectStore needs the in-tree store, plugin an enabled
   plugin of that name, volumeSnapshot `spec.backup.volumeSnapshot`): WAL archive alone
   cannot be restored without a base backup.

Items 2–4 apply where the tier has `backup_required` (critical, standard); item 1 everywhere
(nonprod requires 1 instance by default). Base-backup frequency is not held to the RPO: WAL
archiving meets the RPO, the base-backup interval only bounds the replay time (RTO).

Passing (namespace erp-prod, critical):

    apiVersion: postgresql.cnpg.io/v1
    kind: Cluster
    metadata: {name: erp-db, namespace: erp-prod}
    spec:
      instances: 3
      plugins:
        - name: barman-cloud.cloudnative-pg.io
          isWALArchiver: true
          parameters: {barmanObjectName: erp-store}
    ---
    apiVersion: barmancloud.cnpg.io/v1
    kind: ObjectStore
    metadata: {name: erp-store, namespace: erp-prod}
    spec: {configuration: {destinationPath: "s3://erp-backups/"}, retentionPolicy: 30d}
    ---
    apiVersion: postgresql.cnpg.io/v1
    kind: ScheduledBackup
    metadata: {name: erp-db-daily, namespace: erp-prod}
    spec:
      schedule: "0 0 2 * * *"
      cluster: {name: erp-db}
      method: plugin
      pluginConfiguration: {name: barman-cloud.cloudnative-pg.io}

Failing (three findings: instances, WAL archiving, scheduled backup):

    apiVersion: postgresql.cnpg.io/v1
    kind: Cluster
    metadata: {name: erp-db, namespace: erp-prod}
    spec:
      instances: 1
      storage: {size: 100Gi}
"""

from __future__ import annotations

from collections.abc import Iterator

from checker.k8s import integer
from checker.model import Manifest, Violation
from checker.pyrules import Estate, RuleContext

from ._cnpg import (
    BARMAN_PLUGIN,
    CNPG,
    Archiver,
    method_problem,
    object_store,
    retention_days,
    scheduled_backups,
    spec_of,
    wal_archiver,
)
from ._helpers import days_text, mapping, namespace_of

METADATA = {
    "id": "BAK004",
    "name": "cnpg-cluster-unprotected",
    "category": "backup",
    "severity": "high",
    "scope": "estate",
    "kinds": ["postgresql.cnpg.io/Cluster", "postgresql.cnpg.io/ScheduledBackup",
              "barmancloud.cnpg.io/ObjectStore"],
    "tier_severity": {"critical": "critical", "standard": "medium", "nonprod": "info"},
    "remediation": "Run at least the tier's number of instances, configure WAL archiving to "
                   "object storage (the Barman Cloud Plugin with isWALArchiver: true, or the "
                   "in-tree spec.backup.barmanObjectStore), set a retention policy at least "
                   "as long as the tier requires, and add a ScheduledBackup for the cluster.",
    "references": [
        "https://cloudnative-pg.io/documentation/current/backup/",
        "https://cloudnative-pg.io/documentation/current/wal_archiving/",
        "https://cloudnative-pg.io/plugin-barman-cloud/docs/usage/",
        "https://cloudnative-pg.io/plugin-barman-cloud/docs/retention/",
        "https://cloudnative-pg.io/documentation/current/replication/",
    ],
}


def _instances(value: object) -> int | None:
    """CloudNativePG's `instances` (1 when absent)."""
    return 1 if value is None else integer(value)


def check(estate: Estate, ctx: RuleContext) -> Iterator[tuple[Manifest, Violation]]:
    for cluster in estate.of_kind("Cluster", CNPG):
        yield from _check_cluster(cluster, estate, ctx)


def _check_cluster(cluster: Manifest, estate: Estate,
                   ctx: RuleContext) -> Iterator[tuple[Manifest, Violation]]:
    spec = spec_of(cluster)
    tier = ctx.tier(cluster)
    wanted = ctx.requirement(cluster, "min_db_instances")
    instances = _instances(spec.get("instances"))
    if isinstance(wanted, int) and instances is not None and instances < wanted:
        where = "/spec/instances" if "instances" in spec else "/spec"
        shown = f"{instances} instance" + ("s" if instances != 1 else "")
        default = " (spec.instances defaults to 1)" if "instances" not in spec else ""
        yield cluster, Violation(
            f"{shown}{default}; the {tier} tier requires at least {wanted} so that a standby "
            "can take over", where)
    if not ctx.requirement(cluster, "backup_required"):
        return
    backup_pointer = "/spec/backup" if isinstance(spec.get("backup"), dict) else "/spec"
    archiver = wal_archiver(cluster)
    if archiver is None:
        where = "/spec/plugins" if isinstance(spec.get("plugins"), list) else backup_pointer
        yield cluster, Violation(
            "no continuous WAL archiving: neither spec.backup.barmanObjectStore nor a plugin "
            f"with isWALArchiver: true (e.g. {BARMAN_PLUGIN}); without it there is no "
            "point-in-time recovery and no hot base backup", where)
    else:
        yield from _check_retention(cluster, archiver, estate, ctx)
    yield from _check_scheduled(cluster, estate, backup_pointer)


def _check_retention(cluster: Manifest, archiver: Archiver, estate: Estate,
                     ctx: RuleContext) -> Iterator[tuple[Manifest, Violation]]:
    required = ctx.requirement(cluster, "backup_retention_days")
    tier = ctx.tier(cluster)
    if archiver.kind == "in-tree":
        backup = mapping(spec_of(cluster).get("backup"))
        owner, value = cluster, backup.get("retentionPolicy")
        missing_at, value_at = "/spec/backup", "/spec/backup/retentionPolicy"
        what = "spec.backup.retentionPolicy"
    elif archiver.plugin == BARMAN_PLUGIN:
        if not archiver.object_store:
            yield cluster, Violation(
                f"the {BARMAN_PLUGIN} plugin names no barmanObjectName: there is no object "
                "store, so no archive and no retention", f"{archiver.pointer}")
            return
        store = object_store(estate, namespace_of(cluster), archiver.object_store)
        if store is None:
            yield cluster, Violation(
                f"ObjectStore {namespace_of(cluster)}/{archiver.object_store} (named by "
                "barmanObjectName) is not in the estate: its retention policy cannot be "
                "checked", f"{archiver.pointer}/parameters/barmanObjectName")
            return
        owner, value = store, spec_of(store).get("retentionPolicy")
        missing_at, value_at = "/spec", "/spec/retentionPolicy"
        what = f"spec.retentionPolicy of ObjectStore {archiver.object_store}"
    else:
        return  # a third-party archiver keeps its retention elsewhere
    if value is None:
        yield owner, Violation(
            f"no {what}: backups and WAL of cluster {cluster.resource.name} are never "
            "deleted by the operator, or deleted by a bucket rule nobody reviews; set it to "
            f"at least {days_text(required)}" if isinstance(required, int) and required > 0
            else f"no {what}", missing_at)
        return
    days = retention_days(value)
    if days is None:
        yield owner, Violation(f"{what} {value!r} is not of the form 30d, 4w or 1m", value_at)
    elif isinstance(required, int | float) and days < required:
        yield owner, Violation(
            f"{what} {value} keeps {days_text(days)} of backups and WAL of cluster "
            f"{cluster.resource.name}; the {tier} tier requires {days_text(required)}",
            value_at)


def _check_scheduled(cluster: Manifest, estate: Estate,
                     pointer: str) -> Iterator[tuple[Manifest, Violation]]:
    found = scheduled_backups(estate, cluster)
    problems = [(item, method_problem(item, cluster)) for item in found]
    if any(problem is None for _, problem in problems):
        return
    if not found:
        yield cluster, Violation(
            f"no ScheduledBackup in namespace {namespace_of(cluster)} targets cluster "
            f"{cluster.resource.name}: WAL archive alone cannot be restored without a base "
            "backup", pointer)
        return
    shown = "; ".join(f"ScheduledBackup {item.resource.name}: {problem}"
                      for item, problem in problems)
    yield cluster, Violation(
        f"no usable ScheduledBackup for cluster {cluster.resource.name} ({shown})", pointer)
