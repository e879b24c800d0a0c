"""Bring a declared and a live object to the same footing before they are compared.

The API server adds what nobody declared (status, uid, resourceVersion, managedFields, the
deployment revision), GitOps tools add their tracking marks, a Secret's `stringData` is
stored as base64 `data`, and cluster-scoped objects have no namespace whatever a manifest
says. Everything here removes such differences, and nothing else.

Secret values are replaced by masks the moment a live object is read (and when a declared
one is prepared): a keyed digest that is equal for equal values within a run, so a changed
key shows as changed, and never reveals the value.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from typing import Any

from checker.kinds import is_cluster_scoped
from checker.secrets import LAST_APPLIED

_METADATA_KEPT = ("name", "namespace", "labels", "annotations", "finalizers")
"""The metadata a manifest can meaningfully declare; the rest is the server's."""

SERVER_ANNOTATIONS = frozenset({
    LAST_APPLIED,
    "deployment.kubernetes.io/revision",
    "argocd.argoproj.io/tracking-id",
})
"""Written by the server, kubectl or Argo CD on every object they touch."""

TRACKING_PREFIXES = (
    "kustomize.toolkit.fluxcd.io/", "helm.toolkit.fluxcd.io/", "meta.helm.sh/",
)
"""Flux and Helm ownership marks, added at deploy time."""


class SecretMask:
    """Masks Secret values: `<secret 1a2b3c4d>`, equal within a run, unlinkable across runs."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key if key is not None else secrets.token_bytes(32)

    def bytes(self, raw: bytes) -> str:
        digest = hmac.new(self._key, raw, hashlib.sha256).hexdigest()[:8]
        return f"<secret {digest}>"

    def encoded(self, value: Any) -> Any:
        """A base64 `data` value, masked by what it decodes to (so that the same bytes
        written as `stringData` or with other line breaks get the same mask)."""
        if not isinstance(value, str):
            return value
        try:
            raw = base64.b64decode("".join(value.split()), validate=True)
        except (binascii.Error, ValueError):
            raw = value.encode()
        return self.bytes(raw)

    def plain(self, value: Any) -> Any:
        return self.bytes(value.encode()) if isinstance(value, str) else value

    def secret(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """A Secret with `stringData` folded into `data` and every value masked."""
        result = dict(obj)
        data = {key: None if value is None else self.encoded(value)
                for key, value in obj["data"].items()} \
            if isinstance(obj.get("data"), Mapping) else {}
        string_data = obj.get("stringData")
        if isinstance(string_data, Mapping):
            data.update({key: self.plain(value) for key, value in string_data.items()
                         if value is not None})
        result.pop("stringData", None)
        if data or "data" in obj or "stringData" in obj:
            result["data"] = data
        if isinstance(obj.get("binaryData"), Mapping):  # ConfigMap-style field, to be safe
            result["binaryData"] = {k: self.encoded(v) for k, v in obj["binaryData"].items()}
        return result


def is_secret(obj: Mapping[str, Any]) -> bool:
    return obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"


def masked_live(obj: Mapping[str, Any], mask: SecretMask) -> dict[str, Any]:
    """A live object as read, with Secret values masked (including the copy kept in the
    last-applied annotation, which `kubectl apply` stores in plain text)."""
    if not is_secret(obj):
        return dict(obj)
    result = mask.secret(obj)
    metadata = dict(result.get("metadata") or {})
    annotations = dict(metadata.get("annotations") or {})
    applied = annotations.get(LAST_APPLIED)
    if isinstance(applied, str):
        try:
            parsed = json.loads(applied)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            annotations[LAST_APPLIED] = json.dumps(mask.secret(parsed), sort_keys=True)
        else:
            del annotations[LAST_APPLIED]
        metadata["annotations"] = annotations
        result["metadata"] = metadata
    return result


def prepare(obj: Mapping[str, Any], *, namespace: str | None, declared: Mapping[str, Any],
            aggregated_roles: bool = True) -> dict[str, Any]:
    """The comparable part of an object (declared or live).

    `declared` is the declared object in both calls: tracking marks a GitOps tool adds are
    dropped from the live object unless the repository declares them itself.
    """
    result = {key: value for key, value in obj.items() if key != "status"}
    metadata = mapping_at(obj, "metadata")
    declared_meta = mapping_at(declared, "metadata")
    kept: dict[str, Any] = {k: copy.copy(metadata[k]) for k in _METADATA_KEPT if k in metadata}
    api_version, kind = str(obj.get("apiVersion") or ""), str(obj.get("kind") or "")
    if is_cluster_scoped(api_version, kind):
        kept.pop("namespace", None)
    elif namespace is not None:
        kept["namespace"] = namespace
    for field, noise in (("annotations", _is_server_annotation), ("labels", _is_tracking)):
        values = kept.get(field)
        if isinstance(values, Mapping):
            mine = mapping_at(declared_meta, field)
            kept[field] = {k: v for k, v in values.items() if k in mine or not noise(k)}
    result["metadata"] = kept
    if kind == "ClusterRole" and aggregated_roles and \
            (obj.get("aggregationRule") or declared.get("aggregationRule")):
        result.pop("rules", None)  # filled in by the aggregation controller
    return result


def mapping_at(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """`obj[key]` when it is a mapping, else an empty one (malformed live objects exist)."""
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def _is_server_annotation(key: str) -> bool:
    return key in SERVER_ANNOTATIONS or _is_tracking(key)


def _is_tracking(key: str) -> bool:
    return key.startswith(TRACKING_PREFIXES)
