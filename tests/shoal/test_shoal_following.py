"""The Follower behind `get -w` and `events -w`, on MemoryStore: a listing first, then one
call per change, in order, even for changes etcd hands over in one batch."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from core.keys import Keys
from core.memory_store import MemoryStore
from core.store import EventType, Listing, WatchEvent
from core.testing import wait_until
from shoal.following import Cache, Cached, Follower


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, bytes | None]] = []

    def initial(self, idents: Sequence[str], cache: Cache) -> None:
        self.calls += [("initial", i, None) for i in idents]

    def changed(self, ident: str, cache: Cache) -> None:
        value = cache.get(f"/shoal/tasks/{ident}")
        self.calls.append(("changed", ident, value.value if value else None))

    def notice(self, text: str) -> None:
        self.calls.append(("notice", text, None))


def _ident(key: str) -> str | None:
    ref = Keys().parse_task(key)
    return f"{ref.namespace}/{ref.name}" if ref else None


def test_a_batch_of_events_makes_one_call_each() -> None:
    follower = Follower(MemoryStore(), ["/shoal/tasks/"], _ident)
    sink = Recorder()
    batch = [
        WatchEvent(EventType.PUT, "/shoal/tasks/default/web", str(i).encode(), 3 + i)
        for i in range(4)
    ] + [WatchEvent(EventType.DELETE, "/shoal/tasks/default/web", b"", 7)]
    follower._handle(sink, "events", "/shoal/tasks/", batch)
    assert sink.calls == [
        ("changed", "default/web", b"0"),
        ("changed", "default/web", b"1"),
        ("changed", "default/web", b"2"),
        ("changed", "default/web", b"3"),
        ("changed", "default/web", None),
    ]


def test_a_relist_reports_each_object_that_changed_once() -> None:
    follower = Follower(MemoryStore(), ["/shoal/tasks/"], _ident)
    sink = Recorder()
    follower._handle(
        sink,
        "events",
        "/shoal/tasks/",
        [
            WatchEvent(EventType.PUT, "/shoal/tasks/default/a", b"a1", 2),
            WatchEvent(EventType.PUT, "/shoal/tasks/default/b", b"b1", 3),
        ],
    )
    sink.calls.clear()
    store = MemoryStore()
    store.put("/shoal/tasks/default/a", b"a1")
    store.put("/shoal/tasks/default/c", b"c1")
    listing: Listing = store.list("/shoal/tasks/")
    # a is unchanged (same value and revision), b is gone, c is new
    follower.cache["/shoal/tasks/default/a"] = Cached(
        b"a1", listing.by_key()["/shoal/tasks/default/a"].mod_revision
    )
    follower._handle(sink, "relist", "/shoal/tasks/", listing)
    assert sink.calls == [("changed", "default/b", None), ("changed", "default/c", b"c1")]


def test_follow_lists_then_watches_until_stopped() -> None:
    store = MemoryStore()
    store.put("/shoal/tasks/default/a", b"1")
    sink = Recorder()
    follower = Follower(store, ["/shoal/tasks/"], _ident, ping_interval=0.05)
    stop = threading.Event()
    runner = threading.Thread(target=follower.run, args=(sink, stop))
    runner.start()
    try:
        wait_until(lambda: ("initial", "default/a", None) in sink.calls, what="the listing")
        store.put("/shoal/tasks/default/a", b"2")
        store.put("/shoal/tasks/default/a", b"3")
        store.delete("/shoal/tasks/default/a")
        wait_until(lambda: len(sink.calls) == 4, what=f"three changes: {sink.calls}")
    finally:
        stop.set()
        runner.join(5)
    assert sink.calls[1:] == [
        ("changed", "default/a", b"2"),
        ("changed", "default/a", b"3"),
        ("changed", "default/a", None),
    ]
    assert not runner.is_alive()
