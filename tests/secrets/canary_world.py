"""The world of the secrets canary: one unique value planted wherever an estate keeps secrets,
in a git repository (for `check`, `check --changed`, `check --base`, `sod`), a rule pack with
test cases (`test`, `rules list`), `kubectl get` dumps and a loopback cluster (`drift`).

Every planted value starts with `CORE` (random, fresh for each test session), so one search
for `CORE` finds any of them, however it was cut or concatenated; `forms()` adds the encodings
a leak may take (base64 at every byte alignment, URL-encoding) and the unquoted number.
"""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from tests.gitgates.sod_repo import ALICE, DAVE, Repo

CORE = "cnry" + uuid.uuid4().hex + uuid.uuid4().hex[:24]
assert len(CORE) % 3 == 0  # so that the base64 of a value starting with CORE starts with its own

PLACES = (
    "data",         # repo Secret db: data.password (base64), also copied in an annotation
    "string",       # repo Secret db: stringData.api-token
    "applied",      # repo Secret db: only in its last-applied annotation (an older value)
    "env",          # repo Deployment web: env DB_PASSWORD literal
    "dsn",          # repo Deployment web: the password of env DATABASE_URL
    "notb64",       # repo Secret bad: data.password that is not base64 (schema error)
    "broken",       # repo secrets/broken.yaml: a Secret that does not parse
    "base",         # the merge base's Secret db and env literal
    "live",         # live Secret db: data, annotation, last-applied
    "live-env",     # live Deployment web: env DB_PASSWORD
    "live-applied",  # live Secret db: only in its last-applied annotation
    "extra",        # live Secret stray (tracking label, not declared)
    "dump-broken",  # a live dump that does not parse
    "case",         # a pack's YAML test case: a Secret
)
V = {place: f"{CORE}-{place}" for place in PLACES}
NUMBER = int("7" + str(uuid.uuid4().int)[:16])
"""Unquoted in a Secret's stringData: YAML reads a number (the API server rejects it)."""

NAMESPACE = "erp"
TRACKING_LABEL = "gitops-checker.io/managed-by"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def forms() -> list[str]:
    """What a leak of any planted value would contain."""
    found = {CORE, str(NUMBER)}
    raw = CORE.encode()
    for shift in range(3):  # base64 of a text holding CORE at any byte offset
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * shift + raw).decode()
            found.add(encoded[4:-4] if shift else encoded[:-4])
    for value in V.values():
        found.add(quote(value, safe=""))
    return sorted(found, key=len)


def leaks(text: str) -> list[str]:
    """The planted forms in `text`, each with some context."""
    found = []
    for form in forms():
        at = text.find(form)
        if at >= 0:
            found.append(f"{form!r} in …{text[max(at - 120, 0):at + len(form) + 40]!r}…")
    return found


# -- the repository --------------------------------------------------------------------------

CONFIG = """\
exclude: ["policy/**"]
sod:
  protected:
    - paths: ["secrets/**", "apps/**"]
      approvers: [leads]
  groups:
    leads: ["alice@example.com"]
"""


def repo_secret(password: str, token: str, older: str) -> dict[str, Any]:
    applied = {"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "db", "namespace": NAMESPACE},
               "stringData": {"password": password, "api-token": token, "old": older}}
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "db", "namespace": NAMESPACE, "annotations": {
                "example.com/rotated-from": password,
                LAST_APPLIED: json.dumps(applied)}},
            "data": {"password": b64(password)},
            "stringData": {"api-token": token}}


def deployment(password: str, dsn_password: str) -> dict[str, Any]:
    env = [{"name": "DB_PASSWORD", "value": password},
           {"name": "DATABASE_URL",
            "value": f"postgresql://odoo:{dsn_password}@pg.{NAMESPACE}.svc:5432/odoo"},
           {"name": "LOG_LEVEL", "value": "info"}]
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": NAMESPACE},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "app",
                                                           "image": "nginx:1.27",
                                                           "env": env}]}}}}


BAD_SECRET = f"""\
apiVersion: v1
kind: Secret
metadata:
  name: bad
  namespace: {NAMESPACE}
data:
  password: "{V['notb64']}!!"
stringData:
  pin: {NUMBER}
"""

BROKEN_SECRET = f"""\
apiVersion: v1
kind: Secret
metadata:
  name: broken
  namespace: {NAMESPACE}
stringData:
  password: {V['broken']}: {{{V['broken']}
  other: "{V['broken']}
"""


# -- a rule pack: an honest rule, rules that quote what they see, and test cases -------------

PACK = "name: canary\ndescription: rules that see Secrets and env literals\n"

HONEST_RULE = '''\
"""Secrets name their keys.

Passing: a Secret without keys. Failing: any other.
"""
from checker.model import Violation

METADATA = {"id": "CAN001", "name": "secret-keys", "category": "security",
            "severity": "low", "kinds": ["/Secret"]}


def check(manifest, ctx):
    for field in ("data", "stringData"):
        keys = sorted(manifest.obj.get(field) or {})
        if keys:
            yield Violation(f"{field} has keys {', '.join(keys)}", f"/{field}")
'''

QUOTING_RULE = '''\
"""A careless rule: it quotes the values it sees (the redactor must catch them).

Passing: nothing. Failing: every Secret and every env literal.
"""
import base64

from checker.model import Violation

METADATA = {"id": "CAN002", "name": "quotes-values", "category": "security",
            "severity": "low", "kinds": ["/Secret", "apps/Deployment"]}


def _decoded(value):
    try:
        return base64.b64decode(value).decode()
    except Exception:
        return value


def check(manifest, ctx):
    obj = manifest.obj
    if obj["kind"] == "Secret":
        values = {k: _decoded(v) for k, v in (obj.get("data") or {}).items()}
        values.update(obj.get("stringData") or {})
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        yield Violation(f"values {values} annotations {annotations}", "/metadata",
                        {"values": values, "annotations": annotations})
        return
    for container in obj["spec"]["template"]["spec"]["containers"]:
        for env in container.get("env") or []:
            yield Violation(f"env {env['name']}={env.get('value')}", "/spec",
                            {"env": env})
'''

QUOTING_REGO = """\
package canary.quotes

import rego.v1

# METADATA
# title: quotes env literals
# custom:
#   id: CAN003
#   severity: low
#   category: security
deny_env contains msg if {
	some container in input.spec.template.spec.containers
	some env in container.env
	msg := sprintf("env %s=%s", [env.name, env.value])
}

# METADATA
# title: quotes what a Secret shows a policy
# custom:
#   id: CAN004
#   severity: low
#   category: security
deny_secret contains msg if {
	input.kind == "Secret"
	msg := sprintf("annotations %v data %v stringData %v", [
		object.get(input.metadata, "annotations", {}),
		object.get(input, "data", {}), object.get(input, "stringData", {})])
}
"""


def case_file(rule: str, expect: list[dict[str, Any]]) -> str:
    secret = {"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": "case", "namespace": NAMESPACE,
                           "annotations": {"example.com/rotated-from": V["case"]}},
              "data": {"password": b64(V["case"])}, "stringData": {"token": V["case"]}}
    cases = [{"name": "a Secret with the canary", "objects": [secret], "expect": expect},
             {"name": "nothing", "objects": [], "expect": []}]
    return yaml.safe_dump({"rule": rule, "cases": cases}, sort_keys=False)


def write_pack(directory: Path) -> None:
    (directory / "tests").mkdir(parents=True)
    (directory / "pack.yaml").write_text(PACK)
    (directory / "can001_secret_keys.py").write_text(HONEST_RULE)
    (directory / "can002_quotes_values.py").write_text(QUOTING_RULE)
    (directory / "can003_quotes.rego").write_text(QUOTING_REGO)
    # Passes (one finding per field, as expected) and fails (an expectation that cannot be
    # met): a failing case prints its findings and expectations.
    (directory / "tests" / "CAN001.yaml").write_text(case_file("CAN001", [
        {"message": "^data has keys password$"}, {"message": "^stringData has keys token$"}]))
    (directory / "tests" / "CAN001-fails.yaml").write_text(case_file("CAN001", [
        {"message": "^data has keys password$"}]))
    # The careless rule, expected to find nothing: its findings are printed.
    (directory / "tests" / "CAN002.yaml").write_text(case_file("CAN002", []))


def write_repo(path: Path) -> Repo:
    """The merge base (the estate with the base's values, committed by Alice) and HEAD (the
    current values, a broken file and a schema error, by Dave without approval)."""
    repo = Repo(path)
    write_pack(path / "policy")
    dump = yaml.safe_dump
    files = {".gitops-checker.yaml": CONFIG,
             "secrets/db.yaml": dump(repo_secret(V["base"], V["base"], V["base"])),
             "apps/web.yaml": dump(deployment(V["base"], V["base"]))}
    files.update({p.relative_to(path).as_posix(): p.read_text()
                  for p in sorted((path / "policy").rglob("*")) if p.is_file()})
    repo.commit(ALICE, "estate", files)
    repo.repo.create_tag("base")
    repo.commit(DAVE, "rotate the database password", {
        "secrets/db.yaml": dump(repo_secret(V["data"], V["string"], V["applied"])),
        "secrets/bad.yaml": BAD_SECRET,
        "secrets/broken.yaml": BROKEN_SECRET,
        "apps/web.yaml": dump(deployment(V["env"], V["dsn"]))})
    return repo


# -- the live side ---------------------------------------------------------------------------

MANAGED_PATCH = {"manager": "kubectl-patch", "operation": "Update",
                 "time": "2026-11-26T02:47:00Z", "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:data": {"f:password": {}, "f:api-token": {}},
                              "f:metadata": {"f:annotations": {
                                  "f:example.com/rotated-from": {}}}}}
MANAGED_EDIT = {"manager": "kubectl-edit", "operation": "Update",
                "time": "2026-11-26T02:13:00Z", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                    'k:{"name":"app"}': {"f:env": {
                        'k:{"name":"DB_PASSWORD"}': {"f:value": {}}}}}}}}}}


def live_objects() -> list[dict[str, Any]]:
    """What the cluster runs: the Secret rotated by hand (data, annotation, last-applied), the
    Deployment's env literal edited, a stray Secret with the tracking label, and the Secret
    the repository gets wrong (a value that is not base64, an unquoted number)."""
    applied = {"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "db", "namespace": NAMESPACE},
               "stringData": {"password": V["live-applied"]}}
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": {"name": "db", "namespace": NAMESPACE, "uid": "1",
                           "resourceVersion": "7", "managedFields": [MANAGED_PATCH],
                           "annotations": {"example.com/rotated-from": V["live"],
                                           LAST_APPLIED: json.dumps(applied)}},
              "data": {"password": b64(V["live"]), "api-token": b64(V["live"] + "-token"),
                       "old": b64(V["live-applied"])}}
    web = deployment(V["live-env"], V["dsn"])
    web["metadata"] |= {"uid": "2", "resourceVersion": "8", "managedFields": [MANAGED_EDIT]}
    stray = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
             "metadata": {"name": "stray", "namespace": NAMESPACE, "uid": "3",
                          "resourceVersion": "9", "labels": {TRACKING_LABEL: "finance"},
                          "annotations": {LAST_APPLIED: json.dumps(
                              {"stringData": {"key": V["extra"]}})}},
             "data": {"key": b64(V["extra"])}}
    bad = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
           "metadata": {"name": "bad", "namespace": NAMESPACE, "uid": "4",
                        "resourceVersion": "10"},
           "data": {"password": b64(V["live"] + "-bad"), "pin": b64("1234")}}
    return [secret, web, stray, bad]


BROKEN_DUMP = f"""\
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Secret
    metadata: {{name: other, namespace: {NAMESPACE}}}
    data: {{password: "{b64(V['dump-broken'])}", token: {V['dump-broken']}: [
"""


def write_live(directory: Path) -> None:
    directory.mkdir(parents=True)
    (directory / f"{NAMESPACE}.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "v1", "kind": "List", "items": live_objects()}, sort_keys=False))


def write_broken_dump(path: Path) -> None:
    path.write_text(BROKEN_DUMP)
