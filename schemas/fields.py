"""Field types shared by the models: names, labels, ports, quantities, timestamps.

Each type checks its value with a message a person can act on (``'Web_1' is not a valid
name: …``) and carries the JSON Schema that says the same thing, so that the exported schema
and the models accept the same documents. The regular expressions below are written once and
used by both: they are anchored with ``^…$`` for JSON Schema (whose ``pattern`` searches), and
matched with ``fullmatch`` here (so a trailing newline is never accepted).

Integers accept whole numbers only (``8080`` and ``8080.0``, as JSON Schema's ``integer``
does) and reject strings and booleans, which pydantic's lax mode would otherwise convert.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from schemas.quantity import BYTES_PATTERN, CPU_PATTERN, MAX_BYTES, MAX_CPU, parse_bytes, parse_cpu

__all__ = [
    "DNS_LABEL_PATTERN",
    "DNS_SUBDOMAIN_PATTERN",
    "ENV_NAME_PATTERN",
    "LABEL_KEY_PATTERN",
    "LABEL_VALUE_PATTERN",
    "Annotations",
    "Bytes",
    "Cores",
    "DnsLabel",
    "DnsSubdomain",
    "EnvMap",
    "Image",
    "Labels",
    "NonNegativeInt",
    "Port",
    "PositiveInt",
    "Reason",
    "Timestamp",
]

_SUBDOMAIN = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*"
_LABEL_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"

DNS_LABEL_PATTERN = r"^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$"
"""RFC 1123 label: lowercase letters, digits and '-', alphanumeric at both ends, 1-63 chars."""

DNS_SUBDOMAIN_PATTERN = rf"^{_SUBDOMAIN}$"
"""RFC 1123 subdomain: labels joined by '.', at most 253 characters (checked apart)."""

LABEL_KEY_PATTERN = rf"^(?:(?=[^/]{{1,253}}/){_SUBDOMAIN}/)?{_LABEL_NAME}$"
"""A Kubernetes label key: an optional DNS subdomain prefix and '/', then a name of 1-63."""

LABEL_VALUE_PATTERN = rf"^(?:{_LABEL_NAME})?$"
"""A Kubernetes label value: empty, or 1-63 of [A-Za-z0-9._-], alphanumeric at both ends."""

ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
"""An environment variable name a shell can read: letters, digits, '_', not a digit first."""

REASON_PATTERN = r"^[A-Z][A-Za-z0-9]*$"
"""A TaskEvent reason: one CamelCase word, such as ``Scheduled`` or ``BackOff``."""

IMAGE_PATTERN = r"^\S+$"

_LABEL_RULE = (
    "at most 63 of letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
)


def _checker(pattern: str, what: str, rule: str, max_length: int) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if len(value) > max_length or compiled.fullmatch(value) is None:
            raise ValueError(f"{value!r} is not a valid {what}: {rule}")
        return value

    return AfterValidator(check)


def _string_schema(pattern: str, max_length: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "pattern": pattern}
    if max_length is not None:
        schema["maxLength"] = max_length
    return schema


_DNS_LABEL_SCHEMA = _string_schema(DNS_LABEL_PATTERN, 63)
_DNS_SUBDOMAIN_SCHEMA = _string_schema(DNS_SUBDOMAIN_PATTERN, 253)
_LABEL_KEY_SCHEMA = _string_schema(LABEL_KEY_PATTERN, 253 + 1 + 63)
_LABEL_VALUE_SCHEMA = _string_schema(LABEL_VALUE_PATTERN, 63)
_ENV_NAME_SCHEMA = _string_schema(ENV_NAME_PATTERN)

DnsLabel = Annotated[
    str,
    _checker(
        DNS_LABEL_PATTERN,
        "name",
        "use at most 63 lowercase letters, digits and '-', starting and ending with a letter "
        "or digit (a DNS-1123 label)",
        63,
    ),
    WithJsonSchema(_DNS_LABEL_SCHEMA),
]
"""A name or namespace: a DNS-1123 label such as ``web`` or ``batch-2``."""

DnsSubdomain = Annotated[
    str,
    _checker(
        DNS_SUBDOMAIN_PATTERN,
        "node name",
        "use lowercase letters, digits, '-' and '.', at most 253 (a DNS-1123 subdomain)",
        253,
    ),
    WithJsonSchema(_DNS_SUBDOMAIN_SCHEMA),
]
"""A node name: a DNS-1123 subdomain, so that host names such as ``node-1.lan`` fit."""

LabelKey = Annotated[
    str,
    _checker(
        LABEL_KEY_PATTERN,
        "label key",
        f"use an optional DNS prefix and '/', then {_LABEL_RULE}",
        253 + 1 + 63,
    ),
]
LabelValue = Annotated[str, _checker(LABEL_VALUE_PATTERN, "label value", _LABEL_RULE, 63)]

Labels = Annotated[
    dict[LabelKey, LabelValue],
    WithJsonSchema(
        {
            "type": "object",
            "propertyNames": _LABEL_KEY_SCHEMA,
            "additionalProperties": _LABEL_VALUE_SCHEMA,
        }
    ),
]
"""Labels (and node selectors): Kubernetes label keys mapped to label values."""

Annotations = Annotated[
    dict[LabelKey, str],
    WithJsonSchema(
        {
            "type": "object",
            "propertyNames": _LABEL_KEY_SCHEMA,
            "additionalProperties": {"type": "string"},
        }
    ),
]
"""Annotations: label keys mapped to any text."""

EnvName = Annotated[
    str,
    _checker(
        ENV_NAME_PATTERN,
        "environment variable name",
        "use letters, digits and '_', not starting with a digit",
        2**16,
    ),
]
EnvMap = Annotated[
    dict[EnvName, str],
    WithJsonSchema(
        {
            "type": "object",
            "propertyNames": _ENV_NAME_SCHEMA,
            "additionalProperties": {"type": "string"},
        }
    ),
]
"""Environment variables: names to string values (``PORT: "8080"``, quoted, as in Kubernetes)."""

Image = Annotated[
    str,
    _checker(IMAGE_PATTERN, "image", "it must not be empty or contain spaces", 4096),
    WithJsonSchema({"type": "string", "pattern": IMAGE_PATTERN, "maxLength": 4096}),
]
"""A container image reference such as ``shoal-busybox:latest``."""

Reason = Annotated[
    str,
    _checker(REASON_PATTERN, "reason", "use one CamelCase word, like BackOff", 128),
    WithJsonSchema(_string_schema(REASON_PATTERN, 128)),
]


def _whole_number(value: object) -> object:
    # Lax pydantic turns "80" and True into ints; JSON Schema's integer does neither.
    if isinstance(value, str | bool):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


_Int = BeforeValidator(_whole_number)
Port = Annotated[int, Field(ge=1, le=65535), _Int]
"""A TCP or UDP port number, 1-65535."""
PositiveInt = Annotated[int, Field(ge=1), _Int]
NonNegativeInt = Annotated[int, Field(ge=0), _Int]

Cores = Annotated[
    float,
    BeforeValidator(parse_cpu),
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "string", "pattern": CPU_PATTERN},
                {"type": "number", "minimum": 0, "maximum": MAX_CPU},
            ],
            "description": "CPU cores: a number (0.5) or millicores ('500m').",
        },
        mode="validation",
    ),
]
"""CPU in cores; accepts ``0.5``, ``"1.5"`` and ``"500m"`` and stores a float."""

Bytes = Annotated[
    int,
    BeforeValidator(parse_bytes),
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "string", "pattern": BYTES_PATTERN},
                {"type": "integer", "minimum": 0, "maximum": MAX_BYTES},
            ],
            "description": "Bytes: a number, or a quantity such as '64Mi', '1G' or '1.5Gi'.",
        },
        mode="validation",
    ),
]
"""Memory or disk in bytes; accepts ``67108864``, ``"64Mi"``, ``"1G"`` and stores an int."""


def _date_time(value: object) -> object:
    # Lax pydantic also reads numbers as Unix times; JSON Schema says a date-time string.
    if not isinstance(value, str | datetime):
        raise PydanticCustomError("datetime_type", "Input should be a valid datetime string")
    return value


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # no offset written: it is UTC, as in Kubernetes
    return value.astimezone(UTC)


Timestamp = Annotated[datetime, BeforeValidator(_date_time), AfterValidator(_utc)]
"""A point in time, always stored in UTC (``2024-05-01T12:00:00Z``)."""
