"""Where rules come from, gathered into one `RuleSet`.

Sources, in order: the packs bundled under `rules/`, packs installed as Python entry points
(group `gitops_checker.packs`, each naming a module whose directory is a pack), policy
directories given with `--policy` or the config's `policies`, and Gatekeeper templates and
constraints found in the scanned repository. A pack is a directory with a `pack.yaml`,
Python rule modules, Rego modules and `tests/`.

Anything that cannot be used (a module that does not import, a policy that does not convert,
a duplicate id) becomes an error entry naming the file and line; the rest still runs.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from checker import __version__
from checker.builtin import BUILTIN_SOURCES
from checker.discover import Candidate
from checker.installed import installed, pack_entry_points
from checker.load import is_object, load, read_text
from checker.model import Manifest, RuleInfo, ToolError
from checker.parse import Document, parse_json, parse_yaml
from checker.pyrules import PythonRule, RuleLoadError, deferred_rule, read_rule_module
from checker.rego.convert import RegoConversionError
from checker.rego.evaluate import RegoPolicies
from checker.rego.gatekeeper import read_constraints, read_templates
from checker.rego.policies import (
    PolicyProblem,
    RegoModule,
    RegoRule,
    RuleHead,
    conftest_rules,
    find_policy_files,
    has_exception_rule,
    merge_data,
    read_module,
)
from checker.resources import RULES_DIR

if TYPE_CHECKING:
    from checker.cache import JsonCache
    from checker.config import Config

BUNDLED_RULES = RULES_DIR
DEFAULT_NAMESPACES = ("main",)
RESERVED_DATA_KEYS = frozenset({"inventory", "gitops_checker"})


@dataclass(frozen=True, slots=True)
class Pack:
    name: str
    path: Path
    description: str
    origin: str  # bundled, entry point, policy directory


@dataclass
class RuleSet:
    python: list[PythonRule] = field(default_factory=list)
    rego: RegoPolicies = field(default_factory=RegoPolicies)
    packs: list[Pack] = field(default_factory=list)
    errors: list[ToolError] = field(default_factory=list)
    pack_of: dict[str, str] = field(default_factory=dict)
    source_of: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    documentation: dict[str, str] = field(default_factory=dict)
    rego_heads: dict[tuple[str, str], RegoRule] = field(default_factory=dict)

    def infos(self) -> dict[str, RuleInfo]:
        found = {rule.info.id: rule.info for rule in self.python}
        found.update((info.id, info) for info in self.rego.infos())
        return found


@dataclass(frozen=True)
class RuleSources:
    """What to load: extra policy directories and which conftest packages count."""

    policy_dirs: Sequence[Path] = ()
    namespaces: Sequence[str] = DEFAULT_NAMESPACES
    all_namespaces: bool = False
    bundled: bool = True
    entry_points: bool = True
    config_dirs: Sequence[Path] = ()
    """Policy directories the checked repository's own config names. Their Rego and data
    are loaded (OPA is sandboxed); their Python rules are code that the change under check
    can alter, so they run only when the operator says so (`trust_config_code`)."""
    trust_config_code: bool = False

    @classmethod
    def for_config(cls, config: Config, root: Path, policy_dirs: Sequence[Path] = (),
                   entry_points: bool = True) -> RuleSources:
        """The sources a check of `root` with `config` uses (`policy_dirs`: --policy)."""
        return cls(policy_dirs=tuple(policy_dirs), namespaces=config.policy_namespaces,
                   all_namespaces=config.all_namespaces, bundled=config.bundled_packs,
                   entry_points=entry_points,
                   config_dirs=tuple(root / p for p in config.policies),
                   trust_config_code=config.trust_config_code)


def load_rules(sources: RuleSources, *, root: Path,
               estate: Sequence[Manifest] = ()) -> RuleSet:
    return load_packs(sources, root=root).with_estate(estate)


@dataclass
class LoadedPacks:
    """The packs' rules, before the estate's Gatekeeper constraints and templates are known
    (`with_estate` adds them): a check loads these while the estate loads."""

    rules: RuleSet
    gatekeeper_objects: list[Manifest]
    """Templates and constraints the packs hold."""
    problems: list[PolicyProblem]

    def rego_modules(self) -> dict[str, str]:
        """The Rego the rule set will hold when the estate brings no templates of its own:
        the packs' modules and their ConstraintTemplates' (path → source)."""
        modules = {m.path: m.source for m in self.rules.rego.modules}
        templates, _ = read_templates(self.gatekeeper_objects)
        modules.update((m.path, m.source) for t in templates.values() for m in t.modules)
        return modules

    def with_estate(self, estate: Sequence[Manifest]) -> RuleSet:
        """The whole rule set: the estate's constraints and templates, then the packs'.
        Once per `LoadedPacks`."""
        rules, problems = self.rules, self.problems
        gatekeeper_objects = [*estate, *self.gatekeeper_objects]
        templates, template_problems = read_templates(gatekeeper_objects)
        constraints, constraint_problems = read_constraints(gatekeeper_objects, templates)
        problems += template_problems + constraint_problems
        for template in templates.values():
            rules.rego.modules.extend(template.modules)
        for constraint in constraints:
            location = constraint.manifest.location
            if _register(rules, constraint.info, location.path or "-", location.line, None):
                rules.rego.constraints.append(constraint)
                rules.documentation[constraint.info.id] = constraint.info.description
        rules.errors.extend(ToolError("policy", p.message, p.path, p.line) for p in problems)
        return rules


def load_packs(sources: RuleSources, *, root: Path,
               notes_cache: JsonCache | None = None) -> LoadedPacks:
    """`notes_cache`: where Python rules' notes are kept between runs (see `_load_pack`)."""
    rules = RuleSet()
    rules.source_of.update((rule_id, (path, None)) for rule_id, path in
                           BUILTIN_SOURCES.items())  # reserved: no pack may reuse them
    problems: list[PolicyProblem] = []
    gatekeeper_objects: list[Manifest] = []
    packs: list[Pack] = []
    if sources.bundled and BUNDLED_RULES.is_dir():
        packs += [_read_pack(p, "bundled", problems, root) for p in sorted(BUNDLED_RULES.iterdir())
                  if (p / "pack.yaml").is_file()]
    if sources.entry_points:
        packs += _entry_point_packs(problems, root, notes_cache)
    untrusted: set[Path] = set()
    for directory, trusted in [*((d, False) for d in sources.config_dirs),
                               *((d, True) for d in sources.policy_dirs)]:
        if not directory.is_dir():
            problems.append(PolicyProblem("policy directory does not exist",
                                          _display(directory, root)))
            continue
        if (directory / "pack.yaml").is_file():
            packs.append(_read_pack(directory, "policy directory", problems, root))
        else:
            packs.append(Pack(directory.name, directory, "", "policy directory (conftest)"))
        if not trusted and not sources.trust_config_code:
            untrusted.add(directory)
    rules.packs = packs
    for pack in packs:
        every_package = pack.origin != "policy directory (conftest)" or sources.all_namespaces
        _load_pack(pack, rules, problems, gatekeeper_objects, root,
                   None if every_package else set(sources.namespaces),
                   python=pack.path not in untrusted, notes_cache=notes_cache)
    return LoadedPacks(rules, gatekeeper_objects, problems)


def _read_pack(path: Path, origin: str, problems: list[PolicyProblem], root: Path) -> Pack:
    manifest = path / "pack.yaml"
    shown = _display(manifest, root)
    data: Any = None
    text = read_text(Candidate(shown, manifest))
    if isinstance(text, ToolError):
        problems.append(PolicyProblem(text.message, shown, text.line))
    else:
        docs = [d for d in parse_yaml(text)]
        if docs and isinstance(docs[0], Document):
            data = docs[0].data
        elif docs and not isinstance(docs[0], Document):
            problems.append(PolicyProblem(docs[0].message, shown, docs[0].line))
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        problems.append(PolicyProblem("pack.yaml must be a mapping with a `name`", shown, 1))
        data = {"name": path.name}
    return Pack(data["name"], path, str(data.get("description") or ""), origin)


def _entry_point_packs(problems: list[PolicyProblem], root: Path,
                       notes_cache: JsonCache | None) -> list[Pack]:
    packs: list[Pack] = []
    if not installed(notes_cache).packs:
        return packs  # (known without opening every distribution's metadata)
    for entry in pack_entry_points():
        try:
            module = entry.load()
        except Exception as exc:  # noqa: BLE001 - a broken plug-in must not stop the run
            problems.append(PolicyProblem(f"entry point {entry.name} ({entry.value}) cannot "
                                          f"be loaded: {type(exc).__name__}: {exc}",
                                          f"<entry point {entry.name}>"))
            continue
        directory = Path(getattr(module, "__file__", "") or "").parent
        if not (directory / "pack.yaml").is_file():
            problems.append(PolicyProblem(f"entry point {entry.name}: {directory} has no "
                                          "pack.yaml", f"<entry point {entry.name}>"))
            continue
        packs.append(_read_pack(directory, "entry point", problems, root))
    return packs


def _display(path: Path, root: Path) -> str:
    """Policy files are named relative to the root, else to the working directory (where
    `--policy` paths were typed), else absolutely; bundled ones as `rules/…`."""
    path = path.resolve()
    if path.is_relative_to(BUNDLED_RULES):
        return "rules/" + path.relative_to(BUNDLED_RULES).as_posix()
    for base in (root.resolve(), Path.cwd().resolve()):
        if path.is_relative_to(base):
            return path.relative_to(base).as_posix()
    return path.as_posix()


def _load_pack(pack: Pack, rules: RuleSet, problems: list[PolicyProblem],
               gatekeeper_objects: list[Manifest], root: Path,
               namespaces: set[str] | None, python: bool = True,
               notes_cache: JsonCache | None = None) -> None:
    """`python=False`: the pack's Python rules are reported as not run, never imported.
    With `notes_cache`, rules noted by an earlier run of the same pack files are made from
    those notes; their modules are imported when the run needs them (`ready_rules`)."""
    rule_files = [(path, _display(path, root)) for path in sorted(pack.path.glob("*.py"))
                  if not path.name.startswith(("_", "test_"))]
    noting = notes_cache is not None and python and bool(rule_files)
    notes_key = _python_files_key(pack) if noting else None
    noted = notes_cache.get(notes_key) if notes_cache is not None and notes_key is not None \
        else None
    deferred = _deferred_rules(noted, rule_files, pack) if noted is not None else None
    notes: dict[str, Any] | None = {} if noting and deferred is None else None
    for path, shown in rule_files:
        if not python:
            problems.append(PolicyProblem(
                "Python rule not run: the checked repository's config names this policy "
                "directory, and its Python code is not run unless trusted "
                "(--trust-config-code; docs/security.md)", shown))
            continue
        try:
            if deferred is not None:
                rule = deferred[path.name]
            else:
                rule, note = read_rule_module(path, shown, pack=pack.name)
                if notes is not None:
                    notes[path.name] = note
        except RuleLoadError as exc:
            problems.append(PolicyProblem(exc.message, exc.path, exc.line))
            notes = None  # (an error is found again by importing, every run)
            continue
        if _register(rules, rule.info, shown, rule.line, pack.name):
            rules.python.append(rule)
            rules.documentation[rule.info.id] = rule.documentation
    if notes and notes_cache is not None and notes_key is not None and \
            _survives_json(notes) and _python_files_key(pack) == notes_key:
        notes_cache.put(notes_key, notes)
    rego_files, other_files = find_policy_files(pack.path)
    texts: list[tuple[str, str]] = []
    for path in rego_files:
        if path.name.endswith("_test.rego"):
            continue
        shown = _display(path, root)
        text = read_text(Candidate(shown, path))
        if isinstance(text, ToolError):
            problems.append(PolicyProblem(text.message, shown, text.line))
            continue
        texts.append((shown, text))
    modules = _rego_modules(texts, pack, problems, notes_cache)
    rules.rego.modules.extend(modules)
    for module in modules:
        if namespaces is not None and module.package not in namespaces:
            continue
        if has_exception_rule(module):
            rules.rego.exception_packages.add(module.package)
        for rego_rule in conftest_rules(module):
            key = (rego_rule.package, rego_rule.name)
            first = rules.rego_heads.get(key)
            if first is not None:
                # The same rule spread over several files (or policy directories) is one
                # OPA rule: one identity, or it is refused.
                if first.info.id != rego_rule.info.id:
                    rules.errors.append(ToolError(
                        "rules", f"rule data.{key[0]}.{key[1]} has two ids: {first.info.id} "
                        f"({first.path}:{first.line}) and {rego_rule.info.id}; OPA merges "
                        "them into one rule, so give each its own name (deny_<suffix>)",
                        rego_rule.path, rego_rule.line))
                continue
            rules.rego_heads[key] = rego_rule
            if _register(rules, rego_rule.info, rego_rule.path, rego_rule.line, pack.name):
                rules.rego.rules.append(rego_rule)
                rules.documentation[rego_rule.info.id] = _rego_documentation(module,
                                                                             rego_rule.name)
    # Bundled packs' data files are defaults (settings such as TLS entry points) that the
    # estate's own policy directories may override; other data files must agree.
    target = rules.rego.default_data if pack.origin == "bundled" else rules.rego.data
    _load_data_files(other_files, target, problems, gatekeeper_objects, root)


_NOTES_FORMAT = 1


def _deferred_rules(noted: Any, rule_files: Sequence[tuple[Path, str]], pack: Pack
                    ) -> dict[str, PythonRule] | None:
    """The pack's rules made from an earlier run's notes (by file name: how a file is shown
    depends on the run's root); None unless every one can be."""
    if not isinstance(noted, dict) or sorted(noted) != sorted(p.name for p, _ in rule_files):
        return None
    try:
        return {path.name: deferred_rule(noted[path.name], path, shown, pack=pack.name)
                for path, shown in rule_files}
    except RuleLoadError:
        return None


def _python_files_key(pack: Pack) -> str | None:
    """What a pack's rule notes are kept by: every Python file under the pack's directory
    (rules, their helpers), by content; None when one cannot be read."""
    try:
        return _notes_key("python-rule-notes", pack, [
            (path.relative_to(pack.path).as_posix(), path.read_bytes())
            for path in sorted(pack.path.rglob("*.py"))])
    except (OSError, ValueError):
        return None


def _notes_key(kind: str, pack: Pack, parts: Iterable[tuple[str, bytes]]) -> str:
    """A digest of (name, content) pairs of a pack, with this checker's and Python's
    versions: an earlier run's notes are used only for the very same files."""
    digest = hashlib.blake2b(
        f"{kind}\0{_NOTES_FORMAT}\0{__version__}\0{sys.version_info[:2]}\0{pack.name}\0"
        f"{pack.path}\0".encode("utf-8", "surrogatepass"), digest_size=20)
    for name, content in parts:
        shown = name.encode("utf-8", "surrogatepass")
        digest.update(len(shown).to_bytes(8, "big") + shown)
        digest.update(len(content).to_bytes(8, "big") + content)
    return digest.hexdigest()


def _rego_modules(texts: Sequence[tuple[str, str]], pack: Pack,
                  problems: list[PolicyProblem], notes_cache: JsonCache | None
                  ) -> list[RegoModule]:
    """The pack's modules (shown as, source), converted and scanned; with `notes_cache`, as an
    earlier run noted them for the same sources (conversion and scanning are most of the
    time it takes to load the bundled packs)."""
    key = None
    if notes_cache is not None and texts:
        key = _notes_key("rego-module-notes", pack,
                         [(shown, text.encode("utf-8", "surrogatepass")) for shown, text in texts])
        noted = _modules_from_notes(notes_cache.get(key), texts, pack)
        if noted is not None:
            return noted
    modules: list[RegoModule] = []
    notes: list[dict[str, Any]] | None = []
    for shown, text in texts:
        try:
            module = read_module(text, shown, pack=pack.name)
        except RegoConversionError as exc:
            problems.append(PolicyProblem(exc.message, exc.path or shown, exc.line))
            notes = None  # (found again by converting, every run)
            continue
        modules.append(module)
        if notes is not None:
            notes.append({"package": module.package,
                          "source": None if module.source == text else module.source,
                          "rules": [[h.name, h.line, h.metadata] for h in module.rules],
                          "package_metadata": module.package_metadata})
    if key is not None and notes is not None and notes_cache is not None and \
            _survives_json(notes):
        notes_cache.put(key, notes)
    return modules


def _modules_from_notes(noted: Any, texts: Sequence[tuple[str, str]], pack: Pack
                        ) -> list[RegoModule] | None:
    if not isinstance(noted, list) or len(noted) != len(texts):
        return None
    modules = []
    try:
        for note, (shown, text) in zip(noted, texts, strict=True):
            heads = tuple(RuleHead(name, line, metadata) for name, line, metadata in note["rules"]
                          if isinstance(name, str) and isinstance(line, int)
                          and isinstance(metadata, dict))
            source = note["source"] if note["source"] is not None else text
            if len(heads) != len(note["rules"]) or not isinstance(note["package"], str) or \
                    not isinstance(source, str) or not isinstance(note["package_metadata"], dict):
                return None
            modules.append(RegoModule(shown, note["package"], source, heads,
                                      note["package_metadata"], pack.name))
    except (KeyError, TypeError, ValueError):
        return None
    return modules


def _survives_json(value: Any) -> bool:
    """Whether `value` comes back from JSON as it is (tuples, for one, do not)."""
    try:
        return bool(json.loads(json.dumps(value)) == value)
    except (TypeError, ValueError):
        return False


def _rego_documentation(module: RegoModule, name: str) -> str:
    head = next(h for h in module.rules if h.name == name)
    parts = [str(head.metadata.get("title") or ""), str(head.metadata.get("description") or "")]
    return "\n\n".join(p for p in parts if p) or f"Rego rule data.{module.package}.{name}"


def _load_data_files(paths: Iterable[Path], target: dict[str, Any],
                     problems: list[PolicyProblem],
                     gatekeeper_objects: list[Manifest], root: Path) -> None:
    """Data files merge under `data`; files of Kubernetes objects (Gatekeeper templates and
    constraints) are read as objects instead."""
    object_files = []
    for path in paths:
        shown = _display(path, root)
        text = read_text(Candidate(shown, path))
        if isinstance(text, ToolError):
            problems.append(PolicyProblem(text.message, shown, text.line))
            continue
        entries = list(parse_json(text) if path.suffix == ".json" else parse_yaml(text))
        bad = [e for e in entries if not isinstance(e, Document)]
        if bad:
            problems.extend(PolicyProblem(e.message, shown, e.line) for e in bad
                            if not isinstance(e, Document))
            continue
        docs = [e.data for e in entries if isinstance(e, Document) and e.data is not None]
        if any(is_object(d) for d in docs):
            object_files.append(Candidate(shown, path))  # its objects, read with positions
        for doc in docs:
            if is_object(doc):
                continue
            if not isinstance(doc, dict):
                problems.append(PolicyProblem("a data file must hold mappings", shown))
                continue
            reserved = sorted(k for k in doc if k in RESERVED_DATA_KEYS)
            if reserved:
                problems.append(PolicyProblem(
                    f"data key(s) {', '.join(reserved)} are reserved (the checker fills "
                    "data.inventory and data.gitops_checker); rename them", shown))
                doc = {k: v for k, v in doc.items() if k not in RESERVED_DATA_KEYS}
            merge_data(target, doc, shown, problems)
    if object_files:
        loaded = load(object_files)
        gatekeeper_objects.extend(loaded.manifests)
        # A data mapping next to objects in one file was merged above, not an error here.
        problems.extend(PolicyProblem(e.message, e.path or "-", e.line) for e in loaded.errors
                        if e.kind != "not-an-object")


def _register(rules: RuleSet, info: RuleInfo, path: str, line: int | None,
              pack: str | None) -> bool:
    """Record a rule's origin; a second rule with a known id is refused, loudly."""
    if info.id in rules.source_of:
        first_path, first_line = rules.source_of[info.id]
        known = ", ".join(sorted(rules.source_of))
        rules.errors.append(ToolError(
            "rules", f"duplicate rule id {info.id}: already defined at {first_path}:"
            f"{first_line or 1}; this one is not loaded (known ids: {known})", path, line))
        return False
    infos = rules.infos()
    names = {infos[i].name: i for i in rules.source_of if i in infos}
    if info.name in names and names[info.name] != info.id:
        rules.errors.append(ToolError(
            "rules", f"rule {info.id} uses the name {info.name!r}, already the name of "
            f"{names[info.name]}; names must be unique too", path, line))
    rules.source_of[info.id] = (path, line)
    if pack is not None:
        rules.pack_of[info.id] = pack
    return True


def python_options(rules: RuleSet, configured: Mapping[str, Mapping[str, Any]]
                   ) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Options from the config for each Python rule; unknown option names are problems."""
    by_id = {r.info.id: r for r in rules.python}
    resolved: dict[str, dict[str, Any]] = {}
    problems = []
    for rule_id, options in configured.items():
        rule = by_id.get(rule_id)
        if rule is None:
            if options:
                problems.append(f"rule {rule_id} has no options (only Python rules do)")
            continue
        unknown = sorted(set(options) - set(rule.options))
        if unknown:
            problems.append(f"rule {rule_id}: unknown option {', '.join(unknown)} (known: "
                            f"{', '.join(sorted(rule.options)) or 'none'})")
        resolved[rule_id] = dict(options)
    return resolved, problems
