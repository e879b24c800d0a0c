"""Pull-request mode: what a change adds to the findings of its merge base.

The base is read from git objects (an archive of the merge-base commit unpacked in a
temporary directory), so the working tree is never checked out, stashed or touched. Both
sides are checked by the same tool; each side with its own configuration and in-repository
policies, so a change that switches a rule on is judged by it. Findings are matched by
fingerprint, which is built from the object and the field rather than the line or the
file, so moving a file or shifting lines makes nothing new.
"""

from __future__ import annotations

import dataclasses
import os
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from checker.errors import UsageError
from checker.model import BaseComparison, Finding, Report

BASE_PREFIX = "base "
"""`suppressed_by` of a finding the merge base already had."""


@dataclass(frozen=True)
class BaseTree:
    """The merge base of HEAD and a ref, unpacked; maps working-tree paths onto it."""

    ref: str
    commit: str
    worktree: Path
    directory: Path

    def map(self, path: Path) -> Path:
        """The base's copy of a working-tree path (which may not exist there)."""
        absolute = Path(os.path.realpath(path))
        try:
            relative = absolute.relative_to(self.worktree)
        except ValueError:
            return path  # outside the repository: the same on both sides
        return self.directory / relative

    @property
    def label(self) -> str:
        return f"{self.ref} ({self.commit[:12]})"


@contextmanager
def merge_base_tree(path: Path, ref: str) -> Iterator[BaseTree]:
    """Unpack the merge base of `ref` and HEAD of the repository holding `path`."""
    import git

    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise UsageError(f"--base needs a git repository: {path} is not in one") from None
    try:
        if repo.working_tree_dir is None:
            raise UsageError(f"--base needs a working tree: {repo.git_dir} is bare")
        try:
            target = repo.commit(ref)
        except (git.BadName, ValueError):
            raise UsageError(f"--base {ref}: no such commit, branch or tag (in CI, fetch "
                             "it first: `git fetch origin main`, or clone with history)") \
                from None
        try:
            head = repo.head.commit
        except ValueError:
            raise UsageError("--base: the repository has no commit yet") from None
        bases = repo.merge_base(target, head)
        if not bases:
            raise UsageError(f"--base {ref}: no common ancestor with HEAD (a shallow clone? "
                             "fetch with enough history, e.g. `fetch-depth: 0`)")
        commit = bases[0].hexsha
        with tempfile.TemporaryDirectory(prefix="gitops-checker-base-") as temporary:
            directory = Path(temporary) / "tree"
            directory.mkdir()
            archive = Path(temporary) / "base.tar"
            with archive.open("wb") as stream:
                repo.archive(stream, treeish=commit, format="tar")
            _unpack(archive, directory)
            archive.unlink()
            yield BaseTree(ref, commit, Path(os.path.realpath(repo.working_tree_dir)),
                           directory)
    finally:
        repo.close()


def _unpack(archive: Path, directory: Path) -> None:
    """Regular files and directories, plus links that stay inside the tree (the `data`
    filter refuses the rest, one member at a time, so one odd link loses nothing else)."""
    with tarfile.open(archive) as tar:
        for member in tar:
            try:
                tar.extract(member, directory, filter="data")
            except tarfile.FilterError:
                continue


def compare_with_base(current: Report, base: Report, tree: BaseTree) -> Report:
    """`current` with the findings `base` already had suppressed, and the comparison."""
    before = {f.fingerprint for f in base.active_findings}
    after = {f.fingerprint for f in current.active_findings}
    marker = f"{BASE_PREFIX}{tree.label}"
    findings = tuple(_judged(f, marker, f.fingerprint in before) for f in current.findings)
    unchanged = sum(1 for f in findings if f.suppressed_by == marker)
    new = sum(1 for f in findings if f.suppressed_by is None)
    fixed = tuple(f for f in base.active_findings if f.fingerprint not in after)
    comparison = BaseComparison(tree.ref, tree.commit, new=new, unchanged=unchanged,
                                fixed=fixed, base_errors=base.errors)
    return dataclasses.replace(current, findings=findings, base=comparison)


def is_from_base(finding: Finding) -> bool:
    return (finding.suppressed_by or "").startswith(BASE_PREFIX)


def _judged(finding: Finding, marker: str, on_base: bool) -> Finding:
    """SARIF's `baselineState` (via details) and, for what the base had, the marker."""
    state = "unchanged" if on_base else "new"
    details = {**finding.details, "baseline_state": state}
    if on_base and finding.suppressed_by is None:
        return dataclasses.replace(finding, suppressed_by=marker, details=details)
    return dataclasses.replace(finding, details=details)
