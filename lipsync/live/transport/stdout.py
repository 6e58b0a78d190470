"""``stdout``: print each line instead of sending it, for scripts and for trying things out."""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from lipsync.live.transport.base import Transport

__all__ = ["StreamTransport"]


class StreamTransport(Transport):
    """Writes each checked line to a text stream (standard output unless told) and flushes."""

    url = "stdout"

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        self._stream = stream
        self._lock = threading.Lock()

    def _send(self, data: bytes) -> None:
        stream = self._stream if self._stream is not None else sys.stdout
        with self._lock:
            stream.write(data.decode())
            stream.flush()
