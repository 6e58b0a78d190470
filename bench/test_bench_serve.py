"""``lipsync serve`` (issue 11): warm latency, frame timing, steadiness, cold start vs server.

The server runs as its own process (``lipsync serve --audio null``), so what is measured is
what a client sees, and resources are read from the server's /proc entry, not pytest's.
Targets: ``say`` -> ``started`` within 1.2 x the in-process synthesis time + 10 ms (a short
sentence; the first piece of a 2 000-character text); "audio": "local" frames at 60 fps
arriving within 2 ms of their sample times (p99); 8 clients speaking in turn with no growth
in threads, file descriptors or memory. ``LIPSYNC_BENCH_SERVE_SECONDS`` sets how long the
8 clients speak (default 60; the issue's figure is 300).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from agent import TcpAgent, masked_frame, read_frame, ws_handshake
from serveclient import serve_process
from texts import text_of
from timing import median_synthesis
from websockets.sync.client import ClientConnection, connect

from lipsync import synthesize
from lipsync.speech.pieces import split_text

SHORT = "こんにちは、今日はいい天気ですね。"
SECONDS = float(os.environ.get("LIPSYNC_BENCH_SERVE_SECONDS", "60"))


def _messages(connection: ClientConnection, request_id: str, until: str) -> list[tuple[float, dict]]:
    """(arrival time, message) for ``request_id`` up to its ``until`` message."""
    got = []
    while True:
        message = json.loads(connection.recv(60))
        at = time.monotonic()
        if message.get("id") == request_id:
            got.append((at, message))
            if message["type"] in (until, "error"):
                assert message["type"] == until, message
                return got


def _to_started(url: str, text: str, rounds: int) -> float:
    """Median client-side time from sending ``say`` to its ``started``."""
    times = []
    with connect(url, max_size=None) as connection:
        json.loads(connection.recv())  # hello
        for number in range(rounds):
            request_id = f"r{number}"
            sent = time.monotonic()
            connection.send(json.dumps({"type": "say", "id": request_id, "text": text}))
            at, _ = _messages(connection, request_id, "started")[-1]
            times.append(at - sent)
            connection.send(json.dumps({"type": "stop"}))
            _messages(connection, request_id, "ended")
            time.sleep(0.4)  # two requests a round, within the server's 5 a second per address
    return statistics.median(times)


def test_warm_server_say_to_started(benchmark, figures):
    first_piece = split_text(text_of(2000))[0]
    synthesize(SHORT)
    short_bare = median_synthesis(SHORT, 10)
    long_bare = median_synthesis(first_piece, 10)
    with serve_process() as (url, _):
        _to_started(url, SHORT, 2)  # the first connection and request warm the path
        short = benchmark.pedantic(_to_started, args=(url, SHORT, 10), rounds=1)
        long = _to_started(url, text_of(2000), 5)
    figures.add("serve: synthesis in-process, short sentence (17 characters)", short_bare)
    figures.add("serve: say → started, short sentence", short,
                baseline="serve: synthesis in-process, short sentence (17 characters)",
                target="≤ 1.2 × synthesis + 10 ms", check=lambda v, b: b is not None and v <= 1.2 * b + 0.010)
    piece = f"serve: synthesis in-process, first piece of 2000 characters ({len(first_piece)})"
    figures.add(piece, long_bare)
    figures.add("serve: say → first started, 2000 characters", long, baseline=piece,
                target="≤ 1.2 × synthesis + 10 ms", check=lambda v, b: b is not None and v <= 1.2 * b + 0.010)


def _frame_lags(url: str, rounds: int) -> list[float]:
    """Arrival of each 60 fps frame minus its sample time: ``started.clock`` (the server's
    monotonic clock, the same as ours on one machine) + the frame's ``t``.

    A frame arrives when its last byte comes off the client's socket: read here with a plain
    socket, as an engine's own reader would, not through websockets' sync client, whose
    reading thread hands each message on to the caller's (0.4 ms more at the median here).
    """
    sock, buffer = ws_handshake(url, {})
    lags = []
    try:
        for number in range(rounds):
            request_id = f"f{number}"
            sock.sendall(masked_frame(json.dumps({"type": "say", "id": request_id, "text": SHORT,
                                                  "fps": 60}).encode()))
            first = None
            while True:
                frame = read_frame(sock, buffer)
                at = time.monotonic()
                assert frame is not None, "the server closed the connection"
                opcode, payload, buffer = frame
                if opcode == 0x9:  # the server's keepalive ping
                    sock.sendall(masked_frame(payload, 0xA))
                if opcode != 0x1:
                    continue
                message = json.loads(payload)
                if message.get("id") != request_id:
                    continue
                assert message["type"] != "error", message
                if message["type"] == "started":
                    first = message["clock"]
                elif message["type"] == "frame":
                    assert first is not None
                    lags.append(at - (first + message["t"]))
                elif message["type"] == "ended":
                    break
    finally:
        sock.close()
    return lags


def _frame_lags_through_websockets(url: str, rounds: int) -> list[float]:
    """The same, each frame's arrival taken when websockets' sync client hands it over."""
    lags = []
    with connect(url, max_size=None) as connection:
        json.loads(connection.recv())
        for number in range(rounds):
            request_id = f"w{number}"
            connection.send(json.dumps({"type": "say", "id": request_id, "text": SHORT, "fps": 60}))
            got = _messages(connection, request_id, "ended")
            first = next(m["clock"] for _, m in got if m["type"] == "started")
            lags += [at - (first + m["t"]) for at, m in got if m["type"] == "frame"]
    return lags


def test_local_frames_arrive_on_their_sample_times(benchmark, figures):
    with serve_process() as (url, _):
        _to_started(url, SHORT, 1)
        lags = sorted(benchmark.pedantic(_frame_lags, args=(url, 10), rounds=1))
        handed = sorted(_frame_lags_through_websockets(url, 10))
    p99 = lags[int(0.99 * (len(lags) - 1))]
    figures.add(f"serve: frame arrival − sample time, 60 fps, median of {len(lags)}", statistics.median(lags))
    figures.add("serve: frame arrival − sample time, 60 fps, p99", p99, target="≤ 2 ms",
                check=lambda v, b: v <= 0.002)
    figures.add("serve: the same, handed over by websockets' sync client, median", statistics.median(handed))
    figures.add("serve: the same, handed over by websockets' sync client, p99",
                handed[int(0.99 * (len(handed) - 1))])


def _resources(pid: int) -> tuple[int, int, int]:
    """Threads, open file descriptors and resident memory (bytes) of process ``pid``."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines())
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return int(fields["Threads"]), fds, int(fields["VmRSS"].split()[0]) * 1024


def _settled(pid: int) -> tuple[int, int, int]:
    """Resources once the per-utterance threads have wound down (they end just after ``ended``)."""
    time.sleep(0.3)
    return _resources(pid)


Usage = tuple[int, int, int]


def _eight_clients(url: str, pid: int, seconds: float) -> tuple[Usage, Usage, int]:
    stacks = [ExitStack() for _ in range(8)]

    def join(number: int) -> ClientConnection:
        connection = stacks[number].enter_context(connect(url, max_size=None))
        json.loads(connection.recv())  # hello
        return connection

    clients = [join(number) for number in range(8)]
    said = 0

    def turn() -> None:
        nonlocal said
        for number, c in enumerate(clients):
            request_id = f"c{said}"
            mode = "local" if number % 2 else "client"
            c.send(json.dumps({"type": "say", "id": request_id, "text": SHORT, "audio": mode}))
            _messages(c, request_id, "ended")
            said += 1
        # One client leaves and another comes: connections churn too.
        stacks[said % 8].close()
        clients[said % 8] = join(said % 8)

    turn()
    turn()
    before = _settled(pid)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        turn()
    after = _settled(pid)
    for stack in stacks:
        stack.close()
    return before, after, said


def test_eight_clients_in_turn_do_not_grow_the_server(benchmark, figures):
    with serve_process() as (url, process):
        before, after, said = benchmark.pedantic(_eight_clients, args=(url, process.pid, SECONDS), rounds=1)
    span = f"{SECONDS:g} s, {said} utterances"
    for index, what, unit in ((0, "threads", "threads"), (1, "open fds", "fds")):
        warm = f"serve: {what} after warm-up, 8 clients"
        figures.add(warm, before[index], unit)
        figures.add(f"serve: {what} after {span}", after[index], unit, baseline=warm,
                    target="no growth", check=lambda v, b: b is not None and v <= b)
    figures.add("serve: resident memory after warm-up, 8 clients", before[2], "B")
    figures.add(f"serve: resident memory after {span}", after[2], "B",
                baseline="serve: resident memory after warm-up, 8 clients", target="≤ 1.05 × after warm-up",
                check=lambda v, b: b is not None and v <= 1.05 * b)


def _exec_to_start(command: list[str], agent: TcpAgent) -> float:
    """From exec of ``command`` to the first LIPSYNC_START arriving at ``agent``."""
    count = len(agent.lines)
    began = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert agent.wait_for(lambda lines: len(lines) > count, timeout=30)
    arrival = next(at for at, line in agent.received[count:] if line.startswith("LIPSYNC_START"))
    assert process.wait(timeout=30) == 0
    return arrival - began


def test_cold_say_vs_say_through_the_server(benchmark, figures):
    lipsync = [sys.executable, "-m", "lipsync", "say", "こんにちは"]
    with TcpAgent(events=False) as agent:
        cold = statistics.median(_exec_to_start(
            [*lipsync, "--model", "mei", "--to", agent.url, "--audio", "null", "--sync", "clock"], agent)
            for _ in range(5))
    with TcpAgent(events=False) as agent, serve_process("--to", agent.url, "--model", "mei",
                                                        "--sync", "clock") as (url, _):
        _exec_to_start([*lipsync, "--server", url], agent)
        warm = benchmark.pedantic(lambda: statistics.median(
            _exec_to_start([*lipsync, "--server", url], agent) for _ in range(5)), rounds=1)
    cold_name = "cold `lipsync say こんにちは`: exec → first START, median of 5"
    figures.add(cold_name, cold)
    figures.add("`lipsync say こんにちは --server`: exec → first START, median of 5", warm,
                baseline=cold_name, target="", check=None)
