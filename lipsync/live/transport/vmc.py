"""``vmc://HOST:PORT``: mouth weights to a VTuber app over the VMC protocol (OSC over UDP).

VSeeFace, VMagicMirror, Warudo and others take blend-shape values as
``/VMC/Ext/Blend/Val name value`` messages, applied together by ``/VMC/Ext/Blend/Apply``.
This is not a line transport: a ``VmcSender`` is a weights consumer, the ``on_weights``
callback of a ``Speaker``, so frames leave at ``fps`` in step with the audio's clock. Each
frame is one OSC bundle (one datagram): every morph of the map, then Apply. The morph names
are the map's (``--map vrm0`` gives VSeeFace's ``A I U E O``).
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Mapping

from lipsync.errors import TransportError, ValueRefused
from lipsync.names import check_token_name

__all__ = ["DEFAULT_PORT", "VmcSender", "is_vmc_url", "parse_vmc_url"]

logger = logging.getLogger("lipsync.live.transport.vmc")

#: The VMC protocol's usual marionette (receiver) port.
DEFAULT_PORT = 39539
_URL = re.compile(r"vmc://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+)(?::(?P<port>\d{1,5}))?/?\Z")


def is_vmc_url(url: str | None) -> bool:
    return isinstance(url, str) and url.startswith("vmc://")


def parse_vmc_url(url: str) -> tuple[str, int]:
    """``(host, port)`` of ``vmc://HOST[:PORT]``; ``ValueRefused`` if it is not one."""
    match = _URL.match(url)
    port = int(match["port"]) if match and match["port"] else DEFAULT_PORT
    if match is None or not 0 < port <= 65535:
        raise ValueRefused(f"cannot use {url!r} as --to: expected vmc://HOST:PORT")
    return match["host"].strip("[]"), port


class VmcSender:
    """Send each frame of weights as ``Blend/Val`` messages and an ``Apply``, in one bundle.

    Call it as ``sender(t, weights)`` (the ``on_weights`` signature). Morph names are checked
    once each (they go out as OSC strings). A datagram that cannot go (no receiver yet) is
    logged once and the speech goes on: UDP promises nothing, and the app may start later.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.host, self.port = parse_vmc_url(url)
        try:
            info = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)[0]
            self._sock = socket.socket(info[0], socket.SOCK_DGRAM)
            self._sock.connect(info[4])
        except OSError as exc:
            raise TransportError(f"cannot send VMC to {url}: {exc.strerror or exc}") from exc
        self._checked: set[str] = set()
        self._warned = False
        self.frames = 0

    def __call__(self, t: float, weights: Mapping[str, float]) -> None:
        from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
        from pythonosc.osc_message_builder import OscMessageBuilder

        bundle = OscBundleBuilder(IMMEDIATELY)
        for name, value in weights.items():
            if name not in self._checked:
                check_token_name(name, "morph name")
                self._checked.add(name)
            message = OscMessageBuilder("/VMC/Ext/Blend/Val")
            message.add_arg(name, "s")
            message.add_arg(float(value), "f")
            bundle.add_content(message.build())
        bundle.add_content(OscMessageBuilder("/VMC/Ext/Blend/Apply").build())
        try:
            self._sock.send(bundle.build().dgram)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                logger.warning("cannot send VMC to %s: %s", self.url, exc.strerror or exc)
            return
        self.frames += 1

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> VmcSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
