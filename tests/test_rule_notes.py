"""Python rules known from an earlier run's notes: their modules are imported only when the
run needs them, and the run judges as one that imported them all up front."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import pytest

from checker.cache import JsonCache
from checker.config import Config
from checker.model import Report
from checker.packs import RuleSources, load_packs
from checker.pipeline import run_check
from checker.pyrules import DeferredCheck

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "fixtures" / "estates" / "odoo-finance"

RULE = '''"""Config maps carry a team label.

A config map without `team` has no owner to ask.
"""
from checker.model import Violation
from {helpers} import LABEL

METADATA = {{
    "id": "{rule_id}", "name": "{name}", "category": "policy", "severity": "low",
    "kinds": ["/ConfigMap"], "options": {{"label": LABEL}},
}}


def check(manifest, ctx):
    if ctx.options["label"] not in (manifest.obj.get("metadata", {{}}).get("labels") or {{}}):
        yield Violation("no {{}} label".format(ctx.options["label"]), "/metadata/labels")
'''


def _pack(tmp_path: Path, *, label: str = "team") -> tuple[Path, str]:
    """A trusted policy directory with two rules sharing a helper, under a pack name no
    other test uses (its modules are new to this process)."""
    name = f"notes{uuid.uuid4().hex[:12]}"
    pack = tmp_path / "policy"
    pack.mkdir()
    (pack / "pack.yaml").write_text(f"name: {name}\n", encoding="utf-8")
    (pack / "_helpers.py").write_text(f"LABEL = {label!r}\n", encoding="utf-8")
    for number in (1, 2):
        (pack / f"own00{number}.py").write_text(RULE.format(
            helpers="._helpers", rule_id=f"OWN00{number}", name=f"own-rule-{number}"),
            encoding="utf-8")
    estate = tmp_path / "estate"
    estate.mkdir()
    (estate / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
                                    "  namespace: ns1\n  labels: {owner: x}\ndata: {a: b}\n",
                                    encoding="utf-8")
    return pack, name


def _modules(name: str) -> set[str]:
    return {m for m in sys.modules if m.startswith(f"gitops_checker_rules.{name}.own")}


def _as_a_new_process(name: str) -> None:
    """Forget the pack's modules, helpers too, as the next run's process never had them."""
    for module in [m for m in sys.modules if m.startswith(f"gitops_checker_rules.{name}.")]:
        del sys.modules[module]


def _notes_entries(directory: Path) -> list[Path]:
    """The cache's entries holding rule notes (others hold schema definitions)."""
    return [p for p in directory.glob("*.json")
            if all(str(k).endswith(".py") for k in json.loads(p.read_text(encoding="utf-8")))]


def _found(report: Report) -> list[tuple[str, str]]:
    return [(f.rule_id, f.message) for f in report.findings]


def _check(estate: Path, pack: Path, cache: JsonCache | None, **config: object) -> Report:
    return run_check([str(estate)], root=estate, config=Config(bundled_packs=False, **config),
                     policy_dirs=[pack], derived_cache=cache).report


def test_noted_rules_are_imported_when_run(tmp_path: Path) -> None:
    pack, name = _pack(tmp_path)
    cache = JsonCache(tmp_path / "cache")
    (tmp_path / "cache").mkdir()
    sources = RuleSources(policy_dirs=[pack], bundled=False)
    first = load_packs(sources, root=tmp_path, notes_cache=cache)
    assert _modules(name) == {f"gitops_checker_rules.{name}.own001",
                              f"gitops_checker_rules.{name}.own002"}
    for module in _modules(name):
        del sys.modules[module]
    again = load_packs(sources, root=tmp_path, notes_cache=cache)
    assert not _modules(name), "a noted rule was imported while the packs loaded"
    assert all(isinstance(r.check, DeferredCheck) for r in again.rules.python)
    assert [(r.info, r.line, r.kinds, r.options, r.documentation) for r in again.rules.python] \
        == [(r.info, r.line, r.kinds, r.options, r.documentation) for r in first.rules.python]
    report = _check(tmp_path / "estate", pack, cache)
    assert _found(report) == [("OWN001", "no team label"), ("OWN002", "no team label")]
    assert len(_modules(name)) == 2


def test_a_run_from_notes_judges_as_one_without(tmp_path: Path) -> None:
    """The bundled packs on the example estate: no cache, notes made, notes used."""
    cache = JsonCache(tmp_path)
    plain = run_check([str(EXAMPLE)], root=EXAMPLE, config=Config())
    for _ in ("making notes", "from notes"):
        noted = run_check([str(EXAMPLE)], root=EXAMPLE, config=Config(), derived_cache=cache)
        assert noted.report.findings == plain.report.findings
        assert noted.report.errors == plain.report.errors


def test_a_changed_helper_is_read_again(tmp_path: Path) -> None:
    pack, name = _pack(tmp_path)
    cache = JsonCache(tmp_path / "cache")
    (tmp_path / "cache").mkdir()
    assert _found(_check(tmp_path / "estate", pack, cache))[0] == ("OWN001", "no team label")
    (pack / "_helpers.py").write_text("LABEL = 'owner'\n", encoding="utf-8")  # option default
    _as_a_new_process(name)
    sources = RuleSources(policy_dirs=[pack], bundled=False)
    rules = load_packs(sources, root=tmp_path, notes_cache=cache).rules.python
    assert [r.options for r in rules] == [{"label": "owner"}] * 2
    assert not any(isinstance(r.check, DeferredCheck) for r in rules)
    assert _found(_check(tmp_path / "estate", pack, cache)) == []


def test_a_rule_that_does_not_import_is_never_noted(tmp_path: Path) -> None:
    pack, _ = _pack(tmp_path)
    (pack / "own003.py").write_text('"""Broken."""\nraise RuntimeError("boom")\n',
                                    encoding="utf-8")
    cache = JsonCache(tmp_path / "cache")
    (tmp_path / "cache").mkdir()
    for _ in range(2):
        report = _check(tmp_path / "estate", pack, cache)
        assert [(e.message, e.line) for e in report.errors] == [
            ("import failed: RuntimeError: boom", 2)]
        assert {rule for rule, _ in _found(report)} == {"OWN001", "OWN002"}
    assert not _notes_entries(tmp_path / "cache")


def test_an_import_that_fails_later_is_an_error_and_the_rest_run(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
    """Notes made while a module the rule imports was there; gone in the next run."""
    pack, name = _pack(tmp_path)
    extra = tmp_path / "site"
    extra.mkdir()
    module = f"dep{uuid.uuid4().hex[:10]}"
    (extra / f"{module}.py").write_text("VALUE = 1\n", encoding="utf-8")
    rule = pack / "own002.py"
    rule.write_text(rule.read_text(encoding="utf-8").replace(
        "from checker.model import Violation", f"from checker.model import Violation\nimport {module}"),
        encoding="utf-8")
    monkeypatch.syspath_prepend(str(extra))
    cache = JsonCache(tmp_path / "cache")
    (tmp_path / "cache").mkdir()
    assert len(_found(_check(tmp_path / "estate", pack, cache))) == 2
    for loaded in [*_modules(name), module]:
        del sys.modules[loaded]
    (extra / f"{module}.py").unlink()
    report = _check(tmp_path / "estate", pack, cache)
    assert _found(report) == [("OWN001", "no team label")]
    (error,) = report.errors
    line = rule.read_text(encoding="utf-8").splitlines().index(f"import {module}") + 1
    assert (error.kind, error.message, error.line) == (
        "policy", f"import failed: ModuleNotFoundError: No module named '{module}'", line)
    assert error.path is not None and error.path.endswith("own002.py")


def test_a_switched_off_rule_is_never_imported(tmp_path: Path) -> None:
    pack, name = _pack(tmp_path)
    cache = JsonCache(tmp_path / "cache")
    (tmp_path / "cache").mkdir()
    _check(tmp_path / "estate", pack, cache)
    for module in _modules(name):
        del sys.modules[module]
    from checker.findings import RuleSettings

    report = _check(tmp_path / "estate", pack, cache,
                    rules={"OWN002": RuleSettings(enabled=False)})
    assert _found(report) == [("OWN001", "no team label")]
    assert _modules(name) == {f"gitops_checker_rules.{name}.own001"}


def test_damaged_or_unfaithful_notes_are_not_used(tmp_path: Path) -> None:
    pack, name = _pack(tmp_path)
    cache = JsonCache(tmp_path / "cache")
    (tmp_path / "cache").mkdir()
    _check(tmp_path / "estate", pack, cache)
    (entry,) = _notes_entries(tmp_path / "cache")
    notes = json.loads(entry.read_text(encoding="utf-8"))
    unfaithful = {key: {**note, "metadata": {**note["metadata"], "severity": "extreme"}}
                  for key, note in notes.items()}
    for damaged in ({}, {key: {"metadata": []} for key in notes}, [1], unfaithful):
        entry.write_text(json.dumps(damaged), encoding="utf-8")
        assert len(_found(_check(tmp_path / "estate", pack, cache))) == 2
    # Options that JSON would turn into something else (a tuple) are not noted at all.
    (pack / "_helpers.py").write_text("LABEL = ('team',)\n", encoding="utf-8")
    _as_a_new_process(name)
    entry.unlink()
    sources = RuleSources(policy_dirs=[pack], bundled=False)
    load_packs(sources, root=tmp_path, notes_cache=cache)
    assert not _notes_entries(tmp_path / "cache")


V0_MODULE = '''package gitops_checker.own_rego

# METADATA
# custom:
#   id: OWNR01
#   severity: low
deny[msg] {
  input.kind == "ConfigMap"
  not input.metadata.labels.team
  msg := "config map without team"
}
'''


def test_rego_modules_from_notes_are_the_modules_read(tmp_path: Path) -> None:
    """Bundled packs and a v0 module (noted converted); a module that does not convert is
    never noted; damaged notes are read again."""
    pack = tmp_path / "rego"
    pack.mkdir()
    (pack / "own.rego").write_text(V0_MODULE, encoding="utf-8")
    cache = JsonCache(tmp_path / "cache")
    (tmp_path / "cache").mkdir()
    sources = RuleSources(policy_dirs=[pack], all_namespaces=True)
    read = load_packs(sources, root=tmp_path).rules.rego
    for _ in ("noting", "from notes"):
        noted = load_packs(sources, root=tmp_path, notes_cache=cache).rules.rego
        assert noted.modules == read.modules
        assert noted.rules == read.rules and noted.exception_packages == read.exception_packages
    own = next(m for m in noted.modules if m.path.endswith("own.rego"))
    assert "deny contains msg if" in own.source
    entries = [p for p in (tmp_path / "cache").glob("*.json")
               if "gitops_checker.own_rego" in p.read_text(encoding="utf-8")]
    assert len(entries) == 1
    entries[0].write_text('[{"package": 1}]', encoding="utf-8")
    assert load_packs(sources, root=tmp_path, notes_cache=cache).rules.rego.modules == \
        read.modules
    (pack / "bad.rego").write_text("package p\n\nok {\n  every := 1\n}\n", encoding="utf-8")
    before = set((tmp_path / "cache").glob("*.json"))
    loaded = load_packs(sources, root=tmp_path, notes_cache=cache)
    assert any("every" in p.message for p in loaded.problems)
    assert not [p for p in set((tmp_path / "cache").glob("*.json")) - before
                if "gitops_checker.own_rego" in p.read_text(encoding="utf-8")]
