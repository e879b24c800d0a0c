"""Hypothesis strategies: Kubernetes-like objects, hostile strings, JSON-ish values, reports.

Objects come in two flavours: `well_formed` ones (DNS-1123 names, valid label keys, what the
API server accepts) and `hostile` ones, whose names, labels, annotations and string values
may be anything a file can hold: unicode, control characters, very long text, and the words
YAML 1.1 reads as something else (`yes`, `on`, `0777`, `~`, `- x`, `: x`, `#`).

Everything generated is plain JSON data (dict, list, str, int, float, bool, None), as the
checker's loader produces it.
"""

from __future__ import annotations

import base64
import copy
import string
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from checker.model import (
    ENGINES,
    Finding,
    Location,
    Report,
    Resource,
    RuleInfo,
    Severity,
    ToolError,
)
from checker.schema import escape_pointer_token

INT64 = (-(2**63), 2**63 - 1)

# --------------------------------------------------------------------------- strings

DNS_LABEL = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")
"""RFC 1123 label: object names, namespaces, container names."""

DNS_SUBDOMAIN = st.lists(DNS_LABEL, min_size=1, max_size=3).map(".".join).filter(
    lambda s: len(s) <= 253)

LABEL_NAME = st.from_regex(r"\A[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?\Z")
"""The name part of a label or annotation key (and a label value, when not empty)."""

LABEL_KEY = st.one_of(
    LABEL_NAME,
    st.builds(lambda prefix, name: f"{prefix}/{name}", DNS_SUBDOMAIN, LABEL_NAME),
)

YAML_SPECIAL = (
    # YAML 1.1 booleans and nulls (only some of them are YAML 1.2 ones)
    "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
    "y", "Y", "n", "N", "true", "True", "FALSE", "false",
    "~", "null", "Null", "NULL", "",
    # numbers as go-yaml v2 reads them
    "0777", "012", "08", "09", "0x1F", "0X1f", "0o17", "0O17", "0b101", "0B101", "1_000",
    "1e3", "1E3", "1e-3", "+1", "-0", "1.0", "1.", ".5", "+.5", "-.5", "1.5e3", "6.02e23",
    "0", "-12", "100", "0.5",
    # strings that only look like something else
    "22:22", "2001-12-14", "2001-12-14T21:59:43.10-05:00", "100m", "1Gi", "1024Mi", "0x",
    ".", "..", "-", "--", "---", "...", "<<", "=", "?", "!", "&a", "*a", "!!str", "%YAML",
    "@x", "`x`", "|", ">", "|-", "> x", "- x", "-x", ": x", "x:", "x: y", "#", "# c", "a #b",
    "a#b", "[a]", "{a: 1}", "[", "]", "{", "}", ",", "'", '"', "'q'", '"dq"', "\\", "\\n",
    " lead", "trail ", "  ", "\t", "a\tb", "a\nb", "a\n\nb", "\n", "x\n", "a\r\nb", "a\rb",
    ".inf", "-.Inf", ".nan", "NaN", "Infinity",
)

_CONTROL_AND_BREAKS = st.one_of(
    st.characters(min_codepoint=0x00, max_codepoint=0x1F),
    st.characters(min_codepoint=0x7F, max_codepoint=0x9F),
    st.sampled_from(["\u2028", "\u2029", "\ufeff", "\u202e", "\u200b", "\ufffe", "\uffff"]),
)
"""C0 and C1 controls (ESC, NUL, NEL …), unicode line and paragraph separators, the BOM,
bidi overrides and non-characters."""

HOSTILE_TEXT = st.one_of(
    st.sampled_from(YAML_SPECIAL),
    st.text(max_size=24),                                    # any unicode but surrogates
    st.text(st.characters(codec="ascii"), max_size=24),
    st.text(st.one_of(_CONTROL_AND_BREAKS, st.characters(codec="ascii")), max_size=12),
    st.builds(lambda c, n: c * n, st.sampled_from(["a", "é", "x y ", "€", "\U0001f600"]),
              st.integers(100, 2500)),                          # very long
    st.builds(str.__add__, st.sampled_from(YAML_SPECIAL), st.text(max_size=4)),
    st.builds(str.__add__, st.text(max_size=4), st.sampled_from(YAML_SPECIAL)),
)
"""Anything a string can be, in a YAML or JSON file."""

SURROGATE_TEXT = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
                         | st.characters(codec="ascii"), min_size=1, max_size=6)
"""Strings holding lone surrogates: what a JSON `\\ud800` escape or a non-UTF-8 file name
(read with `surrogateescape`) becomes in Python."""

ANY_TEXT = st.one_of(HOSTILE_TEXT, SURROGATE_TEXT)


def names(hostile: bool) -> st.SearchStrategy[str]:
    return st.one_of(DNS_LABEL, HOSTILE_TEXT) if hostile else DNS_LABEL


def label_keys(hostile: bool) -> st.SearchStrategy[str]:
    return st.one_of(LABEL_KEY, HOSTILE_TEXT) if hostile else LABEL_KEY


def label_values(hostile: bool) -> st.SearchStrategy[str]:
    valid = st.one_of(st.just(""), LABEL_NAME)
    return st.one_of(valid, HOSTILE_TEXT) if hostile else valid


def texts(hostile: bool) -> st.SearchStrategy[str]:
    plain = st.text(string.ascii_letters + string.digits + " -_./:=@", max_size=40)
    return st.one_of(plain, HOSTILE_TEXT) if hostile else plain


# --------------------------------------------------------------------------- numbers

_SUFFIXES = {"": Decimal(1), "m": Decimal("0.001"), "k": Decimal(10) ** 3,
             "M": Decimal(10) ** 6, "G": Decimal(10) ** 9, "T": Decimal(10) ** 12,
             "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30,
             "Ti": Decimal(2) ** 40}

CPU = st.one_of(
    st.sampled_from(["100m", "0.5", "1", "2", "250m", "1e3", "1.5", "0.1", "1000m", "4"]),
    st.integers(1, 64_000).map(lambda n: f"{n}m"),
    st.integers(1, 64).map(str),
)
MEMORY = st.one_of(
    st.sampled_from(["1Gi", "1024Mi", "512Mi", "128974848", "129e6", "129M", "123Mi",
                     "1e3", "0.5Gi", "1.5Gi", "2G", "64Ki", "1Ti"]),
    st.builds(lambda n, unit: f"{n}{unit}", st.integers(1, 4096),
              st.sampled_from(["Ki", "Mi", "Gi", "k", "M", "G", ""])),
)
QUANTITIES = st.one_of(CPU, MEMORY)


def quantity_value(text: str) -> Decimal:
    """The value of a quantity as generated here (the test's own reading, not the checker's)."""
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if suffix and text.endswith(suffix):
            return Decimal(text[:-len(suffix)]) * _SUFFIXES[suffix]
    return Decimal(text)


def equivalent_quantities(text: str) -> list[str]:
    """Other spellings of the same quantity (`0.5` → `500m`, `1024Mi` → `1Gi`, `1e3` → `1k`),
    as the API server's canonical form or any client might write it."""
    value = quantity_value(text)
    found = {text}
    for suffix, factor in _SUFFIXES.items():
        scaled = value / factor
        exponent = scaled.as_tuple().exponent
        if scaled == scaled.to_integral_value() or isinstance(exponent, int) and exponent >= -3:
            number = format(scaled.normalize(), "f")
            if "." in number:
                number = number.rstrip("0").rstrip(".")
            found.add(f"{number}{suffix}")
    if value == value.to_integral_value() and value > 0:
        integer = int(value)
        exponent = 0
        while integer % 10 == 0 and integer:
            integer //= 10
            exponent += 1
        if exponent:
            found.add(f"{integer}e{exponent}")
    return sorted(found)


PORT = st.integers(1, 65535)
PORT_NAME = st.from_regex(r"\A[a-z]([a-z0-9-]{0,13}[a-z0-9])?\Z")
INT_OR_STRING_PORT = st.one_of(PORT, PORT_NAME)

# --------------------------------------------------------------------------- JSON-ish

JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(*INT64),
    st.floats(allow_nan=False, allow_infinity=False), HOSTILE_TEXT,
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(HOSTILE_TEXT, children, max_size=4)),
    max_leaves=12,
)
"""Arbitrary JSON data (no NaN or infinity: JSON has none, and Kubernetes rejects them)."""

# --------------------------------------------------------------------------- objects


@st.composite
def metadata(draw: st.DrawFn, *, namespaced: bool, hostile: bool) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": draw(names(hostile))}
    if namespaced and draw(st.booleans()):
        meta["namespace"] = draw(names(hostile))
    if draw(st.booleans()):
        meta["labels"] = draw(st.dictionaries(label_keys(hostile), label_values(hostile),
                                              max_size=4))
    if draw(st.booleans()):
        meta["annotations"] = draw(st.dictionaries(label_keys(hostile), texts(hostile),
                                                   max_size=3))
    return meta


@st.composite
def container(draw: st.DrawFn, *, hostile: bool) -> dict[str, Any]:
    result: dict[str, Any] = {
        "name": draw(DNS_LABEL),
        "image": draw(st.one_of(
            st.builds(lambda repo, tag: f"registry.example.com/{repo}:{tag}",
                      DNS_LABEL, st.from_regex(r"\A[0-9]{1,2}\.[0-9]{1,2}(\.[0-9])?\Z")),
            texts(hostile))),
    }
    if draw(st.booleans()):
        ports = draw(st.lists(st.fixed_dictionaries(
            {"containerPort": PORT},
            optional={"protocol": st.sampled_from(["TCP", "UDP", "SCTP"]),
                      "name": PORT_NAME}),
            max_size=3, unique_by=lambda p: (p["containerPort"], p.get("protocol", "TCP"))))
        if ports:
            result["ports"] = ports
    if draw(st.booleans()):
        env = draw(st.lists(st.fixed_dictionaries({
            "name": st.from_regex(r"\A[A-Z_][A-Z0-9_]{0,20}\Z"),
            "value": texts(hostile)}), max_size=3, unique_by=lambda e: e["name"]))
        if env:
            result["env"] = env
    if draw(st.booleans()):
        resources: dict[str, Any] = {}
        for part in draw(st.sets(st.sampled_from(["requests", "limits"]), min_size=1)):
            resources[part] = draw(st.fixed_dictionaries({}, optional={
                "cpu": CPU, "memory": MEMORY}).filter(bool))
        result["resources"] = resources
    if draw(st.booleans()):
        result["command"] = draw(st.lists(texts(hostile), min_size=1, max_size=3))
    return result


@st.composite
def deployment(draw: st.DrawFn, *, hostile: bool = False) -> dict[str, Any]:
    app = draw(LABEL_NAME)
    selector = {"app": app}
    template_labels = {**draw(st.dictionaries(LABEL_KEY, label_values(False), max_size=2)),
                       **selector}
    containers = draw(st.lists(container(hostile=hostile), min_size=1, max_size=3,
                               unique_by=lambda c: c["name"]))
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector},
        "template": {"metadata": {"labels": template_labels},
                     "spec": {"containers": containers}},
    }
    if draw(st.booleans()):
        spec["replicas"] = draw(st.integers(0, 50))
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": draw(metadata(namespaced=True, hostile=hostile)), "spec": spec}


@st.composite
def service(draw: st.DrawFn, *, hostile: bool = False) -> dict[str, Any]:
    ports = draw(st.lists(st.fixed_dictionaries(
        {"port": PORT},
        optional={"targetPort": INT_OR_STRING_PORT,
                  "protocol": st.sampled_from(["TCP", "UDP"])}),
        min_size=1, max_size=3, unique_by=lambda p: (p["port"], p.get("protocol", "TCP"))))
    if len(ports) > 1:  # the API server requires names on multi-port services
        for index, port in enumerate(ports):
            port["name"] = f"p{index}"
    spec: dict[str, Any] = {"ports": ports}
    if draw(st.booleans()):
        spec["selector"] = draw(st.dictionaries(LABEL_KEY, label_values(False), min_size=1,
                                                max_size=2))
    if draw(st.booleans()):
        spec["type"] = draw(st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer"]))
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": draw(metadata(namespaced=True, hostile=hostile)), "spec": spec}


CONFIG_KEY = st.from_regex(r"\A[-._a-zA-Z0-9]{1,40}\Z").filter(lambda k: k not in (".", ".."))


@st.composite
def config_map(draw: st.DrawFn, *, hostile: bool = False) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": draw(metadata(namespaced=True, hostile=hostile))}
    if draw(st.booleans()):
        obj["data"] = draw(st.dictionaries(CONFIG_KEY, texts(hostile), max_size=4))
    if draw(st.booleans()):
        obj["binaryData"] = draw(st.dictionaries(
            CONFIG_KEY, st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode()),
            max_size=2))
    return obj


SECRET_BYTES = st.one_of(st.binary(max_size=64),
                         st.text(max_size=40).map(lambda s: s.encode("utf-8")))


@st.composite
def secret(draw: st.DrawFn, *, hostile: bool = False) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                           "metadata": draw(metadata(namespaced=True, hostile=hostile))}
    if draw(st.booleans()):
        obj["data"] = draw(st.dictionaries(
            CONFIG_KEY, SECRET_BYTES.map(lambda b: base64.b64encode(b).decode()), max_size=3))
    if draw(st.booleans()):
        obj["stringData"] = draw(st.dictionaries(CONFIG_KEY, texts(hostile), max_size=3))
    return obj


@st.composite
def namespace(draw: st.DrawFn, *, hostile: bool = False) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": draw(metadata(namespaced=False, hostile=hostile))}


@st.composite
def certificate(draw: st.DrawFn, *, hostile: bool = False) -> dict[str, Any]:
    """A custom resource whose CRD is bundled (cert-manager)."""
    spec = {"secretName": draw(DNS_LABEL),
            "dnsNames": draw(st.lists(DNS_SUBDOMAIN, min_size=1, max_size=3)),
            "issuerRef": {"name": draw(DNS_LABEL),
                          "kind": draw(st.sampled_from(["Issuer", "ClusterIssuer"]))}}
    return {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": draw(metadata(namespaced=True, hostile=hostile)), "spec": spec}


@st.composite
def widget(draw: st.DrawFn, *, hostile: bool = False) -> dict[str, Any]:
    """A custom resource no schema knows, with an arbitrary spec."""
    return {"apiVersion": "example.com/v1alpha1", "kind": "Widget",
            "metadata": draw(metadata(namespaced=True, hostile=hostile)),
            "spec": draw(st.dictionaries(HOSTILE_TEXT if hostile else LABEL_NAME, JSON_VALUES,
                                         max_size=4))}


KINDS = (deployment, service, config_map, secret, namespace, certificate, widget)


def k8s_objects(*, hostile: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """One object of any of the kinds above."""
    return st.one_of(*(kind(hostile=hostile) for kind in KINDS))


# --------------------------------------------------------------------------- reports

RULE_IDS = st.one_of(st.sampled_from(["SCH001", "SCH002", "DRF003", "SEC001", "TLS001"]),
                     st.from_regex(r"\A[A-Z]{3}[0-9]{3}\Z"))
CATEGORY = st.from_regex(r"\A[a-z][a-z0-9-]{0,15}\Z")
ERROR_KIND = st.from_regex(r"\A[a-z][a-z0-9]{0,8}(-[a-z0-9]{1,6}){0,2}\Z")
FINGERPRINT = st.from_regex(r"\A[0-9a-f]{32}\Z")
POINTER = st.lists(st.one_of(ANY_TEXT, st.integers(0, 20)), max_size=5).map(
    lambda tokens: "".join("/" + escape_pointer_token(t) for t in tokens))
LINE = st.one_of(st.none(), st.integers(1, 10**6))


_RULE_NAME = ANY_TEXT.filter(bool)
_SEVERITY = st.sampled_from(Severity)
_ENGINE = st.sampled_from(ENGINES)
_HELP_URI = st.none() | st.just("https://example.invalid/rules")
_RESOURCE = st.none() | st.builds(
    Resource, st.sampled_from(["v1", "apps/v1", "example.com/v1alpha1"]) | ANY_TEXT,
    ANY_TEXT, st.none() | ANY_TEXT, ANY_TEXT)
_PATH = st.none() | ANY_TEXT
_COLUMN = st.none() | st.integers(1, 500)
_SUPPRESSED_BY = st.none() | ANY_TEXT.filter(bool)
_DETAILS = st.dictionaries(ANY_TEXT, JSON_VALUES, max_size=3)
_ERRORS = st.lists(st.builds(ToolError, ERROR_KIND, ANY_TEXT, _PATH, LINE), max_size=3)


def _rule_info(draw: st.DrawFn, rule_id: str) -> RuleInfo:
    return RuleInfo(
        id=rule_id, name=draw(_RULE_NAME), severity=draw(_SEVERITY), category=draw(CATEGORY),
        description=draw(ANY_TEXT), engine=draw(_ENGINE), remediation=draw(ANY_TEXT),
        help_uri=draw(_HELP_URI),
    )


def _finding(draw: st.DrawFn, rule: RuleInfo) -> Finding:
    line = draw(LINE)
    location = Location(draw(_PATH), line, None if line is None else draw(_COLUMN),
                        draw(POINTER))
    return Finding(
        rule_id=rule.id, rule_name=rule.name, severity=draw(_SEVERITY),
        category=rule.category, message=draw(ANY_TEXT), resource=draw(_RESOURCE),
        location=location, engine=rule.engine, fingerprint=draw(FINGERPRINT),
        suppressed_by=draw(_SUPPRESSED_BY), details=draw(_DETAILS),
    )


_RULE_ID_LISTS = st.lists(RULE_IDS, max_size=4, unique=True)
_RULE_CHOICES = {n: st.lists(st.integers(0, n - 1), max_size=6) for n in range(1, 5)}


@st.composite
def reports(draw: st.DrawFn) -> Report:
    """A report as the pipeline hands it to reporters: findings sorted, rules known."""
    ids = draw(_RULE_ID_LISTS)
    rules = {rule_id: _rule_info(draw, rule_id) for rule_id in ids}
    found: list[Finding] = []
    if rules:
        found = [_finding(draw, rules[ids[index]]) for index in draw(_RULE_CHOICES[len(ids)])]
    errors = draw(_ERRORS)
    return Report(findings=tuple(sorted(found, key=Finding.sort_key)),
                  errors=tuple(sorted(errors, key=ToolError.sort_key)), rules=rules,
                  files=draw(st.integers(0, 10**4)), objects=draw(st.integers(0, 10**5)),
                  tool_version=draw(st.sampled_from(["0.1.0", "1.2.3.dev4"])))


# --------------------------------------------------------------------------- mistakes

UNKNOWN_FIELD = st.one_of(
    st.sampled_from(["replicaz", "imagePullPolcy", "labelz", "specs", "x-extra"]), HOSTILE_TEXT)


def _mappings(value: Any) -> list[dict[str, Any]]:
    """Every mapping inside a value, the value itself first."""
    found: list[dict[str, Any]] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.append(item)
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return found


@st.composite
def with_mistakes(draw: st.DrawFn, objects: st.SearchStrategy[dict[str, Any]]
                  ) -> dict[str, Any]:
    """An object with up to three mistakes a person makes: a misspelt or unknown field, a
    value of the wrong type, a field left out (never `apiVersion` or `kind`)."""
    obj = copy.deepcopy(draw(objects))
    for _ in range(draw(st.integers(0, 3))):
        target = draw(st.sampled_from(_mappings(obj)))
        what = draw(st.sampled_from(["unknown", "retype", "drop"]))
        keys = sorted(k for k in target if target is not obj or k not in ("apiVersion", "kind"))
        if what == "unknown":
            key = draw(UNKNOWN_FIELD)
            if target is not obj or key not in ("apiVersion", "kind"):
                target[key] = draw(JSON_SCALARS)
        elif keys:
            key = draw(st.sampled_from(keys))
            if what == "retype":
                target[key] = draw(JSON_VALUES)
            else:
                del target[key]
    return obj
