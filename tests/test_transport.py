"""Transports: every line checked before it leaves, URLs, line splitting, stdout."""

from __future__ import annotations

import io
import socket
import threading

import pytest
from agent import TcpAgent
from hypothesis import given
from hypothesis import strategies as st

from lipsync import ValueRefused
from lipsync.live.transport import MemoryTransport, check_line, open_transport
from lipsync.live.transport.base import LineSplitter
from lipsync.live.transport.stdout import StreamTransport
from lipsync.live.transport.tcp import TcpTransport
from lipsync.live.transport.websocket import WebSocketTransport


@pytest.mark.parametrize("line", [
    "LIPSYNC_START|gene|a,100",  # no newline
    "LIPSYNC_STOP|gene\nMODEL_DELETE|gene\n",
    "LIPSYNC_STOP|ge\rne\n",
    "LIPSYNC_STOP|ge\x00ne\n",
    "LIPSYNC_STOP|ge\x85ne\n",
    "LIPSYNC_STOP|ge\u2028ne\n",
    "LIPSYNC_STOP|\ud800\n",
    "LIPSYNC_START|gene|" + "a,1," * 600 + "a,1\n",
])
def test_unsafe_lines_are_refused_and_never_sent(line: str) -> None:
    agent = MemoryTransport()
    with pytest.raises(ValueRefused):
        agent.send(line)
    assert agent.sent == []


@pytest.mark.parametrize("line", ["\n", " \n", "\t\n", "\u3000\n", "  \u3000 \n"])
def test_a_blank_line_is_never_sent(line: str) -> None:
    agent = MemoryTransport()
    with pytest.raises(ValueRefused, match="blank line"):
        agent.send(line)
    assert agent.sent == []


def test_the_fake_agent_dies_on_a_blank_line_as_the_real_one_does() -> None:
    with TcpAgent() as agent, TcpTransport("127.0.0.1", agent.port) as transport:
        transport._send(b"\n")  # under the check, as the old WebSocket session start sent it
        assert agent.crashed.wait(5)
        for _ in range(500):  # the process is gone: soon nothing listens on its port
            try:
                socket.create_connection(("127.0.0.1", agent.port), timeout=1).close()
            except OSError:
                break
            threading.Event().wait(0.01)
        else:
            pytest.fail("the crashed agent still accepts connections")


@given(st.text(max_size=200))
def test_any_line_either_passes_whole_or_is_refused(body: str) -> None:
    try:
        data = check_line(body + "\n")
    except ValueRefused:
        return
    assert data.count(b"\n") == 1 and data.endswith(b"\n")
    assert not any(b < 0x20 for b in data[:-1])


def test_urls_choose_the_transport() -> None:
    tcp = open_transport("tcp://127.0.0.1:50001")
    assert isinstance(tcp, TcpTransport) and (tcp.host, tcp.port, tcp.wait) == ("127.0.0.1", 50001, 0.0)
    ws = open_transport("ws://localhost:9001/chat", wait=3)
    assert isinstance(ws, WebSocketTransport) and (ws.host, ws.port, ws.path, ws.wait) == (
        "localhost", 9001, "/chat", 3)
    assert isinstance(open_transport("stdout"), StreamTransport)
    assert open_transport("tcp://[::1]:5").host == "::1"  # type: ignore[attr-defined]


@pytest.mark.parametrize("url", ["http://x:1", "tcp://", "tcp://a b:1", "tcp://h:99999", "tcp://h:1/p", "5"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueRefused, match=r"cannot use .* as --to"):
        open_transport(url)


def test_line_splitter_takes_crlf_partial_lines_and_drops_endless_ones() -> None:
    splitter = LineSplitter(limit=10)
    assert splitter.feed(b"AB|c\r\nDE") == ["AB|c"]
    assert splitter.feed(b"F\n") == ["DEF"]
    assert splitter.feed(b"x" * 20) == []
    assert splitter.feed(b"yy\nOK\n") == ["OK"]
    assert splitter.feed(b"\xff\n") == ["\ufffd"]


def test_stdout_transport_writes_each_line_and_flushes() -> None:
    stream = io.StringIO()
    transport = StreamTransport(stream)
    transport.send("LIPSYNC_STOP|gene\n")
    assert stream.getvalue() == "LIPSYNC_STOP|gene\n"


@pytest.mark.parametrize("line", [
    "LIPSYNC_START|gene|a,100|MODEL_DELETE|gene\n",  # a sequence that smuggles a second command
    "LIPSYNC_START|gene\n",
    "LIPSYNC_STOP|gene|x\n",
    "LIPSYNC_START|gene|a,1x0\n",
    "LIPSYNC_START|gene|a,100,b\n",
    "LIPSYNC_START|ge ne|a,100\n",
    "LIPSYNC_START|gene｜x|a,100\n",
    "lipsync_start|gene|a,100\n",
])
def test_lines_with_the_wrong_fields_never_reach_the_agent(line: str) -> None:
    agent = MemoryTransport()
    with pytest.raises(ValueRefused):
        agent.send(line)
    assert agent.sent == []


@pytest.mark.parametrize(("alias", "sequence"), [
    ("gene", "a,100|MODEL_DELETE|gene"), ("gene|x", "a,100"), ("gene", "a,100\nMODEL_DELETE|gene"),
    ("gene", "a,１００"), ("ge\u3000ne", "a,100"), ("g" * 200, "a,100"), ("gene", ""),
])
def test_line_constructors_check_every_field(alias: str, sequence: str) -> None:
    from lipsync.timeline import Chunk, Timeline, start_line

    with pytest.raises(ValueRefused):
        start_line(alias, sequence)
    with pytest.raises(ValueRefused):
        Chunk(Timeline.from_sequence("a,100"), sequence).line(alias) if sequence else start_line(alias, "")


def test_a_long_alias_is_refused_before_the_agent_sees_us() -> None:
    from agent import TcpAgent

    from lipsync.live.speaker import Speaker

    with TcpAgent() as agent:
        with pytest.raises(ValueRefused, match="longer than 128 bytes"):
            Speaker(agent.url, "g" * 300, audio="null")
        assert agent.connections == 0
