"""The nightly report: policy check and drift together, with history (docs/report.md)."""
