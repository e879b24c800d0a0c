"""Every test gets its own result cache (checker/cache.py): runs within a test may reuse
each other's results, as a user's would, but nothing leaks between tests or into the
home directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from checker.cache import CACHE_DIR_ENV


@pytest.fixture(autouse=True)
def _own_result_cache(tmp_path_factory: pytest.TempPathFactory,
                      monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path_factory.mktemp("result-cache")
    monkeypatch.setenv(CACHE_DIR_ENV, str(directory))
    return directory
