"""One client's messages out of ``lipsync serve``: in order, never holding up the scheduler.

Messages leave through a queue and a writer thread of the client's own, except small urgent
ones (frames, ``started``), which leave from the scheduler's thread when that keeps the order
and cannot block. See ``Outbox``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import socket
import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from websockets.sync.server import ServerConnection

__all__ = ["FLUSH", "Outbox"]

logger = logging.getLogger("lipsync.serve")

#: Seconds the scheduler waits for a ``speech`` message to leave.
FLUSH = 0.25
_OUTBOX = 4096  # messages queued for one client before its frames are dropped, and it is let go
_OUTBOX_BYTES = 64 * 1024 * 1024  # bytes queued for one client before it is let go
_GOODBYE = None, None  # the writer's cue to close the connection (the server is shutting down)
_STALL = 2.0  # seconds a send may make no progress before the client is let go
_DIRECT = 16384  # the largest message (characters) sent from the scheduler's thread


class Outbox:
    """The messages to one client (``who`` names it in warnings), sent in order.

    A small urgent message (a frame, ``started``) skips the queue when nothing is queued
    before it and the socket has room: it leaves from the scheduler's thread at once, one
    thread wake-up sooner. A ``speech`` message is queued, and the scheduler waits (at most
    ``FLUSH`` seconds) until it has gone, before the next piece's synthesis may start: Open
    JTalk holds the GIL for a whole synthesis, and would hold the message back that long. A
    send that makes no progress for ``_STALL`` seconds (a client that stopped reading), or a
    queue past ``_OUTBOX`` messages or ``_OUTBOX_BYTES``, ends that client's connection; the
    scheduler never waits on it longer than ``FLUSH``.
    """

    def __init__(self, connection: ServerConnection, who: str) -> None:
        self.connection = connection
        self.who = who
        # JSON texts to send, each with an event to set once it has gone (or failed); ``_GOODBYE``
        # to close; None to end.
        self.queue: queue.Queue[tuple[str | None, threading.Event | None] | None] = queue.Queue()
        self.sending = threading.Lock()  # held while a message is on its way out
        self.pending = 0  # queued and not yet sent (read and changed under ``count``) ...
        self.pending_bytes = 0  # ... and their characters
        self.count = threading.Lock()
        self.closed = threading.Event()  # nothing more is sent
        self._writer = threading.Thread(target=self._write, name="lipsync-serve-out", daemon=True)

    def start(self) -> None:
        _limit_sends(self.connection.socket)
        self._writer.start()

    def finish(self) -> None:
        """Send nothing more, and let the writer end (after what it is sending)."""
        self.closed.set()
        self.queue.put(None)
        self._writer.join(timeout=5.0)

    def goodbye(self) -> None:
        """Close the connection (1001) once what is queued has gone."""
        self.queue.put(_GOODBYE)

    def send(self, message: dict[str, Any], *, droppable: bool = False, urgent: bool = False,
             wait: float = 0.0) -> None:
        """Send ``message`` to the client, in order.

        ``droppable``: a frame, dropped if the client is far behind. ``urgent``: send it at
        once if it is small and that cannot block. ``wait``: block until it has gone, at most
        that many seconds.
        """
        if self.closed.is_set() or (droppable and self.queue.qsize() > _OUTBOX):
            return  # a client that does not read loses frames, never the scheduler's time
        text = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        if (droppable or urgent) and len(text) <= _DIRECT and self._send_now(text):
            return
        gone = threading.Event() if wait > 0 else None
        with self.count:
            behind = self.pending and (self.pending >= _OUTBOX
                                       or self.pending_bytes + len(text) > _OUTBOX_BYTES)
            if not behind:
                self.pending += 1
                self.pending_bytes += len(text)
        if behind:  # it does not read what it asked for: it goes, the server's memory stays
            logger.warning("client %s reads too slowly: let go", self.who)
            self._hang_up()
            return
        self.queue.put((text, gone))
        if gone is not None:
            gone.wait(wait)

    def _send_now(self, text: str) -> bool:
        """Send at once if that keeps the order and cannot block; ``False`` to queue it."""
        from lipsync._ready import writable

        if not self.sending.acquire(blocking=False):
            return False
        try:
            with self.count:
                if self.pending:
                    return False
            try:
                room = writable(self.connection.socket, 0)
            except (OSError, ValueError):  # closed under us
                return False
            if room:
                self._transmit(text)
            return bool(room)
        finally:
            self.sending.release()

    def _transmit(self, text: str) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            self.connection.send(text)
        except (ConnectionClosed, OSError):
            # Part of a frame may have gone: the stream is broken, end the connection now.
            self._hang_up()

    def _hang_up(self) -> None:
        """End the connection now, without a closing handshake."""
        self.closed.set()
        with contextlib.suppress(OSError):
            self.connection.socket.shutdown(socket.SHUT_RDWR)

    def _write(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            text, gone = item
            if text is None:  # goodbye: the server is shutting down
                self.closed.set()
                with self.sending, contextlib.suppress(Exception):
                    self.connection.close(1001, "lipsync serve is shutting down")
                continue
            with self.sending:
                if not self.closed.is_set():
                    self._transmit(text)
                with self.count:
                    self.pending -= 1
                    self.pending_bytes -= len(text)
            if gone is not None:
                gone.set()


def _limit_sends(sock: socket.socket) -> None:
    """Let a send on ``sock`` wait at most ``_STALL`` seconds (receiving keeps no limit)."""
    import struct

    if sys.platform == "win32":
        value = struct.pack("L", int(_STALL * 1000))
    else:
        value = struct.pack("ll", int(_STALL), int(_STALL % 1 * 1_000_000))
    with contextlib.suppress(OSError):  # best effort: without it, the queue still protects
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)
