"""``tcp://HOST:PORT``: MMDAgent-EX's Plugin_Remote is the server, we are its one client.

One connection for the whole run (the agent copes badly with clients that come and go).
A reader thread hears the agent; when the connection drops it reconnects with backoff and
tells the ``on_connect`` listeners. Sends never wait long: a stalled agent (not reading,
its socket buffer full) costs at most ``send_timeout``, then counts as a drop.
"""

from __future__ import annotations

import socket
import threading
import time

from lipsync._ready import readable, writable
from lipsync.errors import AgentUnreachable, TransportError
from lipsync.live.transport.base import LineSplitter, Transport

__all__ = ["DEFAULT_PORT", "TcpTransport"]

#: The port of MMDAgent-EX's documented Plugin_Remote_EnableServer example.
DEFAULT_PORT = 50001
_BACKOFF_FIRST = 0.05
_BACKOFF_MAX = 2.0


class TcpTransport(Transport):
    """A TCP client to the agent at ``host:port``."""

    greets = True  # a live MMDAgent-EX greets each connection with REMOTE_EVENT_CONNECTED
    echoes = True  # every message on the agent's bus reaches every client, ours too

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        wait: float = 0.0,
        connect_timeout: float = 2.0,
        send_timeout: float = 0.5,
    ) -> None:
        super().__init__()
        self.host = host
        self.port = port
        self.url = f"tcp://{host}:{port}"
        self.wait = wait
        self.connect_timeout = connect_timeout
        self.send_timeout = send_timeout
        self._sock: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._closing = threading.Event()
        self._reader: threading.Thread | None = None

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        return sock

    def _open(self) -> None:
        deadline = time.monotonic() + self.wait
        delay = _BACKOFF_FIRST
        while True:
            try:
                self._sock = self._connect()
                break
            except OSError as exc:
                if time.monotonic() + delay > deadline or self._closing.is_set():
                    raise AgentUnreachable(
                        f"lipsync: no agent at {self.url} ({exc.strerror or exc}): start MMDAgent-EX "
                        f"with Plugin_Remote_EnableServer=true and Plugin_Remote_ListenPort={self.port} "
                        "in its .mdf file"
                    ) from exc
                self._closing.wait(delay)
                delay = min(delay * 2, _BACKOFF_MAX)
        reader = threading.Thread(target=self._read, name="lipsync-tcp", daemon=True)
        reader.start()
        self._reader = reader  # only once started: a signal in between leaves nothing to join

    def _read(self) -> None:
        splitter = LineSplitter()
        delay = _BACKOFF_FIRST
        heard = True  # whether the current connection has brought anything
        while not self._closing.is_set():
            sock = self._sock
            if sock is None:
                try:
                    sock = self._connect()
                except OSError:
                    self._closing.wait(delay)
                    delay = min(delay * 2, _BACKOFF_MAX)
                    continue
                splitter = LineSplitter()
                self._sock = sock
                heard = False
                self._reconnected()
                continue
            try:
                data = sock.recv(65536) if readable(sock, 0.1) else None
            except (OSError, ValueError):
                data = b""
            if data is None:
                continue
            if not data:
                self._drop(sock)
                if not heard:
                    # Taken and dropped before a word: an agent that resets every connection.
                    # Back off as if it had refused, or we would reconnect thousands of times.
                    self._closing.wait(delay)
                    delay = min(delay * 2, _BACKOFF_MAX)
                continue
            if not heard:
                heard, delay = True, _BACKOFF_FIRST  # a live agent: the next drop starts afresh
            for line in splitter.feed(data):
                self._heard(line)
            if len(data) == 65536:
                time.sleep(0)  # a flooding agent: let the scheduler's thread have the GIL now

    def _drop(self, sock: socket.socket) -> None:
        with self._send_lock:
            if self._sock is sock:
                self._sock = None
        sock.close()

    def _send(self, data: bytes) -> None:
        with self._send_lock:
            sock = self._sock
            if sock is None:
                raise TransportError(f"lipsync: the agent at {self.url} is not connected")
            deadline = time.monotonic() + self.send_timeout
            view = memoryview(data)
            try:
                while view:
                    remaining = deadline - time.monotonic()
                    if not writable(sock, remaining):
                        raise TransportError(
                            f"lipsync: the agent at {self.url} stopped reading for {self.send_timeout} s"
                        )
                    view = view[sock.send(view) :]
            except (OSError, ValueError, TransportError) as exc:
                self._sock = None
                sock.close()
                if isinstance(exc, TransportError):
                    raise
                raise TransportError(f"lipsync: lost the agent at {self.url}: {exc}") from exc

    def _close(self) -> None:
        self._closing.set()
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(timeout=1.0)
        with self._send_lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
