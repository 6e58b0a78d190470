"""One client of ``lipsync serve``: its requests in, its messages out, its speech stopped with it.

Requests are handled in the connection's own thread; messages leave through the client's
``Outbox`` (``outbox.py``).

Each frame is counted against the client address's rate before it is even parsed; a ``say``
takes its place in the queue (``lipsync.serve.limits.Queue``) before its sound is decoded, and
gives it back when its ``ended`` is sent.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import TYPE_CHECKING, Any, Protocol

from lipsync.errors import LipsyncError
from lipsync.serve.decode import decode_speech
from lipsync.serve.feed import Feed
from lipsync.serve.messages import hello, speech
from lipsync.serve.outbox import FLUSH, Outbox
from lipsync.serve.protocol import (
    PcmMessage,
    ProtocolError,
    SayRequest,
    error,
    parse_request,
    request_id_of,
)
from lipsync.speech.pieces import latin_warning
from lipsync.timeline import PAUSES

if TYPE_CHECKING:
    from websockets.sync.server import ServerConnection

    from lipsync.engines.base import Engine, EngineVoice
    from lipsync.live.speaker import Speaker, Utterance, WeightsCallback
    from lipsync.maps.lipmap import LipMap
    from lipsync.motion.settings import Motion
    from lipsync.serve.aligning import OutsideAligner
    from lipsync.serve.limits import Queue, RateLimiter
    from lipsync.serve.maps import ServerMaps
    from lipsync.speech.pieces import Piece
    from lipsync.timeline import Timeline

__all__ = ["Host", "Session"]

logger = logging.getLogger("lipsync.serve")

_DECODING = threading.BoundedSemaphore(2)  # WAVs decoded (and aligned) at once, all clients
_LARGE = 65536  # characters: a frame past this is let go of at once, and its memory given back
_WARNING = 1000  # characters of a warning sent to a client, at most
_PONG = 0.5  # seconds to wait for the pong that frees a large frame (a stuck client keeps it longer)


class Host(Protocol):
    """What a session needs of the server it belongs to (``lipsync.serve.server.Server``)."""

    #: The one speaker every client's speech goes through.
    speaker: Speaker
    #: Called with every frame of weights as well (VMC), or None.
    on_weights: WeightsCallback | None
    #: The maps a ``say`` may name.
    maps: ServerMaps
    #: Requests per client address.
    rates: RateLimiter
    #: Places in the speaker's queue.
    queue: Queue
    #: Aligns a ``wav`` to its text (out of the server's process).
    aligner: OutsideAligner

    def next_id(self) -> str:
        """A request id for a request that brought none."""
        ...

    def is_closing(self) -> bool:
        """Whether the server is shutting down (it takes no more speech)."""
        ...

    def engine(self, url: str, voice: EngineVoice, request_id: str | None) -> Engine:
        """The TTS engine a ``say`` names, if the server lets clients use it."""
        ...


class Session:
    """One client: its requests in (on the connection's thread), its messages out (``Outbox``),
    its speech stopped with it."""

    def __init__(self, server: Host, connection: ServerConnection, address: str) -> None:
        self.server = server
        self.connection = connection
        self.address = address  # the client's, what its requests are counted by
        self.out = Outbox(connection, address)
        self.send = self.out.send
        self.utterances: dict[str, Utterance] = {}
        self.lock = threading.Lock()
        self.gone = threading.Event()  # the connection is over
        self.leaving = False  # the goodbye is queued
        #: The client's open PCM stream (a say with "pcm"), if any.
        self.feed: Feed | None = None

    def stop_speech(self) -> None:
        """Stop this client's speech, playing and queued (each ends with ``stopped``)."""
        with self.lock:
            mine = list(self.utterances.values())
            feed, self.feed = self.feed, None
        if feed is not None:
            feed.close()
        for utterance in mine:
            utterance.stop()

    def leave(self) -> bool:
        """Once every utterance of this client has sent its ``ended``, queue the goodbye (a
        Close, after what is queued); whether it is queued."""
        with self.lock:
            if self.utterances:
                return False
            if not self.leaving:
                self.leaving = True
                self.out.goodbye()
        return True

    @property
    def connected(self) -> bool:
        return not self.gone.is_set()

    def run(self) -> None:
        from websockets.exceptions import ConnectionClosed

        self.out.start()
        output = self.server.speaker.output
        self.send(hello(output.sample_rate if output is not None else 48000))
        try:
            for frame in self.connection:
                self._request(frame)
                if len(frame) > _LARGE:
                    del frame
                    self._let_go_of_large_frame()
        except ConnectionClosed:
            pass
        finally:
            self.out.closed.set()
            self.stop_speech()  # a client gone mid-speech: its speech ends with it
            self.out.finish()
            self.gone.set()

    def _let_go_of_large_frame(self) -> None:
        """Free a large frame's memory now, not when the client next sends something.

        websockets' reading thread keeps the last frame it read until more data comes: a ping
        brings the pong that replaces it. Then the C allocator is asked to give freed memory
        back to the system (glibc keeps it otherwise: +95 MB resident per 15 MB WAV received).
        """
        with contextlib.suppress(Exception):
            self.connection.ping().wait(_PONG)
        _trim_memory()

    def _request(self, frame: str | bytes) -> None:
        request_id: str | None = None
        try:
            # An open stream's audio comes at its own pace (the feed holds the client back), so
            # frames are parsed before they are counted; otherwise, before anything is parsed.
            streaming = self.feed is not None
            if not streaming:
                self._count(frame)
            kind, request_id, say = parse_request(frame)
            if isinstance(say, PcmMessage):
                self._pcm(say, request_id, binary=isinstance(frame, bytes))
                return
            if streaming:
                self._count(frame)
            if kind == "stop":
                self.stop_speech()
                return
            assert isinstance(say, SayRequest)
            self._say(say, request_id or self.server.next_id())
        except ProtocolError as exc:
            self.send(exc.to_message())
        except LipsyncError as exc:
            self.send(error("failed", str(exc).splitlines()[0], request_id))
        except Exception as exc:  # a fault of ours: the client hears it, the connection goes on
            logger.warning("request %s failed: %r", request_id, exc)
            self.send(error("failed", f"the server could not take it: {exc}", request_id))

    def _count(self, frame: str | bytes) -> None:
        """Spend one of the client address's requests; refused when it has none left."""
        rates = self.server.rates
        if not rates.take(self.address):
            raise ProtocolError("rate_limited", f"more than {rates.burst:g} requests at once, or "
                                f"{rates.rate:g} a second, from your address: slow down",
                                request_id_of(frame))

    def _pcm(self, message: PcmMessage, request_id: str | None, *, binary: bool) -> None:
        """More audio for the open stream (a binary frame, or a ``pcm`` message)."""
        feed = self.feed
        if feed is None and binary:
            raise ProtocolError("bad_json", "expected a JSON text frame, got a binary one (binary frames "
                                "carry the PCM of a say with \"pcm\", and none is open)")
        if feed is None or (request_id is not None and request_id != feed.id):
            raise ProtocolError("bad_message", "no open stream for this audio: send a say with \"pcm\" "
                                "first", request_id)
        if message.data:
            feed.put(message.data)
        if message.end:
            feed.end()

    def _say(self, request: SayRequest, request_id: str) -> None:
        server = self.server
        if server.is_closing():
            raise ProtocolError("busy", "the server is shutting down", request_id)
        with self.lock:
            if request_id in self.utterances:
                raise ProtocolError("bad_message", f"id {request_id!r} is still speaking: give each say "
                                    "its own id", request_id)
            if request.stream is not None and self.feed is not None:
                raise ProtocolError("bad_message", f"stream {self.feed.id!r} is still open: end it "
                                    "(pcm with \"end\": true) before another", request_id)
        try:
            lipmap = server.maps.get(request.map)
        except LipsyncError as exc:  # its message names no path of the server's
            raise ProtocolError("bad_map", str(exc).splitlines()[0], request_id) from None
        motion = _motion(request, server.speaker.motion, lipmap)
        tts = None if request.tts is None else server.engine(*request.tts, request_id)
        size = request.sound_bytes
        refused = server.queue.reserve(self, size)
        if refused is not None:
            raise ProtocolError("busy", refused, request_id)
        try:
            if request.wav is not None and not _DECODING.acquire(blocking=False):
                raise ProtocolError("busy", "the server is decoding other clients' sound: try again in a "
                                    "moment", request_id)
            try:
                audio, timeline = decode_speech(request, server.aligner)
            finally:
                if request.wav is not None:
                    _DECODING.release()
            feed = None if request.stream is None else Feed(request_id, request.stream)
            utterance = self._speak(request, request_id, lipmap, feed or audio, timeline, motion, tts)
        except BaseException:
            server.queue.release(self, size)
            raise
        with self.lock:
            self.utterances[request_id] = utterance
            if feed is not None:
                self.feed = feed
        heard = timeline is None and request.text is None  # audio without its text
        threading.Thread(target=self._ended, args=(request_id, utterance, size, heard),
                         name="lipsync-serve-wait", daemon=True).start()

    def _speak(self, request: SayRequest, request_id: str, lipmap: LipMap, audio: Any,
               timeline: Timeline | None, motion: Motion, tts: Engine | None) -> Utterance:
        """Queue the say's speech; ``audio`` is its sound (decoded, or the stream's ``Feed``)."""
        from lipsync.maps.resolver import resolve
        from lipsync.motion.shape import mouth_shares

        server = self.server
        shares = mouth_shares(lipmap) if request.audio_mode == "client" else {}
        received = server.speaker.clock.now()
        first: list[float] = []
        client = request.audio_mode == "client"

        def on_piece(at: float | None, piece: Piece) -> None:
            now = server.speaker.clock.now()
            start = at if at is not None else now
            if not first:
                first.append(start)
                self.send({"type": "started", "id": request_id, "t": round(start - received, 6),
                           "clock": round(start, 6)}, urgent=True)
            if not client:
                return
            timeline, _ = resolve(piece.timeline, lipmap, unknown=server.speaker.unknown)
            offset = round(start - first[0], 6)
            self.send(speech(request_id, offset, piece, timeline, lipmap, shares, motion), wait=FLUSH)

        extra = server.on_weights

        def on_weights(t: float, weights: dict[str, float]) -> None:
            if extra is not None:
                extra(t, weights)
            if not client:
                self.send({"type": "frame", "id": request_id, "t": t,
                           "weights": {m: round(w, 4) for m, w in weights.items()}}, droppable=True)

        def on_warning(message: str) -> None:
            self.send({"type": "warning", "id": request_id, "message": message[:_WARNING]})

        if audio is None and request.text is not None:  # what the local say warns of, here too
            warning = latin_warning(request.text)
            if warning is not None:
                on_warning(warning)
        source: Any = request.text if audio is None else audio
        streamed = isinstance(audio, Feed)
        return server.speaker.say(
            source, timeline, interrupt=request.interrupt, lipmap=lipmap, fps=request.fps, motion=motion,
            on_weights=None if client and extra is None else on_weights, on_piece=on_piece,
            silent=request.audio_mode != "local", tts=tts, lookahead=request.lookahead if streamed else None,
            live=streamed and request.audio_mode == "none", on_warning=on_warning)

    def _ended(self, request_id: str, utterance: Utterance, size: int, heard: bool) -> None:
        try:
            utterance.wait()
            if not utterance.stopped and all(name in PAUSES for name in utterance.timeline.names):
                self.send(error("bad_speech", "nothing to say: no speech was heard in the audio" if heard
                                else "nothing to say: the text has no words Open JTalk can speak (only "
                                "punctuation, symbols or emoji?)", request_id))
        except LipsyncError as exc:
            self.send(error("bad_speech", str(exc).splitlines()[0], request_id))
        except Exception as exc:  # the speaker failed: the client hears why, the server goes on
            logger.warning("speech %s failed: %s", request_id, exc)
            self.send(error("failed", f"the server could not speak it: {exc}", request_id))
        finally:
            with self.lock:  # queued before the goodbye can be (``leave`` looks under this lock)
                self.send({"type": "ended", "id": request_id, "stopped": utterance.stopped})
                self.utterances.pop(request_id, None)
                feed = self.feed
                if feed is not None and feed.id == request_id:
                    self.feed = None
                    feed.close()
            self.server.queue.release(self, size)


def _motion(request: SayRequest, default: Motion, lipmap: LipMap) -> Motion:
    """The say's motion: its own fields over the server's; gains must name the map's morphs."""
    from lipsync.errors import ValueRefused
    from lipsync.motion.settings import Motion

    try:
        chosen = request.coarticulation
        motion = Motion.of(
            coarticulation=default.coarticulation if chosen is None else chosen,
            intensity=default.intensity if request.intensity is None else request.intensity,
            gains=dict(default.gains) if request.gains is None else request.gains,
        )
        motion.scale(lipmap.morphs)
    except ValueRefused as exc:
        raise ProtocolError("bad_message", str(exc), request.id) from None
    return motion


def _trim_memory() -> None:
    """Give the C allocator's free memory back to the system, where it can (glibc)."""
    global _trim
    if _trim is None:
        import ctypes

        try:
            _trim = ctypes.CDLL(None).malloc_trim
        except (AttributeError, OSError):
            _trim = False
    if _trim:
        _trim(0)


_trim: Any = None  # glibc's malloc_trim once looked up, or False where there is none


