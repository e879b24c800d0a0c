"""Redis has a `maxmemory` below its container memory limit, with headroom.

Why it matters: without `maxmemory`, Redis grows until the kernel OOM-kills the container:
a cache loses everything at once and the application stampedes the database; a queue loses
the jobs it held (invoice runs, payment exports). With `maxmemory` equal to the limit the
result is the same, because `maxmemory` only counts the dataset: replication and client
output buffers, the AOF rewrite buffer, fragmentation and the copy-on-write pages of the
forked child that writes RDB snapshots all come on top. Redis must be sized on purpose —
overallocated or unbounded Redis memory is a common hidden cost on the platform.

What is checked: every Redis container of a workload — identified by its image name (the
last path component without tag: `redis`, `bitnami/redis`, `redis-cluster`,
`redis-stack-server`, `valkey`, `valkey-cluster`, `keydb`; option `images`) — has a
`maxmemory`, it is not 0 (no limit), and it is at most `(1 - headroom)` × the container's
memory limit (75% by default). `maxmemory` is looked up:

1. on the command line: `--maxmemory 2gb` in `command`/`args` (also inside a
   `sh -c "redis-server …"` script), or in env variables appended to the command line by
   common images (`REDIS_EXTRA_FLAGS`, `VALKEY_EXTRA_FLAGS` of bitnami, `REDIS_ARGS` of
   redis-stack; option `env_flags`). The command line overrides config files.
2. otherwise in the `*.conf` files of the ConfigMaps the pod mounts (in the container or in
   an init container that copies them), declared in the estate: a `maxmemory 2gb` line.
   When several files set it (bitnami's redis.conf and master.conf), each is checked.

Units are Redis's: `1gb` = 1024³ bytes but `1g` = 10⁹ bytes. When no maxmemory is found but
a mounted ConfigMap is not declared in the estate, nothing is reported (it may be there).
Without a memory limit only the presence of maxmemory is checked (RES001 reports the limit).

Options: `headroom` (default 0.25), `images`, `env_flags`.

Passing (limit 2Gi, maxmemory 1.5Gi = 75%):

    containers:
      - name: redis
        image: redis:7.2
        args: ["--maxmemory", "1536mb", "--maxmemory-policy", "allkeys-lru"]
        resources: {requests: {cpu: 100m, memory: 2Gi}, limits: {memory: 2Gi}}

Failing: the same without `--maxmemory` (no bound), or with `--maxmemory 2gb` (no headroom).
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
    as_str_list,
    container_label,
    fmt_bytes,
    memory_limit,
    redis_bytes,
    redis_containers,
    redis_settings,
)

METADATA = {
    "id": "RES005",
    "name": "redis-maxmemory-unbounded",
    "category": "resources",
    "severity": "high",
    "tier_severity": {"critical": "high", "standard": "medium", "nonprod": "low"},
    "kinds": [f"{group}/{kind}" for group, kind in WORKLOAD_KINDS],
    "options": {"headroom": 0.25, "images": REDIS_IMAGES, "env_flags": REDIS_ENV_FLAGS},
    "remediation": "Set maxmemory (redis.conf or --maxmemory) to at most 75% of the "
                   "container memory limit, and choose the maxmemory-policy for the role "
                   "(see RES006).",
    "references": [
        "https://redis.io/docs/latest/develop/reference/eviction/",
        "https://redis.io/docs/latest/operate/oss_and_stack/management/config/",
        ("https://redis.io/docs/latest/operate/oss_and_stack/management/optimization/"
        "memory-optimization/"),
    ],
}


def _headroom(ctx: RuleContext) -> Decimal:
    value = ctx.options.get("headroom")
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1:
        return Decimal(str(value))
    return Decimal("0.25")


def check(manifest: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    headroom = _headroom(ctx)
    images = as_str_list(ctx.options.get("images")) or REDIS_IMAGES
    env_flags = as_str_list(ctx.options.get("env_flags"))
    for container in redis_containers(manifest, images):
        who = f"Redis {container_label(container)}"
        settings, missing = redis_settings(manifest, ctx.estate, container, "maxmemory",
                                           env_flags)
        if not settings:
            if not missing:
                yield Violation(
                    f"{who} sets no maxmemory (command line or mounted config): it grows "
                    "until the container is OOM-killed", container.pointer,
                    {"container": container.name})
            continue
        limit = memory_limit(container)
        for setting in settings:
            value = redis_bytes(setting.value)
            if value is None:
                yield Violation(f"{who}: maxmemory {setting.value!r} ({setting.source}) is "
                                "not a Redis memory size", setting.pointer,
                                {"container": container.name})
                continue
            if value == 0:
                yield Violation(f"{who}: maxmemory 0 ({setting.source}) means no limit: it "
                                "grows until the container is OOM-killed", setting.pointer,
                                {"container": container.name})
                continue
            if limit is None or limit.value is None:
                continue
            allowed = limit.value * (1 - headroom)
            if value > allowed:
                share = Decimal(value) / limit.value * 100
                yield Violation(
                    f"{who}: maxmemory {setting.value} ({setting.source}) is "
                    f"{share:.0f}% of the memory limit {limit.shown}; keeping "
                    f"{headroom * 100:.0f}% headroom for replication and client buffers and "
                    f"fork copy-on-write, it must be at most {fmt_bytes(int(allowed))}",
                    setting.pointer if setting.from_command_line else limit.pointer,
                    {"container": container.name, "maxmemory_bytes": value,
                     "limit": limit.shown, "max_allowed_bytes": int(allowed),
                     "source": setting.source})
