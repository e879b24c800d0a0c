"""The config file is validated whole; every error names the key, the value and the expectation."""

from __future__ import annotations

from pathlib import Path

import pytest

from checker.config import Config, load_config
from checker.errors import ConfigError
from checker.model import Severity


def config_from(tmp_path: Path, text: str) -> Config:
    path = tmp_path / ".gitops-checker.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, display=".gitops-checker.yaml")


def test_defaults_without_a_file() -> None:
    config = load_config(None)
    assert config.fail_on is Severity.HIGH and config.strict and config.unknown_kinds == "warn"
    assert config.kubernetes_version == "1.37"


def test_values_are_read(tmp_path: Path) -> None:
    config = config_from(tmp_path, 'kubernetes_version: "1.30"\nfail_on: medium\nstrict: false\n'
                                   "exclude: [vendor/]\nrules:\n  SCH004: {severity: high}\n"
                                   "  unknown-field: {enabled: false}\n")
    assert config.kubernetes_version == "1.30" and config.fail_on is Severity.MEDIUM
    assert not config.strict and config.exclude == ("vendor/",)
    assert config.rules["SCH004"].severity is Severity.HIGH
    assert config.rules["unknown-field"].enabled is False


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    assert config_from(tmp_path, "# nothing\n").fail_on is Severity.HIGH


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from(tmp_path, "fail_onn: high\n")
    message = str(caught.value)
    assert "unknown key 'fail_onn'" in message and "did you mean 'fail_on'?" in message


def test_wrong_value_names_key_value_and_expectation(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from(tmp_path, "fail_on: hgh\nstrict: maybe\n")
    message = str(caught.value)
    assert "key 'fail_on': found \"hgh\", expected one of critical, high, medium, low, info" \
        in message
    assert "key 'strict': found \"maybe\", expected a boolean" in message


def test_unquoted_version_number_is_explained(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from(tmp_path, "kubernetes_version: 1.30\n")
    assert "key 'kubernetes_version': found 1.3, expected a string" in str(caught.value)


def test_nested_rule_setting_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from(tmp_path, "rules:\n  SCH001: {severity: urgent}\n")
    assert "key 'rules.SCH001.severity': found \"urgent\"" in str(caught.value)


def test_yaml_error_in_config_has_a_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from(tmp_path, "fail_on: high\nexclude: [a,\n")
    assert ".gitops-checker.yaml:3:" in str(caught.value)
