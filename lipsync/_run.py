"""One utterance on its way out: pieces in, audio queued, and what is due at each sample.

``Run`` is the half of the scheduler that belongs to one ``say()``: a producer thread makes
the pieces (Open JTalk, or another voice's audio aligned to its text), and the speaker's
worker thread queues each on the output and does every action (a START to the agent, a
frame of mouth weights, the first and last sample) when its sample reaches the device, by
the output's clock. It works on its ``Speaker``'s state (the connection, the lips in
motion, the agent's answers): ``lipsync.speaker`` owns that state and this module's only
caller.
"""

from __future__ import annotations

import heapq
import itertools
import math
import queue
import threading
from collections.abc import Iterable, Iterator
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from lipsync.resolver import resolve
from lipsync.sound import Audio
from lipsync.stream import PAUSES, Piece
from lipsync.timeline import Chunk, Timeline

if TYPE_CHECKING:
    from lipsync.curves import MouthCurves
    from lipsync.speaker import Speaker, Utterance

__all__ = ["MAX_AHEAD", "POLL", "Action", "Run"]

#: The most audio (seconds) queued on the output ahead of the device.
MAX_AHEAD = 4.0
POLL = 0.02  # the longest a wait goes without looking at the output's clock again


def _peek(source: Iterable[Any]) -> tuple[bool, Iterator[Any]]:
    """Whether ``source`` holds ``(audio, text)`` pieces (else text), and all its items.

    Looks at the first item in the producer's thread, so a generator is read once.
    """
    items = iter(source)
    for first in items:
        return isinstance(first, tuple), itertools.chain([first], items)
    return False, iter(())


class Action:
    """Something due when a stream sample reaches the device."""

    def __init__(self, index: int, kind: str, *, chunk: Chunk | None = None) -> None:
        self.index = index
        self.kind = kind
        self.chunk = chunk
        #: A frame's weights, worked out when it was scheduled, and how many pieces' curves
        #: there were then (a piece added since may change them).
        self.weights: tuple[float, dict[str, float] | None, int] | None = None


class Run:
    """One utterance on its way out: pieces in, audio queued, actions at their samples."""

    def __init__(self, speaker: Speaker, utterance: Utterance) -> None:
        assert speaker.output is not None
        self.speaker = speaker
        self.output = speaker.output
        self.utterance = utterance
        self.rate = self.output.sample_rate
        self.origin: int | None = None  # stream index of the first sample
        self.end = 0  # stream index after the last queued sample
        self.actions: list[tuple[int, int, Action]] = []
        self.order = itertools.count()
        self.pieces: queue.Queue[Piece | BaseException | None] = queue.Queue(maxsize=4)
        self.curves: list[tuple[int, int, MouthCurves]] = []  # (first index, end index, curves)
        self.frame_pending = False
        self.playing = threading.Event()  # set once the first piece is queued on the output
        self.lipmap = utterance.lipmap or speaker.lipmap
        self.fps = utterance.fps or speaker.fps
        self.on_weights = utterance.on_weights or speaker.on_weights

    # -- pieces ---------------------------------------------------------------------------------

    def _produce(self) -> None:
        source = self.utterance._source
        speaker = self.speaker
        try:
            if isinstance(source, Piece):
                items: Iterable[Piece] = [source]
            else:
                from lipsync.stream import aligned_pieces, speech_pieces

                paired, rest = (False, source) if isinstance(source, str) else _peek(source)
                if paired:  # another voice: (audio, text) pieces, each aligned here
                    assert not isinstance(rest, str)
                    items = aligned_pieces(rest)
                else:
                    items = speech_pieces(
                        rest, voice=speaker.voice, speed=speaker.speed, half_tone=speaker.half_tone
                    )
            for piece in items:
                timeline, warnings = resolve(piece.timeline, speaker.lipmap, unknown=speaker.unknown)
                for warning in warnings:
                    speaker._warn(warning)
                if not self._put(Piece(piece.audio, timeline)):
                    return
                # Let the worker start the sound before making the next piece: both need the
                # GIL, and the first sound is what a listener waits for.
                self.playing.wait(1.0)
            self._put(None)
        except BaseException as exc:  # the worker re-raises it in the caller's wait()
            self._put(exc)

    def _put(self, item: Piece | BaseException | None) -> bool:
        while not self.utterance._cancel.is_set():
            try:
                self.pieces.put(item, timeout=0.05)
            except queue.Full:
                continue
            self.speaker._wake.set()
            return True
        return False

    def run(self) -> None:
        producer = threading.Thread(target=self._produce, name="lipsync-synth", daemon=True)
        producer.start()
        cancel = self.utterance._cancel
        finished = False
        try:
            while not cancel.is_set():
                room = self._room()
                if not finished and room:
                    finished = self._take_pieces(block=not self.actions)
                if finished and not self.actions:
                    break
                self.speaker._check_answers()
                due: float | None = None
                if self.actions:
                    _, _, action = self.actions[0]
                    due = self._due(action)
                    if due is not None and self.speaker.clock.now() >= due:
                        heapq.heappop(self.actions)
                        self._do(action)
                        continue
                elif room:
                    continue  # _take_pieces waited for a piece already
                self.speaker._wake.clear()
                now = self.speaker.clock.now()
                wake = now + POLL if due is None else min(due, now + POLL)
                self.speaker.clock.wait(self.speaker._wake, wake)
        finally:
            if not finished:
                cancel.set()  # the producer stops at its next piece
            if finished or (isinstance(self.utterance._source, str) and not self.utterance.stopped):
                # Let a piece being made finish, so the next utterance has the CPU to itself.
                # A stop does not wait for it (Ctrl-C must end at once; the next utterance's
                # synthesis runs beside it on an engine of its own), nor does text still arriving;
                # ``Speaker.join()`` waits for such a piece, ``close()`` does not.
                producer.join()
            elif producer.is_alive():
                self.speaker._unfinished.append(producer)
        if self.utterance.stopped:
            return
        # The sound is over. Lips told to go on longer (labels longer than the audio) stop now.
        speaker = self.speaker
        with speaker._state:
            end = self.output.sample_time(self.end)
            lips = speaker._lips_until
            if lips is not None and end is not None and lips > end + speaker.latency + 0.001:
                speaker._halt()
            speaker._lips_until = speaker._chunk = None

    def _room(self) -> bool:
        """Whether the output has room for another piece (at most ``MAX_AHEAD`` s queued)."""
        if self.origin is None:
            return True
        return self.end - self.output.position() < MAX_AHEAD * self.rate

    def _take_pieces(self, *, block: bool) -> bool:
        """Queue the pieces that are ready while there is room; ``True`` once the last has come."""
        while True:
            if not block and not self._room():
                return False
            try:
                item = self.pieces.get(timeout=POLL) if block else self.pieces.get_nowait()
            except queue.Empty:
                return False
            block = False
            if item is None:
                self._schedule(Action(self.end, "end"))
                return True
            if isinstance(item, BaseException):
                raise item
            self._add(item)

    def _add(self, piece: Piece) -> None:
        speaker = self.speaker
        timeline = piece.timeline
        audio = piece.audio
        if self.origin is not None and timeline.names and timeline.names[0] in PAUSES:
            audio, timeline = self._shorten_pause(audio, timeline)
        chunks = [] if speaker.model is None or speaker.transport is None else [
            c for c in timeline.chunks(alias=speaker.model) if not set(c.timeline.names) <= PAUSES
        ]
        handshake = (
            self.origin is None and speaker.sync == "event" and speaker.transport is not None
            and speaker.model is not None and bool(chunks)
        )
        if handshake:
            self._handshake(chunks[0])
            if self.utterance._cancel.is_set():
                return
        curves = self._curves(timeline) if self.on_weights is not None else None
        with speaker._state:
            if self.utterance._cancel.is_set():
                return
            start = self.output.play(_silence(audio) if self.utterance.silent else audio)
            if self.origin is None:
                self.origin = start
            gap = start - max(self.end, self.origin)
            self.end = self.output.end()
            actions = [
                Action(start + round(c.start * self.rate), "start", chunk=c) for c in chunks
            ]
            if handshake:
                self._started(actions.pop(0))
        # The first sample may be due at once (an output with no buffer): from here on, only
        # what must come before it, then what is due, then the bookkeeping.
        if self.utterance.on_piece is not None:
            # Before the next piece's synthesis may start: it holds the GIL for its whole call.
            self.utterance.on_piece(self.output.sample_time(start), Piece(audio, timeline))
        for action in actions:
            self._schedule(action)
        if curves is not None:
            self.curves.append((start, start + math.ceil(curves.duration * self.rate) + 1, curves))
            if not self.frame_pending:
                self._next_frame(start)
        self._schedule(Action(start, "first"))
        self._do_due()
        self.playing.set()
        so_far = self.utterance._timeline
        if gap > 0:
            so_far = so_far + Timeline([("pau", Fraction(gap, self.rate))])
        self.utterance._timeline = so_far + timeline if len(so_far) else timeline

    def _shorten_pause(self, audio: Audio, timeline: Timeline) -> tuple[Audio, Timeline]:
        """A piece that starts with a pause, late: the silence already played counts."""
        waited = self.output.position() - max(self.end, self.output.end())
        if waited <= 0:
            return audio, timeline
        first = timeline.durations[0]
        cut = min(Fraction(waited, self.rate), first)
        samples = min(round(cut * audio.sample_rate), len(audio))
        spans = [(timeline.names[0], first - Fraction(samples, audio.sample_rate)), *zip(
            timeline.names[1:], timeline.durations[1:], strict=True)]
        return Audio(audio.samples[samples:], audio.sample_rate), Timeline(spans, allow_empty=True)

    def _handshake(self, chunk: Chunk) -> None:
        """``sync="event"``: START first, the sound when the agent says its motion began."""
        speaker = self.speaker
        assert speaker.model is not None
        speaker._event_started.clear()
        with speaker._state:
            if self.utterance._cancel.is_set():
                return
            sent = speaker.clock.now()
            speaker._lips_until = math.inf
            speaker._send(chunk.line(speaker.model))
        if speaker._events_missing:
            return  # the agent has stopped answering: do not hold the sound for it
        # A late answer still counts: it lands in the running estimate when it comes.
        speaker.clock.wait(speaker._event_started, sent + speaker.event_timeout)

    def _curves(self, timeline: Timeline) -> MouthCurves | None:
        """The mouth curves of a piece (``None``: only pauses), before its sound is queued.

        The curve runs to the closing keyframe, one sample past the timeline's end.
        """
        from lipsync.curves import mouth_curves

        if not any(n not in PAUSES for n in timeline.names):
            return None
        if self.lipmap is not self.speaker.lipmap:
            timeline, _ = resolve(timeline, self.lipmap, unknown=self.speaker.unknown)
        return mouth_curves(timeline, self.lipmap)

    # -- actions --------------------------------------------------------------------------------

    def _schedule(self, action: Action) -> None:
        heapq.heappush(self.actions, (action.index, next(self.order), action))

    def _do_due(self) -> None:
        """Do the actions already due."""
        while self.actions:
            due = self._due(self.actions[0][2])
            if due is None or self.speaker.clock.now() < due:
                return
            self._do(heapq.heappop(self.actions)[2])

    def _due(self, action: Action) -> float | None:
        at = self.output.sample_time(action.index)
        if at is None:
            return None
        if action.kind in ("start", "frame"):
            at += self.speaker.latency
        if action.kind == "start":
            at -= self.speaker._lead()
        return at

    def _do(self, action: Action) -> None:
        speaker = self.speaker
        if action.kind == "first":
            if self.utterance.started_at is None:
                self.utterance.started_at = self.output.sample_time(action.index)
        elif action.kind == "start":
            with speaker._state:
                if not self.utterance._cancel.is_set():
                    self._started(action)
                    assert action.chunk is not None and speaker.model is not None
                    speaker._send(action.chunk.line(speaker.model))
        elif action.kind == "frame":
            self._frame(action)

    def _started(self, action: Action) -> None:
        """Note that lips move from ``action``'s chunk on, until that chunk's end."""
        assert action.chunk is not None
        speaker = self.speaker
        began = self.output.sample_time(action.index)
        end = action.index + round(action.chunk.timeline.duration * self.rate)
        finish = self.output.sample_time(end)
        speaker._chunk = (action.index, action.chunk.timeline.shifted(0))
        speaker._lips_until = math.inf if began is None or finish is None else finish + speaker.latency

    def _next_frame(self, after: int) -> None:
        """Schedule the first frame of the fps grid (from the first sample) at or after ``after``."""
        assert self.origin is not None
        fps = self.fps
        number = math.ceil((after - self.origin) * fps / self.rate - 1e-9)
        action = Action(self.origin + round(number * self.rate / fps), "frame")
        # Worked out now, a frame ahead, so that when it is due only the callback is left.
        action.weights = self._weights(action.index)
        self._schedule(action)
        self.frame_pending = True

    def _weights(self, index: int) -> tuple[float, dict[str, float] | None, int]:
        """The frame at stream ``index``: its time, its weights (``None``: no curve there)."""
        assert self.origin is not None
        t = round((index - self.origin) / self.rate, 9)
        here = [c for c in self.curves if c[0] <= index < c[1]]
        if not here:
            return t, None, len(self.curves)
        first, _, curves = here[-1]
        row = curves.at([(index - first) / self.rate])[0]
        return t, dict(zip(curves.morphs, (float(w) for w in row), strict=True)), len(self.curves)

    def _frame(self, action: Action) -> None:
        """Call ``on_weights`` for the frame ``action``, and schedule the next."""
        callback = self.on_weights
        assert callback is not None
        self.frame_pending = False
        index = action.index
        ready = action.weights
        t, weights, known = ready if ready is not None else self._weights(index)
        if known != len(self.curves):
            t, weights, _ = self._weights(index)
        if weights is not None:
            callback(t, weights)
        later = [c for c in self.curves if c[1] > index + 1]
        if later:
            self._next_frame(max(index + 1, min(c[0] for c in later)))


def _silence(audio: Audio) -> Audio:
    """As long as ``audio``, and silent."""
    import numpy as np

    return Audio(np.zeros(len(audio), dtype=np.int16), audio.sample_rate)
