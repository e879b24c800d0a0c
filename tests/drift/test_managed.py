"""Field ownership from managedFields, checked against kubectl-blame and kubectl-fields goldens."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from checker.drift.managed import FieldOwner, Ownership
from checker.schema import escape_pointer_token

DATA = Path(__file__).resolve().parent.parent / "data" / "drift" / "attribution"


def live_objects(path: Path) -> list[dict[str, Any]]:
    """The objects of a file, with the items of a `List` as objects of their own."""
    text = path.read_text()
    documents = [json.loads(text)] if path.suffix == ".json" else list(yaml.safe_load_all(text))
    return [item for document in documents
            for item in (document["items"] if document.get("kind") == "List" else [document])]


def line_pointers(text: str) -> dict[int, str]:
    """Line (0-based) -> pointer of the deepest field or list item that starts on it.

    A list item starts at its dash, which may sit alone on the line before the item's first
    field (`- # comment` in kubectl-fields output).
    """
    lines = text.splitlines()
    found: dict[int, str] = {}

    def walk(node: yaml.Node, pointer: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                here = f"{pointer}/{escape_pointer_token(key.value)}"
                found[key.start_mark.line] = here
                walk(value, here)
        elif isinstance(node, yaml.SequenceNode) and not node.flow_style:
            column = node.start_mark.column
            for index, item in enumerate(node.value):
                line = item.start_mark.line
                while lines[line][column:column + 1] != "-":
                    line -= 1
                found[line] = f"{pointer}/{index}"
                walk(item, f"{pointer}/{index}")

    root = yaml.compose(text)
    assert root is not None
    walk(root, "")
    return found


def blame_expectations(golden: Path) -> list[list[tuple[str, str, str]]]:
    """Per document of kubectl-blame output: (pointer, manager, operation) of each blamed line.

    Each line is `<manager> <operation>` (or blanks) in a column as wide as the indent of the
    document's first line, then the object's YAML.
    """
    documents = []
    for block in re.split(r"^---\n", golden.read_text(), flags=re.MULTILINE):
        lines = block.splitlines()
        width = len(lines[0]) - len(lines[0].lstrip())
        pointers = line_pointers("\n".join(line[width:] for line in lines))
        documents.append([(pointers[number], *line[:width].split())  # type: ignore[misc]
                          for number, line in enumerate(lines) if line[:width].strip()])
    return documents


_FIELDS_NOTE = re.compile(
    r"\s*# (?P<manager>\S+)(?: /(?P<sub>\S+))? \([^,)]*(?:, (?P<op>\w+))?\)$")


def fields_expectations(golden: Path) -> list[tuple[str, str, str | None, str | None]]:
    """(pointer, manager, subresource, operation) of each note of kubectl-fields inline output.

    A note ends the line it is about: `key: value # manager [/subresource] (age[, operation])`;
    on a line that is only `- ` it is about the list item.
    """
    lines: list[str] = []
    notes: dict[int, re.Match[str]] = {}
    for number, line in enumerate(golden.read_text().splitlines()):
        if match := _FIELDS_NOTE.search(line):
            notes[number] = match
            line = line[:match.start()]
        lines.append(line)
    pointers = line_pointers("\n".join(lines))
    return [(pointers[number], note["manager"], note["sub"], note["op"])
            for number, note in notes.items()]


@pytest.mark.parametrize(("name", "blamed_lines"), [
    ("deploy.json", 46), ("deploy.yaml", 160), ("list.yaml", 160),
    ("multi-manager-list-item.yaml", 9),
])
def test_the_first_owner_is_the_manager_kubectl_blame_names(name: str, blamed_lines: int) -> None:
    objects = live_objects(DATA / "kubectl-blame" / name)
    documents = blame_expectations(DATA / "kubectl-blame" / f"{name}.txt")
    assert len(objects) == len(documents)
    wrong, checked = [], 0
    for live, expected in zip(objects, documents, strict=True):
        ownership = Ownership.of(live)
        for pointer, manager, operation in expected:
            # kubectl-blame gives a field nobody owns to the owner of the item around it.
            owners = ownership.owners(pointer, inherit=True)
            first = (owners[0].manager, owners[0].operation) if owners else None
            if first != (manager, operation):
                wrong.append((pointer, (manager, operation), first))
            checked += 1
    assert not wrong
    assert checked == blamed_lines  # every blamed line of the golden was mapped to a field


@pytest.mark.parametrize("name", ["1_deployment_inline.out", "1_deployment_inline_operation.out"])
def test_the_first_owner_is_the_manager_kubectl_fields_names(name: str) -> None:
    [live] = live_objects(DATA / "kubectl-fields" / "1_deployment.yaml")
    ownership = Ownership.of(live)
    expected = fields_expectations(DATA / "kubectl-fields" / name)
    wrong = []
    for pointer, manager, subresource, operation in expected:
        owners = ownership.owners(pointer)
        first = owners[0] if owners else None
        if (first is None or first.manager != manager or first.subresource != subresource
                or (operation is not None and first.operation.lower() != operation)):
            wrong.append((pointer, manager, subresource, operation, first))
    assert not wrong
    assert len(expected) == 57  # every note of the golden was mapped to a field


def live(managed: Any, **body: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "managedFields": managed}, **body}


def entry(manager: Any, fields: Any, *, operation: Any = "Update",
          time: Any = "2026-11-26T02:13:00Z", **extra: Any) -> dict[str, Any]:
    written = {"apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": fields,
               "manager": manager, "operation": operation, **extra}
    if time is not None:
        written["time"] = time
    return written


def names(owners: list[FieldOwner]) -> list[str]:
    return [owner.manager for owner in owners]


PORTS = "/spec/template/spec/containers/0/ports"


def test_composite_keys_match_on_every_key_field_as_json_values() -> None:
    ports = [{"containerPort": 53, "protocol": "UDP", "name": "dns"},
             {"containerPort": 53.0, "protocol": "TCP", "name": "dns-tcp"},
             {"containerPort": 1, "protocol": "SCTP", "name": "odd"}]
    container: dict[str, Any] = {"f:ports": {
        'k:{"containerPort":53,"protocol":"UDP"}': {"f:name": {}},
        'k:{"protocol":"TCP","containerPort":53}': {".": {}, "f:name": {}},
        'k:{"containerPort":true,"protocol":"SCTP"}': {".": {}, "f:name": {}},
    }}
    fields: dict[str, Any] = {"f:spec": {"f:template": {"f:spec": {"f:containers": {
        'k:{"name":"dns"}': container}}}}}
    ownership = Ownership.of(live([entry("me", fields)], spec={"template": {"spec": {
        "containers": [{"name": "dns", "ports": ports}]}}}))

    assert names(ownership.owners(f"{PORTS}/0/name")) == ["me"]
    assert names(ownership.owners(f"{PORTS}/1/name")) == ["me"]  # 53.0 is 53
    assert ownership.owners(f"{PORTS}/2/name") == []  # true is not 1
    assert names(ownership.owners(f"{PORTS}/1")) == ["me"]
    assert ownership.owners(f"{PORTS}/0") == []  # fields inside, but no "."
    assert ownership.owners(f"{PORTS}/0/protocol") == []
    assert ownership.owned(lambda owner: True) == [f"{PORTS}/0/name", f"{PORTS}/1", f"{PORTS}/1/name"]


def test_set_items_are_matched_by_value() -> None:
    fields: dict[str, Any] = {"f:metadata": {"f:finalizers": {".": {}, 'v:"example.com/foo"': {}, "v:1": {}}}}
    obj = live([entry("finalizerpatcher", fields)])
    obj["metadata"]["finalizers"] = ["kubernetes", "example.com/foo", "1"]
    ownership = Ownership.of(obj)

    assert names(ownership.owners("/metadata/finalizers/1")) == ["finalizerpatcher"]
    assert ownership.owners("/metadata/finalizers/0") == []
    assert ownership.owners("/metadata/finalizers/2") == []  # "1" is not 1
    assert ownership.owned(lambda owner: True) == ["/metadata/finalizers/1"]


def test_index_items_are_matched_by_position() -> None:
    fields: dict[str, Any] = {"f:spec": {"f:steps": {"i:1": {".": {}, "f:run": {}}}}}
    ownership = Ownership.of(live([entry("me", fields)], spec={
        "steps": [{"run": "a"}, {"run": "b"}]}))

    assert names(ownership.owners("/spec/steps/1/run")) == ["me"]
    assert names(ownership.owners("/spec/steps/1")) == ["me"]
    assert ownership.owners("/spec/steps/0/run") == []
    assert ownership.owned(lambda owner: True) == ["/spec/steps/1", "/spec/steps/1/run"]


def test_an_atomic_field_owns_everything_below_it() -> None:
    fields: dict[str, Any] = {"f:spec": {"f:selector": {}, "f:template": {"f:spec": {"f:containers": {
        'k:{"name":"app"}': {".": {}, "f:command": {}}}}}}}
    ownership = Ownership.of(live([entry("kubectl-create", fields)], spec={
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"spec": {"containers": [{"name": "app", "command": ["sh", "-c", "x"]}]}}}))

    command = "/spec/template/spec/containers/0/command"
    assert names(ownership.owners("/spec/selector/matchLabels/app")) == ["kubectl-create"]
    assert names(ownership.owners("/spec/selector")) == ["kubectl-create"]
    assert names(ownership.owners(f"{command}/2")) == ["kubectl-create"]
    assert ownership.owners(f"{command}/3") == []  # no such item in the live list
    # Map members need no live object to be named.
    assert names(ownership.owners("/spec/selector/matchExpressions")) == ["kubectl-create"]
    assert ownership.owned(lambda owner: True) == [
        "/spec/selector", "/spec/template/spec/containers/0", command]


def test_owners_are_ordered_most_recent_first_and_undated_last() -> None:
    replicas: dict[str, Any] = {"f:spec": {"f:replicas": {}}}
    ownership = Ownership.of(live([
        entry("undated-1", replicas, time=None),
        entry("old", replicas, time="2021-01-01T00:00:00Z"),
        entry("new", replicas, time="2026-11-26T02:13:00Z"),
        entry("undated-2", replicas, time=None),
        entry("earlier-than-it-reads", replicas, time="2026-11-26T03:13:00+02:00"),
        entry("hpa", {"f:spec": {"f:paused": {}}}, time="2027-01-01T00:00:00Z"),
    ], spec={"replicas": 3}))

    assert names(ownership.owners("/spec/replicas")) == [
        "new", "earlier-than-it-reads", "old", "undated-1", "undated-2"]
    assert names(ownership.managers()) == [
        "undated-1", "old", "new", "undated-2", "earlier-than-it-reads", "hpa"]


def test_subresource_entries_are_kept_apart() -> None:
    ownership = Ownership.of(live([
        entry("kube-controller-manager", {"f:status": {"f:replicas": {}}}, subresource="status"),
        entry("hpa", {"f:spec": {"f:replicas": {}}}, subresource="scale"),
    ], spec={"replicas": 2}, status={"replicas": 2}))

    [status] = ownership.owners("/status/replicas")
    assert status.subresource == "status"
    [scale] = ownership.owners("/spec/replicas")
    assert scale == FieldOwner("hpa", "Update", "2026-11-26T02:13:00Z", "scale")
    assert scale.describe() == "hpa (Update) at 2026-11-26T02:13:00Z via /scale"


def test_describe() -> None:
    assert (FieldOwner("kubectl-edit", "Update", "2026-11-26T02:13:00Z").describe()
            == "kubectl-edit (Update) at 2026-11-26T02:13:00Z")
    assert FieldOwner("kubectl-edit", "Update", None).describe() == "kubectl-edit (Update)"
    assert FieldOwner("argocd", "Apply", None, "status").describe() == "argocd (Apply) via /status"


@pytest.mark.parametrize("obj", [
    live("not a list"),
    live(None),
    live({"f:spec": {}}),
    live([1, "entry", None, []]),
    live([{"manager": "no-fields", "operation": "Update"}]),
    live([entry("fields-not-a-map", "f:spec")]),
    live([{"fieldsV1": {"f:spec": {"f:replicas": {}}}, "operation": "Update"}]),  # no manager
    live([entry(3, {"f:spec": {"f:replicas": {}}})]),
    {"metadata": "not a map", "spec": {"replicas": 1}},
    {"spec": {"replicas": 1}},
    "not an object",
    [],
])
def test_malformed_managed_fields_are_skipped_without_raising(obj: Any) -> None:
    ownership = Ownership.of(obj)

    assert not ownership.present
    assert ownership.managers() == []
    assert ownership.owners("/spec/replicas") == []
    assert ownership.owned(lambda owner: True) == []


def test_malformed_nodes_own_nothing_and_spoil_nothing_else() -> None:
    bad = {"f:spec": {"f:replicas": "x", "f:paused": None, "f:template": {"f:spec": {
        "f:containers": {"k:{bad json": {}, "k:[1]": {}, "k:{}": {}, "v:": {}, "i:x": {},
                         'k:{"name":"app"}': [1]}}}}}
    ownership = Ownership.of(live(
        [entry("bad", bad, operation=None, time=5), entry("good", {"f:spec": {"f:replicas": {}}})],
        spec={"replicas": 1, "paused": False,
              "template": {"spec": {"containers": [{"name": "app"}]}}}))

    assert ownership.present
    assert ownership.managers()[0] == FieldOwner("bad", "", None)
    assert names(ownership.owners("/spec/replicas")) == ["good"]
    assert ownership.owners("/spec/paused") == []
    assert ownership.owners("/spec/template/spec/containers/0") == []
    assert ownership.owned(lambda owner: True) == ["/spec/replicas"]


def test_pointers_are_resolved_against_the_live_object() -> None:
    [obj] = live_objects(DATA / "argo-cd" / "live_deployment_with_managed_replica.yaml")
    ownership = Ownership.of(obj)

    assert names(ownership.owners("/metadata/labels/app.kubernetes.io~1instance")) == ["argocd"]
    assert names(ownership.owners("/status/conditions/1/type")) == ["kube-controller-manager"]
    assert ownership.owners("/spec/template/spec/containers/5/image") == []
    assert ownership.owners("/spec/template/spec/containers/x/image") == []
    assert ownership.owners("/metadata/name") == []
    assert ownership.owners("/metadata/labels/not-there") == []
    assert [owner.describe() for owner in ownership.owners("/spec/replicas")] == [
        "kube-controller-manager (Update) at 2021-12-01T21:07:55Z",
        "argocd (Update) at 2021-12-01T20:36:10Z"]


def test_owned_lists_the_fields_of_the_accepted_managers() -> None:
    [obj] = live_objects(DATA / "argo-cd" / "live_deployment_with_managed_replica.yaml")
    ownership = Ownership.of(obj)

    controller = ownership.owned(lambda owner: owner.manager == "kube-controller-manager")
    assert "/spec/replicas" in controller
    assert {"/status/conditions/0", "/status/conditions/1/type", "/status/replicas",
            "/metadata/annotations/deployment.kubernetes.io~1revision"} <= set(controller)
    assert "/metadata/annotations" not in controller  # "." of a map is not a field to ignore
    assert not [pointer for pointer in controller if pointer.startswith("/spec/template")]
    assert ownership.owned(lambda owner: owner.manager == "revision-history-manager") == [
        "/spec/revisionHistoryLimit"]
    everything = ownership.owned(lambda owner: True)
    assert everything == sorted(set(everything))
    assert "/spec/template/spec/containers/0/ports/0/protocol" in everything
    assert ownership.owned(lambda owner: owner.operation == "Apply") == [
        "/spec/revisionHistoryLimit"]


def test_owned_skips_what_the_live_object_does_not_have() -> None:
    fields: dict[str, Any] = {"f:spec": {"f:paused": {}, "f:replicas": {}, "f:template": {"f:spec": {
        "f:containers": {'k:{"name":"gone"}': {".": {}, "f:image": {}},
                         'k:{"name":"app"}': {"f:image": {}, "f:args": {}}}}}}}
    ownership = Ownership.of(live([entry("me", fields)], spec={
        "replicas": 1, "template": {"spec": {"containers": [{"name": "app", "image": "x"}]}}}))

    assert ownership.owned(lambda owner: True) == [
        "/spec/replicas", "/spec/template/spec/containers/0/image"]


def test_an_item_is_owned_by_its_dot_not_by_owners_of_fields_inside() -> None:
    [obj] = live_objects(DATA / "kubectl-blame" / "multi-manager-list-item.yaml")
    ownership = Ownership.of(obj)
    container = "/spec/template/spec/containers/0"

    assert names(ownership.owners(container)) == ["me"]
    assert names(ownership.owners(f"{container}/env")) == ["envpatcher"]
    assert ownership.owners(f"{container}/image") == []
    assert names(ownership.owners(f"{container}/image", inherit=True)) == ["me"]
    assert names(ownership.owners(f"{container}/ports/0/protocol", inherit=True)) == ["me"]
    assert ownership.owners("/metadata/name", inherit=True) == []
    assert [(owner.manager, owner.subresource) for owner in ownership.managers()] == [
        ("me", None), ("envpatcher", None), ("kube-controller-manager", "status"),
        ("finalizerpatcher", None)]
