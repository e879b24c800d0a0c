"""No Secret is committed to Git in plain text.

A `v1` `Secret` in the repository carries no readable values in `data` or `stringData`.
Base64 is an encoding, not encryption: whoever can read the repository (every clone, fork,
CI runner and backup of it, for ever, since Git keeps history) has the database passwords,
bank API keys and signing keys of the finance platform. SealedSecrets, ExternalSecrets and
SOPS-encrypted files are the ways to keep secrets in Git.

What is checked, one finding per field (`data`, `stringData`), naming the keys and never the
values:

- a key whose value is non-empty is a plaintext value; keys with empty values are
  placeholders and pass;
- a file encrypted with SOPS (a top-level `sops` key with `mac` or `lastmodified`) passes as
  long as its values are SOPS ciphertexts (`ENC[...]`); values SOPS left in clear (an
  `encrypted_regex` or `unencrypted_suffix` that does not cover them) are findings;
- with option `allow_substitution_variables` (default true), a `stringData` value that is
  exactly a Flux post-build variable (`${DB_PASSWORD}`) passes: the cluster fills it in from
  elsewhere. Forms with a default (`${VAR:=x}`) do not pass, since the default may be the
  secret;
- a `kubernetes.io/service-account-token` Secret without data (the cluster fills in the token)
  passes like any Secret without values.

This rule is written in Python, unlike the rest of the pack: Rego policies only ever see
Secrets with their values masked (checker/secrets.py), so a Rego rule could not tell a SOPS
ciphertext, an empty placeholder or a substitution variable from a password.

Severity: critical; high in nonprod tiers (their credentials should not open anything else).

Passing, a SOPS-encrypted Secret:

    kind: Secret
    data: {password: "ENC[AES256_GCM,data:...,type:str]"}
    sops: {mac: "ENC[...]", lastmodified: "2025-01-01T00:00:00Z"}

Failing:

    kind: Secret
    metadata: {name: odoo-db, namespace: erp-prod}
    stringData: {password: s3cr3t}

("stringData holds 1 plaintext value in Git (keys: password): whoever can read the repository
can read it; use a SealedSecret, an ExternalSecret or SOPS").
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from checker.model import Manifest, Violation
from checker.pyrules import RuleContext

METADATA = {
    "id": "SEC001",
    "name": "plaintext-secret-in-git",
    "category": "security",
    "severity": "critical",
    "kinds": ["/Secret"],
    "tier_severity": {"critical": "critical", "standard": "critical", "nonprod": "high"},
    "options": {"allow_substitution_variables": True},
    "remediation": "Rotate the exposed credentials first (they stay in the Git history), then "
                   "replace the Secret with a SealedSecret, an ExternalSecret reading a "
                   "secret store, or a SOPS-encrypted file decrypted by the GitOps controller.",
    "references": [
        "https://kubernetes.io/docs/concepts/security/secrets-good-practices/",
        "https://github.com/bitnami-labs/sealed-secrets",
        "https://external-secrets.io/latest/",
        "https://fluxcd.io/flux/guides/mozilla-sops/",
        "https://fluxcd.io/flux/components/kustomize/kustomizations/#post-build-variable-substitution",
    ],
}

_SUBSTITUTION = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")
_SOPS_CIPHERTEXT = "ENC["


def check(manifest: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    obj = manifest.obj
    if obj.get("apiVersion") != "v1":
        return
    sops = _sops_encrypted(obj)
    for field in ("data", "stringData"):
        values = obj.get(field)
        if not isinstance(values, Mapping):
            continue
        keys = sorted(str(key) for key, value in values.items()
                      if _readable(field, value, ctx.options))
        if not keys:
            continue
        count = len(keys)
        noun = "1 plaintext value" if count == 1 else f"{count} plaintext values"
        note = (" although the file is SOPS-encrypted: SOPS left these values in clear (check "
                "encrypted_regex / unencrypted_suffix)") if sops else ""
        # Only the keys go into the message and details; the values never do.
        yield Violation(
            f"{field} holds {noun} in Git (keys: {', '.join(keys)}){note}: whoever can read "
            f"the repository can read {'it' if count == 1 else 'them'}; use a SealedSecret, "
            "an ExternalSecret or SOPS", f"/{field}", {"keys": keys})


def _readable(field: str, value: Any, options: Mapping[str, Any]) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, str) and value.startswith(_SOPS_CIPHERTEXT):
        return False
    return not (field == "stringData" and options.get("allow_substitution_variables")
                and isinstance(value, str) and _SUBSTITUTION.match(value))


def _sops_encrypted(obj: Mapping[str, Any]) -> bool:
    sops = obj.get("sops")
    return isinstance(sops, Mapping) and any(sops.get(k) for k in ("mac", "lastmodified"))
