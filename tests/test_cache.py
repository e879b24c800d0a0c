"""The result cache: an unchanged run is answered from the cache without checking again;
any change to what a run read, to its settings or to the tool is a miss; unsafe or damaged
caches are never used; concurrent runs agree."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import checker.pipeline
from checker.cache import CACHE_DIR_ENV
from checker.cli import main

REPO = Path(__file__).resolve().parents[1]
ESTATE = REPO / "fixtures" / "estates" / "odoo-finance"


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    copy = tmp_path / "estate"
    shutil.copytree(ESTATE, copy)
    return copy


class Counted:
    """run_check, counting the runs that really checked."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self._real = checker.pipeline.run_check
        monkeypatch.setattr(checker.pipeline, "run_check", self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self._real(*args, **kwargs)


def _check(estate: Path, out: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    code = main(["check", str(estate), "--no-progress", "--format", f"json={out}", *extra])
    return code, json.loads(out.read_text())


def _findings(report: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(f["rule_id"], f["location"]["path"], f["location"]["line"])
            for f in report["findings"]]


def test_an_unchanged_run_is_answered_from_the_cache(estate: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    runs = Counted(monkeypatch)
    first_code, first = _check(estate, tmp_path / "1.json")
    second_code, second = _check(estate, tmp_path / "2.json")
    assert runs.calls == 1
    assert (second_code, _findings(second)) == (first_code, _findings(first))
    assert first["findings"]  # the example estate has findings: a cached report keeps them
    assert second["findings"] == first["findings"]


@pytest.mark.parametrize("change", [
    "edit a manifest", "add a manifest", "edit a file beside a kustomization",
    "edit the config", "edit a base's resource"])
def test_any_change_to_what_was_read_is_a_miss(estate: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               change: str) -> None:
    runs = Counted(monkeypatch)
    beside = estate / "apps/odoo/base/transformer-settings.txt"  # a plug-in's, say
    beside.write_text("first\n")
    _check(estate, tmp_path / "1.json")
    ingress = estate / "clusters/prod/reporting/ingress.yaml"
    if change == "edit a manifest":
        ingress.write_text(ingress.read_text().replace("reporting", "reports", 1))
    elif change == "add a manifest":
        (estate / "clusters/prod/reporting/extra.yaml").write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra, namespace: reporting}\n")
    elif change == "edit a file beside a kustomization":
        beside.write_text("second\n")
    elif change == "edit the config":
        config = estate / ".gitops-checker.yaml"
        config.write_text(config.read_text() + "\n# changed\n")
    else:
        deployment = next((estate / "apps/odoo/base").glob("*.yaml"))
        deployment.write_text(deployment.read_text() + "\n# changed\n")
    _check(estate, tmp_path / "2.json")
    assert runs.calls == 2


def test_a_change_is_reported_after_a_cached_run(estate: Path, tmp_path: Path) -> None:
    _, before = _check(estate, tmp_path / "1.json")
    _check(estate, tmp_path / "2.json")  # from the cache
    ingress = estate / "clusters/prod/reporting/ingress.yaml"
    ingress.write_text(ingress.read_text() + "---\napiVersion: v1\nkind: ConfigMap\n"
                       "metadata: {name: bad}\ndata: {count: 1}\n")
    _, after = _check(estate, tmp_path / "3.json")
    new = set(_findings(after)) - set(_findings(before))
    assert ("SCH001", "clusters/prod/reporting/ingress.yaml") in {(r, p) for r, p, _ in new}


def test_settings_and_no_cache(estate: Path, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    runs = Counted(monkeypatch)
    _check(estate, tmp_path / "1.json")
    _check(estate, tmp_path / "2.json", "--schema-only")
    _check(estate, tmp_path / "3.json", "--kubernetes-version", "1.36")
    assert runs.calls == 3
    cache = Path(os.environ[CACHE_DIR_ENV])
    entries = set(cache.glob("*.pickle"))
    _check(estate, tmp_path / "4.json", "--no-cache")
    assert runs.calls == 4
    assert set(cache.glob("*.pickle")) == entries  # nothing kept either
    _check(estate, tmp_path / "5.json")
    assert runs.calls == 4


def test_runs_that_could_not_check_everything_are_not_kept(estate: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    runs = Counted(monkeypatch)
    (estate / "clusters/prod/reporting/broken.yaml").write_text("a: [unclosed\n")
    assert _check(estate, tmp_path / "1.json")[0] == 2
    assert _check(estate, tmp_path / "2.json")[0] == 2
    assert runs.calls == 2


def test_an_unsafe_or_damaged_cache_is_not_used(estate: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    runs = Counted(monkeypatch)
    _check(estate, tmp_path / "1.json")
    cache = Path(os.environ[CACHE_DIR_ENV])
    for entry in cache.glob("*.pickle"):
        entry.write_bytes(b"not a pickle")
    _, report = _check(estate, tmp_path / "2.json")
    assert runs.calls == 2 and report["findings"]
    cache.chmod(0o777)  # anyone could plant an entry: never loaded
    _check(estate, tmp_path / "3.json")
    assert runs.calls == 3


def test_concurrent_runs_agree(estate: Path, tmp_path: Path) -> None:
    """Two processes checking the same estate at once with one cache: both reports equal
    an uncached run's, and the entry left behind answers a third run."""
    command = [sys.executable, "-m", "checker", "check", str(estate), "--no-progress"]
    reference = subprocess.run([*command, "--no-cache", "--format", "json"],
                               capture_output=True, text=True, check=False)
    racing = [subprocess.Popen([*command, "--format", "json"], stdout=subprocess.PIPE,
                               text=True) for _ in range(2)]
    outputs = [process.communicate()[0] for process in racing]
    third = subprocess.run([*command, "--format", "json"], capture_output=True, text=True,
                           check=False)
    expected = _findings(json.loads(reference.stdout))
    for output in [*outputs, third.stdout]:
        assert _findings(json.loads(output)) == expected
    assert len(list(Path(os.environ[CACHE_DIR_ENV]).glob("*.pickle"))) == 1
    assert not list(Path(os.environ[CACHE_DIR_ENV]).glob(".tmp-*"))
