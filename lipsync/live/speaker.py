"""Play speech and start the agent's lips when the sound really starts (``Speaker``).

A ``Speaker`` owns one audio output and one connection to the agent for its whole life.
``say()`` queues an ``Utterance``; a worker thread speaks them in turn. Each chunk's
LIPSYNC_START (one line under 2 KB) leaves when the chunk's first sample reaches the device,
by the output's own clock, plus ``latency``: exactly then with ``sync="clock"``; with
``sync="event"`` the first START goes before the sound, which starts on the agent's
``LIPSYNC_EVENT_START``, and later ones lead their samples by the agent's measured delay
(``lipsync.live.link`` says how, and when it warns).

Whenever speech ends before its lips would (``Utterance.stop()``, ``Speaker.stop()``,
``say(..., interrupt=True)``, ``close()``, an exception, audio shorter than its labels)
the audio stops and ``LIPSYNC_STOP`` is sent once, if lips may still be moving. If the agent
drops mid-speech the audio goes on, and when it is back it gets a START for the rest of the
current chunk. With ``to=None`` no agent is involved: ``on_weights(t, weights)`` gets the
mouth-curve weights, ``fps`` times a second, in step with the audio.

Callbacks (``on_weights``, ``on_event``, ``on_line``, ``on_warning``) run on the speaker's
worker thread or on the transport's reader thread, never on the caller's: keep them short
and hand work to your own thread or loop. One that raises ends the current utterance with
its error (``Utterance.wait()`` re-raises it) after the lips are stopped. Warnings also go
to the ``lipsync.live.speaker`` logger. At most ``MAX_AHEAD`` seconds of audio are queued on
the output ahead of the sound.

What is due at which sample is ``lipsync.live.schedule``'s decision; the agent's answers
and lips are ``lipsync.live.agent``'s state, carried out by ``lipsync.live.link``; one
utterance's threads and I/O are ``lipsync.live.run``'s. This module holds them together.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from lipsync.alignment.heard import LIVE_LOOKAHEAD, LOOKAHEAD
from lipsync.engines import engine_of
from lipsync.errors import ValueRefused
from lipsync.live.agent import NO_EVENT_AFTER
from lipsync.live.audio import Output, open_output
from lipsync.live.clock import Clock, MonotonicClock
from lipsync.live.link import GREETING_TIMEOUT, AgentLink, check_timing
from lipsync.live.run import MAX_AHEAD, Job, Run, wait_in_slices
from lipsync.live.sources import Speech, speech_source
from lipsync.live.transport import DEFAULT_URL, Transport, open_transport
from lipsync.live.utterance import Utterance
from lipsync.maps.lipmap import LipMap
from lipsync.maps.named import load_map
from lipsync.maps.resolver import resolve
from lipsync.motion.agent import sequence_for
from lipsync.motion.settings import Motion
from lipsync.names import check_alias
from lipsync.speech.pieces import Piece
from lipsync.timeline import Timeline

if TYPE_CHECKING:
    from lipsync.engines.base import Engine

__all__ = ["EVENT_TIMEOUT", "GREETING_TIMEOUT", "MAX_AHEAD", "NO_EVENT_AFTER", "Speaker", "Utterance"]

#: How long ``sync="event"`` holds an utterance's sound for the agent's LIPSYNC_EVENT_START
#: (a real MMDAgent-EX took 45-99 ms idle, 167-466 ms busy) before it starts it anyway.
EVENT_TIMEOUT = 0.5

_log = logging.getLogger(__name__)

WeightsCallback = Callable[[float, dict[str, float]], None]
EventCallback = Callable[[str, float], None]
LineCallback = Callable[[str, float, str], None]
PieceCallback = Callable[[float | None, Piece], None]


class Speaker:
    """Speech out of the sound card, lips on the agent, in step. Use it as a context manager.

    ``to``: ``"tcp://HOST:PORT"`` (default), ``"ws://HOST:PORT/PATH"``, ``"exec:PATH/MMDAgent-EX
    main.mdf"`` (started as our child, over its stdin/stdout), ``"stdout"``, a ``Transport``, or
    ``None`` for no agent. ``model`` is the agent's model alias (required with an agent).
    ``audio``: ``"miniaudio"``, ``"simpleaudio"``, ``"null"`` or an ``Output``. ``lipmap``: the
    phoneme map names are checked against (default: ``mmdagent``, the agent's stock one).
    ``motion``: how the mouth moves (``lipsync.motion.Motion``): the ``on_weights`` curves, and,
    with co-articulation on (the default), sequences shaped so the agent's own algorithm shuts
    the lips on m, b and p (``lipsync.motion.agent``); intensity and gains reach ``on_weights``
    only (the agent draws its own lip.txt). ``latency`` (seconds) is added to every START's
    time. ``event_timeout``: how long ``sync="event"`` holds an utterance's sound for the
    agent's answer. ``tts``: a TTS engine (``lipsync.engines.open_engine(...)``, or its URL such
    as ``"voicevox://127.0.0.1:50021"`` for its first speaker) that speaks text instead of Open
    JTalk. Leaving the ``with`` block normally waits for queued speech; leaving it by an
    exception stops it at once.
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
        motion: Motion | None = None,
        on_weights: WeightsCallback | None = None,
        on_event: EventCallback | None = None,
        on_line: LineCallback | None = None,
        on_warning: Callable[[str], None] | None = None,
        clock: Clock | None = None,
        tts: Engine | str | None = None,
    ) -> None:
        if to is not None and model is None:
            raise ValueRefused("a model alias is needed to speak through an agent (model=...)")
        self.model = check_alias(model) if model is not None else None
        check_timing(sync, latency, event_timeout)
        if not (math.isfinite(fps) and 0 < fps <= 1000):
            raise ValueRefused(f"fps must be above 0 and at most 1000, not {fps}")
        self.lipmap = lipmap if isinstance(lipmap, LipMap) else load_map(lipmap)
        if unknown is not None:
            resolve(Timeline([]), self.lipmap, unknown=unknown)  # checks the stand-in now
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self._to = to
        self._audio = audio
        self._wait = wait
        self.voice, self.speed, self.half_tone, self.unknown = voice, speed, half_tone, unknown
        self.tts, self.latency, self.fps, self.motion = engine_of(tts), latency, fps, motion or Motion()
        self.event_timeout = event_timeout
        agent = to is not None and (to if isinstance(to, str) else to.url) != "stdout"
        self.sync = sync or ("event" if agent else "clock")
        self.on_weights, self.on_event = on_weights, on_event
        self.on_line, self.on_warning = on_line, on_warning
        self.transport: Transport | None = None
        self.output: Output | None = None
        self._unfinished: list[threading.Thread] = []  # synthesis of stopped speech, finishing
        self._state = threading.RLock()
        self._link = self._new_link(None)
        self._queue: list[Job] = []
        self._current: Job | None = None
        self._wake = threading.Event()  # wakes a running utterance: a piece came, or a stop
        self._changed = threading.Condition(self._state)  # the queue or the current one changed
        self._closing = False
        self._worker: threading.Thread | None = None

    def _new_link(self, transport: Transport | None) -> AgentLink:
        return AgentLink(
            transport, self.model, sync=self.sync, clock=self.clock, lock=self._state, latency=self.latency,
            event_timeout=self.event_timeout, warn=self._warn, call=self._call, on_line=self.on_line,
            on_event=self.on_event, sequence=sequence_for(self.motion, self.lipmap),
        )

    @property
    def event_delay(self) -> float | None:
        """The agent's delay from a START to its LIPSYNC_EVENT_START: the median of the last
        few (``None`` before the first)."""
        return self._link.event_delay

    def reached_agent(self, timeout: float = 0.0) -> bool | None:
        """Whether a START we sent is known to have reached the agent: the agent sent back its
        bus copy of one, or an event (wait up to ``timeout`` seconds for that). ``None`` when
        there is no agent to tell (none, or ``stdout``) or no START was sent."""
        return self._link.reached(timeout)

    # -- life -----------------------------------------------------------------------------------

    def open(self) -> Speaker:
        """Connect to the agent and open the audio output (``__enter__`` does this)."""
        try:
            # The sound first: if it cannot play, the agent never sees us come and go.
            audio = self._audio
            self.output = open_output(audio, clock=self.clock) if isinstance(audio, str) else audio
            if self._to is not None:
                to = self._to
                transport = (open_transport(to, wait=self._wait, model=self.model) if isinstance(to, str)
                             else to)
                self.transport = transport
                self._link = self._new_link(transport)
                transport.on_line(self._link.heard)
                transport.on_connect(self._link.reconnected)
            self._link.output = self.output
            if self.transport is not None:
                self.transport.open()
                if getattr(self.transport, "greets", False):
                    watcher = threading.Thread(target=self._link.watch_greeting, args=(self._is_closing,),
                                               name="lipsync-greeting", daemon=True)
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

        return wait_in_slices(idle, timeout)

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
        speech: Speech,
        timeline: Timeline | None = None,
        *,
        text: str | None = None,
        interrupt: bool = False,
        lipmap: LipMap | None = None,
        fps: float | None = None,
        motion: Motion | None = None,
        on_weights: WeightsCallback | None = None,
        on_piece: PieceCallback | None = None,
        silent: bool = False,
        tts: Engine | str | None = None,
        lookahead: float | None = None,
        live: bool = False,
        on_warning: Callable[[str], None] | None = None,
    ) -> Utterance:
        """Queue speech: Japanese text (or an iterator of text pieces), or audio with its timeline.

        Any voice: ``say(audio, text=...)`` aligns the audio to the text it says, and an
        iterator of ``(audio, text)`` pieces plays them gaplessly, each aligned while the one
        before plays. Without text: ``say(audio)`` hears the phonemes in a recording
        (``lipsync.alignment.recognize``), and an iterator of ``Audio`` chunks is a stream
        heard as it comes (a TTS or speech-to-speech pipe), its sound held back ``lookahead``
        seconds (default 0.4) so that the mouth is on time; ``live=True``: a live voice (a
        microphone), never played (silent), the mouth ``lookahead`` behind it, a piece the
        recogniser makes late skipping ahead rather than falling behind. When the text is
        known, give it: aligned speech is more accurate. ``interrupt=True`` stops what is
        playing and drops what is queued first.
        For this utterance only: ``lipmap`` draws the ``on_weights`` curves (the agent's lines
        keep the speaker's map), ``fps``, ``motion`` and ``on_weights`` replace the speaker's;
        ``on_piece(t, piece)`` hears each piece as it is queued (``t``: when its first sample
        plays, by the clock); ``silent=True`` plays silence of the same length (the sound goes
        elsewhere, e.g. to a client that plays it) so the agent and the weights still keep to
        the output's clock. ``tts``: the TTS engine that speaks this text (default: the speaker's).
        ``on_warning`` hears this utterance's warnings too (besides the speaker's).
        """
        source = speech_source(speech, timeline, text, fps=fps, tts=tts, lookahead=lookahead, live=live)
        job = Job(
            source=source, lipmap=lipmap or self.lipmap, agent_map=self.lipmap, fps=fps or self.fps,
            on_weights=on_weights or self.on_weights, on_piece=on_piece, silent=silent or live, live=live,
            unknown=self.unknown, voice=self.voice, speed=self.speed, half_tone=self.half_tone,
            tts=engine_of(tts) if tts is not None else self.tts,
            motion=motion or self.motion,
            lookahead=(LIVE_LOOKAHEAD if live else LOOKAHEAD) if lookahead is None else lookahead,
            on_warning=on_warning,
        )
        with self._state:
            if self._closing or self._worker is None:
                raise ValueRefused("the speaker is not open: use it in a 'with' block or call open()")
            if interrupt:
                self._stop_all()
            self._queue.append(job)
            self._changed.notify_all()
        return Utterance(job, self._cancel)

    def stop(self) -> None:
        """Stop what is playing and drop what is queued."""
        with self._state:
            self._stop_all()

    def _stop_all(self) -> None:
        for waiting in self._queue:
            waiting.stopped = True
            waiting.cancelled.set()
            waiting.finish()
        self._queue.clear()
        if self._current is not None:
            self._cancel(self._current)

    def _cancel(self, job: Job) -> None:
        with self._state:
            if job.done.is_set():
                return
            job.stopped = True
            job.cancelled.set()
            if job in self._queue:
                self._queue.remove(job)
                job.finish()
            elif job is self._current:
                self._halt()
            self._wake.set()
            self._link.event_started.set()  # a handshake waiting for the agent gives up at once
            self._changed.notify_all()

    def _halt(self) -> None:
        """Silence the output and close the lips (a STOP if they may still move)."""
        with self._state:
            if self.output is not None:
                self.output.clear()
            self._link.stop_lips()

    # -- callbacks and warnings -----------------------------------------------------------------

    def _warn(self, message: str) -> None:
        """A warning: to the ``lipsync.live.speaker`` logger and to ``on_warning``."""
        message = message.removeprefix("lipsync: ")
        _log.warning("%s", message)
        job = self._current
        for hears in (self.on_warning, None if job is None else job.on_warning):
            self._call(hears, message)

    def _call(self, callback: Callable[..., None] | None, *args: object) -> None:
        """Run a user's callback; if it raises, the current utterance ends with its error."""
        if callback is None:
            return
        try:
            callback(*args)
        except Exception as exc:
            with self._state:
                current = self._current
                if current is None or current.done.is_set() or current.failure is not None:
                    return
                current.failure = exc
            self._cancel(current)

    def _is_closing(self) -> bool:
        return self._closing

    def _ending(self, job: Job) -> bool:
        return self._closing or job.cancelled.is_set()

    # -- the worker -----------------------------------------------------------------------------

    def _work(self) -> None:
        assert self.output is not None
        while True:
            with self._changed:
                self._changed.wait_for(lambda: bool(self._queue) or self._closing)
                if not self._queue:
                    return
                job = self._current = self._queue.pop(0)
                self._wake.clear()
            try:
                run = Run(job, self.output, self._link, wake=self._wake, call=self._call, warn=self._warn)
                try:
                    run.run(self._is_closing)
                finally:
                    if run.unfinished is not None:
                        self._unfinished.append(run.unfinished)
                self._link.check_answers(functools.partial(self._ending, job), wait=not job.stopped)
                error: BaseException | None = job.failure
            except BaseException as exc:  # handed to whoever waits on the utterance
                error = job.failure or exc
                with contextlib.suppress(Exception):  # a STOP that cannot go: the first error tells
                    self._halt()
            finally:
                with self._changed:
                    self._current = None
                    self._changed.notify_all()
            job.finish(error)
