"""Small text forms for people: ages, byte sizes, cores, ports, labels.

Pure functions, used by the tables, `describe` and `top`. JSON and YAML output never goes
through here: machines get the raw values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from schemas.spec import PortSpec
from schemas.task import PortBinding

NONE = "<none>"
_UNITS = ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei")


def age(since: datetime | None, now: datetime) -> str:
    """How long ago, as kubectl writes it: `45s`, `3m12s`, `25m`, `5h3m`, `20h`, `3d4h`, `12d`."""
    if since is None:
        return NONE
    seconds = max(0, int((now - since).total_seconds()))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    return f"{days}d"


def when(moment: datetime | None, now: datetime) -> str:
    """`2026-01-01T12:00:00Z (5m ago)`, for describe."""
    if moment is None:
        return NONE
    return f"{moment.strftime('%Y-%m-%dT%H:%M:%SZ')} ({age(moment, now)} ago)"


def size(amount: int) -> str:
    """Bytes in binary units, as manifests write them: `512`, `64Mi`, `1.5Gi`."""
    if amount < 1024:
        return str(amount)
    value = float(amount)
    index = -1
    while value >= 1024 and index < len(_UNITS) - 1:
        value /= 1024
        index += 1
    text = f"{value:.1f}".removesuffix(".0")
    return f"{text}{_UNITS[index]}"


def cores(amount: float) -> str:
    """CPU cores: `2`, `0.5`, `0.25`, `0.125`."""
    return f"{amount:.3f}".rstrip("0").rstrip(".") or "0"


def percent(part: float, whole: float) -> str:
    if whole <= 0:
        return "-"
    return f"{100 * part / whole:.0f}%"


def labels(values: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(values.items())) or NONE


def spec_ports(ports: Sequence[PortSpec]) -> str:
    """Requested ports: `18080->8080/tcp,9000/udp`."""
    parts = []
    for port in ports:
        inner = f"{port.containerPort}/{port.protocol}"
        if port.hostPort is not None:
            host = f"{port.hostIP}:" if port.hostIP else ""
            inner = f"{host}{port.hostPort}->{inner}"
        parts.append(inner)
    return ",".join(parts) or NONE


def bound_ports(ports: Sequence[PortBinding]) -> str:
    """Ports as the engine published them: `127.0.0.1:18080->8080/tcp`."""
    parts = []
    for port in ports:
        host = f"{port.hostIP}:" if port.hostIP else ""
        parts.append(f"{host}{port.hostPort}->{port.containerPort}/{port.protocol}")
    return ",".join(parts) or NONE


def command_line(words: Sequence[str] | None) -> str:
    if words is None:
        return "<image default>"
    return " ".join(_quote(w) for w in words) or '""'


def _quote(word: str) -> str:
    if word and all(c.isalnum() or c in "-_./:=@%+," for c in word):
        return word
    return "'" + word.replace("'", "'\\''") + "'"


def truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"
