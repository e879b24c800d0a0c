"""Without the OPA engine installed (a hook environment built without it, say), Rego rules
fail closed with a message that names the missing package, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ESTATE = REPO_ROOT / "fixtures" / "estates" / "odoo-finance"


def _without_opa(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    shadow = tmp_path / "shadow"
    shadow.mkdir(exist_ok=True)
    # Shadows the real module in this process and in the spawned OPA worker alike.
    (shadow / "opa_bindings.py").write_text("raise ImportError('no OPA here')\n")
    env = {**os.environ, "PYTHONPATH": str(shadow)}
    return subprocess.run([sys.executable, "-m", "checker", *args], capture_output=True,
                          text=True, env=env, cwd=REPO_ROOT, timeout=300, check=False)


@pytest.mark.slow
def test_check_fails_closed_naming_the_missing_engine(tmp_path: Path) -> None:
    result = _without_opa(tmp_path, "check", str(ESTATE), "--format", "text", "--no-progress")
    assert result.returncode == 2
    assert "the OPA engine is not installed (Python package opa-golib-python-bindings" in \
        result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert "RES007" in result.stdout  # the Python rules still ran


def test_pack_tests_fail_closed_naming_the_missing_engine(tmp_path: Path) -> None:
    result = _without_opa(tmp_path, "test", str(REPO_ROOT / "rules" / "tls"))
    assert result.returncode == 2
    assert "the OPA engine is not installed" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
