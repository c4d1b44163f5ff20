"""`shoal stop task NAME` and `shoal start task NAME`: the seed's stop event and its inverse.

Both set `spec.desiredState` (Stopped or Running) on the stored task with a write guarded by
the revision read (read again and retried when someone else wrote meanwhile). It is a spec
change, so the generation goes up, as apply would make it: the controller removes the
binding of a stopped task (its container is stopped, and it ends Completed with reason
Stopped) and places a started one again.
"""

from __future__ import annotations

import sys

import click

from core.clock import SystemClock
from core.errors import Conflict, NotFound
from core.keys import Keys
from core.settings import Settings
from core.store import Store
from schemas.spec import DesiredState
from shoal.applying import Change, Stored, apply_changes, plan_one, read_one
from shoal.connect import connect, keys_for
from shoal.options import Kind, name_ref, namespace_options
from shoal.sync_pass import ownership

ATTEMPTS = 5


def set_desired_state(
    store: Store, keys: Keys, key: str, state: DesiredState, *, clock: SystemClock
) -> Change:
    """Set one task's desiredState; the change made (`unchanged` if it already was)."""

    def plan(current: Stored | None) -> Change:
        if current is None:
            raise NotFound(f"task {key}", f"task {key} not found")
        task = current.task
        spec = task.spec.model_copy(update={"desiredState": state})
        return plan_one(task.model_copy(update={"spec": spec}), current, now=clock.now())

    change = plan(read_one(store, keys, key))
    made = apply_changes(
        store,
        keys,
        [change],
        replan=lambda c: plan(read_one(store, keys, key)),
        attempts=ATTEMPTS,
    )
    return made[0]


def _command(verb: str, state: DesiredState, past: str) -> click.Command:
    @click.command(name=verb, help=f"{verb.capitalize()} a task (spec.desiredState: {state}).")
    @click.argument("kind", type=Kind("task"))
    @click.argument("names", nargs=-1, required=True)
    @namespace_options(all_namespaces=False)
    @click.pass_obj
    def command(settings: Settings, kind: str, names: tuple[str, ...], namespace: str) -> None:
        keys = keys_for(settings)
        store = connect(settings)
        clock = SystemClock()
        failed = False
        try:
            for name in names:
                ns, bare = name_ref(name, namespace)
                key = f"{ns}/{bare}"
                try:
                    change = set_desired_state(store, keys, key, state, clock=clock)
                except (NotFound, Conflict) as exc:
                    click.echo(f"error: {exc}", err=True)
                    failed = True
                    continue
                click.echo(f"task/{bare} {past if change.verb == 'configured' else 'unchanged'}")
                owner = ownership(change.current)[0] if change.current is not None else None
                if owner and change.verb == "configured":
                    click.echo(
                        f"note: task {key} is kept by sync {owner!r}, whose next pass will "
                        "put its desiredState back as its file says",
                        err=True,
                    )
        finally:
            store.close()
        if failed:
            sys.exit(1)

    return command


stop = _command("stop", DesiredState.Stopped, "stopped")
start = _command("start", DesiredState.Running, "started")
