"""What ``lipsync serve`` lets its clients use: connections, requests, the queue and its memory.

Every bound refuses out loud: a request over a limit gets an ``error`` (``rate_limited`` or
``busy``), a connection over the limit an ``error`` ``busy`` before it is closed. Requests are
counted per client address, across all its connections, before anything is decoded; a
malformed frame costs as much as a good one.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from lipsync.errors import ValueRefused

__all__ = ["FDS_PER_CLIENT", "Limits", "Queue", "RateLimiter", "clients_that_fit"]

#: File descriptors one client may hold: its socket, websockets' wake-up pair and selector, and
#: one to spare.
FDS_PER_CLIENT = 5
_FD_MARGIN = 32  # descriptors kept for everything else (the agent, the audio device, files)


@dataclass(frozen=True)
class Limits:
    """The bounds of one server (the defaults are ``lipsync serve``'s)."""

    #: WebSocket clients at once. Each costs about 4 threads and 4 file descriptors.
    clients: int = 32
    #: Requests (frames, whatever they hold) one address may send in a burst ...
    burst: int = 20
    #: ... and then a second.
    rate: float = 5.0
    #: Utterances accepted and not yet ended, all clients together (one mouth: they take turns).
    queue: int = 32
    #: Of those, from one connection.
    queue_per_client: int = 8
    #: Bytes of sound held by queued utterances sent as ``wav`` (16-bit samples).
    queued_audio: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        for name in ("clients", "burst", "queue", "queue_per_client", "queued_audio"):
            value = getattr(self, name)
            if not (isinstance(value, int) and 1 <= value <= 1 << 40):
                raise ValueRefused(f"serve limit {name} must be a whole number of at least 1, not {value!r}")
        if not (isinstance(self.rate, (int, float)) and 0 < self.rate <= 1e6):
            raise ValueRefused(f"serve limit rate must be above 0, not {self.rate!r}")


def clients_that_fit(spare: int = 0) -> int | None:
    """How many clients (each with ``spare`` more connections) this process's file descriptor
    limit leaves room for now; ``None`` where that cannot be told (no limit, or no way to count)."""
    try:
        import resource
    except ImportError:  # Windows: no such limit
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return None
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            used = len(os.listdir(folder))
        except OSError:
            continue
        return (soft - used - _FD_MARGIN) // FDS_PER_CLIENT - spare
    return None


class RateLimiter:
    """A token bucket per client address: ``burst`` at once, then ``rate`` a second.

    Buckets that have filled up again are forgotten when the table grows, so its memory is
    bounded by the addresses seen in the last few seconds.
    """

    _TABLE = 4096  # addresses remembered before full buckets are forgotten

    def __init__(self, burst: int, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.burst, self.rate = float(burst), float(rate)
        self._now = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, when)

    def take(self, address: str) -> bool:
        """Spend one request of ``address``'s; ``False`` when it has none left."""
        now = self._now()
        with self._lock:
            tokens, then = self._buckets.get(address, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            allowed = tokens >= 1
            self._buckets[address] = (tokens - 1 if allowed else tokens, now)
            if len(self._buckets) > self._TABLE:
                self._forget(now)
            return allowed

    def _forget(self, now: float) -> None:
        full = [a for a, (tokens, then) in self._buckets.items()
                if tokens + (now - then) * self.rate >= self.burst]
        for address in full:
            del self._buckets[address]


class Queue:
    """Places in the speaker's queue, and the bytes of sound they hold, for every client."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._count = 0
        self._bytes = 0
        self._owners: dict[int, int] = {}  # id of the owner (a session) -> its places

    def reserve(self, owner: object, size: int) -> str | None:
        """Take a place holding ``size`` bytes of sound for ``owner``; why not, if it cannot."""
        limits = self.limits
        with self._lock:
            mine = self._owners.get(id(owner), 0)
            if self._count >= limits.queue:
                return f"the server's queue is full ({limits.queue} utterances): try again when one has ended"
            if mine >= limits.queue_per_client:
                return (f"this connection has {mine} utterances queued, the most it may: try again when "
                        "one has ended")
            if size and self._bytes + size > limits.queued_audio:
                return (f"the queued sound would pass the server's {limits.queued_audio // 2**20} MB: "
                        "try again when one has ended")
            self._count += 1
            self._bytes += size
            self._owners[id(owner)] = mine + 1
            return None

    def release(self, owner: object, size: int) -> None:
        """Give back a place ``reserve`` took."""
        with self._lock:
            self._count -= 1
            self._bytes -= size
            left = self._owners.get(id(owner), 1) - 1
            if left:
                self._owners[id(owner)] = left
            else:
                self._owners.pop(id(owner), None)

    @property
    def count(self) -> int:
        """Places taken now."""
        with self._lock:
            return self._count
