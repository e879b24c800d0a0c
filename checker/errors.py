"""Expected failures. Library code raises these; only the CLI turns them into exit codes."""

from __future__ import annotations


class CheckerError(Exception):
    """An expected failure with a message meant for the user (exit 2)."""


class ConfigError(CheckerError):
    """The configuration file or the command line asked for something invalid."""


class UsageError(CheckerError):
    """Arguments that do not make sense together."""
