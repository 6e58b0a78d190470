"""The scheduler's decisions: what is due at which sample of the output stream. Pure.

One ``Schedule`` per utterance. Its pieces are placed on the output's stream (sample indices,
as ``Output.play`` gives them); the schedule holds what each sample brings:

- ``first``: the utterance's first sample reached the device;
- ``start``: a chunk's LIPSYNC_START, due at its first sample plus the latency, less the
  agent's delay (``lead``) so the agent's motion, not our message, meets the sound;
- ``frame``: a frame of mouth weights on the ``fps`` grid counted from the first sample (plus
  the latency), while a curve is there;
- ``end``: the last sample.

A stream's pieces (speech heard as it comes) are held back until their release
(``release_wait``): the sound waits exactly as long as the recogniser's look-ahead. A live
voice's piece that comes late skips what it missed (``late_by``, ``skip_start``).

When a stream sample plays is the output's business (``sample_time``: index -> clock time,
``None`` while not known); the schedule only turns it into due times. No threads, no I/O and
no clock reads: ``lipsync.live.run`` carries the decisions out, and tests drive a schedule
with numbers.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING

from lipsync.sound import Audio
from lipsync.timeline import Chunk, Timeline

if TYPE_CHECKING:
    from lipsync.curves import MouthCurves

__all__ = [
    "Action", "Frame", "Schedule", "SampleTime", "late_by", "release_wait", "shorten_pause", "skip_start",
]

#: When stream sample ``index`` plays, by the clock (``None`` while not known).
SampleTime = Callable[[int], "float | None"]
#: A frame's time from the first sample, and its weights (``None``: no curve there).
Frame = tuple[float, "dict[str, float] | None"]


class Action:
    """Something due when stream sample ``index`` reaches the device."""

    def __init__(self, index: int, kind: str, *, chunk: Chunk | None = None) -> None:
        self.index = index
        self.kind = kind
        self.chunk = chunk
        #: A frame's weights, worked out when it was scheduled, and how many pieces' curves
        #: there were then (a piece added since may change them).
        self.weights: tuple[float, dict[str, float] | None, int] | None = None

    def __repr__(self) -> str:
        return f"Action({self.index}, {self.kind!r})"


class Schedule:
    """One utterance's actions, by stream sample, and the decision of when each is due."""

    def __init__(self, rate: int, fps: float, *, latency: float = 0.0) -> None:
        self.rate = rate
        self.fps = fps
        self.latency = latency
        #: Stream index of the utterance's first sample (None before the first piece).
        self.origin: int | None = None
        #: Stream index after the last sample placed.
        self.end = 0
        self._heap: list[tuple[int, int, Action]] = []
        self._order = itertools.count()
        self._curves: list[tuple[int, int, MouthCurves]] = []  # (first index, end index, curves)
        self._frame_pending = False

    # -- placing pieces -------------------------------------------------------------------------

    def place(self, start: int, end: int) -> int:
        """A piece's samples went onto the stream at ``start`` up to ``end``; give the silence
        (samples) the output played between the last piece and this one."""
        if self.origin is None:
            self.origin = start
        gap = start - max(self.end, self.origin)
        self.end = end
        return gap

    def starts(self, start: int, chunks: Sequence[Chunk]) -> list[Action]:
        """The START of each chunk of a piece placed at ``start`` (not yet scheduled)."""
        return [Action(start + round(c.start * self.rate), "start", chunk=c) for c in chunks]

    def chunk_end(self, action: Action) -> int:
        """The stream index after the last sample of a START's chunk."""
        assert action.chunk is not None
        return action.index + round(action.chunk.timeline.duration * self.rate)

    def add(self, action: Action) -> None:
        heapq.heappush(self._heap, (action.index, next(self._order), action))

    def add_curves(self, start: int, curves: MouthCurves) -> None:
        """A piece's mouth curves, from stream index ``start`` (to its closing keyframe)."""
        self._curves.append((start, start + math.ceil(curves.duration * self.rate) + 1, curves))
        if not self._frame_pending:
            self._next_frame(start)

    def finish(self) -> None:
        """No more pieces: the end is due after the last sample."""
        self.add(Action(self.end, "end"))

    # -- when things are due --------------------------------------------------------------------

    def __bool__(self) -> bool:
        return bool(self._heap)

    def due(self, action: Action, sample_time: SampleTime, lead: float = 0.0) -> float | None:
        """When ``action`` is due by the clock (``None`` while its sample's time is unknown)."""
        at = sample_time(action.index)
        if at is None:
            return None
        if action.kind in ("start", "frame"):
            at += self.latency
        if action.kind == "start":
            at -= lead
        return at

    def next_due(self, sample_time: SampleTime, lead: float = 0.0) -> tuple[Action, float | None] | None:
        """The earliest action and when it is due (``None`` if there is none)."""
        if not self._heap:
            return None
        action = self._heap[0][2]
        return action, self.due(action, sample_time, lead)

    def pop(self) -> Action:
        """Take the earliest action off the schedule."""
        return heapq.heappop(self._heap)[2]

    def pop_due(self, now: float, sample_time: SampleTime, lead: float = 0.0) -> Action | None:
        """The earliest action if it is due at ``now``, taken off the schedule."""
        upcoming = self.next_due(sample_time, lead)
        if upcoming is None or upcoming[1] is None or now < upcoming[1]:
            return None
        return self.pop()

    # -- frames ---------------------------------------------------------------------------------

    def _next_frame(self, after: int) -> None:
        """Schedule the first frame of the fps grid (from the first sample) at or after ``after``."""
        assert self.origin is not None
        number = math.ceil((after - self.origin) * self.fps / self.rate - 1e-9)
        action = Action(self.origin + round(number * self.rate / self.fps), "frame")
        # Worked out now, a frame ahead, so that when it is due only the callback is left.
        action.weights = self._weights(action.index)
        self.add(action)
        self._frame_pending = True

    def _weights(self, index: int) -> tuple[float, dict[str, float] | None, int]:
        assert self.origin is not None
        t = round((index - self.origin) / self.rate, 9)
        here = [c for c in self._curves if c[0] <= index < c[1]]
        if not here:
            return t, None, len(self._curves)
        first, _, curves = here[-1]
        row = curves.at([(index - first) / self.rate])[0]
        return t, dict(zip(curves.morphs, (float(w) for w in row), strict=True)), len(self._curves)

    def frame(self, action: Action) -> Frame:
        """The frame ``action`` brings: its time and weights (worked out ahead, unless a piece
        placed since changed them). Call ``frame_done`` once it is delivered."""
        self._frame_pending = False
        ready = action.weights
        t, weights, known = ready if ready is not None else self._weights(action.index)
        if known != len(self._curves):
            t, weights, _ = self._weights(action.index)
        return t, weights

    def frame_done(self, action: Action) -> None:
        """Schedule the frame after ``action``'s, if a curve goes on."""
        later = [c for c in self._curves if c[1] > action.index + 1]
        if later:
            self._next_frame(max(action.index + 1, min(c[0] for c in later)))


def release_wait(release: float | None, now: float, queued_until: float | None) -> float:
    """Seconds a piece of a stream waits before it is queued on the output.

    Heard speech may sound no earlier than ``release`` (its first sample's arrival plus the
    look-ahead), so that its mouth, which the recogniser gives that much later, is on time.
    It follows audio still queued that ends at ``release`` or later at once; otherwise it
    waits for ``release``. ``release`` ``None`` (not a stream): no wait.
    """
    if release is None or (queued_until is not None and queued_until >= release):
        return 0.0
    return max(0.0, release - now)


def late_by(release: float | None, now: float, queued_until: float | None) -> float:
    """How much later than its release a piece queued ``now`` would sound (0: on time)."""
    if release is None:
        return 0.0
    return max(0.0, max(now, queued_until or now) - release)


def skip_start(audio: Audio, timeline: Timeline, seconds: float) -> tuple[Audio, Timeline]:
    """A piece without its first ``seconds`` (all of it but its last sample at most).

    A live voice is not ours to hold back: a piece the recogniser made late skips what its
    mouth missed rather than fall further behind the voice.
    """
    samples = min(round(seconds * audio.sample_rate), len(audio) - 1)
    if samples <= 0:
        return audio, timeline
    cut = Fraction(samples, audio.sample_rate)
    spans = [(p.name, min(p.end, timeline.end) - max(p.start, cut)) for p in timeline if p.end > cut]
    return Audio(audio.samples[samples:], audio.sample_rate), Timeline(spans)


def shorten_pause(audio: Audio, timeline: Timeline, waited: int, rate: int) -> tuple[Audio, Timeline]:
    """A piece that starts with a pause, placed ``waited`` stream samples (at ``rate``) late:
    the silence already played counts, so that much of its pause is dropped."""
    if waited <= 0:
        return audio, timeline
    first = timeline.durations[0]
    cut = min(Fraction(waited, rate), first)
    samples = min(round(cut * audio.sample_rate), len(audio))
    spans = [(timeline.names[0], first - Fraction(samples, audio.sample_rate)), *zip(
        timeline.names[1:], timeline.durations[1:], strict=True)]
    return Audio(audio.samples[samples:], audio.sample_rate), Timeline(spans, allow_empty=True)
