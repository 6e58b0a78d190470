"""A small fake MMDAgent-EX for tests: it records each line with its arrival time.

``TcpAgent`` is the remote server (we connect to it); ``WsAgent`` is the WebSocket client
that connects to our server. Both answer like the real agent when asked: an echo of each
line (the bus echoes everything) and ``LIPSYNC_EVENT_START|alias`` ``event_delay`` later.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable


class Recorder:
    """Lines with their ``time.monotonic()`` arrival times, and a way to wait for them."""

    def __init__(self, *, events: bool = True, event_delay: float = 0.05) -> None:
        self.received: list[tuple[float, str]] = []
        self.events = events
        self.event_delay = event_delay
        self._changed = threading.Condition()

    def _record(self, line: str, reply: Callable[[str], None]) -> None:
        with self._changed:
            self.received.append((time.monotonic(), line))
            self._changed.notify_all()
        if not self.events:
            return
        reply(line)
        kind, _, rest = line.partition("|")
        alias = rest.partition("|")[0]
        answer = {"LIPSYNC_START": "LIPSYNC_EVENT_START", "LIPSYNC_STOP": "LIPSYNC_EVENT_STOP"}.get(kind)
        if answer:
            timer = threading.Timer(self.event_delay, lambda: reply(f"{answer}|{alias}"))
            timer.daemon = True
            timer.start()

    @property
    def lines(self) -> list[str]:
        with self._changed:
            return [line for _, line in self.received]

    def wait_for(self, predicate: Callable[[list[str]], bool], timeout: float = 10.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: predicate([line for _, line in self.received]), timeout)


class TcpAgent(Recorder):
    """A TCP server on 127.0.0.1 (a free port): MMDAgent-EX with Plugin_Remote_EnableServer."""

    def __init__(self, *, events: bool = True, event_delay: float = 0.05, greet: bool = True) -> None:
        super().__init__(events=events, event_delay=event_delay)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.url = f"tcp://127.0.0.1:{self.port}"
        self.greet = greet
        self.connections = 0
        self.stalled = threading.Event()
        self.client: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            self.client = client
            if self.greet:
                self.send("REMOTE_EVENT_CONNECTED|127.0.0.1")
                self.send("CURRENT_TIME|12|00")
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        buffer = b""
        while True:
            if self.stalled.is_set():
                time.sleep(0.01)
                continue
            try:
                data = client.recv(65536)
            except OSError:
                return
            if not data:
                return
            buffer += data
            while b"\n" in buffer:
                raw, buffer = buffer.split(b"\n", 1)
                self._record(raw.decode("utf-8"), self.send)

    def send(self, line: str) -> None:
        with self._send_lock:
            if self.client is not None:
                try:
                    self.client.sendall(line.encode() + b"\n")
                except OSError:
                    pass

    def send_raw(self, data: bytes) -> None:
        with self._send_lock:
            assert self.client is not None
            self.client.sendall(data)

    def drop(self) -> None:
        """Close the current connection (the agent went away); new ones are still accepted."""
        client, self.client = self.client, None
        if client is not None:
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:  # the client left first
                pass
            client.close()

    def close(self) -> None:
        self._closed = True
        self.drop()
        self.server.close()

    def __enter__(self) -> TcpAgent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class WsAgent(Recorder):
    """MMDAgent-EX's WebSocket side: connects to our server with ``X-App-Type: MMDAgent``."""

    def __init__(self, url: str, *, events: bool = True, event_delay: float = 0.05) -> None:
        super().__init__(events=events, event_delay=event_delay)
        self.url = url
        self.connection: object = None
        self._lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def connect(self) -> None:
        """Connect (in a thread of its own) and return once connected."""
        ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self.thread.start()
        assert ready.wait(5), f"could not connect to {self.url}"

    def _serve(self, ready: threading.Event) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        with connect(self.url, additional_headers={"X-App-Type": "MMDAgent"}) as connection:
            with self._lock:
                self.connection = connection
            ready.set()
            try:
                for message in connection:
                    for line in str(message).splitlines():
                        self._record(line, self.send)
            except ConnectionClosed:
                pass

    def send(self, line: str) -> None:
        with self._lock:
            connection = self.connection
        if connection is not None:
            try:
                connection.send(line + "\n")  # type: ignore[attr-defined]
            except Exception:
                pass

    def drop(self) -> None:
        with self._lock:
            connection, self.connection = self.connection, None
        if connection is not None:
            connection.close()  # type: ignore[attr-defined]
