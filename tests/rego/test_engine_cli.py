"""The rule engine through the command line, on real policies: conftest-style v0 and v1,
Gatekeeper templates and constraints, Python rule packs, exceptions, crashing and endless
policies. Every run is a real `gitops-checker` process with OPA in its worker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rego"


def run(*args: str | Path, cwd: Path = FIXTURES) -> subprocess.CompletedProcess[str]:
    """The CLI with only the policies a test names (the bundled packs are tested apart)."""
    argv = [*map(str, args)]
    if argv[0] in ("check", "rules"):
        argv.append("--no-bundled-packs")
    return subprocess.run([sys.executable, "-m", "checker", *argv], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)


def check(*args: str | Path, cwd: Path = FIXTURES) -> tuple[int, dict[str, Any]]:
    done = run("check", "estate", "--format", "json", "--no-progress", *args, cwd=cwd)
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def triples(report: dict[str, Any]) -> set[tuple[str, str, bool]]:
    """(rule id, object, suppressed) of every finding."""
    return {(f["rule_id"], f"{f['resource']['kind']}/{f['resource']['name']}",
             f["suppressed_by"] is not None) for f in report["findings"]}


def test_conftest_v0_policy_with_data_metadata_and_exception() -> None:
    code, report = check("--policy", "conftest-v0")
    assert code == 1
    found = triples(report)
    assert ("RUN001", "Deployment/odoo-web", False) in found
    assert ("RUN001", "Deployment/odoo-worker", False) in found  # its exception expired
    # warn_owner: odoo-web is covered by the policy's own `exception`, odoo-worker has one
    assert ("OWN001", "Deployment/odoo-web", True) in found
    assert not any(rule == "OWN001" and obj.endswith("odoo-worker") for rule, obj, _ in found)
    # data.limits.min_replicas comes from data.yaml next to the policy
    replicas = [f for f in report["findings"] if f["rule_id"] == "main.violation"]
    assert [f["resource"]["name"] for f in replicas] == ["odoo-web"]
    assert replicas[0]["location"]["pointer"] == "/spec/replicas"
    assert replicas[0]["location"]["line"] == 25
    rules = {f["rule_id"]: f for f in report["findings"]}
    assert rules["RUN001"]["severity"] == "high" and rules["RUN001"]["category"] == "security"
    assert rules["RUN001"]["rule_name"] == "containers-must-not-run-as-root"  # from the title
    assert rules["OWN001"]["severity"] == "medium"  # warn_ rules are warnings
    suppressed = next(f for f in report["findings"] if f["rule_id"] == "OWN001")
    assert suppressed["suppressed_by"] == "conftest exception (data.main.exception)"


def test_v1_policy_sees_the_whole_estate_as_inventory() -> None:
    code, report = check("--policy", "conftest-v1")
    assert code == 0  # medium is below the default --fail-on high
    orphan = [f for f in report["findings"] if f["rule_id"] == "SVC001"]
    assert [f["resource"]["name"] for f in orphan] == ["odoo-orphan"]
    assert orphan[0]["severity"] == "medium" and orphan[0]["location"]["line"] == 85
    assert orphan[0]["rule_name"] == "services-select-pods-that-exist"
    assert orphan[0]["category"] == "availability"


def test_gatekeeper_constraints_match_by_namespace_label_and_use_inventory() -> None:
    code, report = check("--policy", "gatekeeper")
    found = triples(report)
    # namespaceSelector team=finance: only the Deployment without an owner label
    owner = "K8sRequiredLabels.finance-workloads-have-owner"
    assert (owner, "Deployment/odoo-web", False) in found
    assert not any(r == owner and o.endswith("odoo-worker") for r, o, _ in found)
    # namespaces [erp-prod] + labelSelector: both Services, enforcementAction warn -> medium
    tier = [f for f in report["findings"]
            if f["rule_id"] == "K8sRequiredLabels.critical-services-have-tier"]
    assert sorted(f["resource"]["name"] for f in tier) == ["odoo-orphan", "odoo-web"]
    assert {f["severity"] for f in tier} == {"medium"}
    assert tier[0]["details"] == {"missing_labels": ["tier"]}
    # referential: data.inventory holds the Services; dryrun -> low; id from the annotation
    exposed = [f for f in report["findings"] if f["rule_id"] == "GK-SVC-001"]
    assert [f["resource"]["name"] for f in exposed] == ["odoo-worker"]
    assert exposed[0]["severity"] == "low"
    assert code == 1 and report["errors"] == []


def test_python_pack_object_and_estate_rules_and_options(tmp_path: Path) -> None:
    code, report = check("--policy", "pack")
    assert code == 1
    found = triples(report)
    assert ("REP001", "Deployment/odoo-web", False) in found
    assert ("EXP001", "Deployment/odoo-worker", False) in found
    assert ("EXP001", "Deployment/odoo-web", False) not in found
    # options from the config, disabling by category, severity by pack
    config = tmp_path / "config.yaml"
    config.write_text("rules:\n  REP001:\n    options: {min_replicas: 1}\n"
                      "categories:\n  availability: {severity: info}\n"
                      "packs:\n  sample: {severity: critical}\n")
    _code, report = check("--policy", "pack", "--config", config)
    assert not any(f["rule_id"] == "REP001" for f in report["findings"])
    assert {f["severity"] for f in report["findings"] if f["rule_id"] == "EXP001"} == \
        {"critical"}  # the pack's setting wins over the category's


def test_unknown_option_and_unknown_pack_fail_loudly(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("rules:\n  REP001:\n    options: {min_replica: 1}\n")
    done = run("check", "estate", "--policy", "pack", "--config", config)
    assert done.returncode == 2 and "unknown option min_replica" in done.stderr
    config.write_text("packs:\n  nope: {enabled: false}\n")
    done = run("check", "estate", "--policy", "pack", "--config", config)
    assert done.returncode == 2 and "unknown pack nope" in done.stderr and "sample" in \
        done.stderr


def test_crashing_and_uncompilable_policies_are_errors_and_the_rest_still_runs() -> None:
    code, report = check("--policy", "broken", "--all-namespaces")
    assert code == 2
    assert {f["rule_id"] for f in report["findings"]} >= {"FINE001"}
    messages = [e["message"] for e in report["errors"]]
    assert any("CRASH001" in m and "to_number" in m for m in messages)
    assert any(e["path"].endswith("nocompile.rego") and e["line"] == 6
               for e in report["errors"])


def test_a_never_ending_policy_times_out_and_is_named() -> None:
    code, report = check("--policy", "slow", "--rule-timeout", "1")
    assert code == 2
    assert {f["resource"]["name"] for f in report["findings"] if f["rule_id"] == "QUICK001"} \
        == {"odoo-web", "odoo-orphan"}
    timeouts = [e for e in report["errors"] if "SLOW001" in e["message"]]
    assert len(timeouts) == 1 and "did not finish within 1 s" in timeouts[0]["message"]


def test_config_exceptions_with_and_without_expiry(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "exceptions:\n"
        "  - rules: [RUN001]\n"
        "    namespaces: [erp-staging]\n"
        "    reason: staging runs the vendor image\n"
        "  - rules: [main.violation]\n"
        "    kinds: [Deployment]\n"
        "    names: [odoo-*]\n"
        "    reason: scaling review in progress\n"
        "    until: 2020-06-30\n")
    _code, report = check("--policy", "conftest-v0", "--config", config)
    run001 = {f["resource"]["name"]: f["suppressed_by"] for f in report["findings"]
              if f["rule_id"] == "RUN001"}
    assert run001["odoo-web"] is None
    assert run001["odoo-worker"] == "config exception #1: staging runs the vendor image"
    # the expired one suppresses nothing and is a finding at its line in the config
    assert all(f["suppressed_by"] is None for f in report["findings"]
               if f["rule_id"] == "main.violation")
    expired = [f for f in report["findings"] if f["rule_id"] == "EXC001" and
               f["location"]["path"] == str(config)]
    assert len(expired) == 1 and expired[0]["location"]["line"] == 5
    assert "expired on 2020-06-30" in expired[0]["message"]


def test_baseline_round_trip(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    done = run("check", "estate", "--policy", "conftest-v0", "--write-baseline", baseline)
    assert done.returncode == 0, done.stderr
    accepted = json.loads(baseline.read_text())["findings"]
    assert accepted and all(len(e["fingerprint"]) == 32 for e in accepted)
    code, report = check("--policy", "conftest-v0", "--baseline", baseline)
    assert code == 0
    assert all(f["suppressed_by"] for f in report["findings"])
    assert report["summary"]["suppressed"] == len(report["findings"])


def test_rules_list_and_explain() -> None:
    done = run("rules", "list", "--format", "json", "--policy", "pack",
               "--policy", "conftest-v0")
    assert done.returncode == 0, done.stderr
    rules = {r["id"]: r for r in json.loads(done.stdout)["rules"]}
    assert {"SCH001", "EXC001", "REP001", "EXP001", "IMG001", "RUN001"} <= set(rules)
    assert rules["REP001"]["options"] == {"min_replicas": 2}
    assert rules["RUN001"]["engine"] == "rego" and rules["REP001"]["pack"] == "sample"
    done = run("rules", "explain", "REP001", "--policy", "pack")
    assert done.returncode == 0
    assert "Critical workloads run more than one replica." in done.stdout
    assert "min_replicas: 2" in done.stdout and "Remediation:" in done.stdout
    done = run("rules", "explain", "single-replica-critical", "--policy", "pack")
    assert done.stdout.startswith("REP001 single-replica-critical")
    done = run("rules", "explain", "REP00", "--policy", "pack")
    assert done.returncode == 2 and "did you mean REP001" in done.stderr


def test_duplicate_and_malformed_ids_fail_loudly(tmp_path: Path) -> None:
    pack = tmp_path / "dup"
    pack.mkdir()
    (pack / "pack.yaml").write_text("name: dup\n")
    source = (FIXTURES / "pack" / "replicas.py").read_text()
    (pack / "one.py").write_text(source)
    (pack / "two.py").write_text(source)
    (pack / "bad.py").write_text(source.replace('"id": "REP001"', '"id": "rep-1"'))
    done = run("check", "estate", "--policy", pack, "--format", "json")
    report = json.loads(done.stdout)
    assert done.returncode == 2
    messages = " ".join(e["message"] for e in report["errors"])
    assert "duplicate rule id REP001" in messages and "known ids:" in messages
    assert any(e["path"].endswith("bad.py") and "METADATA is invalid" in e["message"]
               for e in report["errors"])
    assert any(f["rule_id"] == "REP001" for f in report["findings"])


def test_test_command_passes_and_fails(tmp_path: Path) -> None:
    done = run("test", "pack", "-v")
    assert done.returncode == 0, done.stdout
    assert "6 passed, 0 failed, 0 errors" in done.stdout
    broken = tmp_path / "pack"
    import shutil

    shutil.copytree(FIXTURES / "pack", broken)
    case = broken / "tests" / "REP001.yaml"
    case.write_text(case.read_text().replace('message: "1 replica"', 'message: "2 replicas"'))
    test_file = broken / "images_test.rego"
    test_file.write_text(test_file.read_text().replace("count(images.deny) == 0",
                                                       "count(images.deny) == 3"))
    done = run("test", broken)
    assert done.returncode == 1
    assert "FAIL  pack/tests/REP001.yaml::one replica in a critical namespace fails" in \
        done.stdout
    assert "FAIL  pack/images_test.rego::test_pinned_is_allowed" in done.stdout
    assert "4 passed, 2 failed, 0 errors" in done.stdout


def test_remote_opa_gives_the_same_findings_as_the_local_engine(opa_server: str) -> None:
    policies = ("--policy", "conftest-v0", "--policy", "conftest-v1", "--policy", "gatekeeper")
    local_code, local = check(*policies)
    remote_code, remote = check(*policies, "--opa-url", opa_server)
    assert (remote_code, remote["findings"]) == (local_code, local["findings"])
    assert remote["errors"] == []


def test_unreachable_opa_server_is_one_error_not_a_pass() -> None:
    code, report = check("--policy", "conftest-v0", "--opa-url", "http://127.0.0.1:9")
    assert code == 2
    assert [e["message"][:40] for e in report["errors"]] == \
        ["Rego rules not evaluated: cannot reach O"]


def test_sarif_marks_config_exceptions_external_and_annotations_in_source(
        tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("exceptions:\n  - rules: [RUN001]\n    names: [odoo-web]\n"
                      "    reason: accepted by the CISO\n")
    sarif = tmp_path / "out.sarif"
    run("check", "estate", "--policy", "conftest-v0", "--config", config,
        "--format", f"sarif={sarif}")
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    kinds = {(r["ruleId"], s["kind"], s["justification"]) for r in results
             for s in r.get("suppressions", [])}
    assert ("RUN001", "external", "config exception #1: accepted by the CISO") in kinds
    assert ("OWN001", "inSource", "conftest exception (data.main.exception)") in kinds


def test_packs_installed_as_entry_points_are_loaded(tmp_path: Path) -> None:
    """A distribution's entry point in group gitops_checker.packs, as pip installs it."""
    site = tmp_path / "site"
    package = site / "finance_extra_rules"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "pack.yaml").write_text("name: finance-extra\n")
    (package / "replicas.py").write_text((FIXTURES / "pack" / "replicas.py").read_text()
                                         .replace("REP001", "FIN901"))
    info = site / "finance_extra_rules-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: finance-extra-rules\n"
                                   "Version: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[gitops_checker.packs]\nfinance-extra = finance_extra_rules\n")
    env = {**__import__("os").environ, "PYTHONPATH": str(site)}
    done = subprocess.run([sys.executable, "-m", "checker", "check", "estate", "--format",
                           "json"], cwd=FIXTURES, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    report = json.loads(done.stdout)
    assert [f["resource"]["name"] for f in report["findings"] if f["rule_id"] == "FIN901"] \
        == ["odoo-web"]
    listing = subprocess.run([sys.executable, "-m", "checker", "rules", "list", "--format",
                              "json"], cwd=FIXTURES, env=env, capture_output=True, text=True,
                             timeout=120, check=False)
    rules = {r["id"]: r for r in json.loads(listing.stdout)["rules"]}
    assert rules["FIN901"]["pack"] == "finance-extra"


def test_secret_values_never_reach_any_output() -> None:
    """A policy that parses a Secret value, one that decodes a token from the inventory, and a
    Python rule that prints, echoes and parses the password: no value appears anywhere."""
    secrets = FIXTURES / "secrets"
    for fmt in ("json", "sarif", "text", "markdown", "junit", "github"):
        done = run("check", secrets / "estate", "--policy", secrets / "rego", "--policy",
                   secrets / "py", "--format", fmt, "--no-progress")
        assert done.returncode == 2
        for value in ("s3cr3tPASSword", "hunter2", "aHVudGVyMi1odW50ZXIy"):
            assert value not in done.stdout and value not in done.stderr, (fmt, value)
    report = json.loads(run("check", secrets / "estate", "--policy", secrets / "rego",
                            "--policy", secrets / "py", "--format", "json").stdout)
    assert any(f["message"] == "password is <redacted>" for f in report["findings"])
    assert any("LEAK001" in e["message"] and 'parsing "…"' in e["message"]
               for e in report["errors"])
