"""Reading and writing pydantic models through a Store: values are plain JSON, UTF-8.

    stored = get_model(store, keys.task("default", "web"), Task)   # Stored[Task] | None
    update_model(store, stored.key, new_task, stored.mod_revision)  # Conflict if it changed

or, for a component that handles one kind of object, `TypedStore(store, Task)` with the same
methods. A value that does not decode raises `BadValue` naming the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from core.errors import BadValue
from core.store import KeyValue, Store

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Stored(Generic[M]):
    """A model as read from the store, with the revision to make a conditional write against."""

    key: str
    model: M
    mod_revision: int
    lease: int = 0


def encode_model(model: BaseModel) -> bytes:
    """JSON as users see it (field aliases, e.g. camelCase), UTF-8."""
    return model.model_dump_json(by_alias=True).encode("utf-8")


def decode_model(key: str, value: bytes, model_type: type[M]) -> M:
    try:
        return model_type.model_validate_json(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "value"
        raise BadValue(
            key,
            f"not a valid {model_type.__name__} ({exc.error_count()} error(s); "
            f"{where}: {first['msg']})",
        ) from None


def stored_from_kv(kv: KeyValue, model_type: type[M]) -> Stored[M]:
    return Stored(kv.key, decode_model(kv.key, kv.value, model_type), kv.mod_revision, kv.lease)


def get_model(store: Store, key: str, model_type: type[M]) -> Stored[M] | None:
    kv = store.get(key)
    return stored_from_kv(kv, model_type) if kv is not None else None


def list_models(store: Store, prefix: str, model_type: type[M]) -> tuple[list[Stored[M]], int]:
    """Every model under `prefix`, and the revision of the listing."""
    listing = store.list(prefix)
    return [stored_from_kv(kv, model_type) for kv in listing.items], listing.revision


def create_model(store: Store, key: str, model: BaseModel, lease: int | None = None) -> int:
    return store.create(key, encode_model(model), lease)


def update_model(
    store: Store, key: str, model: BaseModel, expected_mod_revision: int, lease: int | None = None
) -> int:
    return store.update(key, encode_model(model), expected_mod_revision, lease)


def put_model(store: Store, key: str, model: BaseModel, lease: int | None = None) -> int:
    return store.put(key, encode_model(model), lease)


class TypedStore(Generic[M]):
    """A Store seen through one model type."""

    def __init__(self, store: Store, model_type: type[M]) -> None:
        self.store = store
        self.model_type = model_type

    def get(self, key: str) -> Stored[M] | None:
        return get_model(self.store, key, self.model_type)

    def list(self, prefix: str) -> tuple[Sequence[Stored[M]], int]:
        return list_models(self.store, prefix, self.model_type)

    def create(self, key: str, model: M, lease: int | None = None) -> int:
        return create_model(self.store, key, model, lease)

    def update(
        self, key: str, model: M, expected_mod_revision: int, lease: int | None = None
    ) -> int:
        return update_model(self.store, key, model, expected_mod_revision, lease)

    def put(self, key: str, model: M, lease: int | None = None) -> int:
        return put_model(self.store, key, model, lease)

    def delete(self, key: str, expected_mod_revision: int | None = None) -> bool:
        return self.store.delete(key, expected_mod_revision)
