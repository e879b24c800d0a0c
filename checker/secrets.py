"""Secret values never leave the checker: not in findings, errors, logs or reports.

Two layers. Policies never see them: the view of a `Secret` handed to Rego (as `input` and in
`data.inventory`, which may be pushed to a remote OPA server) keeps its keys and replaces its
values. And every text the checker emits passes a redactor that knows the estate's Secret
values (as written, and decoded from base64, and those of the copy in a Secret's
last-applied annotation), the container env literals named like secrets (`DB_PASSWORD`), and —
for drift — the same of the live objects read, so a rule, an engine error or a drift message
that quotes one anyway prints a mask instead. An internal error's message and traceback are
masked with every value the command had read by then (`recording`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import contextvars
import dataclasses
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from checker.model import Finding, Manifest, ToolError

MASK = "<redacted>"
MIN_SECRET_LENGTH = 4
"""Shorter values (`true`, `1`) would mask ordinary words; they are not distinctive anyway."""

MIN_GUESSED_LENGTH = 8
"""Values that are secret by a guess (an env literal named like a secret, an unquoted number in
a Secret) are masked from this length: shorter ones are flags, modes and counts (`true`,
`basic`, `1000`), and masking them would mask ordinary words in every message."""

DISTINCTIVE_LENGTH = 12
"""Values this long are masked wherever they appear. Shorter ones (a database user `odoo`, a
word like `snapshot`) are masked only where they stand alone — not inside a name such as
`finance-ledger` or a path — or every message naming the estate's objects would be
garbled; a short value quoted, after `=`/`:`, between spaces or in a URL's userinfo is
still masked."""
_NAME_CHAR = r"[A-Za-z0-9._/-]"
_PREFIX = 6
"""Characters of a distinctive value it is looked up by (shorter than DISTINCTIVE_LENGTH)."""

_VALUE_FIELDS = ("data", "stringData", "binaryData")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_SECRET_ENV_NAME = re.compile(
    r"PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL"
    r"|(^|_)(PASS|PWD)$", re.IGNORECASE)
_NOT_A_SECRET_ENV_NAME = re.compile(r"_(FILE|PATH|DIR|NAME|REF|ENABLED|TYPE|MODE)$",
                                    re.IGNORECASE)
_VARIABLE = re.compile(r"^\$[({][A-Za-z_][A-Za-z0-9_]*[)}]$")
_URL_PASSWORD = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*:(?P<password>[^/@\s]+)@")
_ACTIVE: contextvars.ContextVar[list[Redactor] | None] = contextvars.ContextVar(
    "gitops_checker_redactors", default=None)


def is_secret(obj: Mapping[str, Any]) -> bool:
    return obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"


def masked(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """A Secret with its values replaced (keys kept: rules check which keys exist); any other
    object unchanged."""
    if not is_secret(obj):
        return obj
    copy = _values_masked(obj)
    metadata = obj.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    if isinstance(metadata, Mapping) and isinstance(annotations, Mapping) \
            and LAST_APPLIED in annotations:
        # `kubectl apply` keeps the whole Secret there, values included.
        applied = last_applied(obj)
        shown = MASK if applied is None else json.dumps(_values_masked(applied), sort_keys=True)
        copy["metadata"] = {**metadata, "annotations": {**annotations, LAST_APPLIED: shown}}
    return copy


def _values_masked(obj: Mapping[str, Any]) -> dict[str, Any]:
    copy = dict(obj)
    for field in _VALUE_FIELDS:
        values = obj.get(field)
        if isinstance(values, Mapping):
            copy[field] = {key: MASK for key in values}
    return copy


def last_applied(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The configuration `kubectl apply` (client-side) last applied, if recorded."""
    metadata = obj.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    text = annotations.get(LAST_APPLIED) if isinstance(annotations, Mapping) else None
    if not isinstance(text, str):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, Mapping) else None


class Redactor:
    """Replaces every known Secret value in a text with the mask."""

    def __init__(self, values: Iterable[str]) -> None:
        # Longest first, so that a value containing another is masked whole. Plain substring
        # search: a regex alternation of hundreds of values costs more to compile than all
        # the searches of a run.
        known = {v for v in values if len(v) >= MIN_SECRET_LENGTH}
        # As they appear inside JSON text (a last-applied annotation quoted in a message).
        known |= {json.dumps(v)[1:-1] for v in known}
        self._values = sorted((v for v in known if len(v) >= DISTINCTIVE_LENGTH),
                              key=lambda v: (-len(v), v))
        # Values by their first characters, longest first: a text is scanned once, looking
        # up each position, instead of searched once per value (thousands in a large estate).
        self._by_prefix: dict[str, list[str]] = {}
        for value in self._values:
            self._by_prefix.setdefault(value[:_PREFIX], []).append(value)
        short = sorted((v for v in known if len(v) < DISTINCTIVE_LENGTH),
                       key=lambda v: (-len(v), v))
        self._short = re.compile(
            rf"(?<!{_NAME_CHAR})(?:{'|'.join(map(re.escape, short))})(?!{_NAME_CHAR})") \
            if short else None
        self._pattern = bool(self._values) or self._short is not None
        active = _ACTIVE.get()
        if active is not None and self._pattern:
            active.append(self)

    @classmethod
    def for_estate(cls, manifests: Iterable[Manifest]) -> Redactor:
        return cls(text for manifest in manifests for text in secret_texts(manifest.obj))

    def text(self, text: str) -> str:
        if not self._pattern or not text:
            return text
        if self._by_prefix and len(text) >= DISTINCTIVE_LENGTH:
            text = self._mask_long(text)
        if self._short is not None:
            text = self._short.sub(MASK, text)
        return text

    def _mask_long(self, text: str) -> str:
        """Every distinctive value masked: each position is looked up by its first
        characters, and overlapping or adjacent matches are masked as one stretch (a
        value that starts inside another is never left half shown)."""
        spans: list[list[int]] = []
        by_prefix = self._by_prefix
        for position in range(len(text) - DISTINCTIVE_LENGTH + 1):
            candidates = by_prefix.get(text[position:position + _PREFIX])
            if candidates is None:
                continue
            for value in candidates:  # longest first
                if text.startswith(value, position):
                    end = position + len(value)
                    if spans and position <= spans[-1][1]:
                        spans[-1][1] = max(spans[-1][1], end)
                    else:
                        spans.append([position, end])
                    break
        if not spans:
            return text
        parts: list[str] = []
        start = 0
        for first, end in spans:
            parts.extend((text[start:first], MASK))
            start = end
        parts.append(text[start:])
        return "".join(parts)

    def value(self, value: Any) -> Any:
        if not self._pattern:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        if isinstance(value, int | float) and not isinstance(value, bool) \
                and self.text(str(value)) != str(value):
            return MASK  # an unquoted number in a Secret, quoted in details as a number
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


@contextlib.contextmanager
def recording() -> Iterator[Redactor]:
    """Within the block, every redactor made (for each estate, live state or merge base a
    command reads) is remembered; the one yielded masks all their values. For what is
    printed outside any report: an internal error's message and traceback."""
    made: list[Redactor] = []
    token = _ACTIVE.set(made)
    combined = _Combined(made)
    try:
        yield combined
    finally:
        _ACTIVE.reset(token)


class _Combined(Redactor):
    def __init__(self, made: list[Redactor]) -> None:
        self._made = made
        self._values = []
        self._pattern = True

    def text(self, text: str) -> str:
        for redactor in list(self._made):
            text = redactor.text(text)
        return text


def secret_texts(obj: Mapping[str, Any]) -> Iterator[str]:
    """The secret values an object holds, as they may be quoted: a Secret's values (as
    written, and decoded from base64) and those of the copy in its last-applied annotation,
    and container env literals named like secrets (`DB_PASSWORD`, `API_TOKEN`) or holding a
    URL with a password, in any object (pod templates, CronJobs, custom resources)."""
    if is_secret(obj):
        yield from _secret_values(obj)
        applied = last_applied(obj)
        if applied is not None:
            yield from _secret_values(applied)
    yield from _env_literals(obj)


def _env_literals(obj: Mapping[str, Any]) -> Iterator[str]:
    # Parsed objects are dicts and lists (isinstance on them is fast; on the ABCs it is not,
    # and this walks every object of the estate). No recursion: input may nest deeply.
    stack: list[Any] = [obj]
    push, pop = stack.append, stack.pop
    while stack:
        node = pop()
        if isinstance(node, dict):
            env = node.get("env")
            if isinstance(env, list):
                yield from _secret_env_values(env)
            node = node.values()
        for value in node:  # (a tuple, not `dict | list`: isinstance is faster with one)
            if isinstance(value, (dict, list)):
                push(value)


def _secret_env_values(env: list[Any]) -> Iterator[str]:
    for item in env:
        if not isinstance(item, Mapping):
            continue
        name, value = item.get("name"), item.get("value")
        if not isinstance(name, str) or not isinstance(value, str):
            continue
        url = _URL_PASSWORD.match(value)
        if url is not None:
            yield value
            yield url["password"]
        elif len(value) >= MIN_GUESSED_LENGTH and _SECRET_ENV_NAME.search(name) \
                and not _NOT_A_SECRET_ENV_NAME.search(name) and not _VARIABLE.match(value):
            yield value


def _secret_values(obj: Mapping[str, Any]) -> Iterable[str]:
    for field in _VALUE_FIELDS:
        values = obj.get(field)
        if not isinstance(values, Mapping):
            continue
        for value in values.values():
            if isinstance(value, int | float) and not isinstance(value, bool):
                # An unquoted number (rejected by the API server, but written and quoted
                # in messages all the same); short ones would mask ordinary numbers.
                if len(str(value)) >= MIN_GUESSED_LENGTH:
                    yield str(value)
                continue
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
                                if len(line.strip()) >= MIN_GUESSED_LENGTH)


def _decode(value: str) -> str | None:
    try:
        raw = base64.b64decode("".join(value.split()), validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
