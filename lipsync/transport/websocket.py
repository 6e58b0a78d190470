"""``ws://HOST:PORT/PATH``: we are the WebSocket server and MMDAgent-EX connects to us.

MMDAgent-EX's Plugin_Remote connects to ``Plugin_Remote_Websocket_Host``/``_Port``/
``_Directory`` and reconnects when dropped; each message is one text frame. We bind only
the given host, wait up to ``wait`` seconds for the agent, and take each new connection as
the agent (the newest wins).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from lipsync.errors import AgentUnreachable, MissingDependency, TransportError
from lipsync.transport.base import READ_LIMIT, LineSplitter, Transport

if TYPE_CHECKING:
    from websockets.sync.server import Server, ServerConnection

__all__ = ["WebSocketTransport"]


class WebSocketTransport(Transport):
    """A WebSocket server at ``host:port`` that takes the agent's connection on ``path``."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 9001, path: str = "/chat", *, wait: float = 10.0
    ) -> None:
        super().__init__()
        self.host = host
        self.port = port
        self.path = path if path.startswith("/") else "/" + path
        self.url = f"ws://{host}:{port}{self.path}"
        self.wait = wait
        self._server: Server | None = None
        self._serving: threading.Thread | None = None
        self._connection: ServerConnection | None = None
        self._arrived = threading.Condition()
        self._connections = 0

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
            raise MissingDependency("websockets is not installed: pip install websockets") from exc
        try:
            self._server = serve(
                self._handle, self.host, self.port, process_request=self._check_path,
                max_size=READ_LIMIT, compression=None, ping_interval=None,
            )
        except OSError as exc:
            raise TransportError(f"lipsync: cannot listen on {self.url}: {exc.strerror or exc}") from exc
        self.port = self._server.socket.getsockname()[1]
        self.url = f"ws://{self.host}:{self.port}{self.path}"
        self._serving = threading.Thread(target=self._server.serve_forever, name="lipsync-ws", daemon=True)
        self._serving.start()
        return self.port

    def _check_path(self, connection: ServerConnection, request: Any) -> Any:
        if request.path != self.path:
            return connection.respond(404, f"lipsync listens on {self.path}\n")
        return None

    def _open(self) -> None:
        self.bind()
        with self._arrived:
            if not self._arrived.wait_for(lambda: self._connection is not None, timeout=self.wait):
                url = self.url
                self._close()
                raise AgentUnreachable(
                    f"lipsync: no agent connected to {url} within {self.wait:g} s: set "
                    f"Plugin_Remote_Websocket_Host={self.host}, Plugin_Remote_Websocket_Port={self.port} "
                    f"and Plugin_Remote_Websocket_Directory={self.path} in MMDAgent-EX's .mdf file"
                )

    def _handle(self, connection: ServerConnection) -> None:
        with self._arrived:
            previous, self._connection = self._connection, connection
            self._connections += 1
            again = self._connections > 1
            self._arrived.notify_all()
        if previous is not None:
            previous.close()
        if again:
            self._reconnected()
        splitter = LineSplitter()
        try:
            for message in connection:
                data = message.encode() if isinstance(message, str) else message
                for line in splitter.feed(data if data.endswith(b"\n") else data + b"\n"):
                    self._heard(line)
        except Exception:  # a broken connection ends like a closed one: the agent will reconnect
            pass
        finally:
            with self._arrived:
                if self._connection is connection:
                    self._connection = None

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
        server, self._server = self._server, None
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
        if server is not None:
            server.shutdown()
        if self._serving is not None and self._serving is not threading.current_thread():
            self._serving.join(timeout=2.0)
