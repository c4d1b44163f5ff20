"""Pydantic's validation errors, said the way a person writing YAML needs to hear them.

``Input should be a valid dictionary or instance of Resources`` becomes ``expected a mapping,
got a list``; an unknown field gets a "did you mean" when one is close; a number where text is
expected gets the hint to quote it (YAML reads ``8080``, ``1.0`` and ``yes`` as numbers and
booleans). Paths are written as in the manifest: ``spec.ports[1].hostPort``.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

__all__ = ["describe", "explain", "format_path", "plain_loc"]

_KEY_MARKER = "[key]"
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def plain_loc(loc: Sequence[str | int]) -> tuple[str | int, ...]:
    """The location without pydantic's ``[key]`` marker (set when a mapping's key is bad)."""
    return tuple(part for part in loc if part != _KEY_MARKER)


def format_path(loc: Sequence[str | int]) -> str:
    """``("spec", "ports", 1, "hostPort")`` -> ``spec.ports[1].hostPort``.

    Keys that are not plain words are quoted: ``metadata.labels["app.kubernetes.io/name"]``.
    """
    text = ""
    for part in plain_loc(loc):
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += '["' + part.replace("\\", "\\\\").replace('"', '\\"') + '"]'
    return text


def describe(value: object) -> str:
    """A YAML reader's name for a value: ``a list``, ``the number 8080``, ``'web'``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def _unwrap(annotation: Any) -> list[Any]:
    """The types inside Optional/Union/Annotated."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [t for arg in get_args(annotation) for t in _unwrap(arg)]
    return [annotation]


def _step(annotation: Any, part: str | int) -> Any:
    for candidate in _unwrap(annotation):
        origin = get_origin(candidate)
        if isinstance(part, int) and origin is list:
            return get_args(candidate)[0]
        if isinstance(part, str) and origin is dict:
            return get_args(candidate)[1]
        if (
            isinstance(part, str)
            and isinstance(candidate, type)
            and issubclass(candidate, BaseModel)
            and part in candidate.model_fields
        ):
            return candidate.model_fields[part].annotation
    return None


def _model_at(root: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    annotation: Any = root
    for part in loc:
        annotation = _step(annotation, part)
    for candidate in _unwrap(annotation):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _unknown_field(root: type[BaseModel], loc: Sequence[str | int]) -> str:
    model = _model_at(root, loc[:-1])
    if model is None or not isinstance(loc[-1], str):
        return "unknown field"
    close = difflib.get_close_matches(loc[-1], list(model.model_fields), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown field{hint}"


def _bound(ctx: dict[str, Any]) -> str:
    words = {"ge": "at least", "gt": "more than", "le": "at most", "lt": "less than"}
    for key, word in words.items():
        if key in ctx:
            return f"{word} {ctx[key]}"
    return "in range"


def explain(error: ErrorDetails, root: type[BaseModel]) -> str:
    """The message for one pydantic error of a ``root`` model (the path is said apart)."""
    kind = error["type"]
    value = error.get("input")
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return _unknown_field(root, plain_loc(error["loc"]))
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping, got {describe(value)}"
    if kind in ("list_type", "tuple_type"):
        return f"expected a list, got {describe(value)}"
    if kind == "string_type":
        quote = " (put it in quotes)" if isinstance(value, bool | int | float) else ""
        return f"expected a string, got {describe(value)}{quote}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {describe(value)}"
    if kind in ("float_type", "float_parsing"):
        return f"expected a number, got {describe(value)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {describe(value)}"
    if kind in ("enum", "literal_error"):
        return f"{describe(value)} is not allowed: expected {ctx.get('expected', '?')}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return f"{describe(value)} is out of range: it must be {_bound(ctx)}"
    if kind == "too_short" and isinstance(value, list):
        return f"must have at least {ctx.get('min_length', 1)} item(s), got {len(value)}"
    if kind in ("datetime_type", "datetime_parsing", "datetime_from_date_parsing"):
        return f"expected a date and time like 2024-05-01T12:00:00Z, got {describe(value)}"
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    message = error["msg"]
    if isinstance(value, str | int | float | bool) or value is None:
        return f"{message}, got {describe(value)}"
    return message
