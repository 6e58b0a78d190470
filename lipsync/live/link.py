"""The speaker's side of the agent: checked lines out, events in, the lips' state, the warnings.

With ``sync="event"`` an utterance's first START goes out before its sound, and the sound
starts when the agent answers ``LIPSYNC_EVENT_START`` (or after ``event_timeout``: a real
MMDAgent-EX took 45-99 ms idle, 167-466 ms busy); later STARTs leave ahead of their first
sample by the agent's delay, so the agent's motion, not our message, meets the sound. If a
START goes unanswered for ``NO_EVENT_AFTER`` seconds, the speaker keeps to the clock until the
agent answers again, and, while the agent has never answered at all, warns once with the
likely cause (a model alias the agent does not know: it only logs that). A live agent greets
each TCP client (``REMOTE_EVENT_CONNECTED``, never a WebSocket one): a TCP agent silent for
``GREETING_TIMEOUT`` after the connection is reported as not reading.

``AgentLink`` carries out what the agent needs: it sends each line through the transport (and
tells ``on_line``), hears the agent's events (``LIPSYNC_EVENT_START`` answers a START: the
delay goes into ``Answers``), sends the one ``LIPSYNC_STOP`` when lips may still be moving,
gives a reconnected agent the rest of the current chunk, and warns when the agent is silent.
The decisions are ``lipsync.live.agent``'s; this module adds the transport, the clock and the
speaker's lock (one ``RLock`` shared with the speaker and its runs).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from lipsync.errors import TransportError, ValueRefused
from lipsync.live.agent import NO_EVENT_AFTER, Answers, Lips
from lipsync.timeline import Chunk, Timeline, start_line, stop_line

if TYPE_CHECKING:
    from lipsync.live.audio import Output
    from lipsync.live.clock import Clock
    from lipsync.live.transport import Transport

__all__ = ["GREETING_TIMEOUT", "POLL", "AgentLink", "check_timing"]

#: A live agent greets a new TCP client at once; silence this long means it is not reading.
GREETING_TIMEOUT = 1.0
POLL = 0.02  # the longest a wait goes without looking at the clock again

_log = logging.getLogger("lipsync.live")

Call = Callable[..., None]


def check_timing(sync: str | None, latency: float, event_timeout: float) -> None:
    """Refuse settings no agent could be kept in step with (``ValueRefused``)."""
    if sync not in (None, "event", "clock"):
        raise ValueRefused(f"sync must be 'event' or 'clock', not {sync!r}")
    if not (math.isfinite(latency) and abs(latency) <= 10):
        raise ValueRefused(f"latency {latency} s is out of range (-10 to 10 s)")
    if not (math.isfinite(event_timeout) and 0 <= event_timeout <= 10):
        raise ValueRefused(f"event timeout {event_timeout} s is out of range (0 to 10 s)")


class AgentLink:
    """The agent as one speaker sees it (``transport`` None: no agent, only the lips' state)."""

    def __init__(
        self, transport: Transport | None, alias: str | None, *, sync: str, clock: Clock,
        lock: threading.RLock, latency: float, event_timeout: float, warn: Callable[[str], None],
        call: Callable[..., None], on_line: Call | None, on_event: Call | None,
        sequence: Callable[[Timeline], str] = Timeline.to_sequence,
    ) -> None:
        self.transport = transport
        self.alias = alias
        self.sync = sync
        self.clock = clock
        #: The speaker's lock: held while the output's queue and the lips change together.
        self.lock = lock
        self.latency = latency
        self.event_timeout = event_timeout
        self.answers = Answers()
        self.lips = Lips()
        #: The output whose stream the lips' chunks are counted in (set by the speaker).
        self.output: Output | None = None
        #: Set by each LIPSYNC_EVENT_START: wakes a handshake or a wait for answers.
        self.event_started = threading.Event()
        self.heard_anything = threading.Event()
        #: STARTs we tried to send, and whether the agent has shown it got one: the bus's copy
        #: of our line, or a LIPSYNC_EVENT_START (a crashed or deaf agent shows neither).
        self.starts_tried = 0
        self.delivered = threading.Event()
        self._warn = warn
        self._call = call
        self._on_line = on_line
        self._on_event = on_event
        #: What a START carries for a timeline (``Speaker`` shapes it for the agent's lips).
        self.sequence = sequence
        self._warned: set[str] = set()

    @property
    def awaits_events(self) -> bool:
        """Whether STARTs wait for the agent's answers (``sync="event"`` with an agent)."""
        return self.sync == "event" and self.transport is not None

    @property
    def event_delay(self) -> float | None:
        with self.lock:
            return self.answers.delay

    def reached(self, timeout: float = 0.0) -> bool | None:
        """Whether a START is known to have reached the agent (its bus copy came back, or an
        event), waiting up to ``timeout`` for it; None if the transport cannot tell (stdout,
        none) or no START was sent."""
        if self.transport is None or not self.transport.echoes or self.starts_tried == 0:
            return None
        return self.clock.wait(self.delivered, self.clock.now() + timeout)

    def lead(self) -> float:
        """How far ahead of its first sample a START leaves: the agent's measured delay."""
        with self.lock:
            return self.answers.lead(self.sync)

    # -- out ------------------------------------------------------------------------------------

    def send(self, line: str) -> bool:
        """Send one line (checked by the transport); warn and give False if it could not go."""
        if self.transport is None:
            return False
        now = self.clock.now()
        start = line.startswith("LIPSYNC_START|")
        if start:
            self.starts_tried += 1
        awaited = start and self.sync == "event"
        if awaited:  # before the send: an agent in memory answers inside it
            with self.lock:
                self.answers.sent(now)
        try:
            self.transport.send(line)
        except TransportError as exc:
            if awaited:
                with self.lock:
                    self.answers.not_sent(now)
            self._warn(str(exc))
            return False
        self._call(self._on_line, ">", now, line)
        return True

    def stop_lips(self) -> None:
        """Close the lips: the one place a STOP is sent, and only if they may still move."""
        with self.lock:
            moving = self.lips.moving(self.clock.now())
            self.lips.clear()
            if moving and self.alias is not None:
                self.send(stop_line(self.alias))

    def handshake(self, chunk: Chunk, cancelled: threading.Event) -> bool:
        """``sync="event"``: the first START before its sound; return when the agent says its
        motion began (or after ``event_timeout``; at once if the agent stopped answering).

        False if the START could not be sent (the agent is gone for now): it is then due on
        its first sample like any other, to the agent that is back by then.
        """
        assert self.alias is not None
        self.event_started.clear()
        with self.lock:
            if cancelled.is_set():
                return False
            sent = self.clock.now()
            self.lips.awaiting()
            if not self.send(chunk.line(self.alias)):
                self.lips.clear()
                return False
            missing = self.answers.missing
        if not missing:  # the agent has stopped answering: do not hold the sound for it
            # A late answer still counts: it lands in the running estimate when it comes.
            self.clock.wait(self.event_started, sent + self.event_timeout)
        return True

    def started(self, index: int, timeline: Timeline, end: int) -> None:
        """Lips move from stream sample ``index`` (a START of ``timeline``) up to ``end``."""
        assert self.output is not None
        began, finish = self.output.sample_time(index), self.output.sample_time(end)
        self.lips.started(index, timeline, began, finish, self.latency)

    # -- in -------------------------------------------------------------------------------------

    def heard(self, line: str) -> None:
        """A line from the agent (the transport's reader thread)."""
        self.heard_anything.set()
        if not line.startswith("LIPSYNC_EVENT_"):
            if self.alias is not None and line.startswith(f"LIPSYNC_START|{self.alias}|"):
                self.delivered.set()  # the bus's copy of our START: the agent has it
            return  # the bus carries everything: other clients, CURRENT_TIME, our own echoes
        kind, _, alias = line.partition("|")
        if alias != self.alias or kind not in ("LIPSYNC_EVENT_START", "LIPSYNC_EVENT_STOP"):
            return
        now = self.clock.now()
        self._call(self._on_line, "<", now, line)
        self.delivered.set()
        if kind == "LIPSYNC_EVENT_START":
            with self.lock:
                self.answers.heard(now)
                self._warned.discard("no-event")
            self.event_started.set()
        self._call(self._on_event, "start" if kind == "LIPSYNC_EVENT_START" else "stop", now)

    def reconnected(self) -> None:
        """The agent is back: give it the rest of the current chunk, from where the sound is."""
        with self.lock:
            chunk, output, alias = self.lips.chunk, self.output, self.alias
            if chunk is None or output is None or alias is None:
                return
            began = output.sample_time(chunk[0])
            if began is None:
                return
            rest = self.lips.rest(began, self.clock.now(), self.answers.lead(self.sync), self.latency)
            if rest is not None:
                self.send(start_line(alias, self.sequence(rest)))

    # -- silence --------------------------------------------------------------------------------

    def check_answers(self, stopping: Callable[[], bool], *, wait: bool = False) -> None:
        """Warn once when a START has gone unanswered for ``NO_EVENT_AFTER``.

        ``wait``: first wait until the oldest unanswered START is answered or that old
        (``stopping()`` true ends the wait).
        """
        if not self.awaits_events:
            return
        with self.lock:
            oldest = self.answers.oldest
        if oldest is None:
            return
        if wait and self.clock.now() < oldest + NO_EVENT_AFTER:
            self.event_started.clear()
            while self.clock.now() < oldest + NO_EVENT_AFTER:
                with self.lock:
                    if self.answers.oldest != oldest or stopping():
                        return
                self.clock.wait(self.event_started, min(oldest + NO_EVENT_AFTER, self.clock.now() + POLL))
                self.event_started.clear()
        with self.lock:
            if not self.answers.give_up(oldest, self.clock.now()):
                return
            answered = self.answers.answered
        if answered:
            # The alias is right (the agent answered it before): a busy agent, not our mistake.
            _log.debug("the agent took over %g s to answer; keeping to the audio clock", NO_EVENT_AFTER)
            return
        self.warn_once(
            "no-event",
            f"MMDAgent-EX has not answered LIPSYNC_START for model alias '{self.alias}' within "
            f"{NO_EVENT_AFTER:g} s (no LIPSYNC_EVENT_START): is '{self.alias}' the alias the agent "
            "loaded the model under (MODEL_ADD|alias|..., case matters)? The agent only logs "
            f"'{self.alias} is not found'. Keeping to the audio clock until it answers",
        )

    def watch_greeting(self, closing: Callable[[], bool]) -> None:
        """Warn if a TCP agent has said nothing ``GREETING_TIMEOUT`` after the connection."""
        transport = self.transport
        if self.clock.wait(self.heard_anything, self.clock.now() + GREETING_TIMEOUT) or closing():
            return
        self.warn_once(
            "greeting",
            f"the agent at {transport.url if transport else '?'} accepted the connection but has said "
            f"nothing in {GREETING_TIMEOUT:g} s (a live MMDAgent-EX greets every TCP client with "
            "REMOTE_EVENT_CONNECTED): its Plugin_Remote may be hung; restart it (on Linux without "
            "a sound device, move AppData/Julius/jconf_phone.txt aside first)",
        )

    def warn_once(self, key: str, message: str) -> None:
        with self.lock:
            if key in self._warned:
                return
            self._warned.add(key)
        self._warn(message)
