"""The ``miniaudio`` output: the default sound device, or miniaudio's silent NULL backend.

miniaudio asks for the next N frames from its own thread; we answer from the queue, so we
know which sample leaves when. Where the machine has no sound device, its NULL backend plays
silently in real time, with the same callback rhythm, and ``notice`` says so.
"""

from __future__ import annotations

import atexit
import logging
from collections.abc import Generator
from typing import Any

from lipsync._fds import silenced
from lipsync.errors import AudioError, MissingDependency
from lipsync.live.audio.base import DEFAULT_RATE, PullOutput
from lipsync.live.clock import Clock

__all__ = ["MiniaudioOutput"]

_log = logging.getLogger(__name__)

#: miniaudio's period: small enough to start fast, large enough for Python's GIL switches.
BUFFER_MS = 10


class MiniaudioOutput(PullOutput):
    """Plays through miniaudio; ``backend`` is the one it opened (``"null"`` for silence)."""

    name = "miniaudio"

    def __init__(
        self,
        sample_rate: int = DEFAULT_RATE,
        *,
        clock: Clock | None = None,
        buffer_ms: int = BUFFER_MS,
        null_backend: bool = False,
    ) -> None:
        super().__init__(sample_rate, clock=clock)
        try:
            import miniaudio
        except ImportError as exc:
            raise MissingDependency.needs("miniaudio") from exc
        self._device: Any = None
        opened: Any = None
        if not null_backend:
            try:
                with silenced(2):
                    opened = self._open(miniaudio, buffer_ms, None)
            except miniaudio.MiniaudioError as exc:
                detail = ", ".join(str(arg) for arg in exc.args)
                self.notice = (
                    f"no sound device ({detail}): playing silently in real time "
                    "(miniaudio NULL backend)"
                )
                _log.warning("%s", self.notice)
        if opened is None:
            try:
                opened = self._open(miniaudio, buffer_ms, [miniaudio.Backend.NULL])
            except miniaudio.MiniaudioError as exc:
                raise AudioError(f"miniaudio could not open even its NULL backend: {exc}") from exc
        self._device = opened
        self.backend = str(opened.backend).lower()
        # A real device holds about one more period after our buffer; the NULL one none.
        self.latency = 0.0 if self.backend == "null" else buffer_ms / 1000
        stream = self._stream()
        next(stream)
        try:
            opened.start(stream)
        except miniaudio.MiniaudioError as exc:
            opened.close()
            raise AudioError(f"miniaudio could not start the {self.backend} device: {exc}") from exc
        # An open miniaudio device keeps the interpreter from ever exiting: close it at exit
        # for callers who forget.
        atexit.register(self.close)

    def _open(self, miniaudio: Any, buffer_ms: int, backends: list[Any] | None) -> Any:
        return miniaudio.PlaybackDevice(
            output_format=miniaudio.SampleFormat.SIGNED16,
            nchannels=1,
            sample_rate=self.sample_rate,
            buffersize_msec=buffer_ms,
            backends=backends,
        )

    def _stream(self) -> Generator[bytes, int, None]:
        frames = yield b""
        while True:
            frames = yield self.pull(frames)

    def _close(self) -> None:
        atexit.unregister(self.close)
        device, self._device = self._device, None
        if device is not None:
            device.close()
