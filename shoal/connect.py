"""Opening the store for a command: one place that turns settings into a connected Store."""

from __future__ import annotations

from core.etcd_store import EtcdStore
from core.keys import Keys
from core.settings import Settings
from core.store import Store


def connect(settings: Settings) -> Store:
    """An EtcdStore that has answered a ping; Unavailable (one clear line) if it does not."""
    store = EtcdStore(settings.etcd.endpoints, timeout=settings.etcd.timeout)
    try:
        store.ping(timeout=settings.etcd.timeout)
    except BaseException:
        store.close()
        raise
    return store


def keys_for(settings: Settings) -> Keys:
    return Keys(settings.etcd.prefix)
