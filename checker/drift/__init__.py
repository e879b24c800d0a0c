"""Drift between declared and live objects: normalizing, comparing and attributing."""
