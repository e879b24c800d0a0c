"""CRD → JSON Schema conversion (checker.crds) and the committed schemas/crds output.

Only the committed files under schemas/crds are read here, never the CRD sources
(/work/shared is not available in CI).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from checker.crds import (
    JSON_SCHEMA_DIALECT,
    crd_versions,
    load_yaml_documents,
    openapi_to_json_schema,
    schemas_from_crd,
)

SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas" / "crds"
INDEX_KEYS = {
    "group",
    "version",
    "kind",
    "plural",
    "scope",
    "file",
    "source",
    "cel_rules_dropped",
    "deprecated",
    "served",
    "storage",
}


# --- helpers --------------------------------------------------------------------------


def make_crd(
    spec_schema: dict[str, Any] | None = None,
    *,
    group: str = "example.com",
    kind: str = "Widget",
    versions: list[dict[str, Any]] | None = None,
    root: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A v1 CRD whose single version v1 has `spec` (or the whole `root`) as its schema."""
    if root is None:
        root = {
            "type": "object",
            "properties": {
                "apiVersion": {"type": "string", "description": "APIVersion..."},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
                "spec": spec_schema or {"type": "object"},
                "status": {
                    "type": "object",
                    "properties": {"ready": {"type": "boolean"}},
                },
            },
        }
    if versions is None:
        versions = [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": root},
            }
        ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "names": {
                "kind": kind,
                "plural": "widgets",
                "singular": "widget",
                "listKind": f"{kind}List",
            },
            "scope": "Namespaced",
            "versions": versions,
        },
    }


def only_schema(crd: dict[str, Any]) -> dict[str, Any]:
    schemas = schemas_from_crd(crd)
    assert len(schemas) == 1
    return next(iter(schemas.values()))


def obj(spec: Any = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
    }
    if spec is not None:
        out["spec"] = spec
    out.update(extra)
    return out


def valid(schema: dict[str, Any], instance: Any) -> bool:
    return jsonschema_rs.validator_for(schema).is_valid(instance)


def walk_schemas(schema: Any) -> Iterator[dict[str, Any]]:
    """Every (sub)schema, following schema keywords only (a property may be named `description`)."""
    if not isinstance(schema, dict):
        return
    yield schema
    for key in ("properties", "patternProperties"):
        for sub in schema.get(key, {}).values():
            yield from walk_schemas(sub)
    for key in ("items", "additionalProperties", "not"):
        yield from walk_schemas(schema.get(key))
    for key in ("allOf", "anyOf", "oneOf", "prefixItems"):
        for sub in schema.get(key, []):
            yield from walk_schemas(sub)


# --- conversion -----------------------------------------------------------------------


def test_root_is_strict_with_enum_api_version_and_kind() -> None:
    schema = only_schema(
        make_crd({"type": "object", "properties": {"size": {"type": "integer"}}})
    )
    assert schema["$schema"] == JSON_SCHEMA_DIALECT
    assert schema["properties"]["apiVersion"]["enum"] == ["example.com/v1"]
    assert schema["properties"]["kind"]["enum"] == ["Widget"]
    assert {"apiVersion", "kind"} <= set(schema["required"])

    assert valid(schema, obj({"size": 3}))
    assert valid(schema, obj({"size": 3}, status={"ready": True}))
    assert not valid(schema, obj({"size": 3}, status={"ready": "yes"}))
    assert not valid(schema, {**obj(), "apiVersion": "example.com/v2"})
    assert not valid(schema, {**obj(), "apiVersion": "other.com/v1"})
    assert not valid(schema, {**obj(), "kind": "Gadget"})
    assert not valid(schema, {"kind": "Widget"})
    assert not valid(schema, {"apiVersion": "example.com/v1"})
    assert not valid(schema, obj(extra_top_level=1))
    # metadata is open: ObjectMeta is validated elsewhere
    assert valid(
        schema,
        {**obj(), "metadata": {"name": "w", "labels": {"a": "b"}, "finalizers": ["x"]}},
    )
    assert not valid(schema, {**obj(), "metadata": "w"})


def test_unknown_fields_rejected_at_every_level() -> None:
    spec = {
        "type": "object",
        "properties": {
            "size": {"type": "integer"},
            "nested": {"type": "object", "properties": {"name": {"type": "string"}}},
            "list": {
                "type": "array",
                "items": {"type": "object", "properties": {"x": {"type": "string"}}},
            },
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "marker": {"type": "object"},
        },
    }
    schema = only_schema(make_crd(spec))
    good = {
        "size": 1,
        "nested": {"name": "n"},
        "list": [{"x": "y"}],
        "labels": {"any": "v"},
        "marker": {},
    }
    assert valid(schema, obj(good))
    assert not valid(schema, obj({**good, "sizee": 1}))
    assert not valid(schema, obj({**good, "nested": {"name": "n", "nme": "typo"}}))
    assert not valid(schema, obj({**good, "list": [{"x": "y", "z": 1}]}))
    assert not valid(schema, obj({**good, "labels": {"any": 1}}))
    # an object with no properties keeps nothing, as the API server prunes all of it
    assert not valid(schema, obj({**good, "marker": {"anything": True}}))


def test_junctor_branches_are_not_made_strict() -> None:
    spec = {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
        "oneOf": [
            {"required": ["a"]},
            {"required": ["b"], "properties": {"b": {"minLength": 2}}},
        ],
    }
    schema = only_schema(make_crd(spec))
    assert valid(schema, obj({"a": "x"}))
    assert valid(schema, obj({"b": "xy"}))
    assert not valid(schema, obj({"a": "x", "b": "xy"}))
    assert not valid(schema, obj({"b": "x"}))
    assert not valid(schema, obj({"c": "x", "a": "x"}))


def test_nullable() -> None:
    spec = {
        "type": "object",
        "properties": {
            "maybe": {"type": "string", "nullable": True},
            "never": {"type": "string"},
            "obj": {
                "type": "object",
                "nullable": True,
                "properties": {"x": {"type": "integer"}},
            },
            "items": {"type": "array", "nullable": True, "items": {"type": "string"}},
            "pick": {
                "type": "object",
                "nullable": True,
                "properties": {"x": {"type": "integer"}},
                "not": {"required": ["x"]},
            },
        },
    }
    schema = only_schema(make_crd(spec))
    assert valid(schema, obj({"maybe": None, "obj": None, "items": None, "pick": None}))
    assert valid(
        schema, obj({"maybe": "s", "obj": {"x": 1}, "items": ["a"], "pick": {}})
    )
    assert not valid(schema, obj({"never": None}))
    assert not valid(schema, obj({"obj": {"x": 1, "y": 2}}))
    assert not valid(
        schema, obj({"pick": {"x": 1}})
    )  # `not` still applies to non-null values


def test_int_or_string() -> None:
    spec = {
        "type": "object",
        "properties": {
            "port": {
                "x-kubernetes-int-or-string": True,
                "anyOf": [{"type": "integer"}, {"type": "string"}],
            },
            "maxUnavailable": {
                "x-kubernetes-int-or-string": True,
                "nullable": True,
                "anyOf": [{"type": "integer"}, {"type": "string"}],
                "pattern": "^[0-9]+%?$",
            },
        },
    }
    schema = only_schema(make_crd(spec))
    port = schema["properties"]["spec"]["properties"]["port"]
    assert port == {"type": ["integer", "string"]}
    assert valid(schema, obj({"port": 80}))
    assert valid(schema, obj({"port": "http"}))
    bad: Any
    for bad in (1.5, True, [], {}, None):
        assert not valid(schema, obj({"port": bad}))
    assert valid(schema, obj({"maxUnavailable": None}))
    assert valid(schema, obj({"maxUnavailable": "25%"}))
    assert not valid(schema, obj({"maxUnavailable": "a lot"}))


def test_preserve_unknown_fields() -> None:
    spec = {
        "type": "object",
        "properties": {
            "values": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "config": {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": True,
                "properties": {
                    "known": {"type": "integer"},
                    "inner": {
                        "type": "object",
                        "properties": {"a": {"type": "string"}},
                    },
                },
            },
            "raw": {"x-kubernetes-preserve-unknown-fields": True},
        },
    }
    schema = only_schema(make_crd(spec))
    assert valid(schema, obj({"values": {"anything": {"deep": [1, 2]}}}))
    assert valid(schema, obj({"config": {"known": 1, "extra": "ok"}}))
    assert not valid(schema, obj({"config": {"known": "1"}}))
    # preserving applies to that object only, not to declared objects below it
    assert not valid(schema, obj({"config": {"inner": {"a": "x", "b": "y"}}}))
    assert valid(schema, obj({"raw": [1, "two", {"three": 3}]}))


def test_whole_root_preserving_unknown_fields() -> None:
    root = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    schema = only_schema(make_crd(root=root))
    assert valid(schema, obj({"x": 1}, data={"y": 2}))
    assert not valid(schema, {**obj(), "kind": "Other"})


def test_embedded_resource() -> None:
    spec = {
        "type": "object",
        "properties": {
            "template": {
                "type": "object",
                "x-kubernetes-embedded-resource": True,
                "x-kubernetes-preserve-unknown-fields": True,
            },
            "podTemplate": {
                "type": "object",
                "x-kubernetes-embedded-resource": True,
                "properties": {
                    "spec": {"type": "object", "properties": {"x": {"type": "string"}}}
                },
            },
        },
    }
    schema = only_schema(make_crd(spec))
    resource = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "labels": {"a": "b"}},
        "data": {"k": "v"},
    }
    assert valid(schema, obj({"template": resource}))
    assert not valid(
        schema, obj({"template": {"kind": "ConfigMap"}})
    )  # apiVersion is required
    assert not valid(
        schema, obj({"template": {"apiVersion": "v1"}})
    )  # kind is required
    assert not valid(schema, obj({"template": {"apiVersion": "a/b/c", "kind": "X"}}))

    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"annotations": {"a": "b"}},
        "spec": {"x": "y"},
    }
    assert valid(schema, obj({"podTemplate": pod}))
    assert not valid(schema, obj({"podTemplate": {**pod, "status": {}}}))
    assert not valid(schema, obj({"podTemplate": {**pod, "spec": {"y": "x"}}}))


def test_multiple_versions_and_served_flags() -> None:
    def version(
        name: str, served: bool, storage: bool, field: str, **extra: Any
    ) -> dict[str, Any]:
        spec = {"type": "object", "properties": {field: {"type": "string"}}}
        return {
            "name": name,
            "served": served,
            "storage": storage,
            **extra,
            "schema": {
                "openAPIV3Schema": {"type": "object", "properties": {"spec": spec}}
            },
        }

    crd = make_crd(
        versions=[
            version("v1alpha1", False, False, "old", deprecated=True),
            version("v1beta1", True, False, "beta", deprecated=True),
            version("v1", True, True, "current"),
        ]
    )
    schemas = schemas_from_crd(crd)
    assert set(schemas) == {
        ("example.com", "v1beta1", "Widget"),
        ("example.com", "v1", "Widget"),
    }
    v1 = schemas[("example.com", "v1", "Widget")]
    beta = schemas[("example.com", "v1beta1", "Widget")]
    assert valid(v1, obj({"current": "x"}))
    assert not valid(v1, obj({"beta": "x"}))
    assert valid(beta, {**obj({"beta": "x"}), "apiVersion": "example.com/v1beta1"})
    assert not valid(
        beta, obj({"beta": "x"})
    )  # apiVersion example.com/v1 is not this version

    info = {v.version: v for v in crd_versions(crd)}
    assert (info["v1alpha1"].served, info["v1alpha1"].deprecated) == (False, True)
    assert (info["v1"].storage, info["v1beta1"].storage) == (True, False)


def test_dropped_keywords_and_cel_count() -> None:
    spec = {
        "type": "object",
        "description": "the spec",
        "x-kubernetes-validations": [
            {"rule": "self.a != self.b"},
            {"rule": "has(self.a)"},
        ],
        "properties": {
            "a": {
                "type": "string",
                "default": "x",
                "example": "y",
                "format": "hostname",
                "x-kubernetes-validations": [{"rule": "self.size() < 5"}],
            },
            "b": {
                "type": "array",
                "items": {"type": "string"},
                "x-kubernetes-list-type": "atomic",
            },
            "c": {
                "type": "object",
                "x-kubernetes-map-type": "atomic",
                "properties": {
                    "n": {
                        "type": "integer",
                        "minimum": 0,
                        "exclusiveMinimum": True,
                        "maximum": 10,
                    }
                },
            },
        },
    }
    crd = make_crd(spec)
    (version,) = crd_versions(crd)
    assert version.cel_rules_dropped == 3
    converted = version.schema["properties"]["spec"]
    assert converted["properties"]["a"] == {"type": "string", "format": "hostname"}
    assert converted["properties"]["c"]["properties"]["n"] == {
        "type": "integer",
        "exclusiveMinimum": 0,
        "maximum": 10,
    }
    for sub in walk_schemas(version.schema):
        assert not {"description", "default", "example", "nullable"} & set(sub)
        assert not any(key.startswith("x-") for key in sub)
    assert not valid(version.schema, obj({"c": {"n": 0}}))
    assert valid(version.schema, obj({"c": {"n": 1}}))


def test_list_type_set_means_unique_items() -> None:
    spec = {
        "type": "object",
        "properties": {
            "set": {
                "type": "array",
                "items": {"type": "string"},
                "x-kubernetes-list-type": "set",
            },
        },
    }
    schema = only_schema(make_crd(spec))
    assert valid(schema, obj({"set": ["a", "b"]}))
    assert not valid(schema, obj({"set": ["a", "a"]}))


def test_version_without_schema_checks_only_type_meta() -> None:
    crd = make_crd(versions=[{"name": "v1", "served": True, "storage": True}])
    (version,) = crd_versions(crd)
    assert not version.has_schema
    schema = version.schema
    assert valid(schema, obj({"anything": [1]}, other=True))
    assert not valid(schema, {**obj(), "kind": "Gadget"})
    assert not valid(schema, {**obj(), "apiVersion": "example.com/v2"})


def test_v1beta1_top_level_validation() -> None:
    crd: dict[str, Any] = {
        "apiVersion": "apiextensions.k8s.io/v1beta1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "version": "v1",
            "names": {"kind": "Widget", "plural": "widgets"},
            "scope": "Namespaced",
            "preserveUnknownFields": False,
            "validation": {
                "openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {
                            "type": "object",
                            "properties": {"size": {"type": "integer"}},
                        },
                    },
                }
            },
        },
    }
    schema = only_schema(crd)
    assert valid(schema, obj({"size": 1}))
    assert not valid(schema, obj({"size": "1"}))
    assert not valid(schema, obj({"sizee": 1}))
    # v1beta1 defaulted preserveUnknownFields to true: nothing was pruned
    del crd["spec"]["preserveUnknownFields"]
    lax = only_schema(crd)
    assert valid(lax, obj({"sizee": 1}))
    assert not valid(lax, obj({"size": "1"}))


@pytest.mark.parametrize(
    "doc, message",
    [
        (
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}},
            "not a CustomResourceDefinition",
        ),
        (["not", "a", "mapping"], "not a CustomResourceDefinition"),
        (
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": "x"},
                "spec": {"names": {"kind": "X"}, "versions": []},
            },
            "spec.group",
        ),
        (
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": "x"},
                "spec": {"group": "g", "names": {"kind": "X"}, "versions": []},
            },
            "spec.versions",
        ),
    ],
)
def test_rejects_non_crds(doc: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        schemas_from_crd(doc)


def test_malformed_schema_names_the_path() -> None:
    crd = make_crd({"type": "object", "properties": {"bad": "string"}})
    with pytest.raises(ValueError, match=r"spec\.properties\.bad"):
        schemas_from_crd(crd)


def test_openapi_to_json_schema_non_strict() -> None:
    converted = openapi_to_json_schema(
        {"type": "object", "properties": {"a": {"type": "string"}}}, strict=False
    )
    assert "additionalProperties" not in converted.schema


def test_yaml_loader_reads_prometheus_style_enums_and_multi_documents() -> None:
    text = "---\na: 1\n---\n---\nenum:\n- =\n- '!='\nwhen: 2024-01-01\n"
    assert load_yaml_documents(text) == [
        {"a": 1},
        {"enum": ["=", "!="], "when": "2024-01-01"},
    ]


# --- committed schemas/crds -----------------------------------------------------------


@cache
def index() -> tuple[dict[str, Any], ...]:
    return tuple(json.loads((SCHEMAS_DIR / "index.json").read_text(encoding="utf-8")))


@cache
def committed_validator(group: str, version: str, kind: str) -> Any:
    (entry,) = [
        e
        for e in index()
        if (e["group"], e["version"], e["kind"]) == (group, version, kind)
    ]
    schema = json.loads((SCHEMAS_DIR / entry["file"]).read_text(encoding="utf-8"))
    return jsonschema_rs.validator_for(schema)


def test_index_shape_and_order() -> None:
    entries = index()
    assert entries
    keys = [(e["group"], e["version"], e["kind"]) for e in entries]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    for entry in entries:
        assert set(entry) == INDEX_KEYS
        if entry["served"]:
            assert (
                entry["file"]
                == f"{entry['group']}/{entry['kind'].lower()}_{entry['version']}.json"
            )
            assert (SCHEMAS_DIR / entry["file"]).is_file()
        else:
            assert entry["file"] is None


@pytest.mark.parametrize(
    "group, version, kind",
    [
        ("traefik.io", "v1alpha1", "IngressRoute"),
        ("velero.io", "v1", "Backup"),
        ("postgresql.cnpg.io", "v1", "Backup"),
        ("k8up.io", "v1", "Backup"),
        ("postgresql.cnpg.io", "v1", "Cluster"),
        ("cert-manager.io", "v1", "Certificate"),
        ("argoproj.io", "v1alpha1", "Application"),
        ("kustomize.toolkit.fluxcd.io", "v1", "Kustomization"),
        ("helm.toolkit.fluxcd.io", "v2", "HelmRelease"),
        ("bitnami.com", "v1alpha1", "SealedSecret"),
        ("external-secrets.io", "v1", "ExternalSecret"),
        ("gateway.networking.k8s.io", "v1", "HTTPRoute"),
        ("monitoring.coreos.com", "v1", "ServiceMonitor"),
        ("templates.gatekeeper.sh", "v1", "ConstraintTemplate"),
    ],
)
def test_index_covers(group: str, version: str, kind: str) -> None:
    matches = [
        e
        for e in index()
        if (e["group"], e["version"], e["kind"]) == (group, version, kind)
    ]
    assert len(matches) == 1 and matches[0]["served"]


def test_backup_exists_in_three_groups() -> None:
    groups = {e["group"] for e in index() if e["kind"] == "Backup"}
    assert groups == {"velero.io", "postgresql.cnpg.io", "k8up.io"}


def test_traefik_duplicate_resolved_to_helm_chart_files() -> None:
    sources = {e["source"] for e in index() if e["group"] == "traefik.io"}
    assert sources and all(
        s.startswith("traefik/per-kind-helm-chart/") for s in sources
    )


def test_every_committed_schema_compiles_and_is_draft_2020_12() -> None:
    files = [e["file"] for e in index() if e["file"]]
    on_disk = {
        p.relative_to(SCHEMAS_DIR).as_posix() for p in SCHEMAS_DIR.rglob("*.json")
    }
    assert on_disk == set(files) | {"index.json"}
    for file in files:
        schema = json.loads((SCHEMAS_DIR / file).read_text(encoding="utf-8"))
        assert schema["$schema"] == JSON_SCHEMA_DIALECT
        jsonschema_rs.validator_for(schema)


INGRESS_ROUTE: dict[str, Any] = {
    "apiVersion": "traefik.io/v1alpha1",
    "kind": "IngressRoute",
    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
    "spec": {
        "entryPoints": ["websecure"],
        "routes": [
            {
                "match": "Host(`example.com`) && PathPrefix(`/api`)",
                "kind": "Rule",
                "middlewares": [{"name": "auth"}],
                "services": [
                    {"name": "web", "port": 80},
                    {"name": "web2", "port": "http", "weight": 2},
                ],
            }
        ],
        "tls": {"secretName": "web-tls"},
    },
}

CNPG_CLUSTER: dict[str, Any] = {
    "apiVersion": "postgresql.cnpg.io/v1",
    "kind": "Cluster",
    "metadata": {"name": "pg"},
    "spec": {
        "instances": 3,
        "imageName": "ghcr.io/cloudnative-pg/postgresql:16",
        "storage": {"size": "10Gi"},
        "bootstrap": {"initdb": {"database": "app", "owner": "app"}},
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}},
    },
}


def with_spec(doc: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**doc, "spec": {**doc["spec"], **changes}}


def test_valid_traefik_ingress_route_passes() -> None:
    validator = committed_validator("traefik.io", "v1alpha1", "IngressRoute")
    errors = [e.message for e in validator.iter_errors(INGRESS_ROUTE)]
    assert errors == []


def test_traefik_ingress_route_with_unknown_spec_field_fails() -> None:
    validator = committed_validator("traefik.io", "v1alpha1", "IngressRoute")
    assert not validator.is_valid(with_spec(INGRESS_ROUTE, entrypoints=["web"]))
    route = {**INGRESS_ROUTE["spec"]["routes"][0], "servics": []}
    assert not validator.is_valid(with_spec(INGRESS_ROUTE, routes=[route]))
    assert not validator.is_valid(
        {**INGRESS_ROUTE, "apiVersion": "traefik.containo.us/v1alpha1"}
    )


def test_cnpg_cluster() -> None:
    validator = committed_validator("postgresql.cnpg.io", "v1", "Cluster")
    assert [e.message for e in validator.iter_errors(CNPG_CLUSTER)] == []
    assert not validator.is_valid(with_spec(CNPG_CLUSTER, instances="3"))


def test_backups_of_three_groups_are_told_apart() -> None:
    velero = {
        "apiVersion": "velero.io/v1",
        "kind": "Backup",
        "metadata": {"name": "b"},
        "spec": {
            "includedNamespaces": ["*"],
            "ttl": "720h0m0s",
            "storageLocation": "default",
        },
    }
    assert committed_validator("velero.io", "v1", "Backup").is_valid(velero)
    assert not committed_validator("k8up.io", "v1", "Backup").is_valid(velero)
    assert not committed_validator("postgresql.cnpg.io", "v1", "Backup").is_valid(
        velero
    )


def test_preserved_helm_values_accept_anything() -> None:
    release = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "podinfo", "namespace": "default"},
        "spec": {
            "interval": "10m",
            "chart": {
                "spec": {
                    "chart": "podinfo",
                    "sourceRef": {"kind": "HelmRepository", "name": "podinfo"},
                }
            },
            "values": {"replicaCount": 2, "any": {"nested": [1, "two"]}},
        },
    }
    validator = committed_validator("helm.toolkit.fluxcd.io", "v2", "HelmRelease")
    assert [e.message for e in validator.iter_errors(release)] == []
    assert not validator.is_valid(with_spec(release, valuez={}))
