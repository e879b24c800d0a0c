"""The settings a property runs with: `examples(n)` is n examples in the default profile."""

from __future__ import annotations

import os

from hypothesis import settings

PROFILES = ("ci", "dev", "thorough")


def profile_name() -> str:
    name = os.environ.get("HYPOTHESIS_PROFILE", "ci")
    return name if name in PROFILES else "ci"


def examples(count: int) -> settings:
    """Settings for a property of `count` examples under `ci` (ten times that under
    `thorough`). The profiles are registered by conftest.py, which pytest imports first."""
    parent = settings.get_profile(f"properties-{profile_name()}")
    return settings(parent, max_examples=max(1, count * parent.max_examples // 100))
