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

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from fractions import Fraction
from pathlib import Path
from typing import Literal

from lipsync._run import MAX_AHEAD, Run
from lipsync._run import POLL as _POLL
from lipsync.audio import Output, open_output
from lipsync.clock import Clock, MonotonicClock
from lipsync.errors import TransportError, ValueRefused
from lipsync.lipmap import LipMap, load_map
from lipsync.names import check_alias
from lipsync.resolver import resolve
from lipsync.sound import Audio
from lipsync.stream import PAUSES, Piece
from lipsync.timeline import Timeline, start_line, stop_line
from lipsync.transport import DEFAULT_URL, Transport, open_transport

__all__ = ["EVENT_TIMEOUT", "GREETING_TIMEOUT", "MAX_AHEAD", "NO_EVENT_AFTER", "Speaker", "Utterance"]

#: How long ``sync="event"`` holds an utterance's sound for the agent's LIPSYNC_EVENT_START
#: (a real MMDAgent-EX took 45-99 ms idle, 167-466 ms busy) before it starts it anyway.
EVENT_TIMEOUT = 0.5
#: A START unanswered this long means the agent will not answer it (an unknown alias).
NO_EVENT_AFTER = 2.0
#: A live agent greets a new client at once; silence this long means it is not reading.
GREETING_TIMEOUT = 1.0
_DELAYS_KEPT = 8  # event delays the running estimate is the median of
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
                Run(self, utterance).run()
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
