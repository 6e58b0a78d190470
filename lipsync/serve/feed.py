"""A client's open PCM stream: the audio its messages bring, handed to the speaker as it comes.

The session's thread ``put``s what arrives (binary frames or ``pcm`` messages); the speaker's
stream reader iterates ``Feed`` for ``Audio`` chunks. A client faster than real time fills
the feed; ``put`` then waits (the socket is not read meanwhile: TCP holds the client back)
until there is room, the stream is stopped, or ``STALL`` seconds pass (the client is told).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from lipsync.serve.protocol import ProtocolError, StreamFormat
from lipsync.sound import Audio

__all__ = ["STALL", "Feed"]

#: Chunks held between the socket and the recogniser (a few seconds of audio).
_BACKLOG = 512
#: How long ``put`` waits for room before it refuses the audio.
STALL = 10.0


class Feed:
    """The open stream of one ``say``: its ``id``, format, and the chunks not yet heard."""

    def __init__(self, request_id: str, fmt: StreamFormat) -> None:
        self.id = request_id
        self.format = fmt
        self._chunks: queue.Queue[Audio | None] = queue.Queue(_BACKLOG)
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

    def _queue(self, item: Audio | None) -> None:
        waited = 0.0
        while not self.closed.is_set():
            try:
                self._chunks.put(item, timeout=0.05)
                return
            except queue.Full:
                waited += 0.05
                if waited >= STALL:
                    raise ProtocolError("failed", f"the stream has not been heard for {STALL:g} s: its audio "
                                        "is dropped", self.id) from None

    def __iter__(self) -> Iterator[Audio]:
        while not self.closed.is_set():
            try:
                item = self._chunks.get(timeout=0.05)
            except queue.Empty:
                continue
            if item is None:
                return
            yield item
