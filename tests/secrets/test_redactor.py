"""Short Secret values (a database user `odoo`) are masked where they stand alone, not inside
the names of the estate's objects; long ones wherever they appear."""

from __future__ import annotations

import pytest

from checker.secrets import Redactor

REDACTOR = Redactor(["odoo", "ledger", "averyveryLongSecret1"])


@pytest.mark.parametrize(("text", "expected"), [
    ("Secret/finance-ledger/odoo-config", "Secret/finance-ledger/odoo-config"),
    ("apps/odoo/overlays/prod/odoo-web-patch.yaml", "apps/odoo/overlays/prod/odoo-web-patch.yaml"),
    ("declared odoo, live ledger", "declared <redacted>, live <redacted>"),
    ('password: "odoo"', 'password: "<redacted>"'),
    ("user=odoo", "user=<redacted>"),
    ("postgres://app:ledger@db:5432", "postgres://app:<redacted>@db:5432"),
    ("odoo", "<redacted>"),
    ("xaveryveryLongSecret1y", "x<redacted>y"),  # a long value is distinctive anywhere
])
def test_where_values_are_masked(text: str, expected: str) -> None:
    assert REDACTOR.text(text) == expected


def test_overlapping_values_are_masked_whole() -> None:
    """A value that starts inside another (or right where it ends) is never half shown."""
    redactor = Redactor(["AAAAAAAAAAAAB", "BCDEFGHIJKLMNOP-real-secret"])
    assert redactor.text("AAAAAAAAAAAABCDEFGHIJKLMNOP-real-secret") == "<redacted>"
    assert redactor.text("k=AAAAAAAAAAAAB,BCDEFGHIJKLMNOP-real-secret.") == \
        "k=<redacted>,<redacted>."
    assert "real-secret" not in redactor.text("xBCDEFGHIJKLMNOP-real-secretAAAAAAAAAAAAB")
