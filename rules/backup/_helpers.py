"""Shared by the backup rules: which volumes the estate declares, which backup schedules exist,
and whether a schedule backs up a volume's data — resolved the way Velero and k8up resolve it.

Volumes are PersistentVolumeClaims and the claims a StatefulSet creates from each
`volumeClaimTemplates` entry (labels = the template's labels overlaid with the StatefulSet's
`spec.selector.matchLabels`, as the StatefulSet controller writes them).

Velero (`velero.io/v1` Schedule, `spec.template` is a BackupSpec), following Velero's own
filters (pkg/util/collections/includes_excludes.go, pkg/backup/item_backupper.go):

- `spec.paused: true` covers nothing;
- namespaces: `includedNamespaces` (empty or `*` = all; glob patterns) minus
  `excludedNamespaces` (globs);
- the claim's label `velero.io/exclude-from-backup=true` removes it;
- resource filters, old style (`includedResources`/`excludedResources`/`includeClusterResources`)
  when any of those is set, otherwise the scoped style
  (`included/excludedNamespaceScopedResources`, `included/excludedClusterScopedResources`):
  persistentvolumeclaims (alias `pvc`) must be included;
- `labelSelector` or any of `orLabelSelectors` must match the claim's labels; a spec with both
  is rejected by Velero and covers nothing;
- the data, not only the claim object: either a volume snapshot (`snapshotVolumes` not false,
  and the PersistentVolume not filtered out — Velero takes native snapshots when it backs up
  the PV item, which `excludedResources: [persistentvolumes]`,
  `excludedClusterScopedResources`, `includeClusterResources: false`, or an old-style
  `includedResources` list without persistentvolumes while includeClusterResources is unset
  all prevent; option `csi_snapshots: true` says snapshots are CSI snapshots, taken on the
  claim, so the PV filter no longer matters), or a file-system backup: a pod template in the
  estate that mounts the claim, whose pods the schedule backs up (pods included, selectors
  match), and either opt-out mode (`defaultVolumesToFsBackup: true`, or unset with option
  `velero_default_volumes_to_fs_backup: true` for a server installed with
  `--default-volumes-to-fs-backup`) without the volume in the pod annotation
  `backup.velero.io/backup-volumes-excludes`, or the volume listed in the pod annotation
  `backup.velero.io/backup-volumes` (opt-in). With `snapshotVolumes: false` and neither,
  Velero saves the claim object but not its data: not covered.
- Not evaluated: resource policies (`spec.template.resourcePolicy` ConfigMaps with
  volumePolicies that may skip volumes) and whether a VolumeSnapshotLocation or CSI driver
  exists.

k8up (`k8up.io/v1` Schedule with a `spec.backup` section), following the backup executor
(operator/backupcontroller): the claims of the schedule's own namespace; when
`spec.backup.labelSelectors` is set, only claims matching one of them (an empty list matches
none); the annotation `k8up.io/backup` (option `k8up_annotation`) skips the claim unless it
reads as true (Go's strconv.ParseBool: 1, t, T, TRUE, true, True); without the annotation the
claim is taken unless option `k8up_skip_without_annotation` is true (the operator's
BACKUP_SKIP_WITHOUT_ANNOTATION) and only when its access modes include ReadWriteMany or
ReadWriteOnce.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from checker.k8s import (
    annotations_of,
    labels_of,
    pod_labels,
    pod_spec,
    schedule_gap,
    schedule_gaps,
    selector_matches,
)
from checker.model import Manifest
from checker.pyrules import Estate

COVERAGE_OPTIONS: dict[str, Any] = {
    "velero_default_volumes_to_fs_backup": False,
    "csi_snapshots": False,
    "k8up_annotation": "k8up.io/backup",
    "k8up_skip_without_annotation": False,
}
"""Options every rule that resolves coverage carries (BAK001–BAK003): set them alike."""

VELERO_EXCLUDE_LABEL = "velero.io/exclude-from-backup"
FS_BACKUP_OPT_IN = "backup.velero.io/backup-volumes"
FS_BACKUP_OPT_OUT = "backup.velero.io/backup-volumes-excludes"

_PVC_NAMES = {"persistentvolumeclaims", "persistentvolumeclaim", "pvc"}
_PV_NAMES = {"persistentvolumes", "persistentvolume", "pv"}
_POD_NAMES = {"pods", "pod", "po"}
_GO_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_GO_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def strings(value: Any) -> list[str]:
    """A list of strings from a field that should be one (anything else is dropped)."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str)]


def namespace_of(manifest: Manifest) -> str:
    return manifest.resource.namespace or "default"


# --- volumes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mount:
    """A pod template that mounts a volume: Velero's file-system backup needs one."""

    workload: Manifest
    volume_name: str
    labels: Mapping[str, Any]
    annotations: Mapping[str, Any]


@dataclass(frozen=True)
class Volume:
    """A claim declared in the estate, or one a StatefulSet creates from a template."""

    manifest: Manifest
    pointer: str
    namespace: str
    name: str
    labels: Mapping[str, Any]
    annotations: Mapping[str, Any]
    access_modes: tuple[str, ...]
    mounts: tuple[Mount, ...] = ()
    template: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.manifest.resource.kind, self.namespace,
                f"{self.manifest.resource.name}{self.pointer}")

    def display(self) -> str:
        if self.template:
            return (f"volumeClaimTemplate {self.name!r} of StatefulSet "
                    f"{self.namespace}/{self.manifest.resource.name}")
        return f"PersistentVolumeClaim {self.namespace}/{self.name}"


def volumes(estate: Estate) -> list[Volume]:
    """Every claim of the estate and every StatefulSet claim template, with their mounts."""
    mounts = _claim_mounts(estate)
    found: list[Volume] = []
    for claim in estate.of_kind("PersistentVolumeClaim", ""):
        namespace = namespace_of(claim)
        spec = mapping(claim.obj.get("spec"))
        found.append(Volume(claim, "", namespace, claim.resource.name, labels_of(claim),
                            annotations_of(claim), tuple(strings(spec.get("accessModes"))),
                            tuple(mounts.get((namespace, claim.resource.name), ()))))
    for workload in estate.of_kind("StatefulSet", "apps"):
        spec = mapping(workload.obj.get("spec"))
        templates = spec.get("volumeClaimTemplates")
        if not isinstance(templates, list):
            continue
        selector_labels = mapping(mapping(spec.get("selector")).get("matchLabels"))
        template_meta = mapping(mapping(spec.get("template")).get("metadata"))
        for index, template in enumerate(templates):
            if not isinstance(template, Mapping):
                continue
            metadata = mapping(template.get("metadata"))
            name = metadata.get("name")
            if not isinstance(name, str) or not name:
                continue
            labels = {**mapping(metadata.get("labels")), **selector_labels}
            mount = Mount(workload, name, pod_labels(workload),
                          mapping(template_meta.get("annotations")))
            found.append(Volume(
                workload, f"/spec/volumeClaimTemplates/{index}", namespace_of(workload), name,
                labels, mapping(metadata.get("annotations")),
                tuple(strings(mapping(template.get("spec")).get("accessModes"))),
                (mount,), template=True))
    return found


def _claim_mounts(estate: Estate) -> dict[tuple[str, str], list[Mount]]:
    mounts: dict[tuple[str, str], list[Mount]] = {}
    for workload in estate.manifests:
        found = pod_spec(workload)
        if found is None:
            continue
        spec, pointer = found
        template_pointer = pointer.removesuffix("/spec")
        node: Any = workload.obj
        for part in template_pointer.strip("/").split("/"):
            node = node.get(part) if isinstance(node, Mapping) else None
        annotations = mapping(mapping(mapping(node).get("metadata")).get("annotations"))
        if workload.resource.kind == "Pod" and workload.resource.group == "":
            annotations = annotations_of(workload)
        items = spec.get("volumes")
        for item in items if isinstance(items, list) else []:
            claim = mapping(mapping(item).get("persistentVolumeClaim")).get("claimName")
            volume_name = mapping(item).get("name")
            if isinstance(claim, str) and isinstance(volume_name, str):
                mounts.setdefault((namespace_of(workload), claim), []).append(
                    Mount(workload, volume_name, pod_labels(workload), annotations))
    return mounts


# --- schedules -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    manifest: Manifest
    tool: str                # "Velero" or "k8up"
    expression: Any
    schedule_pointer: str

    def display(self) -> str:
        return f"{self.tool} Schedule {self.manifest.resource.namespace or '-'}/" \
               f"{self.manifest.resource.name}"

    @property
    def spec(self) -> Mapping[str, Any]:
        return mapping(self.manifest.obj.get("spec"))


def schedules(estate: Estate) -> list[Schedule]:
    """Velero and k8up backup schedules of the estate (k8up ones with a `spec.backup`)."""
    found = []
    for manifest in estate.of_kind("Schedule", "velero.io"):
        found.append(Schedule(manifest, "Velero", mapping(manifest.obj.get("spec")).get(
            "schedule"), "/spec/schedule"))
    for manifest in estate.of_kind("Schedule", "k8up.io"):
        backup = mapping(manifest.obj.get("spec")).get("backup")
        if isinstance(backup, Mapping):
            found.append(Schedule(manifest, "k8up", backup.get("schedule"),
                                  "/spec/backup/schedule"))
    return found


def gap(schedule: Schedule) -> dt.timedelta | None:
    """The longest time between two runs (k8up's `@daily-random` & co. run once per period)."""
    expression = schedule.expression
    if isinstance(expression, str) and expression.strip().endswith("-random"):
        expression = expression.strip().removesuffix("-random")
    return schedule_gap(expression)


def shortest_gap(schedule: Schedule) -> dt.timedelta | None:
    """The shortest time between two runs, for counting what `keepLast` keeps."""
    expression = schedule.expression
    if isinstance(expression, str):
        expression = expression.strip().removesuffix("-random")
    gaps = schedule_gaps(expression)
    return None if gaps is None else gaps.shortest


# --- coverage ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    schedule: Schedule
    covered: bool
    reason: str          # why not, or how (snapshot, file-system backup, k8up)


@dataclass
class CoverageMap:
    """For every volume, what each applicable schedule does with it."""

    volumes: list[Volume]
    schedules: list[Schedule]
    by_volume: dict[tuple[str, str, str], list[Coverage]] = field(default_factory=dict)

    def of(self, volume: Volume) -> list[Coverage]:
        return self.by_volume.get(volume.key, [])

    def covering(self, volume: Volume) -> list[Schedule]:
        return [c.schedule for c in self.of(volume) if c.covered]

    def covered_by(self, schedule: Schedule) -> list[Volume]:
        return [v for v in self.volumes
                if any(c.covered and c.schedule is schedule for c in self.of(v))]


def coverage_map(estate: Estate, options: Mapping[str, Any]) -> CoverageMap:
    """Which schedule covers which volume: worked out once per run for each setting of the
    coverage options (BAK001–BAK003 all ask; a rule's other options play no part)."""
    relevant = {name: options.get(name) for name in COVERAGE_OPTIONS}
    key = ("backup-coverage", json.dumps(relevant, sort_keys=True, default=repr))
    return estate.shared(key, lambda: _coverage_map(estate, relevant))


def _coverage_map(estate: Estate, options: Mapping[str, Any]) -> CoverageMap:
    result = CoverageMap(volumes(estate), schedules(estate))
    for volume in result.volumes:
        items = []
        for schedule in result.schedules:
            if schedule.tool == "k8up" and namespace_of(schedule.manifest) != volume.namespace:
                continue  # k8up only looks at its own namespace: not worth naming
            items.append(covers(schedule, volume, options))
        result.by_volume[volume.key] = items
    return result


def covers(schedule: Schedule, volume: Volume, options: Mapping[str, Any]) -> Coverage:
    if schedule.tool == "k8up":
        covered, reason = _k8up_covers(schedule, volume, options)
    else:
        covered, reason = _velero_covers(schedule, volume, options)
    return Coverage(schedule, covered, reason)


def _k8up_covers(schedule: Schedule, volume: Volume,
                 options: Mapping[str, Any]) -> tuple[bool, str]:
    backup = mapping(schedule.spec.get("backup"))
    if "labelSelectors" in backup and backup.get("labelSelectors") is not None:
        selectors = backup.get("labelSelectors")
        if not isinstance(selectors, list) or not any(
                isinstance(s, Mapping) and selector_matches(s, volume.labels)
                for s in selectors):
            return False, "no spec.backup.labelSelectors entry matches its labels"
    annotation = str(options.get("k8up_annotation") or "k8up.io/backup")
    has_annotation = annotation in volume.annotations
    value = volume.annotations.get(annotation)
    if has_annotation and str(value) not in _GO_TRUE:
        return False, f"annotation {annotation}={value!r} skips it"
    if not has_annotation and options.get("k8up_skip_without_annotation"):
        return False, (f"it has no {annotation} annotation and the operator skips claims "
                       "without it")
    if not has_annotation and not {"ReadWriteMany", "ReadWriteOnce"} & set(volume.access_modes):
        modes = ", ".join(volume.access_modes) or "none"
        return False, (f"access modes {modes} are neither ReadWriteMany nor ReadWriteOnce and "
                       f"it has no {annotation} annotation")
    return True, "k8up backs up the claim's files"


def _glob_any(patterns: Iterable[str], value: str) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def _resource_listed(entries: Sequence[str], names: set[str]) -> bool:
    """Whether a Velero resource list names the resource (plural, singular, short name, or a
    glob matched against the plural)."""
    canonical = max(names, key=len)
    for entry in entries:
        text = entry.strip().lower()
        if text in names or text.removesuffix(".") in names:
            return True
        if any(c in text for c in "*?[") and text != "*" and fnmatch.fnmatchcase(
                canonical, text):
            return True
    return False


def _includes(entries: Sequence[str], names: set[str]) -> bool:
    return not entries or "*" in entries or _resource_listed(entries, names)


def _excludes(entries: Sequence[str], names: set[str]) -> bool:
    return "*" in entries or _resource_listed(entries, names)


def velero_old_filters(template: Mapping[str, Any]) -> bool:
    return template.get("includeClusterResources") is not None or \
        bool(strings(template.get("includedResources"))) or \
        bool(strings(template.get("excludedResources")))


def _namespaced_included(template: Mapping[str, Any], names: set[str]) -> str | None:
    """None when the namespaced resource is backed up, else why not."""
    if velero_old_filters(template):
        if _excludes(strings(template.get("excludedResources")), names):
            return "excludedResources names it"
        if not _includes(strings(template.get("includedResources")), names):
            return "includedResources does not name it"
        return None
    if _excludes(strings(template.get("excludedNamespaceScopedResources")), names):
        return "excludedNamespaceScopedResources names it"
    if not _includes(strings(template.get("includedNamespaceScopedResources")), names):
        return "includedNamespaceScopedResources does not name it"
    return None


def _pv_excluded(template: Mapping[str, Any]) -> str | None:
    """Why Velero would not back up the PersistentVolume item (None when it would)."""
    if velero_old_filters(template):
        if _excludes(strings(template.get("excludedResources")), _PV_NAMES):
            return "excludedResources names persistentvolumes"
        include_cluster = template.get("includeClusterResources")
        if include_cluster is False:
            return "includeClusterResources is false"
        if include_cluster is None and not _includes(
                strings(template.get("includedResources")), _PV_NAMES):
            return "includedResources does not name persistentvolumes"
        return None
    if _excludes(strings(template.get("excludedClusterScopedResources")), _PV_NAMES):
        return "excludedClusterScopedResources names persistentvolumes"
    return None


def _selected(template: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    if labels.get(VELERO_EXCLUDE_LABEL) == "true":
        return False
    selector = template.get("labelSelector")
    or_selectors = template.get("orLabelSelectors")
    if selector is not None and not selector_matches(selector, labels):
        return False
    if isinstance(or_selectors, list) and or_selectors:
        return any(selector_matches(s, labels) for s in or_selectors)
    return True


def _velero_covers(schedule: Schedule, volume: Volume,
                   options: Mapping[str, Any]) -> tuple[bool, str]:
    spec = schedule.spec
    if spec.get("paused") is True:
        return False, "it is paused"
    template = spec.get("template")
    if not isinstance(template, Mapping):
        return False, "it has no readable spec.template"
    included_ns = strings(template.get("includedNamespaces"))
    if included_ns and "*" not in included_ns and not _glob_any(included_ns, volume.namespace):
        return False, f"includedNamespaces does not include {volume.namespace}"
    if _glob_any(strings(template.get("excludedNamespaces")), volume.namespace):
        return False, f"excludedNamespaces excludes {volume.namespace}"
    if volume.labels.get(VELERO_EXCLUDE_LABEL) == "true":
        return False, f"the claim is labelled {VELERO_EXCLUDE_LABEL}=true"
    why = _namespaced_included(template, _PVC_NAMES)
    if why:
        return False, f"persistentvolumeclaims are filtered out ({why})"
    selector = template.get("labelSelector")
    or_selectors = template.get("orLabelSelectors")
    if selector is not None and isinstance(or_selectors, list) and or_selectors:
        return False, "it sets both labelSelector and orLabelSelectors, which Velero rejects"
    if not _selected(template, volume.labels):
        return False, "its label selector does not match the claim's labels"
    return _velero_data(template, volume, options)


def _velero_data(template: Mapping[str, Any], volume: Volume,
                 options: Mapping[str, Any]) -> tuple[bool, str]:
    fs_default = template.get("defaultVolumesToFsBackup")
    if not isinstance(fs_default, bool):
        fs_default = bool(options.get("velero_default_volumes_to_fs_backup"))
    pods_filtered = _namespaced_included(template, _POD_NAMES)
    for mount in volume.mounts:
        if pods_filtered or not _selected(template, mount.labels):
            continue
        listed = [v.strip() for v in str(mount.annotations.get(FS_BACKUP_OPT_IN, "")).split(",")]
        excluded = [v.strip() for v in
                    str(mount.annotations.get(FS_BACKUP_OPT_OUT, "")).split(",")]
        if (fs_default and mount.volume_name not in excluded) or mount.volume_name in listed:
            return True, (f"file-system backup through {mount.workload.resource.kind} "
                          f"{mount.workload.resource.name}")
    if template.get("snapshotVolumes") is False:
        if not volume.mounts:
            why = ("no workload in the estate mounts the claim, and file-system backup reads "
                   "volumes through running pods")
        elif pods_filtered:
            why = f"pods are filtered out ({pods_filtered})"
        elif not any(_selected(template, m.labels) for m in volume.mounts):
            why = "the label selector does not match the pods that mount it"
        elif fs_default:
            why = f"the pod templates exclude the volume with {FS_BACKUP_OPT_OUT}"
        else:
            why = (f"defaultVolumesToFsBackup is not true and no pod template lists the volume "
                   f"in {FS_BACKUP_OPT_IN}")
        return False, (f"snapshotVolumes is false and no file-system backup applies ({why}): "
                       "only the claim object is saved, not its data")
    pv_filter = _pv_excluded(template)
    if pv_filter and not options.get("csi_snapshots"):
        return False, (f"{pv_filter}, so no volume snapshot is taken and no file-system backup "
                       "applies")
    return True, "volume snapshot"


def describe(items: Sequence[Coverage], limit: int = 3) -> str:
    """`Velero Schedule velero/daily (it is paused); …` for messages."""
    shown = [f"{c.schedule.display()} ({c.reason})" for c in items[:limit]]
    more = len(items) - limit
    return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")


def hours(value: dt.timedelta) -> str:
    """24h, 72h, 90m, 7d: how people write schedules and retention."""
    seconds = int(value.total_seconds())
    if seconds % 86400 == 0 and seconds >= 7 * 86400:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def days_text(value: float) -> str:
    return f"{value:g} day" + ("" if value == 1 else "s")


def by_strictest(pairs: Iterator[tuple[Volume, float]] | list[tuple[Volume, float]]
                 ) -> list[tuple[Volume, float]]:
    return sorted(pairs, key=lambda pair: (pair[1], pair[0].namespace, pair[0].name))
