"""Audio chunks on their way in: when each arrived, and when the source fell silent.

A stream of speech to hear (``Speaker.say(chunks)``, ``say --pcm -``, serve's PCM messages,
a capture device) is read on a thread of its own, so that a source that blocks (a pipe, a
socket, a device) never stops the rest. ``Incoming`` notes the clock time each chunk arrived
(the sound is held back from then, ``lipsync.live.schedule.release_wait``), and when nothing
has come for ``idle`` seconds after some audio it hands on one empty chunk: the recogniser
then commits what it heard (``lipsync.alignment.heard``), so the end of a reply plays before
the next one starts. A source that is a list is all there already: it is read directly, and
every chunk of it arrived when the first was read.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from typing import TypeVar

from lipsync.live.clock import Clock
from lipsync.sound import Audio

__all__ = ["IDLE", "Incoming", "hand_on"]

T = TypeVar("T")

#: Nothing new for this long (seconds) after some audio: the source paused.
IDLE = 0.06
_BACKLOG = 256  # chunks read ahead of the recogniser


class Incoming:
    """Iterate to get the chunks of ``source`` as they come (and an empty one after a pause).

    ``arrival(at)`` is when the chunk holding second ``at`` of the stream arrived, by ``clock``.
    """

    def __init__(self, source: Iterable[Audio], clock: Clock, cancelled: threading.Event,
                 *, idle: float = IDLE) -> None:
        self.source = source
        self.clock = clock
        self.cancelled = cancelled
        self.idle = idle
        self._arrivals: deque[tuple[Fraction, float]] = deque()  # (stream second, clock time)
        self._heard = Fraction(0)
        self._items: queue.Queue[tuple[Audio, float] | BaseException | None] = queue.Queue(_BACKLOG)
        self._news = threading.Event()

    def arrival(self, at: Fraction) -> float | None:
        """When the chunk holding stream second ``at`` arrived (older notes are forgotten)."""
        while len(self._arrivals) > 1 and self._arrivals[1][0] <= at:
            self._arrivals.popleft()
        return self._arrivals[0][1] if self._arrivals else None

    def __iter__(self) -> Iterator[Audio]:
        if isinstance(self.source, Sequence):  # all there already: it all arrived now
            began = self.clock.now()
            for chunk in self.source:
                self._note(chunk, began)
                yield chunk
            return
        reader = threading.Thread(target=self._read, name="lipsync-incoming", daemon=True)
        reader.start()
        rate: int | None = None
        paused = True  # no audio since the last pause was told
        while not self.cancelled.is_set():
            try:
                # After a pause, wait as long as it takes; while audio comes, time the silence.
                item = self._items.get(timeout=0.05) if paused else self._items.get_nowait()
            except queue.Empty:
                if paused or rate is None:
                    continue
                self._news.clear()
                if self._items.empty() and not self.clock.wait(self._news, self.clock.now() + self.idle):
                    paused = True
                    yield _silence(rate)
                continue
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            chunk, arrived = item
            self._note(chunk, arrived)
            if isinstance(chunk, Audio):
                rate = chunk.sample_rate
                paused = paused and len(chunk) == 0
            yield chunk

    def _note(self, chunk: object, arrived: float) -> None:
        if isinstance(chunk, Audio) and len(chunk):
            self._arrivals.append((self._heard, arrived))
            self._heard += chunk.duration

    def _read(self) -> None:
        try:
            for chunk in self.source:
                if not self._put((chunk, self.clock.now())):
                    return
            self._put(None)
        except BaseException as exc:  # the iterating thread raises it
            self._put(exc)

    def _put(self, item: tuple[Audio, float] | BaseException | None) -> bool:
        return hand_on(self._items, item, self.cancelled, self._news)


def hand_on(into: queue.Queue[T], item: T, cancelled: threading.Event, news: threading.Event) -> bool:
    """Put ``item`` into the bounded queue ``into`` once there is room, then set ``news``;
    ``False`` (and nothing put) if ``cancelled`` is set first."""
    while not cancelled.is_set():
        try:
            into.put(item, timeout=0.05)
        except queue.Full:
            continue
        news.set()
        return True
    return False


def _silence(rate: int) -> Audio:
    """An empty chunk: the source paused."""
    import numpy as np

    return Audio(np.zeros(0, dtype=np.int16), rate)
