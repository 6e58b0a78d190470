"""``lipsync serve`` and ``lipsync say --server`` as processes, with a fake agent."""

from __future__ import annotations

import json
import os
import queue
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from agent import TcpAgent
from serveclient import serve_process, stuck_client, wait_until
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import connect

from lipsync.maps.named import MAP_NAMES
from lipsync.speech.synthesis import synthesize

LIPSYNC = [sys.executable, "-m", "lipsync"]
LONG = "今日はとても良い天気ですね。散歩に行きましょう。公園で少し休んでから、帰りに買い物をします。"


@contextmanager
def serve(*args: str) -> Iterator[str]:
    with serve_process(*args) as (url, _):
        yield url


def say(*args: str, **options: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LIPSYNC, "say", *args], capture_output=True, text=True, timeout=60, **options)  # type: ignore[call-overload, no-any-return]


def test_say_through_the_server_drives_its_one_agent_connection() -> None:
    _, timeline = synthesize("こんにちは")
    with TcpAgent() as agent, serve("--to", agent.url, "--model", "mei", "--sync", "clock") as url:
        for _ in range(2):
            result = say("こんにちは", "--server", url.removesuffix("/lipsync"))
            assert result.returncode == 0, result.stderr
        assert agent.lines == [f"LIPSYNC_START|mei|{timeline.to_sequence()}"] * 2
        assert agent.connections == 1


def test_say_server_exit_codes_refused_and_unreachable_and_serve_stderr_stays_short() -> None:
    with serve_process() as (url, process):
        refused = say("はい", "--server", url, "--map", "vrn")
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        # The same words as without --server: the named maps and the closest (it was garbled).
        assert refused.stderr == ("lipsync: the server refused it: vrn: this server reads no map files "
                                  "(lipsync serve --maps-dir DIR), and not a named map "
                                  f"({', '.join(MAP_NAMES)}): did you mean vrm?\n")
        nothing = say("ー" * 1000, "--server", url)  # 100 KB of Open JTalk's warnings on the server
        assert nothing.returncode == 2 and "nothing to say" in nothing.stderr  # as without --server
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 130
        assert process.stderr is not None
        stderr = process.stderr.read()
    assert len(stderr) < 1000 and all(line.startswith("lipsync: ") for line in stderr.splitlines()), stderr
    unreachable = say("はい", "--server", url)
    assert unreachable.returncode == 3 and "no lipsync server" in unreachable.stderr
    assert say("はい", "--server", "http://x").returncode == 2
    port = subprocess.run([*LIPSYNC, "serve", "--port", "65536"], capture_output=True, text=True, timeout=60)
    assert port.returncode == 2 and "expected a port from 0 to 65535" in port.stderr
    assert "Traceback" not in port.stderr


def test_say_server_interrupted_stops_the_speech_and_the_agent_lips() -> None:
    with TcpAgent() as agent, serve("--to", agent.url, "--model", "mei", "--sync", "clock") as url:
        command = [*LIPSYNC, "say", LONG, "--server", url]
        process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        assert agent.wait_for(lambda lines: any(x.startswith("LIPSYNC_START|mei|") for x in lines))
        os.kill(process.pid, signal.SIGINT)
        assert process.wait(timeout=20) == 130
        assert agent.wait_for(lambda lines: "LIPSYNC_STOP|mei" in lines)
        assert process.stderr is not None and "Traceback" not in process.stderr.read()
        process.stderr.close()


@pytest.mark.parametrize(("signum", "code", "said"), [(signal.SIGTERM, 0, "stopped (SIGTERM)"),
                                                      (signal.SIGINT, 130, "interrupted")])
def test_a_signal_ends_serve_within_a_second_with_ended_and_stop_whatever_the_clients_do(
        signum: int, code: int, said: str) -> None:
    with TcpAgent() as agent, serve_process("--to", agent.url, "--model", "mei", "--sync", "clock") as (
            url, process):
        stuck = stuck_client(int(url.split(":")[2].split("/")[0]))  # its program gone, its socket open
        try:
            with connect(url) as speaking:
                assert json.loads(speaking.recv(10))["type"] == "hello"
                speaking.send(json.dumps({"type": "say", "id": "cut", "text": LONG}))
                assert json.loads(speaking.recv(10))["type"] == "started"
                assert agent.wait_for(lambda lines: any(x.startswith("LIPSYNC_START|mei|") for x in lines))
                signalled = time.monotonic()
                process.send_signal(signum)
                assert process.wait(timeout=10) == code
                took = time.monotonic() - signalled
                got = []
                with pytest.raises(ConnectionClosed) as closed:
                    while True:
                        got.append(json.loads(speaking.recv(5)))
        finally:
            stuck.close()
        assert [m for m in got if m["type"] == "ended"] == [{"type": "ended", "id": "cut", "stopped": True}]
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001  # the Close came after it
        assert agent.wait_for(lambda lines: "LIPSYNC_STOP|mei" in lines)
        assert process.stderr is not None
        stderr = process.stderr.read()
        assert said in stderr and "Traceback" not in stderr
    # The requirement is a second whatever the clients do (it took ~10 s); the server gives
    # them 0.3 s of it, and exited 0.5-0.7 s after the signal here. A machine with more runnable
    # processes than cores stretches every step alike: the second stretches with it (to 3 s).
    stretch = min(3.0, max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1)))
    print(f"{said}: exited {took:.3f} s after the signal (allowed {stretch:.2f} s)")
    assert took < stretch, f"{took:.2f} s from the signal to the exit"


def test_serve_takes_the_clients_its_file_descriptors_allow_and_never_stops_serving() -> None:
    def few_descriptors() -> None:  # in the child: 128, and no raising it
        resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))

    before: list[str] = []
    with serve_process("--max-clients", "500", before=before, preexec_fn=few_descriptors) as (url, process):
        assert len(before) == 1 and "clients fit in this process's file descriptors" in before[0]
        stream = process.stderr
        assert stream is not None
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in stream], daemon=True).start()
        port = int(url.split(":")[2].split("/")[0])
        flood = [socket.create_connection(("127.0.0.1", port)) for _ in range(60)]  # today's end: EMFILE
        try:
            assert "refusing more" in lines.get(timeout=10)
        finally:
            for sock in flood:
                sock.close()
        assert wait_until(lambda: hello(url))  # the flood's places come free
        with connect(url, open_timeout=20) as ws:  # still serving (once the flood's places are free)
            assert json.loads(ws.recv(10))["type"] == "hello"
            ws.send(json.dumps({"type": "say", "id": "after", "text": "はい"}))
            while (message := json.loads(ws.recv(10)))["type"] != "ended":
                pass
            assert message == {"type": "ended", "id": "after", "stopped": False}
        assert process.poll() is None
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 130
    time.sleep(0.2)  # the reading thread's last lines
    said = "".join(lines.queue)
    assert all(line.startswith("lipsync: ") for line in said.splitlines()), said[:500]  # no tracebacks
    assert "Too many open files" not in said


def hello(url: str) -> bool:
    """Whether the server at ``url`` greets a new client now."""
    try:
        with connect(url, open_timeout=2) as ws:
            return bool(json.loads(ws.recv(2))["type"] == "hello")
    except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed):
        return False


def test_serve_takes_the_voice_settings_say_server_leaves_to_it() -> None:
    from lipsync.cli.main import build_parser

    args = build_parser().parse_args(["serve", "--speed", "1.2", "--half-tone", "2", "--tts",
                                      "voicevox://127.0.0.1:50021", "--pitch", "0.1"])
    assert (args.speed, args.half_tone, args.tts, args.pitch) == (1.2, 2.0, "voicevox://127.0.0.1:50021", 0.1)
