"""Segregation of duties in the change history: `gitops-checker sod --range BASE..HEAD`.

For every commit in the range (`git rev-list BASE..HEAD`, merges included) that changes a
protected path (`sod.protected` globs, matched against repository-relative paths):

* **What a commit changes** is its diff against its first parent (a root commit: everything
  it adds), with rename detection; a rename counts for both its old and its new path, so
  moving a file into or out of a protected directory is a protected change.
* **Merge commits** are the vehicle of approval, not changes, for what they bring in. A
  merge's *own* changes — where its result differs from git's automatic merge of its
  parents (`git show --remerge-diff`: conflict resolutions and edits made in the merge;
  `--cc` for octopus merges) — on protected paths it changes against its first parent are
  a change by the merge's author, approved like any commit.
* **Approval evidence** for a change: its own `Approved-by:`/`Reviewed-by:` trailers
  (`sod.approval_trailers`; trailers as git parses them: the last paragraph of the message),
  and every merge in the range that brings the commit into its first-parent line: the
  merge's author (the person who merged; GitHub's web merges have the author as merger and
  `GitHub` as committer, local merges have the same person in both) and the merge's own
  trailers (GitLab's merge commit templates add `Approved-by:`).
* **Who made the change**: its author and its `Co-authored-by:` trailers. The committer of a
  change commit is neither a maker nor an approver by being committer (forges commit squash
  and rebase merges as the merger or as themselves).
* **What counts**: approvals by members of one of the entry's approver groups who are not
  the same person as a maker (`checker.gitgates.settings`), at least `min_approvals`
  distinct people. Otherwise GIT002 when the author's own approval was all there was,
  GIT001 otherwise.
* **Signatures** (`require_signed`): every commit whose first-parent diff touches the paths
  must carry a signature (merges too, as GitHub's signed-commit branch protection requires).
  Presence only: verifying needs the organisation's trusted keys (GIT003).
* **CODEOWNERS**: every file under a protected glob at the tip of the range must have an
  owner (GIT004); ownership for GIT005 is read as the base of the range had it (so the
  change under review cannot re-assign it), else as the tip has it. Owners map to config
  groups by name (`@acme/platform-leads` → group `platform-leads` or `"@acme/platform-leads"`).

Findings are located at the first protected file (in path order) of a commit and entry;
`details.files` lists them all. Paths are relative to the repository's top level.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from checker import __version__
from checker.config import Config
from checker.errors import ConfigError
from checker.findings import Stamper
from checker.gitgates.codeowners import CodeOwners, owner_group, parse_codeowners
from checker.gitgates.history import Commit, FileChange, History, HistoryError, Range
from checker.gitgates.rules import RULES
from checker.gitgates.settings import (
    CO_AUTHOR_TRAILER,
    CODEOWNERS_LOCATIONS,
    Identity,
    ProtectedPaths,
    SodSettings,
)
from checker.model import Finding, Manifest, Report, RuleInfo, ToolError, Violation

_TIER_ORDER = ("critical", "standard", "nonprod")


@dataclass(frozen=True, slots=True)
class Evidence:
    identity: Identity
    via: str
    carrier: Commit
    """The commit that records it: the one with the trailer, or the merge."""


@dataclass(frozen=True)
class ProtectedChange:
    """What one commit changes under one `sod.protected` entry."""

    commit: Commit
    entry: ProtectedPaths
    files: tuple[str, ...]
    renames: tuple[tuple[str, str], ...] = ()
    own_merge_changes: bool = False


@dataclass
class SodResult:
    findings: list[Finding] = field(default_factory=list)
    errors: list[ToolError] = field(default_factory=list)
    commits: int = 0
    files: int = 0
    root: Path | None = None
    span: Range | None = None


def sod_findings(repo_path: Path, rev_range: str, config: Config,
                 stamper: Stamper | None = None) -> tuple[list[Finding], list[ToolError]]:
    """The segregation-of-duties findings of the commits in `rev_range` (`BASE..HEAD`) of
    the repository holding `repo_path`, for `check --base` and other callers.

    `stamper` is the caller's (its rule settings apply); by default one with the config's
    settings for the GIT rules. Nothing is checked when the config protects no path. A
    directory outside any repository, an unknown revision or a shallow history is a
    ToolError (exit 2), never an exception. Paths in findings are relative to the
    repository's top level. Config exceptions and baselines are the caller's to apply.
    """
    if not config.sod.protected:
        return [], []
    if stamper is None:
        stamper = default_stamper(config)
    try:
        result = analyse(repo_path, rev_range, config.sod, stamper)
    except HistoryError as exc:
        return [], [ToolError("git", str(exc))]
    return result.findings, result.errors


def run_sod(repo_path: Path, rev_range: str, config: Config, *, baseline: Path | None = None,
            today: dt.date | None = None) -> Report:
    """The `sod` command: findings settled (config exceptions, baseline) into a Report.

    `files` counts the paths the range changes, `objects` its commits. Raises CheckerError
    (exit 2) when there is nothing to decide with: no `sod.protected`, not a repository,
    an unknown revision.
    """
    from checker.pipeline import resolve_rule_settings, settle_findings

    if not config.sod.protected:
        raise ConfigError(f"config {config.path or '(none)'}: no `sod.protected` paths, so "
                          "nothing to check (docs/git-gates.md)")
    view = git_rules_view(config)
    known: dict[str, RuleInfo] = dict(_known_rules())
    stamper = Stamper(position=_no_position, settings=resolve_rule_settings(view, known, {}),
                      today=today or dt.date.today())
    result = analyse(repo_path, rev_range, config.sod, stamper)
    root = result.root or repo_path
    findings = settle_findings(result.findings, config=view, known=known, root=root,
                               stamper=stamper, baseline=baseline)
    return Report(
        findings=tuple(findings),
        errors=tuple(sorted(set(result.errors), key=ToolError.sort_key)),
        rules={f.rule_id: known[f.rule_id] for f in findings if f.rule_id in known},
        files=result.files, objects=result.commits, tool_version=__version__,
    )


def repository_root(path: Path) -> Path:
    """The top level of the repository holding `path` (its git directory when bare);
    HistoryError (exit 2) when there is none."""
    history = History(path)
    try:
        return history.root
    finally:
        history.close()


def default_stamper(config: Config, today: dt.date | None = None) -> Stamper:
    from checker.pipeline import resolve_rule_settings

    return Stamper(position=_no_position,
                   settings=resolve_rule_settings(git_rules_view(config),
                                                  dict(_known_rules()), {}),
                   today=today or dt.date.today())


def _known_rules() -> Mapping[str, RuleInfo]:
    from checker.builtin import BUILTIN_RULES

    return BUILTIN_RULES


def git_rules_view(config: Config) -> Config:
    """The config as far as the built-in rules go: settings and exceptions that name rules of
    the packs (which `sod` does not load) are left out instead of being refused as unknown;
    a misspelt GIT id still is."""
    known = _known_rules()
    names = {info.name: rule_id for rule_id, info in known.items()}

    def is_known(key: str) -> bool:
        return key in known or key in names

    typos = sorted(k for k in config.rules if k.upper().startswith("GIT") and not is_known(k))
    if typos:
        git_ids = ", ".join(f"{r.id} ({r.name})" for r in RULES.values())
        raise ConfigError(f"config {config.path or ''}: unknown rule {', '.join(typos)} under "
                          f"`rules`; the git rules are {git_ids}")
    exceptions = []
    for exception in config.exceptions:
        kept = tuple(r for r in exception.rules if r == "*" or is_known(r))
        if kept:
            exceptions.append(replace(exception, rules=kept))
    return replace(config, rules={k: v for k, v in config.rules.items() if is_known(k)},
                   packs={}, exceptions=tuple(exceptions))


def _no_position(manifest: Manifest, pointer: str) -> tuple[int | None, int | None]:
    return None, None


def analyse(repo_path: Path, rev_range: str, settings: SodSettings,
            stamper: Stamper) -> SodResult:
    """Raises HistoryError when the repository or the range cannot be read."""
    history = History(repo_path)
    try:
        return _Analysis(history, settings, stamper).run(rev_range)
    finally:
        history.close()


class _Analysis:
    def __init__(self, history: History, settings: SodSettings, stamper: Stamper) -> None:
        self.history = history
        self.settings = settings
        self.stamper = stamper
        self.result = SodResult(root=history.root)
        self._introducers: dict[str, list[Commit]] | None = None
        self._signatures: dict[str, str | None] = {}
        self._commits: list[Commit] = []

    # -- the range -----------------------------------------------------------------------

    def run(self, rev_range: str) -> SodResult:
        span = self.history.resolve(rev_range)
        self.result.span = span
        commits = self.history.commits(span)
        self._commits = commits
        boundary = self.history.shallow_commits() & {c.sha for c in commits}
        if boundary:
            shown = ", ".join(sorted(c.short for c in commits if c.sha in boundary))
            self.result.errors.append(ToolError(
                "git", f"the clone is shallow inside the range {span.text}: the parents of "
                f"{shown} are missing, so what those commits changed is unknown (fetch the "
                "whole history, e.g. `fetch-depth: 0`)"))
            commits = [c for c in commits if c.sha not in boundary]
        changes = self.history.first_parent_changes(commits)
        self.result.commits = len(self._commits)
        self.result.files = len({p for entries in changes.values() for change in entries
                                 for p in change.paths})
        protected: list[ProtectedChange] = []
        for commit in reversed(commits):  # oldest first: findings are sorted later anyway
            protected.extend(self._protected_changes(commit, changes.get(commit.sha, [])))
        owners_at_base = self._codeowners(span.base) or self._codeowners(span.tip)
        for change in protected:
            self._judge(change, owners_at_base)
        self._owners(span)
        self.result.findings.sort(key=Finding.sort_key)
        self.result.errors = sorted(set(self.result.errors), key=ToolError.sort_key)
        return self.result

    def _protected_changes(self, commit: Commit,
                           entries: Sequence[FileChange]) -> Iterable[ProtectedChange]:
        touched = {p for change in entries for p in change.paths}
        own: set[str] | None = None
        for entry in self.settings.protected:
            files = sorted(p for p in touched if entry.covers(p))
            if not files:
                continue
            if entry.require_signed:
                self._check_signed(commit, entry, files)
            if commit.is_merge:
                if own is None:
                    own = self.history.merge_own_paths(commit) & touched
                files = [p for p in files if p in own]
                if not files:
                    continue
            renames = tuple((c.paths[0], c.paths[1]) for c in entries
                            if c.status == "R" and (entry.covers(c.paths[0])
                                                    or entry.covers(c.paths[1])))
            yield ProtectedChange(commit, entry, tuple(files), renames, commit.is_merge)

    def _introduced_by(self, commit: Commit) -> list[Commit]:
        """The merges in the range that bring `commit` into their first-parent line."""
        if self._introducers is None:
            self._introducers = {}
            for merge in self._commits:
                if merge.is_merge:
                    for sha in self.history.introduced_by(merge):
                        self._introducers.setdefault(sha, []).append(merge)
        return self._introducers.get(commit.sha, [])

    # -- approvals -----------------------------------------------------------------------

    def _evidence(self, commit: Commit) -> list[Evidence]:
        trailers = self.settings.approval_trailers
        found = [Evidence(Identity.parse(value), f"{key} trailer of {commit.short}", commit)
                 for key, value in commit.trailer_values(trailers)]
        for merge in self._introduced_by(commit):
            found.append(Evidence(merge.author, f"merge {merge.short}", merge))
            found.extend(Evidence(Identity.parse(value), f"{key} trailer of merge {merge.short}",
                                  merge) for key, value in merge.trailer_values(trailers))
        return found

    def _untrusted(self, evidence: Evidence) -> str | None:
        """Why the commit recording the evidence is not trusted to (`trusted_committers`)."""
        trusted = self.settings.trusted_committers
        committer = evidence.carrier.committer
        if not trusted or any(committer.strictly_matches(t) for t in trusted):
            return None
        return (f"{evidence.carrier.short} was committed by {committer.display()}, not by a "
                "trusted committer")

    def _judge(self, change: ProtectedChange, owners: CodeOwners | None) -> None:
        commit, entry, settings = change.commit, change.entry, self.settings
        makers = [commit.author, *(Identity.parse(v) for _, v in
                                   commit.trailer_values((CO_AUTHOR_TRAILER,)))]
        valid: list[tuple[Evidence, list[str]]] = []
        own: list[Evidence] = []
        outsiders: list[tuple[Evidence, str]] = []
        for evidence in self._evidence(commit):
            if any(settings.same_person(evidence.identity, maker) for maker in makers):
                own.append(evidence)
                continue
            groups = settings.groups_of(evidence.identity, entry.approvers)
            untrusted = self._untrusted(evidence)
            if untrusted is not None:
                outsiders.append((evidence, untrusted))
            elif not groups:
                outsiders.append((evidence, "in none of those groups"))
            elif not any(settings.same_person(evidence.identity, seen.identity)
                         for seen, _ in valid):
                valid.append((evidence, groups))
        what = self._what(change)
        details: dict[str, Any] = {
            **self._base_details(change),
            "approvers": list(entry.approvers),
            "min_approvals": entry.min_approvals,
            "approvals": [_evidence_json(e, groups) for e, groups in valid],
        }
        if own:
            details["self_approvals"] = [_evidence_json(e) for e in own]
        if outsiders:
            details["not_counted"] = [{**_evidence_json(e), "why": why}
                                      for e, why in outsiders]
        if len(valid) >= entry.min_approvals:
            if owners is not None:
                self._self_owned(change, owners, [e for e, _ in valid])
            return
        needs = (f"needs {entry.min_approvals} approval(s) from "
                 f"{_either(entry.approvers)} by someone other than its author")
        have = f" (has {len(valid)}: {_people(e for e, _ in valid)})" if valid else ""
        if own:
            rule = RULES["GIT002"]
            message = (f"{what} and is approved only by its author ({_vias(own)}); "
                       f"{needs}{have}")
        else:
            rule = RULES["GIT001"]
            if outsiders:
                why = "; not counted: " + "; ".join(
                    f"{e.identity.display()} ({e.via}): {reason}" for e, reason in outsiders)
            elif valid:
                why = ""
            else:
                why = "; no approval trailer and no merge by an approver"
            message = f"{what} without enough approval: {needs}{have}{why}"
        self._emit(rule, change, message, details, f"{commit.sha}:{_entry_key(entry)}")

    def _self_owned(self, change: ProtectedChange, owners: CodeOwners,
                    approvals: Sequence[Evidence]) -> None:
        settings, author = self.settings, change.commit.author
        by_group: dict[str, list[str]] = {}
        for path in change.files:
            for owner in owners.owners_of(path):
                group = owner_group(owner, list(settings.groups))
                if group is not None and path not in by_group.setdefault(group, []):
                    by_group[group].append(path)
        for group, files in sorted(by_group.items()):
            if not settings.in_group(author, group):
                continue
            if not all(settings.in_group(e.identity, group) for e in approvals):
                continue
            narrowed = replace(change, files=tuple(files))
            message = (f"{self._what(narrowed)} owned by {group} (in {owners.path}) and is "
                       f"approved only by members of that same group "
                       f"({_people(approvals)}): the owning group approves its own change")
            details = {**self._base_details(narrowed), "owner_group": group,
                       "codeowners": owners.path,
                       "approvals": [_evidence_json(e) for e in approvals]}
            self._emit(RULES["GIT005"], narrowed, message, details,
                       f"{change.commit.sha}:{_entry_key(change.entry)}:{group}")

    # -- signatures ----------------------------------------------------------------------

    def _check_signed(self, commit: Commit, entry: ProtectedPaths, files: Sequence[str]) -> None:
        if commit.sha not in self._signatures:
            self._signatures[commit.sha] = self.history.signature(commit.sha)
        if self._signatures[commit.sha] is not None:
            return
        change = ProtectedChange(commit, entry, tuple(files))
        message = (f"{self._what(change)} and is not signed ({entry.label} requires signed "
                   "commits)")
        self._emit(RULES["GIT003"], change, message, self._base_details(change),
                   f"{commit.sha}:{_entry_key(entry)}")

    # -- CODEOWNERS ----------------------------------------------------------------------

    def _codeowners(self, rev: str) -> CodeOwners | None:
        places = (self.settings.codeowners,) if self.settings.codeowners \
            else CODEOWNERS_LOCATIONS
        for place in places:
            text = self.history.read_file(rev, place)
            if text is None:
                continue
            owners = parse_codeowners(text, place)
            for line, problem in owners.problems:
                self.result.errors.append(ToolError(
                    "codeowners", f"cannot read this line ({problem}): the paths it names "
                    "have unknown owners", place, line))
            return owners
        return None

    def _owners(self, span: Range) -> None:
        rule = RULES["GIT004"]
        if not self.stamper.enabled(rule):
            return
        protected = [(path, entries) for path in self.history.files_at(span.tip)
                     if (entries := [e for e in self.settings.protected if e.covers(path)])]
        if not protected:
            return
        owners = self._codeowners(span.tip)
        if owners is None:
            place = self.settings.codeowners or CODEOWNERS_LOCATIONS[0]
            looked = f"no {place} at {span.tip_label}" if self.settings.codeowners else \
                f"no CODEOWNERS file at {span.tip_label} (looked for " \
                f"{', '.join(CODEOWNERS_LOCATIONS)})"
            for entry in self.settings.protected:
                files = [p for p, entries in protected if entry in entries]
                if files:
                    self._emit_at(rule, place, entry, (
                        f"{looked}: the {len(files)} file(s) under protected {entry.label} "
                        "have no owners"), {"files": files, "protected": list(entry.paths)},
                        f"no-codeowners:{_entry_key(entry)}")
            return
        for path, entries in protected:
            if owners.owners_of(path):
                continue
            rule_line = owners.rule_for(path)
            why = f"line {rule_line.line} of {owners.path} ({rule_line.pattern!r}) gives it no " \
                  "owner" if rule_line is not None else f"no line of {owners.path} matches it"
            entry = min(entries, key=lambda e: _TIER_ORDER.index(e.tier))
            labels = ", ".join(e.label for e in entries)
            self._emit_at(rule, path, entry, f"{path} is protected ({labels}) but has no code "
                          f"owner: {why}", {"codeowners": owners.path,
                                            "protected": [p for e in entries for p in e.paths]},
                          f"unowned:{path}")

    # -- findings ------------------------------------------------------------------------

    def _what(self, change: ProtectedChange) -> str:
        commit = change.commit
        kind = "merge" if commit.is_merge else "commit"
        files = change.files[0] if len(change.files) == 1 else \
            f"{change.files[0]} and {len(change.files) - 1} more file(s)"
        itself = " in the merge itself (beyond git's automatic merge)" \
            if change.own_merge_changes else ""
        return (f"{kind} {commit.short} by {commit.author.display()} changes protected "
                f"{files}{itself}")

    def _base_details(self, change: ProtectedChange) -> dict[str, Any]:
        commit = change.commit
        details: dict[str, Any] = {
            "commit": commit.sha, "author": commit.author.display(),
            "committer": commit.committer.display(), "subject": commit.subject,
            "files": list(change.files), "protected": list(change.entry.paths),
        }
        if change.renames:
            details["renames"] = [{"from": a, "to": b} for a, b in change.renames]
        return details

    def _emit(self, rule: RuleInfo, change: ProtectedChange, message: str,
              details: dict[str, Any], identity: str) -> None:
        self._emit_at(rule, change.files[0], change.entry, message, details, identity)

    def _emit_at(self, rule: RuleInfo, path: str, entry: ProtectedPaths, message: str,
                 details: dict[str, Any], identity: str) -> None:
        if not self.stamper.enabled(rule):
            return
        details = {**details, "tier": entry.tier, "tier_source": entry.label}
        violation = Violation(message, "", details, entry.tier, f"{rule.id}:{identity}")
        self.result.findings.append(self.stamper.stamp(rule, violation, None, path=path))


def _entry_key(entry: ProtectedPaths) -> str:
    return ",".join(entry.paths)


def _either(groups: Sequence[str]) -> str:
    return groups[0] if len(groups) == 1 else f"{', '.join(groups[:-1])} or {groups[-1]}"


def _people(evidence: Iterable[Evidence]) -> str:
    return ", ".join(e.identity.display() for e in evidence)


def _vias(evidence: Iterable[Evidence]) -> str:
    return "; ".join(f"{e.identity.display()} via {e.via}" for e in evidence)


def _evidence_json(evidence: Evidence, groups: Sequence[str] = ()) -> dict[str, Any]:
    found: dict[str, Any] = {"identity": evidence.identity.display(), "via": evidence.via}
    if groups:
        found["groups"] = list(groups)
    return found

