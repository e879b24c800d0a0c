"""Render what the deployer renders (Kustomize, Helm, Argo CD and Flux apps) into objects
that keep the file a person edits.

Renderers produce `Rendered` objects; the pipeline turns them into Manifests whose location
is the source file (the base's deployment.yaml, the chart's template), not the rendered
stream, and records how each was rendered (`RenderOrigin`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class RenderOrigin:
    """How an object came to be: the renderer, the entry point rendered, and the app that
    deploys it (an Argo CD Application or Flux object), when known."""

    renderer: str  # "kustomize", "helm"
    root: str  # the overlay directory or chart, relative to the scanned root
    app: str | None = None  # e.g. "Application argocd/erp-prod"
    destination_namespace: str | None = None

    def describe(self) -> str:
        via = f" (app {self.app})" if self.app else ""
        return f"{self.renderer} {self.root}{via}"


@dataclass(frozen=True, slots=True)
class Rendered:
    """One rendered object and where it comes from.

    `source` is the file (relative to the scanned root) the object's text comes from: the
    resource file of a Kustomize base, a chart template; `generated_by` names the generator
    or file that made it when there is no such file (a configMapGenerator in a
    kustomization.yaml)."""

    obj: Mapping[str, Any]
    source: str | None
    origin: RenderOrigin
    generated_by: str | None = None
    transformations: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class NotRendered:
    """Something that would be rendered by the deployer but cannot be here (a remote base, a
    chart from a registry, a missing optional tool), with why and what to do."""

    path: str
    reason: str
    line: int | None = None
