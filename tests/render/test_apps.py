"""Argo CD and Flux objects as render instructions (checker.render.apps)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import git
import pytest

from checker.discover import discover
from checker.load import load
from checker.model import Location, Manifest, Resource
from checker.render import NotRendered
from checker.render.apps import (
    GoTemplate,
    RenderInstruction,
    TemplateError,
    go_float,
    go_glob,
    normalise_repo_url,
    render_instructions,
    replace,
    repo_identities,
    set_path,
    set_value,
    shorten_release_name,
)

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "render" / "apps"
THIS_REPO = "https://git.example.com/platform/estate.git"


# --------------------------------------------------------------------------------------
# Helpers


def manifest(obj: Mapping[str, Any], path: str = "apps.yaml", line: int | None = 1) -> Manifest:
    metadata = obj.get("metadata") or {}
    resource = Resource(obj["apiVersion"], obj["kind"], metadata.get("namespace"),
                        metadata.get("name", ""))
    return Manifest(resource, obj, Location(path, line), 0)


def write(root: Path, files: Mapping[str, str]) -> None:
    for name, content in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")


def small_repo(root: Path) -> Path:
    write(root, {
        "overlay/kustomization.yaml": "resources: []\n",
        "chart/Chart.yaml": "apiVersion: v2\nname: chart\nversion: 0.1.0\n",
        "chart/values.yaml": "replicaCount: 1\n",
        "chart/values-prod.yaml": "replicaCount: 2\n",
        "shared/common.yaml": "team: erp\n",
        "plain/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
        "both/kustomization.yaml": "resources: []\n",
        "both/Chart.yaml": "apiVersion: v2\nname: both\nversion: 0.1.0\n",
    })
    return root


def application(source: Mapping[str, Any] | None = None, *, name: str = "app",
                sources: list[Mapping[str, Any]] | None = None,
                destination: Mapping[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "project": "default",
        "destination": destination or {"name": "in-cluster", "namespace": "erp"},
    }
    if sources is not None:
        spec["sources"] = sources
    elif source is not None:
        spec["source"] = source
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "namespace": "argocd"}, "spec": spec}


def run(root: Path, *objects: Mapping[str, Any],
        repos: set[str] | None = None) -> tuple[list[RenderInstruction], list[NotRendered]]:
    manifests = [manifest(o, line=i + 1) for i, o in enumerate(objects)]
    return render_instructions(manifests, root=root, repos={THIS_REPO} if repos is None
                               else repos)


def reasons(not_rendered: list[NotRendered]) -> list[str]:
    return [n.reason for n in not_rendered]


# --------------------------------------------------------------------------------------
# The fixture repository


@pytest.fixture(scope="module")
def estate() -> tuple[list[RenderInstruction], list[NotRendered]]:
    candidates, _ = discover([str(FIXTURE)], FIXTURE)
    loaded = load(candidates)
    assert loaded.errors == []
    return render_instructions(loaded.manifests, root=FIXTURE, repos={THIS_REPO})


def instruction(estate: tuple[list[RenderInstruction], list[NotRendered]],
                app: str) -> RenderInstruction:
    found = [i for i in estate[0] if i.app == app]
    assert len(found) == 1, [i.app for i in estate[0]]
    return found[0]


def notes(estate: tuple[list[RenderInstruction], list[NotRendered]], app: str) -> list[str]:
    return [n.reason for n in estate[1] if n.reason.startswith(app + ":")]


def test_application_kustomize_overlay(estate: Any) -> None:
    got = instruction(estate, "Application argocd/erp-prod")
    assert got == RenderInstruction(
        app="Application argocd/erp-prod", declared_in="argocd/applications.yaml", line=2,
        kind="kustomize", path="apps/odoo/overlays/prod", namespace="erp-prod",
        cluster="prod-eu")
    assert notes(estate, "Application argocd/erp-prod") == []


def test_application_kustomize_overrides_are_rendered_with_a_note(estate: Any) -> None:
    got = instruction(estate, "Application argocd/erp-staging")
    assert (got.kind, got.path, got.namespace) == \
        ("kustomize", "apps/odoo/overlays/staging", "erp-staging")
    assert got.cluster == "https://kubernetes.default.svc"
    [note] = notes(estate, "Application argocd/erp-staging")
    assert "not applied: kustomize.images" in note


def test_application_multi_source_with_values_ref(estate: Any) -> None:
    got = instruction(estate, "Application argocd/odoo-lite-prod")
    assert got.kind == "helm"
    assert got.path == "charts/odoo-lite"
    assert got.release == "odoo"
    assert got.namespace == "erp-prod"
    # values-prod.yaml next to the chart, then $values/… from the ref source of this repo.
    assert got.value_files == ("charts/odoo-lite/values-prod.yaml", "env/values/prod.yaml")
    # helm.values, then the parameters set over them (forceString keeps "2" a string).
    assert got.values == {
        "replicaCount": 3,
        "image": {"tag": "17.0-20240601", "pullPolicy": "Always"},
        "resources": {"limits": {"cpu": "2"}},
    }
    [note] = notes(estate, "Application argocd/odoo-lite-prod")
    assert "$shared/odoo/prod.yaml" in note and "shared-values" in note
    assert "rendered without it" in note


def test_application_helm_discovered_from_chart_yaml(estate: Any) -> None:
    got = instruction(estate, "Application argocd/odoo-lite-staging")
    assert (got.kind, got.path, got.release) == ("helm", "charts/odoo-lite", "odoo-lite-staging")
    assert got.values == {"replicaCount": 1}
    assert got.value_files == ()


def test_application_plain_directory(estate: Any) -> None:
    got = instruction(estate, "Application argocd/plain")
    assert (got.kind, got.path, got.namespace, got.cluster) == \
        ("directory", "manifests/plain", "tools", "nonprod")
    assert got.directory_recurse is True
    assert (got.include, got.exclude) == ("*.yaml", "extra/ignored-*.yaml")
    assert got.release is None and got.values == {}


def test_application_in_another_repository_is_not_rendered(estate: Any) -> None:
    assert not [i for i in estate[0] if i.app == "Application argocd/monitoring"]
    [note] = [n for n in estate[1] if n.reason.startswith("Application argocd/monitoring:")]
    assert note.path == "argocd/applications.yaml"
    assert note.line == 110
    assert "https://github.com/acme/monitoring.git is not this repository" in note.reason
    assert "s3cr3t" not in note.reason and "token" not in note.reason


def test_application_chart_from_helm_repository_is_not_fetched(estate: Any) -> None:
    [note] = notes(estate, "Application argocd/redis")
    assert note == ("Application argocd/redis: chart redis 19.0.1 from repository "
                    "https://charts.bitnami.com/bitnami is not fetched; its objects are not "
                    "rendered")


def test_application_path_that_does_not_exist(estate: Any) -> None:
    [note] = [n for n in estate[1] if n.reason.startswith("Application argocd/ghost:")]
    assert "apps/ghost does not exist" in note.reason
    assert (note.path, note.line) == ("argocd/applications.yaml", 141)


def test_applicationset_git_directories_go_template(estate: Any) -> None:
    tenants = [i for i in estate[0] if i.app.startswith("ApplicationSet argocd/tenants ")]
    assert [(i.app, i.path, i.namespace, i.kind) for i in tenants] == [
        ("ApplicationSet argocd/tenants (tenant-a)", "tenants/tenant-a", "tenant-a",
         "directory"),
        ("ApplicationSet argocd/tenants (tenant-b)", "tenants/tenant-b", "tenant-b",
         "directory"),
    ]  # tenants/legacy is excluded
    assert all(i.declared_in == "argocd/applicationsets.yaml" and i.line == 2 for i in tenants)


def test_applicationset_git_directories_fasttemplate_with_values(estate: Any) -> None:
    overlays = [i for i in estate[0] if i.app.startswith("ApplicationSet argocd/overlays ")]
    assert [(i.app, i.path, i.namespace, i.cluster) for i in overlays] == [
        ("ApplicationSet argocd/overlays (odoo-prod)", "apps/odoo/overlays/prod", "erp-prod",
         "prod-cluster"),
        ("ApplicationSet argocd/overlays (odoo-staging)", "apps/odoo/overlays/staging",
         "erp-staging", "staging-cluster"),
    ]


def test_applicationset_list_fasttemplate(estate: Any) -> None:
    prod = instruction(estate, "ApplicationSet argocd/charts (odoo-lite-prod)")
    staging = instruction(estate, "ApplicationSet argocd/charts (odoo-lite-staging)")
    assert (prod.kind, prod.release, prod.cluster, prod.namespace) == \
        ("helm", "odoo-lite-prod", "prod-eu", "erp-prod")
    assert prod.value_files == ("charts/odoo-lite/values-prod.yaml",)
    assert staging.value_files == ()  # values-staging.yaml is missing and may be


def test_applicationset_list_go_template_numbers_and_nesting(estate: Any) -> None:
    got = instruction(estate, "ApplicationSet argocd/go-list (plain-2)")
    assert (got.path, got.namespace) == ("manifests/plain", "plain")


def test_applicationset_sprig_function_is_not_rendered(estate: Any) -> None:
    assert not [i for i in estate[0] if i.app.startswith("ApplicationSet argocd/sprig")]
    [note] = notes(estate, "ApplicationSet argocd/sprig")
    assert "'printf' is not evaluated" in note


def test_applicationset_cluster_generator_is_not_evaluated(estate: Any) -> None:
    [note] = [n for n in estate[1] if n.reason.startswith("ApplicationSet argocd/everywhere:")]
    assert "generator 1 (clusters) is not evaluated" in note.reason
    assert (note.path, note.line) == ("argocd/applicationsets.yaml", 139)


def test_flux_kustomization_from_this_repository(estate: Any) -> None:
    got = instruction(estate, "Kustomization flux-system/erp-prod")
    assert got == RenderInstruction(
        app="Kustomization flux-system/erp-prod", declared_in="flux/kustomizations.yaml",
        line=1, kind="kustomize", path="apps/odoo/overlays/prod", namespace="erp-prod",
        cluster="prod-eu-kubeconfig")


def test_flux_kustomization_of_a_plain_directory_recurses(estate: Any) -> None:
    got = instruction(estate, "Kustomization flux-system/plain")
    assert (got.kind, got.path, got.directory_recurse, got.namespace, got.cluster) == \
        ("directory", "manifests/plain", True, None, None)
    [note] = notes(estate, "Kustomization flux-system/plain")
    assert "not applied: spec.postBuild" in note


def test_flux_kustomization_from_other_sources(estate: Any) -> None:
    [vendor] = notes(estate, "Kustomization flux-system/vendor")
    assert "https://github.com/vendor/manifests, not this repository" in vendor
    [oci] = notes(estate, "Kustomization flux-system/oci")
    assert "source OCIRepository flux-system/platform is not fetched" in oci
    assert not [i for i in estate[0] if i.app in ("Kustomization flux-system/vendor",
                                                  "Kustomization flux-system/oci")]


def test_flux_helmrelease_from_git_repository(estate: Any) -> None:
    got = instruction(estate, "HelmRelease erp/odoo-lite")
    assert (got.kind, got.path, got.namespace, got.cluster) == \
        ("helm", "charts/odoo-lite", "erp-prod", "prod-eu-kubeconfig")
    assert got.release == "erp-prod-odoo-lite"
    assert got.value_files == ("charts/odoo-lite/values.yaml",
                               "charts/odoo-lite/values-prod.yaml")
    # valuesFrom in order (ConfigMap values.yaml, then a targetPath), spec.values last.
    assert got.values == {
        "replicaCount": 3,
        "image": {"tag": "17.0-20240601", "pullPolicy": "Always"},
        "ingress": {"host": "erp.example.com"},
    }
    assert notes(estate, "HelmRelease erp/odoo-lite") == []  # the optional one is absent


def test_flux_helmrelease_from_helm_repository(estate: Any) -> None:
    [note] = [n for n in estate[1] if n.reason.startswith("HelmRelease erp/redis:")]
    assert "chart redis from a Helm repository (HelmRepository bitnami) is not fetched" \
        in note.reason
    assert (note.path, note.line) == ("flux/helmreleases.yaml", 56)


def test_every_note_names_the_app_file_and_line(estate: Any) -> None:
    assert estate[1]
    for note in estate[1]:
        assert note.path and note.path.endswith(".yaml") and note.line
        assert note.reason.split(":")[0].split(" ")[0] in (
            "Application", "ApplicationSet", "Kustomization", "HelmRelease")


def test_nothing_is_this_repository_without_identities() -> None:
    candidates, _ = discover([str(FIXTURE)], FIXTURE)
    instructions, not_rendered = render_instructions(load(candidates).manifests,
                                                     root=FIXTURE, repos=set())
    assert instructions == []
    assert any("not this repository" in r for r in reasons(not_rendered))


# --------------------------------------------------------------------------------------
# Repository identity


@pytest.mark.parametrize(("url", "expected"), [
    ("https://github.com/Org/Repo.git", "github.com/Org/Repo"),
    ("https://github.com/Org/Repo/", "github.com/Org/Repo"),
    ("HTTP://GitHub.COM/Org/Repo", "github.com/Org/Repo"),
    ("ssh://git@github.com/Org/Repo.git", "github.com/Org/Repo"),
    ("ssh://git@github.com:22/Org/Repo", "github.com/Org/Repo"),
    ("git@github.com:Org/Repo.git", "github.com/Org/Repo"),
    ("github.com:Org/Repo", "github.com/Org/Repo"),
    ("https://user:token@gitlab.example.com:8443/group/sub/repo.git",
     "gitlab.example.com/group/sub/repo"),
    ("git://example.com/repo.git/", "example.com/repo"),
    ("/srv/git/estate.git", "/srv/git/estate"),
])
def test_normalise_repo_url(url: str, expected: str) -> None:
    assert normalise_repo_url(url) == expected


def test_repo_identities_reads_remotes_of_the_repository(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no global insteadOf of the machine
    repo = git.Repo.init(tmp_path / "repo")
    repo.create_remote("origin", "https://git.example.com/Platform/estate.git")
    repo.create_remote("mirror", "git@mirror.example.com:platform/estate.git")
    repo.create_remote("short", "gh:acme/tools")
    with repo.config_writer() as config:
        config.set_value('remote "origin"', "pushurl", "ssh://git@push.example.com/estate")
        config.set_value('url "https://github.com/"', "insteadOf", "gh:")
    repo.close()
    (tmp_path / "repo" / "sub").mkdir()

    identities = repo_identities(tmp_path / "repo" / "sub", ["https://Extra.example.com/x/"])
    assert {
        "git.example.com/Platform/estate",
        "mirror.example.com/platform/estate",
        "push.example.com/estate",
        "github.com/acme/tools",
        "extra.example.com/x",
    } <= identities
    assert "gh/acme/tools" not in identities


def test_repo_identities_outside_a_repository(tmp_path: Path) -> None:
    assert repo_identities(tmp_path, ["git@github.com:acme/estate.git"]) == \
        {"github.com/acme/estate"}
    assert repo_identities(tmp_path) == set()


def _remotes_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no global insteadOf of the machine
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    repo = git.Repo.init(tmp_path / "repo")
    repo.create_remote("origin", "https://user:token@git.example.com/Platform/estate.git")
    repo.create_remote("short", "gh:acme/tools")
    with repo.config_writer() as config:
        config.set_value('url "https://github.com/"', "insteadOf", "gh:")
    repo.close()
    return tmp_path / "repo"


def test_remote_identities_are_kept_by_the_git_configuration(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kept answer needs no gitpython; a change to the configuration is read again."""
    import sys

    from checker.cache import RenderCache
    from checker.render.stage import _repo_identities

    root = _remotes_repo(tmp_path, monkeypatch)
    cache = RenderCache(tmp_path / "renders")
    cache.directory.mkdir()
    configured = ["https://extra.example.com/x"]
    expected = repo_identities(root, configured)
    assert {"git.example.com/Platform/estate", "github.com/acme/tools"} < expected
    assert _repo_identities(root, configured, cache) == expected
    kept = b"".join(p.read_bytes() for p in cache.directory.iterdir())
    assert b"token" not in kept  # identities carry no credentials
    with monkeypatch.context() as blocked:
        blocked.setitem(sys.modules, "git", None)  # importing gitpython fails
        assert _repo_identities(root, configured, cache) == expected
        assert _repo_identities(tmp_path / "home", configured, None) == {
            "extra.example.com/x"}  # not a repository: no gitpython needed either
    with git.Repo(root) as repo:
        repo.create_remote("mirror", "git@mirror.example.com:platform/estate.git")
    assert _repo_identities(root, configured, cache) == \
        expected | {"mirror.example.com/platform/estate"}
    # A configuration that includes another file is read by gitpython every time.
    (root / ".git" / "config").write_text((root / ".git" / "config").read_text()
                                          + "[include]\n\tpath = other\n")
    with monkeypatch.context() as blocked:
        blocked.setitem(sys.modules, "git", None)
        assert _repo_identities(root, configured, cache) == {"extra.example.com/x"}


def test_remotes_identify_the_sources_of_apps(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    root = small_repo(tmp_path / "repo")
    repo = git.Repo.init(root)
    repo.create_remote("origin", "git@git.example.com:platform/estate.git")
    repo.close()
    app = application({"repoURL": "https://git.example.com/platform/estate", "path": "overlay"})
    instructions, not_rendered = run(root, app, repos=repo_identities(root))
    assert [i.path for i in instructions] == ["overlay"] and not_rendered == []


# --------------------------------------------------------------------------------------
# Argo CD Application details


def test_explicit_source_type_and_discovery(tmp_path: Path) -> None:
    root = small_repo(tmp_path)
    instructions, not_rendered = run(
        root,
        application({"repoURL": THIS_REPO, "path": "both"}, name="both"),
        application({"repoURL": THIS_REPO, "path": "both", "helm": {"releaseName": "b"}},
                    name="both-helm"),
        application({"repoURL": THIS_REPO, "path": "overlay", "directory": {"recurse": True}},
                    name="overlay-dir"),
        application({"repoURL": THIS_REPO, "path": "plain", "helm": {}}, name="empty-helm"),
        application({"repoURL": THIS_REPO, "path": "overlay",
                     "directory": {"recurse": False, "jsonnet": {}}}, name="zero-directory"),
        application({"repoURL": THIS_REPO, "path": "plain", "helm": {"releaseName": "x"}},
                    name="no-chart"),
        application({"repoURL": THIS_REPO, "path": "plain", "kustomize": {"namePrefix": "x-"}},
                    name="no-kustomization"),
        application({"repoURL": THIS_REPO, "path": "overlay", "kustomize": {"namePrefix": "a"},
                     "directory": {"recurse": True}}, name="two-types"),
    )
    kinds = {i.app: (i.kind, i.release) for i in instructions}
    assert kinds == {
        "Application argocd/both": ("kustomize", None),  # a kustomization wins over a chart
        "Application argocd/both-helm": ("helm", "b"),
        "Application argocd/overlay-dir": ("directory", None),
        "Application argocd/empty-helm": ("directory", None),  # an empty block is no type
        "Application argocd/zero-directory": ("kustomize", None),
    }
    text = "\n".join(reasons(not_rendered))
    assert "no-chart: helm options are set but plain has no Chart.yaml" in text
    assert "no-kustomization: kustomize options are set but plain has no kustomization" in text
    assert "two-types: more than one source type is set (kustomize, directory)" in text


def test_value_files(tmp_path: Path) -> None:
    root = small_repo(tmp_path)

    def helm_app(name: str, files: list[str], **helm: Any) -> dict[str, Any]:
        return application({"repoURL": THIS_REPO, "path": "chart",
                            "helm": {"valueFiles": files, **helm}}, name=name)

    instructions, not_rendered = run(
        root,
        helm_app("relative", ["values-prod.yaml", "/shared/common.yaml", "../shared/common.yaml"]),
        helm_app("prod", ["values-${ARGOCD_APP_NAME}.yaml"]),
        helm_app("missing", ["values-nope.yaml"]),
        helm_app("ignored", ["values-nope.yaml", "values.yaml"], ignoreMissingValueFiles=True),
        helm_app("outside", ["../../etc/passwd"]),
        helm_app("remote", ["https://user:pw@example.com/values.yaml"]),
        helm_app("unknown-ref", ["$nope/values.yaml"]),
    )
    files = {i.app.split("/")[1]: i.value_files for i in instructions}
    assert files == {
        "relative": ("chart/values-prod.yaml", "shared/common.yaml", "shared/common.yaml"),
        "prod": ("chart/values-prod.yaml",),
        "ignored": ("chart/values.yaml",),
        "remote": (),
    }
    text = "\n".join(reasons(not_rendered))
    assert "missing: value file chart/values-nope.yaml does not exist" in text
    assert "outside: value file ../../etc/passwd leads out of the repository" in text
    assert "remote: remote value file https://example.com/values.yaml is not fetched" in text
    assert "pw@" not in text
    assert "unknown-ref: value file $nope/values.yaml: no source has ref 'nope'" in text


def test_helm_values_and_parameters(tmp_path: Path) -> None:
    root = small_repo(tmp_path)
    [got], not_rendered = run(root, application({
        "repoURL": THIS_REPO, "path": "chart",
        "helm": {
            "values": "a: 1\nb: {c: 2}\n",
            "valuesObject": {"a": 10, "b": {"d": 3}},  # wins over `values` as a whole
            "parameters": [
                {"name": "b.e", "value": "true"},
                {"name": "list[1]", "value": "007"},
                {"name": "tags", "value": "{x,2}"},
                {"name": "plain", "value": "a,b"},
                {"name": "dotted\\.key", "value": "null"},
                {"name": "bad..path", "value": "1"},
            ],
            "fileParameters": [{"name": "cert", "path": "cert.pem"}],
        },
    }))
    assert got.values == {"a": 10, "b": {"d": 3, "e": True}, "list": [None, "007"],
                          "tags": ["x", 2], "plain": "a,b", "dotted.key": None}
    text = "\n".join(reasons(not_rendered))
    assert "helm parameter 'bad..path' is not applied" in text
    assert "helm.fileParameters are not applied" in text


def test_invalid_helm_values_are_not_rendered(tmp_path: Path) -> None:
    root = small_repo(tmp_path)
    instructions, not_rendered = run(root, application({
        "repoURL": THIS_REPO, "path": "chart", "helm": {"values": "a: [1, 2\n"}}))
    assert instructions == []
    assert "helm.values is not valid YAML" in not_rendered[0].reason


def test_sources_that_are_not_rendered(tmp_path: Path) -> None:
    root = small_repo(tmp_path)
    instructions, not_rendered = run(
        root,
        application({"repoURL": THIS_REPO, "path": "../elsewhere"}, name="escape"),
        application({"repoURL": THIS_REPO, "path": "overlay", "plugin": {"name": "cmp"}},
                    name="plugin"),
        application({"repoURL": THIS_REPO, "chart": "local"}, name="chart-field"),
        application(None, name="no-source"),
    )
    assert instructions == []
    assert [n.line for n in not_rendered] == [1, 2, 3, 4]
    text = "\n".join(reasons(not_rendered))
    assert "escape: path '../elsewhere' leads out of the repository" in text
    assert "plugin: config management plugin sources are not run" in text
    assert "chart-field: chart local from repository" in text
    assert "no-source: no source" in text


def test_repository_root_and_source_hydrator(tmp_path: Path) -> None:
    root = small_repo(tmp_path)
    hydrated = application(None, name="hydrated")
    hydrated["spec"]["sourceHydrator"] = {
        "drySource": {"repoURL": THIS_REPO, "path": "overlay", "targetRevision": "HEAD"},
        "syncSource": {"targetBranch": "env/prod", "path": "prod"},
    }
    instructions, not_rendered = run(
        root, application({"repoURL": THIS_REPO}, name="top"), hydrated)
    assert [(i.app, i.path, i.kind) for i in instructions] == [
        ("Application argocd/top", ".", "directory"),
        ("Application argocd/hydrated", "overlay", "kustomize"),
    ]
    assert not_rendered == []


def test_multi_source_notes_name_the_source(tmp_path: Path) -> None:
    root = small_repo(tmp_path)
    instructions, not_rendered = run(root, application(sources=[
        {"repoURL": "https://charts.example.com", "chart": "redis", "targetRevision": "1.0"},
        {"repoURL": THIS_REPO, "path": "overlay"},
        {"repoURL": "https://github.com/other/repo", "path": "x", "ref": "other"},
    ]))
    assert [i.path for i in instructions] == ["overlay"]
    assert reasons(not_rendered) == [
        ("Application argocd/app: source 1: chart redis 1.0 from repository "
         "https://charts.example.com is not fetched; its objects are not rendered"),
        ("Application argocd/app: source 3: source repository https://github.com/other/repo "
         "is not this repository; its manifests are not rendered"),
    ]


def test_application_without_namespace_and_with_server(tmp_path: Path) -> None:
    root = small_repo(tmp_path)
    app = application({"repoURL": THIS_REPO, "path": "overlay"},
                      destination={"server": "https://prod.example.com:6443"})
    del app["metadata"]["namespace"]
    [got], _ = run(root, app)
    assert (got.app, got.namespace, got.cluster) == \
        ("Application app", None, "https://prod.example.com:6443")


# --------------------------------------------------------------------------------------
# ApplicationSet details


def appset(generators: list[Any], template: Mapping[str, Any], *, go: bool = False,
           **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"generators": generators, "template": template, **spec}
    if go:
        body["goTemplate"] = True
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
            "metadata": {"name": "set", "namespace": "argocd"}, "spec": body}


def app_template(name: str, path: str, namespace: str = "erp") -> dict[str, Any]:
    return {"metadata": {"name": name},
            "spec": {"project": "default",
                     "source": {"repoURL": THIS_REPO, "path": path},
                     "destination": {"name": "in-cluster", "namespace": namespace}}}


def test_git_generator_parameters_fasttemplate(tmp_path: Path) -> None:
    root = small_repo(tmp_path)
    write(root, {"envs/My_Env.v2/cm.yaml": "", "envs/empty/.keep/x": "", ".hidden/cm.yaml": ""})
    (root / "envs" / "no-files").mkdir()
    generator = {"git": {"repoURL": THIS_REPO, "directories": [{"path": "*"},
                                                               {"path": "envs/*"}]}}
    instructions, not_rendered = run(root, appset(
        [generator],
        app_template("{{path.basenameNormalized}}", "{{path}}", "{{path[0]}}-{{path[1]}}")))
    got = {i.path: (i.app, i.namespace) for i in instructions}
    assert got == {
        "both": ("ApplicationSet argocd/set (both)", "both-{{path[1]}}"),
        "chart": ("ApplicationSet argocd/set (chart)", "chart-{{path[1]}}"),
        "envs": ("ApplicationSet argocd/set (envs)", "envs-{{path[1]}}"),
        "envs/My_Env.v2": ("ApplicationSet argocd/set (my-env.v2)", "envs-My_Env.v2"),
        "envs/empty": ("ApplicationSet argocd/set (empty)", "envs-empty"),
        "overlay": ("ApplicationSet argocd/set (overlay)", "overlay-{{path[1]}}"),
        "plain": ("ApplicationSet argocd/set (plain)", "plain-{{path[1]}}"),
        "shared": ("ApplicationSet argocd/set (shared)", "shared-{{path[1]}}"),
    }  # no hidden directory, none without a file below it (envs/no-files)
    assert not_rendered == []


def test_git_generator_go_template_with_prefix_and_values(tmp_path: Path) -> None:
    root = small_repo(tmp_path)
    generator = {"git": {"repoURL": THIS_REPO, "directories": [{"path": "overlay"}],
                         "pathParamPrefix": "app",
                         "values": {"ns": "{{ .app.path.basename }}-ns"}}}
    [got], not_rendered = run(root, appset(
        [generator],
        app_template("{{ .app.path.basename }}", "{{ .app.path.path }}", "{{ .values.ns }}"),
        go=True))
    assert (got.app, got.path, got.namespace) == \
        ("ApplicationSet argocd/set (overlay)", "overlay", "overlay-ns")
    assert not_rendered == []


def test_generator_template_selector_and_duplicates(tmp_path: Path) -> None:
    root = small_repo(tmp_path)
    generator = {
        "list": {
            "elements": [{"name": "a", "dir": "overlay", "tier": "gold"},
                         {"name": "b", "dir": "plain", "tier": "bronze"},
                         {"name": "a", "dir": "chart", "tier": "gold"}],
            "template": {"metadata": {}, "spec": {"destination": {"namespace": "from-gen"}}},
        },
        "selector": {"matchExpressions": [{"key": "tier", "operator": "In",
                                           "values": ["gold"]}]},
    }
    instructions, not_rendered = run(root, appset(
        [generator], app_template("app-{{name}}", "{{dir}}")))
    assert [(i.app, i.path, i.namespace, i.cluster) for i in instructions] == [
        ("ApplicationSet argocd/set (app-a)", "overlay", "from-gen", "in-cluster")]
    assert "application name app-a is generated twice" in reasons(not_rendered)[0]


def test_applicationset_cases_that_are_not_rendered(tmp_path: Path) -> None:
    root = small_repo(tmp_path)
    template = app_template("x-{{name}}", "overlay")
    instructions, not_rendered = run(
        root,
        appset([{"list": {"elements": [{"name": "a"}]}}], template, templatePatch="spec: {}"),
        appset([{"list": {"elements": [{"name": 1}]}}], template),
        appset([{"git": {"repoURL": "https://github.com/other/repo",
                         "directories": [{"path": "*"}]}}], template),
        appset([{"git": {"repoURL": THIS_REPO, "files": [{"path": "config.json"}]}}], template),
        appset([{"matrix": {"generators": []}}], template),
        appset([{"list": {"elements": [{"name": "a"}]}}],
               app_template("{{ if .name }}x{{ end }}", "overlay"), go=True),
        appset([{"list": {"elements": [{"name": "a"}]}}],
               app_template("{{ .nope.deeper }}", "overlay"), go=True),
        appset([{"list": {"elements": [{"other": "a"}]}}], template),
    )
    assert instructions == []
    text = reasons(not_rendered)
    assert [n.line for n in not_rendered] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert "templatePatch is not evaluated" in text[0]
    assert "element value name is not a string" in text[1]
    assert "repository https://github.com/other/repo is not this repository" in text[2]
    assert "git files generator is not evaluated" in text[3]
    assert "generator 1 (matrix) is not evaluated" in text[4]
    assert "{{if}} actions are not evaluated here" in text[5]
    assert "nil pointer evaluating .nope.deeper" in text[6]
    assert "no usable name ('x-{{name}}')" in text[7]


# --------------------------------------------------------------------------------------
# Templates and globs


@pytest.mark.parametrize(("pattern", "name", "expected"), [
    ("apps/*", "apps/odoo", True),
    ("apps/*", "apps/odoo/base", False),
    ("apps/*", "apps", False),
    ("*/overlays/*", "odoo/overlays/prod", True),
    ("tenants/?", "tenants/a", True),
    ("tenants/?", "tenants/ab", False),
    ("tenants/[a-c]*", "tenants/b1", True),
    ("tenants/[^a-c]*", "tenants/b1", False),
    ("tenants/[^a-c]*", "tenants/d1", True),
    ("a\\*b", "a*b", True),
    ("a\\*b", "axb", False),
])
def test_go_glob_matches_like_path_match(pattern: str, name: str, expected: bool) -> None:
    compiled = go_glob(pattern)
    assert compiled is not None
    assert bool(compiled.fullmatch(name)) is expected


@pytest.mark.parametrize("pattern", ["a[", "[]a]", "[-a]", "a\\", "[z-a]"])
def test_go_glob_rejects_bad_patterns(pattern: str) -> None:
    assert go_glob(pattern) is None


def test_fasttemplate() -> None:
    params = {"path": "apps/x", "path.basename": "x", "n": 1}
    assert replace("{{path}}/{{ path.basename }}", params, False) == "apps/x/x"
    assert replace("{{missing}}-{{n}}-{{}}", params, False) == "{{missing}}-{{n}}-{{}}"
    assert replace("no template {", params, False) == "no template {"
    with pytest.raises(TemplateError):
        replace("{{path}} {{unclosed", params, False)


def test_go_template_subset() -> None:
    data = {"path": {"path": "a/b", "basename": "b", "segments": ["a", "b"]},
            "n": 2.0, "big": 1e6, "flag": True, "empty": "", "name": "My App"}
    cases = {
        "{{ .path.path }}": "a/b",
        "{{.path.basename}}-{{ index .path.segments 0 }}": "b-a",
        "{{ .n }}/{{ .big }}/{{ .flag }}": "2/1e+06/true",
        "{{ .missing }}": "<no value>",
        "{{ .name | lower | replace \" \" \"-\" }}": "my-app",
        "{{ normalize .name }}": "my-app",
        "{{ default \"x\" .empty }}|{{ .empty | default \"y\" }}": "x|y",
        "{{ trimPrefix \"a/\" .path.path | upper }}": "B",
        "{{ (index .path.segments 1) | quote }}": '"b"',
        "a  {{- .path.basename -}}  z": "abz",
        "{{/* a comment */}}x": "x",
        "{{ `raw` }}": "raw",
    }
    for text, expected in cases.items():
        assert GoTemplate(text).execute(data) == expected, text


@pytest.mark.parametrize("text", [
    "{{ range .x }}{{ end }}", "{{ $x := 1 }}", "{{ toYaml .path }}", "{{ .path }}",
    "{{ index .path.segments 5 }}", "{{ .name.first }}", "{{ (.name }}", "{{ .name",
])
def test_go_template_refuses_what_it_cannot_evaluate(text: str) -> None:
    data = {"path": {"segments": ["a"]}, "name": "n"}
    with pytest.raises(TemplateError):
        GoTemplate(text).execute(data)


def test_go_template_missing_key_error_option() -> None:
    assert GoTemplate("{{ .a }}").execute({}) == "<no value>"
    with pytest.raises(TemplateError):
        GoTemplate("{{ .a }}", ["missingkey=error"]).execute({})


@pytest.mark.parametrize(("value", "expected"), [
    (3.0, "3"), (1.5, "1.5"), (123456.0, "123456"), (1e6, "1e+06"),
    (1234567.0, "1.234567e+06"), (0.0001, "0.0001"), (0.00001, "1e-05"), (-2.5, "-2.5"),
])
def test_go_float(value: float, expected: str) -> None:
    assert go_float(value) == expected


# --------------------------------------------------------------------------------------
# Flux details


def git_repository(name: str, url: str, namespace: str = "flux-system") -> dict[str, Any]:
    return {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"url": url, "interval": "1m"}}


def helm_release(name: str = "web", namespace: str = "erp", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "interval": "5m",
        "chart": {"spec": {"chart": "./chart",
                           "sourceRef": {"kind": "GitRepository", "name": "estate",
                                         "namespace": "flux-system"}}},
    }
    body.update(spec)
    return {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": name, "namespace": namespace}, "spec": body}


def config_map(name: str, data: Mapping[str, str], namespace: str = "erp") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace}, "data": dict(data)}


def secret(name: str, data: Mapping[str, str], namespace: str = "erp",
           **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
            **extra}


def test_flux_kustomization_source_lookup(tmp_path: Path) -> None:
    root = small_repo(tmp_path)

    def kustomization(name: str, source: Mapping[str, Any], **spec: Any) -> dict[str, Any]:
        return {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                "metadata": {"name": name, "namespace": "apps"},
                "spec": {"interval": "5m", "prune": True, "sourceRef": dict(source), **spec}}

    instructions, not_rendered = run(
        root,
        git_repository("estate", "git@git.example.com:platform/estate"),
        git_repository("local", "https://git.example.com/platform/estate", namespace="apps"),
        kustomization("same-namespace", {"kind": "GitRepository", "name": "local"},
                      path="overlay", images=[{"name": "x", "newTag": "1"}]),
        kustomization("cross-namespace", {"kind": "GitRepository", "name": "estate",
                                          "namespace": "flux-system"}),
        kustomization("undeclared", {"kind": "GitRepository", "name": "estate"}),
        kustomization("bucket", {"kind": "Bucket", "name": "b"}),
        kustomization("missing-path", {"kind": "GitRepository", "name": "local"}, path="./nope"),
    )
    assert [(i.app, i.kind, i.path, i.directory_recurse) for i in instructions] == [
        ("Kustomization apps/same-namespace", "kustomize", "overlay", False),
        ("Kustomization apps/cross-namespace", "directory", ".", True),
    ]
    text = "\n".join(reasons(not_rendered))
    assert "same-namespace: not applied: spec.images" in text
    assert "undeclared: source GitRepository apps/estate is not declared" in text
    assert "bucket: source Bucket apps/b is not fetched" in text
    assert "missing-path: path nope does not exist" in text


def test_helmrelease_values_from_secrets_are_used_but_never_quoted(tmp_path: Path) -> None:
    root = small_repo(tmp_path)
    release = helm_release(valuesFrom=[
        {"kind": "Secret", "name": "creds"},
        {"kind": "Secret", "name": "creds", "valuesKey": "password",
         "targetPath": "db.password"},
        {"kind": "Secret", "name": "sealed"},
        {"kind": "Secret", "name": "broken"},
        {"kind": "ConfigMap", "name": "absent"},
        {"kind": "ConfigMap", "name": "cm", "valuesKey": "nope"},
    ])
    instructions, not_rendered = run(
        root,
        git_repository("estate", THIS_REPO),
        release,
        secret("creds", {"values.yaml": "db:\n  user: odoo\n", "password": "hunter2-secret"}),
        secret("sealed", {"values.yaml": "x: 1"}, sops={"version": "3.8"}),
        secret("broken", {"values.yaml": "key: [hunter2-broken\n"}),
        config_map("cm", {"values.yaml": "a: 1"}),
    )
    assert instructions == []  # a Secret that is not YAML stops Flux
    text = "\n".join(reasons(not_rendered))
    assert "hunter2" not in text
    assert "values Secret sealed is encrypted or unreadable here" in text
    assert "values Secret broken key values.yaml is not valid YAML" in text

    release["spec"]["valuesFrom"] = release["spec"]["valuesFrom"][:3] + \
        release["spec"]["valuesFrom"][4:]
    [got], not_rendered = run(
        root, git_repository("estate", THIS_REPO), release,
        secret("creds", {"values.yaml": "db:\n  user: odoo\n", "password": "hunter2-secret"}),
        secret("sealed", {"values.yaml": "x: 1"}, sops={"version": "3.8"}),
        config_map("cm", {"values.yaml": "a: 1"}),
    )
    assert got.values == {"db": {"user": "odoo", "password": "hunter2-secret"}}
    text = "\n".join(reasons(not_rendered))
    assert "hunter2" not in text
    assert "values ConfigMap absent is not declared in the repository; rendered without it" \
        in text
    assert "values ConfigMap cm key nope does not exist" in text


def test_helmrelease_target_path_values(tmp_path: Path) -> None:
    root = small_repo(tmp_path)
    inline = {"replicas": 1, "feature": {"on": False}}

    def release(name: str, *refs: Mapping[str, Any]) -> dict[str, Any]:
        return helm_release(name, values=inline,
                            valuesFrom=[{"kind": "ConfigMap", "name": "cm", **r} for r in refs])

    instructions, not_rendered = run(
        root, git_repository("estate", THIS_REPO),
        release("top", {"valuesKey": "count", "targetPath": "replicas"}),
        release("nested", {"valuesKey": "quoted", "targetPath": "feature.on"}),
        release("typed", {"valuesKey": "count", "targetPath": "extra.count"},
                {"valuesKey": "csv", "targetPath": "hosts[0]"},
                {"valuesKey": "csv", "targetPath": "all", "literal": True}),
        config_map("cm", {"count": "3", "quoted": '"true"', "csv": "a,b"}))
    values = {i.app.split("/")[1]: i.values for i in instructions}
    # As helm-controller: spec.values is merged last, so it wins over a top-level
    # targetPath; a targetPath inside a mapping taken from spec.values changes that very
    # mapping (their maps share nested maps), so it wins there.
    assert values["top"] == {"replicas": 1, "feature": {"on": False}}
    assert values["nested"] == {"replicas": 1, "feature": {"on": "true"}}
    assert values["typed"] == {"replicas": 1, "feature": {"on": False}, "extra": {"count": 3},
                               "all": "a,b"}
    assert inline == {"replicas": 1, "feature": {"on": False}}  # the manifest is not changed
    [note] = reasons(not_rendered)
    assert "typed: values ConfigMap cm key csv holds Helm --set syntax" in note


def test_helmrelease_names_and_namespaces(tmp_path: Path) -> None:
    root = small_repo(tmp_path)
    long_name = "a-very-long-helm-release-name-that-goes-on-and-on"
    instructions, _ = run(
        root,
        git_repository("estate", THIS_REPO),
        helm_release("plain"),
        helm_release("named", releaseName="custom", targetNamespace="erp-prod"),
        helm_release(long_name, targetNamespace="erp-prod"),
    )
    got = [(i.release, i.namespace) for i in instructions]
    assert got == [
        ("plain", "erp"),
        ("custom", "erp-prod"),
        (shorten_release_name(f"erp-prod-{long_name}"), "erp-prod"),
    ]
    assert len(got[2][0] or "") == 53
    assert (got[2][0] or "").startswith(f"erp-prod-{long_name}"[:40] + "-")


def test_helmrelease_chart_sources(tmp_path: Path) -> None:
    root = small_repo(tmp_path)
    helm_chart = {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart",
                  "metadata": {"name": "chart", "namespace": "erp"},
                  "spec": {"chart": "chart", "valuesFiles": ["chart/values-prod.yaml"],
                           "sourceRef": {"kind": "GitRepository", "name": "local"}}}
    missing_values = helm_release("missing-values")
    missing_values["spec"]["chart"]["spec"]["valuesFiles"] = ["chart/nope.yaml"]
    instructions, not_rendered = run(
        root,
        git_repository("estate", THIS_REPO),
        git_repository("local", THIS_REPO, namespace="erp"),
        helm_chart,
        helm_release("via-helmchart", chart=None, chartRef={"kind": "HelmChart",
                                                            "name": "chart"}),
        helm_release("oci", chart=None, chartRef={"kind": "OCIRepository", "name": "podinfo"}),
        helm_release("not-a-chart", chart={"spec": {
            "chart": "overlay", "sourceRef": {"kind": "GitRepository", "name": "local"}}}),
        missing_values,
        helm_release("post", postRenderers=[{"kustomize": {"images": [{"name": "x"}]}}]),
    )
    assert [(i.app, i.path, i.value_files) for i in instructions] == [
        ("HelmRelease erp/via-helmchart", "chart", ("chart/values-prod.yaml",)),
        ("HelmRelease erp/post", "chart", ()),
    ]
    text = "\n".join(reasons(not_rendered))
    assert "oci: chart from OCIRepository podinfo is not fetched" in text
    assert "not-a-chart: chart path overlay is not a chart directory" in text
    assert "missing-values: values file chart/nope.yaml does not exist" in text
    assert "post: not applied: spec.postRenderers" in text


# --------------------------------------------------------------------------------------
# Helm --set paths


def test_set_path_and_set_value() -> None:
    values: dict[str, Any] = {"a": "scalar", "l": [1]}
    assert set_path(values, "a.b", 1) is None  # a scalar in the way is replaced
    assert set_path(values, "l[2].x", "y") is None
    assert set_path(values, "m[0][1]", 5) is None
    assert values == {"a": {"b": 1}, "l": [1, None, {"x": "y"}], "m": [[None, 5]]}
    for bad in ("", ".a", "a.", "a[x]", "[0]", "a[1"):
        assert set_path({}, bad, 1) is not None, bad
    assert [set_value(v) for v in ("true", "FALSE", "null", "0", "10", "010", "1.5", "{}",
                                   "{a,1}", "-3")] == \
        [True, False, None, 0, 10, "010", "1.5", [], ["a", 1], -3]


def test_remotes_that_could_not_be_read_are_not_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No gitpython (or no git) on one run must not stick: the next run reads them."""
    import sys

    from checker.cache import RenderCache
    from checker.render.stage import _repo_identities

    root = _remotes_repo(tmp_path, monkeypatch)
    cache = RenderCache(tmp_path / "renders")
    cache.directory.mkdir()
    with monkeypatch.context() as blocked:
        blocked.setitem(sys.modules, "git", None)
        assert _repo_identities(root, [], cache) == set()
    assert not list(cache.directory.iterdir())
    assert "git.example.com/Platform/estate" in _repo_identities(root, [], cache)


def test_a_root_reached_through_a_link_reads_its_remotes_with_gitpython(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The repository gitpython finds from the path as given (a link into it) is the one
    whose remotes count; nothing is kept for such a path."""
    import sys

    from checker.cache import RenderCache
    from checker.render.stage import _repo_identities

    root = _remotes_repo(tmp_path, monkeypatch)
    (root / "sub").mkdir()
    link = tmp_path / "link"
    link.symlink_to(root / "sub")
    cache = RenderCache(tmp_path / "renders")
    cache.directory.mkdir()
    assert _repo_identities(link, [], cache) == repo_identities(link)
    assert not list(cache.directory.iterdir())
    with monkeypatch.context() as blocked:  # not kept: gitpython is asked every time
        blocked.setitem(sys.modules, "git", None)
        assert _repo_identities(link, [], cache) == set()
