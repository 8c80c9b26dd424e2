"""The flow file's click commands. Built per flow, so parameters become options of ``run``."""

from __future__ import annotations

import click

from flowlib.backends import with_cli
from flowlib.cli import inspect_commands, run_commands
from flowlib.cli.card_commands import card_group
from flowlib.cli.environment_commands import environment_group
from flowlib.cli.options import apply_top_level, top_level_options
from flowlib.cli.status_command import status_command
from flowlib.graph import FlowGraph


class FlowGroup(click.Group):
    """The flow file's group: its own commands, plus each backend's command group
    (``flowlib.backends``), imported only when that command runs or ``--help`` lists it."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(dict.fromkeys([*super().list_commands(ctx), *(b.name for b in with_cli())]))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None:
            found = next((b for b in with_cli() if b.name == name), None)
            if found is not None:
                command = found.load("cli_group")(getattr(self, "flow_cls", None))
                self.add_command(command, name)
        return command


def build_cli(flow_cls: type) -> click.Group:
    @click.group(
        cls=FlowGroup,
        help=f"Run and inspect the flow {flow_cls.__name__}.\n\n"
        + (flow_cls.__doc__ or "").strip()
        + "\n\nExample: python flow.py run",
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    )
    @top_level_options
    @click.pass_context
    def cli(ctx: click.Context, **options: object) -> None:
        ctx.obj = FlowContext(flow_cls)
        apply_top_level(ctx.obj, options)

    cli.flow_cls = flow_cls  # backends' groups may add flow-specific options (its parameters)

    for command in (
        run_commands.run_command(flow_cls),
        run_commands.resume_command(),
        run_commands.step_command(),
        run_commands.check_command(),
        run_commands.show_command(),
        inspect_commands.logs_command(),
        inspect_commands.dump_command(),
        inspect_commands.tag_group(),
        card_group(),
        status_command(),
        environment_group(),
    ):
        cli.add_command(command)
    return cli


class FlowContext:
    """What every command gets: the flow class and its graph, parsed once on demand."""

    def __init__(self, flow_cls: type) -> None:
        self.flow_cls = flow_cls
        self.quiet = False  # top-level --quiet
        self.top_with: list[str] = []  # top-level --with
        self._graph: FlowGraph | None = None

    @property
    def name(self) -> str:
        return self.flow_cls.__name__

    @property
    def graph(self) -> FlowGraph:
        if self._graph is None:
            self._graph = FlowGraph(self.flow_cls)
        return self._graph

    def validated_graph(self) -> FlowGraph:
        from flowlib.graph import validate

        graph = self.graph
        validate(graph, self.flow_cls)
        return graph
