"""The flow file's click commands. Built per flow, so parameters become options of ``run``."""

from __future__ import annotations

import click

from flowlib.cli import inspect_commands, run_commands
from flowlib.cli.status_command import status_command
from flowlib.graph import FlowGraph
from flowlib.remote.batch.cli import batch_group
from flowlib.remote.kubernetes.cli import kubernetes_group


def build_cli(flow_cls: type) -> click.Group:
    @click.group(
        help=f"Run and inspect the flow {flow_cls.__name__}.\n\n"
        + (flow_cls.__doc__ or "").strip()
        + "\n\nExample: python flow.py run",
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    )
    @click.pass_context
    def cli(ctx: click.Context) -> None:
        ctx.obj = FlowContext(flow_cls)

    for command in (
        run_commands.run_command(flow_cls),
        run_commands.resume_command(),
        run_commands.step_command(),
        run_commands.check_command(),
        run_commands.show_command(),
        inspect_commands.logs_command(),
        inspect_commands.dump_command(),
        inspect_commands.tag_group(),
        status_command(),
        batch_group(),
        kubernetes_group(),
    ):
        cli.add_command(command)
    return cli


class FlowContext:
    """What every command gets: the flow class and its graph, parsed once on demand."""

    def __init__(self, flow_cls: type) -> None:
        self.flow_cls = flow_cls
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
