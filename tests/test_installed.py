"""What is installed (engine versions, pack entry points), kept by the state of the import
path: the same answer as importlib.metadata's, read again when an install changes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from checker import installed as module
from checker.cache import JsonCache
from checker.installed import WATCHED, installed


@pytest.fixture(autouse=True)
def forget() -> None:
    module._known.clear()
    module._entry_points.cache_clear()


def _distribution(site: Path, entry_points: str) -> Path:
    info = site / "extra_pack-1.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: extra-pack\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)
    return info


def test_kept_answers_are_importlib_metadata_answers(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    cache = JsonCache(tmp_path / "cache")
    (tmp_path / "cache").mkdir()
    read = module._read()
    assert sorted(read.versions) == sorted(WATCHED)
    assert read.versions["PyYAML"] is not None
    assert installed(cache) == read
    module._known.clear()
    monkeypatch.setattr(module, "_read", lambda: pytest.fail("read again"))
    assert installed(cache) == read  # from the cache


def test_an_install_on_the_import_path_is_seen(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    cache = JsonCache(tmp_path / "cache")
    (tmp_path / "cache").mkdir()
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    assert installed(cache).packs == []
    info = _distribution(site, "[gitops_checker.packs]\nextra = extra_pack\n")
    module._known.clear()
    module._entry_points.cache_clear()
    assert installed(cache).packs == [["extra", "extra_pack", "extra-pack==1.0"]]
    # An entry point edited in place (the directory's time need not change).
    (info / "entry_points.txt").write_text("[gitops_checker.packs]\nextra = extra_pack.rules\n")
    module._known.clear()
    module._entry_points.cache_clear()
    assert installed(cache).packs == [["extra", "extra_pack.rules", "extra-pack==1.0"]]


def test_a_damaged_entry_is_read_again(tmp_path: Path) -> None:
    cache = JsonCache(tmp_path)
    read = installed(cache)
    (entry,) = tmp_path.glob("*.json")
    for damaged in ('{"versions": {}, "packs": []}', "[]", "not json"):
        entry.write_text(damaged)
        module._known.clear()
        assert installed(cache) == read
    assert json.loads(entry.read_text())["versions"] == read.versions
