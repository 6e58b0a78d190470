"""The transport interface: send one checked line, hear the agent's lines, survive drops.

``send()`` checks every line (one line, ending ``\\n``, no other control character, under
the byte limit) and only then hands it to the subclass's ``_send()``, which does the I/O.
What the agent says arrives, line by line, at the ``on_line`` listeners; ``on_connect``
listeners hear each (re)connection, so a speaker can resend what the agent missed.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

from lipsync.errors import ValueRefused
from lipsync.names import check_alias, check_sequence

__all__ = ["HELLO_LINE", "LINE_LIMIT", "READ_LIMIT", "LineSplitter", "Transport", "check_line"]

#: The largest line we send, newline included (MMDAgent-EX cuts a value at 2047 bytes).
LINE_LIMIT = 2047
#: The longest line we keep from the agent; longer ones are dropped whole.
READ_LIMIT = 65536
#: A complete line that is no command: it ends a stale partial line the agent may hold (never
#: a blank line, which crashes it). The agent only passes it round its bus.
HELLO_LINE = "LIPSYNC_CLIENT|lipsync\n"
_MESSAGE_TYPE = re.compile(r"[A-Z][A-Z0-9_]*\Z")


def check_line(line: str) -> bytes:
    """The UTF-8 bytes of ``line`` if it is one safe message line; ``ValueRefused`` if not.

    A blank line is refused too: MMDAgent-EX's line parser crashes on one (SIGSEGV).
    """
    if not isinstance(line, str) or not line.endswith("\n"):
        raise ValueRefused(f"refused to send {line!r}: a message must be text ending in a newline")
    body = line[:-1]
    if not body.strip():
        raise ValueRefused(f"refused to send {line!r}: a blank line crashes MMDAgent-EX")
    for ch in body:
        if ch < " " or "\x7f" <= ch <= "\x9f" or ch in "\u2028\u2029":
            raise ValueRefused(f"refused to send {line[:60]!r}: it holds the control character {ch!r}")
    _check_fields(body)
    data = _utf8(line)
    if len(data) > LINE_LIMIT:
        raise ValueRefused(f"refused to send a {len(data)}-byte line: the agent cuts lines at {LINE_LIMIT}")
    return data


def _check_fields(body: str) -> None:
    """A message is ``TYPE|field|...``; LIPSYNC_START and LIPSYNC_STOP have exactly their fields."""
    fields = body.split("|")
    if not _MESSAGE_TYPE.match(fields[0]):
        raise ValueRefused(f"refused to send {body[:60]!r}: a message starts with its TYPE in capitals")
    arity = {"LIPSYNC_START": 3, "LIPSYNC_STOP": 2}.get(fields[0])
    if arity is None:
        return
    if len(fields) != arity:
        raise ValueRefused(f"refused to send {body[:60]!r}: {fields[0]} takes {arity - 1} field(s), "
                           f"found {len(fields) - 1}")
    check_alias(fields[1])
    if arity == 3:
        check_sequence(fields[2])


def _utf8(line: str) -> bytes:
    try:
        return line.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueRefused(f"refused to send {line[:60]!r}: it is not valid Unicode text") from exc


class LineSplitter:
    """Bytes in, complete lines out; ``\\r\\n`` accepted; an endless line is dropped, not kept."""

    def __init__(self, limit: int = READ_LIMIT) -> None:
        self._buffer = bytearray()
        self._limit = limit
        self._skipping = False

    def feed(self, data: bytes) -> list[str]:
        """The lines ``data`` completes. Linear in its size: a flood of short lines costs no more."""
        self._buffer += data
        if b"\n" not in data:
            if len(self._buffer) > self._limit:
                self._buffer.clear()
                self._skipping = True
            return []
        *complete, rest = self._buffer.split(b"\n")
        self._buffer = bytearray(rest)
        lines: list[str] = []
        for raw in complete:
            if self._skipping:
                self._skipping = False
                continue
            if len(raw) <= self._limit:
                lines.append(raw.rstrip(b"\r").decode("utf-8", errors="replace"))
        if len(self._buffer) > self._limit:
            self._buffer.clear()
            self._skipping = True
        return lines


class Transport:
    """A connection to the agent. Subclasses do the I/O in ``_open``, ``_send``, ``_close``."""

    url = ""
    #: Whether a live agent on this transport greets each connection (a speaker warns if not).
    greets = False
    #: Whether the agent sends back its copy of every line it gets (MMDAgent-EX's bus does).
    echoes = False

    def __init__(self) -> None:
        self._line_listeners: list[Callable[[str], None]] = []
        self._connect_listeners: list[Callable[[], None]] = []
        self._listeners_lock = threading.Lock()

    # -- listeners ----------------------------------------------------------------------------

    def on_line(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(line)`` for each line the agent sends (from a reader thread)."""
        with self._listeners_lock:
            self._line_listeners.append(listener)

    def on_connect(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` whenever the agent connects again after a drop."""
        with self._listeners_lock:
            self._connect_listeners.append(listener)

    def _heard(self, line: str) -> None:
        with self._listeners_lock:
            listeners = list(self._line_listeners)
        for listener in listeners:
            listener(line)

    def _reconnected(self) -> None:
        with self._listeners_lock:
            listeners = list(self._connect_listeners)
        for listener in listeners:
            listener()

    # -- the interface ------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return True

    def open(self) -> None:
        """Connect (or wait for the agent); ``AgentUnreachable`` when no agent is there."""
        self._open()

    def send(self, line: str) -> None:
        """Send one line after checking it; ``TransportError`` if the agent is not there."""
        self._send(check_line(line))

    def close(self) -> None:
        """Let go of the connection; safe to call twice."""
        self._close()

    def _open(self) -> None:
        pass

    def _send(self, data: bytes) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        pass

    def __enter__(self) -> Transport:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
