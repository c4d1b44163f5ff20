"""Opening the store for a command: one place that turns settings into a connected Store,
and one wording for "etcd cannot be reached", wherever in a command that happens.
"""

from __future__ import annotations

import re

from core.errors import Unavailable
from core.etcd_store import EtcdStore, RetryPolicy
from core.keys import Keys
from core.settings import Settings
from core.store import Store

HINT = "is it running? (`shoal up` or `shoal etcd` starts one; --etcd or SHOAL_ETCD says where)"


def connect(settings: Settings) -> Store:
    """An EtcdStore that has answered a ping; Unavailable (one clear line) if it does not.

    Every call made through it gives up after `--timeout` seconds in all (retries included),
    so a command never hangs on an etcd that is gone.
    """
    timeout = settings.etcd.timeout
    store = EtcdStore(
        settings.etcd.endpoints,
        timeout=timeout,
        retry=RetryPolicy(deadline=timeout, maximum=0.5),
        time_retry=0.5,
    )
    try:
        store.ping(timeout=timeout)
    except BaseException:
        store.close()
        raise
    return store


def keys_for(settings: Settings) -> Keys:
    return Keys(settings.etcd.prefix)


def unreachable_message(exc: Unavailable) -> str:
    """`cannot reach etcd at http://…: connection refused (gave up after 3.0s); is it running?`"""
    where = ", ".join(exc.endpoints) or "its endpoints"
    reason = exc.reason
    if "onnection refused" in reason:
        cause = "connection refused"
    elif "eadline" in reason or "timed out" in reason.lower():
        cause = "no answer"
    elif "the store was closed" in reason:
        cause = "the connection was closed"
    else:
        cause = reason.rsplit(": ", 1)[-1].strip() or "unavailable"
    gave_up = re.search(r"gave up after \d+ attempt\(s\) in ([\d.]+)s", reason)
    after = f" (gave up after {gave_up.group(1)}s)" if gave_up else ""
    return f"cannot reach etcd at {where}: {cause}{after}; {HINT}"
