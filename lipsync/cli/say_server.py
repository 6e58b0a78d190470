"""``lipsync say --server ws://HOST:PORT``: hand the speech to a running ``lipsync serve``.

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
from pathlib import Path
from typing import Any

from lipsync.cli.io import UsageError
from lipsync.cli.speech import engine_voice
from lipsync.errors import AgentUnreachable, LipsyncError, ValueRefused

__all__ = ["say_request", "say_via_server", "server_url"]

_URL = re.compile(r"ws://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+)(:\d{1,5})?(/[A-Za-z0-9_./\-]*)?\Z")
_STOP_WAIT = 5.0  # seconds to wait for the server to confirm a stop


def server_url(url: str) -> str:
    """``ws://HOST:PORT/lipsync`` from what the user gave (the path may be left out)."""
    match = _URL.match(url)
    if match is None:
        raise UsageError(f"cannot use {url!r} as --server: expected ws://HOST:PORT")
    return url if match[3] not in (None, "", "/") else url.rstrip("/") + "/lipsync"


def say_request(args: argparse.Namespace) -> dict[str, Any]:
    """The ``say`` message for the running server: the text (and its engine), or audio and its timing."""
    from lipsync.cli.speech import motion_of
    from lipsync.timeline import Timeline

    request: dict[str, Any] = {"type": "say", "id": "cli", "audio": "local"}
    motion = motion_of(args)
    if not motion.coarticulation:
        request["coarticulation"] = False
    if motion.intensity != 1.0:
        request["intensity"] = motion.intensity
    if motion.gains:
        request["gains"] = dict(motion.gains)
    if args.map is not None:
        from lipsync.maps.named import MAP_NAMES

        # A file is named as the server can find it; a map name goes as it is.
        local = Path(args.map)
        named = isinstance(args.map, str) and args.map in MAP_NAMES
        request["map"] = str(local.resolve()) if local.exists() and not named else str(args.map)
    if args.wav is None:
        if args.text is None:
            raise UsageError("--labels and --sequence need the audio they describe: --wav FILE")
        text = sys.stdin.read() if args.text == "-" else args.text
        if not text.strip():
            raise ValueRefused("nothing to say: the text is empty")
        request["text"] = text
        voice = engine_voice(args)
        if voice is not None:  # the server asks the engine: its URL as this machine names it
            request["tts"] = {"url": args.tts, **{k: v for k, v in vars(voice).items() if v is not None}}
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
        else:
            raise UsageError("--wav needs its --text TEXT, --labels FILE or --sequence SEQ")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueRefused(f"cannot read {exc.filename if isinstance(exc, OSError) else args.labels}: "
                           f"{exc}") from exc
    return request


def say_via_server(args: argparse.Namespace) -> int:
    """Send one ``say`` and wait for its ``ended``; a ``KeyboardInterrupt`` sends ``stop`` first."""
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
    from websockets.sync.client import connect

    url = server_url(args.server)
    request = say_request(args)
    stack = contextlib.ExitStack()
    try:
        connection = stack.enter_context(connect(url, open_timeout=5, max_size=None, compression=None))
    except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
        raise AgentUnreachable(f"lipsync: no lipsync server at {url}: {exc}") from exc
    with stack:
        try:
            connection.send(json.dumps(request, ensure_ascii=False))
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
