"""Event sync as a real (and a busy, and a misconfigured) MMDAgent-EX answers it, on a virtual clock.

The agent's answers are scheduled on the clock itself, so a late event arrives exactly when
the schedule says, whatever the machine is doing.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable

import pytest
from agent import TcpAgent
from test_speaker import KONNICHIWA, long_timeline, silent

from lipsync import Timeline
from lipsync.live.audio.null import NullOutput
from lipsync.live.clock import VirtualClock
from lipsync.live.speaker import EVENT_TIMEOUT, NO_EVENT_AFTER, Speaker
from lipsync.live.transport import MemoryTransport


class ScheduledClock(VirtualClock):
    """A virtual clock that runs what is due (the agent's answers) as it jumps forward."""

    def __init__(self) -> None:
        super().__init__()
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._guard = threading.Lock()

    def at(self, when: float, action: Callable[[], None]) -> None:
        with self._guard:
            heapq.heappush(self._due, (when, next(self._order), action))

    def wait(self, event: threading.Event, until: float) -> bool:
        while not event.is_set():
            with self._guard:
                if not self._due or self._due[0][0] > until:
                    break
                when, _, action = heapq.heappop(self._due)
            self.advance(max(when - self.now(), 0.0))
            action()
        return super().wait(event, until)


class Agent(MemoryTransport):
    """An in-memory MMDAgent-EX whose answers take ``delays`` (one per START; None: never)."""

    greets = True  # like tcp:// (over ws:// the real agent never greets)

    def __init__(
        self, clock: ScheduledClock, delays: list[float | None], *, aliases: tuple[str, ...] = ("gene",),
        hello: bool = True,
    ) -> None:
        super().__init__(clock=clock, answer=self._answer)
        self.scheduled = clock
        self.delays = list(delays)
        self.aliases = aliases
        self.hello = hello

    def _open(self) -> None:
        if self.hello:
            self.receive("REMOTE_EVENT_CONNECTED|127.0.0.1")

    def _answer(self, line: str) -> list[str]:
        kind, _, rest = line.rstrip("\n").partition("|")
        alias = rest.partition("|")[0]
        if kind == "LIPSYNC_START" and alias in self.aliases:
            delay = self.delays.pop(0) if len(self.delays) > 1 else (self.delays or [None])[0]
            if delay is not None:
                answer = f"LIPSYNC_EVENT_START|{alias}"
                self.scheduled.at(self.clock.now() + delay, lambda: self.receive(answer))
        return [line.rstrip("\n")]  # the bus echoes everything


def speak(speaker: Speaker, timeline: Timeline) -> tuple[float, float]:
    """Say ``timeline``; (when its first START was sent, when its sound started)."""
    agent = speaker.transport
    assert isinstance(agent, MemoryTransport)
    before = len(agent.sent)
    utterance = speaker.say(silent(timeline), timeline)
    assert utterance.wait(30)
    assert utterance.started_at is not None
    return agent.sent[before][0], utterance.started_at


def test_a_late_event_is_still_measured_and_leads_later_starts(caplog: pytest.LogCaptureFixture) -> None:
    clock = ScheduledClock()
    agent = Agent(clock, [0.8])  # a busy agent: every answer later than the timeout
    with Speaker(agent, "gene", audio=NullOutput(clock=clock), clock=clock, sync="event") as speaker:
        sent, began = speak(speaker, Timeline.from_sequence(KONNICHIWA))
        # The sound did not wait past the timeout, but the event that came later is the estimate.
        assert began - sent == pytest.approx(EVENT_TIMEOUT, abs=1e-3)
        assert speaker.event_delay == pytest.approx(0.8)
        timeline = long_timeline()
        sent, began = speak(speaker, timeline)
    assert speaker.sync == "event" and speaker.event_delay == pytest.approx(0.8)
    starts = [(t, line) for t, line in agent.sent if line.startswith("LIPSYNC_START")][2:]
    chunks = timeline.chunks(alias="gene")
    assert len(starts) == len(chunks) - 1 > 0
    for (at, _), chunk in zip(starts, chunks[1:], strict=True):
        # Later chunks leave the agent's delay ahead of their first sample.
        assert at + 0.8 == pytest.approx(began + float(chunk.start), abs=1e-3)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_lead_is_the_median_of_the_last_answers() -> None:
    clock = ScheduledClock()
    agent = Agent(clock, [0.1, 0.3, 0.2, 0.2])
    with Speaker(agent, "gene", audio=NullOutput(clock=clock), clock=clock, sync="event") as speaker:
        seen = []
        for _ in range(3):
            speak(speaker, Timeline.from_sequence(KONNICHIWA))
            seen.append(speaker.event_delay)
    assert seen == [pytest.approx(0.1), pytest.approx(0.2), pytest.approx(0.2)]


def test_the_event_timeout_is_an_option() -> None:
    clock = ScheduledClock()
    agent = Agent(clock, [0.3])
    with Speaker(agent, "gene", audio=NullOutput(clock=clock), clock=clock, sync="event",
                 event_timeout=0.2) as speaker:
        sent, began = speak(speaker, Timeline.from_sequence(KONNICHIWA))
    assert began - sent == pytest.approx(0.2, abs=1e-3)
    assert speaker.event_delay == pytest.approx(0.3)


def test_an_alias_the_agent_does_not_know_is_named_in_one_warning() -> None:
    clock = ScheduledClock()
    agent = Agent(clock, [], aliases=("gene",))  # the agent has "gene"; we say "Gene"
    warnings: list[str] = []
    with Speaker(agent, "Gene", audio=NullOutput(clock=clock), clock=clock, sync="event",
                 on_warning=warnings.append) as speaker:
        sent, began = speak(speaker, Timeline.from_sequence(KONNICHIWA))
        assert began - sent == pytest.approx(EVENT_TIMEOUT, abs=1e-3)
        # Once the agent is known not to answer, the sound no longer waits for it.
        sent, began = speak(speaker, Timeline.from_sequence(KONNICHIWA))
        assert began == pytest.approx(sent, abs=1e-3)
    assert len(warnings) == 1
    assert "'Gene'" in warnings[0] and "is not found" in warnings[0]
    assert f"within {NO_EVENT_AFTER:g} s" in warnings[0]


def test_answers_coming_back_end_the_fallback() -> None:
    clock = ScheduledClock()
    agent = Agent(clock, [None, 0.1])
    with Speaker(agent, "gene", audio=NullOutput(clock=clock), clock=clock, sync="event") as speaker:
        speak(speaker, Timeline.from_sequence(KONNICHIWA))  # unanswered: fallback to the clock
        speak(speaker, Timeline.from_sequence(KONNICHIWA))  # answered late, after the sound started
        sent, began = speak(speaker, Timeline.from_sequence(KONNICHIWA))
    assert began - sent == pytest.approx(0.1, abs=1e-3)  # the handshake is back


def test_an_agent_that_never_greets_is_reported_as_not_reading() -> None:
    for hello, expected in ((False, 1), (True, 0)):
        clock = ScheduledClock()
        agent = Agent(clock, [], hello=hello)
        warnings: list[str] = []
        with Speaker(agent, "gene", audio=NullOutput(clock=clock), clock=clock, sync="clock",
                     on_warning=warnings.append) as speaker:
            speak(speaker, Timeline.from_sequence(KONNICHIWA))
            speaker.join()
        # The watcher runs on its own thread: give it the moment it needs on a virtual clock.
        for _ in range(200):
            if len(warnings) >= expected:
                break
            threading.Event().wait(0.01)
        greeting = [w for w in warnings if "REMOTE_EVENT_CONNECTED" in w]
        assert len(greeting) == expected, warnings


def test_a_stall_after_answers_falls_back_to_the_clock_without_blaming_the_alias() -> None:
    clock = ScheduledClock()
    agent = Agent(clock, [0.1] * 20 + [2.2, 0.1])  # 20 answers, then one stall of 2.2 s
    warnings: list[str] = []
    with Speaker(agent, "gene", audio=NullOutput(clock=clock), clock=clock, sync="event",
                 on_warning=warnings.append) as speaker:
        for _ in range(22):
            speak(speaker, Timeline.from_sequence(KONNICHIWA))
    assert warnings == []  # the agent answered 'gene' twenty times: the alias is right


def test_the_next_sentence_is_made_while_the_sound_waits_for_a_slow_agent() -> None:
    # A real agent on a socket, answering its first START after 0.6 s (a busy one took 0.2-1.3 s).
    order: list[str] = []

    def text():
        yield "こんにちは。"
        order.append("second sentence asked for")
        yield "今日はいい天気ですね。"

    def queued(t: float | None, piece: object) -> None:
        order.append("a piece queued on the output")

    with TcpAgent(event_delay=0.6) as agent, Speaker(agent.url, "gene", audio="null", sync="event",
                                                    event_timeout=3.0) as speaker:
        assert speaker.say(text(), on_piece=queued).wait(60)
    # The second sentence was taken up while the first one's sound waited for the agent.
    assert order[:2] == ["second sentence asked for", "a piece queued on the output"]


def test_a_first_start_lost_with_a_broken_session_reaches_the_agent_when_it_is_back() -> None:
    # The session broke (an oversized frame, a Close) just as the first START left: the send
    # failed. The agent is back 50 ms later: it must still get the START, for the rest of it.
    clock = ScheduledClock()
    agent = Agent(clock, [0.1])
    lost = []
    send = agent._send

    def break_once(data: bytes) -> None:
        if not lost:
            lost.append(data)
            agent.drop()
            clock.at(clock.now() + 0.05, agent.reconnect)  # MMDAgent-EX reconnects
        send(data)

    agent._send = break_once  # type: ignore[method-assign]
    with Speaker(agent, "gene", audio=NullOutput(clock=clock), clock=clock, sync="event") as speaker:
        timeline = Timeline.from_sequence(KONNICHIWA)
        utterance = speaker.say(silent(timeline), timeline)
        assert utterance.wait(30)
    starts = [(t, line) for t, line in agent.sent if line.startswith("LIPSYNC_START")]
    assert lost and len(starts) == 1 and utterance.started_at is not None
    # The sound did not wait for an answer that could not come; the START came with the agent.
    assert starts[0][0] == pytest.approx(utterance.started_at + 0.05, abs=1e-3)
    rest = Timeline.from_sequence(starts[0][1].split("|")[2].rstrip())
    whole = Timeline.from_sequence(KONNICHIWA)
    assert abs(float(rest.duration) - (float(whole.duration) - 0.05)) <= 0.002
