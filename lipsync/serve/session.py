"""One client of ``lipsync serve``: its requests in, its messages out, its speech stopped with it.

Requests are handled in the connection's own thread; messages leave through a queue and a
writer thread, except small urgent ones (frames, ``started``), which leave from the
scheduler's thread when that keeps the order and cannot block. See ``Session``.

Each frame is counted against the client address's rate before it is even parsed; a ``say``
takes its place in the queue (``lipsync.serve.limits.Queue``) before its sound is decoded, and
gives it back when its ``ended`` is sent.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import socket
import sys
import threading
from typing import TYPE_CHECKING, Any, Protocol

from lipsync.errors import LipsyncError
from lipsync.serve.messages import hello, speech
from lipsync.serve.protocol import (
    ProtocolError,
    SayRequest,
    decode_speech,
    error,
    parse_request,
    request_id_of,
)
from lipsync.timeline import PAUSES

if TYPE_CHECKING:
    from websockets.sync.server import ServerConnection

    from lipsync.live.speaker import Speaker, Utterance, WeightsCallback
    from lipsync.maps.lipmap import LipMap
    from lipsync.serve.limits import Queue, RateLimiter
    from lipsync.serve.maps import ServerMaps
    from lipsync.speech.pieces import Piece
    from lipsync.timeline import Timeline

__all__ = ["Host", "Session"]

logger = logging.getLogger("lipsync.serve")

_OUTBOX = 4096  # messages queued for one client before its frames are dropped, and it is let go
_OUTBOX_BYTES = 64 * 1024 * 1024  # bytes queued for one client before it is let go
_DECODING = threading.BoundedSemaphore(2)  # WAVs decoded (and aligned) at once, all clients
_LARGE = 65536  # characters: a frame past this is let go of at once, and its memory given back
_PONG = 0.5  # seconds to wait for the pong that frees a large frame (a stuck client keeps it longer)
_GOODBYE = None, None  # the writer's cue to close the connection (the server is shutting down)
_STALL = 2.0  # seconds a send may make no progress before the client is let go
_FLUSH = 0.25  # seconds the scheduler waits for a speech message to leave
_DIRECT = 16384  # the largest message (characters) sent from the scheduler's thread
Message = dict[str, Any]


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

    def next_id(self) -> str:
        """A request id for a request that brought none."""
        ...


class Session:
    """One client: its requests in, its messages out (through its own queue and thread).

    A small urgent message (a frame, ``started``) skips the queue when nothing is queued
    before it and the socket has room: it leaves from the scheduler's thread at once, one
    thread wake-up sooner. A ``speech`` message is queued, and the scheduler waits (at most
    ``_FLUSH`` seconds) until it has gone, before the next piece's synthesis may start: Open
    JTalk holds the GIL for a whole synthesis, and would hold the message back that long. A
    send that makes no progress for ``_STALL`` seconds (a client that stopped reading) ends
    that client's connection; the scheduler never waits on it longer than ``_FLUSH``.
    """

    def __init__(self, server: Host, connection: ServerConnection, address: str) -> None:
        self.server = server
        self.connection = connection
        self.address = address  # the client's, what its requests are counted by
        # JSON texts to send, each with an event to set once it has gone (or failed); ``_GOODBYE``
        # to close; None to end.
        self.outbox: queue.Queue[tuple[str | None, threading.Event | None] | None] = queue.Queue()
        self.sending = threading.Lock()  # held while a message is on its way out
        self.pending = 0  # queued and not yet sent (read and changed under ``count``) ...
        self.pending_bytes = 0  # ... and their characters
        self.count = threading.Lock()
        self.utterances: dict[str, Utterance] = {}
        self.lock = threading.Lock()
        self.closed = threading.Event()  # nothing more is sent
        self.gone = threading.Event()  # the connection is over
        self.leaving = False  # the goodbye is queued

    def send(self, message: Message, *, droppable: bool = False, urgent: bool = False,
             wait: float = 0.0) -> None:
        """Send ``message`` to the client, in order.

        ``droppable``: a frame, dropped if the client is far behind. ``urgent``: send it at
        once if it is small and that cannot block. ``wait``: block until it has gone, at most
        that many seconds.
        """
        if self.closed.is_set() or (droppable and self.outbox.qsize() > _OUTBOX):
            return  # a client that does not read loses frames, never the scheduler's time
        text = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        if (droppable or urgent) and len(text) <= _DIRECT and self._send_now(text):
            return
        gone = threading.Event() if wait > 0 else None
        with self.count:
            behind = self.pending and (self.pending >= _OUTBOX
                                       or self.pending_bytes + len(text) > _OUTBOX_BYTES)
            if not behind:
                self.pending += 1
                self.pending_bytes += len(text)
        if behind:  # it does not read what it asked for: it goes, the server's memory stays
            logger.warning("client %s reads too slowly: let go", self.address)
            self._hang_up()
            return
        self.outbox.put((text, gone))
        if gone is not None:
            gone.wait(wait)

    def _send_now(self, text: str) -> bool:
        """Send at once if that keeps the order and cannot block; ``False`` to queue it."""
        import select

        if not self.sending.acquire(blocking=False):
            return False
        try:
            with self.count:
                if self.pending:
                    return False
            try:
                _, room, _ = select.select([], [self.connection.socket], [], 0)
            except (OSError, ValueError):  # closed under us
                return False
            if room:
                self._transmit(text)
            return bool(room)
        finally:
            self.sending.release()

    def _transmit(self, text: str) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            self.connection.send(text)
        except (ConnectionClosed, OSError):
            # Part of a frame may have gone: the stream is broken, end the connection now.
            self._hang_up()

    def _hang_up(self) -> None:
        """End the connection now, without a closing handshake."""
        self.closed.set()
        with contextlib.suppress(OSError):
            self.connection.socket.shutdown(socket.SHUT_RDWR)

    def _write(self) -> None:
        while True:
            item = self.outbox.get()
            if item is None:
                return
            text, gone = item
            if text is None:  # goodbye: the server is shutting down
                self.closed.set()
                with self.sending, contextlib.suppress(Exception):
                    self.connection.close(1001, "lipsync serve is shutting down")
                continue
            with self.sending:
                if not self.closed.is_set():
                    self._transmit(text)
                with self.count:
                    self.pending -= 1
                    self.pending_bytes -= len(text)
            if gone is not None:
                gone.set()

    def stop_speech(self) -> None:
        """Stop this client's speech, playing and queued (each ends with ``stopped``)."""
        with self.lock:
            mine = list(self.utterances.values())
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
                self.outbox.put(_GOODBYE)
        return True

    @property
    def connected(self) -> bool:
        return not self.gone.is_set()

    def run(self) -> None:
        from websockets.exceptions import ConnectionClosed

        _limit_sends(self.connection.socket)

        writer = threading.Thread(target=self._write, name="lipsync-serve-out", daemon=True)
        writer.start()
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
            self.closed.set()
            self.stop_speech()  # a client gone mid-speech: its speech ends with it
            self.outbox.put(None)
            writer.join(timeout=5.0)
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
            if not self.server.rates.take(self.address):  # before anything is parsed or decoded
                rates = self.server.rates
                raise ProtocolError("rate_limited", f"more than {rates.burst:g} requests at once, or "
                                    f"{rates.rate:g} a second, from your address: slow down",
                                    request_id_of(frame))
            kind, request_id, say = parse_request(frame)
            if kind == "stop":
                self.stop_speech()
                return
            assert say is not None
            self._say(say, request_id or self.server.next_id())
        except ProtocolError as exc:
            self.send(exc.to_message())
        except LipsyncError as exc:
            self.send(error("failed", str(exc).splitlines()[0], request_id))
        except Exception as exc:  # a fault of ours: the client hears it, the connection goes on
            logger.warning("request %s failed: %r", request_id, exc)
            self.send(error("failed", f"the server could not take it: {exc}", request_id))

    def _say(self, request: SayRequest, request_id: str) -> None:
        server = self.server
        with self.lock:
            if request_id in self.utterances:
                raise ProtocolError("bad_message", f"id {request_id!r} is still speaking: give each say "
                                    "its own id", request_id)
        try:
            lipmap = server.maps.get(request.map)
        except LipsyncError as exc:  # its message names no path of the server's
            raise ProtocolError("bad_map", str(exc).splitlines()[0], request_id) from None
        size = request.sound_bytes
        refused = server.queue.reserve(self, size)
        if refused is not None:
            raise ProtocolError("busy", refused, request_id)
        try:
            if request.wav is not None and not _DECODING.acquire(blocking=False):
                raise ProtocolError("busy", "the server is decoding other clients' sound: try again in a "
                                    "moment", request_id)
            try:
                audio, timeline = decode_speech(request)
            finally:
                if request.wav is not None:
                    _DECODING.release()
            utterance = self._speak(request, request_id, lipmap, audio, timeline)
        except BaseException:
            server.queue.release(self, size)
            raise
        with self.lock:
            self.utterances[request_id] = utterance
        threading.Thread(target=self._ended, args=(request_id, utterance, size), name="lipsync-serve-wait",
                         daemon=True).start()

    def _speak(self, request: SayRequest, request_id: str, lipmap: LipMap, audio: Any,
               timeline: Timeline | None) -> Utterance:
        from lipsync.maps.resolver import resolve
        from lipsync.serve.shape import mouth_shares

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
            self.send(speech(request_id, offset, piece, timeline, lipmap, shares), wait=_FLUSH)

        extra = server.on_weights

        def on_weights(t: float, weights: dict[str, float]) -> None:
            if extra is not None:
                extra(t, weights)
            if not client:
                self.send({"type": "frame", "id": request_id, "t": t,
                           "weights": {m: round(w, 4) for m, w in weights.items()}}, droppable=True)

        source: Any = request.text if audio is None else audio
        return server.speaker.say(
            source, timeline, interrupt=request.interrupt, lipmap=lipmap, fps=request.fps,
            on_weights=None if client and extra is None else on_weights, on_piece=on_piece, silent=client)

    def _ended(self, request_id: str, utterance: Utterance, size: int) -> None:
        try:
            utterance.wait()
            if not utterance.stopped and all(name in PAUSES for name in utterance.timeline.names):
                self.send(error("bad_speech", "nothing to say: the text has no words Open JTalk can speak "
                                "(only punctuation, symbols or emoji?)", request_id))
        except LipsyncError as exc:
            self.send(error("bad_speech", str(exc).splitlines()[0], request_id))
        except Exception as exc:  # the speaker failed: the client hears why, the server goes on
            logger.warning("speech %s failed: %s", request_id, exc)
            self.send(error("failed", f"the server could not speak it: {exc}", request_id))
        finally:
            with self.lock:  # queued before the goodbye can be (``leave`` looks under this lock)
                self.send({"type": "ended", "id": request_id, "stopped": utterance.stopped})
                self.utterances.pop(request_id, None)
            self.server.queue.release(self, size)


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


def _limit_sends(sock: socket.socket) -> None:
    """Let a send on ``sock`` wait at most ``_STALL`` seconds (receiving keeps no limit)."""
    import struct

    if sys.platform == "win32":
        value = struct.pack("L", int(_STALL * 1000))
    else:
        value = struct.pack("ll", int(_STALL), int(_STALL % 1 * 1_000_000))
    with contextlib.suppress(OSError):  # best effort: without it, the queue still protects
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)
