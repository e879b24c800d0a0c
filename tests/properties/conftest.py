"""Hypothesis profiles for the property tests (see profile.py for how a test uses them).

- `ci` (the default): derandomized, so that a run is reproducible and a failure in CI fails
  the same way on a laptop; no example database is written; no deadline (the first example
  of a kind compiles its schema, which takes a while).
- `dev`: random examples, with the example database (`.hypothesis/`) to replay failures.
- `thorough`: `dev` with ten times the examples, to hunt for bugs before a release.

Choose with `HYPOTHESIS_PROFILE=dev pytest tests/properties`. They are registered as
`properties-<name>` and applied to these tests only, so that other suites' profiles and
settings are left alone.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

_COMMON = {"deadline": None, "print_blob": True,
           "suppress_health_check": (HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.filter_too_much)}

settings.register_profile("properties-ci", derandomize=True, database=None, max_examples=100,
                          **_COMMON)  # type: ignore[arg-type]
settings.register_profile("properties-dev", max_examples=100, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("properties-thorough", max_examples=1000,
                          **_COMMON)  # type: ignore[arg-type]
