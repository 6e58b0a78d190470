"""Live input: a capture device (``miniaudio``), or a file played in real time (``file:PATH``).

A capture is an iterable of ``Audio`` chunks (mono int16), each handed on as soon as it was
recorded, until ``close()`` (or, for a file, its end). ``FileCapture`` is the stand-in for a
microphone where there is none (tests, these machines): it gives a file's audio in chunks of
``period`` seconds, each when it would have been recorded by ``clock``, like the ``null``
output plays by its clock.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lipsync._fds import silenced
from lipsync.errors import AudioError, MissingDependency, ValueRefused
from lipsync.live.clock import Clock, MonotonicClock
from lipsync.sound import Audio

__all__ = ["CAPTURES", "Capture", "FileCapture", "MiniaudioCapture", "open_capture"]

CAPTURES = ("miniaudio", "file:PATH")
#: Seconds of audio per chunk: short, so the recogniser's look-ahead is most of the delay.
PERIOD = 0.01


class Capture:
    """Chunks of recorded audio as they come, at ``rate`` Hz; ``close()`` ends the iteration."""

    name = "capture"

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[Audio]:
        raise NotImplementedError

    def close(self) -> None:
        self.closed.set()

    def __enter__(self) -> Capture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FileCapture(Capture):
    """A recording given as if it were being recorded now: ``period``-second chunks in real time."""

    name = "file"

    def __init__(self, path: str | Path, *, clock: Clock | None = None, period: float = PERIOD) -> None:
        self.audio = Audio.load(path)
        super().__init__(self.audio.sample_rate)
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self.step = max(1, round(period * self.audio.sample_rate))

    def __iter__(self) -> Iterator[Audio]:
        audio, step = self.audio, self.step
        began = self.clock.now()
        for at in range(0, len(audio), step):
            chunk = Audio(audio.samples[at : at + step], audio.sample_rate)
            # A chunk is whole once its last sample is recorded.
            if self.clock.wait(self.closed, began + (at + len(chunk.samples)) / audio.sample_rate):
                return
            yield chunk


class MiniaudioCapture(Capture):
    """The default capture device, mono at ``rate`` Hz (miniaudio's own thread records)."""

    name = "miniaudio"

    def __init__(self, *, rate: int = 16000, period: float = PERIOD) -> None:
        super().__init__(rate)
        try:
            import miniaudio
        except ImportError as exc:
            raise MissingDependency.needs("miniaudio") from exc
        self._chunks: queue.Queue[bytes] = queue.Queue(maxsize=1000)
        try:
            with silenced(2):  # ALSA prints pages of C-level errors when there is no card
                self._device: Any = miniaudio.CaptureDevice(
                    input_format=miniaudio.SampleFormat.SIGNED16, nchannels=1, sample_rate=rate,
                    buffersize_msec=max(1, round(period * 1000)))
        except miniaudio.MiniaudioError as exc:
            detail = ", ".join(str(arg) for arg in exc.args)
            raise AudioError(f"no capture device ({detail}): --input file:PATH hears a recording "
                             "instead") from exc
        self.backend = str(self._device.backend).lower()
        recorder = self._record()
        next(recorder)
        self._device.start(recorder)

    def _record(self) -> Any:
        while True:
            data = yield
            try:
                self._chunks.put_nowait(bytes(data))
            except queue.Full:  # nobody is listening: drop, never block the device's thread
                pass

    def __iter__(self) -> Iterator[Audio]:
        import numpy as np

        while not self.closed.is_set():
            try:
                data = self._chunks.get(timeout=0.05)
            except queue.Empty:
                continue
            yield Audio(np.frombuffer(data, dtype="<i2").astype(np.int16), self.rate)

    def close(self) -> None:
        super().close()
        self._device.close()


def open_capture(name: str, *, clock: Clock | None = None) -> Capture:
    """The capture called ``name``: ``miniaudio`` (the default device) or ``file:PATH``."""
    if name == "miniaudio":
        return MiniaudioCapture()
    if name.startswith("file:") and len(name) > 5:
        return FileCapture(name[5:], clock=clock)
    raise ValueRefused(f"unknown input {name!r}: expected miniaudio or file:PATH")
