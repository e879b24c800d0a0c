"""The `sod:` section of the configuration, and the people it names.

```yaml
sod:
  protected:
    - paths: ["clusters/prod/**"]          # gitignore-style globs, as `exclude` and tiers.paths
      approvers: [platform-leads, finance-it]
      min_approvals: 1                     # distinct people from any of the groups (default 1)
      tier: critical                       # severity tier of its findings (default critical)
      require_signed: true                 # commits touching these paths carry a signature
  groups:
    platform-leads: ["alice@example.com", "Bob Builder <bob@example.com>"]
  aliases:                                 # one person's several identities
    - ["alice@example.com", "alice@home.example"]
  codeowners: .github/CODEOWNERS           # default: .github/, the root, docs/ (as GitHub)
  approval_trailers: [Approved-by, Reviewed-by]
  trusted_committers: ["noreply@github.com"]   # only approvals the forge recorded count
```

Identities are git identities (`Name <email>`), bare emails, or bare names. Two matching
strengths are used, on purpose:

* **membership** (does this identity's approval count for a group?) is strict: an entry
  with an email matches that email only (case-insensitively); an entry without one matches
  the name (case-insensitively, whitespace collapsed). An explicit alias extends it: an
  identity that strictly matches a member of an alias list is a member wherever another
  member of that list is.
* **same person** (is this approval the author's own?) is loose, because mistaking two
  people for one only costs an approval, while the opposite lets someone approve their own
  change: the same email, or the same name, or both matching (by email or by name) one
  alias list or one group entry that gives both a name and an email.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from checker.errors import ConfigError
from checker.exceptions import path_glob_match

DEFAULT_TRAILERS = ("Approved-by", "Reviewed-by")
CO_AUTHOR_TRAILER = "Co-authored-by"
CODEOWNERS_LOCATIONS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
"""Where GitHub looks for CODEOWNERS, in its order (the first one found is used)."""
DEFAULT_TIER = "critical"

_ANGLE = re.compile(r"^(?P<name>[^<>]*?)\s*<(?P<email>[^<>]*)>$")


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass(frozen=True, slots=True)
class Identity:
    """A git identity, or a pattern for one: either part may be empty."""

    name: str = ""
    email: str = ""

    @classmethod
    def parse(cls, text: str) -> Identity:
        """`Name <email>`, a bare `email@host`, or a bare name."""
        text = text.strip()
        match = _ANGLE.match(text)
        if match:
            return cls(match["name"].strip(), match["email"].strip())
        if "@" in text and not any(c.isspace() for c in text):
            return cls("", text)
        return cls(text, "")

    @property
    def folded_name(self) -> str:
        return _fold(self.name)

    @property
    def folded_email(self) -> str:
        return self.email.strip().casefold()

    def display(self) -> str:
        if self.name and self.email:
            return f"{self.name} <{self.email}>"
        return self.name or self.email or "(unknown)"

    def strictly_matches(self, pattern: Identity) -> bool:
        """`pattern`'s email when it has one, else its name."""
        if pattern.folded_email:
            return self.folded_email == pattern.folded_email
        return bool(pattern.folded_name) and self.folded_name == pattern.folded_name

    def loosely_matches(self, pattern: Identity) -> bool:
        """The same email, or the same name."""
        return bool((self.folded_email and self.folded_email == pattern.folded_email)
                    or (self.folded_name and self.folded_name == pattern.folded_name))


@dataclass(frozen=True, slots=True)
class ProtectedPaths:
    """One `sod.protected` entry."""

    index: int
    paths: tuple[str, ...]
    approvers: tuple[str, ...]
    min_approvals: int = 1
    tier: str = DEFAULT_TIER
    require_signed: bool = False

    def covers(self, path: str) -> bool:
        return any(path_glob_match(path, pattern) for pattern in self.paths)

    @property
    def label(self) -> str:
        return f"sod.protected[{self.index}] ({', '.join(self.paths)})"


@dataclass(frozen=True)
class SodSettings:
    protected: tuple[ProtectedPaths, ...] = ()
    groups: Mapping[str, tuple[Identity, ...]] = field(default_factory=dict)
    aliases: tuple[tuple[Identity, ...], ...] = ()
    codeowners: str | None = None
    approval_trailers: tuple[str, ...] = DEFAULT_TRAILERS
    trusted_committers: tuple[Identity, ...] = ()
    """When set, approval evidence counts only from commits (trailers) and merges committed by
    one of these identities: the forge's own, so that an author cannot type an approval."""

    def members(self, group: str) -> tuple[Identity, ...]:
        return self.groups.get(group, ())

    def in_group(self, identity: Identity, group: str) -> bool:
        """Strict membership, extended by explicit aliases (module docstring)."""
        entries = self.members(group)
        candidates = [identity]
        for alias in self.aliases:
            if any(identity.strictly_matches(member) for member in alias):
                candidates.extend(alias)
        return any(candidate.strictly_matches(entry) for candidate in candidates
                   for entry in entries)

    def groups_of(self, identity: Identity, wanted: Iterable[str]) -> list[str]:
        return [group for group in wanted if self.in_group(identity, group)]

    def same_person(self, one: Identity, other: Identity) -> bool:
        """Loose: whoever could be the same person is (module docstring)."""
        if one.loosely_matches(other):
            return True
        for people in self._person_lists():
            if any(one.loosely_matches(p) for p in people) and \
                    any(other.loosely_matches(p) for p in people):
                return True
        return False

    def _person_lists(self) -> Iterable[Sequence[Identity]]:
        yield from self.aliases
        for entries in self.groups.values():
            for entry in entries:
                if entry.name and entry.email:
                    yield (entry,)


def settings_from(data: Mapping[str, Any] | None) -> SodSettings:
    """From the config's validated `sod` section; unknown groups are errors."""
    data = data or {}
    groups = {name: tuple(Identity.parse(text) for text in entries)
              for name, entries in (data.get("groups") or {}).items()}
    for name, entries in groups.items():
        for position, entry in enumerate(entries):
            if not entry.name and not entry.email:
                raise ConfigError(f"sod.groups.{name}[{position}]: an empty identity")
    protected = []
    for index, entry in enumerate(data.get("protected") or ()):
        approvers = tuple(entry["approvers"])
        unknown = [g for g in approvers if g not in groups]
        if unknown:
            known = ", ".join(sorted(groups)) or "none"
            raise ConfigError(f"sod.protected[{index}].approvers: unknown group(s) "
                              f"{', '.join(unknown)} (sod.groups defines: {known})")
        protected.append(ProtectedPaths(
            index=index, paths=tuple(entry["paths"]), approvers=approvers,
            min_approvals=int(entry.get("min_approvals", 1)),
            tier=entry.get("tier", DEFAULT_TIER),
            require_signed=bool(entry.get("require_signed", False))))
    aliases = tuple(tuple(Identity.parse(text) for text in people)
                    for people in data.get("aliases") or ())
    return SodSettings(
        protected=tuple(protected), groups=groups, aliases=aliases,
        codeowners=data.get("codeowners"),
        approval_trailers=tuple(data.get("approval_trailers", DEFAULT_TRAILERS)),
        trusted_committers=tuple(Identity.parse(text)
                                 for text in data.get("trusted_committers") or ()),
    )
