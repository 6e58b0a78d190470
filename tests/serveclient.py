"""A WebSocket client of ``lipsync serve`` for tests: it checks every message against the schema."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from websockets.sync.client import ClientConnection, connect

from lipsync.live.speaker import Speaker
from lipsync.serve.server import Server

SCHEMA = json.loads(resources.files("lipsync.serve").joinpath("schema.json").read_text("utf-8"))
Draft202012Validator.check_schema(SCHEMA)
_ROOT = Draft202012Validator(SCHEMA)


def validator(part: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"#/$defs/{part}", "$defs": SCHEMA["$defs"]})


CLIENT, SERVER = validator("client"), validator("server")


class Client:
    """One connection: ``send`` checks the request, ``recv`` checks the reply, ``until`` collects."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.received: list[dict[str, Any]] = []
        self.hello = self.recv()
        assert self.hello["type"] == "hello"

    def send(self, message: dict[str, Any]) -> None:
        CLIENT.validate(message)
        self.connection.send(json.dumps(message))

    def send_raw(self, frame: str | bytes) -> None:
        self.connection.send(frame)

    def recv(self, timeout: float = 30.0) -> dict[str, Any]:
        message = json.loads(self.connection.recv(timeout))
        SERVER.validate(message)
        self.received.append(message)
        return message  # type: ignore[no-any-return]

    def until(self, done: Callable[[dict[str, Any]], bool], timeout: float = 30.0) -> list[dict[str, Any]]:
        """Messages up to and including the first for which ``done`` is true."""
        got = []
        while True:
            message = self.recv(timeout)
            got.append(message)
            if done(message):
                return got

    def ended(self, request_id: str) -> list[dict[str, Any]]:
        return self.until(lambda m: m["type"] == "ended" and m["id"] == request_id)

    def close(self) -> None:
        self.connection.close()


@contextmanager
def client(server: Server, **options: Any) -> Iterator[Client]:
    with connect(server.url, **options) as connection:
        yield Client(connection)


@contextmanager
def serving(speaker: Speaker, **options: Any) -> Iterator[Server]:
    with speaker, Server(speaker, port=0, **options) as server:
        yield server


@contextmanager
def serve_process(*args: str, before: list[str] | None = None,
                  **options: Any) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Run ``lipsync serve --port 0 --audio null ARGS``; yield its ws:// URL (once it listens)
    and the process (``options`` go to ``Popen``; lines it printed before it listened go to
    ``before``). Leaving sends SIGINT and expects exit code 130, unless it has ended already."""
    process = subprocess.Popen([sys.executable, "-m", "lipsync", "serve", "--port", "0", "--audio", "null",
                                *args], stderr=subprocess.PIPE, text=True, **options)
    ended = False
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        while line.startswith("lipsync: warning: ") and before is not None:
            before.append(line)
            line = process.stderr.readline()
        assert "serving ws://" in line, line + process.stderr.read()
        yield line.split("serving ")[1].split()[0], process
        ended = process.poll() is not None
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        code = process.wait(timeout=20)
        if process.stderr is not None:
            process.stderr.close()
    assert ended or code == 130


def stuck_client(port: int) -> socket.socket:
    """A WebSocket client whose program stopped (its event loop gone, its socket open): it
    completes the handshake, then never reads nor answers again. Close the socket to end it."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(f"GET /lipsync HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                 .encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(1)
    assert answer.startswith(b"HTTP/1.1 101 "), answer
    return sock


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Poll ``condition`` until it holds (a state to reach, not a time to measure)."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True
