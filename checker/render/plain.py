"""Plain kustomizations rendered in process, exactly as `kubectl kustomize` renders them.

A large estate has hundreds of kustomizations that only list resource files and set a
namespace and labels; starting kubectl for each costs ~0.09 s of CPU, which dominated a
10,000-document check (bench/run.py). This module renders that one shape itself and says
no to everything else, which then goes to kubectl:

- the kustomization has only `apiVersion`, `kind`, `namespace`, `labels` (pairs, without
  `includeSelectors`/`includeTemplates`) and `resources` naming files in the repository;
- every document of those files reads cleanly and is one object with a name, or a `v1`
  `List` of such objects;
- no kind whose rendering Kustomize changes beyond `metadata`: a `Namespace` (Kustomize
  renames it to the namespace), webhooks, APIServices and CRDs (references to services);
  a binding's ServiceAccount subjects move with the accounts of the build they name, as
  Kustomize moves them (two accounts of one name: kubectl decides);
- no kind whose scope Kustomize might judge differently from this table: Kubernetes kinds
  outside it are left to kubectl; a custom resource (a group with a dot, not `*.k8s.io`) is
  namespaced for Kustomize, which knows no CRD here;
- no two objects with the same identity (Kustomize refuses the build).

tests/render/test_plain.py builds every eligible kustomization of the bundled and generated
estates both ways and requires identical objects, sources, transformations and order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from checker.discover import real_path
from checker.parse import STR, Document, DocumentError, parse_yaml, resolve_plain
from checker.render import Rendered, RenderOrigin

_ALLOWED_KEYS = frozenset({"apiVersion", "kind", "namespace", "labels", "resources"})

_NAMESPACED = frozenset({
    ("", "ConfigMap"), ("", "Secret"), ("", "Service"), ("", "ServiceAccount"),
    ("", "PersistentVolumeClaim"), ("", "Pod"), ("", "ResourceQuota"), ("", "LimitRange"),
    ("", "Endpoints"), ("", "ReplicationController"), ("", "PodTemplate"), ("", "Event"),
    ("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"),
    ("apps", "ReplicaSet"), ("apps", "ControllerRevision"),
    ("batch", "Job"), ("batch", "CronJob"),
    ("autoscaling", "HorizontalPodAutoscaler"), ("policy", "PodDisruptionBudget"),
    ("networking.k8s.io", "Ingress"), ("networking.k8s.io", "NetworkPolicy"),
    ("rbac.authorization.k8s.io", "Role"), ("rbac.authorization.k8s.io", "RoleBinding"),
    ("coordination.k8s.io", "Lease"), ("discovery.k8s.io", "EndpointSlice"),
})
_CLUSTER_SCOPED = frozenset({
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("scheduling.k8s.io", "PriorityClass"), ("networking.k8s.io", "IngressClass"),
    ("storage.k8s.io", "StorageClass"), ("", "PersistentVolume"),
})
_BINDINGS = frozenset({"RoleBinding", "ClusterRoleBinding"})

# Kustomize's legacy output order: these kinds first, in this order, the webhooks last, the
# rest between them by group, version and kind; then by name and namespace.
_FIRST = ("Namespace", "ResourceQuota", "StorageClass", "CustomResourceDefinition",
          "ServiceAccount", "PodSecurityPolicy", "Role", "ClusterRole", "RoleBinding",
          "ClusterRoleBinding", "ConfigMap", "Secret", "Endpoints", "Service", "LimitRange",
          "PriorityClass", "PersistentVolume", "PersistentVolumeClaim", "Deployment",
          "StatefulSet", "CronJob", "PodDisruptionBudget")
_LAST = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
_RANK = {kind: index for index, kind in enumerate(_FIRST)} | \
    {kind: len(_FIRST) + 1 + index for index, kind in enumerate(_LAST)}


Parsed = Callable[[Path], "Sequence[Document | DocumentError] | None"]
"""The documents of a file already read (None: not read yet)."""


def render_plain(directory: Path, data: Mapping[str, Any], kustomization_file: Path,
                 resource_files: Sequence[Path], display: Callable[[Path], str],
                 origin: RenderOrigin, parsed: Parsed | None = None) -> list[Rendered] | None:
    """The overlay's objects, or None when it is not of the plain shape (kubectl builds it)."""
    settings = _settings(data, directory, resource_files)
    if settings is None:
        return None
    namespace, labels = settings
    labelled = bool(data.get("labels"))  # recorded even for an entry with no pairs
    objects: list[tuple[dict[str, Any], str]] = []
    for file in resource_files:
        read = _objects(file, parsed(file) if parsed is not None else None)
        if read is None:
            return None
        objects.extend((obj, display(file)) for obj in read)
    if not _renders_alike(objects, namespace):
        return None
    accounts = _accounts(objects)
    if accounts is None:
        return None
    shown = display(kustomization_file)
    applied = ((f"NamespaceTransformer in {shown}",) if namespace is not None else ()) + \
        ((f"LabelTransformer in {shown}",) if labelled else ())
    rendered = []
    for obj, source in objects:
        metadata = dict(obj["metadata"])
        if namespace is not None and not _cluster_scoped(obj):
            metadata["namespace"] = namespace
        if labels:
            metadata["labels"] = {**(metadata.get("labels") or {}), **labels}
        if metadata.get("annotations") == {}:
            del metadata["annotations"]  # as for kubectl's output, once its own are removed
        if namespace is not None:
            obj = _subjects_moved(obj, accounts, namespace)
        rendered.append(Rendered(_sorted({**obj, "metadata": metadata}), source, origin,
                                 None, applied))
    rendered.sort(key=_order)
    return rendered


def _settings(data: Mapping[str, Any], directory: Path, resource_files: Sequence[Path]
              ) -> tuple[str | None, dict[str, str]] | None:
    if not set(data) <= _ALLOWED_KEYS:
        return None
    if data.get("kind", "Kustomization") != "Kustomization" or data.get(
            "apiVersion", "kustomize.config.k8s.io/v1beta1") != \
            "kustomize.config.k8s.io/v1beta1":
        return None
    namespace = data.get("namespace")
    if namespace is not None and (not isinstance(namespace, str) or not namespace):
        return None
    labels: dict[str, str] = {}
    raw_labels = data.get("labels", [])
    if not isinstance(raw_labels, list):
        return None
    for entry in raw_labels:
        if not isinstance(entry, dict) or set(entry) - {"pairs", "includeSelectors",
                                                         "includeTemplates"}:
            return None
        if entry.get("includeSelectors", False) is not False or \
                entry.get("includeTemplates", False) is not False:
            return None
        pairs = entry.get("pairs")
        if not isinstance(pairs, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in pairs.items()):
            return None
        labels.update(pairs)
    resources = data.get("resources", [])
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        return None
    # Every entry must be one of the files the tree resolved, in the same order, each once.
    named = [real_path(directory / r) for r in resources]
    if named != list(resource_files) or len(set(named)) != len(named):
        return None
    return namespace, labels


def _objects(file: Path, entries: Sequence[Document | DocumentError] | None
             ) -> list[dict[str, Any]] | None:
    if entries is None:
        try:
            entries = list(parse_yaml(file.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError):
            return None
    found = []
    for entry in entries:
        if not isinstance(entry, Document) or entry.ambiguous or entry.plain_dates:
            return None  # unreadable, or a value Kustomize reads otherwise: kubectl settles
        obj = entry.data
        if obj is None:
            continue
        if not _read_alike(obj):
            return None
        if isinstance(obj, dict) and obj.get("apiVersion") == "v1" and \
                obj.get("kind") == "List" and set(obj) <= {"apiVersion", "kind", "items",
                                                           "metadata"}:
            items = obj.get("items")
            if not isinstance(items, list) or not all(
                    isinstance(item, dict) and _plain_object(item) for item in items):
                return None
            found.extend(items)  # Kustomize takes a List's items as resources
            continue
        if not isinstance(obj, dict) or not _plain_object(obj):
            return None
        found.append(obj)
    return found


_STRING_KEYS: set[str] = set()
"""Keys that read as strings, plain or not (the same few hundred recur in every object)."""


def _read_alike(value: Any) -> bool:
    """No key that may not have been a string: Kustomize refuses `1:` or `true:`, which
    the loader made strings (a quoted `"1":` is declined too, the quotes being gone here).
    Unquoted dates are flagged by the parser (`Document.plain_dates`)."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, item in node.items():
                if key not in _STRING_KEYS:
                    if not isinstance(key, str) or resolve_plain(key) != STR:
                        return False
                    if len(_STRING_KEYS) < 65536:
                        _STRING_KEYS.add(key)
                if isinstance(item, (dict, list)):
                    stack.append(item)
        elif isinstance(node, list):
            stack.extend(item for item in node if isinstance(item, (dict, list)))
    return True


def _plain_object(obj: Mapping[str, Any]) -> bool:
    api_version, kind, metadata = obj.get("apiVersion"), obj.get("kind"), obj.get("metadata")
    if not isinstance(api_version, str) or not isinstance(kind, str) or \
            not isinstance(metadata, dict):
        return False
    name = metadata.get("name")
    if not isinstance(name, str) or not name or "generateName" in metadata or \
            kind.endswith("List"):
        return False
    for field in ("labels", "annotations"):
        value = metadata.get(field, {})  # present but null: Kustomize drops the key
        if not (isinstance(value, dict) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items())):
            return False
    namespace = metadata.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        return False
    return _scope_known(api_version, kind)


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def _scope_known(api_version: str, kind: str) -> bool:
    group = _group(api_version)
    if (group, kind) in _NAMESPACED or (group, kind) in _CLUSTER_SCOPED:
        return True
    # A custom resource: Kustomize knows no CRD here and treats it as namespaced.
    return "." in group and not group.endswith("k8s.io")


def _cluster_scoped(obj: Mapping[str, Any]) -> bool:
    return (_group(obj["apiVersion"]), obj["kind"]) in _CLUSTER_SCOPED


def _renders_alike(objects: Sequence[tuple[dict[str, Any], str]],
                   namespace: str | None) -> bool:
    """No object Kustomize would render differently from metadata alone, and no clash."""
    seen = set()
    namespaces: dict[tuple[str, str], set[str | None]] = {}
    for obj, _ in objects:
        if obj["kind"] in _BINDINGS:
            subjects = obj.get("subjects") or []
            if not isinstance(subjects, list) or not all(isinstance(s, dict)
                                                         for s in subjects):
                return False
            if not all(isinstance(s.get("name", ""), str) and
                       isinstance(s.get("namespace", ""), str) for s in subjects):
                return False
            # Kustomize moves every subject named `default` (of any kind) into the
            # namespace, and keeps an empty namespace: left to kubectl.
            if namespace is not None and any(
                    s.get("name") == "default" or s.get("namespace") == "" for s in subjects):
                return False
        object_namespace = None if _cluster_scoped(obj) else \
            (namespace or obj["metadata"].get("namespace") or "default")
        identity = (obj["apiVersion"], obj["kind"], object_namespace, obj["metadata"]["name"])
        if identity in seen:
            return False
        seen.add(identity)
        namespaces.setdefault((obj["apiVersion"], obj["kind"]), set()).add(
            obj["metadata"].get("namespace"))
    # Without a `namespace:`, objects of one kind in several namespaces are ordered by a
    # rule not reproduced here.
    return namespace is not None or all(len(found) == 1 for found in namespaces.values())


def _accounts(objects: Sequence[tuple[dict[str, Any], str]]) -> dict[str, str] | None:
    """The build's ServiceAccounts: name → namespace (`default` when unset); None when two
    share a name (which one Kustomize follows is left to kubectl)."""
    accounts: dict[str, str] = {}
    for obj, _ in objects:
        if obj["kind"] == "ServiceAccount" and _group(obj["apiVersion"]) == "":
            name = obj["metadata"]["name"]
            if name in accounts:
                return None
            accounts[name] = obj["metadata"].get("namespace") or "default"
    return accounts


def _subjects_moved(obj: dict[str, Any], accounts: Mapping[str, str], namespace: str
                    ) -> dict[str, Any]:
    """Kustomize moves a binding's ServiceAccount subject with the account it names when
    that account is part of the build: the subject's namespace unset or the account's."""
    subjects = obj.get("subjects")
    if obj["kind"] not in _BINDINGS or not subjects:
        return obj
    moved = []
    for subject in subjects:
        home = accounts.get(subject.get("name")) \
            if subject.get("kind") == "ServiceAccount" else None
        if home is not None and subject.get("namespace") in (None, "", home):
            subject = {**subject, "namespace": namespace}
        moved.append(subject)
    return {**obj, "subjects": moved}


def _sorted(value: Any) -> Any:
    """Mappings with their keys in order, at every depth: Kustomize's output goes through
    JSON and comes back sorted (rules that list labels show them in that order)."""
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def _order(item: Rendered) -> tuple[Any, ...]:
    obj = item.obj
    api_version, kind = obj["apiVersion"], obj["kind"]
    group, _, version = api_version.rpartition("/")
    metadata = obj["metadata"]
    return (_RANK.get(kind, len(_FIRST)),
            f"{group or '~G'}_{version or '~V'}_{kind}",
            metadata["name"], metadata.get("namespace") or "")
