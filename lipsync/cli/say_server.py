"""``lipsync say --server ws://HOST:PORT``: hand the speech to a running ``lipsync serve``.

A stream (``say --pcm``, ``listen``) goes as binary frames of raw PCM as it comes.

No Open JTalk here: the server is warm, holds the agent connection and plays the sound.
Exit codes as for ``say``: 0 spoken, 2 refused (the server's ``error`` included), 3 no server,
130 interrupted (after the server confirmed the ``stop``).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import re
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lipsync.cli.io import UsageError
from lipsync.errors import AgentUnreachable, LipsyncError, ValueRefused

if TYPE_CHECKING:
    from lipsync.sound import Audio

__all__ = ["say_via_server", "server_url", "stream_via_server"]

_URL = re.compile(r"ws://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+)(:\d{1,5})?(/[A-Za-z0-9_./\-]*)?\Z")
_STOP_WAIT = 5.0  # seconds to wait for the server to confirm a stop


def server_url(url: str) -> str:
    """``ws://HOST:PORT/lipsync`` from what the user gave (the path may be left out)."""
    match = _URL.match(url)
    if match is None:
        raise UsageError(f"cannot use {url!r} as --server: expected ws://HOST:PORT")
    return url if match[3] not in (None, "", "/") else url.rstrip("/") + "/lipsync"


def _request(args: argparse.Namespace) -> dict[str, Any]:
    from lipsync.timeline import Timeline

    request: dict[str, Any] = {"type": "say", "id": "cli", "audio": "local"}
    if args.map is not None:
        request["map"] = _map_name(str(args.map))
    if args.wav is None:
        if args.text is None:
            raise UsageError("--labels and --sequence need the audio they describe: --wav FILE")
        text = sys.stdin.read() if args.text == "-" else args.text
        if not text.strip():
            raise ValueRefused("nothing to say: the text is empty")
        request["text"] = text
        return request
    try:
        request["wav"] = base64.b64encode(Path(args.wav).read_bytes()).decode("ascii")
        if args.labels is not None:
            request["labels"] = Path(args.labels).read_text("utf-8")
        elif args.sequence is not None:
            spans = Timeline.from_sequence(args.sequence)
            request["labels"] = "".join(f"{float(p.start):.4f} {float(p.end):.4f} {p.name}\n" for p in spans)
        elif args.spoken is not None:
            request["text"] = args.spoken  # the server aligns the audio to it
        # --wav alone: the server hears it without its text
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueRefused(f"cannot read {exc.filename if isinstance(exc, OSError) else args.labels}: "
                           f"{exc}") from exc
    return request


def say_via_server(args: argparse.Namespace) -> int:
    """Send one ``say`` and wait for its ``ended``; a ``KeyboardInterrupt`` sends ``stop`` first."""
    if args.pcm is not None:
        if args.rate is None:
            raise UsageError("--pcm needs the audio's --rate (e.g. --rate 24000); --channels if not mono")
        from lipsync.cli.heard import pcm_chunks

        rate = round(args.rate)
        return stream_via_server(args.server, pcm_chunks(args.pcm, rate, args.channels), rate=rate,
                                 lookahead=args.lookahead, lipmap=args.map, mode="local")
    return _exchange(server_url(args.server), _request(args))


def stream_via_server(
    server: str, chunks: Iterable[Audio], *, rate: int, lookahead: float, lipmap: str | None, mode: str,
) -> int:
    """Stream ``chunks`` (mono, at ``rate``) to a running server as binary frames, heard there."""
    request: dict[str, Any] = {"type": "say", "id": "cli", "audio": mode, "lookahead": lookahead,
                               "pcm": {"sample_rate": rate, "channels": 1}}
    if lipmap is not None:
        request["map"] = _map_name(lipmap)
    return _exchange(server_url(server), request, chunks)


def _map_name(lipmap: str) -> str:
    """A map as the server can find it: a file by its full path, a named map as it is."""
    from lipsync.maps.named import MAP_NAMES

    local = Path(lipmap)
    return str(local.resolve()) if local.exists() and lipmap not in MAP_NAMES else lipmap


def _exchange(url: str, request: dict[str, Any], chunks: Iterable[Audio] | None = None) -> int:
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
    from websockets.sync.client import connect

    stack = contextlib.ExitStack()
    try:
        connection = stack.enter_context(connect(url, open_timeout=5, max_size=None, compression=None))
    except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
        raise AgentUnreachable(f"lipsync: no lipsync server at {url}: {exc}") from exc
    with stack:
        try:
            connection.send(json.dumps(request, ensure_ascii=False))
            if chunks is not None:
                sender = threading.Thread(target=_send_chunks, args=(connection, chunks), daemon=True,
                                          name="lipsync-pcm-out")
                sender.start()
            while True:
                message = json.loads(connection.recv())
                if message.get("type") == "error" and message.get("id") in ("cli", None):
                    raise ValueRefused(f"lipsync: the server refused it: {message.get('message')}")
                if message.get("type") == "ended" and message.get("id") == "cli":
                    return 0
        except KeyboardInterrupt:
            _stop(connection)
            raise
        except ConnectionClosed as exc:
            raise LipsyncError(f"lipsync: the server at {url} closed the connection") from exc


def _send_chunks(connection: Any, chunks: Iterable[Audio]) -> None:
    """Each chunk as a binary frame as it comes, then the stream's end (unless the connection went)."""
    from websockets.exceptions import ConnectionClosed

    with contextlib.suppress(ConnectionClosed, OSError):
        try:
            for chunk in chunks:
                if len(chunk):
                    connection.send(chunk.samples.astype("<i2").tobytes())
        finally:
            connection.send(json.dumps({"type": "pcm", "id": "cli", "end": True}))


def _stop(connection: Any) -> None:
    """Ask the server to stop our speech and wait (briefly) until it says it has."""
    try:
        connection.send(json.dumps({"type": "stop", "id": "cli-stop"}))
        while True:
            message = json.loads(connection.recv(_STOP_WAIT))
            if message.get("type") == "ended" and message.get("id") == "cli":
                return
    except Exception:  # the server gone or slow: interrupted is interrupted
        return
