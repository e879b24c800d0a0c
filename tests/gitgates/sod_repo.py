"""Real git repositories for the `sod` tests, built with gitpython.

Ordinary commits go through gitpython's index (`git.Actor` authors and committers); merges
and signed commits through git itself (`git merge --no-ff`, `git commit -S`), with the
identities in the environment, so that merges are real merges (conflicts included).
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

import git

ALICE = "Alice Lead <alice@example.com>"        # platform-leads
BOB = "Bob Builder <bob@example.com>"           # platform-leads
FIONA = "Fiona Finance <fiona@example.com>"     # finance-it
DAVE = "Dave Developer <dave@example.com>"      # in no group
CAROL = "Carol Contractor <carol@example.com>"  # in no group


def actor(identity: str) -> git.Actor:
    name, _, email = identity.partition(" <")
    return git.Actor(name, email.rstrip(">"))


def _env(author: str, committer: str | None = None) -> dict[str, str]:
    a, c = actor(author), actor(committer or author)
    return {"GIT_AUTHOR_NAME": a.name or "", "GIT_AUTHOR_EMAIL": a.email or "",
            "GIT_COMMITTER_NAME": c.name or "", "GIT_COMMITTER_EMAIL": c.email or ""}


class Repo:
    def __init__(self, path: Path, *, existing: bool = False) -> None:
        self.path = path
        if existing:
            self.repo = git.Repo(path)
            return
        path.mkdir(parents=True, exist_ok=True)
        self.repo = git.Repo.init(path, initial_branch="main")
        with self.repo.config_writer() as config:
            config.set_value("user", "name", "Nobody")
            config.set_value("user", "email", "nobody@example.com")
            config.set_value("commit", "gpgsign", "false")

    def commit(self, author: str, message: str, files: Mapping[str, str | None] | None = None,
               *, renames: Mapping[str, str] | None = None, committer: str | None = None,
               signing_key: Path | None = None) -> str:
        """Write (or, with None, delete) files, rename others, and commit; the short sha."""
        index = self.repo.index
        for old, new in (renames or {}).items():
            (self.path / new).parent.mkdir(parents=True, exist_ok=True)
            index.move([old, new])
        index = self.repo.index  # `move` ran git mv: read the index again
        for name, text in (files or {}).items():
            target = self.path / name
            if text is None:
                index.remove([name], working_tree=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            index.add([name])
        if signing_key is not None:  # gitpython cannot sign: git commit -S on its index
            self.git(author, committer, "-c", "gpg.format=ssh", "-c",
                     f"user.signingkey={signing_key}", "commit", "-q", "-S", "-m", message)
        else:
            index.commit(message, author=actor(author), committer=actor(committer or author))
        return self.head()

    def branch(self, name: str, start: str = "HEAD") -> None:
        self.repo.git.checkout("-q", "-b", name, start)

    def checkout(self, name: str) -> None:
        self.repo.git.checkout("-q", name)

    def merge(self, author: str, branch: str, message: str, *,
              resolve: Mapping[str, str] | None = None, committer: str | None = None) -> str:
        """`git merge --no-ff` made by `author`; with `resolve`, the conflicts (or any other
        file) are settled by writing these contents before the merge commit."""
        if resolve is None:
            self.git(author, committer, "merge", "-q", "--no-ff", "-m", message, branch)
            return self.head()
        done = subprocess.run(["git", "merge", "-q", "--no-ff", "--no-commit", branch],
                              cwd=self.path, env=_merged_env(author), capture_output=True,
                              check=False)
        assert done.returncode in (0, 1), done.stderr
        for name, text in resolve.items():
            (self.path / name).parent.mkdir(parents=True, exist_ok=True)
            (self.path / name).write_text(text)
            self.repo.git.add(name)
        self.git(author, committer, "commit", "-q", "-m", message)
        return self.head()

    def git(self, author: str, committer: str | None, *args: str) -> None:
        done = subprocess.run(["git", *args], cwd=self.path, capture_output=True, text=True,
                              env=_merged_env(author, committer), check=False)
        assert done.returncode == 0, f"git {args}: {done.stderr} {done.stdout}"

    def head(self) -> str:
        return self.repo.head.commit.hexsha[:7]

    def sha(self, rev: str = "HEAD") -> str:
        return self.repo.commit(rev).hexsha


def _merged_env(author: str, committer: str | None = None) -> dict[str, str]:
    import os

    return {**os.environ, **_env(author, committer)}
