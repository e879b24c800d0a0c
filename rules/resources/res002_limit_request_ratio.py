"""Limits stay within the tier's multiple of the requests (no hidden overcommit).

Why it matters: the request is what the scheduler reserves and what the platform is sized
and charged for; everything between the request and the limit is borrowed from neighbours.
A memory limit at 8× the request looks cheap but means the node is overcommitted: under
month-end load several such pods reach for the same memory at once and the kernel OOM-kills
one of them, or the kubelet evicts Burstable pods. Conversely the ratio is where silent
overprovisioning hides — limits sized "just in case" that nobody ever revisits. A bounded
ratio keeps requests honest: they must be close to what the workload really uses.

What is checked: for every container and init container of a workload, the memory
limit ÷ memory request, and — when a CPU limit is set — the CPU limit ÷ CPU request, against
the tier requirement `max_limit_request_ratio` (defaults: critical 2.0, standard 4.0,
nonprod 8.0; `tiers.requirements` in the config changes them; null disables the check).
A limit without a request is not checked (Kubernetes copies the limit into the request, the
ratio is 1); a request of zero with a limit is an unbounded ratio. Unreadable quantities are
skipped (the schema stage reports them). The finding points at the limit.

Options:
- `check_cpu` (default true): also check the CPU ratio when a CPU limit is set.

Passing (critical tier, 2.0× allowed):

    resources:
      requests: {cpu: "1", memory: 2Gi}
      limits: {cpu: "2", memory: 3Gi}

Failing (critical tier): `memory limit 4Gi is 8.0× the request 512Mi; the critical tier
allows 2.0×`

    resources:
      requests: {cpu: 250m, memory: 512Mi}
      limits: {memory: 4Gi}
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from checker.k8s import WORKLOAD_KINDS, containers
from checker.model import Manifest, Violation
from checker.pyrules import RuleContext

from ._helpers import container_label, fmt_ratio, resource_amount

METADATA = {
    "id": "RES002",
    "name": "limit-request-ratio-too-high",
    "category": "cost",
    "severity": "medium",
    "tier_severity": {"critical": "high", "standard": "medium", "nonprod": "low"},
    "kinds": [f"{group}/{kind}" for group, kind in WORKLOAD_KINDS],
    "options": {"check_cpu": True},
    "remediation": "Raise the request to what the container really uses at its steady state "
                   "and bring the limit within the tier's ratio (or lower the limit); for "
                   "critical workloads, requests equal to limits (Guaranteed QoS) are best.",
    "references": [
        "https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/",
        "https://kubernetes.io/docs/concepts/policy/limit-range/",
        "https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/",
    ],
}


def _max_ratio(manifest: Manifest, ctx: RuleContext) -> Decimal | None:
    value = ctx.requirement(manifest, "max_limit_request_ratio")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        ratio = Decimal(str(value))
    except ArithmeticError:
        return None
    return ratio if ratio.is_finite() and ratio > 0 else None


def check(manifest: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    allowed = _max_ratio(manifest, ctx)
    if allowed is None:
        return
    tier = ctx.tier(manifest)
    resources = ["memory", "cpu"] if ctx.options.get("check_cpu", True) else ["memory"]
    for container in containers(manifest):
        for resource in resources:
            limit = resource_amount(container, "limits", resource)
            request = resource_amount(container, "requests", resource)
            if limit is None or request is None or limit.value is None or \
                    request.value is None or limit.value <= 0 or request.value < 0:
                continue
            name = "CPU" if resource == "cpu" else "memory"
            details = {"container": container.name, "resource": resource,
                       "limit": limit.shown, "request": request.shown,
                       "max_ratio": float(allowed)}
            if request.value == 0:
                yield Violation(
                    f"{container_label(container)}: {name} limit {limit.shown} over a request "
                    f"of 0 is an unbounded overcommit; the {tier} tier allows "
                    f"{fmt_ratio(allowed)}×", limit.pointer, details)
                continue
            ratio = limit.value / request.value
            if ratio > allowed:
                yield Violation(
                    f"{container_label(container)}: {name} limit {limit.shown} is "
                    f"{fmt_ratio(ratio)}× the request {request.shown}; the {tier} tier "
                    f"allows {fmt_ratio(allowed)}×", limit.pointer,
                    {**details, "ratio": round(float(ratio), 3)})
