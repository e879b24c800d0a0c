"""CloudNativePG reading for the backup rules: WAL archivers, retention, ScheduledBackups,
recovery clusters and database workloads.

Facts used (CloudNativePG 1.26+ documentation and CRDs):

- WAL archiving is either the in-tree `spec.backup.barmanObjectStore` (deprecated since 1.26,
  removed in 1.32; it archives WAL as soon as it is configured — the `wal` subsection only
  tunes compression, encryption and parallelism) or a CNPG-I plugin in `spec.plugins` with
  `isWALArchiver: true` (and `enabled` not false; the Barman Cloud Plugin is
  `barman-cloud.cloudnative-pg.io`, its object store an `ObjectStore` of
  `barmancloud.cnpg.io/v1` named by the plugin parameter `barmanObjectName`, in the cluster's
  namespace);
- retention is `spec.backup.retentionPolicy` for the in-tree store, `spec.retentionPolicy` of
  the ObjectStore for the plugin; both `^[1-9][0-9]*[dwm]$` (Barman's recovery window);
- a `ScheduledBackup` names its cluster in `spec.cluster.name` (same namespace), may be
  suspended (`spec.suspend`), and uses `spec.method` (default `barmanObjectStore`; `plugin`
  with `spec.pluginConfiguration.name`; `volumeSnapshot` needs `spec.backup.volumeSnapshot`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from checker.k8s import first_matching_image
from checker.model import Manifest
from checker.pyrules import Estate

from ._helpers import mapping, namespace_of

CNPG = "postgresql.cnpg.io"
BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io"
_RETENTION = re.compile(r"^([1-9][0-9]*)([dwm])$")
_RETENTION_DAYS = {"d": 1, "w": 7, "m": 28}


@dataclass(frozen=True)
class Archiver:
    kind: str            # "in-tree" or "plugin"
    pointer: str
    plugin: str = ""
    object_store: str = ""  # barmanObjectName of the Barman Cloud Plugin


def spec_of(manifest: Manifest) -> Mapping[str, Any]:
    return mapping(manifest.obj.get("spec"))


def enabled_plugins(cluster: Manifest) -> Iterator[tuple[int, Mapping[str, Any]]]:
    plugins = spec_of(cluster).get("plugins")
    for index, plugin in enumerate(plugins if isinstance(plugins, list) else []):
        if isinstance(plugin, Mapping) and plugin.get("enabled") is not False:
            yield index, plugin


def wal_archiver(cluster: Manifest) -> Archiver | None:
    backup = mapping(spec_of(cluster).get("backup"))
    if isinstance(backup.get("barmanObjectStore"), Mapping):
        return Archiver("in-tree", "/spec/backup/barmanObjectStore")
    for index, plugin in enabled_plugins(cluster):
        if plugin.get("isWALArchiver") is True:
            parameters = mapping(plugin.get("parameters"))
            store = parameters.get("barmanObjectName")
            return Archiver("plugin", f"/spec/plugins/{index}", str(plugin.get("name", "")),
                            store if isinstance(store, str) else "")
    return None


def retention_days(value: Any) -> int | None:
    """`30d`, `4w`, `1m` as days (a month counted as 28); None when unreadable."""
    if not isinstance(value, str):
        return None
    match = _RETENTION.match(value.strip())
    if not match:
        return None
    return int(match[1]) * _RETENTION_DAYS[match[2]]


def object_store(estate: Estate, namespace: str, name: str) -> Manifest | None:
    for store in estate.of_kind("ObjectStore", "barmancloud.cnpg.io"):
        if store.resource.name == name and namespace_of(store) == namespace:
            return store
    return None


def scheduled_backups(estate: Estate, cluster: Manifest) -> list[Manifest]:
    found = []
    for item in estate.of_kind("ScheduledBackup", CNPG):
        target = mapping(spec_of(item).get("cluster")).get("name")
        if target == cluster.resource.name and namespace_of(item) == namespace_of(cluster):
            found.append(item)
    return found


def method_problem(scheduled: Manifest, cluster: Manifest) -> str | None:
    """Why this ScheduledBackup cannot back the cluster up (None: it can)."""
    spec = spec_of(scheduled)
    if spec.get("suspend") is True:
        return "it is suspended"
    method = spec.get("method") or "barmanObjectStore"
    backup = mapping(spec_of(cluster).get("backup"))
    if method == "barmanObjectStore":
        if not isinstance(backup.get("barmanObjectStore"), Mapping):
            return ("its method is barmanObjectStore (the default) but the cluster has no "
                    "spec.backup.barmanObjectStore")
        return None
    if method == "volumeSnapshot":
        if not isinstance(backup.get("volumeSnapshot"), Mapping):
            return "its method is volumeSnapshot but the cluster has no spec.backup.volumeSnapshot"
        return None
    if method == "plugin":
        name = mapping(spec.get("pluginConfiguration")).get("name")
        names = {p.get("name") for _, p in enabled_plugins(cluster)}
        if not name:
            return "its method is plugin but it names no spec.pluginConfiguration.name"
        if name not in names:
            return f"its method is plugin {name!r}, which the cluster does not enable"
        return None
    return f"its method {method!r} is not one CloudNativePG knows"


def is_replica(cluster: Manifest) -> bool:
    replica = spec_of(cluster).get("replica")
    if not isinstance(replica, Mapping):
        return False
    if replica.get("enabled") is True:
        return True
    primary, own = replica.get("primary"), replica.get("self")
    # Distributed topology: `enabled` unset, the cluster is a replica unless it is `primary`.
    return replica.get("enabled") is None and bool(primary) and primary != own


def recovers_from(candidate: Manifest, production: Manifest, estate: Estate) -> bool:
    """Whether `candidate` is a (non-replica) cluster bootstrapped from the backups of
    `production`: `bootstrap.recovery.source` naming an external cluster whose object store
    and server name are production's, or `bootstrap.recovery.backup.name` naming a CNPG
    Backup of production."""
    if candidate is production or is_replica(candidate):
        return False
    recovery = mapping(mapping(spec_of(candidate).get("bootstrap")).get("recovery"))
    if not recovery:
        return False
    backup_name = mapping(recovery.get("backup")).get("name")
    if isinstance(backup_name, str) and backup_name:
        for backup in estate.of_kind("Backup", CNPG):
            if backup.resource.name == backup_name and \
                    namespace_of(backup) == namespace_of(candidate) and \
                    mapping(spec_of(backup).get("cluster")).get("name") == \
                    production.resource.name and \
                    namespace_of(backup) == namespace_of(production):
                return True
        return False
    source = recovery.get("source")
    if not isinstance(source, str):
        return False
    externals = spec_of(candidate).get("externalClusters")
    for external in externals if isinstance(externals, list) else []:
        if isinstance(external, Mapping) and external.get("name") == source:
            return _same_store(external, production, estate, candidate)
    return False


def _same_store(external: Mapping[str, Any], production: Manifest, estate: Estate,
                candidate: Manifest) -> bool:
    prod_backup = mapping(spec_of(production).get("backup"))
    barman = external.get("barmanObjectStore")
    if isinstance(barman, Mapping):
        server = barman.get("serverName") or external.get("name")
        prod_store = mapping(prod_backup.get("barmanObjectStore"))
        prod_server = prod_store.get("serverName") or production.resource.name
        return server == prod_server and bool(barman.get("destinationPath")) and \
            barman.get("destinationPath") == prod_store.get("destinationPath")
    plugin = external.get("plugin")
    if isinstance(plugin, Mapping):
        parameters = mapping(plugin.get("parameters"))
        server = parameters.get("serverName") or external.get("name")
        archiver = wal_archiver(production)
        if archiver is None or archiver.kind != "plugin" or \
                plugin.get("name") != archiver.plugin:
            return False
        prod_params: Mapping[str, Any] = {}
        for _, item in enabled_plugins(production):
            if item.get("isWALArchiver") is True:
                prod_params = mapping(item.get("parameters"))
        prod_server = prod_params.get("serverName") or production.resource.name
        if server != prod_server:
            return False
        wanted, used = archiver.object_store, parameters.get("barmanObjectName")
        if wanted == used and namespace_of(candidate) == namespace_of(production):
            return True
        # Another namespace: the stores are different objects; compare where they point.
        mine = object_store(estate, namespace_of(candidate), str(used))
        theirs = object_store(estate, namespace_of(production), wanted)
        path = mapping(spec_of(mine).get("configuration")).get("destinationPath") \
            if mine else None
        return mine is not None and theirs is not None and bool(path) and path == mapping(
            spec_of(theirs).get("configuration")).get("destinationPath")
    return False


def database_image(manifest: Manifest, patterns: Sequence[str]) -> str | None:
    """The first regular container image whose name matches a database pattern."""
    return first_matching_image(manifest, patterns)
