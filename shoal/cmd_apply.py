"""`shoal apply -f PATH…`: validate every document, then create or update the tasks.

Nothing is written unless every document is valid. One line per object is printed, as
kubectl does: `task/<name> created | configured | unchanged | pruned`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

import click

from core.clock import SystemClock
from core.settings import Settings
from schemas.loader import format_errors, load_paths
from schemas.selector import Selector, parse_selector
from schemas.task import Task
from shoal.applying import Change, apply_changes, plan_apply, plan_one, read_current
from shoal.connect import connect, keys_for


def load_or_exit(paths: Sequence[str]) -> list[Task]:
    """Every task in `paths`; on any problem print them all and exit 1 (nothing written)."""
    result = load_paths(paths, stdin=sys.stdin)
    if result.errors:
        click.echo(format_errors(result.errors), err=True)
        n = len(result.errors)
        click.echo(
            f"error: {n} problem{'s' if n != 1 else ''} found; nothing was applied", err=True
        )
        sys.exit(1)
    return [task for _, task in result.tasks]


def _selector(ctx: click.Context, param: click.Parameter, value: str | None) -> Selector | None:
    if value is None:
        return None
    try:
        return parse_selector(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def _line(change: Change, dry_run: bool) -> str:
    ref = change.new or change.old
    assert ref is not None
    suffix = " (dry run)" if dry_run else ""
    return f"task/{ref.metadata.name} {change.verb}{suffix}"


def _json(changes: Sequence[Change], dry_run: bool) -> str:
    items = []
    for change in changes:
        ref = change.new or change.old
        assert ref is not None
        items.append(
            {
                "kind": "Task",
                "namespace": ref.metadata.namespace,
                "name": ref.metadata.name,
                "action": change.verb,
                "object": None if change.new is None else change.new.model_dump(mode="json"),
            }
        )
    return json.dumps({"dryRun": dry_run, "items": items}, indent=2)


@click.command()
@click.option(
    "-f",
    "--filename",
    "paths",
    multiple=True,
    required=True,
    help="A file, a directory (read recursively) or - for stdin. Repeatable.",
)
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.option("--prune", is_flag=True, help="Delete tasks matching -l that the files lack.")
@click.option(
    "-l",
    "--selector",
    callback=_selector,
    default=None,
    help="Label selector for --prune, e.g. app=web,tier!=db.",
)
@click.option("--allow-empty", is_flag=True, help="Let --prune run when the files hold nothing.")
@click.option(
    "-o", "--output", type=click.Choice(["name", "json"]), default="name", show_default=True
)
@click.pass_obj
def apply(
    settings: Settings,
    paths: tuple[str, ...],
    dry_run: bool,
    prune: bool,
    selector: Selector | None,
    allow_empty: bool,
    output: str,
) -> None:
    """Create or update tasks from manifests."""
    if prune and selector is None:
        raise click.UsageError(
            "--prune needs a label selector (-l), so it never deletes everything"
        )
    if selector is not None and not prune:
        raise click.UsageError("-l selects what --prune may delete; pass --prune with it")
    tasks = load_or_exit(paths)
    clock = SystemClock()
    store = connect(settings)
    keys = keys_for(settings)
    try:
        current = read_current(store, keys)
        changes = plan_apply(
            tasks,
            current,
            now=clock.now(),
            prune=selector if prune else None,
            allow_empty=allow_empty,
        )
        if not dry_run:
            by_key = {t.key: t for t in tasks}

            def replan(change: Change) -> Change | None:
                fresh = read_current(store, keys).get(change.key)
                if change.verb == "pruned":
                    if fresh is None:
                        return None
                    return Change("pruned", change.key, None, fresh.task, fresh.mod_revision)
                return plan_one(by_key[change.key], fresh, now=clock.now(), new_uid=_uid)

            changes = apply_changes(store, keys, changes, replan=replan)
    finally:
        store.close()
    if output == "json":
        click.echo(_json(changes, dry_run))
    else:
        for change in changes:
            click.echo(_line(change, dry_run))


def _uid() -> str:
    import uuid

    return str(uuid.uuid4())
