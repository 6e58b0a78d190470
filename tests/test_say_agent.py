"""``lipsync say`` and ``Speaker`` against a fake agent on real sockets (127.0.0.1)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from agent import TcpAgent, WsAgent

from lipsync import AgentUnreachable, Audio, Timeline
from lipsync.live.audio.null import NullOutput
from lipsync.live.speaker import Speaker
from lipsync.live.transport.tcp import TcpTransport
from lipsync.speech.synthesis import synthesize

KONNICHIWA = "sil,187,k,75,o,75,N,75,n,75,i,62,ch,75,i,87,w,100,a,87,sil,212"
LIPSYNC = [sys.executable, "-m", "lipsync"]


def silent(timeline: Timeline, seconds: float | None = None) -> Audio:
    length = float(timeline.duration) if seconds is None else seconds
    return Audio(np.zeros(round(length * 48000), dtype=np.int16), 48000)


def run(*args: str, **options: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LIPSYNC, *args], capture_output=True, text=True, timeout=60, **options)  # type: ignore[call-overload, no-any-return]


def write_wav(path: Path, timeline: Timeline) -> Path:
    silent(timeline).save_wav(path)
    return path


def test_say_konnichiwa_arrives_as_one_start_with_its_sequence() -> None:
    _, timeline = synthesize("こんにちは")
    with TcpAgent() as agent:
        result = run("say", "こんにちは", "--model", "gene", "--to", agent.url, "--audio", "null")
        assert result.returncode == 0, result.stderr
        assert agent.lines == [f"LIPSYNC_START|gene|{timeline.to_sequence()}"]


def test_say_a_wav_with_its_sequence_and_show_lines_with_times(tmp_path: Path) -> None:
    timeline = Timeline.from_sequence(KONNICHIWA)
    wav = write_wav(tmp_path / "k.wav", timeline)
    with TcpAgent() as agent:
        result = run("say", "--wav", str(wav), "--sequence", KONNICHIWA, "--model", "gene",
                     "--to", agent.url, "--audio", "null", "-v")
        assert result.returncode == 0, result.stderr
        assert agent.lines == [f"LIPSYNC_START|gene|{KONNICHIWA}"]
    assert f"> LIPSYNC_START|gene|{KONNICHIWA}" in result.stderr
    assert "< LIPSYNC_EVENT_START|gene" in result.stderr
    assert "CURRENT_TIME" not in result.stderr  # not ours: ignored


def test_a_long_timeline_arrives_as_several_starts_at_their_chunk_times() -> None:
    names = ["a", "k", "i", "s", "u", "pau"]
    timeline = Timeline([(names[i % 6], Fraction(4, 1000)) for i in range(700)])  # 2.8 s, > 2 KB
    chunks = timeline.chunks(alias="gene")
    assert len(chunks) >= 2
    output = NullOutput()
    with TcpAgent(events=False) as agent:
        with Speaker(agent.url, "gene", audio=output, sync="clock") as speaker:
            utterance = speaker.say(silent(timeline), timeline)
            utterance.wait(30)
        assert agent.lines == [c.line("gene").rstrip("\n") for c in chunks]
        assert utterance.started_at is not None
        for (arrived, _), chunk in zip(agent.received, chunks, strict=True):
            # Never early. (How exactly on time is a sample-clock matter: test_speaker.py checks it
            # on a virtual clock, bench/ measures it on this socket.)
            assert arrived >= utterance.started_at + float(chunk.start)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_speech_sends_stop_and_exits_130(signum: int, tmp_path: Path) -> None:
    timeline = Timeline.from_sequence(KONNICHIWA.replace("sil,212", "sil,3000"))
    wav = write_wav(tmp_path / "k.wav", timeline)
    for _ in range(10):
        with TcpAgent() as agent:
            process = subprocess.Popen(
                [*LIPSYNC, "say", "--wav", str(wav), "--sequence", timeline.to_sequence(), "--model", "gene",
                 "--to", agent.url, "--audio", "null"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            assert agent.wait_for(lambda lines: any(x.startswith("LIPSYNC_START") for x in lines))
            process.send_signal(signum)
            _, stderr = process.communicate(timeout=10)
            assert process.returncode == 130, stderr
            assert agent.wait_for(lambda lines: "LIPSYNC_STOP|gene" in lines, timeout=2)
            assert agent.lines.count("LIPSYNC_STOP|gene") == 1
            assert "Traceback" not in stderr


def test_an_agent_that_drops_mid_speech_gets_the_rest_when_it_is_back() -> None:
    timeline = Timeline.from_sequence("sil,100," + ",".join("a,100,k,100" for _ in range(10)) + ",sil,100")
    with TcpAgent(events=False) as agent:
        with Speaker(agent.url, "gene", audio="null", sync="clock") as speaker:
            utterance = speaker.say(silent(timeline), timeline)
            assert agent.wait_for(lambda lines: len(lines) == 1)
            dropped = time.monotonic()
            agent.drop()
            assert agent.wait_for(lambda lines: len(lines) == 2, timeout=5)
            utterance.wait(10)
        back, rest = agent.received[1]
        assert agent.connections == 2
        assert utterance.started_at is not None
        sequence = Timeline.from_sequence(rest.split("|")[2])
        # The rest starts where the sound was when the agent came back: after the drop, and no
        # later than the moment the line arrived (whole milliseconds: 1 ms of rounding).
        total = float(timeline.duration)
        assert total - (back - utterance.started_at) - 0.001 <= float(sequence.duration)
        assert float(sequence.duration) <= total - (dropped - utterance.started_at) + 0.001
        assert back > dropped


@pytest.mark.parametrize("alias", ["gene|x", "gene\nMODEL_DELETE|gene", "a,b", "ge\tne", "\x07", "gene\r"])
def test_hostile_aliases_never_reach_the_socket(alias: str) -> None:
    with TcpAgent() as agent:
        result = run("say", "--sequence", KONNICHIWA, "--wav", os.devnull, "--model", alias,
                     "--to", agent.url, "--audio", "null")
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        time.sleep(0.05)  # a connection, had there been one, would have shown by now
        assert agent.connections == 0 and agent.lines == []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_no_agent_is_agent_unreachable_naming_where_and_the_mdf_setting() -> None:
    port = free_port()
    with pytest.raises(AgentUnreachable) as caught:
        Speaker(f"tcp://127.0.0.1:{port}", "gene", audio="null").open()
    message = str(caught.value)
    assert f"tcp://127.0.0.1:{port}" in message and "Plugin_Remote_EnableServer=true" in message
    assert f"Plugin_Remote_ListenPort={port}" in message
    assert caught.value.exit_code == 3


def test_say_with_no_agent_exits_3_with_one_line(tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "k.wav", Timeline.from_sequence(KONNICHIWA))
    result = run("say", "--sequence", KONNICHIWA, "--wav", str(wav), "--model", "gene",
                 "--to", f"tcp://127.0.0.1:{free_port()}", "--audio", "null")
    assert result.returncode == 3
    assert result.stderr.startswith("lipsync: no agent at tcp://127.0.0.1:")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("kind", ["tcp", "ws"])
def test_a_run_whose_starts_never_reached_the_agent_exits_3(tmp_path: Path, kind: str) -> None:
    # An agent that took the connection and then heard nothing (crashed, or not reading): no
    # copy of our line comes back, no event. That is no success.
    wav = write_wav(tmp_path / "k.wav", Timeline.from_sequence(KONNICHIWA))
    args = ["say", "--sequence", KONNICHIWA, "--wav", str(wav), "--model", "gene", "--audio", "null",
            "--sync", "clock"]
    if kind == "tcp":
        with TcpAgent(events=False, echo=False) as agent:
            result = run(*args, "--to", agent.url)
            assert agent.lines and agent.lines[0].startswith("LIPSYNC_START|gene|")
    else:
        port = free_port()
        process = subprocess.Popen([*LIPSYNC, *args, "--to", f"ws://127.0.0.1:{port}/chat"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        agent = WsAgent(f"ws://127.0.0.1:{port}/chat", events=False, echo=False)
        for _ in range(500):
            try:
                agent.connect()
                break
            except OSError:
                time.sleep(0.02)
        out, err = process.communicate(timeout=60)
        agent.close()
        result = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith("lipsync: no LIPSYNC_START reached the agent at ")
    assert result.stderr.count("\n") == 1


def test_a_run_the_agent_heard_exits_0(tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "k.wav", Timeline.from_sequence(KONNICHIWA))
    with TcpAgent(events=False) as agent:  # no events, but the bus's copy of our line comes back
        result = run("say", "--sequence", KONNICHIWA, "--wav", str(wav), "--model", "gene", "--audio", "null",
                     "--sync", "clock", "--to", agent.url)
    assert result.returncode == 0, result.stderr


def test_tcp_transport_ignores_garbage_and_huge_lines() -> None:
    heard: list[str] = []
    with TcpAgent(greet=False) as agent:
        transport = TcpTransport("127.0.0.1", agent.port)
        transport.on_line(heard.append)
        transport.open()
        try:
            for _ in range(100):
                if agent.client is not None:
                    break
                time.sleep(0.01)
            agent.send_raw(b"\xff\xfe garbage\n" + b"x" * 1_000_000 + b"\nLIPSYNC_EVENT_START|gene\r\n")
            deadline = time.monotonic() + 5
            while "LIPSYNC_EVENT_START|gene" not in heard and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            transport.close()
    assert heard[-1] == "LIPSYNC_EVENT_START|gene"
    assert all(len(line) < 70000 for line in heard)


def test_an_agent_flooding_lines_never_stops_the_schedule() -> None:
    names = ["a", "k", "i", "s", "u", "pau"]
    timeline = Timeline([(names[i % 6], Fraction(4, 1000)) for i in range(700)])  # several STARTs
    chunks = timeline.chunks(alias="gene")
    with TcpAgent(events=False) as agent:
        flooding = threading.Event()

        def flood() -> None:
            burst = b"CURRENT_TIME|12|00\n" * 20_000  # 380 KB of lines that are not ours
            while not flooding.is_set():
                try:
                    agent.send_raw(burst)
                except (OSError, AssertionError):
                    time.sleep(0.001)

        flooder = threading.Thread(target=flood, daemon=True)
        with Speaker(agent.url, "gene", audio="null", sync="clock") as speaker:
            flooder.start()
            utterance = speaker.say(silent(timeline), timeline)
            assert utterance.wait(60)
        flooding.set()
        flooder.join(5)
        assert agent.lines == [c.line("gene").rstrip("\n") for c in chunks]
        assert utterance.started_at is not None
        for (arrived, _), chunk in zip(agent.received, chunks, strict=True):
            assert arrived >= utterance.started_at + float(chunk.start)


def test_a_flood_of_lines_in_one_read_is_split_in_linear_time() -> None:
    from lipsync.live.transport.base import LineSplitter

    splitter = LineSplitter()
    lines = splitter.feed(b"CURRENT_TIME|12|00\n" * 300_000 + b"LIPSYNC_EVENT_START|gene\npartial")
    assert len(lines) == 300_001 and lines[-1] == "LIPSYNC_EVENT_START|gene"
    assert splitter.feed(b" line\n") == ["partial line"]


def test_an_agent_that_resets_every_reconnection_is_retried_with_backoff() -> None:
    # It accepts once (and talks), then takes every new connection and drops it at once.
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted: list[float] = []

    def serve() -> None:
        first = True
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            accepted.append(time.monotonic())
            if first:
                client.sendall(b"REMOTE_EVENT_CONNECTED|127.0.0.1\n")
                time.sleep(0.2)
                first = False
            client.close()

    threading.Thread(target=serve, daemon=True).start()
    transport = TcpTransport("127.0.0.1", port)
    transport.open()
    try:
        time.sleep(3.0)
    finally:
        transport.close()
        server.close()
    # Backing off 50 ms, 100, 200 ... 2 s: about 6 tries in 3 s, never thousands.
    assert 2 <= len(accepted) <= 10, len(accepted)
