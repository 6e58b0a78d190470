"""``lipsync say --server``: what the server can do goes with the say, the rest is refused, and
anything that is not a lipsync server is told apart (in-process: ``main`` against real sockets)."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from serveclient import serve_process, serving
from websockets.sync.server import ServerConnection, serve

import lipsync.cli.say_server
from lipsync import Audio
from lipsync.cli.main import main
from lipsync.live.clock import VirtualClock
from lipsync.live.speaker import Speaker
from lipsync.maps.named import load_map


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["say", *args])
    return code, capsys.readouterr().err


def test_the_servers_own_settings_are_refused_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    for option in (["--to", "tcp://127.0.0.1:9"], ["--model", "gene"], ["--latency", "50"],
                   ["--sync", "clock"], ["--audio", "null"], ["--voice", "x.htsvoice"], ["--speed", "1.2"],
                   ["--half-tone", "2"], ["--wait", "1"], ["--event-timeout", "100"], ["--any-client"],
                   ["--unknown", "a"]):
        code, err = run(capsys, "はい", "--server", "ws://127.0.0.1:9", *option)  # nothing listens there
        assert code == 2 and len(err.splitlines()) == 1, (option, err)
        assert err.startswith(f"lipsync: {option[0]}: not with --server") and "lipsync serve" in err


def test_fps_and_map_go_with_the_say(capsys: pytest.CaptureFixture[str]) -> None:
    heard: list[tuple[float, frozenset[str]]] = []
    with serving(Speaker(None, audio="null", clock=VirtualClock()),
                 on_weights=lambda t, w: heard.append((t, frozenset(w)))) as server:
        code, err = run(capsys, "こんにちは", "--server", server.url, "--fps", "24", "--map", "vrm0")
    assert code == 0, err
    times = [t for t, _ in heard]
    assert times[:3] == pytest.approx([0, 1 / 24, 2 / 24])  # the server's VMC heard the say's rate
    assert {morphs for _, morphs in heard} == {frozenset(load_map("vrm0").morphs)}


def test_the_servers_warnings_reach_the_client_as_the_local_say_prints_them(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    quiet = tmp_path / "quiet.wav"
    Audio(np.zeros(16000, dtype=np.int16), 16000).save_wav(quiet)  # as long as the sequence below
    with serve_process("--unknown", "a") as (url, _):  # its own process: its log is not ours
        code, err = run(capsys, "Hello world", "--server", url)
        assert code == 0, err
        code, mixed = run(capsys, "--wav", str(quiet), "--sequence", "sil,300,k,100,xyz,200,sil,400",
                          "--server", url)
    assert "lipsync: warning: 'Hello world' is not Japanese" in err
    assert code == 0 and "lipsync: warning:" in mixed and "xyz" in mixed  # drawn as the server's --unknown


def test_a_long_wait_and_speech_show_progress_on_a_terminal(capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    with serving(Speaker(None, audio="null", clock=VirtualClock())) as server:
        assert main(["say", "今日はいい天気ですね。散歩に行きましょう。", "--server", server.url]) == 0
    shown = terminal.getvalue()
    assert "waiting for the server" in shown and "speaking on the server: 1.0 s" in shown
    assert shown.endswith("\r")  # the line is cleared at the end


@contextmanager
def websocket_server(handler: Callable[[ServerConnection], None]) -> Iterator[str]:
    with serve(handler, "127.0.0.1", 0) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield f"ws://127.0.0.1:{server.socket.getsockname()[1]}"
        server.shutdown()


@contextmanager
def tcp_server(answer: bytes | None) -> Iterator[str]:
    """Accepts, reads, and answers ``answer`` (None: never answers)."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            held.append(sock)
            sock.recv(4096)
            if answer is not None:
                sock.sendall(answer)
                sock.close()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"ws://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        for sock in held:
            sock.close()


def silent(ws: ServerConnection) -> None:
    for _ in ws:  # an echo server that waits for its client to speak first
        pass


def sender(*messages: Any) -> Callable[[ServerConnection], None]:
    def handler(ws: ServerConnection) -> None:
        for message in messages:
            ws.send(message)
        for _ in ws:
            pass
    return handler


HELLO = '{"type": "hello", "version": "0", "path": "/lipsync", "maps": [], "sample_rate": 48000}'


@pytest.mark.parametrize(("kind", "said"), [
    ("silent", "sent no hello"), ("text", "other than a JSON message"), ("binary", "other than a JSON"),
    ("array", "other than a JSON"), ("not hello", "first message was not hello"),
    ("hello, then garbage", "other than a JSON"), ("huge", "sent no hello"),
    ("http", "answered HTTP 200"), ("tcp, mute", "no lipsync server"),
])
def test_something_that_is_not_lipsync_is_told_apart_quickly(
        kind: str, said: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lipsync.cli.say_server, "HELLO_WAIT", 0.5)
    monkeypatch.setattr(lipsync.cli.say_server, "OPEN_WAIT", 0.5)
    servers = {
        "silent": lambda: websocket_server(silent), "text": lambda: websocket_server(sender("hello!")),
        "binary": lambda: websocket_server(sender(b"\x00\x01")),
        "array": lambda: websocket_server(sender("[1]")),
        "not hello": lambda: websocket_server(sender('{"type": "say"}')),
        "hello, then garbage": lambda: websocket_server(sender(HELLO, "{oops")),
        "huge": lambda: websocket_server(sender("x" * (2 << 20))),
        "http": lambda: tcp_server(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
        "tcp, mute": lambda: tcp_server(None),
    }
    with servers[kind]() as url:
        started = time.monotonic()
        code, err = run(capsys, "はい", "--server", url)
        took = time.monotonic() - started
    assert code == 3 and said in err and len(err.splitlines()) == 1, err
    assert err.startswith("lipsync: ") and "Traceback" not in err
    assert took < 5  # it never waits forever


def test_text_that_is_not_utf8_is_refused_in_one_line(capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    code, err = run(capsys, "abc\udcff", "--server", "ws://127.0.0.1:9")  # as argv carries byte 0xff
    assert code == 2 and err == "lipsync: TEXT: expected UTF-8 text, found byte 0xff at character 4\n"

    class Stdin:
        buffer = io.BytesIO(b"abc\xff")

    monkeypatch.setattr("sys.stdin", Stdin())
    code, err = run(capsys, "-", "--server", "ws://127.0.0.1:9")
    assert code == 2 and err == "lipsync: <stdin>: expected UTF-8 text, found byte 0xff near byte 4\n"
