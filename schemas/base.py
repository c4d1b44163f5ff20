"""The two kinds of model, and why their field names are camelCase.

Field names are the JSON names (``containerPort``, ``restartPolicy``), not snake_case with
aliases: the JSON in etcd, in manifests and in ``get -o json`` is the API, and with one spelling
there is no ``model_dump()`` that forgets ``by_alias=True`` and writes ``container_port`` into
etcd. ``model_dump_json()`` and ``model_dump_json(by_alias=True)`` give the same JSON.

* :class:`ManifestModel`: what people write (a Task and everything in it). Unknown fields are
  errors, because a typo such as ``resourcez`` must not be dropped in silence.
* :class:`RecordModel`: what only Shoal writes (status, node info, metrics, task reports,
  events). Unknown fields are ignored, so a newer agent that adds a field does not break an older
  controller reading its JSON (a tolerant reader, as Kubernetes clients are).

Both are frozen: objects are shared between an informer cache and the code that reads it, so
changes are made with ``model_copy(update=...)`` and never in place.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["ManifestModel", "RecordModel"]


class ManifestModel(BaseModel):
    """Base of models that people write: unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class RecordModel(BaseModel):
    """Base of models that only Shoal writes: unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True, use_attribute_docstrings=True)
