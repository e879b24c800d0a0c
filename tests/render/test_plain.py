"""Plain kustomizations rendered in process must equal what `kubectl kustomize` renders:
objects, source files, transformations and order, for every eligible overlay of the bundled
estate and of generated ones, and for the cases where Kustomize does more than set metadata."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from checker.discover import relative_display
from checker.render import Rendered, RenderOrigin, kustomize
from checker.render.plain import render_plain

REPO = Path(__file__).resolve().parents[2]
GENERATOR = REPO / "bench" / "generate_estate.py"


def _both(root: Path) -> tuple[int, int, list[str]]:
    """(plain overlays, overlays left to kubectl, mismatches) of every root kustomization."""
    root = root.resolve()

    def display(path: Path) -> str:
        return relative_display(path.resolve(), root)

    tree = kustomize.scan({p.parent for p in root.rglob("kustomization.yaml")}, display, root)
    plain = declined = 0
    mismatches = []
    for directory in tree.roots():
        entry = tree.kustomizations[directory]
        origin = RenderOrigin("kustomize", display(directory))
        fast = None if entry.local_dirs else render_plain(
            directory, entry.data, entry.file, entry.local_files, display, origin)
        if fast is None:
            declined += 1
            continue
        plain += 1
        built, problems = kustomize.render(directory, root=root, display=display)
        assert not problems, problems
        if _shown(fast) != _shown(built):
            mismatches.append(display(directory))
    return plain, declined, mismatches


def _shown(rendered: list[Rendered]) -> list[tuple[Any, ...]]:
    """Everything, key order included (messages list labels in the object's order)."""
    return [(json.dumps(r.obj), r.source, r.generated_by, r.transformations)
            for r in rendered]


def test_the_bundled_estate_renders_alike() -> None:
    plain, _, mismatches = _both(REPO / "fixtures" / "estates" / "odoo-finance")
    assert plain >= 1
    assert mismatches == []


@pytest.mark.parametrize("documents", [400, pytest.param(3000, marks=pytest.mark.slow)])
def test_generated_estates_render_alike(tmp_path: Path, documents: int) -> None:
    estate = tmp_path / "estate"
    subprocess.run([sys.executable, str(GENERATOR), "--documents", str(documents),
                    "--out", str(estate)], check=True, stdout=subprocess.DEVNULL)
    plain, declined, mismatches = _both(estate)
    assert mismatches == []
    assert plain > 0 and declined == 0  # the generator writes only the plain shape


def _overlay(tmp_path: Path, kustomization: str, resources: str) -> Path:
    directory = tmp_path / "app"
    directory.mkdir()
    (directory / "kustomization.yaml").write_text(textwrap.dedent(kustomization))
    (directory / "objects.yaml").write_text(textwrap.dedent(resources))
    return directory


def _render_both(directory: Path) -> tuple[list[Rendered] | None, list[Rendered]]:
    root = directory.parent.resolve()

    def display(path: Path) -> str:
        return relative_display(path.resolve(), root)

    tree = kustomize.scan([directory], display, root)
    entry = tree.kustomizations[directory.resolve()]
    fast = render_plain(directory.resolve(), entry.data, entry.file, entry.local_files,
                        display, RenderOrigin("kustomize", display(directory)))
    built, problems = kustomize.render(directory.resolve(), root=root, display=display)
    assert not problems, problems
    return fast, built


PLAIN = """\
    namespace: team
    labels:
      - pairs: {part-of: ledger}
        includeSelectors: false
    resources: [objects.yaml]
"""

QUIRKS = """\
    apiVersion: rbac.authorization.k8s.io/v1
    kind: RoleBinding
    metadata: {name: rb, namespace: elsewhere}
    subjects:
      - {kind: ServiceAccount, name: a, namespace: other}
      - {kind: ServiceAccount, name: b}
      - {kind: ServiceAccount, name: c, namespace: default}
      - {kind: ServiceAccount, name: unknown, namespace: default}
      - {kind: User, name: b, namespace: default}
    roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: x}
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRoleBinding
    metadata: {name: crb}
    subjects: [{kind: ServiceAccount, name: c}]
    roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: x}
    ---
    apiVersion: v1
    kind: ServiceAccount
    metadata: {name: a}
    ---
    apiVersion: v1
    kind: ServiceAccount
    metadata: {name: b, namespace: x}
    ---
    apiVersion: v1
    kind: ServiceAccount
    metadata: {name: c, annotations: {}}
    ---
    apiVersion: cert-manager.io/v1
    kind: ClusterIssuer
    metadata: {name: issuer}
    ---
    apiVersion: storage.k8s.io/v1
    kind: StorageClass
    metadata: {name: fast, labels: {part-of: other, tier: gold}}
    provisioner: x
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web, namespace: other}
    spec:
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec: {containers: [{name: web, image: "web:1", env: [{name: A, value: "1.10"}]}]}
    ---
    apiVersion: v1
    kind: List
    items:
      - {apiVersion: v1, kind: ConfigMap, metadata: {name: listed-b}, data: {k: v}}
      - {apiVersion: v1, kind: ConfigMap, metadata: {name: listed-a, namespace: x}}
"""


def test_kustomize_quirks_are_rendered_alike(tmp_path: Path) -> None:
    """ServiceAccount subjects that move with their accounts, custom resources made
    namespaced, cluster-scoped kinds left alone, labels merged, empty annotations, the
    items of a List."""
    fast, built = _render_both(_overlay(tmp_path, PLAIN, QUIRKS))
    assert fast is not None
    assert _shown(fast) == _shown(built)
    binding = next(r.obj for r in fast if r.obj["kind"] == "RoleBinding")
    assert [s.get("namespace") for s in binding["subjects"]] == \
        ["other", "team", "team", "default", "default"]


@pytest.mark.parametrize(("kustomization", "resources"), [
    (PLAIN, "apiVersion: v1\nkind: Namespace\nmetadata: {name: renamed-by-kustomize}\n"),
    (PLAIN.replace("includeSelectors: false", "includeSelectors: true"),
     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"),
    ("commonLabels: {a: b}\nresources: [objects.yaml]\n",
     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"),
    (PLAIN, "apiVersion: v1\nkind: ConfigMapList\nmetadata: {name: l}\nitems: []\n"),
    (PLAIN, ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n"
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: x}\n")),
    (PLAIN, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: on}\n"),
    (PLAIN, ("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: s}\n---\n"
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: s, namespace: x}\n")),
    (PLAIN, ("apiVersion: admissionregistration.k8s.io/v1\n"
            "kind: ValidatingAdmissionPolicy\nmetadata: {name: p}\n")),
    (PLAIN, "apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: c-}\n"),
    (PLAIN, ("apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n"
            "metadata: {name: b}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, "
            "name: r}\nsubjects: [{kind: User, name: default}]\n")),
    (PLAIN, ("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: s}\n---\n"
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n"
            "metadata: {name: b}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, "
            "name: r}\nsubjects: [{kind: ServiceAccount, name: s, namespace: ''}]\n")),
    (PLAIN, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, annotations: null}\n"),
    ("resources: [objects.yaml]\n",
     ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n"
     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: default}\n")),
    ("resources: [objects.yaml]\n",
     ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: zed}\n---\n"
     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")),
    (PLAIN, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {d: 2001-12-14}\n"),
    (PLAIN, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {1: x}\n"),
], ids=["namespace-object", "include-selectors", "common-labels", "list", "duplicate",
        "yaml11-scalar", "two-accounts-one-name", "kind-of-unknown-scope", "generate-name",
        "subject-named-default", "subject-empty-namespace", "null-annotations",
        "default-namespace-twice", "namespaces-to-order", "date", "number-key"])
def test_other_shapes_are_left_to_kubectl(tmp_path: Path, kustomization: str,
                                          resources: str) -> None:
    directory = _overlay(tmp_path, kustomization, resources)
    root = tmp_path.resolve()

    def display(path: Path) -> str:
        return relative_display(path.resolve(), root)

    tree = kustomize.scan([directory], display, root)
    entry = tree.kustomizations[directory.resolve()]
    assert render_plain(directory.resolve(), entry.data, entry.file, entry.local_files,
                        display, RenderOrigin("kustomize", "app")) is None


def test_labels_without_pairs_are_recorded_alike(tmp_path: Path) -> None:
    fast, built = _render_both(_overlay(
        tmp_path, "labels: [{pairs: {}}]\nresources: [objects.yaml]\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"))
    assert fast is not None
    assert _shown(fast) == _shown(built)
