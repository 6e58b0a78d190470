"""``ws://HOST:PORT/PATH``: we are the WebSocket server and MMDAgent-EX connects to us.

MMDAgent-EX's Plugin_Remote connects to ``Plugin_Remote_Websocket_Host``/``_Port``/
``_Directory`` and reconnects when dropped (only with ``Plugin_Remote_RetryCount`` set: without
it, it gives up after one reconnect); each message is one text frame. We bind only the given
host and wait up to ``wait`` seconds for the agent.

What the real agent does shapes this module (``MMDAGENT_EX.md``, "Observed again"):

- It never answers a Close frame and takes the frame's payload (``03 E8``) as message text with
  no newline, which it keeps across reconnects: the next session's first line would arrive as
  ``\\x03\\xe8LIPSYNC_START|...`` and draw no lips. So we never send a Close frame: a session
  ends by dropping the TCP connection, which the agent takes as a disconnect. Each new
  connection also gets a harmless complete line first (``HELLO_LINE``), which ends any stale
  partial line the agent holds, and which is the message the agent often leaves unread until
  the next one comes. Never an empty line: that crashes the agent.
- It never greets a WebSocket client (no ``REMOTE_EVENT_CONNECTED``), so silence means nothing.
- It forwards invalid UTF-8 as it is: we read frames as bytes and never fail the connection
  over their encoding.
- It sends ``X-App-Type: MMDAgent`` and never an ``Origin``. Only such clients are taken as the
  agent (a web page in the user's browser could otherwise connect, displace the agent and hear
  every line), unless ``any_client=True``. A new agent connection replaces the old one (the
  agent reconnecting); nothing else can.
"""

from __future__ import annotations

import socket
import threading
from typing import TYPE_CHECKING, Any

from lipsync.errors import AgentUnreachable, MissingDependency, TransportError
from lipsync.live.transport.base import HELLO_LINE, READ_LIMIT, LineSplitter, Transport, check_line

if TYPE_CHECKING:
    from websockets.sync.server import Server, ServerConnection

__all__ = ["WebSocketTransport", "agent_setup"]


def agent_setup(host: str, port: int, path: str) -> str:
    """The ``.mdf`` lines that make MMDAgent-EX connect to us (and keep reconnecting)."""
    return (f"Plugin_Remote_Websocket_Host={host}, Plugin_Remote_Websocket_Port={port}, "
            f"Plugin_Remote_Websocket_Directory={path} and Plugin_Remote_RetryCount=100000")


def _drop(connection: ServerConnection) -> None:
    """End a session without a Close frame: shut the TCP connection down under it."""
    try:
        connection.socket.shutdown(socket.SHUT_RDWR)
    except OSError:  # already gone
        pass


class WebSocketTransport(Transport):
    """A WebSocket server at ``host:port`` that takes the agent's connection on ``path``."""

    greets = False  # MMDAgent-EX greets TCP clients only
    echoes = True  # every message on the agent's bus reaches every client, ours too

    def __init__(
        self, host: str = "127.0.0.1", port: int = 9001, path: str = "/chat", *, wait: float = 10.0,
        any_client: bool = False,
    ) -> None:
        super().__init__()
        self.host = host
        self.port = port
        self.path = path if path.startswith("/") else "/" + path
        self.url = f"ws://{host}:{port}{self.path}"
        self.wait = wait
        self.any_client = any_client
        self._server: Server | None = None
        self._serving: threading.Thread | None = None
        self._connection: ServerConnection | None = None
        self._arrived = threading.Condition()
        self._connections = 0
        self._handlers = 0  # connection handlers still running

    @property
    def connected(self) -> bool:
        return self._connection is not None

    def bind(self) -> int:
        """Start listening (once) and return the port, for callers that asked for port 0."""
        if self._server is not None:
            return self.port
        try:
            from websockets.sync.server import serve
        except ImportError as exc:
            raise MissingDependency.needs("websockets") from exc
        try:
            self._server = serve(
                self._handle, self.host, self.port, process_request=self._check_request,
                max_size=READ_LIMIT, compression=None, ping_interval=None,
            )
        except OSError as exc:
            raise TransportError(f"lipsync: cannot listen on {self.url}: {exc.strerror or exc}") from exc
        self.port = self._server.socket.getsockname()[1]
        self.url = f"ws://{self.host}:{self.port}{self.path}"
        self._serving = threading.Thread(target=self._server.serve_forever, name="lipsync-ws", daemon=True)
        self._serving.start()
        return self.port

    def _check_request(self, connection: ServerConnection, request: Any) -> Any:
        if request.path != self.path:
            return connection.respond(404, f"lipsync listens on {self.path}\n")
        if self.any_client:
            return None
        if request.headers.get("Origin") is not None:
            return connection.respond(403, "a web page may not act as the agent\n")
        if request.headers.get("X-App-Type") != "MMDAgent":
            return connection.respond(403, "only MMDAgent-EX (X-App-Type: MMDAgent) may connect here\n")
        return None

    def _open(self) -> None:
        self.bind()
        with self._arrived:
            if not self._arrived.wait_for(lambda: self._connection is not None, timeout=self.wait):
                url = self.url
                self._close()
                raise AgentUnreachable(
                    f"lipsync: no agent connected to {url} within {self.wait:g} s: set "
                    f"{agent_setup(self.host, self.port, self.path)} in MMDAgent-EX's .mdf file"
                )

    def _handle(self, connection: ServerConnection) -> None:
        with self._arrived:
            if self._server is None:
                _drop(connection)
                return
            previous, self._connection = self._connection, connection
            self._connections += 1
            self._handlers += 1
            again = self._connections > 1
            self._arrived.notify_all()
        try:
            if previous is not None:
                _drop(previous)  # the agent reconnected: the old session is over
            try:
                connection.send(check_line(HELLO_LINE).decode())  # ends a stale partial line
            except Exception:
                return
            if again:
                self._reconnected()
            splitter = LineSplitter()
            while True:
                try:
                    data = connection.recv(decode=False)
                except Exception:  # closed or broken: the agent will reconnect
                    return
                data = data if isinstance(data, bytes) else data.encode()
                for line in splitter.feed(data if data.endswith(b"\n") else data + b"\n"):
                    self._heard(line)
        finally:
            with self._arrived:
                if self._connection is connection:
                    self._connection = None
                self._handlers -= 1
                self._arrived.notify_all()

    def _send(self, data: bytes) -> None:
        connection = self._connection
        if connection is None:
            raise TransportError(f"lipsync: no agent is connected to {self.url}")
        try:
            connection.send(data.decode())
        except Exception as exc:  # websockets' ConnectionClosed, or OSError
            with self._arrived:
                if self._connection is connection:
                    self._connection = None
            raise TransportError(f"lipsync: lost the agent on {self.url}: {exc}") from exc

    def _close(self) -> None:
        with self._arrived:
            server, self._server = self._server, None
            connection, self._connection = self._connection, None
        if connection is not None:
            _drop(connection)
        with self._arrived:  # let the handler see the drop, so shutdown finds nothing to Close
            self._arrived.wait_for(lambda: self._handlers == 0, timeout=2.0)
        if server is not None:
            server.shutdown()
        if self._serving is not None and self._serving is not threading.current_thread():
            self._serving.join(timeout=2.0)
