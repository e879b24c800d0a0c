"""Rules written in Python: one module per rule, metadata as data, `check` yields violations.

    \"\"\"Ingress terminates TLS.

    (what the rule checks, why, and a passing and a failing example)
    \"\"\"
    from checker.pyrules import RuleContext
    from checker.model import Manifest, Violation

    METADATA = {
        "id": "TLS001", "name": "ingress-without-tls", "category": "tls",
        "severity": "high", "kinds": ["networking.k8s.io/Ingress"],
        "options": {"allowed_hosts": []},
        "remediation": "Add spec.tls with a certificate for every host.",
        "references": ["https://kubernetes.io/docs/concepts/services-networking/ingress/#tls"],
    }

    def check(manifest: Manifest, ctx: RuleContext) -> Iterator[Violation]:
        ...

With `"scope": "estate"`, `check(estate, ctx)` sees every object at once and yields
`(manifest, violation)` pairs: rules that relate objects (a backup schedule to the volumes it
covers) are written that way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import io
import re
import sys
import traceback
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from checker.model import Manifest, RuleInfo, Severity, ToolError, Violation
from checker.resources import SCHEMAS_DIR, schema_errors
from checker.tiers import TierResolver

T = TypeVar("T")

RULE_ID = re.compile(r"^[A-Z][A-Z0-9]{1,9}[0-9]{3}$")
"""Python rule ids: a short upper-case prefix and three digits (TLS001, SOD012)."""

_METADATA_SCHEMA = SCHEMAS_DIR / "rule-metadata.schema.json"


@dataclass(frozen=True)
class Estate:
    """Every object of the run, for rules that look beyond the object at hand."""

    manifests: Sequence[Manifest]

    @cached_property
    def namespaces(self) -> Mapping[str, Manifest]:
        return {m.resource.name: m for m in self.manifests
                if m.resource.kind == "Namespace" and m.resource.group == ""}

    @cached_property
    def _by_kind(self) -> Mapping[tuple[str, str], list[Manifest]]:
        index: dict[tuple[str, str], list[Manifest]] = {}
        for manifest in self.manifests:
            index.setdefault((manifest.resource.group, manifest.resource.kind), []).append(
                manifest)
        return index

    @cached_property
    def _shared(self) -> dict[Hashable, Any]:
        return {}

    def shared(self, key: Hashable, compute: Callable[[], T]) -> T:
        """What several rules work out from the whole estate (a coverage map, a workload's
        replica range), computed once per run by the first rule that asks. Treat it as
        read-only: every rule that asks gets the same object."""
        if key not in self._shared:
            self._shared[key] = compute()
        return self._shared[key]  # type: ignore[no-any-return]

    @cached_property
    def _by_kind_and_namespace(self) -> Mapping[tuple[str, str, str], list[Manifest]]:
        index: dict[tuple[str, str, str], list[Manifest]] = {}
        for manifest in self.manifests:
            resource = manifest.resource
            index.setdefault((resource.group, resource.kind, resource.namespace or ""),
                             []).append(manifest)
        return index

    def of_kind_in(self, namespace: str, kind: str, group: str) -> list[Manifest]:
        """Objects of a kind and group declared in one namespace ("": none), in load order:
        what a rule looking for an object's neighbours asks for each object."""
        return list(self._by_kind_and_namespace.get((group, kind, namespace), ()))

    def of_kind(self, kind: str, group: str | None = None) -> list[Manifest]:
        """Objects of a kind (in any group unless `group` is given), in load order."""
        if group is not None:
            return list(self._by_kind.get((group, kind), ()))
        return [m for (g, k), items in self._by_kind.items() if k == kind for m in items]


@dataclass(frozen=True)
class RuleContext:
    """What a rule may consult besides the object: its options and the estate."""

    options: Mapping[str, Any]
    estate: Estate
    tiers: TierResolver

    def tier(self, manifest: Manifest) -> str:
        """critical, standard or nonprod (see checker.tiers for where it comes from)."""
        return self.tiers.tier(manifest)

    def requirement(self, manifest: Manifest, key: str) -> Any:
        """What the object's tier requires: `ctx.requirement(m, "rpo_hours")`."""
        return self.tiers.requirement(manifest, key)


@dataclass(frozen=True)
class PythonRule:
    info: RuleInfo
    check: Callable[..., Iterable[Any]]
    path: str
    line: int
    documentation: str
    scope: str = "object"
    kinds: frozenset[tuple[str | None, str]] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    references: tuple[str, ...] = ()
    pack: str | None = None
    source: Path | None = None
    """The module's file (`path` is how reports name it), for the line where a rule raised."""

    def applies_to(self, group: str, kind: str) -> bool:
        """Whether the rule judges objects of this API group and kind."""
        return self.kinds is None or (group, kind) in self.kinds or (None, kind) in self.kinds


class RuleLoadError(Exception):
    def __init__(self, message: str, path: str, line: int | None = None):
        super().__init__(message)
        self.message, self.path, self.line = message, path, line


def load_rule_module(path: Path, display: str, *, pack: str | None) -> PythonRule:
    """Import a rule module from a file and read its METADATA. Raises `RuleLoadError`."""
    return read_rule_module(path, display, pack=pack)[0]


def read_rule_module(path: Path, display: str, *, pack: str | None
                     ) -> tuple[PythonRule, dict[str, Any]]:
    """`load_rule_module`, and the rule's notes: what `deferred_rule` needs to make the same
    rule again without importing it (its METADATA, documentation and METADATA's line)."""
    module = _import_rule_module(path, display, pack)
    metadata, documentation, line = _declared(module, display)
    rule = _rule_from_metadata(metadata, documentation, line, getattr(module, "check", None),
                               display, pack)
    notes = {"metadata": metadata, "documentation": documentation, "line": line}
    return dataclasses.replace(rule, source=path), notes


def deferred_rule(notes: Any, path: Path, display: str, *, pack: str | None) -> PythonRule:
    """The rule `read_rule_module` noted, its module imported only when `ready_rules` (or a
    first call of its `check`) asks: the import is left for later in the run. Raises
    `RuleLoadError` for notes that do not describe a rule."""
    if not isinstance(notes, dict) or not isinstance(notes.get("metadata"), dict) or \
            not isinstance(notes.get("documentation"), str) or \
            not isinstance(notes.get("line"), int):
        raise RuleLoadError("unreadable notes", display)
    rule = _rule_from_metadata(notes["metadata"], notes["documentation"], notes["line"],
                               DeferredCheck(path, display, pack), display, pack)
    return dataclasses.replace(rule, source=path)


class DeferredCheck:
    """A rule's `check` whose module is imported on first use."""

    def __init__(self, path: Path, display: str, pack: str | None) -> None:
        self.path, self.display, self.pack = path, display, pack
        self._check: Callable[..., Iterable[Any]] | None = None

    def load(self) -> Callable[..., Iterable[Any]]:
        """The module's `check`. Raises `RuleLoadError`."""
        if self._check is None:
            module = _import_rule_module(self.path, self.display, self.pack)
            check = getattr(module, "check", None)
            if not callable(check):
                raise RuleLoadError("no check(manifest, ctx) function", self.display)
            self._check = check
        return self._check

    def __call__(self, *args: Any) -> Iterable[Any]:
        return self.load()(*args)


def ready_rules(rules: Sequence[PythonRule]) -> tuple[list[PythonRule], list[ToolError]]:
    """`rules` with their deferred modules imported; one that fails to import is an error
    (as it would have been when the packs were loaded) and is not run."""
    ready: list[PythonRule] = []
    errors: list[ToolError] = []
    for rule in rules:
        if isinstance(rule.check, DeferredCheck):
            try:
                rule = dataclasses.replace(rule, check=rule.check.load())
            except RuleLoadError as exc:
                errors.append(ToolError("policy", exc.message, exc.path, exc.line))
                continue
        ready.append(rule)
    return ready, errors


def _import_rule_module(path: Path, display: str, pack: str | None) -> ModuleType:
    package = _pack_package(pack or "local", path.parent)
    module_name = f"{package}.{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise RuleLoadError("cannot be imported as a Python module", display)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        with _silenced():
            spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - third-party code: report anything
        sys.modules.pop(module_name, None)
        raise RuleLoadError(f"import failed: {type(exc).__name__}: {exc}", display,
                            _line_in(exc, path)) from None
    return module


def _pack_package(pack: str, directory: Path) -> str:
    """A package for the pack's directory, so that rules can share helpers with
    `from ._helpers import …` (modules starting with `_` are not rules)."""
    import types

    root = sys.modules.setdefault("gitops_checker_rules",
                                  types.ModuleType("gitops_checker_rules"))
    if not hasattr(root, "__path__"):
        root.__path__ = []
    name = "gitops_checker_rules." + re.sub(r"\W", "_", pack)
    existing = sys.modules.get(name)
    if existing is None or list(getattr(existing, "__path__", [])) != [str(directory)]:
        module = types.ModuleType(name)
        module.__path__ = [str(directory)]
        module.__package__ = name
        sys.modules[name] = module
    return name


def _declared(module: ModuleType, display: str) -> tuple[dict[str, Any], str, int]:
    """A rule module's METADATA, documentation (its docstring) and METADATA's line."""
    metadata = getattr(module, "METADATA", None)
    if not isinstance(metadata, dict):
        raise RuleLoadError("no METADATA dictionary at module level", display, 1)
    return metadata, (module.__doc__ or "").strip(), _assignment_line(module, "METADATA")


def _rule_from_metadata(metadata: dict[str, Any], documentation: str, line: int, check: Any,
                        display: str, pack: str | None) -> PythonRule:
    problems = schema_errors(_METADATA_SCHEMA, metadata)
    if problems:
        explained = "; ".join(
            f"{'.'.join(map(str, e.absolute_path)) or 'METADATA'}: {e.message}"
            for e in problems)
        raise RuleLoadError(f"METADATA is invalid: {explained}", display, line)
    if not callable(check):
        raise RuleLoadError("no check(manifest, ctx) function", display, line)
    if not documentation:
        raise RuleLoadError("the module docstring (the rule's documentation) is empty",
                            display, 1)
    description = metadata.get("description") or documentation.splitlines()[0]
    references = tuple(metadata.get("references") or ())
    info = RuleInfo(
        id=metadata["id"], name=metadata["name"], severity=Severity(metadata["severity"]),
        category=metadata["category"], description=description, engine="python",
        remediation=metadata.get("remediation", ""),
        help_uri=references[0] if references else None,
        tier_severity={tier: Severity(value)
                       for tier, value in (metadata.get("tier_severity") or {}).items()},
    )
    kinds = None
    if metadata.get("kinds"):
        kinds = frozenset(_kind_key(k) for k in metadata["kinds"])
    return PythonRule(info, check, display, line, documentation,
                      metadata.get("scope", "object"), kinds,
                      dict(metadata.get("options") or {}), references, pack)


def _kind_key(text: str) -> tuple[str | None, str]:
    """`Ingress` (any group), `networking.k8s.io/Ingress`, or `/Service` (core group)."""
    if "/" not in text:
        return None, text
    group, _, kind = text.rpartition("/")
    return group, kind


def _assignment_line(module: ModuleType, name: str) -> int:
    try:
        source = Path(module.__file__ or "").read_text(encoding="utf-8")
    except OSError:
        return 1
    for number, text in enumerate(source.splitlines(), 1):
        if text.startswith((f"{name} ", f"{name}:")):
            return number
    return 1


def _line_in(exc: BaseException, path: Path) -> int | None:
    """The deepest line of `path` in the traceback: where a rule went wrong."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve() == path.resolve():
            line = frame.lineno
    if isinstance(exc, SyntaxError) and exc.lineno:
        line = exc.lineno
    return line


@dataclass(frozen=True, slots=True)
class PythonOutcome:
    rule: RuleInfo
    violation: Violation
    manifest: Manifest


def run_rules(rules: Sequence[PythonRule], estate: Estate, tiers: TierResolver,
              options: Mapping[str, Mapping[str, Any]],
              subjects: Sequence[Manifest] | None = None
              ) -> tuple[list[PythonOutcome], list[ToolError]]:
    """Every rule on every object it applies to (per-object rules: on `subjects`, default
    all); a rule that raises is an error entry and the other rules (and the same rule on
    other objects) still run."""
    outcomes: list[PythonOutcome] = []
    errors: list[ToolError] = []
    targets = estate.manifests if subjects is None else subjects
    by_kind: dict[tuple[str, str], list[int]] = {}  # (group, kind): positions in `targets`
    for position, manifest in enumerate(targets):
        by_kind.setdefault((manifest.resource.group, manifest.resource.kind), []).append(
            position)
    for rule in rules:
        ctx = RuleContext({**rule.options, **options.get(rule.info.id, {})}, estate, tiers)
        if rule.scope == "estate":
            outcomes.extend(_run_estate_rule(rule, estate, ctx, errors))
            continue
        with _silenced():
            for manifest in _applicable(rule, targets, by_kind):
                try:
                    for item in rule.check(manifest, ctx):
                        violation = _as_violation(item)
                        if violation is None:
                            errors.append(_yield_error(rule, item, manifest))
                        else:
                            outcomes.append(PythonOutcome(rule.info, violation, manifest))
                except (Exception, SystemExit) as exc:  # noqa: BLE001 - a broken rule must not stop the run
                    errors.append(_rule_error(rule, exc, manifest))
    return outcomes, errors


def _applicable(rule: PythonRule, targets: Sequence[Manifest],
                by_kind: Mapping[tuple[str, str], list[int]]) -> Sequence[Manifest]:
    """The targets of a per-object rule's kinds, in their order (asked once per kind)."""
    if rule.kinds is None:
        return targets
    positions = sorted(position for (group, kind), found in by_kind.items()
                       if rule.applies_to(group, kind) for position in found)
    return [targets[position] for position in positions]


def _run_estate_rule(rule: PythonRule, estate: Estate, ctx: RuleContext,
                     errors: list[ToolError]) -> Iterator[PythonOutcome]:
    members = {id(m) for m in estate.manifests}
    try:
        with _silenced():
            for item in rule.check(estate, ctx):
                pair = item if isinstance(item, tuple) and len(item) == 2 else (None, None)
                manifest, violation = pair[0], _as_violation(pair[1])
                if not isinstance(manifest, Manifest) or id(manifest) not in members \
                        or violation is None:
                    errors.append(_yield_error(rule, item, None))
                    continue
                yield PythonOutcome(rule.info, violation, manifest)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - a broken rule must not stop the run
        errors.append(_rule_error(rule, exc, None))


@contextlib.contextmanager
def _silenced() -> Iterator[None]:
    """A rule's prints would corrupt JSON/SARIF on stdout and may echo Secret values: they
    are dropped."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        yield


def _as_violation(value: Any) -> Violation | None:
    if isinstance(value, Violation):
        return value
    if isinstance(value, str):
        return Violation(value)
    return None


def _yield_error(rule: PythonRule, item: Any, manifest: Manifest | None) -> ToolError:
    expected = "(manifest, Violation) pairs of the estate's objects" if rule.scope == "estate" \
        else "Violation objects"
    subject = f" on {manifest.resource.display()}" if manifest is not None else ""
    return ToolError("rule", f"rule {rule.info.id} ({rule.path}) yielded a "
                     f"{type(item).__name__}{subject}; it must yield {expected}",
                     manifest.location.path if manifest else None,
                     manifest.location.line if manifest else None)


def _rule_error(rule: PythonRule, exc: BaseException, manifest: Manifest | None) -> ToolError:
    source = rule.source if rule.source is not None else Path(rule.path)
    where = _line_in(exc, source) if source.exists() else None
    subject = f" on {manifest.resource.display()}" if manifest is not None else ""
    location = f" ({rule.path}:{where})" if where else f" ({rule.path})"
    # An estate-wide rule has no object to name: the error is located in the rule's code.
    return ToolError("rule", f"rule {rule.info.id} raised {type(exc).__name__}{subject}"
                     f"{location}: {exc}",
                     manifest.location.path if manifest else rule.path,
                     manifest.location.line if manifest else where)
