"""HTTP to a local TTS engine (the standard library's ``http.client``): one request at a time,
cancellable while the engine works, retried once when the connection drops.

Every call the engines need (a query, a synthesis, a voice) has no side effect on the engine,
so a connection dropped before the whole answer came (the engine closed an idle keep-alive
connection, or died and came back) is retried once on a new one. While the engine works,
the wait looks at ``cancelled`` every ``POLL`` seconds: a stopped utterance closes its
connection at once instead of waiting out a synthesis (the engine may finish it anyway;
only VOICEVOX's optional cancellable synthesis could stop it). Errors name the engine, its
URL and what it answered: its JSON error shapes (``{"detail": "..."}``, FastAPI's
``{"detail": [{"msg": ...}]}``, VOICEVOX 0.26's ``{"message": "..."}``) or its text.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from typing import Any
from urllib.parse import quote, urlencode

from lipsync._numbers import short
from lipsync._ready import readable
from lipsync.errors import EngineError, EngineUnreachable

__all__ = ["POLL", "HttpClient", "RequestCancelled", "describe_error"]

#: How often a wait for the engine's answer looks at its ``cancelled`` event (seconds).
POLL = 0.02
_DROPPED = (http.client.RemoteDisconnected, http.client.IncompleteRead, http.client.BadStatusLine,
            ConnectionResetError, ConnectionAbortedError, BrokenPipeError)
_MAX_ANSWER = 256 * 1024 * 1024  # a WAV of about 45 minutes at 48 kHz: more is no engine's answer


class RequestCancelled(EngineError):
    """The request was given up because its utterance was stopped."""


class HttpClient:
    """Requests to one engine at ``http://host:port`` + ``prefix``; names it ``engine`` in errors.

    ``start``: how to start the engine (said when nothing answers). ``connect_timeout``: a
    local engine is up or not; ``timeout``: the longest wait for one answer (a first
    synthesis may load the voice's model first).
    """

    def __init__(
        self, engine: str, host: str, port: int, prefix: str = "", *, start: str,
        connect_timeout: float = 2.0, timeout: float = 60.0,
    ) -> None:
        self.engine = engine
        self.host = host
        self.port = port
        self.prefix = prefix.rstrip("/")
        self.start = start
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        shown = f"[{host}]" if ":" in host else host
        self.base = f"http://{shown}:{port}{self.prefix}"
        self._idle: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    def call(
        self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None, *,
        cancelled: threading.Event | None = None, audio: bool = False,
    ) -> Any:
        """The engine's answer to one request: parsed JSON, or the bytes of a WAV with ``audio``.

        ``body`` is sent as JSON. ``RequestCancelled`` once ``cancelled`` is set;
        ``EngineUnreachable`` when nothing listens; ``EngineError`` for any other failure.
        """
        target = self.prefix + path
        if params:
            target += "?" + urlencode({k: _text(v) for k, v in params.items()}, quote_via=quote)
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        for attempt in (1, 2):
            try:
                status, kind, answer = self._exchange(method, target, path, data, cancelled)
                break
            except _DROPPED as exc:
                if attempt == 2:
                    raise EngineError(f"{self._who(path)}: the connection dropped before its answer, "
                                      f"twice ({type(exc).__name__})") from exc
            except (OSError, http.client.HTTPException) as exc:
                raise EngineError(f"{self._who(path)}: {short(str(exc) or type(exc).__name__, 120)}") from exc
        if status >= 400:
            raise EngineError(f"{self._who(path)} answered {status}: {describe_error(kind, answer)}",
                              status=status)
        if audio:
            if not answer.startswith(b"RIFF"):
                raise EngineError(f"{self._who(path)} answered {short(kind)}, not a WAV file "
                                  f"(starts with {answer[:8]!r})", status=status)
            return answer
        if status == 204 or not answer:
            return None
        try:
            return json.loads(answer)
        except (ValueError, RecursionError) as exc:
            raise EngineError(f"{self._who(path)} answered {short(kind)} that is not JSON: "
                              f"{short(answer[:80])}", status=status) from exc

    def _who(self, path: str) -> str:
        return f"{self.engine} at {self.base} ({path})"

    def _exchange(
        self, method: str, target: str, path: str, data: bytes | None, cancelled: threading.Event | None
    ) -> tuple[int, str, bytes]:
        """One request on a kept or new connection: (status, content type, body)."""
        with self._lock:
            conn, self._idle = self._idle, None
        if conn is None:
            conn = self._connect()
        keep = False
        try:
            headers = {"Accept": "application/json, audio/wav"}
            if data is not None:
                headers["Content-Type"] = "application/json"
            empty = b"" if method == "POST" else None  # POST says Content-Length: 0
            conn.request(method, target, body=data if data is not None else empty, headers=headers)
            self._wait(conn, path, cancelled)
            response = conn.getresponse()
            length = response.getheader("Content-Length")
            if length is not None and length.isdigit() and int(length) > _MAX_ANSWER:
                raise EngineError(f"{self._who(path)}: an answer of {length} bytes is too large")
            answer = response.read(_MAX_ANSWER + 1)
            if len(answer) > _MAX_ANSWER:
                raise EngineError(f"{self._who(path)}: an answer of over {_MAX_ANSWER} bytes is too large")
            keep = not response.will_close
            return response.status, response.getheader("Content-Type", "") or "", answer
        finally:
            if keep:
                with self._lock:
                    if self._idle is None:
                        self._idle, conn = conn, None
            if conn is not None:
                conn.close()

    def _connect(self) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.connect_timeout)
        try:
            conn.connect()
        except OSError as exc:
            conn.close()
            raise EngineUnreachable(
                f"no {self.engine} engine at {self.base} ({exc.strerror or exc}): {self.start}"
            ) from exc
        assert conn.sock is not None
        conn.sock.settimeout(self.timeout)
        return conn

    def _wait(self, conn: http.client.HTTPConnection, path: str, cancelled: threading.Event | None) -> None:
        """Wait for the answer to start, looking at ``cancelled`` (the engine works before it
        sends a byte); ``RequestCancelled`` or a timeout ``EngineError``."""
        sock = conn.sock
        assert sock is not None
        deadline = time.monotonic() + self.timeout
        while True:
            if cancelled is not None and cancelled.is_set():
                raise RequestCancelled(f"{self._who(path)}: cancelled")
            left = deadline - time.monotonic()
            if left <= 0:
                raise EngineError(f"{self._who(path)} did not answer within {self.timeout:g} s")
            if readable(sock, min(POLL, left) if cancelled else left):
                return

    def close(self) -> None:
        """Let go of a kept connection."""
        with self._lock:
            conn, self._idle = self._idle, None
        if conn is not None:
            conn.close()


def describe_error(kind: str, answer: bytes) -> str:
    """What an engine's error answer says, in one line: its JSON shapes, or its text."""
    text = answer.decode("utf-8", errors="replace").strip()
    message: Any = None
    if "json" in kind or text.startswith(("{", "[")):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            data = None
        if isinstance(data, dict):
            message = data.get("message", data.get("detail"))
            if isinstance(message, list):  # FastAPI's validation errors
                message = "; ".join(_validation(item) for item in message[:3])
    if not isinstance(message, str) or not message:
        message = text or "(an empty answer)"
    return " ".join(message.split())[:200]


def _validation(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)[:80]
    loc = item.get("loc")
    where = ".".join(str(part) for part in loc[1:]) if isinstance(loc, list) else ""
    msg = str(item.get("msg", ""))[:120]
    return f"{where}: {msg}" if where else msg


def _text(value: Any) -> str:
    """A query parameter as the engines read it (``true``/``false`` for booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
