"""The cache under the informers: listings and events, and the controller's own writes
assumed ahead of their commit without ever going back to an older value."""

from __future__ import annotations

from controller.cache import Cache
from core.store import KeyValue
from schemas.node import NodeStatus

T0 = "2026-01-01T00:00:00Z"


def status(reason: str) -> bytes:
    return NodeStatus(ready=True, since=T0, reason=reason).model_dump_json().encode()


def value(cache: Cache[str, NodeStatus], key: str) -> str | None:
    got = cache.get(key)
    return got.reason if got is not None else None


def fresh() -> Cache[str, NodeStatus]:
    return Cache(NodeStatus)


def test_a_listing_then_events_keep_the_cache_equal_to_the_store() -> None:
    cache = fresh()
    changes = cache.replace([("a", 5, status("A")), ("b", 6, status("B"))], revision=6)
    assert {(c.key, c.new.reason if c.new else None) for c in changes} == {("a", "A"), ("b", "B")}
    change = cache.apply("a", 7, status("A2"))
    assert change is not None and change.foreign and change.old is not None
    assert cache.apply("b", 8, None) is not None
    assert (value(cache, "a"), value(cache, "b"), len(cache)) == ("A2", None, 1)
    # A re-listing replaces everything: what is gone is gone.
    changes = cache.replace([("c", 9, status("C"))], revision=9)
    assert {c.key for c in changes} == {"a", "c"}
    assert sorted(cache.keys()) == ["c"]


def test_an_assumed_write_is_seen_at_once_and_its_echo_is_ignored() -> None:
    cache = fresh()
    cache.replace([("a", 5, status("A"))], revision=5)
    change = cache.assume("a", NodeStatus(ready=True, since=T0, reason="Mine"))
    assert change is not None and not change.foreign
    assert value(cache, "a") == "Mine"
    assert cache.apply("a", 7, status("Mine")) is None  # the echo, before the commit is known
    assert cache.committed("a", 7) is None
    assert cache.apply("a", 7, status("Mine")) is None  # the echo, after it
    assert value(cache, "a") == "Mine" and cache.pending() == 0


def test_a_foreign_change_during_an_assumed_write_is_applied_once_that_is_committed() -> None:
    cache = fresh()
    cache.assume("a", NodeStatus(ready=True, since=T0, reason="Mine"))
    assert cache.apply("a", 7, status("Mine")) is None
    assert cache.apply("a", 8, status("Theirs")) is None  # held: our write is not known yet
    assert value(cache, "a") == "Mine"
    change = cache.committed("a", 7)
    assert change is not None and change.foreign
    assert value(cache, "a") == "Theirs"


def test_an_older_event_never_overwrites_a_committed_write() -> None:
    cache = fresh()
    cache.replace([("a", 5, status("A"))], revision=5)
    cache.assume("a", NodeStatus(ready=True, since=T0, reason="Mine"))
    cache.committed("a", 9)
    assert cache.apply("a", 6, status("Stale")) is None
    assert value(cache, "a") == "Mine"
    # A listing older than our write leaves it too.
    cache.replace([("a", 6, status("Stale"))], revision=8)
    assert value(cache, "a") == "Mine"


def test_an_assumed_delete_is_remembered_until_the_watch_has_gone_past_it() -> None:
    cache = fresh()
    cache.replace([("a", 5, status("A"))], revision=5)
    cache.assume("a", None)
    assert not cache.has("a")
    cache.committed("a", 10)
    assert cache.apply("a", 6, status("A-old")) is None  # an older put stays dead
    assert not cache.has("a")
    cache.apply("x", 11, status("X"))
    cache.end_batch()
    assert cache.apply("a", 12, status("A-new")) is not None  # a newer one brings it back
    assert value(cache, "a") == "A-new"


def test_two_assumed_writes_of_one_key_wait_for_both_commits() -> None:
    cache = fresh()
    cache.assume("a", NodeStatus(ready=True, since=T0, reason="One"))
    cache.assume("a", NodeStatus(ready=True, since=T0, reason="Two"))
    cache.apply("a", 20, status("Theirs"))
    assert cache.committed("a", 10) is None  # one still pending: keep holding
    assert value(cache, "a") == "Two"
    change = cache.committed("a", 11)
    assert change is not None and value(cache, "a") == "Theirs"


def test_a_value_that_does_not_decode_is_ignored() -> None:
    cache = fresh()
    changes = cache.replace([("a", 1, b"{not json"), ("b", 1, status("B"))], revision=1)
    assert [c.key for c in changes] == ["b"]
    assert not cache.has("a")


def test_listing_tuples_come_from_key_values() -> None:
    kv = KeyValue("/k", status("A"), 3, 4, 1)
    cache = fresh()
    cache.replace([("k", kv.mod_revision, kv.value)], kv.mod_revision)
    assert value(cache, "k") == "A"
