"""GitHub's CODEOWNERS format: who owns a path.

Each line is a pattern followed by owners (`@user`, `@org/team`, `email@host`); `#` starts
a comment; `\\` escapes the next character (a space or a leading `#` in a pattern). The
*last* matching line decides, and a line with a pattern but no owners leaves the path
without owners. Patterns follow gitignore, with GitHub's differences, as GitHub documents
them and as the `hmarr/codeowners` library (used by GitHub's own CLI extension) implements
them:

* a pattern without a slash, or with only a trailing one, matches at any depth
  (`*.yaml`, `apps/`); otherwise it is anchored at the root (`/docs`, `docs/*`);
* a trailing slash matches what is inside the directory, never the directory itself;
* a segment that is exactly `*` matches one path segment and does not reach into
  directories below it: `docs/*` owns `docs/a.md` but not `docs/sub/b.md`; every other
  final segment also owns what is below a directory of that name (`/apps`, `f*`, `logs`);
* `**` spans any number of directories; `?` is one character; `!` negation and `[...]`
  character classes do not exist in CODEOWNERS (they are literal text here).

GitLab's section headers (`[Section]`, `^[Section]`) are skipped: their default owners
and approval counts are not modelled. Owner names are kept as written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OwnerRule:
    pattern: str
    owners: tuple[str, ...]
    line: int
    regex: re.Pattern[str]

    def matches(self, path: str) -> bool:
        return self.regex.match(path) is not None


@dataclass(frozen=True, slots=True)
class CodeOwners:
    path: str
    """Where the file was read (repository-relative)."""
    rules: tuple[OwnerRule, ...]
    problems: tuple[tuple[int, str], ...] = ()
    """(line, message) of lines that could not be read: they own nothing."""

    def rule_for(self, path: str) -> OwnerRule | None:
        for rule in reversed(self.rules):
            if rule.matches(path):
                return rule
        return None

    def owners_of(self, path: str) -> tuple[str, ...]:
        rule = self.rule_for(path)
        return rule.owners if rule is not None else ()


def parse_codeowners(text: str, path: str) -> CodeOwners:
    rules: list[OwnerRule] = []
    problems: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("[", "^[")):
            continue  # a GitLab section header
        tokens = _split(line)
        pattern, owners = tokens[0], tuple(tokens[1:])
        bad = [o for o in owners if not _OWNER.match(o)]
        if bad:
            why = f"{', '.join(bad)}: not an owner (@user, @org/team or an email address)"
            problems.append((number, why))
            continue
        try:
            regex = pattern_regex(pattern)
        except ValueError as exc:
            problems.append((number, f"pattern {pattern!r}: {exc}"))
            continue
        rules.append(OwnerRule(pattern, owners, number, regex))
    return CodeOwners(path, tuple(rules), tuple(problems))


_OWNER = re.compile(r"^(@[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)?|[^@\s]+@[^@\s]+)$")


def _split(line: str) -> list[str]:
    """Whitespace-separated tokens, honouring `\\ ` in the pattern; a `#` outside a token's
    escape starts a comment."""
    tokens: list[str] = []
    current: list[str] = []
    escaped = False
    for char in line:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "#":
            break
        elif char.isspace():
            if current:
                tokens.append("".join(current))
                current = []
        else:
            current.append(char)
    if current:
        tokens.append("".join(current))
    return tokens or [""]


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """A regular expression matching the repository paths (no leading slash) the pattern
    owns (module docstring)."""
    if not pattern:
        raise ValueError("empty pattern")
    if "***" in pattern:
        raise ValueError("three consecutive asterisks")
    if pattern == "/":
        return re.compile(r"(?!)")
    segments = pattern.split("/")
    if segments[0] == "":
        segments = segments[1:]
    elif (len(segments) == 1 or (len(segments) == 2 and segments[1] == "")) and \
            segments[0] != "**":
        segments = ["**", *segments]
    if len(segments) > 1 and segments[-1] == "":
        segments[-1] = "**"
    last = len(segments) - 1
    parts: list[str] = []
    need_slash = False
    for index, segment in enumerate(segments):
        if segment == "**":
            if index == 0 and index == last:
                parts.append(r".+")
            elif index == 0:
                parts.append(r"(?:.+/)?")
                need_slash = False
            elif index == last:
                parts.append(r"/.*")
            else:
                parts.append(r"(?:/.+)?")
                need_slash = True
            continue
        if need_slash:
            parts.append("/")
        if segment == "*":
            parts.append(r"[^/]+")
        else:
            parts.append(_segment(segment))
            if index == last:
                parts.append(r"(?:/.*)?")  # a directory of that name owns what is below
        need_slash = True
    return re.compile("".join(parts) + r"\Z")


def _segment(segment: str) -> str:
    out: list[str] = []
    escaped = False
    for char in segment:
        if escaped:
            out.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "*":
            out.append(r"[^/]*")
        elif char == "?":
            out.append(r"[^/]")
        else:
            out.append(re.escape(char))
    return "".join(out)


def owner_group(owner: str, groups: Sequence[str]) -> str | None:
    """The config group an owner stands for: the group named like the owner as written
    (`"@acme/platform-leads"`), else like its team or user name (`platform-leads`)."""
    if owner in groups:
        return owner
    if owner.startswith("@"):
        name = owner[1:].rpartition("/")[2]
        if name in groups:
            return name
    return None
