"""One client of ``lipsync serve``: its requests in, its messages out, its speech stopped with it.

Requests are handled in the connection's own thread; messages leave through a queue and a
writer thread, except small urgent ones (frames, ``started``), which leave from the
scheduler's thread when that keeps the order and cannot block. See ``Session``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import queue
import socket
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Protocol

from lipsync.errors import LipsyncError
from lipsync.serve.feed import Feed
from lipsync.serve.protocol import PATH, PcmMessage, ProtocolError, SayRequest, error, parse_request

if TYPE_CHECKING:
    from websockets.sync.server import ServerConnection

    from lipsync.live.speaker import Speaker, Utterance, WeightsCallback
    from lipsync.maps.lipmap import LipMap
    from lipsync.speech.pieces import Piece
    from lipsync.timeline import Timeline

__all__ = ["RATE", "Host", "Session"]

logger = logging.getLogger("lipsync.serve")

#: Requests a client may send: a burst of ``RATE[0]``, then ``RATE[1]`` a second.
RATE = (20, 5.0)
_OUTBOX = 4096  # messages queued for one client before its frames are dropped
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

    def next_id(self) -> str:
        """A request id for a request that brought none."""
        ...

    def lipmap(self, name: str | None, request_id: str | None) -> LipMap:
        """The map a ``say`` names (or the server's own), or a ``ProtocolError``."""
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

    def __init__(self, server: Host, connection: ServerConnection) -> None:
        self.server = server
        self.connection = connection
        # JSON texts to send, each with an event to set once it has gone (or failed).
        self.outbox: queue.Queue[tuple[str, threading.Event | None] | None] = queue.Queue()
        self.sending = threading.Lock()  # held while a message is on its way out
        self.pending = 0  # queued and not yet sent (read and changed under ``count``)
        self.count = threading.Lock()
        self.utterances: dict[str, Utterance] = {}
        self.lock = threading.Lock()
        #: The client's open PCM stream (a say with "pcm"), if any.
        self.feed: Feed | None = None
        self.tokens = float(RATE[0])
        self.refilled = time.monotonic()
        self.closed = threading.Event()

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
            self.pending += 1
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
            self.closed.set()
            with contextlib.suppress(OSError):
                self.connection.socket.shutdown(socket.SHUT_RDWR)

    def _write(self) -> None:
        while True:
            item = self.outbox.get()
            if item is None:
                return
            text, gone = item
            with self.sending:
                if not self.closed.is_set():
                    self._transmit(text)
                with self.count:
                    self.pending -= 1
            if gone is not None:
                gone.set()

    def run(self) -> None:
        from websockets.exceptions import ConnectionClosed

        _limit_sends(self.connection.socket)

        writer = threading.Thread(target=self._write, name="lipsync-serve-out", daemon=True)
        writer.start()
        speaker = self.server.speaker
        self.send({"type": "hello", "version": _version(), "path": PATH, "maps": _map_names(),
                   "sample_rate": speaker.output.sample_rate if speaker.output is not None else 48000})
        try:
            for frame in self.connection:
                self._request(frame)
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()
            with self.lock:
                mine = list(self.utterances.values())
                feed, self.feed = self.feed, None
            if feed is not None:
                feed.close()
            for utterance in mine:  # a client gone mid-speech: its speech ends with it
                utterance.stop()
            self.outbox.put(None)
            writer.join(timeout=5.0)

    def _allowed(self) -> bool:
        now = time.monotonic()
        self.tokens = min(float(RATE[0]), self.tokens + (now - self.refilled) * RATE[1])
        self.refilled = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def _request(self, frame: str | bytes) -> None:
        request_id: str | None = None
        try:
            kind, request_id, say = parse_request(frame)
            if isinstance(say, PcmMessage):  # the open stream's audio: as often as it comes
                self._pcm(say, request_id, binary=isinstance(frame, bytes))
                return
            if not self._allowed():
                raise ProtocolError("rate_limited", f"more than {RATE[1]:g} requests a second: slow down",
                                    request_id)
            if kind == "stop":
                with self.lock:
                    mine = list(self.utterances.values())
                for utterance in mine:
                    utterance.stop()
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
        from lipsync.maps.resolver import resolve
        from lipsync.serve.shape import mouth_shares

        server = self.server
        with self.lock:
            if request_id in self.utterances:
                raise ProtocolError("bad_message", f"id {request_id!r} is still speaking: give each say "
                                    "its own id", request_id)
            if request.stream is not None and self.feed is not None:
                raise ProtocolError("bad_message", f"stream {self.feed.id!r} is still open: end it "
                                    "(pcm with \"end\": true) before another", request_id)
        lipmap = server.lipmap(request.map, request_id)
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
            self.send(_speech(request_id, offset, piece, timeline, lipmap, shares), wait=_FLUSH)

        extra = server.on_weights

        def on_weights(t: float, weights: dict[str, float]) -> None:
            if extra is not None:
                extra(t, weights)
            if not client:
                self.send({"type": "frame", "id": request_id, "t": t,
                           "weights": {m: round(w, 4) for m, w in weights.items()}}, droppable=True)

        source: Any = request.text if request.audio is None else request.audio
        feed = None
        if request.stream is not None:
            source = feed = Feed(request_id, request.stream)
        utterance = server.speaker.say(
            source, request.timeline, interrupt=request.interrupt, lipmap=lipmap, fps=request.fps,
            on_weights=None if client and extra is None else on_weights, on_piece=on_piece,
            silent=request.audio_mode != "local", lookahead=request.lookahead if feed is not None else None,
            live=feed is not None and request.audio_mode == "none")
        with self.lock:
            self.utterances[request_id] = utterance
            if feed is not None:
                self.feed = feed
        threading.Thread(target=self._ended, args=(request_id, utterance), name="lipsync-serve-wait",
                         daemon=True).start()

    def _ended(self, request_id: str, utterance: Utterance) -> None:
        try:
            utterance.wait()
        except LipsyncError as exc:
            self.send(error("bad_speech", str(exc).splitlines()[0], request_id))
        except Exception as exc:  # the speaker failed: the client hears why, the server goes on
            logger.warning("speech %s failed: %s", request_id, exc)
            self.send(error("failed", f"the server could not speak it: {exc}", request_id))
        finally:
            with self.lock:
                self.utterances.pop(request_id, None)
                feed = self.feed
                if feed is not None and feed.id == request_id:
                    self.feed = None
                    feed.close()
            self.send({"type": "ended", "id": request_id, "stopped": utterance.stopped})


def _limit_sends(sock: socket.socket) -> None:
    """Let a send on ``sock`` wait at most ``_STALL`` seconds (receiving keeps no limit)."""
    import struct

    if sys.platform == "win32":
        value = struct.pack("L", int(_STALL * 1000))
    else:
        value = struct.pack("ll", int(_STALL), int(_STALL % 1 * 1_000_000))
    with contextlib.suppress(OSError):  # best effort: without it, the queue still protects
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)


def _speech(request_id: str, offset: float, piece: Piece, timeline: Timeline, lipmap: LipMap,
            shares: dict[str, tuple[float, float]]) -> dict[str, Any]:
    """The ``speech`` message of one piece (``timeline``: its phonemes in ``lipmap``'s names)."""
    from lipsync.curves import FPS, mouth_curves

    keyframes: dict[str, list[list[float]]] = {}
    if any(name not in ("sil", "pau") for name in timeline.names):
        curves = mouth_curves(timeline, lipmap)
        keyframes = {m: [[round(f / FPS, 6), round(w, 4)] for f, w in keys]
                     for m, keys in curves.keyframes().items()}
    return {
        "type": "speech", "id": request_id, "offset": offset, "sample_rate": piece.audio.sample_rate,
        "pcm16": base64.b64encode(piece.audio.samples.astype("<i2").tobytes()).decode("ascii"),
        "timeline": [[p.name, float(p.start), float(p.end)] for p in timeline],
        "morphs": list(lipmap.morphs), "keyframes": keyframes,
        "shape": {m: list(share) for m, share in shares.items()},
    }


def _version() -> str:
    from lipsync._version import __version__

    return __version__


def _map_names() -> list[str]:
    """The named maps a ``say`` may ask for."""
    from lipsync.maps.named import MAP_NAMES

    return list(MAP_NAMES)
