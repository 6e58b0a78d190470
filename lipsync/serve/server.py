"""``lipsync serve``: one long-lived speaker for any engine, over WebSocket at ``/lipsync``.

The server keeps Open JTalk warm and owns one ``Speaker``: one audio output, one connection
to the agent (``--to``), one queue. Every ``say`` from any client becomes an utterance of
that speaker, so speech from several clients takes turns and each drives the agent in step
with the output's clock. ``"audio": "local"`` plays on the server and streams ``frame``
messages from the speaker's own scheduler (``on_weights``); ``"audio": "client"`` sends each
piece's sound as a ``speech`` message and plays silence of the same length, so the agent and
the end of the utterance still keep time.

``GET /`` serves the preview page; a WebSocket upgrade from any other page is refused
(``pages.py``). Each client is a ``Session`` (``session.py``): a slow or vanished client never
holds up the scheduler or the others. What clients may use is bounded (``limits.py``), and the
maps they may name are the shipped ones and the files of ``maps_dir`` (``maps.py``).

The server accepts connections itself (websockets handles each one): running out of file
descriptors or threads refuses connections for a while, with a warning, and never ends the
server. ``close()`` stops every client's speech (each hears ``ended`` with ``stopped``), says
goodbye, and within ``CLOSE_WITHIN`` seconds drops whoever has not left, whatever they do.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import itertools
import logging
import socket
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from lipsync.errors import LipsyncError, ValueRefused
from lipsync.serve import DEFAULT_PORT
from lipsync.serve.aligning import OutsideAligner
from lipsync.serve.limits import Limits, Queue, RateLimiter, clients_that_fit
from lipsync.serve.maps import ServerMaps
from lipsync.serve.pages import LOOPBACK, page_response
from lipsync.serve.protocol import MAX_MESSAGE, PATH, ProtocolError, error
from lipsync.serve.session import Session

if TYPE_CHECKING:
    from pathlib import Path

    from websockets.http11 import Request, Response
    from websockets.sync.server import Server as WsServer
    from websockets.sync.server import ServerConnection

    from lipsync.engines.base import Engine, EngineVoice
    from lipsync.live.speaker import Speaker, WeightsCallback

__all__ = ["CLOSE_WITHIN", "DEFAULT_PORT", "PATH", "SPARE", "Server"]

logger = logging.getLogger("lipsync.serve")

#: Seconds ``close()`` takes at most: clients that have not left by then are dropped.
CLOSE_WITHIN = 0.3
#: Connections past ``Limits.clients`` still taken, to be told the server is busy.
SPARE = 8
#: TTS engines (URL and voice pairs that clients named) kept open at once; the oldest goes.
ENGINES = 8
_OPEN_TIMEOUT = 5.0  # seconds a connection has to finish its opening handshake
_CLOSE_TIMEOUT = 1.0  # seconds a client has to answer a Close
_TICK = 0.2  # how often the accepting thread looks whether the server is closing
_SHORT_OF = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
_COMPLAIN_EVERY = 10.0  # seconds between warnings about refused connections


class Server:
    """The WebSocket server around one ``Speaker`` (opened by the caller, not closed here).

    ``start()`` binds and serves from a background thread; ``close()`` stops it and every
    client's speech. ``port`` is the bound port (pass 0 to take a free one). ``on_weights``
    (e.g. a ``VmcSender``) hears every utterance's weights at its ``fps``, whatever its
    ``audio``. ``maps_dir``: the folder of map files clients may name (none by default).
    """

    def __init__(
        self, speaker: Speaker, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
        on_weights: WeightsCallback | None = None, maps_dir: str | Path | None = None,
        limits: Limits | None = None,
    ) -> None:
        if not (isinstance(port, int) and 0 <= port <= 65535):
            raise ValueRefused(f"port {port!r} is out of range (0 to 65535)")
        self.speaker = speaker
        self.on_weights = on_weights
        self.host = host
        self.port = port
        self.limits = limits or Limits()
        self.maps = ServerMaps(speaker.lipmap, maps_dir)
        self.rates = RateLimiter(self.limits.burst, self.limits.rate)
        self.queue = Queue(self.limits)
        self.aligner = OutsideAligner()
        self._engines: OrderedDict[tuple[str, EngineVoice], Engine] = OrderedDict()
        self._engines_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._sessions: set[Session] = set()
        self._sockets: set[socket.socket] = set()  # every client's, from accept to its end
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._listener: socket.socket | None = None
        self._ws: WsServer | None = None
        self._thread: threading.Thread | None = None
        self._failure: str | None = None
        self._complained = -_COMPLAIN_EVERY

    @property
    def url(self) -> str:
        return f"ws://{_host(self.host)}:{self.port}{PATH}"

    def start(self, *, warm: bool = True) -> Server:
        """Bind and serve; ``warm`` first loads Open JTalk's dictionary and voice (a first
        ``say`` then costs only its synthesis)."""
        from websockets.sync.server import serve

        if warm:
            from lipsync.speech.synthesis import synthesize

            synthesize("あ", voice=self.speaker.voice)
        fit = clients_that_fit(SPARE)
        if fit is not None and fit < self.limits.clients:  # never more than its descriptors allow
            logger.warning("only %d clients fit in this process's file descriptors (ulimit -n): taking at "
                           "most that many", max(fit, 1))
            self.limits = dataclasses.replace(self.limits, clients=max(fit, 1))
        try:
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            listener = socket.create_server((self.host, self.port), family=family)
        except (OSError, OverflowError) as exc:
            reason = str(exc.strerror if isinstance(exc, OSError) and exc.strerror else exc)
            reason = reason.split(" (while attempting")[0]  # socket.create_server's addition
            raise LipsyncError(f"cannot serve on {self.host}:{self.port}: {reason}") from exc
        # websockets runs each connection (handshake, frames, close); the accepting is ours. Its
        # own log holds clients' faults (a port scan's half handshakes, as tracebacks with some
        # versions): not the operator's business, so kept quiet.
        quiet = logging.getLogger("lipsync.serve.websockets")
        quiet.setLevel(logging.CRITICAL)
        self._ws = serve(self._handle, sock=listener, process_request=self._http, max_size=MAX_MESSAGE,
                         max_queue=1, compression=None, server_header=None, open_timeout=_OPEN_TIMEOUT,
                         close_timeout=_CLOSE_TIMEOUT, logger=quiet)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, name="lipsync-serve", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Block until ``close()`` (from another thread or a signal handler's unwinding).

        Raises ``LipsyncError`` if the server stopped by itself: it never ends silently.
        """
        assert self._thread is not None
        while self._thread.is_alive():
            self._thread.join(0.5)
        if self._failure is not None and not self._closing.is_set():
            raise LipsyncError(f"lipsync: the server stopped: {self._failure}")

    def close(self) -> None:
        """Stop accepting, stop every client's speech (each hears ``ended``), say goodbye, and
        drop whoever is still there after ``CLOSE_WITHIN`` seconds."""
        deadline = time.monotonic() + CLOSE_WITHIN
        self._closing.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread at once
        if self._thread is not None:
            self._thread.join(timeout=_TICK * 2)
        if self._listener is not None:
            self._listener.close()
        self.aligner.close()
        self._close_engines()
        with self._lock:
            sessions = list(self._sessions)
        for session in sessions:
            session.stop_speech()
        waiting = set(sessions)
        while waiting and time.monotonic() < deadline:
            for session in list(waiting):
                if session.leave():  # its ended messages are queued, and its Close after them
                    waiting.discard(session)
            time.sleep(0.01)
        while sessions and time.monotonic() < deadline and any(s.connected for s in sessions):
            time.sleep(0.01)
        with self._lock:
            dropped = list(self._sockets)
        for sock in dropped:  # whatever they are doing: the server is going
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def clients(self) -> int:
        """How many clients are connected."""
        with self._lock:
            return len(self._sessions)

    # -- connections --------------------------------------------------------------------------

    def _accept(self) -> None:
        listener = self._listener
        assert listener is not None
        listener.settimeout(_TICK)
        while not self._closing.is_set():
            try:
                sock, address = listener.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                if self._closing.is_set():
                    return
                if exc.errno in _SHORT_OF:  # the connection waits in the backlog meanwhile
                    self._complain(f"cannot take a connection ({exc.strerror}): new clients wait "
                                   "until others leave")
                    time.sleep(0.1)
                    continue
                if exc.errno in (errno.ECONNABORTED, errno.EPROTO, errno.EINTR, errno.EAGAIN):
                    continue
                self._failure = f"cannot accept connections: {exc.strerror or exc}"
                logger.error("%s", self._failure)
                return
            self._take(sock, address)

    def _take(self, sock: socket.socket, address: object) -> None:
        sock.settimeout(None)
        with self._lock:
            over = len(self._sockets) >= self.limits.clients + SPARE
            if not over:
                self._sockets.add(sock)
        if over:
            sock.close()
            self._complain(f"{self.limits.clients + SPARE} connections open: refusing more")
            return
        try:
            threading.Thread(target=self._run, args=(sock, address), name="lipsync-serve-client",
                             daemon=True).start()
        except RuntimeError as exc:  # no thread to be had
            self._forget(sock)
            sock.close()
            self._complain(f"cannot take a connection ({exc}): new clients wait until others leave")

    def _run(self, sock: socket.socket, address: object) -> None:
        assert self._ws is not None
        try:
            self._ws.handler(sock, address)
        except Exception as exc:  # websockets logs its own; a fault here must not pass silently
            logger.warning("a connection failed: %r", exc)
        finally:
            self._forget(sock)
            with contextlib.suppress(OSError):
                sock.close()

    def _forget(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)

    def _complain(self, message: str) -> None:
        now = time.monotonic()
        if now - self._complained >= _COMPLAIN_EVERY:
            self._complained = now
            logger.warning("%s", message)

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        local = connection.socket.getsockname()[0]
        return page_response(request, port=self.port, local=local, bound=self.host)

    def _handle(self, connection: ServerConnection) -> None:
        with self._lock:
            full = len(self._sessions) >= self.limits.clients
            session = None if full or self._closing.is_set() else Session(self, connection, _peer(connection))
            if session is not None:
                self._sessions.add(session)
        if session is None:
            why = (f"the server has {self.limits.clients} clients, the most it takes: try again later"
                   if full else "the server is shutting down")
            with contextlib.suppress(Exception):
                connection.send(_json(error("busy", why)))
                connection.close(1013 if full else 1001, "busy" if full else "going away")
            return
        try:
            session.run()
        finally:
            with self._lock:
                self._sessions.discard(session)

    # -- what sessions share ------------------------------------------------------------------

    def next_id(self) -> str:
        return f"s{next(self._ids)}"

    def is_closing(self) -> bool:
        return self._closing.is_set()

    def engine(self, url: str, voice: EngineVoice, request_id: str | None) -> Engine:
        """The TTS engine a ``say`` names (the last ``ENGINES`` URL and voice pairs kept), if it
        may be used. Bound to this machine only, the server takes an engine on this machine or
        at its own ``--tts``'s host; reachable from others, only its own ``--tts`` engine (a
        client never makes it call another port of this machine's)."""
        from lipsync.engines import open_engine

        key = (url, voice)
        with self._engines_lock:
            found = self._engines.get(key)
            if found is not None:
                self._engines.move_to_end(key)
                return found
        try:
            found = open_engine(url, voice)
        except LipsyncError as exc:
            raise ProtocolError("bad_message", f"\"tts\": {exc}", request_id) from None
        own = self.speaker.tts
        where = (found.http.host.lower(), found.http.port)
        if self.host.lower() in LOOPBACK:
            allowed = where[0] in LOOPBACK or (own is not None and where[0] == own.http.host.lower())
        else:
            allowed = own is not None and where == (own.http.host.lower(), own.http.port)
        if not allowed:
            found.close()
            raise ProtocolError("bad_message", "\"tts\": the engine must be the server's own --tts"
                                + (" or on this machine" if self.host.lower() in LOOPBACK else "")
                                + f", not {found.http.host}:{found.http.port}", request_id)
        with self._engines_lock:
            self._engines[key] = found
            while len(self._engines) > ENGINES:
                _, old = self._engines.popitem(last=False)
                old.close()  # its kept connection; a say still using it finishes
        return found

    def _close_engines(self) -> None:
        with self._engines_lock:
            engines = list(self._engines.values())
            self._engines.clear()
        for engine in engines:
            engine.close()


def _peer(connection: ServerConnection) -> str:
    """The client's address, the key its requests are counted by."""
    address = connection.remote_address
    return str(address[0]) if isinstance(address, tuple) and address else str(address)


def _json(message: object) -> str:
    import json

    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
