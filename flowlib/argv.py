"""The flow file's top-level options (``python flow.py --metadata local run``) and where the
command starts in ``sys.argv``.

A leaf module: the CLI (``cli/options.py``) handles these options, and ``flow_config`` reads
``--config NAME FILE`` from the command line when the flow file loads, below the CLI's layer.
"""

from __future__ import annotations

# name -> number of values it takes (0: a flag)
TOP_LEVEL_OPTIONS: dict[str, int] = {
    "--metadata": 1,  # local -> SQLite, dynamodb -> DynamoDB (FLOWLIB_METADATA)
    "--datastore": 1,  # local / s3 (FLOWLIB_DATASTORE)
    "--datastore-root": 1,  # folder, or s3://bucket/prefix with --datastore s3
    "--environment": 1,  # local only: flowlib runs steps in the current Python environment
    "--quiet": 0,  # as run --quiet
    "--config": 2,  # Config objects (flowlib.flow_config), read when the flow file loads
    "--config-value": 2,
    "--with": 1,  # as run --with
    "--no-pylint": 0,  # accepted: flowlib runs its own graph lint, never pylint
    "--pylint": 0,
    "--event-logger": 1,
    "--monitor": 1,
}


def first_command_index(args: list[str]) -> int:
    """Index of the first argument that is not a top-level option or its value."""
    i = 0
    while i < len(args):
        arg = args[i]
        name = arg.split("=", 1)[0]
        if name in TOP_LEVEL_OPTIONS:
            i += 1 if "=" in arg else 1 + TOP_LEVEL_OPTIONS[name]
        elif arg.startswith("-"):
            i += 1
        else:
            return i
    return len(args)
