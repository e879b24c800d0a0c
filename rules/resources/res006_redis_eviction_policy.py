"""Redis's eviction policy fits its role: caches evict, queues and session stores never do.

Why it matters: when Redis reaches `maxmemory` it applies `maxmemory-policy`. A cache with
`noeviction` (the Redis default) starts refusing writes with OOM errors, so the application
fails instead of recomputing; it is also the classic sign of a cache sized by "give it more
memory" rather than by policy. A queue (Celery, RQ, Odoo job runners) or a session store
with an `allkeys-*`/`volatile-*` policy silently drops queued jobs or logs users out:
lost payment exports and half-run invoice batches with no error anywhere.

What is checked: for every Redis container (identified by image as in RES005; option
`images`), the effective `maxmemory-policy` — command line (`--maxmemory-policy`, also in
`REDIS_EXTRA_FLAGS`/`VALKEY_EXTRA_FLAGS`/`REDIS_ARGS`), else the `*.conf` files of mounted
ConfigMaps declared in the estate, else the Redis default `noeviction` — against the role:

- role `cache` (option `evicting_roles`) must use an `allkeys-*` or `volatile-*` policy
  (`volatile-*` only evicts keys with a TTL: make sure cache entries have one);
- roles `queue` and `session` (option `non_evicting_roles`) must use `noeviction`;
- an unknown policy or an unknown role value is a finding too (a typo must not pass).

The role is read from the label or annotation `gitops-checker.io/redis-role` (option
`role_key`) on the workload or its pod template. Without it, it is inferred from the words
of the workload's and the container's names (split on `-`, `_`, `.`): a word of
`queue_name_words` (queue, queues, celery, rq, jobs, job, broker, worker, sidekiq, bull) →
queue; of `session_name_words` (session, sessions) → session; a name containing
`queue`/`celery` anywhere (e.g. `jobqueue`) → queue; otherwise `default_role` (cache). The
message says when the role was inferred. When no policy is found but a mounted ConfigMap is
not in the estate, nothing is reported.

Passing:

    metadata: {name: odoo-cache, labels: {gitops-checker.io/redis-role: cache}}
    ...  args: ["--maxmemory", "1536mb", "--maxmemory-policy", "allkeys-lru"]

    metadata: {name: celery-broker}
    ...  args: ["--maxmemory", "1536mb"]        # noeviction by default: right for a queue

Failing: `celery-broker` with `--maxmemory-policy allkeys-lru` (queued jobs get evicted),
or `odoo-cache` without a policy (writes fail once full).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from checker.k8s import WORKLOAD_KINDS, Container, annotations_of, labels_of, pod_spec
from checker.model import Manifest, Violation
from checker.pyrules import RuleContext

from ._helpers import (
    REDIS_ENV_FLAGS,
    REDIS_IMAGES,
    as_map,
    as_str_list,
    container_label,
    redis_containers,
    redis_settings,
)

METADATA = {
    "id": "RES006",
    "name": "redis-eviction-policy-mismatch",
    "category": "resources",
    "severity": "high",
    "tier_severity": {"critical": "high", "standard": "medium", "nonprod": "low"},
    "kinds": [f"{group}/{kind}" for group, kind in WORKLOAD_KINDS],
    "options": {
        "role_key": "gitops-checker.io/redis-role",
        "evicting_roles": ["cache"],
        "non_evicting_roles": ["queue", "session"],
        "default_role": "cache",
        "queue_name_words": ["queue", "queues", "celery", "rq", "jobs", "job", "broker",
                             "worker", "sidekiq", "bull"],
        "session_name_words": ["session", "sessions"],
        "images": REDIS_IMAGES,
        "env_flags": REDIS_ENV_FLAGS,
    },
    "remediation": "Label the Redis workload with gitops-checker.io/redis-role "
                   "(cache|queue|session) and set maxmemory-policy accordingly: allkeys-lru "
                   "or allkeys-lfu for caches, noeviction for queues and session stores "
                   "(and size maxmemory so they never fill up).",
    "references": [
        "https://redis.io/docs/latest/develop/reference/eviction/",
        "https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/redis.html",
    ],
}

_POLICIES = {"noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru",
             "volatile-lfu", "volatile-random", "volatile-ttl"}


def _declared_role(manifest: Manifest, key: str) -> tuple[str, str] | None:
    """(role, where) from the label/annotation on the workload or its pod template."""
    found = pod_spec(manifest)
    template: Mapping[str, Any] = {}
    if found is not None and found[1] != "/spec":
        node: Any = manifest.obj
        for part in found[1].removesuffix("/spec").strip("/").split("/"):
            node = as_map(node).get(part)
        template = as_map(as_map(node).get("metadata"))
    sources = (("label", labels_of(manifest)), ("annotation", annotations_of(manifest)),
               ("pod label", as_map(template.get("labels"))),
               ("pod annotation", as_map(template.get("annotations"))))
    for where, values in sources:
        value = values.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip().lower(), f"{where} {key}"
    return None


def _inferred_role(names: list[str], ctx: RuleContext) -> str | None:
    queue_words = {w.lower() for w in as_str_list(ctx.options.get("queue_name_words"))}
    session_words = {w.lower() for w in as_str_list(ctx.options.get("session_name_words"))}
    for name in names:
        words = set(re.split(r"[-_.]+", name.lower()))
        if words & queue_words:
            return "queue"
        if words & session_words:
            return "session"
        if "queue" in name.lower() or "celery" in name.lower():
            return "queue"
    return None


def _role(manifest: Manifest, container: Container, ctx: RuleContext) -> tuple[str, str]:
    declared = _declared_role(manifest, str(ctx.options.get("role_key") or ""))
    if declared is not None:
        return declared
    names = [n for n in (manifest.resource.name, container.spec.get("name"))
             if isinstance(n, str)]
    inferred = _inferred_role(names, ctx)
    if inferred is not None:
        return inferred, "inferred from the name"
    default = str(ctx.options.get("default_role") or "cache")
    return default, f"assumed; set {ctx.options.get('role_key')} to say otherwise"


def check(manifest: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    images = as_str_list(ctx.options.get("images")) or REDIS_IMAGES
    env_flags = as_str_list(ctx.options.get("env_flags"))
    evicting = {r.lower() for r in as_str_list(ctx.options.get("evicting_roles"))}
    keeping = {r.lower() for r in as_str_list(ctx.options.get("non_evicting_roles"))}
    for container in redis_containers(manifest, images):
        who = f"Redis {container_label(container)}"
        role, how = _role(manifest, container, ctx)
        if role not in evicting and role not in keeping:
            yield Violation(
                f"{who}: unknown role {role!r} ({how}); expected one of "
                f"{', '.join(sorted(evicting | keeping))}", container.pointer,
                {"container": container.name, "role": role})
            continue
        settings, missing = redis_settings(manifest, ctx.estate, container,
                                           "maxmemory-policy", env_flags)
        if not settings:
            if missing:
                continue
            if role in evicting:
                yield Violation(
                    f"{who} is a {role} ({how}) without maxmemory-policy: the default "
                    "noeviction refuses writes once maxmemory is reached; use allkeys-lru or "
                    "allkeys-lfu", container.pointer,
                    {"container": container.name, "role": role, "policy": "noeviction"})
            continue
        for setting in settings:
            policy = setting.value.strip().lower()
            details = {"container": container.name, "role": role, "policy": policy,
                       "source": setting.source}
            if policy not in _POLICIES and not policy.startswith(("allkeys-", "volatile-")):
                yield Violation(f"{who}: maxmemory-policy {setting.value!r} "
                                f"({setting.source}) is not a Redis eviction policy",
                                setting.pointer, details)
            elif role in evicting and policy == "noeviction":
                yield Violation(
                    f"{who} is a {role} ({how}) with maxmemory-policy noeviction "
                    f"({setting.source}): it refuses writes once full; use allkeys-lru or "
                    "allkeys-lfu", setting.pointer, details)
            elif role in keeping and policy != "noeviction":
                yield Violation(
                    f"{who} is a {role} store ({how}) with maxmemory-policy {policy} "
                    f"({setting.source}): it silently evicts {role} data; use noeviction",
                    setting.pointer, details)
