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


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


DEPLOYMENT = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: a}\n"
              "spec:\n  replica: 2\n  selector: {matchLabels: {app: web}}\n  template:\n"
              "    metadata: {labels: {app: web}}\n"
              "    spec: {containers: [{name: web, image: 'web:1'}]}\n")


def test_an_app_building_a_directory_nobody_scanned_is_checked_every_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What kubectl reads for it is not known: the run is not kept."""
    runs = Counted(monkeypatch)
    _write(tmp_path, {
        ".gitops-checker.yaml": "render:\n  repo_urls: ['https://git.example.com/estate.git']\n",
        "apps/app.yaml": (
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\n"
            "metadata: {name: platform, namespace: argocd}\nspec:\n  project: default\n"
            "  source: {repoURL: 'https://git.example.com/estate.git', path: platform, "
            "targetRevision: HEAD}\n"
            "  destination: {server: 'https://kubernetes.default.svc', namespace: a}\n"),
        "platform/kustomization.yaml": "resources: [deploy.yaml]\n",
        "platform/deploy.yaml": DEPLOYMENT})
    for attempt in range(2):
        code = main(["check", str(tmp_path / "apps"), "--root", str(tmp_path), "--no-progress",
                     "--format", f"json={tmp_path / f'{attempt}.json'}"])
        report = json.loads((tmp_path / f"{attempt}.json").read_text())
        assert code == 1 and ("SCH002", "platform/deploy.yaml") in {
            (f["rule_id"], f["location"]["path"]) for f in report["findings"]}
    assert runs.calls == 2


def test_kept_builds_are_shown_relative_to_each_run_s_root(tmp_path: Path) -> None:
    _write(tmp_path, {
        "base/kustomization.yaml": "resources: [deploy.yaml]\n",
        "base/deploy.yaml": DEPLOYMENT,
        "env/prod/kustomization.yaml": "namePrefix: prod-\nresources: [../../base]\n"})
    _check(tmp_path, tmp_path / "1.json")

    def second(*extra: str) -> list[tuple[str, str, int]]:
        main(["check", str(tmp_path / "env/prod"), "--root", str(tmp_path / "env"),
              "--no-progress", "--format", f"json={tmp_path / '2.json'}", *extra])
        return _findings(json.loads((tmp_path / "2.json").read_text()))

    assert second() == second("--no-cache")


@pytest.mark.parametrize("change", ["plug-in configuration", "new kustomization"])
def test_files_kustomize_reads_beyond_resources_invalidate(tmp_path: Path, change: str
                                                           ) -> None:
    files = {"app/deploy.yaml": DEPLOYMENT, "app/other.yaml": DEPLOYMENT.replace("web", "two")}
    if change == "plug-in configuration":
        files |= {
            "app/kustomization.yaml": "resources: [deploy.yaml, other.yaml]\n"
                                      "transformers: [config/prefix.yaml]\n",
            "app/config/prefix.yaml": "apiVersion: builtin\nkind: PrefixSuffixTransformer\n"
                                      "metadata: {name: p}\nprefix: one-\n"
                                      "fieldSpecs: [{path: metadata/name}]\n"}
    _write(tmp_path, files)
    _, before = _check(tmp_path, tmp_path / "1.json")
    if change == "plug-in configuration":
        _write(tmp_path, {"app/config/prefix.yaml": (tmp_path / "app/config/prefix.yaml")
                          .read_text().replace("one-", "two-")})
    else:
        _write(tmp_path, {"app/Kustomization": "resources: [deploy.yaml]\n"})
    _, cached = _check(tmp_path, tmp_path / "2.json")
    _, fresh = _check(tmp_path, tmp_path / "3.json", "--no-cache")
    assert _findings(cached) == _findings(fresh)
    names = {f["resource"]["name"] for f in cached["findings"]}
    assert names != {f["resource"]["name"] for f in before["findings"]}


CANARY = "Canary-Sealed-7f3a9c"


class Builds:
    """kubectl builds, counted."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from checker.render import kustomize

        self.calls = 0
        self._real = kustomize.render
        monkeypatch.setattr(kustomize, "render", self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self._real(*args, **kwargs)


def _secret_overlay(root: Path, value: str = CANARY) -> None:
    """An overlay kubectl must build (a patch), holding a Secret, beside a plain file."""
    _write(root, {
        "base/kustomization.yaml": "resources: [deploy.yaml]\n",
        "base/deploy.yaml": DEPLOYMENT,
        "prod/kustomization.yaml": "resources: [../base, secret.yaml]\npatches:\n"
                                   "  - path: replicas.yaml\n",
        "prod/replicas.yaml": "apiVersion: apps/v1\nkind: Deployment\n"
                              "metadata: {name: web, namespace: a}\nspec: {replicas: 3}\n",
        "prod/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: a}\n"
                            f"stringData: {{password: {value}}}\n",
        "plain/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: a}\n"})


def test_builds_holding_secrets_are_kept_sealed(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    estate = tmp_path / "estate"
    _secret_overlay(estate)
    builds = Builds(monkeypatch)
    _, first = _check(estate, tmp_path / "1.json")
    assert builds.calls == 1
    # Another file changes (the run is checked again), the overlay does not: not rebuilt.
    _write(estate, {"plain/cm.yaml": (estate / "plain/cm.yaml").read_text() + "data: {a: b}\n"})
    _, second = _check(estate, tmp_path / "2.json")
    assert builds.calls == 1
    _, fresh = _check(estate, tmp_path / "3.json", "--no-cache")
    assert builds.calls == 2
    assert _findings(second) == _findings(fresh) and _findings(first)
    assert "SEC001" in {rule for rule, _, _ in _findings(second)}  # the Secret was judged
    # The value is in no file of the cache, in any form the build or the estate has it.
    import base64

    forms = [CANARY.encode(), base64.b64encode(CANARY.encode())]
    cache = Path(os.environ[CACHE_DIR_ENV])
    kept = [p.read_bytes() for p in cache.rglob("*") if p.is_file()]
    assert kept and not [p for p in kept if any(form in p for form in forms)]
    # A new value: a new build (it is not opened with what the old files gave).
    _secret_overlay(estate, value=CANARY + "-rotated")
    _check(estate, tmp_path / "4.json")
    assert builds.calls == 3


def test_a_kept_build_opens_only_with_the_key_of_its_files(tmp_path: Path) -> None:
    from checker.cache import RenderCache

    files = tmp_path / "in"
    _write(files, {"a.yaml": f"password: {CANARY}\n", "b.yaml": "x: 1\n"})
    cache = RenderCache(tmp_path / "renders")
    cache.directory.mkdir()
    key = cache.key([files], "tool")
    cache.put(key, {"value": CANARY}, files=[files], tool="tool")
    (entry,) = cache.directory.iterdir()
    assert CANARY.encode() not in entry.read_bytes()
    assert cache.get(key) == {"value": CANARY}
    name, seal = key
    assert cache.get((name, bytes(32))) is None
    _write(files, {"b.yaml": "x: 2\n"})
    changed = cache.key([files], "tool")
    assert changed[0] != name and changed[1] != seal
    assert cache.get((name, changed[1])) is None  # another content's key does not open it
    # Made while a file changed (the key was taken before): not kept under the old key.
    cache.put(key, {"value": "newer"}, files=[files], tool="tool")
    assert cache.get(key) == {"value": CANARY}
    # An entry kept in the clear (an earlier version) is not used.
    import pickle

    entry.write_bytes(pickle.dumps({"value": "plain"}))
    assert cache.get(key) is None


def test_without_a_cipher_nothing_is_kept(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from checker.cache import RenderCache

    monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives.ciphers.aead", None)
    cache = RenderCache(tmp_path)
    key = cache.key([], "tool")
    cache.put(key, {"value": CANARY}, files=[], tool="tool")
    assert not list(tmp_path.iterdir()) and cache.get(key) is None


@pytest.mark.skipif(not __import__("checker.render.helm").render.helm.HELM_AVAILABLE,
                    reason="the helm extra is not installed")
@pytest.mark.parametrize("change", ["values file", "the app's values", "template"])
def test_chart_renders_are_kept_by_their_files_and_values(
        estate: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    from checker.render import helm

    calls: list[str] = []
    real = helm.render_chart
    monkeypatch.setattr(helm, "render_chart",
                        lambda chart, **kw: calls.append(chart.name) or real(chart, **kw))
    unrelated = estate / "clusters/prod/reporting/ingress.yaml"
    _check(estate, tmp_path / "1.json")
    assert calls == ["report-portal"]
    unrelated.write_text(unrelated.read_text() + "# edited\n")
    _, kept = _check(estate, tmp_path / "2.json")
    assert calls == ["report-portal"]  # a change elsewhere: the chart's render is kept
    edits = {
        "values file": ("charts/report-portal/values-prod.yaml", "maxReplicas: 40",
                        "maxReplicas: 8"),
        "the app's values": ("bootstrap/applications-prod.yaml", "tag: 1.8.2", "tag: 1.9.0"),
        "template": ("charts/report-portal/templates/deployment.yaml", "metadata:",
                     "metadata:\n  annotations: {edited: 'yes'}", )}
    name, old, new = edits[change]
    text = (estate / name).read_text()
    assert old in text
    (estate / name).write_text(text.replace(old, new, 1))
    _, cached = _check(estate, tmp_path / "3.json")
    assert calls == ["report-portal"] * 2
    _, fresh = _check(estate, tmp_path / "4.json", "--no-cache")
    assert cached["findings"] == fresh["findings"]
    if change == "values file":  # RES004 (maxReplicas 40) is gone with the new render
        assert "RES004" in {r for r, _, _ in _findings(kept)} - {r for r, _, _ in
                                                                  _findings(cached)}


@pytest.mark.skipif(not __import__("checker.render.helm").render.helm.HELM_AVAILABLE,
                    reason="the helm extra is not installed")
def test_a_chart_with_a_linked_directory_is_rendered_every_time(
        estate: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Helm follows a linked directory inside a chart; a file listing does not, so an edit
    there would not be seen: neither the chart's render nor the run is kept."""
    from checker.render import helm

    calls: list[str] = []
    real = helm.render_chart
    monkeypatch.setattr(helm, "render_chart",
                        lambda chart, **kw: calls.append(chart.name) or real(chart, **kw))
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "notes.txt").write_text("shared\n")
    (estate / "charts/report-portal/shared").symlink_to(tmp_path / "shared")
    _check(estate, tmp_path / "1.json")
    (tmp_path / "shared" / "notes.txt").write_text("edited behind the link\n")
    _check(estate, tmp_path / "2.json")
    assert calls == ["report-portal"] * 2
