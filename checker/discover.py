"""Find the files to check: walk directories, honour .gitignore and the config's `exclude`.

Nothing outside the repository is read through it: a symbolic link that leads a file
outside (to `/etc/passwd`) is refused, as Argo CD refuses out-of-bounds links, and
symbolic links to directories are not followed. A directory that cannot be listed is an
error, not a silent gap.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pathspec

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", ".venv", "node_modules", "__pycache__"})
STDIN = "-"
HELM_CHART = "Helm chart"
HELM_ARCHIVE = "packaged Helm chart (.tgz)"
"""Reasons under which discovery hands charts to the render stage instead of the loader."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A file to read: `display` is the POSIX path relative to the root (or `-`)."""

    display: str
    path: Path | None  # None for stdin
    problem: str | None = None
    """Why it must not or cannot be read, found while listing (the loader reports it)."""


@dataclass(frozen=True, slots=True)
class Skipped:
    display: str
    reason: str


@functools.lru_cache(maxsize=65536)
def real_path(path: Path) -> Path:
    """`path.resolve()`, each path and directory resolved once: an estate has thousands of
    files in hundreds of directories, named again and again (found, then named by their
    kustomization), and resolving walks every component with a system call. Unlike
    `resolve`, a symbolic link loop is not an error here (as for `os.path.realpath`):
    callers that must refuse one check it (`checker.render.kustomize._resolved`).
    `forget_real_paths()` at the start of a run (directories may change between runs)."""
    directory, name = os.path.split(path)
    if not os.path.isabs(directory) or name in ("", ".", "..") or os.path.islink(path):
        return path.resolve()
    return Path(_real_directory(directory), name)


@functools.lru_cache(maxsize=65536)
def _real_directory(directory: str) -> str:
    return os.path.realpath(directory)


def forget_real_paths() -> None:
    real_path.cache_clear()
    _real_directory.cache_clear()


def relative_display(path: Path, root: Path) -> str:
    """POSIX path relative to `root`, or the absolute POSIX path when outside it."""
    absolute = os.path.abspath(path)
    base = os.path.abspath(root)
    if os.sep == "/":  # string operations: called for every file of an estate
        if absolute == base:
            return "."
        prefix = base if base.endswith("/") else base + "/"
        return absolute.removeprefix(prefix)
    try:
        return PurePosixPath(Path(absolute).relative_to(base)).as_posix()
    except ValueError:
        return PurePosixPath(absolute).as_posix()


def repository_top(root: Path) -> Path:
    """The repository `root` is in: the nearest directory from `root` up that holds `.git`,
    else `root` itself (resolved). Nothing outside it is read through a symbolic link."""
    resolved = Path(os.path.realpath(root))
    for directory in (resolved, *resolved.parents):
        if (directory / ".git").exists():
            return directory
    return resolved


def _escapes(path: Path, top: Path) -> str | None:
    """Why `path` must not be read: a symbolic link (itself, or a directory on the way)
    leading to a regular file outside `top`. Other bad links are the loader's to report
    (broken, a loop, a device)."""
    real = Path(os.path.realpath(path))
    if real == top or top in real.parents or not real.is_file():
        return None
    return f"symbolic link to a file outside the repository ({real.as_posix()}): not read"


def _gitignore_spec(directory: Path) -> pathspec.PathSpec | None:
    ignore_file = directory / ".gitignore"
    if not ignore_file.is_file():
        return None
    try:
        lines = ignore_file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return pathspec.GitIgnoreSpec.from_lines(lines)


def discover(
    inputs: Iterable[str], root: Path, *, exclude: Iterable[str] = (), gitignore: bool = True,
) -> tuple[list[Candidate], list[Skipped]]:
    """Files to check, in a stable order, and what was left out on purpose (and why).

    Explicitly named files are always read unless `exclude` matches them; files found by
    walking a directory must also have a manifest suffix and not be git-ignored. Helm chart
    directories (with `Chart.yaml`) are not read as plain YAML: their templates need
    rendering first.
    """
    exclude_spec = pathspec.GitIgnoreSpec.from_lines(list(exclude))
    found: dict[str, Candidate] = {}
    skipped: list[Skipped] = []
    top = repository_top(root)
    for raw in inputs:
        if raw == STDIN:
            found.setdefault(STDIN, Candidate(STDIN, None))
            continue
        path = Path(raw)
        display = relative_display(path, root)
        if exclude_spec.match_file(display):
            skipped.append(Skipped(display, "excluded by config"))
            continue
        if path.is_dir():
            # A directory named outside the repository (dumps of a cluster) is its own bound.
            real = Path(os.path.realpath(path))
            bound = top if real == top or top in real.parents else real
            for candidate, skip in _walk(path, root, exclude_spec, bound, gitignore):
                if candidate is not None:
                    found.setdefault(candidate.display, candidate)
                if skip is not None:
                    skipped.append(skip)
        else:
            # A file named outside the repository is read (it was asked for); a link inside
            # it that leads out is not.
            named = Path(os.path.abspath(path))
            inside = named.is_relative_to(top) or named.is_relative_to(os.path.abspath(root))
            problem = _escapes(path, top) if inside else None
            found.setdefault(display, Candidate(display, path, problem))
    candidates = sorted(found.values(), key=lambda c: c.display)
    return candidates, sorted(set(skipped), key=lambda s: s.display)


def _walk(
    top: Path, root: Path, exclude_spec: pathspec.PathSpec, repository: Path,
    gitignore: bool = True,
) -> Iterator[tuple[Candidate | None, Skipped | None]]:
    top_abs = Path(os.path.abspath(top))
    root_abs = Path(os.path.abspath(root))
    chain = [top_abs]
    if root_abs in top_abs.parents:
        chain = [p for p in reversed(top_abs.parents) if p == root_abs or root_abs in p.parents]
        chain.append(top_abs)
    if not gitignore:
        chain = []
    base_specs = [(d, spec) for d in chain if (spec := _gitignore_spec(d)) is not None]
    # The ignore specs in force for each directory still to visit: (base dir, spec).
    pending: dict[Path, list[tuple[Path, pathspec.PathSpec]]] = {top_abs: base_specs}
    unlisted: list[OSError] = []
    for dirpath, dirnames, filenames in os.walk(top_abs, followlinks=False,
                                                onerror=unlisted.append):
        while unlisted:
            yield _unlisted(unlisted.pop(0), root), None
        here = Path(dirpath)
        specs = pending.pop(here, base_specs)
        if gitignore and here != top_abs and (local := _gitignore_spec(here)) is not None:
            specs = [*specs, (here, local)]

        def ignored(path: Path, is_dir: bool,
                    specs: list[tuple[Path, pathspec.PathSpec]] = specs) -> bool:
            for base, spec in specs:
                try:
                    rel = PurePosixPath(path.relative_to(base)).as_posix()
                except ValueError:
                    continue
                if spec.match_file(rel + ("/" if is_dir else "")):
                    return True
            return False

        if "Chart.yaml" in filenames:
            # Templates are not YAML until rendered: the render stage takes the chart.
            display = relative_display(here, root)
            if not exclude_spec.match_file(display + "/") and not ignored(here, True):
                yield None, Skipped(display, HELM_CHART)
            dirnames[:] = []
            continue
        kept_dirs = []
        for name in sorted(dirnames):
            sub = here / name
            display = relative_display(sub, root)
            if name in SKIPPED_DIRS or exclude_spec.match_file(display + "/") or ignored(sub, True):
                continue
            if sub.is_symlink():
                yield None, Skipped(display, "symbolic link to a directory (not followed)")
                continue
            kept_dirs.append(name)
            pending[sub] = specs
        dirnames[:] = kept_dirs
        for name in sorted(filenames):
            if name.lower().endswith(".tgz"):
                display = relative_display(here / name, root)
                if not exclude_spec.match_file(display) and not ignored(here / name, False):
                    yield None, Skipped(display, HELM_ARCHIVE)
                continue
            if not name.lower().endswith(MANIFEST_SUFFIXES):
                continue
            path = here / name
            display = relative_display(path, root)
            if exclude_spec.match_file(display):
                yield None, Skipped(display, "excluded by config")
                continue
            if ignored(path, False):
                continue
            yield Candidate(display, path,
                            _escapes(path, repository) if path.is_symlink() else None), None
    while unlisted:
        yield _unlisted(unlisted.pop(0), root), None


def _unlisted(error: OSError, root: Path) -> Candidate:
    """A directory os.walk could not list: what it holds went unchecked."""
    where = Path(error.filename) if error.filename else root
    return Candidate(relative_display(where, root), where,
                     f"cannot list directory: {error.strerror or error}")
