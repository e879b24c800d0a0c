"""Discovery and loading: which files are read, how objects and errors come out of them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from checker.discover import HELM_CHART, discover
from checker.load import Locator, load

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: erp
spec:
  replicas: 2
"""


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def found(root: Path, exclude: tuple[str, ...] = ()) -> list[str]:
    candidates, _ = discover([str(root)], root, exclude=exclude)
    return [c.display for c in candidates]


def test_discovery_is_sorted_posix_and_filters_suffixes(tmp_path: Path) -> None:
    write(tmp_path, {"b/x.yml": "", "a.yaml": "", "c.json": "", "notes.txt": "", "d/e/f.YAML": ""})
    assert found(tmp_path) == ["a.yaml", "b/x.yml", "c.json", "d/e/f.YAML"]


def test_gitignore_at_root_and_nested(tmp_path: Path) -> None:
    write(tmp_path, {
        ".gitignore": "generated/\n*.tmp.yaml\n",
        "generated/a.yaml": "", "keep.yaml": "", "x.tmp.yaml": "",
        "sub/.gitignore": "local.yaml\n", "sub/local.yaml": "", "sub/other.yaml": "",
        "local.yaml": "",
    })
    assert found(tmp_path) == ["keep.yaml", "local.yaml", "sub/other.yaml"]


def test_gitignore_of_parent_applies_when_scanning_a_subdirectory(tmp_path: Path) -> None:
    write(tmp_path, {".gitignore": "secret.yaml\n", "apps/secret.yaml": "", "apps/ok.yaml": ""})
    candidates, _ = discover([str(tmp_path / "apps")], tmp_path)
    assert [c.display for c in candidates] == ["apps/ok.yaml"]


def test_config_exclude_and_skipped_reasons(tmp_path: Path) -> None:
    write(tmp_path, {"vendor/a.yaml": "", "ok.yaml": "", "z.generated.yaml": ""})
    candidates, skipped = discover([str(tmp_path)], tmp_path,
                                   exclude=["vendor/", "*.generated.yaml"])
    assert [c.display for c in candidates] == ["ok.yaml"]
    assert [(s.display, s.reason) for s in skipped] == [
        ("z.generated.yaml", "excluded by config")]


def test_helm_charts_are_listed_as_not_rendered(tmp_path: Path) -> None:
    write(tmp_path, {"charts/odoo/Chart.yaml": "apiVersion: v2\nname: odoo\n",
                     "charts/odoo/templates/d.yaml": "{{ .Values.x }}", "ok.yaml": ""})
    candidates, skipped = discover([str(tmp_path)], tmp_path)
    assert [c.display for c in candidates] == ["ok.yaml"]
    assert skipped[0].display == "charts/odoo" and skipped[0].reason == HELM_CHART


def loaded(tmp_path: Path, files: dict[str, str | bytes]):  # type: ignore[no-untyped-def]
    write(tmp_path, files)
    candidates, _ = discover([str(tmp_path)], tmp_path)
    return load(candidates)


def test_objects_keep_path_line_and_document_index(tmp_path: Path) -> None:
    result = loaded(tmp_path, {"apps/web.yaml": "# comment\n" + DEPLOYMENT + "---\n" + DEPLOYMENT})
    assert [(m.location.path, m.location.line, m.doc_index) for m in result.manifests] == [
        ("apps/web.yaml", 2, 0), ("apps/web.yaml", 10, 1)]
    assert result.manifests[0].resource.display() == "Deployment/erp/web"


def test_kind_list_is_expanded_and_items_are_located(tmp_path: Path) -> None:
    text = ("apiVersion: v1\nkind: List\nitems:\n"
            "  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: a}\n"
            "  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: b}\n"
            "    data: {k: v}\n")
    result = loaded(tmp_path, {"list.yaml": text})
    assert [m.resource.name for m in result.manifests] == ["a", "b"]
    second = result.manifests[1]
    assert second.location.pointer == "/items/1"
    assert Locator(result).position(second, "/data/k") == (10, 12)


def test_non_kubernetes_files_are_skipped_not_errors(tmp_path: Path) -> None:
    result = loaded(tmp_path, {
        "values.yaml": "replicaCount: 2\nimage: {tag: latest}\n",
        ".github/workflows/ci.yml": "on: push\njobs: {}\n",
        "kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\n"
                              "kind: Kustomization\nresources: [a.yaml]\n",
        "empty.yaml": "",
        "comments.yaml": "# nothing here\n",
    })
    assert result.errors == [] and result.manifests == []
    reasons = {s.display: s.reason for s in result.skipped}
    assert reasons == {".github/workflows/ci.yml": "not Kubernetes objects",
                       "comments.yaml": "no documents", "empty.yaml": "empty file",
                       "kustomization.yaml": "not Kubernetes objects",
                       "values.yaml": "not Kubernetes objects"}


def test_bad_documents_inside_a_manifest_file_are_errors(tmp_path: Path) -> None:
    result = loaded(tmp_path, {"mixed.yaml": DEPLOYMENT + "---\n- a\n- b\n---\njust text\n"
                                             "---\nmetadata: {name: x}\n"})
    assert [(e.kind, e.line) for e in result.errors] == [
        ("not-an-object", 9), ("not-an-object", 12), ("not-an-object", 14)]
    assert len(result.manifests) == 1


def test_encodings_and_binary(tmp_path: Path) -> None:
    result = loaded(tmp_path, {
        "bom8.yaml": b"\xef\xbb\xbf" + DEPLOYMENT.encode(),
        "bom16.yaml": b"\xff\xfe" + DEPLOYMENT.encode("utf-16-le"),
        "latin1.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: caf\xe9}\n",
        "blob.yaml": b"\x00\x01\x02binary",
    })
    assert sorted(m.location.path for m in result.manifests) == ["bom16.yaml", "bom8.yaml"]
    errors = {e.path: (e.kind, e.line) for e in result.errors}
    assert errors == {"latin1.yaml": ("encoding", 3), "blob.yaml": ("binary", 1)}


def test_unreadable_file_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {"ok.yaml": DEPLOYMENT})
    (tmp_path / "dangling.yaml").symlink_to(tmp_path / "missing.yaml")
    candidates, _ = discover([str(tmp_path)], tmp_path)
    result = load(candidates)
    assert [(e.path, e.kind) for e in result.errors] == [("dangling.yaml", "unreadable")]
    assert len(result.manifests) == 1


def test_default_namespace_applies_to_namespaced_objects_only(tmp_path: Path) -> None:
    write(tmp_path, {"a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n"
                               "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
                               "metadata: {name: r}\n---\n"
                               "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\n"
                               "metadata: {name: i}\n---\n"
                               "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: x}\n"})
    candidates, _ = discover([str(tmp_path)], tmp_path)
    result = load(candidates, default_namespace="erp")
    assert [m.resource.namespace for m in result.manifests] == ["erp", None, None, "x"]


def test_links_leading_out_of_the_repository_are_not_read(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(root, {"ok.yaml": DEPLOYMENT, "real/cm.yaml": DEPLOYMENT})
    write(tmp_path, {"outside.yaml": DEPLOYMENT})
    (root / "out.yaml").symlink_to(tmp_path / "outside.yaml")
    (root / "inside.yaml").symlink_to(root / "real" / "cm.yaml")
    (root / "loop.yaml").symlink_to(root / "loop.yaml")
    (root / "linked-dir").symlink_to(tmp_path)
    candidates, skipped = discover([str(root)], root)
    result = load(candidates)
    assert [(e.path, e.message) for e in result.errors] == [
        ("loop.yaml", "symbolic link loop: it never reaches a file"),
        ("out.yaml", ("symbolic link to a file outside the repository "
                      f"({Path(os.path.realpath(tmp_path / 'outside.yaml')).as_posix()}): "
                      "not read"))]
    assert sorted(m.location.path for m in result.manifests) == [
        "inside.yaml", "ok.yaml", "real/cm.yaml"]
    assert ("linked-dir", "symbolic link to a directory (not followed)") in \
        [(s.display, s.reason) for s in skipped]
    # Named on the command line, a link inside the repository is refused all the same.
    (named,), _ = discover([str(root / "out.yaml")], root)
    assert named.problem is not None and "outside the repository" in named.problem


@pytest.mark.skipif(os.geteuid() == 0, reason="root lists mode-000 directories "
                    "(tests/hostile runs this case as uid 65534)")
def test_a_directory_that_cannot_be_listed_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {"ok.yaml": DEPLOYMENT, "locked/x.yaml": DEPLOYMENT})
    os.chmod(tmp_path / "locked", 0)
    try:
        candidates, _ = discover([str(tmp_path)], tmp_path)
        result = load(candidates)
    finally:
        os.chmod(tmp_path / "locked", 0o755)
    assert [(e.path, e.kind) for e in result.errors] == [("locked", "unreadable")]


def _mixed_estate(root: Path, files: int) -> None:
    """Plain manifests, multi-document streams, broken YAML, an empty file, a non-object,
    undecodable bytes and JSON, in many files."""
    contents: list[str | bytes] = [
        DEPLOYMENT,
        DEPLOYMENT.replace("web", "api") + "---\nkind: ConfigMap\napiVersion: v1\n"
        "metadata: {name: c}\ndata: {a: 'on'}\n",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: [broken\n",
        "",
        "just: a mapping\n",
        b"\xff\xfe\x00bad",
    ]
    for number in range(files):
        content = contents[number % len(contents)]
        name = f"d{number % 7}/f{number:04}.yaml"
        write(root, {name: content})
    write(root, {"z.json": '{"apiVersion": "v1", "kind": "Namespace", "metadata": '
                           '{"name": "erp"}}'})


def _outcome(result: object) -> tuple[object, ...]:
    from checker.load import LoadResult

    assert isinstance(result, LoadResult)
    return (result.manifests, result.errors, result.skipped, result.parsed, result.files,
            {name: (s.text, s.is_json, s.fast) for name, s in result.sources.items()},
            result.chunks, result.ambiguous)


def test_a_helper_reading_half_the_files_loads_the_same(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from checker import load as loading

    _mixed_estate(tmp_path, 120)
    candidates, _ = discover([str(tmp_path)], tmp_path)
    alone = load(candidates)
    monkeypatch.setattr(loading, "PARALLEL_READ_FILES", 10)
    monkeypatch.setattr(loading, "READ_AHEAD_CHUNK", 16)
    ticks: list[None] = []
    ahead = loading.ReadAhead.start(candidates, cores=2)
    assert ahead is not None and len(ahead.candidates) == len(candidates) - len(candidates) // 2
    helped = load(candidates, ahead=ahead, progress=lambda: ticks.append(None))
    assert _outcome(helped) == _outcome(alone)
    assert len(ticks) == len(candidates)
    assert alone.errors and alone.skipped and alone.manifests  # the estate has each


def test_a_helper_is_not_started_for_few_files_or_one_core(tmp_path: Path) -> None:
    from checker.load import PARALLEL_READ_FILES, ReadAhead

    _mixed_estate(tmp_path, 20)
    candidates, _ = discover([str(tmp_path)], tmp_path)
    assert len(candidates) < PARALLEL_READ_FILES
    assert ReadAhead.start(candidates, cores=2) is None
    assert ReadAhead.start(candidates * 200, cores=1) is None


def test_files_a_failed_helper_did_not_hand_over_are_read_here(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import signal

    from checker import load as loading

    _mixed_estate(tmp_path, 60)
    candidates, _ = discover([str(tmp_path)], tmp_path)
    alone = load(candidates)
    monkeypatch.setattr(loading, "PARALLEL_READ_FILES", 10)
    monkeypatch.setattr(loading, "READ_AHEAD_CHUNK", 8)
    ahead = loading.ReadAhead.start(candidates, cores=2)
    assert ahead is not None
    for process in list(ahead._pool._processes.values()):
        os.kill(process.pid, signal.SIGKILL)  # before it hands anything over
    futures = list(ahead._futures)
    helped = load(candidates, ahead=ahead)
    assert _outcome(helped) == _outcome(alone)
    assert all(f.exception() is not None for f in futures)
