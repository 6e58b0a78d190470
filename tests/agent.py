"""A small fake MMDAgent-EX for tests, as the real one behaves (observed on MMDAgent-EX built from its
public source, quirks and crashes included).

``TcpAgent`` is the remote server (we connect to it); ``WsAgent`` is the WebSocket client that
connects to our server. Like the real agent, both:

- die on a line that is empty or only white space (the real one dereferences NULL in its line
  parser: SIGSEGV, over TCP and WebSocket alike): every connection drops and ``crashed`` is set;
- over TCP, greet each new connection with ``REMOTE_EVENT_CONNECTED|127.0.0.1`` (``greet``);
  over WebSocket, never (0 of 7 real sessions were greeted);
- echo every line they get to the client (the agent's bus echoes everything), invalid UTF-8
  included, unless ``echo=False`` (an agent that is gone or not reading);
- answer ``LIPSYNC_START|alias|...`` with ``LIPSYNC_EVENT_START|alias`` ``event_delay`` later
  (a number, or a function of the START's number for late events), and ``LIPSYNC_STOP`` with
  ``LIPSYNC_EVENT_STOP``, but only for the model aliases they know: an unknown alias is
  silently ignored (the real agent only logs it).

``WsAgent`` speaks WebSocket over a plain socket, so it can have the real agent's quirks: it
sends ``X-App-Type: MMDAgent`` and no ``Origin``, never answers a Close frame, takes a Close
frame's payload as message text with no newline and keeps that partial line across
reconnects, and reconnects after a drop only while ``retry`` allows.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

Delay = float | Callable[[int], float]


class Recorder:
    """Lines with their ``time.monotonic()`` arrival times, and a way to wait for them."""

    def __init__(
        self, *, events: bool = True, event_delay: Delay = 0.05, aliases: tuple[str, ...] = ("gene",),
        echo: bool = True,
    ) -> None:
        self.received: list[tuple[float, str]] = []
        self.raw: list[bytes] = []
        self.events = events
        self.echo = echo
        self.event_delay = event_delay
        self.aliases = aliases
        self.starts = 0
        #: Set once a blank line killed the agent (as it kills the real one).
        self.crashed = threading.Event()
        self._changed = threading.Condition()

    def _record(self, raw: bytes, reply: Callable[[bytes], None]) -> None:
        if not raw.strip():
            self.crashed.set()
            self._die()
            return
        line = raw.decode("utf-8", errors="replace")
        with self._changed:
            self.received.append((time.monotonic(), line))
            self.raw.append(raw)
            self._changed.notify_all()
        if self.echo:
            reply(raw)  # the bus echoes every line, as it came
        if not self.events:
            return
        kind, _, rest = line.partition("|")
        alias = rest.partition("|")[0]
        answer = {"LIPSYNC_START": "LIPSYNC_EVENT_START", "LIPSYNC_STOP": "LIPSYNC_EVENT_STOP"}.get(kind)
        if answer is None or alias not in self.aliases:
            return  # not a command, or "startLipSync: Gene is not found." in the agent's log only
        delay = self.event_delay
        if kind == "LIPSYNC_START":
            self.starts += 1
            if callable(delay):
                delay = delay(self.starts)
        elif callable(delay):
            delay = 0.05
        timer = threading.Timer(delay, lambda: reply(f"{answer}|{alias}".encode()))
        timer.daemon = True
        timer.start()

    def _die(self) -> None:
        """What SIGSEGV does to the real agent: every connection gone, nobody answering."""
        raise NotImplementedError

    @property
    def lines(self) -> list[str]:
        with self._changed:
            return [line for _, line in self.received]

    def wait_for(self, predicate: Callable[[list[str]], bool], timeout: float = 10.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: predicate([line for _, line in self.received]), timeout)


class TcpAgent(Recorder):
    """A TCP server on 127.0.0.1 (a free port): MMDAgent-EX with Plugin_Remote_EnableServer."""

    def __init__(
        self, *, events: bool = True, event_delay: Delay = 0.05, greet: bool = True,
        aliases: tuple[str, ...] = ("gene",), echo: bool = True,
    ) -> None:
        super().__init__(events=events, event_delay=event_delay, aliases=aliases, echo=echo)
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

    def _die(self) -> None:
        self.events = self.echo = False
        threading.Thread(target=self.close, daemon=True).start()

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
                self._record(raw.rstrip(b"\r"), self.send_bytes)

    def send(self, line: str) -> None:
        self.send_bytes(line.encode())

    def send_bytes(self, line: bytes) -> None:
        with self._send_lock:
            if self.client is not None:
                try:
                    self.client.sendall(line + b"\n")
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


class WsRefused(Exception):
    """Our server answered the WebSocket upgrade with something other than 101."""


class WsAgent(Recorder):
    """MMDAgent-EX's WebSocket side (Plugin_Remote_Websocket_*), quirks and all."""

    def __init__(
        self, url: str, *, events: bool = True, event_delay: Delay = 0.05,
        aliases: tuple[str, ...] = ("gene",), headers: dict[str, str] | None = None,
        retry: bool = False, retry_interval: float = 0.05, hold_first: bool = True, echo: bool = True,
    ) -> None:
        super().__init__(events=events, event_delay=event_delay, aliases=aliases, echo=echo)
        self.url = url
        #: The real agent often leaves a session's first message unread until the next one comes
        #: (8 of 12 probe sessions): the fake always does.
        self.hold_first = hold_first
        self.headers = {"X-App-Type": "MMDAgent"} if headers is None else headers
        self.retry = retry
        self.retry_interval = retry_interval
        self.partial = b""  # text with no newline yet: kept across reconnects, as the real agent does
        self.close_frames = 0  # Close frames received (never answered)
        self.sessions = 0
        self.sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self.thread: threading.Thread | None = None

    # -- connecting ---------------------------------------------------------------------------

    def connect(self) -> None:
        """Connect and return once the upgrade is done; ``WsRefused`` if the server said no."""
        sock = self._handshake()
        self._start(sock)

    def _handshake(self) -> socket.socket:
        sock, self._leftover = ws_handshake(self.url, self.headers)
        return sock

    def _start(self, sock: socket.socket) -> None:
        with self._lock:
            self.sock = sock
            self.sessions += 1
        self.thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
        self.thread.start()
        # No REMOTE_EVENT_CONNECTED: the real agent never greets over WebSocket.

    def _die(self) -> None:
        self._stopped.set()
        self.events = self.echo = False
        threading.Thread(target=self.drop, daemon=True).start()

    # -- frames -------------------------------------------------------------------------------

    def _serve(self, sock: socket.socket) -> None:
        buffer = self._leftover
        held: bytes | None = b"" if self.hold_first else None  # the session's first message, unread
        while True:
            frame = read_frame(sock, buffer)
            if frame is None:
                break
            opcode, payload, buffer = frame
            if opcode == 0x8:
                self.close_frames += 1  # never answered; its payload is taken as text
            elif opcode not in (0x0, 0x1, 0x2):
                continue
            if held == b"":
                held = payload
                continue
            if held:
                payload, held = held + payload, None
            self.partial += payload
            while b"\n" in self.partial:
                raw, self.partial = self.partial.split(b"\n", 1)
                self._record(raw.rstrip(b"\r"), self.send_bytes)
        with self._lock:
            ended_by_server = self.sock is sock  # not by our own drop()
            if ended_by_server:
                self.sock = None
        if ended_by_server and self.retry and not self._stopped.is_set():
            self._stopped.wait(self.retry_interval)
            while not self._stopped.is_set():
                try:
                    self._start(self._handshake())
                    return
                except (OSError, WsRefused):
                    self._stopped.wait(self.retry_interval)

    def send(self, line: str) -> None:
        self.send_bytes(line.encode())

    def send_bytes(self, line: bytes) -> None:
        """One masked text frame holding ``line`` and a newline, invalid UTF-8 and all."""
        frame = masked_frame(line + b"\n")
        with self._lock:
            sock = self.sock
            if sock is None:
                return
            try:
                sock.sendall(frame)
            except OSError:
                pass

    def drop(self) -> None:
        """Drop the TCP connection (no Close frame), as the agent does when it goes away."""
        with self._lock:
            sock, self.sock = self.sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def close(self) -> None:
        self._stopped.set()
        self.drop()

    def wait_session_end(self, timeout: float = 10.0) -> bool:
        """Wait until the server ended the current session (our socket saw EOF)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.sock is None:
                    return True
            time.sleep(0.01)
        return False


def ws_handshake(url: str, headers: dict[str, str]) -> tuple[socket.socket, bytes]:
    """Open a WebSocket to ``url`` over a plain socket: the socket and any bytes after the upgrade.

    ``WsRefused`` if the server answers with something other than 101.
    """
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {parts.path or '/'} HTTP/1.1", f"Host: {parts.hostname}:{parts.port}",
             "Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
             "Sec-WebSocket-Version: 13", *(f"{k}: {v}" for k, v in headers.items())]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        data = sock.recv(4096)
        if not data:
            break
        answer += data
    status = answer.split(b"\r\n", 1)[0]
    if b" 101 " not in status + b" ":
        sock.close()
        raise WsRefused(status.decode(errors="replace"))
    sock.settimeout(None)
    return sock, answer.split(b"\r\n\r\n", 1)[1]


def read_frame(sock: socket.socket, buffer: bytes) -> tuple[int, bytes, bytes] | None:
    """The next frame from ``sock`` after ``buffer``: (opcode, payload, bytes left over), or
    ``None`` once the connection is gone."""

    def need(count: int) -> bytes | None:
        nonlocal buffer
        while len(buffer) < count:
            try:
                data = sock.recv(65536)
            except OSError:
                return None
            if not data:
                return None
            buffer += data
        taken, buffer = buffer[:count], buffer[count:]
        return taken

    head = need(2)
    if head is None:
        return None
    length = head[1] & 0x7F
    if length == 126:
        more = need(2)
        length = struct.unpack("!H", more)[0] if more else -1
    elif length == 127:
        more = need(8)
        length = struct.unpack("!Q", more)[0] if more else -1
    payload = need(length) if length >= 0 else None
    if payload is None:
        return None
    return head[0] & 0x0F, payload, buffer


def masked_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A client's frame (text unless ``opcode`` says otherwise) holding ``payload``, masked as a
    client's must be."""
    mask = os.urandom(4)
    first = 0x80 | opcode
    if len(payload) < 126:
        head = bytes([first, 0x80 | len(payload)])
    elif len(payload) < 65536:
        head = bytes([first, 0x80 | 126]) + struct.pack("!H", len(payload))
    else:
        head = bytes([first, 0x80 | 127]) + struct.pack("!Q", len(payload))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
