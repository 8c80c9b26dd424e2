"""``python flow.py card view|get|list RUN/STEP/TASK``: look at a task's cards."""

from __future__ import annotations

from typing import Any

import click

from flowlib.exceptions import FlowlibError


def _chosen_card(ctx: Any, pathspec: str, card_id: str | None, attempt: int | None) -> Any:
    from flowlib.cards.store import task_cards
    from flowlib.cli.inspect_commands import _task_pathspec
    from flowlib.client import Task, namespace
    from flowlib.stores import open_stores

    namespace(None)
    task = Task(_task_pathspec(ctx, pathspec))
    r = task._record
    cards = task_cards(open_stores(), r.flow, r.run_id, r.step, r.task_id, attempt)
    if not cards:
        raise FlowlibError(
            f"{task.pathspec} has no card{'' if attempt is None else f' for attempt {attempt}'}."
            " Add @card to the step (and run it again) to get one."
        )
    if card_id is not None:
        matching = [c for c in cards if c.id == card_id]
        if not matching:
            ids = ", ".join(c.id or "(no id)" for c in cards)
            raise FlowlibError(
                f"{task.pathspec} has no card with id '{card_id}'; its cards: {ids}."
            )
        return matching[0]
    return cards[0]


def _card_options(f: Any) -> Any:
    f = click.option("--attempt", type=int, help="Attempt (default: the latest with cards).")(f)
    f = click.option("--id", "card_id", help="The card's id (default: the step's first card).")(f)
    return click.argument("pathspec")(f)


def card_group() -> click.Group:
    @click.group(
        "card",
        help="Look at the cards of a task (@card).\n\n"
        "Example: python flow.py card view 12/train/5 --id report",
    )
    def card() -> None:
        pass

    @card.command("view", help="Open a task's card in the browser.")
    @_card_options
    @click.pass_obj
    def view(ctx: Any, pathspec: str, card_id: str | None, attempt: int | None) -> None:
        path = _chosen_card(ctx, pathspec, card_id, attempt).view()
        click.echo(f"Opened {path}")

    @card.command("get", help="Save a task's card as an HTML file.\n\n"
                  "Example: python flow.py card get 12/train/5 report.html")
    @_card_options
    @click.argument("file", type=click.Path(dir_okay=False, writable=True))
    @click.pass_obj
    def get(ctx: Any, pathspec: str, card_id: str | None, attempt: int | None,
            file: str) -> None:
        chosen = _chosen_card(ctx, pathspec, card_id, attempt)
        try:
            chosen.save(file)
        except OSError as exc:
            raise FlowlibError(f"Cannot write the card to {file}: {exc.strerror}.") from None
        click.echo(f"Saved the {chosen.type} card{f' {chosen.id}' if chosen.id else ''} to {file}")

    @card.command("list", help="List the cards of a task.")
    @click.argument("pathspec")
    @click.pass_obj
    def list_cards(ctx: Any, pathspec: str) -> None:
        from flowlib.cli.inspect_commands import _task_pathspec
        from flowlib.client import Task, namespace

        namespace(None)
        task = Task(_task_pathspec(ctx, pathspec))
        for c in task.cards:
            click.echo(f"{c.index}\t{c.id or '-'}\t{c.type}\tattempt {c.attempt}")

    return card
