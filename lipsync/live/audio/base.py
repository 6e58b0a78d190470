"""The audio output interface: one endless stream of mono int16 samples and its clock.

Samples are numbered from 0 when the output opens ("stream index"). ``play()`` queues
samples after whatever is queued, or at once when the output is idle, and returns the index
of the first one; ``sample_time(i)`` says when sample ``i`` reaches the device, in the
output's clock. When nothing is queued the device plays silence, and the count goes on, so
one utterance after another shares one timeline.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING

from lipsync.errors import AudioError
from lipsync.live.clock import Clock, MonotonicClock

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from lipsync.sound import Audio

__all__ = ["DEFAULT_RATE", "Output", "PullOutput"]

#: Open JTalk's bundled voice speaks at 48 kHz: open devices at that rate unless told.
DEFAULT_RATE = 48000


class Output:
    """Where samples go. Subclasses say how the stream position advances and what it costs.

    ``latency`` is the device's own delay (seconds) after a sample leaves our buffer, an
    estimate included in ``sample_time``. ``notice`` is a line worth telling the user
    (a fallback that was taken), or ``""``.
    """

    name = "output"
    latency = 0.0
    notice = ""

    def __init__(self, sample_rate: int = DEFAULT_RATE, *, clock: Clock | None = None) -> None:
        if sample_rate <= 0:
            raise AudioError(f"sample rate {sample_rate} must be positive")
        self.sample_rate = sample_rate
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self._lock = threading.Lock()
        self._end = 0  # the stream index after the last queued sample
        self._closed = False

    # -- what subclasses provide --------------------------------------------------------------

    def position(self) -> int:
        """The index of the next sample to leave our buffer for the device."""
        raise NotImplementedError

    def sample_time(self, index: int) -> float | None:
        """When sample ``index`` reaches the device (``None`` while that is not yet known)."""
        raise NotImplementedError

    def _queue(self, samples: npt.NDArray[np.int16], start: int) -> None:
        """Keep ``samples`` to play from stream index ``start`` (called with the lock held)."""

    def _drop(self, position: int) -> None:
        """Forget queued samples from ``position`` on (called with the lock held)."""

    def _close(self) -> None:
        """Release the device."""

    # -- the interface ----------------------------------------------------------------------

    def play(self, audio: Audio | npt.NDArray[np.int16]) -> int:
        """Queue samples after those queued (or now, when idle); return the first's index.

        ``Audio`` at another rate is resampled (soxr, see ``Audio.resampled``) to the output's.
        """
        samples = _samples_at(audio, self.sample_rate)
        with self._lock:
            if self._closed:
                raise AudioError(f"the {self.name} output is closed")
            start = max(self._end, self.position())
            self._queue(samples, start)
            self._end = start + len(samples)
            return start

    def end(self) -> int:
        """The index after the last queued sample."""
        with self._lock:
            return self._end

    def idle(self) -> bool:
        """Whether every queued sample has left our buffer."""
        return self.position() >= self.end()

    def clear(self) -> int:
        """Drop what has not yet left our buffer (silence follows); return where it cut."""
        with self._lock:
            cut = min(self.position(), self._end)
            self._drop(cut)
            self._end = cut
            return cut

    def close(self) -> None:
        """Stop and release the device; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._close()

    def __enter__(self) -> Output:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PullOutput(Output):
    """An output whose device asks for the next N samples (a callback): it keeps a queue.

    The first request fixes the anchor: sample 0 reaches our buffer's exit at the anchor and
    the rest follow at the sample rate. A request that comes later than the anchor allows
    means the device ran dry and waited: the anchor moves later by that much. Requests that
    come early (the device filling its buffer) change nothing.
    """

    def __init__(self, sample_rate: int = DEFAULT_RATE, *, clock: Clock | None = None) -> None:
        super().__init__(sample_rate, clock=clock)
        self._blocks: deque[tuple[int, npt.NDArray[np.int16]]] = deque()
        self._handed = 0
        self._anchor: float | None = None
        self.pulled = threading.Condition(self._lock)

    def position(self) -> int:
        return self._handed

    def sample_time(self, index: int) -> float | None:
        anchor = self._anchor
        if anchor is None:
            return None
        return anchor + index / self.sample_rate + self.latency

    def _queue(self, samples: npt.NDArray[np.int16], start: int) -> None:
        self._blocks.append((start, samples))

    def _drop(self, position: int) -> None:
        kept: deque[tuple[int, npt.NDArray[np.int16]]] = deque()
        for start, samples in self._blocks:
            if start < position:
                kept.append((start, samples[: position - start]))
        self._blocks = kept

    def pull(self, frames: int) -> bytes:
        """The next ``frames`` samples as little-endian int16 bytes, silence where none."""
        import numpy as np

        now = self.clock.now()
        with self._lock:
            first = self._handed
            implied = now - first / self.sample_rate
            if self._anchor is None or implied > self._anchor:
                self._anchor = implied
            block = np.zeros(frames, dtype="<i2")
            last = first + frames
            while self._blocks:
                start, samples = self._blocks[0]
                stop = start + len(samples)
                if stop <= first:
                    self._blocks.popleft()
                    continue
                if start >= last:
                    break
                lo, hi = max(start, first), min(stop, last)
                block[lo - first : hi - first] = samples[lo - start : hi - start]
                if stop > last:
                    break
                self._blocks.popleft()
            self._handed = last
            self.pulled.notify_all()
        return block.tobytes()


def _samples_at(audio: Audio | npt.NDArray[np.int16], rate: int) -> npt.NDArray[np.int16]:
    import numpy as np

    from lipsync.sound import Audio

    if not isinstance(audio, Audio):
        given: npt.NDArray[np.int16] = np.asarray(audio, dtype=np.int16)
        return given
    return audio.resampled(rate).samples
