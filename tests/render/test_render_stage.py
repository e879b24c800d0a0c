"""The render stage end to end on a small GitOps repository: Argo CD Applications and
ApplicationSets, Flux Kustomizations and HelmReleases deploying Kustomize overlays, a Helm
chart and plain directories; what cannot be rendered is said."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from checker.config import load_config
from checker.pipeline import CheckRun, run_check
from checker.render import helm

pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "render" / "apps"
THIS_REPO = "https://git.example.com/platform/estate.git"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> CheckRun:
    root = tmp_path_factory.mktemp("estate") / "repo"
    shutil.copytree(FIXTURE, root)
    (root / ".gitops-checker.yaml").write_text(
        f"bundled_packs: false\nrender:\n  repo_urls: [{THIS_REPO}]\n")
    (root / "flux" / "forced.yaml").write_text(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n"
        "  name: forced\n  namespace: flux-system\nspec:\n  interval: 10m\n"
        "  sourceRef: {kind: GitRepository, name: estate}\n  path: manifests/plain\n"
        "  targetNamespace: sandbox\n  prune: true\n")
    return run_check([str(root)], root=root, config=load_config(root / ".gitops-checker.yaml"))


def placed(run: CheckRun) -> set[tuple[str, str | None, str, str]]:
    return {(m.resource.kind, m.resource.namespace, m.resource.name, m.origin or "")
            for m in run.manifests}


def test_argo_and_flux_apps_render_overlays_into_their_destinations(run: CheckRun) -> None:
    objects = placed(run)
    assert ("Deployment", "erp-prod", "odoo", ("kustomize apps/odoo/overlays/prod "
            "(app Application argocd/erp-prod) → cluster prod-eu")) in objects
    assert any(kind == "Deployment" and namespace == "erp-staging" and origin.startswith(
        "kustomize apps/odoo/overlays/staging (app Application argocd/erp-staging)")
        for kind, namespace, _, origin in objects)
    assert ("Deployment", "erp-prod", "odoo", ("kustomize apps/odoo/overlays/prod "
            "(app Kustomization flux-system/erp-prod) → cluster prod-eu-kubeconfig")) in objects
    # ApplicationSet generators: git directories and list
    assert any(kind == "Namespace" and name == "tenant-a" and origin.startswith(
        "directory tenants/tenant-a (app ApplicationSet argocd/tenants (tenant-a))")
        for kind, _, name, origin in objects)
    # the excluded directory is deployed by no app (its file is still checked as written)
    assert not any(name == "legacy" and origin for _, _, name, origin in objects)


def test_flux_target_namespace_is_forced_on_plain_directories(run: CheckRun) -> None:
    forced = {(m.resource.name, m.resource.namespace) for m in run.manifests
              if m.origin and "flux-system/forced" in m.origin}
    assert forced == {("plain", "sandbox"), ("plain-extra", "sandbox")}
    unforced = {(m.resource.name, m.resource.namespace) for m in run.manifests
                if m.origin and "flux-system/plain" in m.origin}
    assert unforced == {("plain", None), ("plain-extra", None)}  # no targetNamespace
    # one copy per app, never copies of copies
    assert sum(1 for m in run.manifests if m.resource.name == "plain-extra") == 3


@pytest.mark.skipif(not helm.HELM_AVAILABLE, reason="helm extra not installed")
def test_charts_render_with_the_values_of_their_app(run: CheckRun) -> None:
    charts = [m for m in run.manifests if m.origin and m.origin.startswith("helm ")]
    assert {m.location.path for m in charts} == {"charts/odoo-lite/templates/deployment.yaml"}
    releases = {(m.resource.namespace, m.resource.name) for m in charts}
    assert ("erp-prod", "erp-prod-odoo-lite") in releases  # Flux: <targetNamespace>-<name>
    assert ("erp-staging", "odoo-lite-staging") in releases


def test_what_cannot_be_rendered_is_said(run: CheckRun) -> None:
    said = {f.message.split(":")[0] for f in run.report.findings if f.rule_id == "RND001"}
    assert "Application argocd/monitoring" in said  # another repository
    assert "Application argocd/redis" in said  # a chart from a Helm repository
    assert "Application argocd/ghost" in said  # a path that does not exist
    assert "HelmRelease erp/redis" in said
    secrets = " ".join(f.message for f in run.report.findings)
    assert "s3cr3t" not in secrets  # credentials in repository URLs are never repeated
    assert run.report.errors == ()
