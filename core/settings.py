"""Typed settings, read from flags and SHOAL_* variables only at the entry points.

No module reads the environment itself: `shoal` builds these objects from its options (click
maps each flag to its SHOAL_* variable) and hands them down through constructors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

DEFAULT_ETCD = "http://127.0.0.1:2379"
DEFAULT_PREFIX = "/shoal"


def parse_endpoints(text: str) -> tuple[str, ...]:
    """`http://a:2379,http://b:2379` (or bare host:port) -> normalised URLs; ValueError if bad."""
    urls: list[str] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        if "://" not in item:
            item = "http://" + item
        parts = urlsplit(item)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{raw.strip()!r} is not an etcd endpoint (expected http://HOST:PORT)")
        try:
            port = parts.port or 2379
        except ValueError as exc:
            raise ValueError(f"{raw.strip()!r} has an invalid port") from exc
        host = parts.hostname
        if ":" in host:
            host = f"[{host}]"
        urls.append(f"{parts.scheme}://{host}:{port}")
    if not urls:
        raise ValueError("no etcd endpoint given")
    return tuple(urls)


@dataclass(frozen=True)
class EtcdSettings:
    endpoints: tuple[str, ...] = (DEFAULT_ETCD,)
    prefix: str = DEFAULT_PREFIX
    timeout: float = 5.0


@dataclass(frozen=True)
class LogSettings:
    level: str = "INFO"
    format: str = "text"  # "text" for people, "json" for machines


@dataclass(frozen=True)
class Settings:
    etcd: EtcdSettings = field(default_factory=EtcdSettings)
    log: LogSettings = field(default_factory=LogSettings)
