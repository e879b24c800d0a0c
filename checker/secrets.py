"""Secret values never leave the checker: not in findings, errors, logs or reports.

Two layers. Policies never see them: the view of a `Secret` handed to Rego (as `input` and in
`data.inventory`, which may be pushed to a remote OPA server) keeps its keys and replaces its
values. And every text the checker emits passes a redactor that knows the estate's Secret
values (as written, and decoded from base64), so a rule or an engine error that quotes one
anyway prints a mask instead.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from checker.model import Finding, Manifest, ToolError

MASK = "<redacted>"
MIN_SECRET_LENGTH = 4
"""Shorter values (`true`, `1`) would mask ordinary words; they are not distinctive anyway."""

_VALUE_FIELDS = ("data", "stringData", "binaryData")


def is_secret(obj: Mapping[str, Any]) -> bool:
    return obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"


def masked(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """A Secret with its values replaced (keys kept: rules check which keys exist); any other
    object unchanged."""
    if not is_secret(obj):
        return obj
    copy = dict(obj)
    for field in _VALUE_FIELDS:
        values = obj.get(field)
        if isinstance(values, Mapping):
            copy[field] = {key: MASK for key in values}
    return copy


class Redactor:
    """Replaces every known Secret value in a text with the mask."""

    def __init__(self, values: Iterable[str]) -> None:
        # Longest first, so that a value containing another is masked whole. Plain substring
        # search: a regex alternation of hundreds of values costs more to compile than all
        # the searches of a run.
        self._values = sorted({v for v in values if len(v) >= MIN_SECRET_LENGTH},
                              key=lambda v: (-len(v), v))
        self._pattern = bool(self._values)

    @classmethod
    def for_estate(cls, manifests: Iterable[Manifest]) -> Redactor:
        values: list[str] = []
        for manifest in manifests:
            if is_secret(manifest.obj):
                values.extend(_secret_values(manifest.obj))
        return cls(values)

    def text(self, text: str) -> str:
        if not self._pattern or not text:
            return text
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def value(self, value: Any) -> Any:
        if not self._pattern:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    def finding(self, finding: Finding) -> Finding:
        if not self._pattern:
            return finding
        return dataclasses.replace(
            finding, message=self.text(finding.message),
            details=self.value(dict(finding.details)),
            suppressed_by=self.text(finding.suppressed_by) if finding.suppressed_by else None)

    def error(self, error: ToolError) -> ToolError:
        if not self._pattern:
            return error
        return dataclasses.replace(error, message=self.text(error.message))


def _secret_values(obj: Mapping[str, Any]) -> Iterable[str]:
    for field in _VALUE_FIELDS:
        values = obj.get(field)
        if not isinstance(values, Mapping):
            continue
        for value in values.values():
            if not isinstance(value, str):
                continue
            texts = [value]
            if field != "stringData":
                decoded = _decode(value)
                if decoded is not None:
                    texts.append(decoded)
            for text in texts:
                yield text
                if "\n" in text:  # a config file: each line may hold a password
                    yield from (line.strip() for line in text.splitlines()
                                if len(line.strip()) >= 8)


def _decode(value: str) -> str | None:
    try:
        raw = base64.b64decode("".join(value.split()), validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
