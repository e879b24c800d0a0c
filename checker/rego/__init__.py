"""Rego policies: the OPA engine, its worker process, and Gatekeeper constraint matching."""
