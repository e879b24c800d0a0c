"""Rule packs installed as distributions: the entry points of group `gitops_checker.packs`."""

from __future__ import annotations

import functools
import importlib.metadata
import sys

ENTRY_POINT_GROUP = "gitops_checker.packs"


def pack_entry_points() -> tuple[importlib.metadata.EntryPoint, ...]:
    """The installed packs' entry points, by name. Read once per import path: a run asks
    twice (its result cache's key, then the pack loader), and each read opens every
    installed distribution's metadata."""
    return _read(tuple(sys.path))


@functools.lru_cache(maxsize=4)
def _read(path: tuple[str, ...]) -> tuple[importlib.metadata.EntryPoint, ...]:
    return tuple(sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP),
                        key=lambda e: e.name))
