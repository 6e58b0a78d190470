"""One utterance on its way out: pieces in, audio queued, each action done when its sample plays.

``Run`` carries out one ``say()``: a producer thread makes the pieces (Open JTalk, a TTS
engine's speech, another voice's audio aligned to its text, or audio without text heard by the
recogniser, whole or as it streams in), and the speaker's worker thread queues each on the
output and does what the ``Schedule`` says is due (a START through the ``AgentLink``, a frame
of mouth weights, the first and last sample), by the output's clock. A stream's pieces wait
for their release (the look-ahead after their audio arrived). What is due when is the
schedule's decision; this module does the waiting, the threads and the I/O.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from lipsync.live.incoming import hand_on
from lipsync.live.link import POLL
from lipsync.live.schedule import Action, Schedule, late_by, release_wait, shorten_pause, skip_start
from lipsync.live.sources import Ready, Source, source_pieces, speech_source
from lipsync.maps.resolver import resolve
from lipsync.motion.settings import Motion
from lipsync.sound import Audio
from lipsync.speech.pieces import Piece
from lipsync.timeline import PAUSES, Chunk, Timeline

if TYPE_CHECKING:
    from lipsync.curves import MouthCurves
    from lipsync.engines.base import Engine
    from lipsync.live.audio import Output
    from lipsync.live.link import AgentLink
    from lipsync.maps.lipmap import LipMap

__all__ = ["MAX_AHEAD", "Job", "Run", "speech_source", "wait_in_slices"]

#: The most audio (seconds) queued on the output ahead of the device.
MAX_AHEAD = 4.0

_SLICE = 0.1  # a caller's untimed wait wakes this often, so its thread's signal handlers run

def wait_in_slices(wait: Callable[[float], bool], timeout: float | None) -> bool:
    """``wait(timeout)`` in short slices: a signal that lands on another thread is still
    handled in the waiting one (CPython runs handlers only between bytecodes of the main thread).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = _SLICE if deadline is None else min(_SLICE, deadline - time.monotonic())
        if wait(max(left, 0.0)):
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return False


@dataclass
class Job:
    """What one utterance is to speak, and how (the speaker's settings with the say's own)."""

    source: Source
    lipmap: LipMap
    #: The map the agent's lines are checked against (the speaker's).
    agent_map: LipMap
    fps: float
    on_weights: Callable[[float, dict[str, float]], None] | None
    on_piece: Callable[[float | None, Piece], None] | None
    silent: bool
    unknown: str | None
    voice: Any
    speed: float
    half_tone: float
    #: How the mouth moves: the on_weights curves, and whether the agent's sequences are shaped.
    motion: Motion
    #: The TTS engine that speaks its text (None: Open JTalk).
    tts: Engine | None = None
    #: How long a stream's sound is held back for the recogniser (seconds).
    lookahead: float = 0.0
    #: A live voice: never played (silent), and a piece that comes late skips ahead.
    live: bool = False
    #: Hears this utterance's warnings (besides the speaker's ``on_warning``).
    on_warning: Callable[[str], None] | None = None
    #: Set when the utterance is stopped, or ends early (an error).
    cancelled: threading.Event = field(default_factory=threading.Event)
    #: Whether it was cut short by a stop (not by an error).
    stopped: bool = False
    #: Clock time the first sample reached the device (None until it did).
    started_at: float | None = None
    #: The phonemes scheduled so far, timed from the first sample.
    timeline: Timeline = field(default_factory=lambda: Timeline([]))
    #: Set once it has been spoken, stopped or failed.
    done: threading.Event = field(default_factory=threading.Event)
    #: What made it fail (raised by ``Utterance.wait``).
    error: BaseException | None = None
    #: A user's callback raised this while it played: it ends with that error.
    failure: BaseException | None = None

    def finish(self, error: BaseException | None = None) -> None:
        self.error = error
        self.done.set()


class Run:
    """One utterance on its way out: pieces in, audio queued, actions at their samples.

    ``wake`` is set whenever there is news (a piece, a stop); ``call`` runs a user's callback
    (an error in it ends the utterance); ``warn`` reports a warning.
    """

    def __init__(
        self, job: Job, output: Output, link: AgentLink, *, wake: threading.Event,
        call: Callable[..., None], warn: Callable[[str], None],
    ) -> None:
        self.job = job
        self.output = output
        self.link = link
        self.clock = link.clock
        self.wake = wake
        self.call = call
        self.warn = warn
        self.rate = output.sample_rate
        self.schedule = Schedule(self.rate, job.fps, latency=link.latency)
        self.pieces: queue.Queue[Ready | BaseException | None] = queue.Queue(maxsize=4)
        #: A stream's piece taken from the queue and waiting for its release.
        self.held: Ready | None = None
        #: The producer may make the next piece: the first is queued on the output, or the
        #: worker is waiting for the agent's answer before it starts the sound.
        self.next_piece = threading.Event()
        #: The producer thread if it was still making a piece when the run ended.
        self.unfinished: threading.Thread | None = None
        #: The last START sent ended on a sound, not a pause: the agent holds that shape on.
        self.lips_left_open = False

    # -- pieces ---------------------------------------------------------------------------------

    def _produce(self) -> None:
        job = self.job
        try:
            items, incoming = source_pieces(job.source, rate=self.rate, clock=self.clock,
                                            cancelled=job.cancelled, lookahead=job.lookahead, live=job.live,
                                            voice=job.voice, speed=job.speed, half_tone=job.half_tone,
                                            tts=job.tts)
            heard = Fraction(0)
            for piece in items:
                release = None
                if incoming is not None:  # its sound waits for the recogniser's look-ahead
                    arrived = incoming.arrival(heard)
                    release = None if arrived is None else arrived + job.lookahead
                    heard += piece.audio.duration
                timeline, warnings = resolve(piece.timeline, job.agent_map, unknown=job.unknown)
                for warning in warnings:
                    self.warn(warning)
                if not self._put((Piece(piece.audio, timeline), release)):
                    return
                # Let the worker start the sound before making the next piece: both need the
                # GIL, and the first sound is what a listener waits for. While the worker waits
                # for a slow agent, though, the next piece is made (it would be late otherwise).
                self.next_piece.wait(1.0)
            self._put(None)
        except BaseException as exc:  # the worker re-raises it in the caller's wait()
            self._put(exc)

    def _put(self, item: Ready | BaseException | None) -> bool:
        return hand_on(self.pieces, item, self.job.cancelled, self.wake)

    def run(self, closing: Callable[[], bool]) -> None:
        """Speak the job to its end (or its stop); ``closing()`` tells that the speaker closes."""
        producer = threading.Thread(target=self._produce, name="lipsync-synth", daemon=True)
        producer.start()
        cancelled = self.job.cancelled
        schedule = self.schedule
        finished = False
        try:
            while not cancelled.is_set():
                room = self._room()
                if not finished and room:
                    finished = self._take_pieces(block=not schedule)
                if finished and not schedule:
                    break
                self.link.check_answers(lambda: closing() or cancelled.is_set())
                upcoming = schedule.next_due(self.output.sample_time, self.link.lead())
                due = None if upcoming is None else upcoming[1]
                if upcoming is not None:
                    if due is not None and self.clock.now() >= due:
                        self._do(schedule.pop())
                        continue
                elif room and self.held is None:
                    continue  # _take_pieces waited for a piece already
                self.wake.clear()
                now = self.clock.now()
                until = now + POLL if due is None else min(due, now + POLL)
                if self.held is not None:  # a stream's piece waits for its release
                    until = min(until, now + self._release_wait(self.held))
                self.clock.wait(self.wake, until)
        finally:
            if not finished:
                cancelled.set()  # the producer stops at its next piece
            if finished or (isinstance(self.job.source, str) and not self.job.stopped):
                # Let a piece being made finish, so the next utterance has the CPU to itself.
                # A stop does not wait for it (Ctrl-C must end at once; the next utterance's
                # synthesis runs beside it on an engine of its own), nor does text still arriving;
                # ``Speaker.join()`` waits for such a piece, ``close()`` does not.
                producer.join()
            elif producer.is_alive():
                self.unfinished = producer
        if self.job.stopped:
            return
        # The sound is over. Lips told to go on longer (labels longer than the audio) stop now.
        with self.link.lock:
            end = self.output.sample_time(schedule.end)
            lips = self.link.lips.until
            if lips is not None and end is not None and lips > end + self.link.latency + 0.001:
                self.output.clear()
                self.link.stop_lips()
            self.link.lips.clear()

    def _room(self) -> bool:
        """Whether the output has room for another piece (at most ``MAX_AHEAD`` s queued)."""
        if self.schedule.origin is None:
            return True
        return self.schedule.end - self.output.position() < MAX_AHEAD * self.rate

    def _take_pieces(self, *, block: bool) -> bool:
        """Queue the pieces that are ready while there is room; ``True`` once the last has come."""
        while True:
            if not block and not self._room():
                return False
            if self.held is None:
                try:
                    item = self.pieces.get(timeout=POLL) if block else self.pieces.get_nowait()
                except queue.Empty:
                    return False
                if item is None:
                    self.schedule.finish()
                    return True
                if isinstance(item, BaseException):
                    raise item
                self.held = item
            block = False
            if self._release_wait(self.held) > 0:
                return False
            piece, release = self.held
            self.held = None
            if self.job.live:  # the mouth never falls further behind a live voice
                late = late_by(release, self.clock.now(), self._queued_until())
                piece = Piece(*skip_start(piece.audio, piece.timeline, late)) if late else piece
            self._add(piece)

    def _release_wait(self, ready: Ready) -> float:
        """How long a piece still waits for its release (0: queue it now)."""
        return release_wait(ready[1], self.clock.now(), self._queued_until())

    def _queued_until(self) -> float | None:
        """When the sound queued so far ends (``None``: nothing of this utterance queued yet)."""
        return self.output.sample_time(self.output.end()) if self.schedule.origin is not None else None

    def _add(self, piece: Piece) -> None:
        job, link, schedule = self.job, self.link, self.schedule
        timeline = piece.timeline
        audio = piece.audio
        if schedule.origin is not None and timeline.names and timeline.names[0] in PAUSES:
            waited = self.output.position() - max(schedule.end, self.output.end())
            audio, timeline = shorten_pause(audio, timeline, waited, self.rate)
        every = [] if link.alias is None or link.transport is None else self._chunks(timeline, link.alias)
        chunks = [c for c in every if not set(c.timeline.names) <= PAUSES]
        if every and not chunks and self.lips_left_open:
            # Silence after a START that ended on a sound (text from a pipe ends its last
            # sentence this way): its own START shuts the lips when the sound ends, instead of
            # MMDAgent-EX holding the last shape six frames past it.
            chunks = every[:1]
        if chunks:
            self.lips_left_open = chunks[-1].timeline.names[-1] not in PAUSES
        handshake = schedule.origin is None and link.awaits_events and link.alias is not None and bool(chunks)
        if handshake:
            self.next_piece.set()  # nothing to do here until the agent answers
            handshake = link.handshake(chunks[0], job.cancelled)
            if job.cancelled.is_set():
                return
        curves = self._curves(timeline) if job.on_weights is not None else None
        with link.lock:
            if job.cancelled.is_set():
                return
            start = self.output.play(_silence(audio) if job.silent else audio)
            gap = schedule.place(start, self.output.end())
            actions = schedule.starts(start, chunks)
            if handshake:
                self._started(actions.pop(0))
        # The first sample may be due at once (an output with no buffer): from here on, only
        # what must come before it, then what is due, then the bookkeeping.
        if job.on_piece is not None:
            # Before the next piece's synthesis may start: it holds the GIL for its whole call.
            job.on_piece(self.output.sample_time(start), Piece(audio, timeline))
        for action in actions:
            schedule.add(action)
        if curves is not None:
            schedule.add_curves(start, curves)
        schedule.add(Action(start, "first"))
        self._do_due()
        self.next_piece.set()
        so_far = job.timeline
        if gap > 0:
            so_far = so_far + Timeline([("pau", Fraction(gap, self.rate))])
        job.timeline = so_far + timeline if len(so_far) else timeline

    def _chunks(self, timeline: Timeline, alias: str) -> list[Chunk]:
        """The piece's STARTs: their sequences shaped so the agent closes the lips on bilabials
        (``lipsync.motion.agent``), unless co-articulation is off."""
        if not self.job.motion.coarticulation:
            return timeline.chunks(alias=alias)
        from lipsync.motion.agent import agent_chunks

        return agent_chunks(timeline, self.job.agent_map, alias=alias)

    def _curves(self, timeline: Timeline) -> MouthCurves | None:
        """The mouth curves of a piece (``None``: only pauses), before its sound is queued.

        The curve runs to the closing keyframe, one sample past the timeline's end.
        """
        from lipsync.motion import mouth_curves

        if not any(n not in PAUSES for n in timeline.names):
            return None
        if self.job.lipmap is not self.job.agent_map:
            timeline, _ = resolve(timeline, self.job.lipmap, unknown=self.job.unknown)
        return mouth_curves(timeline, self.job.lipmap, self.job.motion)

    # -- actions --------------------------------------------------------------------------------

    def _do_due(self) -> None:
        """Do the actions already due."""
        while True:
            action = self.schedule.pop_due(self.clock.now(), self.output.sample_time, self.link.lead())
            if action is None:
                return
            self._do(action)

    def _do(self, action: Action) -> None:
        job = self.job
        if action.kind == "first":
            if job.started_at is None:
                job.started_at = self.output.sample_time(action.index)
        elif action.kind == "start":
            with self.link.lock:
                if not job.cancelled.is_set():
                    self._started(action)
                    assert action.chunk is not None and self.link.alias is not None
                    self.link.send(action.chunk.line(self.link.alias))
        elif action.kind == "frame":
            callback = job.on_weights
            assert callback is not None
            t, weights = self.schedule.frame(action)
            if weights is not None:
                callback(t, weights)
            self.schedule.frame_done(action)

    def _started(self, action: Action) -> None:
        """Note that lips move from ``action``'s chunk on, until that chunk's end."""
        assert action.chunk is not None
        self.link.started(action.index, action.chunk.timeline, self.schedule.chunk_end(action))


def _silence(audio: Audio) -> Audio:
    """As long as ``audio``, and silent."""
    import numpy as np

    return Audio(np.zeros(len(audio), dtype=np.int16), audio.sample_rate)
