"""`gitops-checker rules list` and `rules explain ID`: what the checker knows, from the
rules' own documentation (Python docstrings, Rego METADATA)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from checker.builtin import BUILTIN_RULES, BUILTIN_SOURCES
from checker.config import Config
from checker.errors import UsageError
from checker.model import RuleInfo
from checker.packs import RuleSet, RuleSources, load_rules


@dataclass(frozen=True)
class KnownRule:
    info: RuleInfo
    pack: str | None
    source: str | None
    documentation: str
    options: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.info.id, "name": self.info.name, "severity": self.info.severity.value,
            "category": self.info.category, "engine": self.info.engine, "pack": self.pack,
            "source": self.source, "description": self.info.description,
            "remediation": self.info.remediation, "help_uri": self.info.help_uri,
            "options": self.options,
            "tier_severity": {k: v.value for k, v in self.info.tier_severity.items()},
        }


_BUILTIN_GROUPS = {
    "checker/schema.py": "schema", "checker/deprecations.py": "schema",
    "checker/exceptions.py": "exceptions", "checker/tiers.py": "tiers",
    "checker/render/stage.py": "render", "checker/drift/rules.py": "drift",
    "checker/gitgates/rules.py": "git",
}
"""The `pack` column of the checker's own rules."""


def known_rules(config: Config, root: Path, policy_dirs: Sequence[Path], *,
                entry_points: bool = True) -> tuple[list[KnownRule], RuleSet]:
    rules = load_rules(RuleSources.for_config(config, root, policy_dirs, entry_points),
                       root=root)
    options = {r.info.id: dict(r.options) for r in rules.python}
    found = [KnownRule(info, _BUILTIN_GROUPS[BUILTIN_SOURCES[rule_id]], BUILTIN_SOURCES[rule_id],
                       info.description, {}) for rule_id, info in BUILTIN_RULES.items()]
    for info in rules.infos().values():
        path, line = rules.source_of.get(info.id, (None, None))
        found.append(KnownRule(info, rules.pack_of.get(info.id),
                               f"{path}:{line}" if path and line else path,
                               rules.documentation.get(info.id, info.description),
                               options.get(info.id, {})))
    return sorted(found, key=lambda r: r.info.id), rules


def list_rules(config: Config, root: Path, policy_dirs: Sequence[Path], fmt: str,
               out: TextIO) -> int:
    found, rules = known_rules(config, root, policy_dirs)
    if fmt == "json":
        json.dump({"rules": [r.as_json() for r in found],
                   "errors": [{"kind": e.kind, "message": e.message, "path": e.path,
                               "line": e.line} for e in rules.errors]}, out, indent=2)
        out.write("\n")
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        for column in ("ID", "NAME", "SEVERITY", "CATEGORY", "ENGINE", "PACK"):
            table.add_column(column, no_wrap=True)
        for rule in found:
            info = rule.info
            table.add_row(info.id, info.name, info.severity.value, info.category,
                          info.engine, rule.pack or "")
        console = Console(file=out, width=200 if not out.isatty() else None)
        console.print(table)
        _print_errors(rules, out)
    return 2 if rules.errors else 0


def explain_rule(config: Config, root: Path, policy_dirs: Sequence[Path], wanted: str,
                 out: TextIO) -> int:
    found, rules = known_rules(config, root, policy_dirs)
    match = [r for r in found if wanted in (r.info.id, r.info.name)]
    if not match:
        near = [r.info.id for r in found if wanted.lower() in r.info.id.lower()
                or wanted.lower() in r.info.name]
        hint = f"; did you mean {', '.join(near[:5])}?" if near else ""
        raise UsageError(f"no rule {wanted!r}{hint} (`gitops-checker rules list` shows all)")
    rule = match[0]
    info = rule.info
    out.write(f"{info.id} {info.name}\n")
    out.write(f"severity: {_severity_text(info)}   category: {info.category}   "
              f"engine: {info.engine}   pack: {rule.pack or '-'}\n")
    if rule.source:
        out.write(f"source: {rule.source}\n")
    out.write("\n" + rule.documentation.strip() + "\n")
    if info.remediation:
        out.write(f"\nRemediation: {info.remediation}\n")
    if rule.options:
        out.write("\nOptions (config `rules: {" + info.id + ": {options: …}}`):\n")
        out.writelines(f"  {key}: {json.dumps(value)}\n" for key, value in rule.options.items())
    if info.help_uri:
        out.write(f"\nReference: {info.help_uri}\n")
    _print_errors(rules, out)
    return 0


def _print_errors(rules: RuleSet, out: TextIO) -> None:
    for error in rules.errors:
        where = f"{error.path}:{error.line}: " if error.path and error.line else (
            f"{error.path}: " if error.path else "")
        out.write(f"error: {where}{error.message}\n")


CATALOGUE_HEADER = """# Rule catalogue

Generated from the rules themselves (Python docstrings and METADATA, Rego METADATA) by
`python scripts/generate_rules_doc.py`; `tests/test_rules_doc.py` fails when this file is
stale. How to write, configure and test rules: [writing-rules.md](writing-rules.md).
"""


def render_catalogue(found: Sequence[KnownRule]) -> str:
    """Markdown for every rule, grouped by pack: a summary table, then one section each."""
    packs: dict[str, list[KnownRule]] = {}
    for rule in found:
        packs.setdefault(rule.pack or "-", []).append(rule)
    lines = [CATALOGUE_HEADER]
    lines.append("| id | name | severity | category | engine | pack |")
    lines.append("|---|---|---|---|---|---|")
    for pack in sorted(packs):
        for rule in packs[pack]:
            info = rule.info
            lines.append(f"| [{info.id}](#{info.id.lower()}) | {info.name} | "
                         f"{_severity_text(info)} | {info.category} | {info.engine} | {pack} |")
    for pack in sorted(packs):
        lines.append(f"\n## Pack `{pack}`\n")
        for rule in packs[pack]:
            info = rule.info
            lines.append(f"### {info.id}\n")
            lines.append(f"**{info.name}** — severity {_severity_text(info)}, category "
                         f"{info.category}, engine {info.engine}"
                         + (f", source `{rule.source}`" if rule.source else "") + "\n")
            lines.append(_demote_headings(rule.documentation.strip()) + "\n")
            if rule.options:
                lines.append("Options (defaults):\n")
                lines.extend(f"- `{key}`: `{json.dumps(value)}`" for key, value in
                             rule.options.items())
                lines.append("")
            if info.remediation:
                lines.append(f"Remediation: {info.remediation}\n")
            if info.help_uri:
                lines.append(f"Reference: <{info.help_uri}>\n")
    return "\n".join(lines).rstrip() + "\n"


def _severity_text(info: RuleInfo) -> str:
    if not info.tier_severity:
        return info.severity.value
    by_tier = ", ".join(f"{tier} {severity.value}" for tier, severity in
                        sorted(info.tier_severity.items()))
    return f"{info.severity.value} ({by_tier})"


def _demote_headings(text: str) -> str:
    """Headings inside a rule's documentation sit below the rule's own heading."""
    return "\n".join("####" + line.lstrip("#") if line.startswith("#") else line
                     for line in text.splitlines())
