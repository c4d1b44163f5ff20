"""Write the JSON Schema of a Task manifest to ``schemas/json/task.json``.

Run ``python -m schemas.export`` after changing a model (``--check`` only says whether the file
is current; a test fails when it is not). Editors that speak the yaml-language-server modeline
(``# yaml-language-server: $schema=../schemas/json/task.json``) then validate and complete
manifests as they are written.

The schema is pydantic's, with two changes: field titles are dropped (they only repeat the
field name; the descriptions say what a field means), and the document gets a ``$schema``,
an ``$id`` and a title. The output is deterministic: sorted keys, two-space indent, a final
newline.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from schemas.task import Task

__all__ = ["SCHEMA_PATH", "main", "render_task_schema", "task_schema"]

SCHEMA_PATH = Path(__file__).resolve().parent / "json" / "task.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _drop_field_titles(schema: Any) -> Any:
    if isinstance(schema, dict):
        out = {key: _drop_field_titles(value) for key, value in schema.items()}
        for prop in out.get("properties", {}).values():
            if isinstance(prop, dict):
                prop.pop("title", None)
        return out
    if isinstance(schema, list):
        return [_drop_field_titles(item) for item in schema]
    return schema


def task_schema() -> dict[str, Any]:
    """The JSON Schema of a Task as applied (apiVersion, kind, metadata, spec; status optional)."""
    schema: dict[str, Any] = _drop_field_titles(Task.model_json_schema(mode="validation"))
    schema["$schema"] = DIALECT
    schema["$id"] = "https://shoal.dev/schemas/v1/task.json"
    schema["title"] = "Shoal Task (shoal/v1)"
    return schema


def render_task_schema() -> str:
    """The exact text of ``schemas/json/task.json``."""
    return json.dumps(task_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas.export", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    parser.add_argument("--output", type=Path, default=SCHEMA_PATH, help="where to write")
    args = parser.parse_args(argv)
    text = render_task_schema()
    current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
    if args.check:
        if current != text:
            print(f"{args.output} is stale: run python -m schemas.export", file=sys.stderr)
            return 1
        return 0
    if current != text:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        print(f"{args.output} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
