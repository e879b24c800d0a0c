"""Merging nested mappings the way Helm, Flux and data files do."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def merge_over(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """`top` merged over `base`: mappings merge key by key, anything else replaces. The
    result shares the nested mappings it takes whole (callers own their inputs)."""
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_over(merged[key], value)
        else:
            merged[key] = value
    return merged
