"""The HTTP side of ``lipsync serve``: the preview page, and which pages may open the WebSocket.

The page is served at ``http://HOST:PORT/``; a WebSocket upgrade carrying an ``Origin`` (a
browser page) is taken only from the server's own page. Its origin is ``http://HOST:PORT``
with the server's port and a HOST that is ours: the address the client reached on this very
connection (the page came from there), any loopback name when that address is a loopback one
(``localhost``, ``127.0.0.1``, ``[::1]``), or the name ``--host`` gave. Never another DNS name
(a name that resolves to us is how a page elsewhere would pass for ours: DNS rebinding) and
never another machine's address, even on the same port. The same holds for the ``Host`` a page
is asked for. Clients without an ``Origin`` (programs) are taken.
"""

from __future__ import annotations

import http
import ipaddress
from importlib import resources
from typing import TYPE_CHECKING

from lipsync.serve.protocol import PATH

if TYPE_CHECKING:
    from websockets.http11 import Request, Response

__all__ = ["LOOPBACK", "own_host", "page_response"]

#: Names a loopback address goes by.
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_WILDCARD = frozenset({"", "0.0.0.0", "::"})
_PAGES = {"/": ("index.html", "text/html"), "/app.js": ("app.js", "text/javascript"),
          "/style.css": ("style.css", "text/css")}


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``host`` as an IP address (an IPv4-mapped IPv6 one as IPv4), or None for a name."""
    try:
        address = ipaddress.ip_address(host.strip("[]").partition("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def own_host(hostport: str, *, port: int, local: str, bound: str) -> bool:
    """Whether ``HOST[:PORT]`` (a ``Host`` header, or an origin without ``http://``) is ours.

    ``local``: the server's address on this connection (what the client reached); ``bound``:
    the address or name the server was told to bind.
    """
    host, colon, given = hostport.rpartition(":")
    if not colon or host.endswith(":") or (given and not given.isdigit()):  # no port, or a bare IPv6
        host, given = hostport, "80"
    if not given.isdigit() or int(given) != port or not host:
        return False
    name = host.strip("[]").lower()
    if name == bound.strip("[]").lower() and name not in _WILDCARD:
        return True
    mine = _address(local)
    if mine is None:
        return False
    if mine.is_loopback and name in LOOPBACK:
        return True
    return _address(name) == mine


def page_response(request: Request, *, port: int, local: str, bound: str) -> Response | None:
    """The answer to a plain HTTP request or a refused upgrade; ``None`` to go on with the upgrade."""
    origin = request.headers.get("Origin")

    def ours(hostport: str) -> bool:
        return own_host(hostport, port=port, local=local, bound=bound)

    if origin is not None and not (origin.startswith("http://") and ours(origin[7:])):
        return reply(http.HTTPStatus.FORBIDDEN, b"lipsync: this server speaks only for its own page\n")
    path = request.path.partition("?")[0]
    if path == PATH:
        if "websocket" not in request.headers.get("Upgrade", "").lower():
            return reply(http.HTTPStatus.UPGRADE_REQUIRED, b"lipsync: connect with WebSocket\n")
        return None
    page = _PAGES.get(path)
    if page is None or not ours(request.headers.get("Host", "")):
        return reply(http.HTTPStatus.NOT_FOUND, b"lipsync: not found\n")
    body = resources.files("lipsync.serve").joinpath("page", page[0]).read_bytes()
    return reply(http.HTTPStatus.OK, body, page[1])


def reply(status: http.HTTPStatus, body: bytes, kind: str = "text/plain") -> Response:
    """An HTTP response that nothing caches or sniffs."""
    from websockets.datastructures import Headers
    from websockets.http11 import Response

    headers = Headers([("Content-Type", f"{kind}; charset=utf-8"), ("Content-Length", str(len(body))),
                       ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")])
    return Response(status.value, status.phrase, headers, body)
