"""The drift rules: how a difference between repository and cluster is reported."""

from __future__ import annotations

from checker.model import RuleInfo, Severity

_BY_TIER = {"critical": Severity.HIGH, "standard": Severity.MEDIUM, "nonprod": Severity.LOW}

RULES = {
    rule.id: rule for rule in (
        RuleInfo("DRF001", "drift-missing", Severity.MEDIUM, "drift",
                 "An object the repository declares is not in the cluster: it was deleted "
                 "by hand, never synced, or its sync failed.",
                 "drift", "Sync the application (or apply the manifest); if the object "
                 "should not exist, remove it from the repository.", None, _BY_TIER),
        RuleInfo("DRF002", "drift-extra", Severity.MEDIUM, "drift",
                 "An object in the cluster carries this estate's ownership marks (the "
                 "tracking label, or the marks of one of its Argo CD Applications or Flux "
                 "objects) but the repository does not declare it: it was created by hand, "
                 "or removed from the repository without being pruned.",
                 "drift", "Delete it from the cluster (enable pruning), or declare it in the "
                 "repository.", None, _BY_TIER),
        RuleInfo("DRF003", "drift-modified", Severity.MEDIUM, "drift",
                 "A field of a declared object has another value in the cluster, is missing "
                 "there, or is set there without being declared (with evidence from "
                 "managedFields or the last-applied configuration). The finding names the "
                 "manager, operation and time of the last write to the live value.",
                 "drift", "Re-sync to restore the declared value, or change the repository "
                 "if the live value is the one wanted; ignore fields a controller owns by "
                 "configuring `drift.ignore`.", None, _BY_TIER),
        RuleInfo("DRF004", "drift-compared-client-side", Severity.INFO, "drift",
                 "Server-side diff was asked for, but the server refused the dry-run apply "
                 "(it needs `patch` rights): the object was compared client-side instead.",
                 "drift", "Grant `patch` on the resource to the identity running the check, "
                 "or drop --server-side-diff."),
    )
}
