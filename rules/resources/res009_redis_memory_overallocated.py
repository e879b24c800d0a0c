"""Redis does not reserve far more memory than its `maxmemory` lets it use.

Why it matters: Redis never uses much more than `maxmemory` plus its buffers and the
copy-on-write pages of a snapshot fork. Memory requested beyond that is reserved on a node,
paid for and never touched — overallocated Redis memory is one of the hidden cost drivers
of the platform ("give the cache 16Gi to be safe" with a 2gb maxmemory).

What is checked: for every Redis container (identified by image as in RES005; option
`images`) with a maxmemory found as RES005 finds it (command line over mounted config
files; the largest value when several files set it), the container's memory request —
or, without a request, its memory limit — is at most `max_factor` × maxmemory (default
2.0: room for a full copy-on-write fork on top of the dataset). Containers without a
readable maxmemory, or with maxmemory 0, are left to RES005.

Options: `max_factor` (default 2.0), `images`, `env_flags`.

Passing: `--maxmemory 1536mb`, requests.memory 2Gi (1.33×).

Failing: `--maxmemory 1gb`, requests.memory 16Gi (16.0×; at most 2.0× = 2Gi is useful).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from checker.k8s import WORKLOAD_KINDS
from checker.model import Manifest, Violation
from checker.pyrules import RuleContext

from ._helpers import (
    REDIS_ENV_FLAGS,
    REDIS_IMAGES,
    Setting,
    as_str_list,
    container_label,
    fmt_bytes,
    fmt_ratio,
    redis_bytes,
    redis_containers,
    redis_settings,
    resource_amount,
)

METADATA = {
    "id": "RES009",
    "name": "redis-memory-overallocated",
    "category": "cost",
    "severity": "low",
    "kinds": [f"{group}/{kind}" for group, kind in WORKLOAD_KINDS],
    "options": {"max_factor": 2.0, "images": REDIS_IMAGES, "env_flags": REDIS_ENV_FLAGS},
    "remediation": "Size the memory request to maxmemory plus headroom (about 1.33× to 2×), "
                   "or raise maxmemory if the dataset really needs the memory.",
    "references": [
        ("https://redis.io/docs/latest/operate/oss_and_stack/management/optimization/"
        "memory-optimization/"),
        "https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/",
    ],
}


def _factor(ctx: RuleContext) -> Decimal:
    value = ctx.options.get("max_factor")
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 1:
        return Decimal(str(value))
    return Decimal(2)


def check(manifest: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    factor = _factor(ctx)
    images = as_str_list(ctx.options.get("images")) or REDIS_IMAGES
    env_flags = as_str_list(ctx.options.get("env_flags"))
    for container in redis_containers(manifest, images):
        settings, _ = redis_settings(manifest, ctx.estate, container, "maxmemory", env_flags)
        readable: list[tuple[int, Setting]] = []
        for candidate in settings:
            value = redis_bytes(candidate.value)
            if value is not None and value > 0:
                readable.append((value, candidate))
        if not readable:
            continue
        maxmemory, setting = max(readable, key=lambda item: item[0])
        reserved = resource_amount(container, "requests", "memory")
        kind = "request"
        if reserved is None or reserved.value is None:
            reserved, kind = resource_amount(container, "limits", "memory"), "limit"
        if reserved is None or reserved.value is None:
            continue
        useful = Decimal(maxmemory) * factor
        if reserved.value > useful:
            ratio = reserved.value / Decimal(maxmemory)
            yield Violation(
                f"Redis {container_label(container)}: memory {kind} {reserved.shown} is "
                f"{fmt_ratio(ratio)}× its maxmemory {setting.value} ({setting.source}); "
                f"at most {fmt_ratio(factor)}× = {fmt_bytes(int(useful))} is useful",
                reserved.pointer,
                {"container": container.name, "maxmemory_bytes": maxmemory,
                 kind: reserved.shown, "max_factor": float(factor)})
