"""A WebSocket client of ``lipsync serve`` for tests: it checks every message against the schema."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
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
def serve_process(*args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Run ``lipsync serve --port 0 --audio null ARGS``; yield its ws:// URL (once it listens)
    and the process. Leaving sends SIGINT and expects exit code 130."""
    process = subprocess.Popen([sys.executable, "-m", "lipsync", "serve", "--port", "0", "--audio", "null",
                                *args], stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert "serving ws://" in line, line + process.stderr.read()
        yield line.split("serving ")[1].split()[0], process
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=20)
        process.stderr.close()  # type: ignore[union-attr]
    assert code == 130
