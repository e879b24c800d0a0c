"""Odoo's worker model fits its container: workers × limit_memory_hard stays under the
memory limit.

Why it matters: in multi-processing mode Odoo protects itself with per-worker limits — a
worker above `limit_memory_soft` is recycled after its request, one above
`limit_memory_hard` is killed at once — so a heavy report costs one request, not the
server. That protection only works if the container's memory limit leaves room for every
worker to reach its hard limit. If `workers × limit_memory_hard` is larger than the limit,
the kernel's cgroup OOM killer strikes first and picks its own victim — often the main
process — and the whole pod restarts mid-month-end with every user's request. The reverse
(a limit far above what the workers may use) is paid for and never used.

What is checked: every Odoo container (the last path component of the image starts with
`odoo`: `odoo:17.0`, `bitnami/odoo`, `registry/erp/odoo-enterprise`; option `images`, shell
patterns) with a memory limit and `workers` > 0:

    (workers + max_cron_threads) × limit_memory_hard + overhead  ≤  memory limit

Settings come from the command line (`--workers=4`, `--limit-memory-hard 2147483648`,
`--max-cron-threads 1`, also inside a `sh -c` script), which overrides the `[options]`
section of the `*.conf` files of mounted ConfigMaps declared in the estate (odoo.conf).
Odoo's defaults apply where unset: workers 0, max_cron_threads 2 (cron workers are separate
processes in multi-processing mode, each under the same limits), limit_memory_hard
2684354560 (2.5 GiB). `limit_memory_hard = 0` disables the per-worker limit: a finding when
workers > 0. In threaded mode (workers 0) there is no per-worker limit to add up and nothing
is checked. Containers running `--stop-after-init` (install/upgrade Jobs) are skipped. When a
mounted ConfigMap is not in the estate and no setting is on the command line, nothing is
checked (the file may set them).

Options:
- `overhead` (default `512Mi`): memory for the main (supervisor) process and the gevent
  (longpolling) process on top of the workers; a quantity or bytes.
- `count_cron_workers` (default true): include max_cron_threads in the count.
- `images`.

Passing: limit 8Gi, `workers = 2`, `max_cron_threads = 1`, `limit_memory_hard = 2147483648`:
3 × 2Gi + 512Mi = 6.5Gi ≤ 8Gi.

Failing: limit 4Gi, `workers = 4` and the default hard limit:
(4 + 2) × 2.5Gi + 512Mi = 15.5Gi > 4Gi.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from checker.k8s import WORKLOAD_KINDS, Container, containers, integer, memory_setting
from checker.model import Manifest, Violation
from checker.pyrules import RuleContext

from ._helpers import (
    ODOO_IMAGES,
    Setting,
    as_str_list,
    command_tokens,
    container_label,
    flag_values,
    fmt_bytes,
    has_token,
    image_matches,
    memory_limit,
    mounted_configs,
    odoo_options,
)

METADATA = {
    "id": "RES007",
    "name": "odoo-workers-exceed-memory-limit",
    "category": "resources",
    "severity": "high",
    "tier_severity": {"critical": "high", "standard": "medium", "nonprod": "low"},
    "kinds": [f"{group}/{kind}" for group, kind in WORKLOAD_KINDS],
    "options": {"overhead": "512Mi", "count_cron_workers": True, "images": ODOO_IMAGES},
    "remediation": "Lower workers or limit_memory_hard, or raise the container memory limit, "
                   "so that (workers + max_cron_threads) × limit_memory_hard plus the main "
                   "process fits; keep limit_memory_soft below limit_memory_hard.",
    "references": [
        "https://www.odoo.com/documentation/17.0/administration/on_premise/deploy.html",
        "https://www.odoo.com/documentation/17.0/developer/reference/cli.html",
    ],
}

DEFAULTS = {"workers": "0", "max_cron_threads": "2", "limit_memory_hard": "2684354560"}
_FLAGS = {"workers": "workers", "max_cron_threads": "max-cron-threads",
          "limit_memory_hard": "limit-memory-hard"}


def _settings(manifest: Manifest, ctx: RuleContext, container: Container
              ) -> dict[str, Setting] | None:
    """The three settings (command line over config files over defaults); None when a
    mounted ConfigMap is missing from the estate and the command line does not set all."""
    tokens = command_tokens(container)
    found: dict[str, Setting] = {}
    for key, flag in _FLAGS.items():
        values = flag_values(tokens, flag)
        if values:
            found[key] = Setting(values[-1][0], values[-1][1], "the command line", True)
    if len(found) < len(_FLAGS):
        mounted = mounted_configs(manifest, ctx.estate, container,
                                  ("*.conf", "*.cfg", ".odoorc", "*.ini"))
        if mounted.missing:
            return None
        for config in mounted.files:
            options = odoo_options(config.text)
            for key in _FLAGS:
                if options and key in options and key not in found:
                    found[key] = Setting(options[key], container.pointer, config.describe(),
                                         False)
    for key, value in DEFAULTS.items():
        found.setdefault(key, Setting(value, container.pointer, "Odoo's default", False))
    return found


def _overhead(ctx: RuleContext) -> int:
    value = memory_setting(ctx.options.get("overhead"))
    return value if value is not None and value >= 0 else 512 * 2 ** 20


def check(manifest: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    images = as_str_list(ctx.options.get("images")) or ODOO_IMAGES
    for container in containers(manifest, init=False):
        if not image_matches(container.spec.get("image"), images):
            continue
        tokens = command_tokens(container)
        if has_token(tokens, "--stop-after-init"):
            continue
        limit = memory_limit(container)
        if limit is None or limit.value is None:
            continue
        settings = _settings(manifest, ctx, container)
        if settings is None:
            continue
        workers = integer(settings["workers"].value)
        crons = integer(settings["max_cron_threads"].value)
        hard = memory_setting(settings["limit_memory_hard"].value.strip())
        who = f"Odoo {container_label(container)}"
        if workers is None or workers <= 0 or crons is None or hard is None:
            continue  # threaded mode, or a value Odoo itself would refuse
        if hard == 0:
            source = settings["limit_memory_hard"]
            yield Violation(
                f"{who}: limit_memory_hard 0 ({source.source}) disables the per-worker limit "
                f"of its {workers} workers; the container is OOM-killed instead",
                source.pointer, {"container": container.name, "workers": workers})
            continue
        processes = workers + (max(crons, 0) if ctx.options.get("count_cron_workers", True)
                               else 0)
        overhead = _overhead(ctx)
        needed = processes * hard + overhead
        if needed <= limit.value:
            continue
        cron_part = f" + {crons} cron" if processes != workers else ""
        sources = sorted({s.source for s in settings.values()})
        yield Violation(
            f"{who}: ({workers} workers{cron_part}) × limit_memory_hard {fmt_bytes(hard)} + "
            f"{fmt_bytes(overhead)} for the main process = {fmt_bytes(needed)}, above the "
            f"memory limit {limit.shown}", limit.pointer,
            {"container": container.name, "workers": workers, "cron_workers": crons,
             "limit_memory_hard": hard, "needed_bytes": needed,
             "limit_bytes": int(Decimal(limit.value)), "sources": sources})
