"""The drift command: declared objects (rendered) against live state, as findings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from checker import __version__
from checker.builtin import BUILTIN_RULES
from checker.config import Config
from checker.drift.compare import ABSENT, CHANGED, NOT_LIVE
from checker.drift.engine import (
    EXTRA,
    MISSING,
    MODIFIED,
    AttributedField,
    DriftEngine,
    DriftResult,
    ObjectDrift,
    describe_value,
)
from checker.drift.live import LiveState, TypeKey, read_snapshot
from checker.drift.normalize import SecretMask
from checker.drift.rules import RULES
from checker.drift.settings import DriftSettings
from checker.errors import UsageError
from checker.findings import Stamper
from checker.load import LoadResult, Locator
from checker.model import Finding, Manifest, Report, ToolError, Violation
from checker.packs import RuleSources, load_rules
from checker.pipeline import load_declared, resolve_rule_settings, settle_findings
from checker.pyrules import Estate
from checker.schema import SchemaSource
from checker.secrets import MIN_GUESSED_LENGTH, Redactor, secret_texts
from checker.tiers import TierResolver

DEFAULT_NAMESPACE = "default"
"""Where `kubectl apply` puts a namespaced object that names no namespace."""


@dataclass(frozen=True, slots=True)
class LiveSource:
    """Where live state comes from: snapshot files, or a cluster (kubeconfig/context)."""

    snapshots: tuple[Path, ...] = ()
    kubeconfig: Path | None = None
    context: str | None = None
    timeout: float = 30.0
    cluster: str | None = None
    """The estate's name for the cluster read (an Argo CD destination name or server, a
    Flux kubeConfig reference): only objects apps deploy there, and objects no app places,
    are compared. Needed when the estate deploys to several clusters."""


@dataclass
class DriftRun:
    report: Report
    result: DriftResult
    live: LiveState
    declared: list[Manifest] = field(default_factory=list)


def run_drift(paths: Sequence[str], *, root: Path, config: Config, live_source: LiveSource,
              baseline: Path | None = None, today: dt.date | None = None,
              cluster: Any = None) -> DriftRun:
    """`cluster` is an already connected `checker.drift.live.Cluster` (tests, reuse)."""
    estate_load = load_declared(paths, root=root, config=config,
                                default_namespace=config.namespace or DEFAULT_NAMESPACE)
    loaded = estate_load.loaded
    declared = _on_cluster(loaded.manifests, live_source.cluster, config.drift)
    errors = list(loaded.errors)
    mask = SecretMask()
    declared_secrets = [text for m in loaded.manifests for text in secret_texts(m.obj)]
    Redactor(declared_secrets)  # made now: an internal error from here on is masked too
    source = SchemaSource(config.kubernetes_version, strict=False)
    for manifest in declared:
        if manifest.resource.kind == "CustomResourceDefinition":
            try:
                source.add_estate_crd(manifest.obj)
            except (ValueError, TypeError, KeyError, RecursionError):
                pass  # `check` reports a broken CRD; drift compares without its schema
    settings = config.drift
    scanned = _scanned_types(settings.extra_kinds)
    owned = cluster is None and not live_source.snapshots
    if owned:
        from checker.drift.live import Cluster

        cluster = Cluster.connect(kubeconfig=live_source.kubeconfig,
                                  context=live_source.context, timeout=live_source.timeout)
    try:
        live = _read_live(live_source, declared, scanned, mask, cluster)
        # Every live value, for an internal error's message only (`secrets.recording`)…
        Redactor(text for texts in live.secret_texts.values() for text in texts
                 if len(text) >= MIN_GUESSED_LENGTH)
        # … and those a report may quote, for everything else.
        redactor = Redactor([*declared_secrets, *_live_secrets(declared, live)])
        errors.extend(live.errors)
        engine = DriftEngine(settings, source, mask)
        predictor = _ServerSide(cluster, live, mask) \
            if settings.server_side and cluster is not None else None
        result = engine.diff(declared, live, scanned, predictor)
    finally:
        if owned:
            cluster.close()
    for (group, kind), (why, manifests) in sorted(result.unchecked.items()):
        errors.append(ToolError(
            "live", f"{len(manifests)} declared {kind} object(s) ({group or 'core'}) not "
            f"compared: {why}"))

    # The rules are loaded (not run) so that the config may name pack rules.
    rules = load_rules(RuleSources.for_config(config, root), root=root,
                       estate=loaded.manifests)
    known = {**BUILTIN_RULES, **rules.infos()}
    locator = Locator(_with_snapshot(loaded, live.loaded))
    stamper = Stamper(position=locator.position, locate=locator.locate,
                      settings=resolve_rule_settings(config, known, rules.pack_of),
                      today=today or dt.date.today(),
                      tier_of=TierResolver(config.tiers, Estate(declared).namespaces).explain,
                      redactor=redactor)
    findings = [finding for drift in result.drifts
                for finding in _findings(drift, stamper, live.source)]
    if predictor is not None:
        findings.extend(predictor.notes(stamper))
    findings = settle_findings(findings, config=config, known=known, root=root,
                               stamper=stamper, baseline=baseline)
    report = Report(
        findings=tuple(findings),
        errors=tuple(sorted({redactor.error(e) for e in errors}, key=ToolError.sort_key)),
        rules={f.rule_id: known[f.rule_id] for f in findings if f.rule_id in known},
        files=loaded.files,
        objects=len(declared),
        tool_version=__version__,
    )
    return DriftRun(report, result, live, declared)


def _live_secrets(declared: Sequence[Manifest], live: LiveState) -> list[str]:
    """The live secret values a report could quote: those of the live counterparts of declared
    objects (only their fields are quoted), from 8 characters (the usernames, database names
    and ports of Secrets, `odoo`, `admin`, would mask those words in every message)."""
    texts = []
    for manifest in declared:
        found = live.find(manifest.key)
        if found is not None:
            texts += [text for text in live.secret_texts.get(found.key, ())
                      if len(text) >= MIN_GUESSED_LENGTH]
    return texts


def _with_snapshot(declared: LoadResult, snapshot: LoadResult | None) -> LoadResult:
    """One view over declared and snapshot files, so that an object only the cluster has is
    located in the dump it came from."""
    if snapshot is None:
        return declared
    merged = LoadResult(sources={**snapshot.sources, **declared.sources},
                        chunks={**snapshot.chunks, **declared.chunks})
    return merged


def _scanned_types(extra_kinds: Sequence[str]) -> set[TypeKey]:
    types = set()
    for text in extra_kinds:
        group, _, kind = text.rpartition("/")
        types.add((group, kind))
    return types


def _on_cluster(manifests: Sequence[Manifest], cluster: str | None,
                settings: DriftSettings) -> list[Manifest]:
    """The objects meant for the cluster being read: those apps deploy there, those the
    config's `drift.clusters` places there, and those nothing places. An estate that deploys
    to several clusters must say which one is read: comparing all of them with one cluster
    would report the others' objects as missing (and one cluster's copy of a shared object
    would hide the other's drift)."""
    placed = [(m, m.cluster or settings.cluster_of(m.location.path)) for m in manifests]
    clusters = sorted({name for _, name in placed if name})
    if cluster is None:
        if len(clusters) > 1:
            raise UsageError(f"the estate deploys to {len(clusters)} clusters "
                             f"({', '.join(clusters)}): choose the one read with --cluster")
        return list(manifests)
    if cluster not in clusters:
        known = ", ".join(clusters) or "none: no Argo CD or Flux app names a cluster"
        raise UsageError(f"--cluster {cluster}: no app of the estate deploys there "
                         f"(clusters: {known})")
    return [m for m, name in placed if name in (None, cluster)]


def _read_live(live_source: LiveSource, declared: Sequence[Manifest], scanned: set[TypeKey],
               mask: SecretMask, cluster: Any) -> LiveState:
    if live_source.snapshots:
        return read_snapshot(list(live_source.snapshots), Path.cwd(), mask)
    from checker.drift.live import read_cluster

    wanted: dict[TypeKey, list[str]] = {key: [] for key in scanned}
    namespaces: dict[TypeKey, set[str]] = {}
    for manifest in declared:
        resource = manifest.resource
        key = (resource.group, resource.kind)
        version = resource.api_version.rpartition("/")[2]
        versions = wanted.setdefault(key, [])
        if version not in versions:
            versions.append(version)
        if resource.namespace:
            namespaces.setdefault(key, set()).add(resource.namespace)
    return read_cluster(cluster, wanted, namespaces, mask)


SERVER_SIDE_MANAGER = "gitops-checker"
"""The field manager named in dry-run applies (nothing is persisted under it)."""


class _ServerSide:
    """Asks the server what applying each declared object would give (`dryRun=All`); when it
    refuses, the object is compared client-side and a note (DRF004) says so, per kind."""

    def __init__(self, cluster: Any, live: LiveState, mask: SecretMask) -> None:
        self._cluster = cluster
        self._live = live
        self._mask = mask
        self._refused: dict[TypeKey, tuple[str, list[Manifest]]] = {}

    def __call__(self, declared: Manifest, live: Manifest) -> Mapping[str, Any] | None:
        from checker.drift.live import LiveError
        from checker.drift.normalize import masked_live

        resource = declared.resource
        type_key = (resource.group, resource.kind)
        api = self._live.resources.get(type_key)
        if api is None:
            return None
        body = dict(declared.obj)
        metadata = dict(body.get("metadata") or {})
        if api.namespaced and resource.namespace:
            metadata["namespace"] = resource.namespace
        body["metadata"] = metadata
        body["apiVersion"] = api.api_version  # the version the live object was read in
        path = f"{api.path(live.resource.namespace)}/{quote(resource.name, safe='')}"
        try:
            answer = self._cluster.apply_dry_run(path, body, SERVER_SIDE_MANAGER)
        except LiveError as exc:
            self._refused.setdefault(type_key, (str(exc), []))[1].append(declared)
            return None
        return masked_live(answer, self._mask)

    def notes(self, stamper: Stamper) -> list[Finding]:
        notes = []
        for (_, kind), (why, manifests) in sorted(self._refused.items()):
            violation = Violation(
                f"{len(manifests)} {kind} object(s) compared client-side: the server refused "
                f"the dry-run apply ({why})", details={"objects": len(manifests)})
            notes.append(stamper.stamp(RULES["DRF004"], violation, manifests[0]))
        return notes


def _findings(drift: ObjectDrift, stamper: Stamper, live_source: str) -> list[Finding]:
    if drift.status == MISSING and drift.declared is not None:
        resource = drift.declared.resource
        violation = Violation(f"{resource.display()} is declared but not in the cluster",
                              details={"drift": MISSING, "live_source": live_source})
        return [stamper.stamp(RULES["DRF001"], violation, drift.declared)]
    if drift.status == EXTRA and drift.live is not None:
        resource = drift.live.resource
        violation = Violation(
            f"{resource.display()} is in the cluster ({drift.mark}) but not declared",
            details={"drift": EXTRA, "owned_by": drift.mark, "live_source": live_source,
                     **_live_writer(drift.live)})
        return [stamper.stamp(RULES["DRF002"], violation, drift.live)]
    if drift.status == MODIFIED and drift.declared is not None:
        return [stamper.stamp(RULES["DRF003"], _field_violation(item, live_source),
                              drift.declared) for item in drift.fields]
    return []


def _field_violation(item: AttributedField, live_source: str) -> Violation:
    field_drift = item.drift
    declared, live = field_drift.declared, field_drift.live
    if field_drift.change == CHANGED:
        text = f"{field_drift.path}: declared {describe_value(declared)}, live " \
               f"{describe_value(live)}"
    elif field_drift.change == NOT_LIVE:
        text = f"{field_drift.path}: declared {describe_value(declared)}, absent in the cluster"
    else:
        text = f"{field_drift.path}: live {describe_value(live)}, not declared"
    details: dict[str, Any] = {
        "drift": MODIFIED, "change": field_drift.change, "path": field_drift.path,
        "live_pointer": field_drift.live_pointer, "live_source": live_source,
    }
    if declared is not ABSENT:
        details["declared"] = declared
    if live is not ABSENT:
        details["live"] = live
    if item.owners:
        owner = item.owners[0]
        text += f" — changed by {owner.describe()}"
        details["changed_by"] = _owner_details(owner)
        if len(item.owners) > 1:
            details["also_owned_by"] = [_owner_details(o) for o in item.owners[1:]]
    elif field_drift.evidence:
        text += f" ({field_drift.evidence})"
    if field_drift.evidence:
        details["evidence"] = field_drift.evidence
    return Violation(text, field_drift.pointer, details,
                     identity=f"{field_drift.change}:{field_drift.path}")


def _owner_details(owner: Any) -> dict[str, Any]:
    return {key: value for key, value in (
        ("manager", owner.manager), ("operation", owner.operation), ("time", owner.time),
        ("subresource", owner.subresource)) if value}


def _live_writer(live: Manifest) -> Mapping[str, Any]:
    """Who created or last wrote an extra object, from its managedFields."""
    from checker.drift.managed import Ownership

    entries = [e for e in Ownership.of(live.obj).managers() if not e.subresource]
    if not entries:
        return {}
    latest = max(entries, key=lambda e: e.time or "")
    return {"changed_by": _owner_details(latest)}
