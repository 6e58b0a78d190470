"""``stdout``: print each line instead of sending it, for scripts and for trying things out."""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from lipsync.live.transport.base import Transport

__all__ = ["StreamTransport"]


class StreamTransport(Transport):
    """Writes each checked line to a text stream (standard output unless told) and flushes.

    When the reader has gone (``lipsync say --to stdout | head -1``), the send that finds it
    gone raises ``BrokenPipeError`` (the command ends quietly, exit 0) and later ones, such as
    the STOP of the speech it ended, have no one to reach and are dropped.
    """

    url = "stdout"

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        self._stream = stream
        self._lock = threading.Lock()
        self._gone = False  # the reader closed its end

    @property
    def connected(self) -> bool:
        return not self._gone

    def _send(self, data: bytes) -> None:
        stream = self._stream if self._stream is not None else sys.stdout
        with self._lock:
            if self._gone:
                return
            try:
                stream.write(data.decode())
                stream.flush()
            except BrokenPipeError:
                self._gone = True
                raise
