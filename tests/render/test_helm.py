"""Helm charts rendered in process (checker.render.helm) with the optional helm extra.

Tests that render need `helm-python-sdk` (`pip install 'gitops-checker[helm]'`) and are
skipped without it; the discovery tests and the "extra not installed" report run always.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from checker.render import NotRendered, Rendered
from checker.render import helm as helm_render
from checker.render.helm import (
    INSTALL_HINT,
    is_chart_archive,
    is_chart_dir,
    remote_chart,
    render_chart,
)

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "render" / "helm"
ODOO = FIXTURES / "odoo-lite"
REL = "tests/fixtures/render/helm/odoo-lite"

needs_helm = pytest.mark.skipif(
    not helm_render.HELM_AVAILABLE,
    reason=f"helm extra not installed ({INSTALL_HINT})")


def _by_kind(rendered: list[Rendered]) -> dict[str, Rendered]:
    return {str(r.obj["kind"]): r for r in rendered}


def _tgz(chart: Path, dest: Path, top: str | None = None) -> Path:
    """`helm package`-like archive of a chart directory: `<name>/...` entries."""
    archive = dest / f"{top or chart.name}-0.3.1.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(chart, arcname=top or chart.name)
    return archive


def _chart(base: Path, name: str, templates: dict[str, str], chart_yaml: str = "",
           values: str = "") -> Path:
    chart = base / name
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n{chart_yaml}", encoding="utf-8")
    (chart / "values.yaml").write_text(values, encoding="utf-8")
    for file, text in templates.items():
        (chart / "templates" / file).write_text(text, encoding="utf-8")
    return chart


# -------------------------------------------------------------------------- discovery


def test_chart_dir_is_a_directory_with_chart_yaml(tmp_path: Path) -> None:
    assert is_chart_dir(ODOO)
    assert is_chart_dir(ODOO / "charts" / "redis-lite")
    assert not is_chart_dir(ODOO / "templates")
    assert not is_chart_dir(ODOO / "Chart.yaml")
    assert not is_chart_dir(tmp_path / "missing")


def test_chart_archive_needs_a_top_level_chart_yaml(tmp_path: Path) -> None:
    assert is_chart_archive(_tgz(ODOO, tmp_path))
    # Chart.yaml deeper than <chart>/ (a tarball of a repository) is no chart archive.
    nested = tmp_path / "nested.tgz"
    with tarfile.open(nested, "w:gz") as tar:
        tar.add(ODOO, arcname="repo/charts/odoo-lite")
    assert not is_chart_archive(nested)
    garbage = tmp_path / "garbage.tgz"
    garbage.write_bytes(b"\x1f\x8b not really gzip")
    assert not is_chart_archive(garbage)
    plain = tmp_path / "plain.tar"
    with tarfile.open(plain, "w") as tar:
        tar.add(ODOO, arcname="odoo-lite")
    assert not is_chart_archive(plain)
    assert not is_chart_archive(tmp_path / "missing.tgz")


def test_chart_archive_over_the_size_limit_is_not_read(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    archive = _tgz(ODOO, tmp_path)
    monkeypatch.setattr(helm_render, "MAX_ARCHIVE_BYTES", archive.stat().st_size - 1)
    assert not is_chart_archive(archive)


def test_importing_the_module_does_not_load_the_go_library() -> None:
    """The OPA worker's spawned children re-import the main module: no Go runtime there."""
    code = ("import sys, checker.render.helm as h; "
            "print(h.HELM_AVAILABLE, 'helm_python' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, check=True, timeout=60).stdout.split()
    assert out[1] == "False"


def test_without_the_extra_charts_are_not_rendered_with_the_hint(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(helm_render, "HELM_AVAILABLE", False)
    rendered, problems = render_chart(ODOO, root=REPO, release="erp", namespace="erp")
    assert rendered == []
    assert problems == [NotRendered(
        REL, "Helm chart not rendered: the helm extra is not installed "
             "(pip install 'gitops-checker[helm]')")]


def test_remote_chart_report() -> None:
    problem = remote_chart("oci://registry-1.docker.io/bitnamicharts/postgresql",
                           "apps/erp.yaml", 12)
    assert problem.path == "apps/erp.yaml" and problem.line == 12
    assert "not fetched" in problem.reason


# -------------------------------------------------------------------------- rendering


@needs_helm
def test_default_values() -> None:
    rendered, problems = render_chart(ODOO, root=REPO, release="erp", namespace="erp-prod",
                                      app="Application argocd/erp-prod")
    assert problems == []
    kinds = _by_kind(rendered)
    assert sorted(kinds) == ["Deployment", "Service", "StatefulSet"]  # no Ingress, no NOTES
    deployment = kinds["Deployment"].obj
    assert deployment["metadata"]["name"] == "erp-odoo-lite"
    assert deployment["metadata"]["labels"]["helm.sh/chart"] == "odoo-lite-0.3.1"
    assert deployment["spec"]["replicas"] == 1
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "odoo:17.0"  # the tag defaults to appVersion
    assert container["resources"]["limits"] == {"memory": "1Gi"}
    assert kinds["Service"].obj["spec"]["ports"][0]["port"] == 8069
    for item in rendered:
        assert item.origin.renderer == "helm"
        assert item.origin.root == REL
        assert item.origin.app == "Application argocd/erp-prod"
        assert item.origin.destination_namespace == "erp-prod"
        # Helm injects no namespace: the pipeline applies the destination's.
        assert "namespace" not in item.obj["metadata"]


@needs_helm
def test_value_files_then_values_override_the_defaults() -> None:
    rendered, problems = render_chart(
        ODOO, root=REPO, release="erp", namespace="erp-prod",
        value_files=[FIXTURES / "values-prod.yaml"],
        values={"replicaCount": 5, "redis": {"enabled": False}})
    assert problems == []
    kinds = _by_kind(rendered)
    assert sorted(kinds) == ["Deployment", "Ingress", "Service"]  # redis turned off
    deployment = kinds["Deployment"].obj
    assert deployment["spec"]["replicas"] == 5  # values win over the file
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "odoo:17.0.20240601"  # from the file
    assert container["imagePullPolicy"] == "IfNotPresent"  # chart default kept
    assert kinds["Ingress"].obj["spec"]["rules"][0]["host"] == "erp.example.com"


@needs_helm
def test_null_value_removes_a_default(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("resources: null\n", encoding="utf-8")
    rendered, problems = render_chart(ODOO, root=REPO, release="erp", namespace=None,
                                      value_files=[values])
    assert problems == []
    container = _by_kind(rendered)["Deployment"].obj["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] in (None, {})


@needs_helm
def test_source_is_the_template_file() -> None:
    rendered, _ = render_chart(ODOO, root=REPO, release="erp", namespace=None)
    sources = {str(r.obj["kind"]): r.source for r in rendered}
    assert sources == {
        "Deployment": f"{REL}/templates/deployment.yaml",
        "Service": f"{REL}/templates/service.yaml",
        # The subchart is the alias "redis" of redis-lite, in charts/redis-lite.
        "StatefulSet": f"{REL}/charts/redis-lite/templates/statefulset.yaml",
    }
    assert all(r.generated_by is None for r in rendered)
    for item in rendered:
        assert item.source is not None
        assert f"kind: {item.obj['kind']}" in (REPO / item.source).read_text(encoding="utf-8")


@needs_helm
def test_source_relative_to_a_chart_root(tmp_path: Path) -> None:
    rendered, _ = render_chart(ODOO, root=FIXTURES, release="erp", namespace=None)
    assert {r.source for r in rendered} == {
        "odoo-lite/templates/deployment.yaml", "odoo-lite/templates/service.yaml",
        "odoo-lite/charts/redis-lite/templates/statefulset.yaml"}


@needs_helm
def test_missing_required_value_is_reported_at_the_template() -> None:
    rendered, problems = render_chart(ODOO, root=REPO, release="erp", namespace=None,
                                      values={"database": {"host": None}})
    assert rendered == []
    assert len(problems) == 1
    problem = problems[0]
    assert problem.path == f"{REL}/templates/deployment.yaml"
    assert problem.line == 26
    assert "database.host is required" in problem.reason


@needs_helm
def test_template_errors_do_not_quote_values(tmp_path: Path) -> None:
    chart = _chart(tmp_path, "leaky", {
        "secret.yaml": '{{ fail (printf "cannot use password %s" .Values.password) }}\n'})
    values = tmp_path / "secrets.yaml"
    values.write_text("password: hunter2-very-secret\n", encoding="utf-8")
    rendered, problems = render_chart(chart, root=tmp_path, release="r", namespace=None,
                                      value_files=[values])
    assert rendered == []
    [problem] = problems
    assert problem.path == "leaky/templates/secret.yaml" and problem.line == 1
    assert "cannot use password" in problem.reason
    assert "hunter2" not in problem.reason


@needs_helm
def test_values_file_that_is_not_yaml(tmp_path: Path) -> None:
    values = tmp_path / "bad.yaml"
    values.write_text("replicaCount: [1\nimage: x\n", encoding="utf-8")
    rendered, problems = render_chart(ODOO, root=tmp_path, release="erp", namespace=None,
                                      value_files=[values, tmp_path / "missing.yaml"])
    assert rendered == []
    assert problems[0].path == "bad.yaml"
    assert "not valid" in problems[0].reason
    assert "not rendered" in problems[-1].reason


@needs_helm
def test_missing_values_file(tmp_path: Path) -> None:
    rendered, problems = render_chart(ODOO, root=tmp_path, release="erp", namespace=None,
                                      value_files=[tmp_path / "missing.yaml"])
    assert rendered == []
    assert problems[0] == NotRendered("missing.yaml", "Helm values file not found")


@needs_helm
def test_archive_renders_and_points_at_the_archive(tmp_path: Path) -> None:
    archive = _tgz(ODOO, tmp_path)
    rendered, problems = render_chart(archive, root=tmp_path, release="erp", namespace="erp",
                                      values={"replicaCount": 2})
    assert problems == []
    kinds = _by_kind(rendered)
    assert sorted(kinds) == ["Deployment", "Service", "StatefulSet"]
    assert kinds["Deployment"].obj["spec"]["replicas"] == 2
    assert kinds["Deployment"].source == "odoo-lite-0.3.1.tgz"
    assert kinds["Deployment"].generated_by == "odoo-lite/templates/deployment.yaml"
    assert kinds["StatefulSet"].generated_by == "odoo-lite/charts/redis/templates/statefulset.yaml"
    assert kinds["Deployment"].origin.root == "odoo-lite-0.3.1.tgz"


@needs_helm
def test_vendored_subchart_archive(tmp_path: Path) -> None:
    chart = tmp_path / "odoo"
    chart.mkdir()
    for name in ("Chart.yaml", "values.yaml"):
        (chart / name).write_bytes((ODOO / name).read_bytes())
    (chart / "templates").mkdir()
    (chart / "templates" / "_helpers.tpl").write_bytes(
        (ODOO / "templates" / "_helpers.tpl").read_bytes())
    (chart / "templates" / "service.yaml").write_bytes(
        (ODOO / "templates" / "service.yaml").read_bytes())
    (chart / "charts").mkdir()
    subchart = _tgz(ODOO / "charts" / "redis-lite", chart / "charts")
    rendered, problems = render_chart(chart, root=tmp_path, release="erp", namespace=None)
    assert problems == []
    kinds = _by_kind(rendered)
    assert kinds["Service"].source == "odoo/templates/service.yaml"
    assert kinds["StatefulSet"].source == f"odoo/charts/{subchart.name}"
    assert kinds["StatefulSet"].generated_by == "odoo-lite/charts/redis/templates/statefulset.yaml"


@needs_helm
def test_remote_dependency_is_not_fetched() -> None:
    chart = FIXTURES / "with-remote-dep"
    rendered, problems = render_chart(chart, root=REPO, release="erp", namespace=None)
    # The chart's own templates render; the dependency is reported, not fetched.
    assert [r.obj["kind"] for r in rendered] == ["ConfigMap"]
    [problem] = problems  # "metrics" is turned off by its condition
    assert problem.path == "tests/fixtures/render/helm/with-remote-dep/Chart.yaml"
    assert problem.line == 5
    assert "postgresql" in problem.reason and "not fetched" in problem.reason
    assert "oci://registry-1.docker.io/bitnamicharts" in problem.reason

    _, problems = render_chart(chart, root=REPO, release="erp", namespace=None,
                               values={"metrics": {"enabled": True}})
    assert [p.line for p in problems] == [5, 8]
    assert "metrics" in problems[1].reason


@needs_helm
def test_rendered_yaml_errors_point_at_the_template(tmp_path: Path) -> None:
    chart = _chart(tmp_path, "broken", {
        "a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n"
                  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [b\n",
        "b.yaml": "- not\n- an object\n",
    })
    rendered, problems = render_chart(chart, root=tmp_path, release="r", namespace=None)
    assert [r.obj["metadata"]["name"] for r in rendered] == ["a"]
    assert [(p.path, p.line) for p in problems] == [
        ("broken/templates/a.yaml", 9), ("broken/templates/b.yaml", 1)]
    assert "not valid YAML" in problems[0].reason
    assert "not a Kubernetes object" in problems[1].reason


@needs_helm
def test_kube_version_and_api_versions(tmp_path: Path) -> None:
    chart = _chart(tmp_path, "caps", {"cm.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: caps\ndata:\n"
        "  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n"
        "  monitoring: {{ .Capabilities.APIVersions.Has \"monitoring.coreos.com/v1\" | quote }}\n"
        "  namespace: {{ .Release.Namespace }}\n  install: {{ .Release.IsInstall | quote }}\n")})
    rendered, problems = render_chart(chart, root=tmp_path, release="r", namespace="ops",
                                      kube_version="v1.29.3",
                                      api_versions=["monitoring.coreos.com/v1"])
    assert problems == []
    assert rendered[0].obj["data"] == {"kube": "v1.29.3", "monitoring": "true",
                                       "namespace": "ops", "install": "true"}
    rendered, _ = render_chart(chart, root=tmp_path, release="r", namespace=None)
    assert rendered[0].obj["data"]["namespace"] == "default"
    assert rendered[0].obj["data"]["monitoring"] == "false"
    _, problems = render_chart(chart, root=tmp_path, release="r", namespace=None,
                               kube_version="banana")
    assert problems and "banana" in problems[0].reason


@needs_helm
def test_crds_are_included_unless_asked_not_to(tmp_path: Path) -> None:
    chart = _chart(tmp_path, "op", {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\n"
                                               "metadata: {name: op}\n"})
    (chart / "crds").mkdir()
    (chart / "crds" / "widgets.yaml").write_text(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        "metadata: {name: widgets.example.com}\n", encoding="utf-8")
    rendered, problems = render_chart(chart, root=tmp_path, release="r", namespace=None)
    assert problems == []
    assert {str(r.obj["kind"]): r.source for r in rendered} == {
        "ConfigMap": "op/templates/cm.yaml",
        "CustomResourceDefinition": "op/crds/widgets.yaml"}
    rendered, _ = render_chart(chart, root=tmp_path, release="r", namespace=None,
                               include_crds=False)
    assert [r.obj["kind"] for r in rendered] == ["ConfigMap"]


@needs_helm
def test_invalid_release_name() -> None:
    rendered, problems = render_chart(ODOO, root=REPO, release="Not_Valid", namespace=None)
    assert rendered == []
    assert problems[0].path == REL and "release name" in problems[0].reason


@needs_helm
def test_not_a_chart(tmp_path: Path) -> None:
    rendered, problems = render_chart(tmp_path, root=tmp_path, release="r", namespace=None)
    assert rendered == []
    assert problems[0].path == "." and "could not be loaded" in problems[0].reason


@needs_helm
def test_rendering_again_gives_the_same_objects() -> None:
    first, _ = render_chart(ODOO, root=REPO, release="erp", namespace=None)
    render_chart(ODOO, root=REPO, release="erp", namespace=None,
                 values={"redis": {"enabled": False}})
    again, _ = render_chart(ODOO, root=REPO, release="erp", namespace=None)
    assert [r.obj for r in again] == [r.obj for r in first]
