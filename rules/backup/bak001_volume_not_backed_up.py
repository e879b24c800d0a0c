"""Every persistent volume of a tier that requires backups is backed up by a schedule.

A finance platform keeps its system of record and the documents behind it (Odoo's filestore,
attachments, exports) on persistent volumes. A claim that no backup schedule reaches is lost
with its disk, and nobody notices until the restore. The domain brief asks for automated
backups to object storage for every tier that needs them, so the rule relates every claim to
the schedules of the estate instead of trusting that "the cluster backup" takes everything.

What is checked: every PersistentVolumeClaim, and every `volumeClaimTemplates` entry of a
StatefulSet, in a namespace whose tier has `backup_required: true` (tier requirement; by default
critical and standard), must be backed up — its data, not only the claim object — by at least
one Velero `Schedule` (velero.io/v1) or k8up `Schedule` (k8up.io/v1). Coverage is resolved as
the tools resolve it (full rules in `rules/backup/_helpers.py`):

- Velero: not paused; the namespace passes `includedNamespaces`/`excludedNamespaces` (globs);
  persistentvolumeclaims pass the resource filters (old `includedResources`/
  `excludedResources` or the scoped `*NamespaceScopedResources`); `labelSelector` or one of
  `orLabelSelectors` matches the claim's labels (both set: Velero rejects the backup); the claim
  is not labelled `velero.io/exclude-from-backup=true`; and the data is taken — by a volume
  snapshot (`snapshotVolumes` not false and the PersistentVolume not filtered out by
  `excludedResources`, `excludedClusterScopedResources`, `includeClusterResources: false` or an
  old-style `includedResources` without persistentvolumes), or by file-system backup of a pod
  template that mounts the claim (`defaultVolumesToFsBackup: true` unless the pod annotation
  `backup.velero.io/backup-volumes-excludes` names the volume, or the volume listed in
  `backup.velero.io/backup-volumes`). `snapshotVolumes: false` without file-system backup saves
  the claim object only: not covered.
- k8up: a Schedule with `spec.backup` in the claim's namespace; `spec.backup.labelSelectors`
  (when set) matches; the `k8up.io/backup` annotation is absent or true; access mode
  ReadWriteMany or ReadWriteOnce (or the annotation present).

A StatefulSet template's claims carry the template's labels plus the StatefulSet's
`spec.selector.matchLabels`. The finding is on the claim (or on the template entry) and names
the schedules considered and why each does not cover it.

Options (set them alike on BAK001–BAK003): `velero_default_volumes_to_fs_backup` (the Velero
server's `--default-volumes-to-fs-backup`, used when a schedule leaves
`defaultVolumesToFsBackup` unset; default false), `csi_snapshots` (snapshots are CSI snapshots
taken on the claim, so filtering out PersistentVolumes does not lose the data; default false),
`k8up_annotation` (default `k8up.io/backup`), `k8up_skip_without_annotation` (the operator's
BACKUP_SKIP_WITHOUT_ANNOTATION; default false). Not evaluated: Velero resource policies
(volumePolicies in a ConfigMap), whether a snapshot location exists, claims created by
operators (CloudNativePG volumes are BAK004's business). A claim that deliberately holds
nothing worth keeping (a cache) is exempted with `gitops-checker.io/ignore: BAK001` and a
reason.

Passing (namespace erp-prod labelled `gitops-checker.io/tier: critical`):

    apiVersion: velero.io/v1
    kind: Schedule
    metadata: {name: erp-hourly, namespace: velero}
    spec:
      schedule: "0 * * * *"
      template: {includedNamespaces: [erp-prod], ttl: 720h}
    ---
    apiVersion: v1
    kind: PersistentVolumeClaim
    metadata: {name: filestore, namespace: erp-prod}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 50Gi}}}

Failing: the same claim with the schedule's template set to
`{includedNamespaces: [erp-prod], snapshotVolumes: false}` — "PersistentVolumeClaim
erp-prod/filestore is not backed up by any schedule; considered: Velero Schedule
velero/erp-hourly (snapshotVolumes is false and no file-system backup applies …)".
"""

from __future__ import annotations

from collections.abc import Iterator

from checker.model import Manifest, Violation
from checker.pyrules import Estate, RuleContext

from ._helpers import COVERAGE_OPTIONS, coverage_map, describe

METADATA = {
    "id": "BAK001",
    "name": "volume-not-backed-up",
    "category": "backup",
    "severity": "high",
    "scope": "estate",
    "kinds": ["/PersistentVolumeClaim", "apps/StatefulSet", "velero.io/Schedule",
              "k8up.io/Schedule"],
    "tier_severity": {"critical": "critical", "standard": "high", "nonprod": "low"},
    "options": dict(COVERAGE_OPTIONS),
    "remediation": "Back the volume up: include its namespace (and persistentvolumeclaims) in "
                   "a Velero Schedule whose selector matches the claim's labels and which "
                   "snapshots volumes or uses file-system backup, or add a k8up Schedule with "
                   "a backup section to the namespace; remove k8up.io/backup=false or "
                   "velero.io/exclude-from-backup=true if the volume matters.",
    "references": [
        "https://velero.io/docs/main/resource-filtering/",
        "https://velero.io/docs/main/file-system-backup/",
        "https://velero.io/docs/main/api-types/schedule/",
        "https://docs.k8up.io/k8up/references/annotations.html",
        "https://docs.k8up.io/k8up/how-tos/schedules.html",
    ],
}


def check(estate: Estate, ctx: RuleContext) -> Iterator[tuple[Manifest, Violation]]:
    found = coverage_map(estate, ctx.options)
    for volume in found.volumes:
        if not ctx.requirement(volume.manifest, "backup_required"):
            continue
        items = found.of(volume)
        if any(item.covered for item in items):
            continue
        if items:
            considered = f"considered: {describe(items)}"
        else:
            considered = ("the estate has no Velero Schedule and no k8up Schedule in "
                          f"namespace {volume.namespace}")
        yield volume.manifest, Violation(
            f"{volume.display()} is not backed up by any schedule; {considered}",
            volume.pointer,
            {"considered": [{"schedule": item.schedule.display(), "reason": item.reason}
                            for item in items]})
