"""Reading the change history: commits of a range, what each changed, who merged what.

Everything is read from git objects (the working tree is never looked at or touched), with
the user's git configuration neutralised where it would change the output (signatures shown
by `git log`, colours, quoted paths). Identities are the raw author and committer fields:
`.mailmap` is deliberately not applied, because it is a file in the repository that the
change under review could edit to make one person look like another.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from checker.errors import CheckerError
from checker.gitgates.settings import Identity

if TYPE_CHECKING:
    import git

_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_NEUTRAL = ("-c", "log.showSignature=false", "-c", "color.ui=false", "-c", "core.quotePath=false",
            "-c", "diff.external=", "-c", "log.showRoot=true")


class HistoryError(CheckerError):
    """The repository or the range cannot be read: nothing can be decided."""


@dataclass(frozen=True, slots=True)
class Commit:
    sha: str
    short: str
    parents: tuple[str, ...]
    author: Identity
    committer: Identity
    subject: str
    trailers: tuple[tuple[str, str], ...]
    """(key, value) as git parses them (`git interpret-trailers --parse`): the last paragraph
    of the message, continuation lines unfolded."""

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1

    def trailer_values(self, keys: Iterable[str]) -> list[tuple[str, str]]:
        wanted = {k.casefold() for k in keys}
        return [(k, v) for k, v in self.trailers if k.casefold() in wanted]


@dataclass(frozen=True, slots=True)
class FileChange:
    """One entry of a commit's diff against its first parent; renames give both paths."""

    status: str
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Range:
    text: str
    base: str
    tip: str
    base_label: str
    tip_label: str


class History:
    """One repository, opened with gitpython; git itself runs for what gitpython lacks."""

    def __init__(self, path: Path) -> None:
        try:
            import git
        except ImportError as exc:  # gitpython refuses to import without a git executable
            raise HistoryError(f"git is not available: {exc}") from None
        try:
            self.repo: git.Repo = git.Repo(path, search_parent_directories=True)
        except git.NoSuchPathError:
            raise HistoryError(f"{path} does not exist") from None
        except git.InvalidGitRepositoryError:
            raise HistoryError(f"{path} is not in a git repository") from None
        top = self.repo.working_tree_dir
        self.root = Path(top) if top is not None else Path(self.repo.git_dir)

    def close(self) -> None:
        self.repo.close()

    def git(self, *args: str, stdin: bytes | None = None) -> bytes:
        command = ["git", f"--git-dir={self.repo.git_dir}", *_NEUTRAL, *args]
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0",
               "LC_ALL": "C"}
        env.pop("GIT_DIR", None)
        try:
            done = subprocess.run(command, input=stdin, capture_output=True, env=env,
                                  check=False)
        except OSError as exc:
            raise HistoryError(f"cannot run git: {exc}") from None
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise HistoryError(f"git {args[0]} failed: {message[-1] if message else ''}")
        return done.stdout

    def resolve(self, rev_range: str) -> Range:
        """`BASE..TIP` (TIP defaults to HEAD); `...` and single revisions are refused."""
        text = rev_range.strip()
        if "..." in text or ".." not in text:
            raise HistoryError(f"range {rev_range!r}: expected BASE..HEAD (two dots; the "
                               "commits reachable from HEAD and not from BASE)")
        base_label, _, tip_label = text.partition("..")
        if not base_label:
            raise HistoryError(f"range {rev_range!r}: the base is missing (BASE..HEAD)")
        tip_label = tip_label or "HEAD"
        return Range(text, self._commit(base_label), self._commit(tip_label), base_label,
                     tip_label)

    def _commit(self, rev: str) -> str:
        if rev.startswith("-"):
            raise HistoryError(f"{rev!r} is not a revision")
        try:
            out = self.git("rev-parse", "--verify", "--quiet", "--end-of-options",
                           f"{rev}^{{commit}}")
        except HistoryError:
            out = b""
        sha = out.decode().strip()
        if not _SHA.match(sha):
            shallow = " (the repository is a shallow clone: fetch the base, e.g. " \
                      "`fetch-depth: 0`)" if self.is_shallow() else ""
            raise HistoryError(f"unknown revision {rev!r}{shallow}")
        return sha

    def is_shallow(self) -> bool:
        return (Path(self.repo.git_dir) / "shallow").is_file()

    def shallow_commits(self) -> set[str]:
        path = Path(self.repo.git_dir) / "shallow"
        if not path.is_file():
            return set()
        return {line.strip() for line in path.read_text().splitlines() if line.strip()}

    def commits(self, span: Range) -> list[Commit]:
        """Every commit reachable from the tip and not from the base, merges included,
        newest first."""
        fields = "%H%x1f%h%x1f%P%x1f%an%x1f%ae%x1f%cn%x1f%ce%x1f%s%x1f%(trailers:only,unfold)"
        out = self.git("log", "-z", "--no-color", f"--format={fields}",
                       f"{span.base}..{span.tip}", "--")
        found = []
        for record in out.decode("utf-8", "replace").split("\0"):
            if not record.strip():
                continue
            sha, short, parents, an, ae, cn, ce, subject, trailers = record.split("\x1f", 8)
            found.append(Commit(
                sha=sha.strip(), short=short, parents=tuple(parents.split()),
                author=Identity(an, ae), committer=Identity(cn, ce), subject=subject,
                trailers=tuple(_trailers(trailers))))
        return found

    def first_parent_changes(self, commits: Sequence[Commit]) -> dict[str, list[FileChange]]:
        """Each commit's diff against its first parent (a root commit: against nothing),
        with renames detected; one git process for all of them."""
        if not commits:
            return {}
        lines = "".join(f"{c.sha} {c.parents[0]}\n" if c.parents else f"{c.sha}\n"
                        for c in commits)
        out = self.git("diff-tree", "--stdin", "-r", "-M", "--root", "--name-status", "-z",
                       "--no-ext-diff", stdin=lines.encode())
        return _parse_diff_tree(out.decode("utf-8", "surrogateescape"),
                                {c.sha for c in commits})

    def merge_own_paths(self, merge: Commit) -> set[str]:
        """Paths where a merge's result differs from what git merges automatically: conflict
        resolutions and changes made in the merge itself (`--remerge-diff`); for octopus
        merges, the paths that differ from every parent (`--cc`)."""
        if len(merge.parents) == 2:
            out = self.git("show", "--remerge-diff", "--format=", "--name-only", "-z",
                           "--no-ext-diff", merge.sha, "--")
        else:
            out = self.git("diff-tree", "--cc", "--name-only", "-z", "--no-commit-id",
                           merge.sha, "--")
        return {p for p in out.decode("utf-8", "surrogateescape").split("\0") if p}

    def introduced_by(self, merge: Commit) -> set[str]:
        """The commits a merge brings into its first parent's line (not the merge itself)."""
        out = self.git("rev-list", merge.sha, f"^{merge.parents[0]}", "--")
        return {line for line in out.decode().split() if line != merge.sha}

    def signature(self, sha: str) -> str | None:
        """The kind of signature the commit object carries (`gpgsig` header: OpenPGP, SSH or
        X.509), or None. The signature is not verified."""
        try:
            raw = self.repo.odb.stream(bytes.fromhex(sha)).read()
        except (ValueError, OSError) as exc:
            raise HistoryError(f"cannot read commit {sha}: {exc}") from None
        header = raw.split(b"\n\n", 1)[0]
        for line in header.split(b"\n"):
            if line.startswith((b"gpgsig ", b"gpgsig-sha256 ")):
                armour = line.split(b" ", 1)[1]
                if b"SSH SIGNATURE" in armour:
                    return "ssh"
                if b"SIGNED MESSAGE" in armour:
                    return "x509"
                return "openpgp" if b"PGP" in armour else "unknown"
        return None

    def files_at(self, rev: str) -> list[str]:
        out = self.git("ls-tree", "-r", "-z", "--name-only", "--full-tree", rev)
        return [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]

    def read_file(self, rev: str, path: str) -> str | None:
        """A file's text at a revision, or None when the revision has no such file."""
        try:
            blob = self.repo.commit(rev).tree / path
            data = blob.data_stream.read()
        except (KeyError, ValueError, TypeError, AttributeError):
            return None
        if blob.type != "blob":
            return None
        return bytes(data).decode("utf-8", "replace")


def _trailers(text: str) -> Iterable[tuple[str, str]]:
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and not key[0].isspace():
            yield key.strip(), value.strip()


def _parse_diff_tree(text: str, shas: set[str]) -> dict[str, list[FileChange]]:
    """`diff-tree --stdin -z --name-status` output: a commit id, then `STATUS\\0path\\0`
    (renames and copies: `R100\\0old\\0new\\0`) until the next commit id."""
    result: dict[str, list[FileChange]] = {sha: [] for sha in shas}
    tokens = text.split("\0")
    current: list[FileChange] | None = None
    position = 0
    while position < len(tokens):
        token = tokens[position].strip("\n")
        position += 1
        if not token:
            continue
        if token in shas:
            current = result[token]
            continue
        if current is None:
            raise HistoryError(f"unexpected output of git diff-tree: {token[:40]!r}")
        count = 2 if token[0] in "RC" else 1
        paths = tuple(tokens[position:position + count])
        position += count
        current.append(FileChange(token[0], paths))
    return result
