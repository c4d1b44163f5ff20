"""`shoal apply -f PATH…`: validate every document, then create or update the tasks.

Nothing is written unless every document is valid. One line per object is printed, as
kubectl does: `task/<name> created | configured | unchanged | pruned`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import click

from core.clock import SystemClock
from core.settings import Settings
from schemas.selector import Selector, parse_selector
from shoal.applying import Change, apply_changes, plan_apply, read_current, replanner
from shoal.connect import connect, keys_for
from shoal.inputs import load_or_exit
from shoal.progress import bulk_work, progress_bar


def parse_selector_option(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> Selector | None:
    if value is None:
        return None
    try:
        return parse_selector(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def change_line(change: Change, dry_run: bool = False) -> str:
    suffix = " (dry run)" if dry_run else ""
    return f"task/{change.name} {change.verb}{suffix}"


def _json(changes: Sequence[Change], dry_run: bool) -> str:
    items = []
    for change in changes:
        result = change.result
        items.append(
            {
                "kind": "Task",
                "namespace": change.namespace,
                "name": change.name,
                "action": change.verb,
                "object": None if result is None else result.model_dump(mode="json"),
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
    callback=parse_selector_option,
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
    with bulk_work():
        changes = _apply(settings, paths, dry_run, selector if prune else None, allow_empty)
    if output == "json":
        click.echo(_json(changes, dry_run))
    elif changes:
        click.echo("\n".join(change_line(change, dry_run) for change in changes))


def _apply(
    settings: Settings,
    paths: Sequence[str],
    dry_run: bool,
    pruning: Selector | None,
    allow_empty: bool,
) -> list[Change]:
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
            prune=pruning,
            allow_empty=allow_empty,
        )
        if not dry_run:
            replan = replanner(
                store,
                keys,
                {t.key: t for t in tasks},
                now=clock.now,
                may_prune=lambda s: pruning is not None and pruning.matches(s.task.metadata.labels),
            )
            writes = sum(1 for c in changes if c.verb != "unchanged")
            with progress_bar(writes, f"applying {writes} tasks") as advance:
                changes = apply_changes(store, keys, changes, replan=replan, progress=advance)
    finally:
        store.close()
    return changes
