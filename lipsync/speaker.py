"""The scheduler: play speech and start the agent's lips when the sound really starts.

A ``Speaker`` owns one audio output and one connection to the agent for its whole life.
``say()`` queues an ``Utterance``; a worker thread speaks them in turn. For each chunk of a
timeline (one LIPSYNC_START line each, under 2 KB) it sends the START when the chunk's first
sample reaches the device, by the output's own clock, plus ``latency``:

- ``sync="clock"``: exactly then (for agents that send no events).
- ``sync="event"``: an utterance's first START goes out before its sound, and the sound
  starts when the agent answers ``LIPSYNC_EVENT_START`` (or after ``event_timeout``, when the
  agent is slow); later STARTs leave ahead of their first sample by the agent's delay, so
  the agent's motion, not our message, meets the sound. The delay is a running estimate
  (the median of the last few answers, late ones included: a busy agent took up to 0.5 s).
  If a START goes unanswered for ``NO_EVENT_AFTER`` seconds, the speaker warns once with the
  likely causes (most often a model alias the agent does not know: it only logs that) and
  keeps to the clock until the agent answers again.

A live agent greets each client (``REMOTE_EVENT_CONNECTED``); if a TCP or WebSocket agent
says nothing within ``GREETING_TIMEOUT`` of the connection, the speaker warns that it
accepted the connection but is not reading.

Whenever speech ends before its lips would (``Utterance.stop()``, ``Speaker.stop()``,
``say(..., interrupt=True)``, ``close()``, an exception, audio shorter than its labels)
the audio stops and ``LIPSYNC_STOP`` is sent once, if lips may still be moving. If the agent
drops mid-speech the audio goes on, and when it is back it gets a START for the rest of the
current chunk.

With ``to=None`` no agent is involved: ``on_weights(t, weights)`` gets the mouth-curve
weights MMDAgent-EX would draw, ``fps`` times a second, in step with the audio.

Callbacks (``on_weights``, ``on_event``, ``on_line``, ``on_warning``) run on the speaker's
worker thread or on the transport's reader thread, never on the caller's: keep them short
and hand work to your own thread or loop. One that raises ends the current utterance with
its error (``Utterance.wait()`` re-raises it) after the lips are stopped. Warnings also go
to the ``lipsync.speaker`` logger.

Synthesis stays a bounded distance ahead of the sound: at most ``MAX_AHEAD`` seconds of
audio are queued on the output and a few pieces wait behind them.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lipsync.audio import Output, open_output
from lipsync.clock import Clock, MonotonicClock
from lipsync.errors import TransportError, ValueRefused
from lipsync.lipmap import LipMap, load_map
from lipsync.names import check_alias
from lipsync.resolver import resolve
from lipsync.sound import Audio
from lipsync.stream import PAUSES, Piece
from lipsync.timeline import Chunk, Timeline, start_line, stop_line
from lipsync.transport import DEFAULT_URL, Transport, open_transport

if TYPE_CHECKING:
    from lipsync.curves import MouthCurves

__all__ = ["EVENT_TIMEOUT", "GREETING_TIMEOUT", "MAX_AHEAD", "NO_EVENT_AFTER", "Speaker", "Utterance"]

#: How long ``sync="event"`` holds an utterance's sound for the agent's LIPSYNC_EVENT_START
#: (a real MMDAgent-EX took 45-99 ms idle, 167-466 ms busy) before it starts it anyway.
EVENT_TIMEOUT = 0.5
#: A START unanswered this long means the agent will not answer it (an unknown alias).
NO_EVENT_AFTER = 2.0
#: A live agent greets a new client at once; silence this long means it is not reading.
GREETING_TIMEOUT = 1.0
#: The most audio (seconds) queued on the output ahead of the device.
MAX_AHEAD = 4.0
_DELAYS_KEPT = 8  # event delays the running estimate is the median of
_POLL = 0.02  # the longest a wait goes without looking at the output's clock again
_SLICE = 0.1  # a caller's untimed wait wakes this often, so its thread's signal handlers run

_log = logging.getLogger(__name__)

WeightsCallback = Callable[[float, dict[str, float]], None]
EventCallback = Callable[[str, float], None]
LineCallback = Callable[[str, float, str], None]
PieceCallback = Callable[[float | None, Piece], None]


class Utterance:
    """One ``say()``: wait for it, stop it, read what was scheduled."""

    def __init__(
        self, speaker: Speaker, source: str | Iterable[str] | Iterable[tuple[Audio, str]] | Piece
    ) -> None:
        self.text = source if isinstance(source, str) else None
        self._speaker = speaker
        self._source = source
        self._done = threading.Event()
        self._cancel = threading.Event()
        self._error: BaseException | None = None
        self._failure: BaseException | None = None  # a callback's error, raised when it ends
        self._timeline = Timeline([])
        #: Clock time the first sample reached the device (``None`` until it did).
        self.started_at: float | None = None
        #: Whether it was cut short by a stop.
        self.stopped = False
        # Per-utterance choices (``Speaker.say``'s keywords); ``None``: the speaker's own.
        self.lipmap: LipMap | None = None
        self.fps: float | None = None
        self.on_weights: WeightsCallback | None = None
        self.on_piece: PieceCallback | None = None
        self.silent = False

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def timeline(self) -> Timeline:
        """The phonemes scheduled so far, timed from the utterance's first sample."""
        return self._timeline

    def wait(self, timeout: float | None = None) -> bool:
        """Block until it has been spoken or stopped; re-raise what made it fail.

        Returns ``False`` if ``timeout`` seconds passed first.
        """
        if not _wait(self._done.wait, timeout):
            return False
        if self._error is not None:
            raise self._error
        return True

    def stop(self) -> None:
        """Cut it short (or drop it, if it has not started)."""
        self._speaker._cancel(self)

    def _finish(self, error: BaseException | None = None) -> None:
        self._error = error
        self._done.set()


def _wait(wait: Callable[[float], bool], timeout: float | None) -> bool:
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


class Speaker:
    """Speech out of the sound card, lips on the agent, in step. Use it as a context manager.

    ``to``: ``"tcp://HOST:PORT"`` (default), ``"ws://HOST:PORT/PATH"``, ``"stdout"``, a
    ``Transport``, or ``None`` for no agent. ``model`` is the agent's model alias (required
    with an agent). ``audio``: ``"miniaudio"``, ``"simpleaudio"``, ``"null"`` or an
    ``Output``. ``lipmap``: the phoneme map names are checked against (default: ``mmdagent``,
    the agent's stock one). ``latency`` (seconds) is added to every START's time. ``event_timeout``: how long
    ``sync="event"`` holds an utterance's sound for the agent's answer. Leaving the ``with``
    block normally waits for queued speech; leaving it by an exception stops it at once.
    """

    def __init__(
        self,
        to: str | Transport | None = DEFAULT_URL,
        model: str | None = None,
        *,
        audio: str | Output = "miniaudio",
        lipmap: LipMap | str | Path | None = None,
        voice: str | Path | None = None,
        speed: float = 1.0,
        half_tone: float = 0.0,
        latency: float = 0.0,
        sync: Literal["event", "clock"] | None = None,
        event_timeout: float = EVENT_TIMEOUT,
        wait: float | None = None,
        unknown: str | None = None,
        fps: float = 30.0,
        on_weights: WeightsCallback | None = None,
        on_event: EventCallback | None = None,
        on_line: LineCallback | None = None,
        on_warning: Callable[[str], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        if to is not None and model is None:
            raise ValueRefused("a model alias is needed to speak through an agent (model=...)")
        self.model = check_alias(model) if model is not None else None
        if sync not in (None, "event", "clock"):
            raise ValueRefused(f"sync must be 'event' or 'clock', not {sync!r}")
        if not (math.isfinite(latency) and abs(latency) <= 10):
            raise ValueRefused(f"latency {latency} s is out of range (-10 to 10 s)")
        if not (math.isfinite(fps) and 0 < fps <= 1000):
            raise ValueRefused(f"fps must be above 0 and at most 1000, not {fps}")
        if not (math.isfinite(event_timeout) and 0 <= event_timeout <= 10):
            raise ValueRefused(f"event timeout {event_timeout} s is out of range (0 to 10 s)")
        self.lipmap = lipmap if isinstance(lipmap, LipMap) else load_map(lipmap)
        if unknown is not None:
            resolve(Timeline([]), self.lipmap, unknown=unknown)  # checks the stand-in now
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self._to = to
        self._audio = audio
        self._wait = wait
        self.voice, self.speed, self.half_tone, self.unknown = voice, speed, half_tone, unknown
        self.latency = latency
        self.fps = fps
        self.event_timeout = event_timeout
        agent = to is not None and (to if isinstance(to, str) else to.url) != "stdout"
        self.sync = sync or ("event" if agent else "clock")
        self.on_weights, self.on_event = on_weights, on_event
        self.on_line, self.on_warning = on_line, on_warning
        self.transport: Transport | None = None
        self.output: Output | None = None
        self._delays: deque[float] = deque(maxlen=_DELAYS_KEPT)  # the agent's recent answers
        self._unanswered: deque[float] = deque()  # when each START not yet answered was sent
        self._events_missing = False  # a START went unanswered: keep to the clock until one comes
        self._heard_anything = threading.Event()
        self._unfinished: list[threading.Thread] = []  # synthesis of stopped speech, finishing
        self._warned: set[str] = set()
        self._state = threading.RLock()
        self._queue: list[Utterance] = []
        self._current: Utterance | None = None
        self._wake = threading.Event()  # wakes a running utterance: a piece came, or a stop
        self._changed = threading.Condition(self._state)  # the queue or the current one changed
        self._closing = False
        self._worker: threading.Thread | None = None
        self._lips_until: float | None = None
        self._chunk: tuple[int, Timeline] | None = None  # stream index and timeline of the last START
        self._event_started = threading.Event()

    @property
    def event_delay(self) -> float | None:
        """The agent's delay from a START to its LIPSYNC_EVENT_START: the median of the last
        few (``None`` before the first)."""
        with self._state:
            delays = sorted(self._delays)
        if not delays:
            return None
        middle = len(delays) // 2
        return delays[middle] if len(delays) % 2 else (delays[middle - 1] + delays[middle]) / 2

    # -- life -----------------------------------------------------------------------------------

    def open(self) -> Speaker:
        """Connect to the agent and open the audio output (``__enter__`` does this)."""
        try:
            # The sound first: if it cannot play, the agent never sees us come and go.
            audio = self._audio
            self.output = open_output(audio, clock=self.clock) if isinstance(audio, str) else audio
            if self._to is not None:
                to = self._to
                transport = open_transport(to, wait=self._wait) if isinstance(to, str) else to
                self.transport = transport
                transport.on_line(self._heard)
                transport.on_connect(self._reconnected)
                transport.open()
                if getattr(transport, "greets", False):
                    watcher = threading.Thread(target=self._watch_greeting, name="lipsync-greeting",
                                               daemon=True)
                    watcher.start()
            worker = threading.Thread(target=self._work, name="lipsync-speaker", daemon=True)
            worker.start()
            self._worker = worker
        except BaseException:
            self.close()
            raise
        return self

    def __enter__(self) -> Speaker:
        return self.open()

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        try:
            if kind is None:
                self.join()
        finally:
            self.close()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until everything queued has been spoken (and a piece still being synthesised
        for speech that was stopped is done, so what is said next has the CPU to itself)."""
        def idle(seconds: float) -> bool:
            with self._changed:
                if not self._changed.wait_for(lambda: not self._queue and self._current is None, seconds):
                    return False
                self._unfinished = [thread for thread in self._unfinished if thread.is_alive()]
                unfinished = list(self._unfinished)
            for thread in unfinished:
                thread.join(seconds)
            return not any(thread.is_alive() for thread in unfinished)

        return _wait(idle, timeout)

    def close(self) -> None:
        """Stop speaking (STOP if lips may be moving) and let go of the output and the agent."""
        with self._state:
            self._closing = True
            self._changed.notify_all()
        try:
            self.stop()
            self._wake.set()
            worker = self._worker
            if worker is not None and worker is not threading.current_thread():
                worker.join(timeout=5.0)
        finally:
            try:
                if self.output is not None and self._audio is not self.output:
                    self.output.close()
            finally:
                if self.transport is not None:
                    self.transport.close()

    # -- speaking -------------------------------------------------------------------------------

    def say(
        self,
        speech: str | Iterable[str] | Iterable[tuple[Audio, str]] | Audio,
        timeline: Timeline | None = None,
        *,
        text: str | None = None,
        interrupt: bool = False,
        lipmap: LipMap | None = None,
        fps: float | None = None,
        on_weights: WeightsCallback | None = None,
        on_piece: PieceCallback | None = None,
        silent: bool = False,
    ) -> Utterance:
        """Queue speech: Japanese text (or an iterator of text pieces), or audio with its timeline.

        Any voice: ``say(audio, text=...)`` aligns the audio to the text it says, and an
        iterator of ``(audio, text)`` pieces plays them gaplessly, each aligned while the one
        before plays. ``interrupt=True`` stops what is playing and drops what is queued first.
        For this utterance only: ``lipmap`` draws the ``on_weights`` curves (the agent's lines
        keep the speaker's map), ``fps`` and ``on_weights`` replace the speaker's;
        ``on_piece(t, piece)`` hears each piece as it is queued (``t``: when its first sample
        plays, by the clock); ``silent=True`` plays silence of the same length (the sound goes
        elsewhere, e.g. to a client that plays it) so the agent and the weights still keep to
        the output's clock.
        """
        if fps is not None and not fps > 0:
            raise ValueRefused(f"fps must be above 0, not {fps}")
        if isinstance(speech, Audio):
            if (timeline is None) == (text is None):
                raise ValueRefused("audio needs its timeline or its text: say(audio, timeline) "
                                   "or say(audio, text=...)")
            source: str | Iterable[str] | Iterable[tuple[Audio, str]] | Piece = (
                Piece(speech, timeline) if timeline is not None else [(speech, text or "")]
            )
        elif text is not None:
            raise ValueRefused("text= goes with audio: say(audio, text=...)")
        elif timeline is not None:
            raise ValueRefused("a timeline goes with audio: say(audio, timeline)")
        else:
            source = speech
        utterance = Utterance(self, source)
        utterance.lipmap, utterance.fps, utterance.silent = lipmap, fps, silent
        utterance.on_weights, utterance.on_piece = on_weights, on_piece
        with self._state:
            if self._closing or self._worker is None:
                raise ValueRefused("the speaker is not open: use it in a 'with' block or call open()")
            if interrupt:
                self._stop_all()
            self._queue.append(utterance)
            self._changed.notify_all()
        return utterance

    def stop(self) -> None:
        """Stop what is playing and drop what is queued."""
        with self._state:
            self._stop_all()

    def _stop_all(self) -> None:
        for waiting in self._queue:
            waiting.stopped = True
            waiting._cancel.set()
            waiting._finish()
        self._queue.clear()
        if self._current is not None:
            self._cancel(self._current)

    def _cancel(self, utterance: Utterance) -> None:
        with self._state:
            if utterance.done:
                return
            utterance.stopped = True
            utterance._cancel.set()
            if utterance in self._queue:
                self._queue.remove(utterance)
                utterance._finish()
            elif utterance is self._current:
                self._halt()
            self._wake.set()
            self._event_started.set()  # a handshake waiting for the agent gives up at once
            self._changed.notify_all()

    def _halt(self) -> None:
        """Silence the output and close the lips (the one place a STOP is sent)."""
        with self._state:
            if self.output is not None:
                self.output.clear()
            lips, self._lips_until, self._chunk = self._lips_until, None, None
            if lips is not None and self.clock.now() < lips and self.model is not None:
                self._send(stop_line(self.model))

    # -- the agent ------------------------------------------------------------------------------

    def _send(self, line: str) -> bool:
        if self.transport is None:
            return False
        now = self.clock.now()
        awaited = line.startswith("LIPSYNC_START|") and self.sync == "event"
        if awaited:  # before the send: an agent in memory answers inside it
            with self._state:
                self._unanswered.append(now)
        try:
            self.transport.send(line)
        except TransportError as exc:
            if awaited:
                with self._state:
                    if now in self._unanswered:
                        self._unanswered.remove(now)
            self._warn(str(exc))
            return False
        self._call(self.on_line, ">", now, line)
        return True

    def _heard(self, line: str) -> None:
        self._heard_anything.set()
        if not line.startswith("LIPSYNC_EVENT_"):
            return  # the bus carries everything: other clients, CURRENT_TIME, our own echoes
        kind, _, alias = line.partition("|")
        if alias != self.model or kind not in ("LIPSYNC_EVENT_START", "LIPSYNC_EVENT_STOP"):
            return
        now = self.clock.now()
        self._call(self.on_line, "<", now, line)
        if kind == "LIPSYNC_EVENT_START":
            with self._state:
                # Answers come in order; a START older than NO_EVENT_AFTER was never answered.
                while self._unanswered and now - self._unanswered[0] > NO_EVENT_AFTER:
                    self._unanswered.popleft()
                if self._unanswered:
                    self._delays.append(max(now - self._unanswered.popleft(), 0.0))
                self._events_missing = False
                self._warned.discard("no-event")
            self._event_started.set()
        self._call(self.on_event, "start" if kind == "LIPSYNC_EVENT_START" else "stop", now)

    def _check_answers(self, wait: bool = False) -> None:
        """Warn once when a START has gone unanswered for ``NO_EVENT_AFTER`` (``wait``: until
        the oldest unanswered one is answered or that long old)."""
        if self.sync != "event" or self.transport is None:
            return
        with self._state:
            oldest = self._unanswered[0] if self._unanswered else None
        if oldest is None:
            return
        if wait and self.clock.now() < oldest + NO_EVENT_AFTER:
            self._event_started.clear()
            while self.clock.now() < oldest + NO_EVENT_AFTER:
                with self._state:
                    current = self._current
                    if not self._unanswered or self._unanswered[0] != oldest or self._closing or (
                            current is not None and current._cancel.is_set()):
                        return
                self.clock.wait(self._event_started, min(oldest + NO_EVENT_AFTER, self.clock.now() + _POLL))
                self._event_started.clear()
        with self._state:
            if not self._unanswered or self._unanswered[0] != oldest:
                return
            if self.clock.now() < oldest + NO_EVENT_AFTER:
                return
            self._events_missing = True
            self._unanswered.clear()
        self._warn_once(
            "no-event",
            f"MMDAgent-EX has not answered LIPSYNC_START for model alias '{self.model}' within "
            f"{NO_EVENT_AFTER:g} s (no LIPSYNC_EVENT_START): is '{self.model}' the alias the agent "
            "loaded the model under (MODEL_ADD|alias|..., case matters)? The agent only logs "
            f"'{self.model} is not found'. Keeping to the audio clock until it answers",
        )

    def _watch_greeting(self) -> None:
        transport = self.transport
        if self.clock.wait(self._heard_anything, self.clock.now() + GREETING_TIMEOUT) or self._closing:
            return
        self._warn_once(
            "greeting",
            f"the agent at {transport.url if transport else '?'} accepted the connection but has said "
            f"nothing in {GREETING_TIMEOUT:g} s (a live MMDAgent-EX greets every client with "
            "REMOTE_EVENT_CONNECTED): its Plugin_Remote may be hung; restart it (on Linux without "
            "a sound device, move AppData/Julius/jconf_phone.txt aside first)",
        )

    def _warn(self, message: str) -> None:
        """A warning: to the ``lipsync.speaker`` logger and to ``on_warning``."""
        message = message.removeprefix("lipsync: ")
        _log.warning("%s", message)
        self._call(self.on_warning, message)

    def _warn_once(self, key: str, message: str) -> None:
        with self._state:
            if key in self._warned:
                return
            self._warned.add(key)
        self._warn(message)

    def _call(self, callback: Callable[..., None] | None, *args: object) -> None:
        """Run a user's callback; if it raises, the current utterance ends with its error."""
        if callback is None:
            return
        try:
            callback(*args)
        except Exception as exc:
            with self._state:
                current = self._current
                if current is None or current.done or current._failure is not None:
                    return
                current._failure = exc
            self._cancel(current)

    def _reconnected(self) -> None:
        """The agent is back: give it the rest of the current chunk, from where the sound is."""
        with self._state:
            if self._chunk is None or self._lips_until is None or self.output is None or self.model is None:
                return
            index, timeline = self._chunk
            began = self.output.sample_time(index)
            now = self.clock.now()
            if began is None or now >= self._lips_until:
                return
            elapsed = max(now + self._lead() - (began + self.latency), 0.0)
            rest = timeline.since(Fraction(elapsed).limit_denominator(1_000_000))
            if rest.duration >= Fraction(1, 1000) and any(n not in PAUSES for n in rest.names):
                self._send(start_line(self.model, rest.to_sequence()))

    def _lead(self) -> float:
        """How far ahead of its first sample a START leaves: the agent's measured delay."""
        if self.sync != "event" or self._events_missing:
            return 0.0
        delay = self.event_delay
        return 0.0 if delay is None else delay

    # -- the worker -----------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: bool(self._queue) or self._closing)
                if not self._queue:
                    return
                utterance = self._current = self._queue.pop(0)
                self._wake.clear()
            try:
                _Run(self, utterance).run()
                self._check_answers(wait=not utterance.stopped)
                error: BaseException | None = utterance._failure
            except BaseException as exc:  # handed to whoever waits on the utterance
                error = utterance._failure or exc
                self._halt()
            finally:
                with self._changed:
                    self._current = None
                    self._changed.notify_all()
            utterance._finish(error)


def _peek(source: Iterable[Any]) -> tuple[bool, Iterator[Any]]:
    """Whether ``source`` holds ``(audio, text)`` pieces (else text), and all its items.

    Looks at the first item in the producer's thread, so a generator is read once.
    """
    items = iter(source)
    for first in items:
        return isinstance(first, tuple), itertools.chain([first], items)
    return False, iter(())


class _Action:
    """Something due when a stream sample reaches the device."""

    def __init__(self, index: int, kind: str, *, chunk: Chunk | None = None) -> None:
        self.index = index
        self.kind = kind
        self.chunk = chunk
        #: A frame's weights, worked out when it was scheduled, and how many pieces' curves
        #: there were then (a piece added since may change them).
        self.weights: tuple[float, dict[str, float] | None, int] | None = None


class _Run:
    """One utterance on its way out: pieces in, audio queued, actions at their samples."""

    def __init__(self, speaker: Speaker, utterance: Utterance) -> None:
        assert speaker.output is not None
        self.speaker = speaker
        self.output = speaker.output
        self.utterance = utterance
        self.rate = self.output.sample_rate
        self.origin: int | None = None  # stream index of the first sample
        self.end = 0  # stream index after the last queued sample
        self.actions: list[tuple[int, int, _Action]] = []
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
                wake = now + _POLL if due is None else min(due, now + _POLL)
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
                item = self.pieces.get(timeout=_POLL) if block else self.pieces.get_nowait()
            except queue.Empty:
                return False
            block = False
            if item is None:
                self._schedule(_Action(self.end, "end"))
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
                _Action(start + round(c.start * self.rate), "start", chunk=c) for c in chunks
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
        self._schedule(_Action(start, "first"))
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

    def _schedule(self, action: _Action) -> None:
        heapq.heappush(self.actions, (action.index, next(self.order), action))

    def _do_due(self) -> None:
        """Do the actions already due."""
        while self.actions:
            due = self._due(self.actions[0][2])
            if due is None or self.speaker.clock.now() < due:
                return
            self._do(heapq.heappop(self.actions)[2])

    def _due(self, action: _Action) -> float | None:
        at = self.output.sample_time(action.index)
        if at is None:
            return None
        if action.kind in ("start", "frame"):
            at += self.speaker.latency
        if action.kind == "start":
            at -= self.speaker._lead()
        return at

    def _do(self, action: _Action) -> None:
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

    def _started(self, action: _Action) -> None:
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
        action = _Action(self.origin + round(number * self.rate / fps), "frame")
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

    def _frame(self, action: _Action) -> None:
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
