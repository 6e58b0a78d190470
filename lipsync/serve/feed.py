"""A client's open PCM stream: the audio its messages bring, handed to the speaker as it comes.

The session's thread ``put``s what arrives (binary frames or ``pcm`` messages); the speaker's
stream reader iterates ``Feed`` for ``Audio`` chunks. A client faster than real time fills
the feed; ``put`` then waits (the socket is not read meanwhile: TCP holds the client back)
until there is room, the stream is stopped, or ``STALL`` seconds pass (the client is told).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator

from lipsync.serve.protocol import ProtocolError, StreamFormat
from lipsync.sound import Audio

__all__ = ["BACKLOG", "STALL", "Feed"]

#: Seconds of audio held between the socket and the recogniser, at most.
BACKLOG = 10.0
#: How long ``put`` waits for room before it refuses the audio.
STALL = 10.0
_TICK = 0.05  # seconds between looks at whether the stream was closed


class Feed:
    """The open stream of one ``say``: its ``id``, format, and the chunks not yet heard."""

    def __init__(self, request_id: str, fmt: StreamFormat) -> None:
        self.id = request_id
        self.format = fmt
        self._chunks: deque[Audio | None] = deque()
        self._held = 0  # samples in ``_chunks``
        self._room = threading.Condition()
        self._partial = b""  # a frame cut between two messages
        self.ended = False  # the client said it ends
        self.closed = threading.Event()  # the utterance is over: nothing more is taken

    def put(self, data: bytes) -> None:
        """More raw PCM (any number of bytes; a frame may be cut between two messages)."""
        if self.ended:
            raise ProtocolError("bad_message", "this stream has ended: start another say with \"pcm\"",
                                self.id)
        frame = 2 * self.format.channels
        data = self._partial + data
        whole = len(data) // frame * frame
        self._partial = data[whole:]
        if whole:
            self._queue(Audio.from_pcm16(data[:whole], self.format.sample_rate, self.format.channels))

    def end(self) -> None:
        """The client's audio ends here (a cut frame is dropped)."""
        if not self.ended:
            self.ended = True
            self._queue(None)

    def close(self) -> None:
        """The utterance is over (spoken, stopped, or the client gone): take nothing more."""
        self.closed.set()
        with self._room:
            self._chunks.clear()
            self._held = 0
            self._room.notify_all()

    def _queue(self, item: Audio | None) -> None:
        """Hold ``item`` once there is room (a chunk longer than the backlog waits for it empty)."""
        size = 0 if item is None else len(item)
        limit = BACKLOG * self.format.sample_rate
        deadline = time.monotonic() + STALL
        with self._room:
            while self._held and self._held + size > limit and not self.closed.is_set():
                if time.monotonic() >= deadline:
                    raise ProtocolError("failed", f"the stream has not been heard for {STALL:g} s: its audio "
                                        "is dropped", self.id)
                self._room.wait(_TICK)
            if self.closed.is_set():
                return
            self._chunks.append(item)
            self._held += size
            self._room.notify_all()

    def __iter__(self) -> Iterator[Audio]:
        while True:
            with self._room:
                while not self._chunks and not self.closed.is_set():
                    self._room.wait(_TICK)
                if self.closed.is_set():
                    return
                item = self._chunks.popleft()
                self._held -= 0 if item is None else len(item)
                self._room.notify_all()
            if item is None:
                return
            yield item
