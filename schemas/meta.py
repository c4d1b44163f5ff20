"""ObjectMeta: the name, namespace, labels and system-set identity of an object."""

from __future__ import annotations

from pydantic import Field

from schemas.base import ManifestModel
from schemas.fields import Annotations, DnsLabel, Labels, NonNegativeInt, PositiveInt, Timestamp

__all__ = ["DEFAULT_NAMESPACE", "SYSTEM_META_FIELDS", "ObjectMeta"]

DEFAULT_NAMESPACE = "default"

SYSTEM_META_FIELDS = frozenset({"uid", "generation", "resourceVersion", "creationTimestamp"})
"""Fields that Shoal sets and a manifest need not (and `apply` ignores when comparing)."""


class ObjectMeta(ManifestModel):
    """Who an object is. People write ``name``, ``namespace``, ``labels`` and ``annotations``.

    ``uid``, ``generation`` (bumped on every spec change), ``resourceVersion`` (the etcd
    revision it was read at) and ``creationTimestamp`` are set by Shoal; a manifest may carry
    them (``get -o yaml`` output applied again), and they do not count as a change.
    """

    name: DnsLabel
    namespace: DnsLabel = DEFAULT_NAMESPACE
    labels: Labels = Field(default_factory=dict)
    annotations: Annotations = Field(default_factory=dict)
    uid: str | None = None
    generation: PositiveInt | None = None
    resourceVersion: NonNegativeInt | None = None
    creationTimestamp: Timestamp | None = None
