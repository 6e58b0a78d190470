"""The ``simpleaudio`` output: the design's first choice, kept for machines that have it.

simpleaudio plays whole buffers and has no callback, so the clock is the moment each buffer
starts; buffers queued while one plays start when it ends (by the clock), which can leave a
gap of a few milliseconds between them. On Linux it has no wheel: it builds against the
ALSA headers.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from lipsync.errors import AudioError, MissingDependency
from lipsync.live.audio.base import DEFAULT_RATE, Output
from lipsync.live.clock import Clock

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["SimpleaudioOutput"]

INSTALL_HINT = (
    "simpleaudio is not installed: pip install 'lipsync-ja[simpleaudio]' "
    "(on Linux it builds from source: apt-get install gcc libasound2-dev first), "
    "or use --audio miniaudio"
)


class SimpleaudioOutput(Output):
    """Plays each queued buffer with ``simpleaudio.play_buffer`` from a feeder thread."""

    name = "simpleaudio"

    def __init__(self, sample_rate: int = DEFAULT_RATE, *, clock: Clock | None = None) -> None:
        super().__init__(sample_rate, clock=clock)
        try:
            import simpleaudio
        except ImportError as exc:
            raise MissingDependency(INSTALL_HINT) from exc
        self._module: Any = simpleaudio
        try:  # a device that cannot play fails here, not silently in the feeder thread later
            simpleaudio.play_buffer(bytes(4 * (sample_rate // 1000)), 1, 2, sample_rate).stop()
        except Exception as exc:  # simpleaudio's own error type
            raise AudioError(f"simpleaudio cannot play on this machine: {exc}") from exc
        self._origin = self.clock.now()
        self._blocks: deque[tuple[int, npt.NDArray[np.int16]]] = deque()
        self._playing: Any = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        self._generation = 0
        self._thread = threading.Thread(target=self._feed, name="lipsync-simpleaudio", daemon=True)
        self._thread.start()

    def position(self) -> int:
        return math.ceil((self.clock.now() - self._origin) * self.sample_rate - 1e-6)

    def sample_time(self, index: int) -> float:
        return self._origin + index / self.sample_rate

    def _queue(self, samples: npt.NDArray[np.int16], start: int) -> None:
        if self._failure is not None:
            raise AudioError(f"simpleaudio failed: {self._failure}")
        self._blocks.append((start, samples))
        self._wake.set()

    def _drop(self, position: int) -> None:
        self._blocks.clear()
        self._generation += 1
        if self._playing is not None:
            self._playing.stop()
            self._playing = None

    def _feed(self) -> None:
        """Start each block when the clock reaches it; re-anchor on the moment it really began."""
        while not self._stop.is_set():
            with self._lock:
                block = self._blocks.popleft() if self._blocks else None
                generation = self._generation
            if block is None:
                self._wake.wait()
                self._wake.clear()
                continue
            start, samples = block
            self.clock.wait(self._stop, self.sample_time(start))
            with self._lock:
                if self._stop.is_set() or generation != self._generation:  # cleared meanwhile
                    continue
                try:
                    self._playing = self._module.play_buffer(samples.tobytes(), 1, 2, self.sample_rate)
                except Exception as exc:  # simpleaudio's own error type: keep it for play()
                    self._failure = exc
                    self._blocks.clear()
                    return
                self._origin = self.clock.now() - start / self.sample_rate

    def _close(self) -> None:
        self._stop.set()
        self._wake.set()
        with self._lock:
            if self._playing is not None:
                self._playing.stop()
        self._thread.join(timeout=2)
