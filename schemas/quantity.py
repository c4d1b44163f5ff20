"""Quantities as Kubernetes writes them: CPU in cores, memory and disk in bytes.

CPU is a number of cores, or millicores with the suffix ``m``: ``2``, ``0.5``, ``"1.5"``,
``"500m"`` (all floats in the end: ``500m`` is ``0.5``).

Memory and disk are a number of bytes with an optional suffix, decimal (``k``, ``M``, ``G``,
``T``, ``P``, ``E``: powers of 1000) or binary (``Ki``, ``Mi``, ``Gi``, ``Ti``, ``Pi``, ``Ei``:
powers of 1024), or a decimal exponent (``1e3``, ``5E6``). ``1.5Gi`` is allowed because it is a
whole number of bytes; ``0.5`` is not. The result is an int.

Everything that is not a quantity raises ``ValueError`` with a message that quotes the input
and says what is wrong, e.g. ``'64Qi' is not a quantity: unknown suffix 'Qi' …``.
The arithmetic is exact (``fractions.Fraction``), so no float rounding decides whether a value
is a whole number of bytes.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

__all__ = [
    "BYTE_SUFFIXES",
    "CPU_PATTERN",
    "MAX_BYTES",
    "MAX_CPU",
    "format_bytes",
    "format_cpu",
    "parse_bytes",
    "parse_cpu",
]

DECIMAL_SUFFIXES: dict[str, int] = {
    "k": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "T": 1000**4,
    "P": 1000**5,
    "E": 1000**6,
}
BINARY_SUFFIXES: dict[str, int] = {
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
    "Pi": 1024**5,
    "Ei": 1024**6,
}
BYTE_SUFFIXES: dict[str, int] = {**DECIMAL_SUFFIXES, **BINARY_SUFFIXES}

MAX_BYTES = 2**63 - 1
"""The largest byte count accepted: what a signed 64-bit integer holds (Docker, Go, etcd)."""

MAX_CPU = 1_000_000.0
"""The largest CPU count accepted, in cores: far beyond any machine, below float trouble."""

_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
CPU_PATTERN = rf"^{_NUMBER}m?$"
"""The syntax of a CPU string (JSON Schema ``pattern``; anchored, ECMA and Python compatible)."""

BYTES_PATTERN = rf"^{_NUMBER}(?:[kMGTPE]|[KMGTPE]i|[eE][+-]?[0-9]+)?$"
"""The syntax of a memory or disk string (JSON Schema ``pattern``)."""

_CPU_RE = re.compile(rf"(?P<number>{_NUMBER})(?P<milli>m?)")
_BYTES_RE = re.compile(rf"(?P<number>{_NUMBER})(?P<suffix>[A-Za-z]*)(?P<exponent>[+-]?[0-9]*)")
_EXPONENT_RE = re.compile(r"[eE]([+-]?[0-9]+)")
_WHOLE_BYTES_RE = re.compile(r"([0-9]{1,18})((?:[KMGTPE]i|[kMGTPE])?)")
"""What manifests mostly say (``64Mi``, ``512``): a whole number and a suffix, no Fraction."""
_MAX_TEXT = 64  # longer strings are not quantities a person writes; also bounds the work done
_MAX_EXPONENT = 30  # 1e30 is already far beyond MAX_BYTES


def _reject(value: object, why: str) -> ValueError:
    return ValueError(f"{value!r} is not a quantity: {why}")


def _check_type(value: object) -> None:
    # bool is an int subclass; `memory: yes` is a mistake, not one byte.
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _reject(value, f"expected a number or a string, got {type(value).__name__}")


def _negative_or_malformed(text: str) -> ValueError:
    if text == "":
        return _reject(text, "it is empty")
    if text.startswith("-"):
        return _reject(text, "it must not be negative")
    if text != text.strip():
        return _reject(text, "it has spaces around it")
    return _reject(text, "expected a number with an optional suffix, like 64Mi or 1.5G")


def _plain_number(value: object) -> int | float:
    """A number as YAML or JSON gave it (not a string): finite and not negative."""
    assert isinstance(value, (int, float))
    if isinstance(value, float) and not math.isfinite(value):
        raise _reject(value, "it is not a finite number")
    if value < 0:
        raise _reject(value, "it must not be negative")
    return value


def parse_cpu(value: object) -> float:
    """Cores as a float from ``2``, ``0.5``, ``"1.5"`` or ``"500m"``; ValueError otherwise."""
    _check_type(value)
    if isinstance(value, str):
        if len(value) > _MAX_TEXT:
            raise _reject(value[:_MAX_TEXT] + "…", "it is too long")
        match = _CPU_RE.fullmatch(value)
        if match is None:
            raise _negative_or_malformed(value)
        cores = float(Fraction(match["number"]) / (1000 if match["milli"] else 1))
    else:
        cores = float(_plain_number(value))
    if cores > MAX_CPU:
        raise _reject(value, f"more than {MAX_CPU:g} cores is not a real machine")
    return cores


def _byte_fraction(text: str) -> Fraction:
    match = _BYTES_RE.fullmatch(text)
    if match is None:
        raise _negative_or_malformed(text)
    number = Fraction(match["number"])
    unit = match["suffix"] + match["exponent"]
    if unit == "":
        return number
    if unit in BYTE_SUFFIXES:
        return number * BYTE_SUFFIXES[unit]
    exponent = _EXPONENT_RE.fullmatch(unit)
    if exponent is not None:
        power = int(exponent[1])
        if power > _MAX_EXPONENT:
            raise _reject(text, f"it is larger than {MAX_BYTES} bytes")
        return number * Fraction(10) ** power
    suffixes = ", ".join(BYTE_SUFFIXES)
    raise _reject(text, f"unknown suffix {unit!r} (use one of {suffixes})")


def parse_bytes(value: object) -> int:
    """Bytes as an int from ``512``, ``"64Mi"``, ``"1G"``, ``"1.5Gi"``, ``"1e3"``.

    Raises ValueError for negatives, unknown suffixes, fractions of a byte, non-finite numbers
    and values above :data:`MAX_BYTES`.
    """
    if type(value) is int and 0 <= value <= MAX_BYTES:
        return value  # the common case (what Shoal itself stores): no Fraction needed
    _check_type(value)
    if isinstance(value, str):
        whole = _WHOLE_BYTES_RE.fullmatch(value)
        if whole is not None:
            suffix = whole[2]
            n = int(whole[1]) * (BYTE_SUFFIXES[suffix] if suffix else 1)
            if n <= MAX_BYTES:
                return n
        if len(value) > _MAX_TEXT:
            raise _reject(value[:_MAX_TEXT] + "…", "it is too long")
        amount = _byte_fraction(value)
    else:
        amount = Fraction(_plain_number(value))
    if amount.denominator != 1:
        raise _reject(value, "it is not a whole number of bytes")
    if amount > MAX_BYTES:
        raise _reject(value, f"it is larger than {MAX_BYTES} bytes")
    return int(amount)


def format_cpu(cores: float) -> str:
    """A short string for a table: ``2``, ``500m``, ``0.0005`` (below a millicore)."""
    if cores == int(cores):
        return str(int(cores))
    millis = cores * 1000
    if abs(millis - round(millis)) < 1e-9:
        return f"{round(millis)}m"
    return f"{cores:g}"


def _exact(n: int, suffixes: dict[str, int]) -> str | None:
    for suffix, size in reversed(suffixes.items()):
        if n % size == 0:
            return f"{n // size}{suffix}"
    return None


def format_bytes(n: int) -> str:
    """A short string for a table: ``67108864`` -> ``64Mi``, ``1000000000`` -> ``1G``.

    Exact when a suffix divides the value and the result is short (then
    ``parse_bytes(format_bytes(n)) == n``); otherwise rounded to three significant digits in
    binary units (``1234567`` -> ``1.18Mi``). Values below 1024 are printed as they are.
    """
    if n < 0:
        raise ValueError(f"{n} is negative: byte counts are never negative")
    if n < 1024:
        return str(n)
    exact = [s for s in (_exact(n, BINARY_SUFFIXES), _exact(n, DECIMAL_SUFFIXES)) if s]
    if exact:
        best = min(exact, key=len)  # binary first, so it wins a tie
        if len(best) <= 7:
            return best
    units = list(BINARY_SUFFIXES.items())
    for index in range(len(units) - 1, -1, -1):
        suffix, size = units[index]
        if n >= size:
            text = f"{n / size:.3g}"
            if ("e" in text or float(text) >= 1024) and index + 1 < len(units):
                # 1023.97Ki reads better as 1Mi (the value is rounded anyway)
                suffix, size = units[index + 1]
                text = f"{n / size:.3g}"
            if "e" in text:  # only past MAX_BYTES, in Ei
                text = f"{n / size:.0f}"
            return f"{text}{suffix}"
    raise AssertionError("unreachable: n >= 1024 has a binary unit")  # pragma: no cover
