"""Label selectors, as `kubectl -l` takes them: `app=web,tier!=db,canary,!legacy`.

Equality-based requirements only (`k=v`, `k==v`, `k!=v`, `k` exists, `!k` absent), joined by
commas and all required. Set-based forms (`in`, `notin`) are refused with a clear message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")

Op = Literal["=", "!=", "exists", "absent"]


@dataclass(frozen=True)
class Requirement:
    key: str
    op: Op
    value: str = ""

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.op == "exists":
            return self.key in labels
        if self.op == "absent":
            return self.key not in labels
        if self.op == "=":
            return labels.get(self.key) == self.value
        return labels.get(self.key) != self.value


@dataclass(frozen=True)
class Selector:
    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        parts = []
        for r in self.requirements:
            if r.op == "exists":
                parts.append(r.key)
            elif r.op == "absent":
                parts.append(f"!{r.key}")
            else:
                parts.append(f"{r.key}{r.op}{r.value}")
        return ",".join(parts)


def parse_selector(text: str) -> Selector:
    """Parse a selector; ValueError names the offending part. An empty text matches all."""
    requirements: list[Requirement] = []
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            if text.strip():
                raise ValueError(f"selector {text!r}: empty requirement")
            continue
        if " in " in part or " notin " in part or "(" in part:
            raise ValueError(f"selector {text!r}: set-based requirement {part!r} is not supported")
        req = _parse_requirement(part, text)
        requirements.append(req)
    return Selector(tuple(requirements))


def _parse_requirement(part: str, text: str) -> Requirement:
    if "!=" in part:
        key, value = (s.strip() for s in part.split("!=", 1))
        op: Op = "!="
    elif "==" in part:
        key, value = (s.strip() for s in part.split("==", 1))
        op = "="
    elif "=" in part:
        key, value = (s.strip() for s in part.split("=", 1))
        op = "="
    elif part.startswith("!"):
        key, value, op = part[1:].strip(), "", "absent"
    else:
        key, value, op = part, "", "exists"
    if not _KEY.match(key) or len(key.rsplit("/", 1)[-1]) > 63:
        raise ValueError(f"selector {text!r}: {key!r} is not a valid label key")
    if not _VALUE.match(value) or len(value) > 63:
        raise ValueError(f"selector {text!r}: {value!r} is not a valid label value")
    return Requirement(key, op, value)


def parse_labels(text: str) -> dict[str, str]:
    """`zone=a,ssd=true` -> {"zone": "a", "ssd": "true"} (node labels on a command line)."""
    labels: dict[str, str] = {}
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not _KEY.match(key):
            raise ValueError(f"{part!r} is not a label: expected key=value")
        if not _VALUE.match(value):
            raise ValueError(f"{value!r} is not a valid label value (in {part!r})")
        if key in labels:
            raise ValueError(f"label {key!r} is given twice")
        labels[key] = value
    return labels
