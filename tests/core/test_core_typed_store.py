"""Models in and out of the store as plain JSON."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, ConfigDict, Field

from core.errors import BadValue, Conflict
from core.memory_store import MemoryStore
from core.typed_store import TypedStore, create_model, get_model, list_models, update_model


class Thing(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    name: str
    container_id: str | None = Field(default=None, alias="containerId")
    replicas: int = 1


def test_models_are_stored_as_plain_json_with_aliases() -> None:
    store = MemoryStore()
    rev = create_model(store, "/things/a", Thing(name="a", container_id="c1"))
    kv = store.get("/things/a")
    assert kv is not None
    assert json.loads(kv.value) == {"name": "a", "containerId": "c1", "replicas": 1}
    stored = get_model(store, "/things/a", Thing)
    assert stored is not None
    assert stored.model == Thing(name="a", container_id="c1")
    assert (stored.key, stored.mod_revision) == ("/things/a", rev)
    assert get_model(store, "/things/missing", Thing) is None


def test_update_is_conditional_on_the_revision_read() -> None:
    store = MemoryStore()
    create_model(store, "/things/a", Thing(name="a"))
    stored = get_model(store, "/things/a", Thing)
    assert stored is not None
    update_model(
        store, stored.key, stored.model.model_copy(update={"replicas": 2}), stored.mod_revision
    )
    with pytest.raises(Conflict):
        update_model(store, stored.key, Thing(name="stale"), stored.mod_revision)


def test_a_bad_value_names_its_key_and_field() -> None:
    store = MemoryStore()
    store.put("/things/bad", b'{"name": "x", "replicas": "many"}')
    with pytest.raises(BadValue, match=r"/things/bad: not a valid Thing .*replicas"):
        get_model(store, "/things/bad", Thing)
    store.put("/things/worse", b"not json")
    with pytest.raises(BadValue):
        get_model(store, "/things/worse", Thing)


def test_typed_store_lists_with_the_revision() -> None:
    things = TypedStore(MemoryStore(), Thing)
    for name in "ba":
        things.create(f"/things/{name}", Thing(name=name))
    items, revision = things.list("/things/")
    assert [i.model.name for i in items] == ["a", "b"]
    assert revision == things.store.current_revision()
    first = things.get("/things/a")
    assert first is not None
    things.update("/things/a", Thing(name="a", replicas=3), first.mod_revision)
    things.put("/things/c", Thing(name="c"))
    assert things.delete("/things/b") is True
    assert [i.model.replicas for i in list_models(things.store, "/things/", Thing)[0]] == [3, 1]
