"""Decoded models made smaller for the caches: one shared set of field names per distinct set.

Every pydantic model instance carries the set of the field names that were given when it was
made (`model_fields_set`). A set of more than four names takes 728 bytes, and a cached Task
holds four sets (Task, metadata, spec, resources): half of its memory, 190 MB at 100,000
tasks, and about as much again for their statuses, bindings and agents' reports. The sets of
equal models are equal, so the caches let them share one.

Sharing is safe because the models are frozen: nothing changes an instance's set in place.
`model_copy(update=...)` copies the set before adding to it, and pydantic's own
`model_construct(_fields_set=...)` takes a set to use as it is, as done here.
"""

from __future__ import annotations

from typing import get_args

from pydantic import BaseModel

__all__ = ["share_field_sets"]

_SHARED: dict[frozenset[str], set[str]] = {}
_MAX_SHARED = 4096
"""Distinct sets kept: models have a few dozen in practice; past this, new ones stay as made."""
_SHARED_IDS: set[int] = set()
"""The ids of the shared sets (kept for good, so an id stays theirs)."""

_NESTED: dict[type, tuple[str, ...]] = {}
"""Per model class, the fields whose type can hold a model (or a list of them)."""


def _holds_model(annotation: object) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_holds_model(arg) for arg in get_args(annotation))


def _nested(kind: type[BaseModel]) -> tuple[str, ...]:
    names = _NESTED.get(kind)
    if names is None:
        fields = kind.model_fields
        names = _NESTED[kind] = tuple(n for n, f in fields.items() if _holds_model(f.annotation))
    return names


def share_field_sets(model: BaseModel) -> None:
    """Give `model` and the models inside it (fields, lists of models) the shared sets."""
    fields_set = model.__pydantic_fields_set__
    if id(fields_set) in _SHARED_IDS:
        return  # shared already, and so is everything inside it (a task's spec in a binding)
    key = frozenset(fields_set)
    shared = _SHARED.get(key)
    if shared is None and len(_SHARED) < _MAX_SHARED:
        shared = _SHARED[key] = set(key)
        _SHARED_IDS.add(id(shared))
    if shared is not None:
        object.__setattr__(model, "__pydantic_fields_set__", shared)
    values = model.__dict__
    for name in _nested(type(model)):
        value = values.get(name)
        if isinstance(value, list):
            for item in value:
                if isinstance(item, BaseModel):
                    share_field_sets(item)
        elif value is not None and isinstance(value, BaseModel):
            share_field_sets(value)
