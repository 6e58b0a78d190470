"""``lipsync serve``: one long-lived speaker for any engine, over WebSocket at ``/lipsync``.

The server keeps Open JTalk warm and owns one ``Speaker``: one audio output, one connection
to the agent (``--to``), one queue. Every ``say`` from any client becomes an utterance of
that speaker, so speech from several clients takes turns and each drives the agent in step
with the output's clock. ``"audio": "local"`` plays on the server and streams ``frame``
messages from the speaker's own scheduler (``on_weights``); ``"audio": "client"`` sends each
piece's sound as a ``speech`` message and plays silence of the same length, so the agent and
the end of the utterance still keep time.

``GET /`` serves the preview page; a WebSocket upgrade whose ``Origin`` is not that page
(same host and port) is refused, so a web page elsewhere cannot make the character speak.
Each client is a ``Session`` (``session.py``): a slow or vanished client never holds up the
scheduler or the others.
"""

from __future__ import annotations

import http
import itertools
import logging
import threading
from importlib import resources
from typing import TYPE_CHECKING

from lipsync.errors import LipsyncError
from lipsync.serve import DEFAULT_PORT
from lipsync.serve.protocol import MAX_MESSAGE, PATH, ProtocolError
from lipsync.serve.session import RATE, Session

if TYPE_CHECKING:
    from websockets.http11 import Request, Response
    from websockets.sync.server import Server as WsServer
    from websockets.sync.server import ServerConnection

    from lipsync.engines.base import Engine, EngineVoice
    from lipsync.live.speaker import Speaker, WeightsCallback
    from lipsync.maps.lipmap import LipMap

__all__ = ["DEFAULT_PORT", "PATH", "RATE", "Server"]

logger = logging.getLogger("lipsync.serve")

_PAGES = {"/": ("index.html", "text/html"), "/app.js": ("app.js", "text/javascript"),
          "/style.css": ("style.css", "text/css")}
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Server:
    """The WebSocket server around one ``Speaker`` (opened by the caller, not closed here).

    ``start()`` binds and serves from a background thread; ``close()`` stops it and every
    client's speech. ``port`` is the bound port (pass 0 to take a free one). ``on_weights``
    (e.g. a ``VmcSender``) hears every utterance's weights at its ``fps``, whatever its
    ``audio``.
    """

    def __init__(
        self, speaker: Speaker, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
        on_weights: WeightsCallback | None = None,
    ) -> None:
        self.speaker = speaker
        self.on_weights = on_weights
        self.host = host
        self.port = port
        self._maps: dict[str, LipMap] = {}
        self._engines: dict[tuple[str, EngineVoice], Engine] = {}
        self._maps_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._sessions: set[Session] = set()
        self._sessions_lock = threading.Lock()
        self._server: WsServer | None = None
        self._thread: threading.Thread | None = None

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
        try:
            self._server = serve(self._handle, self.host, self.port, process_request=self._http,
                                 max_size=MAX_MESSAGE, compression=None, server_header=None)
        except OSError as exc:
            raise LipsyncError(f"cannot serve on {self.host}:{self.port}: {exc.strerror or exc}") from exc
        self.port = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="lipsync-serve", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Block until ``close()`` (from another thread or a signal handler's unwinding)."""
        assert self._thread is not None
        while self._thread.is_alive():
            self._thread.join(0.5)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- HTTP and the handshake ---------------------------------------------------------------

    def own_host(self, hostport: str) -> bool:
        """Whether ``HOST:PORT`` (a ``Host`` header, or an origin without ``http://``) is ours.

        Ours: our port, and the address we bound (any loopback name when that is loopback;
        any IP address when we bound them all). Never another DNS name: a name that resolves
        to us is how a page elsewhere would pass for ours (DNS rebinding).
        """
        import ipaddress

        host, colon, port = hostport.rpartition(":")
        if not colon or port != str(self.port):
            return False
        host = host.strip("[]").lower()
        bound = self.host.strip("[]").lower()
        if host == bound or (bound in _LOOPBACK and host in _LOOPBACK):
            return True
        if bound in ("0.0.0.0", "::", ""):
            try:
                ipaddress.ip_address(host)
            except ValueError:
                return False
            return True
        return False

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        from websockets.datastructures import Headers
        from websockets.http11 import Response

        def reply(status: http.HTTPStatus, body: bytes, kind: str = "text/plain") -> Response:
            headers = Headers([("Content-Type", f"{kind}; charset=utf-8"), ("Content-Length", str(len(body))),
                               ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")])
            return Response(status.value, status.phrase, headers, body)

        origin = request.headers.get("Origin")
        # A browser page from another site, or a DNS name rebound to us, is turned away.
        host_ok = self.own_host(request.headers.get("Host", ""))
        if origin is not None and not (origin.startswith("http://") and self.own_host(origin[7:])):
            return reply(http.HTTPStatus.FORBIDDEN, b"lipsync: this server speaks only for its own page\n")
        path = request.path.partition("?")[0]
        if path == PATH:
            if "websocket" not in request.headers.get("Upgrade", "").lower():
                return reply(http.HTTPStatus.UPGRADE_REQUIRED, b"lipsync: connect with WebSocket\n")
            return None
        page = _PAGES.get(path)
        if page is None or not host_ok:
            return reply(http.HTTPStatus.NOT_FOUND, b"lipsync: not found\n")
        body = resources.files("lipsync.serve").joinpath("page", page[0]).read_bytes()
        return reply(http.HTTPStatus.OK, body, page[1])

    @property
    def clients(self) -> int:
        """How many clients are connected."""
        with self._sessions_lock:
            return len(self._sessions)

    def _handle(self, connection: ServerConnection) -> None:
        session = Session(self, connection)
        with self._sessions_lock:
            self._sessions.add(session)
        try:
            session.run()
        finally:
            with self._sessions_lock:
                self._sessions.discard(session)

    # -- what sessions share ------------------------------------------------------------------

    def next_id(self) -> str:
        return f"s{next(self._ids)}"

    def lipmap(self, name: str | None, request_id: str | None) -> LipMap:
        """The map a request names (cached), or the speaker's own."""
        if name is None:
            return self.speaker.lipmap
        with self._maps_lock:
            found = self._maps.get(name)
        if found is not None:
            return found
        from lipsync.maps.named import load_map

        try:
            found = load_map(name)
        except LipsyncError as exc:
            # Say where, not what: the text of a file the client named is not theirs to read.
            where = f"line {exc.line}" if hasattr(exc, "line") else "it cannot be read"
            raise ProtocolError("bad_map", f"cannot use map {name!r}: not a named map, and as a lip map "
                                f"file {where} is not valid", request_id) from None
        with self._maps_lock:
            self._maps[name] = found
        return found

    def engine(self, url: str, voice: EngineVoice, request_id: str | None) -> Engine:
        """The TTS engine a ``say`` names (one per URL and voice, kept), if its host may be used:
        this machine, or the host of the server's own engine (never another the client picks)."""
        from lipsync.engines import open_engine

        key = (url, voice)
        with self._maps_lock:
            found = self._engines.get(key)
        if found is not None:
            return found
        try:
            found = open_engine(url, voice)
        except LipsyncError as exc:
            raise ProtocolError("bad_message", f"\"tts\": {exc}", request_id) from None
        own = self.speaker.tts
        allowed = set(_LOOPBACK) | ({own.http.host} if own is not None else set())
        if found.http.host.lower() not in allowed:
            raise ProtocolError("bad_message", f"\"tts\": the engine must be on this machine or at the "
                                f"server's own --tts host, not {found.http.host!r}", request_id)
        with self._maps_lock:
            self._engines[key] = found
        return found


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
