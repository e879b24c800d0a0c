"""The Kubernetes versions whose schemas the checker bundles (a module of its own, so that
parsing arguments and reading the config need not import the validator)."""

SUPPORTED_VERSIONS = tuple(f"1.{minor}" for minor in range(25, 38))
DEFAULT_VERSION = SUPPORTED_VERSIONS[-1]
