"""What we know of the agent and its lips: pure state, no threads, no I/O, no clock of its own.

``Answers`` keeps the agent's answers to our STARTs (``LIPSYNC_EVENT_START``): how long it
takes (the median of its last few answers, late ones included: a busy agent took up to
0.5 s), and whether it has stopped answering. ``Lips`` keeps which chunk's motion the agent is
drawing and until when, which decides whether a stop must send ``LIPSYNC_STOP`` and what a
reconnected agent still has to draw. Every time is given by the caller (a clock reading), so
both are tested with plain numbers.
"""

from __future__ import annotations

import math
from collections import deque
from fractions import Fraction

from lipsync.timeline import PAUSES, Timeline

__all__ = ["DELAYS_KEPT", "NO_EVENT_AFTER", "Answers", "Lips"]

#: A START unanswered this long means the agent will not answer it (an unknown alias, a stall).
NO_EVENT_AFTER = 2.0
#: How many of the agent's recent answers its delay is the median of.
DELAYS_KEPT = 8


class Answers:
    """The agent's answers to our STARTs, in the order they were sent."""

    def __init__(self, kept: int = DELAYS_KEPT) -> None:
        self.delays: deque[float] = deque(maxlen=kept)
        #: When each START not yet answered was sent.
        self.unanswered: deque[float] = deque()
        #: A START went unanswered: keep to the clock until an answer comes.
        self.missing = False
        #: How many STARTs the agent has answered (an alias once answered is the right one).
        self.answered = 0

    @property
    def delay(self) -> float | None:
        """The median of the recent delays from a START to its answer (``None`` before one)."""
        delays = sorted(self.delays)
        if not delays:
            return None
        middle = len(delays) // 2
        return delays[middle] if len(delays) % 2 else (delays[middle - 1] + delays[middle]) / 2

    def sent(self, at: float) -> None:
        """A START left at ``at`` (noted before the send: an agent in memory answers inside it)."""
        self.unanswered.append(at)

    def not_sent(self, at: float) -> None:
        """The START noted at ``at`` never left."""
        if at in self.unanswered:
            self.unanswered.remove(at)

    def heard(self, now: float) -> None:
        """A ``LIPSYNC_EVENT_START`` came at ``now``: it answers the oldest START still waiting.

        Answers come in order; a START older than ``NO_EVENT_AFTER`` was never answered.
        """
        while self.unanswered and now - self.unanswered[0] > NO_EVENT_AFTER:
            self.unanswered.popleft()
        if self.unanswered:
            self.delays.append(max(now - self.unanswered.popleft(), 0.0))
        self.missing = False
        self.answered += 1

    @property
    def oldest(self) -> float | None:
        """When the oldest START still waiting for its answer left."""
        return self.unanswered[0] if self.unanswered else None

    def give_up(self, oldest: float, now: float) -> bool:
        """Whether the START sent at ``oldest``, still the oldest waiting, is past answering.

        If so, every START waiting is forgotten and ``missing`` is set.
        """
        if self.oldest != oldest or now < oldest + NO_EVENT_AFTER:
            return False
        self.missing = True
        self.unanswered.clear()
        return True

    def lead(self, sync: str) -> float:
        """How far ahead of its first sample a START leaves: the agent's measured delay."""
        if sync != "event" or self.missing:
            return 0.0
        delay = self.delay
        return 0.0 if delay is None else delay


class Lips:
    """The motion the agent is drawing: which chunk, and until when (clock time)."""

    def __init__(self) -> None:
        #: When the lips stop by themselves (``inf`` while that is not known yet), or None.
        self.until: float | None = None
        #: Stream index of the last START's first sample, and that START's timeline.
        self.chunk: tuple[int, Timeline] | None = None

    def moving(self, now: float) -> bool:
        """Whether lips may still be moving at ``now`` (a stop then needs a STOP)."""
        return self.until is not None and now < self.until

    def awaiting(self) -> None:
        """A START left before its sound: the lips move from now, for as long as it takes."""
        self.until = math.inf

    def started(self, index: int, timeline: Timeline, began: float | None, finish: float | None,
                latency: float) -> None:
        """The START of ``timeline``, whose first sample is ``index``, plays ``began`` to ``finish``."""
        self.chunk = (index, timeline.shifted(0))
        self.until = math.inf if began is None or finish is None else finish + latency

    def clear(self) -> float | None:
        """Forget the motion; give back when it would have ended."""
        until, self.until, self.chunk = self.until, None, None
        return until

    def rest(self, began: float, now: float, lead: float, latency: float) -> Timeline | None:
        """What a reconnected agent still has to draw of the current chunk (first sample at
        ``began``), sent at ``now``; ``None`` if nothing with speech in it is left."""
        if self.chunk is None or self.until is None or now >= self.until:
            return None
        elapsed = max(now + lead - (began + latency), 0.0)
        rest = self.chunk[1].since(Fraction(elapsed).limit_denominator(1_000_000))
        if rest.duration >= Fraction(1, 1000) and any(n not in PAUSES for n in rest.names):
            return rest
        return None
