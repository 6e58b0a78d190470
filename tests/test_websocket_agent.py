"""``ws://``: MMDAgent-EX connects to our WebSocket server, with the real agent's quirks.

The fake agent (``tests/agent.py``) never answers a Close frame, takes its payload as text and
keeps it across reconnects, forwards invalid UTF-8, sends ``X-App-Type: MMDAgent`` and no
``Origin``, and reconnects after a drop when ``retry`` is on (``Plugin_Remote_RetryCount``).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from agent import WsAgent, WsRefused

from lipsync import AgentUnreachable, Audio, Timeline
from lipsync.live.speaker import Speaker
from lipsync.live.transport.websocket import WebSocketTransport

KONNICHIWA = "sil,187,k,75,o,75,N,75,n,75,i,62,ch,75,i,87,w,100,a,87,sil,212"


def silent(timeline: Timeline) -> Audio:
    return Audio(np.zeros(round(float(timeline.duration) * 48000), dtype=np.int16), 48000)


def starts(agent: WsAgent) -> list[str]:
    return [line for line in agent.lines if "LIPSYNC_START" in line]


def session(port: int, agent: WsAgent, events: list[str], *, connect: bool = False) -> None:
    """One ``lipsync say --to ws://...``: bind, let the agent (re)connect, say KONNICHIWA, leave.

    ``connect``: the agent connects now (at its start-up); otherwise it reconnects by itself.
    """
    transport = WebSocketTransport("127.0.0.1", port, "/chat", wait=5)
    transport.bind()
    if connect:
        agent.connect()
    timeline = Timeline.from_sequence(KONNICHIWA)
    with Speaker(transport, "gene", audio="null", on_event=lambda kind, t: events.append(kind)) as speaker:
        speaker.say(silent(timeline), timeline).wait(10)


def test_the_agent_connects_to_us_and_hears_konnichiwa() -> None:
    transport = WebSocketTransport("127.0.0.1", 0, "/chat", wait=5)
    port = transport.bind()
    agent = WsAgent(f"ws://127.0.0.1:{port}/chat")
    agent.connect()
    events: list[str] = []
    warnings: list[str] = []
    with Speaker(transport, "gene", audio="null", on_event=lambda kind, t: events.append(kind),
                 on_warning=warnings.append) as speaker:
        timeline = Timeline.from_sequence(KONNICHIWA)
        speaker.say(silent(timeline), timeline).wait(10)
        assert speaker.event_delay is not None and speaker.event_delay >= 0.05
    assert starts(agent) == [f"LIPSYNC_START|gene|{KONNICHIWA}"]
    assert events[0] == "start"
    assert not agent.crashed.is_set()
    # The agent never greets a WebSocket client, and that is no reason to warn (over 1 s here).
    assert warnings == []
    agent.close()


def test_every_later_session_moves_the_lips_and_ends_without_a_close_frame() -> None:
    probe = WebSocketTransport("127.0.0.1", 0, "/chat")
    port = probe.bind()
    probe.close()
    agent = WsAgent(f"ws://127.0.0.1:{port}/chat", retry=True)
    try:
        for number in range(1, 4):
            events: list[str] = []
            # The first time the agent connects at its start-up; later it reconnects by itself
            # (RetryCount).
            session(port, agent, events, connect=number == 1)
            assert agent.wait_session_end(), "the session must end by dropping the connection"
            assert "start" in events, f"session {number} moved no lips"
        assert agent.close_frames == 0
        assert starts(agent) == [f"LIPSYNC_START|gene|{KONNICHIWA}"] * 3
        assert not any(raw.startswith(b"\x03\xe8") for raw in agent.raw)
    finally:
        agent.close()


def test_a_stale_partial_line_in_the_agent_is_ended_before_our_first_line() -> None:
    transport = WebSocketTransport("127.0.0.1", 0, "/chat", wait=5)
    port = transport.bind()
    agent = WsAgent(f"ws://127.0.0.1:{port}/chat")
    agent.partial = b"\x03\xe8"  # what an earlier client's Close frame left in the agent
    agent.connect()
    events: list[str] = []
    with Speaker(transport, "gene", audio="null", on_event=lambda kind, t: events.append(kind)) as speaker:
        timeline = Timeline.from_sequence(KONNICHIWA)
        speaker.say(silent(timeline), timeline).wait(10)
    agent.close()
    assert starts(agent) == [f"LIPSYNC_START|gene|{KONNICHIWA}"]
    assert "start" in events


def test_invalid_utf8_from_the_agent_never_fails_the_connection() -> None:
    transport = WebSocketTransport("127.0.0.1", 0, "/chat", wait=5)
    port = transport.bind()
    agent = WsAgent(f"ws://127.0.0.1:{port}/chat")
    agent.connect()
    events: list[str] = []
    with Speaker(transport, "gene", audio="null", on_event=lambda kind, t: events.append(kind)) as speaker:
        agent.send_bytes(b"\x03\xe8LIPSYNC_START|gene|\xff,100")  # echoed garbage, as the agent forwards it
        timeline = Timeline.from_sequence(KONNICHIWA)
        speaker.say(silent(timeline), timeline).wait(10)
        assert transport.connected
    agent.close()
    assert "start" in events and agent.close_frames == 0


def test_the_agent_that_reconnects_gets_the_rest() -> None:
    transport = WebSocketTransport("127.0.0.1", 0, "/chat", wait=5)
    port = transport.bind()
    agent = WsAgent(f"ws://127.0.0.1:{port}/chat", events=False)
    agent.connect()
    timeline = Timeline.from_sequence("sil,100," + ",".join("a,100,k,100" for _ in range(8)) + ",sil,100")
    with Speaker(transport, "gene", audio="null", sync="clock") as speaker:
        utterance = speaker.say(silent(timeline), timeline)
        assert agent.wait_for(lambda lines: len(starts(agent)) == 1)
        agent.drop()
        time.sleep(0.2)  # the agent's own reconnect delay
        agent.connect()
        assert agent.wait_for(lambda lines: len(starts(agent)) == 2, timeout=5)
        utterance.wait(10)
    agent.close()
    rest = Timeline.from_sequence(starts(agent)[1].split("|")[2])
    assert Timeline.from_sequence(KONNICHIWA) != rest
    assert 0 < float(rest.duration) < float(timeline.duration)


@pytest.mark.parametrize("headers", [
    {"X-App-Type": "MMDAgent", "Origin": "http://evil.example"},  # a web page in the user's browser
    {},  # not MMDAgent-EX
    {"X-App-Type": "Other"},
])
def test_only_the_agent_may_connect_and_nobody_displaces_it(headers: dict[str, str]) -> None:
    transport = WebSocketTransport("127.0.0.1", 0, "/chat", wait=5)
    port = transport.bind()
    agent = WsAgent(f"ws://127.0.0.1:{port}/chat")
    agent.connect()
    intruder = WsAgent(f"ws://127.0.0.1:{port}/chat", headers=headers)
    timeline = Timeline.from_sequence(KONNICHIWA)
    with Speaker(transport, "gene", audio="null", sync="clock") as speaker:
        with pytest.raises(WsRefused, match="403"):
            intruder.connect()
        speaker.say(silent(timeline), timeline).wait(10)
    agent.close()
    assert starts(agent) == [f"LIPSYNC_START|gene|{KONNICHIWA}"]
    assert intruder.lines == []


def test_any_client_can_be_allowed_explicitly() -> None:
    transport = WebSocketTransport("127.0.0.1", 0, "/chat", wait=5, any_client=True)
    port = transport.bind()
    client = WsAgent(f"ws://127.0.0.1:{port}/chat", headers={})
    client.connect()
    try:
        transport.open()
        transport.send("LIPSYNC_STOP|gene\n")
        assert client.wait_for(lambda lines: "LIPSYNC_STOP|gene" in lines, timeout=5)
    finally:
        transport.close()
        client.close()


def test_with_no_agent_the_error_names_every_mdf_setting_retry_included() -> None:
    with pytest.raises(AgentUnreachable, match=r"Websocket_Directory=/chat.*Plugin_Remote_RetryCount"):
        Speaker("ws://127.0.0.1:0/chat", "gene", audio="null", wait=0.1).open()


def test_the_server_refuses_other_paths() -> None:
    transport = WebSocketTransport("127.0.0.1", 0, "/chat", wait=1)
    port = transport.bind()
    try:
        with pytest.raises(WsRefused, match="404"):
            WsAgent(f"ws://127.0.0.1:{port}/other").connect()
    finally:
        transport.close()
