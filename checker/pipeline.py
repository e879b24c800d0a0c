"""The check pipeline: discover → load → validate → stamp → Report."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import hashlib
import queue
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checker import __version__, crds
from checker.builtin import BUILTIN_RULES
from checker.cache import JsonCache, RenderCache
from checker.config import Config
from checker.deprecations import RULES as DEPRECATION_RULES
from checker.deprecations import deprecation_findings
from checker.discover import HELM_ARCHIVE, HELM_CHART, Skipped, discover, relative_display
from checker.errors import ConfigError
from checker.exceptions import RULES as EXCEPTION_RULES
from checker.exceptions import (
    annotation_problems,
    apply_baseline,
    apply_config_exceptions,
    expired_annotation,
    read_baseline,
)
from checker.findings import RuleSettings, Stamper
from checker.kinds import is_cluster_scoped
from checker.load import LoadResult, Locator, available_cores, load
from checker.model import Finding, Manifest, Report, RuleInfo, Severity, ToolError, Violation
from checker.packs import LoadedPacks, RuleSet, RuleSources, load_packs, python_options
from checker.pyrules import Estate, ready_rules, run_rules
from checker.rego.engine import RegoEngine, RegoError
from checker.rego.evaluate import Outcome, RegoChecker, RegoPolicies
from checker.rego.gatekeeper import Constraint, constraint_crd
from checker.rego.gatekeeper import inventory as gatekeeper_inventory
from checker.rego.match import MatchError, constraint_matches, kinds_match
from checker.rego.worker import WorkerEngine, discard_spare, preload_spare, start_spare
from checker.render.stage import RULES as RENDER_RULES
from checker.render.stage import (
    EstateLoad,
    load_estate,
    not_rendered_error,
    not_rendered_violation,
)
from checker.schema import RULES as SCHEMA_RULES
from checker.schema import SchemaSource, SchemaViolation, validate
from checker.secrets import Redactor
from checker.tiers import RULES as TIER_RULES
from checker.tiers import TierResolver, rego_data, tier_label_violations

ProgressHook = Callable[[int, int], None]
"""Called with (files done, files total)."""


@dataclass
class CheckRun:
    """What a check produced, with what the reporters need and what was skipped."""

    report: Report
    skipped: list[Skipped] = field(default_factory=list)
    manifests: list[Manifest] = field(default_factory=list)
    rules: RuleSet | None = None
    inputs: frozenset[Path] = frozenset()
    """The estate's files this run read (for the result cache; rules and config apart)."""
    cacheable: bool = True
    """False when the run read files `inputs` cannot list."""


@dataclass(frozen=True)
class Focus:
    """The files a change touched (root-relative POSIX paths), as a pre-commit hook gets
    them: the whole estate is loaded (tiers, references and estate-wide rules need it), but
    per-object checks run only on objects these files declare or patch, and only findings
    located in them are reported."""

    files: frozenset[str]

    def touches(self, manifest: Manifest) -> bool:
        return manifest.location.path in self.files or \
            any(path in self.files for path, _ in manifest.patches)

    def holds(self, finding: Finding) -> bool:
        return finding.location.path in self.files


def run_check(paths: Sequence[str], *, root: Path, config: Config,
              progress: ProgressHook | None = None, policy_dirs: Sequence[Path] = (),
              baseline: Path | None = None, today: dt.date | None = None,
              focus: Focus | None = None, with_rules: bool = True,
              render_cache: RenderCache | None = None,
              derived_cache: JsonCache | None = None) -> CheckRun:
    """`with_rules=False` is the schema stage alone (rules are loaded, so that the config
    may name them, but not evaluated). `derived_cache`: where what is worked out from the
    checker's own files is kept between runs (see `SchemaSource`, `load_packs`)."""
    today = today or dt.date.today()
    # What is loaded stays alive for the whole run: the garbage collector need not walk it
    # again and again while it grows, nor afterwards (at 10,000 documents that cost ~1 s of
    # the load and ~4 s of locating findings). Collection pauses during the load, then
    # everything alive is frozen; the end of the run thaws it, so a long-lived process
    # (tests, a server) collects it as usual afterwards. (The command line's process
    # collects nothing at all: `checker.cli.run`.)
    collecting = gc.isenabled()
    gc.disable()
    try:
        own_worker = with_rules and not config.opa_url
        if own_worker:
            start_spare()  # the OPA worker starts up while the estate loads
        # The packs first: their Rego modules are parsed and compiled by the worker while
        # the estate loads (the estate's own templates, if any, are added after it).
        packs = load_packs(RuleSources.for_config(config, root, policy_dirs), root=root,
                           notes_cache=derived_cache)
        if own_worker:
            modules = packs.rego_modules()
            if modules:
                preload_spare(modules)
        estate_load = load_declared(paths, root=root, config=config, progress=progress,
                                    render_cache=render_cache)
        gc.freeze()
        if collecting:
            gc.enable()
        return _checked(estate_load, packs, root=root, config=config, baseline=baseline,
                        today=today, focus=focus, with_rules=with_rules,
                        derived_cache=derived_cache)
    finally:
        discard_spare()  # not taken: no Rego rule was evaluated
        gc.unfreeze()
        if collecting:
            gc.enable()


def _checked(estate_load: EstateLoad, packs: LoadedPacks, *, root: Path, config: Config,
             baseline: Path | None, today: dt.date, focus: Focus | None,
             with_rules: bool, derived_cache: JsonCache | None = None) -> CheckRun:
    """The rest of `run_check`, on the loaded estate."""
    loaded = estate_load.loaded
    source = SchemaSource(config.kubernetes_version, strict=config.strict,
                          reach_cache=derived_cache)
    errors = list(loaded.errors)
    # The Rego phase starts before the Secret values are gathered (a walk of every object,
    # ~0.2 s at 10,000 documents), so that its worker evaluates meanwhile. An error before
    # they are is masked all the same: gathering them registers them for what is printed.
    try:
        errors.extend(_register_crds(source, loaded.manifests, root, config.crds))
        rules = packs.with_estate(loaded.manifests)
        if with_rules:
            errors.extend(rules.errors)
        # else: the rules are known (the config may name them) but not judged, and a broken
        # pack is the rule hook's business, not the schema hook's
        for template in {c.template.kind: c.template for c in rules.rego.constraints}.values():
            source.add_estate_crd(constraint_crd(template))

        known = {**BUILTIN_RULES, **rules.infos()}
        settings = resolve_rule_settings(config, known, rules.pack_of)
        locator = Locator(loaded)
        estate = Estate(loaded.manifests)
        tiers = TierResolver(config.tiers, estate.namespaces)
        stamper = Stamper(position=locator.position, locate=locator.locate, settings=settings,
                          today=today, tier_of=tiers.explain, defer_locations=True)
        subjects = [m for m in loaded.manifests if focus is None or focus.touches(m)]
        rego = RegoPhase(rules, estate, tiers, config, stamper, subjects) if with_rules \
            else None
    except BaseException:
        Redactor.for_estate(loaded.manifests)
        raise
    try:
        redactor = stamper.redactor = Redactor.for_estate(loaded.manifests)
        findings = list(_schema_findings(loaded, subjects, source, stamper, locator, errors))
        not_rendered = RENDER_RULES["RND001"]
        for item, partial in estate_load.not_rendered:
            if config.render.strict and not partial:
                errors.append(not_rendered_error(item))
            elif stamper.enabled(not_rendered):
                findings.append(stamper.stamp(not_rendered, not_rendered_violation(item), None,
                                              path=item.path, line=item.line))
        if rego is not None:
            # Located while the OPA workers start (Python rules' findings, while they finish).
            findings = stamper.located(findings)
            findings.extend(evaluate_rules(rules, estate, tiers, config, stamper, known, errors,
                                           subjects=subjects, rego=rego))
    except BaseException:
        if rego is not None:
            rego.cancel()  # the workers stop at their next object before the error goes on
        raise
    findings = stamper.located(findings)
    if focus is not None:
        findings = [f for f in findings if focus.holds(f)]

    findings = settle_findings(findings, config=config, known=known, root=root,
                               stamper=stamper, baseline=baseline)
    report = Report(
        findings=tuple(findings),
        errors=tuple(sorted({redactor.error(e) for e in errors}, key=ToolError.sort_key)),
        rules={f.rule_id: known[f.rule_id] for f in findings if f.rule_id in known},
        files=loaded.files,
        objects=len(loaded.manifests),
        tool_version=__version__,
    )
    crd_paths = {root / p for p in config.crds}
    return CheckRun(report, sorted(loaded.skipped, key=lambda s: s.display), loaded.manifests,
                    rules, frozenset(estate_load.inputs | crd_paths),
                    estate_load.complete_inputs)


def settle_findings(findings: list[Finding], *, config: Config,
                    known: Mapping[str, RuleInfo], root: Path, stamper: Stamper,
                    baseline: Path | None) -> list[Finding]:
    """Config exceptions, distinct fingerprints and the baseline, in that order."""
    names = {rule_id: info.name for rule_id, info in known.items()}
    _check_exception_rules(config, known)
    config_shown = relative_display(Path(config.path), root) if config.path else None
    findings, expired = apply_config_exceptions(findings, config.exceptions, names,
                                                stamper.today, config_shown)
    for rule, violation, index in expired:
        if stamper.enabled(rule):
            findings.append(stamper.stamp(rule, violation, None, path=config_shown,
                                          line=_config_line(config, index)))
    findings = list(_distinct_fingerprints(sorted(findings, key=Finding.sort_key)))
    if baseline is None and config.baseline:
        baseline = root / config.baseline
    if baseline is not None:
        # Named relative to the root when inside it, so that reports do not depend on where
        # the repository is checked out.
        findings = apply_baseline(findings, read_baseline(baseline),
                                  relative_display(baseline, root))
    return findings


def load_declared(paths: Sequence[str], *, root: Path, config: Config,
                  progress: ProgressHook | None = None,
                  default_namespace: str | None = None,
                  render_cache: RenderCache | None = None) -> EstateLoad:
    """Every object the paths declare, rendered as the deployer renders it."""
    candidates, skipped = discover(paths, root, exclude=config.exclude)
    total = len(candidates)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    charts = [root / s.display for s in skipped if s.reason in (HELM_CHART, HELM_ARCHIVE)]
    skipped = [s for s in skipped if s.reason not in (HELM_CHART, HELM_ARCHIVE)]
    estate_load = load_estate(candidates, root=root,
                              default_namespace=default_namespace or config.namespace,
                              settings=config.render, charts=charts,
                              kubernetes_version=config.kubernetes_version, progress=tick,
                              render_cache=render_cache)
    estate_load.loaded.skipped.extend(skipped)
    return estate_load


def resolve_rule_settings(config: Config, known: Mapping[str, RuleInfo],
                          pack_of: Mapping[str, str]) -> dict[str, RuleSettings]:
    """Each rule's settings: its own entry, else its pack's, else its category's.

    Config keys may name a rule by id or by name; unknown ones are errors, listing the known.
    """
    by_name = {rule.name: rule.id for rule in known.values()}
    unknown = sorted(k for k in config.rules if k not in known and k not in by_name)
    if unknown:
        listing = ", ".join(f"{r.id} ({r.name})" for r in sorted(known.values(),
                                                                  key=lambda r: r.id))
        raise ConfigError(f"config {config.path or ''}: unknown rule {', '.join(unknown)} under "
                          f"`rules`; known rules: {listing}")
    packs = set(pack_of.values())
    unknown_packs = sorted(set(config.packs) - packs)
    if unknown_packs:
        raise ConfigError(f"config {config.path or ''}: unknown pack "
                          f"{', '.join(unknown_packs)} under `packs`; known packs: "
                          f"{', '.join(sorted(packs)) or 'none'}")
    by_rule = {by_name.get(key, key): value for key, value in config.rules.items()}
    if config.unknown_kinds == "error":
        by_rule["SCH004"] = RuleSettings(severity=Severity.HIGH).over(
            by_rule.get("SCH004", RuleSettings()))
    elif config.unknown_kinds == "ignore":
        by_rule["SCH004"] = RuleSettings(enabled=False)
    resolved = {}
    for rule_id, info in known.items():
        setting = config.categories.get(info.category, RuleSettings())
        pack = pack_of.get(rule_id)
        if pack is not None and pack in config.packs:
            setting = config.packs[pack].over(setting)
        if rule_id in by_rule:
            setting = by_rule[rule_id].over(setting)
        if setting != RuleSettings():
            resolved[rule_id] = setting
    return resolved


def evaluate_rules(rules: RuleSet, estate: Estate, tiers: TierResolver, config: Config,
                   stamper: Stamper, known: Mapping[str, RuleInfo],
                   errors: list[ToolError],
                   subjects: Sequence[Manifest] | None = None,
                   rego: RegoPhase | None = None) -> list[Finding]:
    """Python rules, Rego rules, tier labels and exception hygiene over a set of objects.

    Per-object rules judge only `subjects` (default: every object); estate-wide rules
    always see the whole estate. `rego`: the Rego phase, if already started."""
    subjects = estate.manifests if subjects is None else subjects
    rego = rego or RegoPhase(rules, estate, tiers, config, stamper, subjects)
    try:
        findings = list(_python_findings(rules, estate, tiers, config, stamper, errors,
                                         subjects))
        findings.extend(_exception_findings(estate, known, stamper, stamper.today))
        invalid = TIER_RULES["TIER001"]
        if stamper.enabled(invalid):
            findings.extend(stamper.stamp(invalid, violation, manifest)
                            for manifest, violation in tier_label_violations(tiers))
    except BaseException:
        rego.cancel()
        raise
    # Lines are looked up while the OPA workers finish, not after.
    return stamper.located(findings) + rego.findings(errors)


def _python_findings(rules: RuleSet, estate: Estate, tiers: TierResolver, config: Config,
                     stamper: Stamper, errors: list[ToolError],
                     subjects: Sequence[Manifest]) -> Iterable[Finding]:
    enabled, import_errors = ready_rules([r for r in rules.python if stamper.enabled(r.info)])
    errors.extend(import_errors)
    if not enabled:
        return []
    options, problems = python_options(rules, config.rule_options)
    if problems:
        raise ConfigError("\n".join(f"config {config.path or ''}: {p}" for p in problems))
    outcomes, rule_errors = run_rules(enabled, estate, tiers, options, subjects)
    errors.extend(rule_errors)
    return [stamper.stamp(o.rule, o.violation, o.manifest) for o in outcomes]


PARALLEL_REGO_OBJECTS = 2000
"""From this many objects, Rego rules are evaluated by one OPA worker per core, each on its
share of the objects: OPA's evaluation is what bounds the phase (this process spends ~0.15
ms per object on a worker's ~1 ms), and each worker's data load runs alongside the others."""


SWITCH_INTERVAL = 0.0005


class RegoPhase:
    """Rego rules evaluated in the background: OPA workers load and answer while this
    process runs the schema stage and the Python rules (threads that mostly wait on their
    worker's pipe). `findings` waits for them and stamps what they found."""

    def __init__(self, rules: RuleSet, estate: Estate, tiers: TierResolver, config: Config,
                 stamper: Stamper, subjects: Sequence[Manifest]) -> None:
        self._stamper = stamper
        self._stop = threading.Event()
        self._interval = sys.getswitchinterval()
        self._pool: ThreadPoolExecutor | None = None
        self._futures: list[Future[list[ToolError]]] = []
        self._answers: queue.SimpleQueue[tuple[int, list[Outcome] | None]] = \
            queue.SimpleQueue()
        policies = rules.rego
        policies = dataclasses.replace(
            policies, rules=[r for r in policies.rules if stamper.enabled(r.info)],
            constraints=[c for c in policies.constraints if stamper.enabled(c.info)])
        if not policies.rules and not policies.constraints:
            return
        # Objects no rule is asked about (by the kinds rules declare) never cross into OPA;
        # one worker still starts with none, to report policies that do not compile.
        subjects = [m for m in subjects if policies.may_apply(m.obj)]
        read = policies.inventory_kinds()
        inventory = gatekeeper_inventory(
            estate.manifests if read is None else
            [m for m in estate.manifests if read and kinds_match(read, m.obj)])
        data = _tier_data(estate, tiers)
        namespaces = {name: m.obj for name, m in estate.namespaces.items()}
        workers = 1 if config.opa_url or len(subjects) < PARALLEL_REGO_OBJECTS else \
            max(1, min(available_cores(), 4))
        size = max(1, -(-len(subjects) // workers))
        parts = [subjects[i:i + size] for i in range(0, len(subjects), size)] or [subjects]
        self._pool = ThreadPoolExecutor(max_workers=len(parts),
                                        thread_name_prefix="gitops-checker-rego")
        self._futures = [self._pool.submit(self._evaluate, index, policies, config, inventory,
                                           data, namespaces, part)
                         for index, part in enumerate(parts)]
        # A thread that waited on its worker gets the interpreter back within this, not the
        # default 5 ms, while the main thread runs Python rules: answers stream in ~1 ms.
        sys.setswitchinterval(min(self._interval, SWITCH_INTERVAL))

    def _evaluate(self, part: int, policies: RegoPolicies, config: Config,
                  inventory: Mapping[str, Any], data: Mapping[str, Any],
                  namespaces: Mapping[str, Mapping[str, Any]], subjects: Sequence[Manifest]
                  ) -> list[ToolError]:
        """A thread's work: its outcomes go to `findings` as they come, then None, whatever
        happens (`findings` waits for the None of every thread)."""
        try:
            return _evaluate_rego(policies, config, inventory, data, namespaces, subjects,
                                  self._stop,
                                  lambda outcomes: self._answers.put_nowait((part, outcomes)))
        finally:
            self._answers.put_nowait((part, None))

    def cancel(self) -> None:
        """Stop asking (the run failed); waits for each worker's current objects."""
        self._stop.set()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        sys.setswitchinterval(self._interval)

    def findings(self, errors: list[ToolError]) -> list[Finding]:
        """The stamped and located findings, in object order; errors of every worker added
        (a policy error each worker reports is one error in the report). Outcomes are
        stamped and located as they arrive, while the workers evaluate the next objects."""
        found: list[list[Finding]] = [[] for _ in self._futures]
        try:
            working = len(self._futures)
            while working:
                part, outcomes = self._answers.get()
                if outcomes is None:
                    working -= 1
                    continue
                found[part].extend(self._stamper.located([
                    self._stamper.stamp(o.rule, o.violation, o.manifest,
                                        suppressed_by=o.suppressed_by) for o in outcomes]))
            for future in self._futures:
                errors.extend(future.result())
        finally:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None
            sys.setswitchinterval(self._interval)
        return [finding for part in found for finding in part]


def _evaluate_rego(policies: RegoPolicies, config: Config, inventory: Mapping[str, Any],
                   data: Mapping[str, Any], namespaces: Mapping[str, Mapping[str, Any]],
                   part: Sequence[Manifest], stop: threading.Event,
                   answer: Callable[[list[Outcome]], None]) -> list[ToolError]:
    """One OPA engine's share of the objects: outcomes are handed to `answer` a few at a
    time as they are known; the errors are returned."""
    engine: RegoEngine
    if config.opa_url:
        from checker.rego.remote import RemoteEngine

        engine = RemoteEngine(config.opa_url, timeout=config.rule_timeout)
    else:
        engine = WorkerEngine(default_timeout=config.rule_timeout)
    checker = RegoChecker(engine, policies, timeout=config.rule_timeout)
    outcomes: list[Outcome] = []
    errors: list[ToolError] = []
    asked = 0

    def matched() -> Iterator[tuple[Manifest, list[int]]]:
        for manifest in part:
            if stop.is_set():
                return
            indexes, match_errors = _matching_constraints(policies.constraints, manifest,
                                                          namespaces)
            errors.extend(match_errors)
            yield manifest, indexes

    try:
        errors.extend(checker.start(inventory, data, {(m.resource.api_version, m.resource.kind)
                                                      for m in part}))
        for found, rule_errors in checker.check_many(matched()):
            errors.extend(rule_errors)
            outcomes.extend(found)
            asked += 1
            if asked % ANSWERS_EVERY == 0 and outcomes:
                answer(outcomes)
                outcomes = []
    except RegoError as exc:
        # The engine itself is unusable (an OPA server that cannot be reached): every Rego
        # rule went unchecked, which must not look like a clean result.
        errors.append(ToolError("policy", f"Rego rules not evaluated: {exc}"))
    finally:
        if outcomes:
            answer(outcomes)
        engine.close()
    return errors


ANSWERS_EVERY = 64
"""Objects a Rego thread evaluates before it hands their outcomes over to be stamped."""


def _tier_data(estate: Estate, tiers: TierResolver) -> dict[str, Any]:
    names = {m.resource.namespace for m in estate.manifests if m.resource.namespace}
    return rego_data(tiers, names | set(estate.namespaces))


def _matching_constraints(constraints: Sequence[Constraint], manifest: Manifest,
                          namespaces: Mapping[str, Mapping[str, Any]]
                          ) -> tuple[list[int], list[ToolError]]:
    obj = manifest.obj
    resource = manifest.resource
    if resource.namespace and (obj.get("metadata") or {}).get("namespace") != \
            resource.namespace:
        obj = {**obj, "metadata": {**(obj.get("metadata") or {}),
                                   "namespace": resource.namespace}}
    scoped = is_cluster_scoped(resource.api_version, resource.kind)
    indexes, errors = [], []
    for index, constraint in enumerate(constraints):
        try:
            if constraint_matches(constraint.match, obj, namespaces, cluster_scoped=scoped):
                indexes.append(index)
        except MatchError as exc:
            location = constraint.manifest.location
            errors.append(ToolError("policy", f"constraint {constraint.info.id}: {exc}",
                                    location.path, location.line))
    return indexes, errors


def _exception_findings(estate: Estate, known: Mapping[str, RuleInfo], stamper: Stamper,
                        today: dt.date) -> Iterable[Finding]:
    expired, invalid = EXCEPTION_RULES["EXC001"], EXCEPTION_RULES["EXC002"]
    for manifest in estate.manifests:
        for violation in annotation_problems(manifest, known, today):
            rule = expired if expired_annotation(violation) else invalid
            if stamper.enabled(rule):
                yield stamper.stamp(rule, violation, manifest)


def _check_exception_rules(config: Config, known: Mapping[str, RuleInfo]) -> None:
    """An exception naming no known rule would silently accept nothing (or the wrong thing
    once a rule with that id appears): refused, listing the known ids."""
    names = {info.name for info in known.values()}
    for index, exception in enumerate(config.exceptions):
        unknown = [r for r in exception.rules if r != "*" and r not in known and r not in names]
        if unknown:
            raise ConfigError(f"config {config.path or ''}: exceptions[{index}] names unknown "
                              f"rule(s) {', '.join(unknown)}; known rules: "
                              f"{', '.join(sorted(known))}")


def _config_line(config: Config, index: int) -> int | None:
    """The line of the n-th entry under `exceptions:` in the config file, for EXC001."""
    if config.path is None:
        return None
    path = Path(config.path)  # as it was opened: relative to the working directory
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    inside, seen = False, -1
    for number, text in enumerate(lines, 1):
        if text.startswith("exceptions:"):
            inside = True
            continue
        if inside and text and not text[0].isspace() and not text.startswith("-"):
            break
        if inside and text.lstrip().startswith("- ") and \
                len(text) - len(text.lstrip()) <= 2:
            seen += 1
            if seen == index:
                return number
    return None


def _register_crds(source: SchemaSource, manifests: Iterable[Manifest], root: Path,
                   extra: Iterable[str]) -> list[ToolError]:
    errors: list[ToolError] = []
    declared = [m for m in manifests if crds.is_crd(m.obj)]
    extra_manifests: list[Manifest] = []
    missing = [p for p in extra if not (root / p).exists()]
    errors.extend(ToolError("config", f"CRD path {p!r} (config `crds`) does not exist")
                  for p in missing)
    extra_paths = [str(root / p) for p in extra if p not in missing]
    if extra_paths:
        candidates, _ = discover(extra_paths, root)
        loaded: LoadResult = load(candidates)
        errors.extend(loaded.errors)
        extra_manifests = [m for m in loaded.manifests if crds.is_crd(m.obj)]
    for manifest in [*extra_manifests, *declared]:
        try:
            source.add_estate_crd(manifest.obj)
        except (ValueError, TypeError, KeyError, RecursionError) as exc:
            errors.append(ToolError("crd", f"cannot use CRD {manifest.resource.name}: {exc}",
                                    manifest.location.path, manifest.location.line))
    return errors


def _schema_findings(loaded: LoadResult, subjects: Sequence[Manifest], source: SchemaSource,
                     stamper: Stamper, locator: Locator,
                     errors: list[ToolError]) -> Iterable[Finding]:
    """Schema findings of every object; an object that cannot be validated is an error."""
    unknown = SCHEMA_RULES["SCH004"]

    def on_unknown(manifest: Manifest) -> list[SchemaViolation]:
        if not stamper.enabled(unknown):
            return []
        return [SchemaViolation("SCH004", Violation(
            f"no schema for {manifest.resource.api_version} {manifest.resource.kind}; "
            "the object was not validated", "/kind"))]

    for manifest in subjects:
        try:
            items = validate(manifest, source, on_unknown)
        except (ValueError, OSError, RecursionError) as exc:
            # One object the validator cannot handle must not hide the rest of the estate.
            errors.append(ToolError(
                "schema-engine", f"{manifest.resource.display()}: could not be validated: "
                f"{type(exc).__name__}", manifest.location.path, manifest.location.line))
            continue
        for item in items:
            rule_id, violation = item.rule_id, item.violation
            if item.value_is_yaml11:
                rule_id, violation = _explain_yaml11(loaded, locator, manifest, violation)
            rule = SCHEMA_RULES[rule_id]
            if stamper.enabled(rule):
                yield stamper.stamp(rule, violation, manifest)
        if any(item.rule_id == "SCH005" for item in items):
            continue  # not served at all: SCH005 says so, with the replacement
        resource = manifest.resource
        for rule_id, violation in deprecation_findings(resource.api_version, resource.kind,
                                                       source.kubernetes_version):
            rule = DEPRECATION_RULES[rule_id]
            if stamper.enabled(rule):
                yield stamper.stamp(rule, violation, manifest)


def _explain_yaml11(loaded: LoadResult, locator: Locator, manifest: Manifest,
                    violation: Violation) -> tuple[str, Violation]:
    """A type error on a value only YAML 1.1 reads as non-string becomes SCH003."""
    path = manifest.location.path or ""
    ambiguous = loaded.ambiguous.get((path, manifest.doc_index))
    if not ambiguous:
        return "SCH001", violation
    line, column = locator.position(manifest, violation.pointer, value=True)
    for scalar in ambiguous:
        if (scalar.line, scalar.column) == (line, column):
            if isinstance(scalar.value, bool):
                # A YAML 1.1 boolean word (yes, on, …) reveals nothing; quote it back.
                token = scalar.text
                reading = f"unquoted `{token}` is read by Kubernetes as the boolean " \
                          f"{'true' if scalar.value else 'false'}; quote it (\"{token}\")"
                details = {**violation.details, "yaml_token": token}
            else:
                # The digits may be a secret (a PIN): describe them, never repeat them.
                reading = "an unquoted number with a leading zero is read by Kubernetes " \
                          "as an octal number; quote the value"
                details = dict(violation.details)
            return "SCH003", Violation(f"{violation.message}: {reading} to keep a string",
                                       violation.pointer, details)
    return "SCH001", violation


def _distinct_fingerprints(findings: list[Finding]) -> tuple[Finding, ...]:
    """The same object declared twice (a staging and a prod copy) must not merge into one
    alert: repeats of a fingerprint, in path order, get an occurrence suffix."""
    seen: dict[str, int] = {}
    result = []
    for finding in findings:
        count = seen.get(finding.fingerprint, 0)
        seen[finding.fingerprint] = count + 1
        if count:
            digest = hashlib.sha256(f"{finding.fingerprint}:{count}".encode()).hexdigest()[:32]
            finding = dataclasses.replace(finding, fingerprint=digest)
        result.append(finding)
    return tuple(result)
