"""``flowlib ui``: serve the web UI for a profile's stores with uvicorn on 127.0.0.1."""

from __future__ import annotations

from typing import Any

import click

from flowlib.exceptions import FlowlibError

DEFAULT_PORT = 8324


def open_profile_stores(profile: str | None) -> Any:
    """The stores of ``profile`` (default: the effective one), also for the client API."""
    import os

    from flowlib.config import effective_profile
    from flowlib.stores import reset_stores, stores_for

    resolved = effective_profile(profile)
    if profile:
        # The client (used by some reads) opens the effective profile: make it this one.
        os.environ["FLOWLIB_PROFILE"] = resolved.name
        reset_stores()
    return stores_for(resolved)


def serve(profile: str | None, host: str, port: int, open_browser: bool) -> None:
    try:
        import uvicorn

        from flowlib.ui.app import create_app
    except ImportError as exc:
        raise FlowlibError(
            f"flowlib ui needs the 'ui' extra ({exc.name} is missing): "
            "pip install 'flowlib-platform[ui]'."
        ) from None
    stores = open_profile_stores(profile)
    sock = _listen(host, port)
    hosts = ["127.0.0.1", "localhost"] if host in ("127.0.0.1", "localhost") else ["*"]
    app = create_app(stores, allowed_hosts=hosts)
    url = f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}/"
    click.echo(f"flowlib ui: reading {stores.description}")
    click.echo(f"flowlib ui: open {url} (Ctrl-C to stop)")
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, (url,)).start()
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def _listen(host: str, port: int) -> Any:
    """The listening socket, bound here so that a busy port is one clear error."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise FlowlibError(f"Cannot listen on {host}:{port}: {exc.strerror}. "
                           "Choose another port with --port.") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


@click.command("ui")
@click.option("--profile", "-p", default=None,
              help="Profile whose stores to read (default: the effective profile).")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Anything but 127.0.0.1 exposes your runs to the network.")
@click.option("--open/--no-open", "open_browser", default=False,
              help="Open the UI in the browser.")
def ui_command(profile: str | None, port: int, host: str, open_browser: bool) -> None:
    """A local, read-only web UI of your runs: flows, runs, graphs, logs, artifacts, cards.

    It reads the profile's stores directly with your own credentials; nothing to deploy.

    Example: flowlib ui --profile dev --port 8324
    """
    serve(profile, host, port, open_browser)
