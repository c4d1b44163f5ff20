"""Where things are in a YAML document: lines of fields, and keys written twice.

The loader validates the constructed Python data, whose errors name a field path such as
``("spec", "ports", 1, "hostPort")``; this module finds that path in the node tree that
``yaml.compose`` built from the same text, to say on which line the field is. A path that goes
further than the text (a missing field) gives the line of the deepest part that is there.

PyYAML keeps the last of two equal keys in a mapping without a word; :func:`duplicate_keys`
finds them so that the loader can report them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import yaml

__all__ = ["DuplicateKey", "Loc", "duplicate_keys", "line_of", "position_of"]

Loc = Sequence[str | int]


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _position(node: yaml.Node) -> tuple[int, int]:
    return int(node.start_mark.line) + 1, int(node.start_mark.column) + 1


def _entry(node: yaml.MappingNode, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    found = None
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            found = (key_node, value_node)  # the last one wins, as when PyYAML constructs
    return found


def position_of(root: yaml.Node, loc: Loc) -> tuple[int, int]:
    """The 1-based (line, column) of the field at ``loc``, or of its deepest part in the text.

    For a mapping entry that is where its key is written; for a list item, where the item is.
    """
    node = root
    position = _position(root)
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            entry = _entry(node, str(part))
            if entry is None:
                break
            position, node = _position(entry[0]), entry[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                break
            node = node.value[part]
            position = _position(node)
        else:
            break
    return position


def line_of(root: yaml.Node, loc: Loc) -> int:
    """The 1-based line of the field at ``loc`` (see :func:`position_of`)."""
    return position_of(root, loc)[0]


@dataclass(frozen=True)
class DuplicateKey:
    """A key written twice in one mapping: ``loc`` of the key, and both lines."""

    loc: tuple[str | int, ...]
    line: int
    first_line: int


def duplicate_keys(root: yaml.Node) -> list[DuplicateKey]:
    """Every key that appears more than once in the same mapping, in document order."""
    return list(_duplicates(root, (), set()))


def _duplicates(
    node: yaml.Node, loc: tuple[str | int, ...], seen: set[int]
) -> Iterator[DuplicateKey]:
    if id(node) in seen:  # anchors and aliases share nodes; visit each once
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = str(key_node.value)
            if key in first:
                yield DuplicateKey((*loc, key), _line(key_node), first[key])
            else:
                first[key] = _line(key_node)
            yield from _duplicates(value_node, (*loc, key), seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicates(item, (*loc, index), seen)
