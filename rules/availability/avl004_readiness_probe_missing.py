"""Every container of a production workload declares a readiness probe.

Without a readiness probe a pod receives traffic as soon as its process starts: during a
rollout, requests for invoices and payments reach an Odoo worker that is still loading its
registry, and a wedged pod keeps receiving them. The brief asks ingress and critical services
to integrate "upstream health checks"; in Kubernetes that is the readiness probe, which
Services, Traefik and rolling updates all honour.

What is checked: every regular container (`containers`, not `initContainers` — native sidecars,
init containers with `restartPolicy: Always`, are left out too) of a Deployment or StatefulSet
in the tiers of option `tiers` (default critical and standard; nonprod is off) has a
`readinessProbe` with a handler (`httpGet`, `tcpSocket`, `exec` or `grpc`). Option
`ignore_containers` lists container names to skip (e.g. a log shipper that serves nothing);
prefer a `gitops-checker.io/ignore` annotation with a reason on the workload for one-offs.

Passing:

    containers:
      - name: odoo
        image: odoo:17.0
        readinessProbe: {httpGet: {path: /web/health, port: 8069}, periodSeconds: 10}

Failing:

    containers:
      - name: odoo
        image: odoo:17.0
        livenessProbe: {httpGet: {path: /web/health, port: 8069}}

— "container odoo has no readinessProbe: it receives traffic before it is ready and while it
is wedged" (a liveness probe restarts a wedged pod; it does not take it out of rotation).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from checker.k8s import containers
from checker.model import Manifest, Violation
from checker.pyrules import RuleContext

METADATA = {
    "id": "AVL004",
    "name": "readiness-probe-missing",
    "category": "availability",
    "severity": "medium",
    "kinds": ["apps/Deployment", "apps/StatefulSet"],
    "tier_severity": {"critical": "high", "standard": "medium", "nonprod": "info"},
    "options": {"tiers": ["critical", "standard"], "ignore_containers": []},
    "remediation": "Add a readinessProbe to every container that serves or does work "
                   "(httpGet on a health endpoint, tcpSocket on the port, or exec), with a "
                   "period and threshold that take a pod out of rotation within seconds.",
    "references": [
        ("https://kubernetes.io/docs/tasks/configure-pod-container/"
        "configure-liveness-readiness-startup-probes/"),
        "https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-probes",
    ],
}

_HANDLERS = ("httpGet", "tcpSocket", "exec", "grpc")


def check(manifest: Manifest, ctx: RuleContext) -> Iterator[Violation]:
    if ctx.tier(manifest) not in (ctx.options.get("tiers") or []):
        return
    ignored = {str(n) for n in ctx.options.get("ignore_containers") or []}
    for container in containers(manifest, init=False):
        if container.name in ignored:
            continue
        probe = container.spec.get("readinessProbe")
        if probe is None:
            yield Violation(
                f"container {container.name or '(unnamed)'} has no readinessProbe: it receives "
                "traffic before it is ready and while it is wedged", container.pointer)
        elif not isinstance(probe, Mapping) or not any(
                isinstance(probe.get(h), Mapping) for h in _HANDLERS):
            yield Violation(
                f"the readinessProbe of container {container.name or '(unnamed)'} has no "
                "handler (httpGet, tcpSocket, exec or grpc)", f"{container.pointer}/"
                "readinessProbe")
