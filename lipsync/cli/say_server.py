"""``lipsync say --server ws://HOST:PORT``: hand the speech to a running ``lipsync serve``.

No Open JTalk here: the server is warm, holds the agent connection and plays the sound. What
the server can take from a ``say`` goes with it (the text or the recording with its timing,
``--map``, ``--fps``); options that are the server's own settings (the agent, the voice, the
audio output) are refused in one line rather than ignored. The server must greet as lipsync
does within ``HELLO_WAIT`` seconds: anything else is not a lipsync server. On a terminal, a
progress line shows the speech waiting and then playing.

A stream (``say --pcm``, ``listen``) goes as binary frames of raw PCM as it comes, heard there
without text.

Exit codes as for ``say``: 0 spoken, 2 refused (the server's ``error`` included), 3 no
lipsync server (or it has all the clients it takes), 130 interrupted (after the server
confirmed the ``stop``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from lipsync.cli.io import UsageError, err
from lipsync.cli.speech import engine_voice
from lipsync.errors import AgentUnreachable, LipsyncError, ValueRefused
from lipsync.live.transport import DEFAULT_URL

if TYPE_CHECKING:
    from lipsync.sound import Audio

__all__ = ["HELLO_WAIT", "OPEN_WAIT", "say_request", "say_via_server", "server_url", "stream_via_server"]

_URL = re.compile(r"ws://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+)(:\d{1,5})?(/[A-Za-z0-9_./\-]*)?\Z")
_STOP_WAIT = 5.0  # seconds to wait for the server to confirm a stop
#: Seconds for the connection and its handshake, then for the server's hello.
OPEN_WAIT = HELLO_WAIT = 5.0
_INCOMING = 1 << 20  # the largest message taken from the server (it sends frames and errors)
#: Options that are the server's settings, with their defaults: given with --server, refused.
_SERVER_SIDE = (
    ("--to", "to", DEFAULT_URL), ("--model", "model", None), ("--latency", "latency", 0.0),
    ("--sync", "sync", None), ("--event-timeout", "event_timeout", None), ("--wait", "wait", None),
    ("--any-client", "any_client", False), ("--audio", "audio", "miniaudio"), ("--voice", "voice", None),
    ("--speed", "speed", 1.0), ("--half-tone", "half_tone", 0.0), ("--unknown", "unknown", None),
    ("--kana", "kana", None), ("--phonemes", "phonemes", None), ("--fit", "fit", False),
)


def server_url(url: str) -> str:
    """``ws://HOST:PORT/lipsync`` from what the user gave (the path may be left out)."""
    match = _URL.match(url)
    if match is None:
        raise UsageError(f"cannot use {url[:80]!r} as --server: expected ws://HOST:PORT")
    return url if match[3] not in (None, "", "/") else url.rstrip("/") + "/lipsync"


def _refuse_server_side(args: argparse.Namespace) -> None:
    given = [option for option, name, default in _SERVER_SIDE if getattr(args, name, default) != default]
    if given:
        raise UsageError(
            f"{', '.join(given)}: not with --server, where the server's own settings apply (give them "
            "to 'lipsync serve'); through a server, say takes TEXT, --wav (with --text, --labels or "
            "--sequence, or alone), --pcm with --rate, and --map and --fps")


def say_request(args: argparse.Namespace) -> dict[str, Any]:
    """The ``say`` message for the running server: the text (and its engine), or audio and its timing."""
    from lipsync.cli.speech import motion_of
    from lipsync.serve.protocol import MAX_TEXT

    request: dict[str, Any] = {"type": "say", "id": "cli", "audio": "local"}
    motion = motion_of(args)
    if not motion.coarticulation:
        request["coarticulation"] = False
    if motion.intensity != 1.0:
        request["intensity"] = motion.intensity
    if motion.gains:
        request["gains"] = dict(motion.gains)
    if args.map is not None:
        request["map"] = str(args.map)  # a named map, or a file in the server's --maps-dir
    if args.fps != 60.0:  # the server's own --fps unless given
        if not 1 <= args.fps <= 240:
            raise UsageError(f"--fps {args.fps:g}: through a server, 1 to 240")
        request["fps"] = args.fps
    if args.wav is None:
        if args.text is None:
            raise UsageError("--labels and --sequence need the audio they describe: --wav FILE")
        text = _stdin() if args.text == "-" else args.text
        if not text.strip():
            raise ValueRefused("nothing to say: the text is empty")
        if len(text) > MAX_TEXT:
            raise ValueRefused(f"the text is {len(text)} characters: one say through a server takes at most "
                               f"{MAX_TEXT} (send it in parts)")
        voice = engine_voice(args)
        if voice is not None:  # the server asks the engine: its URL as this machine names it
            request["tts"] = {"url": args.tts, **{k: v for k, v in vars(voice).items() if v is not None}}
        request["text"] = text
        return request
    request["wav"] = _wav(args)
    timeline = None
    if args.labels is not None:
        from lipsync.labels import read_labels

        timeline = read_labels(args.labels, args.label_format, tier=args.tier)
    elif args.sequence is not None:
        from lipsync.timeline import Timeline

        timeline = Timeline.from_sequence(args.sequence)
    elif args.spoken is not None:
        request["text"] = args.spoken  # the server aligns the audio to it
    # --wav alone: the server hears it without its text
    if timeline is not None:  # read here, in any format we read; sent as plain timed segments
        request["labels"] = "".join(f"{float(p.start):.4f} {float(p.end):.4f} {p.name}\n" for p in timeline)
    return request


def _stdin() -> str:
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueRefused(f"<stdin>: expected UTF-8 text, found byte {data[exc.start]:#04x} near byte "
                           f"{exc.start + 1}") from None


def _wav(args: argparse.Namespace) -> str:
    """``--wav`` (any format we read) as the base64 16-bit WAV the server takes."""
    import base64

    from lipsync.serve.protocol import MAX_MESSAGE, MAX_RATE, MAX_WAV_SECONDS, MIN_RATE
    from lipsync.sound import Audio

    audio = Audio.load(args.wav)
    if not MIN_RATE <= audio.sample_rate <= MAX_RATE:
        audio = audio.resampled(48000)
    if float(audio.duration) > MAX_WAV_SECONDS:
        raise ValueRefused(f"{args.wav}: {float(audio.duration):.0f} s long: one say through a server takes "
                           f"at most {MAX_WAV_SECONDS} s")
    data = base64.b64encode(audio.to_wav_bytes()).decode("ascii")
    if len(data) > MAX_MESSAGE - 65536:
        seconds = (MAX_MESSAGE - 65536) * 3 // 4 // 2 // audio.sample_rate
        raise ValueRefused(f"{args.wav}: too long for one say through a server (at most about {seconds} s at "
                           f"{audio.sample_rate} Hz)")
    return data


def say_via_server(args: argparse.Namespace) -> int:
    """Send one ``say`` and wait for its ``ended``; a ``KeyboardInterrupt`` sends ``stop`` first."""
    _refuse_server_side(args)
    if getattr(args, "pcm", None) is not None:
        if args.rate is None:
            raise UsageError("--pcm needs the audio's --rate (e.g. --rate 24000); --channels if not mono")
        from lipsync.cli.heard import pcm_chunks

        rate = round(args.rate)
        return stream_via_server(args.server, pcm_chunks(args.pcm, rate, args.channels), rate=rate,
                                 lookahead=args.lookahead, lipmap=args.map, mode="local",
                                 verbose=args.verbose)
    url = server_url(args.server)
    return _exchange(url, say_request(args), verbose=args.verbose)


def stream_via_server(
    server: str, chunks: Iterable[Audio], *, rate: int, lookahead: float, lipmap: str | None, mode: str,
    verbose: bool = False,
) -> int:
    """Stream ``chunks`` (mono, at ``rate``) to a running server as binary frames, heard there."""
    request: dict[str, Any] = {"type": "say", "id": "cli", "audio": mode, "lookahead": lookahead,
                               "pcm": {"sample_rate": rate, "channels": 1}}
    if lipmap is not None:
        request["map"] = str(lipmap)  # a named map, or a file in the server's --maps-dir
    return _exchange(server_url(server), request, chunks, verbose=verbose)


def _exchange(url: str, request: dict[str, Any], chunks: Iterable[Audio] | None = None, *,
              verbose: bool = False) -> int:
    """Send ``request`` (and ``chunks`` as they come), and wait for its ``ended``."""
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
    from websockets.sync.client import connect

    from lipsync.cli.progress import Progress

    stack = contextlib.ExitStack()
    try:
        connection = stack.enter_context(connect(url, open_timeout=OPEN_WAIT, max_size=_INCOMING,
                                                 compression=None, close_timeout=1))
    except InvalidStatus as exc:
        body = (exc.response.body or b"").decode("utf-8", "replace").strip().splitlines()[:1]
        said = f": {_text(body[0])}" if body else ""
        raise AgentUnreachable(f"lipsync: no lipsync server at {url}: it answered HTTP "
                               f"{exc.response.status_code}{said}") from None
    except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
        raise AgentUnreachable(f"lipsync: no lipsync server at {url}: {exc}") from None
    progress = Progress("speaking", 1)
    with stack:
        try:
            _greeted(connection, url)
            connection.send(json.dumps(request, ensure_ascii=False))
            if chunks is not None:
                sender = threading.Thread(target=_send_chunks, args=(connection, chunks), daemon=True,
                                          name="lipsync-pcm-out")
                sender.start()
            progress.note("waiting for the server (speech before ours plays first)...")
            shown = -1.0
            while True:
                message = _message(connection, url, None)
                kind = message.get("type")
                if verbose and kind != "frame":
                    err(f"lipsync: {time.strftime('%H:%M:%S')} <- {json.dumps(message)[:200]}")
                if kind == "warning" and message.get("id") == "cli":
                    err(f"lipsync: warning: {_text(message.get('message'))}")
                if kind == "error" and message.get("id") in ("cli", None):
                    progress.close()
                    raise ValueRefused(f"lipsync: the server refused it: {_text(message.get('message'))}")
                spoken = message.get("t") if kind == "frame" else None
                if isinstance(spoken, (int, float)) and spoken >= shown + 0.1:
                    shown = spoken
                    progress.note(f"speaking on the server: {spoken:.1f} s")
                if kind == "ended" and message.get("id") == "cli":
                    progress.close()
                    return 0
        except KeyboardInterrupt:
            progress.close()
            _stop(connection)
            raise
        except ConnectionClosed as exc:
            progress.close()
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


def _greeted(connection: Any, url: str) -> None:
    """Wait for the server's ``hello``: anything else is not a lipsync server (exit 3)."""
    from websockets.exceptions import ConnectionClosed

    try:
        message = _message(connection, url, HELLO_WAIT)
    except (TimeoutError, ConnectionClosed):
        raise AgentUnreachable(f"lipsync: {url} is not a lipsync server: it sent no hello within "
                               f"{HELLO_WAIT:g} s") from None
    if message.get("type") == "error":  # busy: all the clients it takes
        why = _text(message.get("message"))
        raise AgentUnreachable(f"lipsync: the server at {url} turned us away: {why}")
    if message.get("type") != "hello" or message.get("path") != "/lipsync":
        raise AgentUnreachable(f"lipsync: {url} is not a lipsync server: its first message was not hello")


def _message(connection: Any, url: str, timeout: float | None) -> dict[str, Any]:
    """The server's next message, a JSON object; anything else is not lipsync's protocol."""
    data = connection.recv(timeout)
    try:
        message = json.loads(data)
    except (ValueError, RecursionError):
        message = None
    if not isinstance(message, dict):
        raise AgentUnreachable(f"lipsync: {url} is not a lipsync server: it sent something other than "
                               "a JSON message")
    return message


def _text(value: object) -> str:
    """A message the server sent, as one short line."""
    text = value if isinstance(value, str) else repr(value)
    return "".join(c if c.isprintable() else "?" for c in text)[:300]


def _stop(connection: Any) -> None:
    """Ask the server to stop our speech and wait (briefly) until it says it has."""
    try:
        connection.send(json.dumps({"type": "stop", "id": "cli-stop"}))
        deadline = time.monotonic() + _STOP_WAIT
        while True:
            message = json.loads(connection.recv(max(deadline - time.monotonic(), 0.01)))
            if isinstance(message, dict) and message.get("type") == "ended" and message.get("id") == "cli":
                return
    except Exception:  # the server gone or slow: interrupted is interrupted
        return
