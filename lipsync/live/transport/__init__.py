"""Connections to the agent behind one interface (``Transport``), chosen by URL.

- ``tcp://HOST:PORT``: MMDAgent-EX's remote server; we connect (default 127.0.0.1:50001).
- ``ws://HOST:PORT/PATH``: we serve WebSocket on HOST only; the agent connects to us.
- ``exec:COMMAND``: we start the agent (``exec:PATH/MMDAgent-EX main.mdf``) and speak over its
  standard input and output (``use_stdinout=true`` in its .mdf).
- ``stdout``: print the lines.
- ``MemoryTransport``: an in-memory agent, for tests and engines.
"""

from __future__ import annotations

import re

from lipsync.errors import ValueRefused
from lipsync.live.transport.base import LINE_LIMIT, Transport, check_line
from lipsync.live.transport.memory import MemoryTransport

__all__ = ["DEFAULT_URL", "LINE_LIMIT", "MemoryTransport", "Transport", "check_line", "open_transport"]

DEFAULT_URL = "tcp://127.0.0.1:50001"
_URL = re.compile(r"(?P<scheme>tcp|ws)://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+)(?::(?P<port>\d{1,5}))?"
                  r"(?P<path>/[^\s?#]*)?\Z")


def open_transport(
    url: str, *, wait: float | None = None, any_client: bool = False, model: str | None = None
) -> Transport:
    """The transport for ``url`` (not yet opened); ``wait`` is how long to wait for the agent.

    ``wait`` defaults to 0 (one try) for TCP, 10 s for WebSocket, and for ``exec:`` 30 s for
    the agent to add ``model`` (its ``MODEL_EVENT_ADD``). ``any_client``: a ``ws://`` server
    takes any client as the agent, not only MMDAgent-EX (``X-App-Type: MMDAgent``, no ``Origin``).
    """
    if url == "stdout":
        from lipsync.live.transport.stdout import StreamTransport

        return StreamTransport()
    if url.startswith("exec:"):
        import os
        import shlex

        from lipsync.live.transport.pipe import PipeTransport

        try:
            argv = shlex.split(url[5:], posix=os.name == "posix")
        except ValueError as exc:
            raise ValueRefused(f"cannot use {url!r} as --to: {exc}") from None
        return PipeTransport(argv, model=model, wait=30.0 if wait is None else wait)
    match = _URL.match(url)
    port = int(match["port"]) if match and match["port"] else None
    if match is None or (port is not None and not 0 <= port <= 65535):
        raise ValueRefused(
            f"cannot use {url!r} as --to: expected tcp://HOST:PORT, ws://HOST:PORT/PATH, exec:COMMAND, "
            "stdout (or, for say and serve, vmc://HOST:PORT)"
        )
    host = match["host"].strip("[]")
    if match["scheme"] == "tcp":
        if match["path"] not in (None, "", "/"):
            raise ValueRefused(f"cannot use {url!r} as --to: a tcp:// address has no path")
        from lipsync.live.transport.tcp import DEFAULT_PORT, TcpTransport

        return TcpTransport(host, DEFAULT_PORT if port is None else port, wait=wait or 0.0)
    from lipsync.live.transport.websocket import WebSocketTransport

    return WebSocketTransport(host, 9001 if port is None else port, match["path"] or "/chat",
                              wait=10.0 if wait is None else wait, any_client=any_client)
