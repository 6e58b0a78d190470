"""``MemoryTransport``: an agent in memory, for tests and for engines that want the lines.

It records each line sent with the clock time it was sent, lets a test play the agent
(``receive()`` a line, ``drop()`` and ``reconnect()``), and can answer each line the way a
real agent would with ``answer``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from lipsync.errors import TransportError
from lipsync.live.clock import Clock, MonotonicClock
from lipsync.live.transport.base import Transport

__all__ = ["MemoryTransport"]


class MemoryTransport(Transport):
    """Lines go to ``sent`` as ``(time, line)``; ``answer(line)`` gives the agent's replies."""

    url = "memory"

    def __init__(
        self, *, clock: Clock | None = None, answer: Callable[[str], list[str]] | None = None
    ) -> None:
        super().__init__()
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self.answer = answer
        self.sent: list[tuple[float, str]] = []
        self._connected = True
        self._lock = threading.Lock()

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def lines(self) -> list[str]:
        with self._lock:
            return [line for _, line in self.sent]

    def _send(self, data: bytes) -> None:
        if not self._connected:
            raise TransportError("lipsync: the in-memory agent is disconnected")
        line = data.decode()
        with self._lock:
            self.sent.append((self.clock.now(), line))
        if self.answer is not None:
            for reply in self.answer(line):
                self._heard(reply)

    def receive(self, line: str) -> None:
        """Play the agent: deliver ``line`` to the listeners."""
        self._heard(line)

    def drop(self) -> None:
        self._connected = False

    def reconnect(self) -> None:
        self._connected = True
        self._reconnected()
