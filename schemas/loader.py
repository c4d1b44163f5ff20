"""Load Task manifests from files, directories and stdin, reporting every problem at once.

``load_paths(["manifests", "extra.yaml", "-"])`` reads YAML (``---``-separated documents) or
JSON (``*.json``, one document per file), walks directories recursively (``*.yaml``, ``*.yml``,
``*.json`` in sorted order, hidden files and directories skipped) and returns a
:class:`LoadResult`: the valid tasks with where each came from, and a :class:`ManifestError` for
every problem, such as::

    web.yaml: document 2 (line 14): spec.resources.memory: '64Qi' is not a quantity: …

Callers print all errors (:func:`format_errors`) and write nothing when there is any. Empty
documents are skipped; a directory without manifests gives an empty result, not an error (the
caller decides whether that is a problem).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TextIO

import yaml
from pydantic import ValidationError

from schemas.meta import DEFAULT_NAMESPACE
from schemas.problems import explain, format_path, plain_loc
from schemas.task import API_VERSION, Task
from schemas.yamlplain import NotPlain, plain_data
from schemas.yamlpos import DuplicateKey, duplicate_keys, position_of

__all__ = [
    "MANIFEST_SUFFIXES",
    "STDIN",
    "LoadResult",
    "LoadedTask",
    "ManifestError",
    "Source",
    "format_errors",
    "load_paths",
    "load_text",
]

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"
STDIN_NAME = "<stdin>"


@dataclass(frozen=True)
class Source:
    """Where a document came from: the file as given (``<stdin>``), its number, its first line."""

    file: str
    document: int
    line: int

    def __str__(self) -> str:
        return f"{self.file}: document {self.document} (line {self.line})"


class LoadedTask(NamedTuple):
    """A valid task and where it was written."""

    source: Source
    task: Task


@dataclass(frozen=True)
class ManifestError:
    """One problem in the input; ``document`` and ``line`` are None for a file-level problem."""

    file: str
    document: int | None
    line: int | None
    path: str
    """The field, dotted with list indices (``spec.ports[1].hostPort``); empty for a document."""
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.document is not None:
            where += f": document {self.document}"
            if self.line is not None:
                where += f" (line {self.line})"
        elif self.line is not None:
            where += f": line {self.line}"
        field_part = f"{self.path}: " if self.path else ""
        return f"{where}: {field_part}{self.message}"


@dataclass
class LoadResult:
    """Valid tasks in input order, every problem found, and the files that were read."""

    tasks: list[LoadedTask] = field(default_factory=list)
    errors: list[ManifestError] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when there is no error (there may still be no task)."""
        return not self.errors


def format_errors(errors: Sequence[ManifestError]) -> str:
    """All errors, one per line, in the order found: what a command prints before exiting 1."""
    return "\n".join(str(error) for error in errors)


class _Document(NamedTuple):
    number: int
    node: yaml.Node | None  # None when positions are unknown (JSON that YAML cannot read)
    data: Any
    duplicates: list[DuplicateKey]


class _DocumentCheck:
    """The problems of one document, collected and then sorted by line."""

    def __init__(self, file: str, doc: _Document) -> None:
        self.file = file
        self.doc = doc
        self.problems: list[tuple[tuple[int, int], ManifestError]] = []

    def position(self, loc: Sequence[str | int]) -> tuple[int, int]:
        return position_of(self.doc.node, loc) if self.doc.node is not None else (1, 1)

    def line(self, loc: Sequence[str | int]) -> int:
        return self.position(loc)[0]

    def add(self, loc: Sequence[str | int], message: str) -> None:
        """A problem of the field at ``loc`` (a missing field: where its parent is)."""
        where = self.position(loc)
        error = ManifestError(self.file, self.doc.number, where[0], format_path(loc), message)
        self.problems.append((where, error))

    def sorted_problems(self) -> list[ManifestError]:
        # pydantic lists unknown fields last; people read a file from the top
        return [error for _, error in sorted(self.problems, key=lambda item: item[0])]

    def task(self, first_seen: dict[tuple[str, str], Source]) -> Task | None:
        """The valid Task, or None with the reasons in ``problems``."""
        data = self.doc.data
        for dup in self.doc.duplicates:
            self.add(dup.loc, f"key written twice (first on line {dup.first_line}); write it once")
        if not isinstance(data, dict):
            got = "a list" if isinstance(data, list) else repr(data)
            self.add((), f"expected a mapping (a Task), got {got}")
            return None
        if not self.kind_is_task(data):
            return None
        self.check_unique_name(data, first_seen)
        try:
            task = Task.model_validate(data)
        except ValidationError as exc:
            for detail in exc.errors(include_url=False):
                loc = plain_loc(detail["loc"])
                if loc[:1] not in (("apiVersion",), ("kind",)):  # kind_is_task said it better
                    self.add(loc, explain(detail, Task))
            return None
        return task if not self.problems else None

    def kind_is_task(self, data: dict[str, Any]) -> bool:
        """Report a missing or wrong apiVersion or kind; False when it is not a Task at all."""
        for key, expected in (("apiVersion", API_VERSION), ("kind", "Task")):
            if key not in data:
                self.add((key,), f"required field is missing (write {key}: {expected})")
            elif data[key] != expected:
                self.add((key,), f"{data[key]!r} is not supported: expected {expected!r}")
        return "kind" not in data or data["kind"] == "Task"

    def check_unique_name(
        self, data: dict[str, Any], first_seen: dict[tuple[str, str], Source]
    ) -> None:
        meta = data.get("metadata")
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
            return
        namespace = meta.get("namespace", DEFAULT_NAMESPACE)
        if not isinstance(namespace, str):
            return
        here = Source(self.file, self.doc.number, self.line(("metadata", "name")))
        first = first_seen.setdefault((namespace, meta["name"]), here)
        if first is not here:
            self.add(
                ("metadata", "name"),
                f"task {namespace}/{meta['name']} is defined twice; the other is at {first}",
            )


class _Loading:
    """One load: the result so far, and where each task name was first seen."""

    def __init__(self) -> None:
        self.result = LoadResult()
        self.first_seen: dict[tuple[str, str], Source] = {}

    def error(self, file: str, document: int | None, line: int | None, msg: str) -> None:
        self.result.errors.append(ManifestError(file, document, line, "", msg))

    def text(self, text: str, file: str, *, json_format: bool) -> None:
        self.result.files.append(file)
        documents = _json_documents(text) if json_format else _yaml_documents(text)
        for item in documents:
            if isinstance(item, _Failure):
                self.error(file, item.document, item.line, item.message)
            elif item.data is not None:  # an empty document is no document
                check = _DocumentCheck(file, item)
                task = check.task(self.first_seen)
                self.result.errors.extend(check.sorted_problems())
                if task is not None:
                    source = Source(file, item.number, check.line(()))
                    self.result.tasks.append(LoadedTask(source, task))

    def path(self, path: str, stdin: TextIO | None) -> None:
        if path == STDIN:
            self.read(STDIN_NAME, stdin if stdin is not None else sys.stdin, json_format=False)
        elif os.path.isdir(path):
            for file in _manifest_files(path):
                self.file(file)
        elif os.path.exists(path):
            self.file(path)
        else:
            self.error(path, None, None, "no such file or directory")

    def file(self, path: str) -> None:
        try:
            with open(path, encoding="utf-8-sig") as stream:
                self.read(path, stream, json_format=path.endswith(".json"))
        except OSError as exc:
            self.error(path, None, None, f"cannot read: {exc.strerror or exc}")

    def read(self, name: str, stream: TextIO, *, json_format: bool) -> None:
        try:
            text = stream.read()
        except UnicodeDecodeError as exc:
            self.error(name, None, None, f"not UTF-8 text (byte {exc.start} is not valid)")
            return
        self.text(text, name, json_format=json_format)


def _manifest_files(directory: str) -> list[str]:
    found: list[tuple[tuple[str, ...], str]] = []
    for parent, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if not name.startswith(".") and name.endswith(MANIFEST_SUFFIXES):
                path = os.path.join(parent, name)
                found.append((tuple(os.path.relpath(path, directory).split(os.sep)), path))
    return [path for _, path in sorted(found)]


class _Failure(NamedTuple):
    document: int | None
    line: int | None
    message: str


def _yaml_problem(exc: yaml.YAMLError) -> tuple[int | None, str]:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        if exc.context_mark is not None and "<stream end>" in (exc.problem or ""):
            mark = exc.context_mark  # where the unclosed thing began, not the end of the file
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        return (int(mark.line) + 1 if mark is not None else None), f"{problem}{context}"
    return None, str(exc)


_FAST_LOADER: type[yaml.CSafeLoader] | None = getattr(yaml, "CSafeLoader", None)
"""libyaml's parser, when PyYAML was built with it: several times faster on large inputs."""


def _fast_documents(text: str) -> list[_Document] | None:
    """Every document of ``text`` parsed by libyaml, or None if anything goes wrong.

    Only a stream that libyaml reads without any problem is taken from here; for any other
    the pure-Python parser below runs again, so every error message stays the same.
    """
    if _FAST_LOADER is None:
        return None
    loader = _FAST_LOADER(text)
    documents: list[_Document] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                break
            duplicates = duplicate_keys(node)  # before constructing, which rewrites merge keys
            try:
                data = plain_data(loader, node)
            except NotPlain:
                data = loader.construct_document(node)
            documents.append(_Document(len(documents) + 1, node, data, duplicates))
    except (yaml.YAMLError, RecursionError):
        return None
    finally:
        loader.dispose()
    return documents


def _yaml_documents(text: str) -> Iterator[_Document | _Failure]:
    fast = _fast_documents(text)
    if fast is not None:
        yield from fast
        return
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:  # a control character such as NUL
        where = text.count("\n", 0, exc.position) + 1
        yield _Failure(None, where, f"invalid YAML: character {exc.character:#06x} is not allowed")
        return
    number = 0
    try:
        while True:
            try:
                if not loader.check_node():
                    return
                node = loader.get_node()
            except yaml.YAMLError as exc:  # the stream cannot be read past this point
                line, problem = _yaml_problem(exc)
                yield _Failure(number + 1, line, f"invalid YAML: {problem}")
                return
            except RecursionError:
                yield _Failure(number + 1, None, "invalid YAML: nested too deeply")
                return
            if node is None:  # check_node said there is one; only for the type checker
                return
            number += 1
            # Find keys written twice before constructing: construction rewrites merge keys.
            duplicates = duplicate_keys(node)
            try:
                data = loader.construct_document(node)
            except RecursionError:
                yield _Failure(number, None, "invalid YAML: nested too deeply")
                continue
            except yaml.YAMLError as exc:
                line, problem = _yaml_problem(exc)
                yield _Failure(number, line, f"invalid YAML: {problem}")
                continue
            yield _Document(number, node, data, duplicates)
    finally:
        loader.dispose()


def _json_documents(text: str) -> Iterator[_Document | _Failure]:
    if not text.strip():
        return
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        yield _Failure(1, exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})")
        return
    try:  # JSON is YAML (nearly), which gives the lines of fields
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:  # e.g. tabs for indentation: valid JSON, not YAML
        node = None
    yield _Document(1, node, data, duplicate_keys(node) if node is not None else [])


def load_text(text: str, file: str = STDIN_NAME, *, json_format: bool = False) -> LoadResult:
    """Load manifests from a string, as if read from ``file``."""
    loading = _Loading()
    loading.text(text, file, json_format=json_format)
    return loading.result


def load_paths(paths: Sequence[str], stdin: TextIO | None = None) -> LoadResult:
    """Load every manifest under ``paths`` (files, directories, ``-`` for ``stdin``)."""
    loading = _Loading()
    for path in paths:
        loading.path(path, stdin)
    return loading.result
