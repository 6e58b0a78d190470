"""The serve protocol: JSON text frames, each one message with a ``type``; requests checked here.

Client to server: ``say``, ``pcm`` and ``stop``; binary frames carry the raw PCM of the
client's open stream (a ``say`` with ``pcm``, heard as it comes). Server to client: ``hello``
(on connect), ``started``, ``frame`` (``"audio": "local"`` or ``"none"``), ``speech``
(``"audio": "client"``), ``ended`` and ``error``.
Every message about a request carries that request's ``id`` (the client's, or one the server
gives when the client sent none). An error is ``{"type": "error", "code", "message", "id"?}``:
``code`` is one of ``CODES`` for programs, ``message`` a sentence for people. ``schema.json``
beside this module is the full specification; the tests check every message sent against it.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import re
import wave
from dataclasses import dataclass
from typing import Any

from lipsync.errors import LipsyncError
from lipsync.sound import MAX_CHANNELS, MAX_RATE, MIN_RATE, Audio
from lipsync.timeline import Timeline

__all__ = [
    "CODES", "MAX_MESSAGE", "MAX_TEXT", "PATH", "PcmMessage", "ProtocolError", "SayRequest", "StreamFormat",
    "error", "parse_request",
]

#: The WebSocket endpoint.
PATH = "/lipsync"

#: The largest message a client may send (bytes): a WAV of about 2.5 minutes at 48 kHz.
MAX_MESSAGE = 16 * 1024 * 1024
#: The longest text one ``say`` may carry (characters).
MAX_TEXT = 20_000
#: Error codes: what went wrong, for a program to act on.
CODES = (
    "bad_json",  # the frame is not a JSON object (or is binary)
    "bad_message",  # a field is missing, of the wrong type or out of range
    "unknown_type",  # no such message type
    "bad_map",  # the map name or path cannot be loaded
    "bad_speech",  # the text, audio or labels cannot be spoken
    "rate_limited",  # too many requests too fast
    "failed",  # the server could not speak it (synthesis, audio or agent failure)
)
_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,64}\Z")
_FIELDS = {
    "say": {"type", "id", "text", "wav", "labels", "interrupt", "map", "fps", "audio", "pcm", "lookahead"},
    "pcm": {"type", "id", "data", "end"},
    "stop": {"type", "id"},
}
_MODES = ("local", "client", "none")


class ProtocolError(LipsyncError):
    """A request the server refuses: ``code`` (see ``CODES``), a sentence, and the request's id."""

    def __init__(self, code: str, message: str, request_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id

    def to_message(self) -> dict[str, Any]:
        return error(self.code, self.message, self.request_id)


def error(code: str, message: str, request_id: str | None = None) -> dict[str, Any]:
    """An ``error`` message."""
    assert code in CODES, code
    reply: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if request_id is not None:
        reply["id"] = request_id
    return reply


@dataclass(frozen=True)
class StreamFormat:
    """The raw PCM a streamed ``say`` brings: 16-bit little-endian, ``channels`` interleaved."""

    sample_rate: int
    channels: int


@dataclass(frozen=True)
class SayRequest:
    """A checked ``say``: text, audio with its text or timeline, audio alone, or a stream."""

    id: str | None
    text: str | None
    audio: Audio | None
    timeline: Timeline | None
    interrupt: bool
    map: str | None
    fps: float | None  # None: the server's own (``--fps``)
    audio_mode: str
    stream: StreamFormat | None = None
    lookahead: float | None = None  # seconds; None: the default


@dataclass(frozen=True)
class PcmMessage:
    """A checked ``pcm``: more of the open stream's audio (raw bytes), and whether it ends."""

    data: bytes
    end: bool


def parse_request(frame: str | bytes) -> tuple[str, str | None, SayRequest | PcmMessage | None]:
    """``(type, id, say or pcm request, or None)`` of one frame; ``ProtocolError`` if it is refused.

    A binary frame is ``("pcm", None, PcmMessage(frame, False))``: raw PCM for the open stream.
    """
    if isinstance(frame, bytes):
        return "pcm", None, PcmMessage(frame, False)
    try:
        message = json.loads(frame)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ProtocolError("bad_json", f"the frame is not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError("bad_json", "a message must be a JSON object with a \"type\"")
    raw_id = message.get("id")
    request_id = raw_id if isinstance(raw_id, str) and _ID.match(raw_id) else None
    if raw_id is not None and request_id is None:
        raise ProtocolError("bad_message", "\"id\" must be 1-64 letters, digits or _.:-")
    kind = message.get("type")
    if kind not in _FIELDS:
        raise ProtocolError("unknown_type", f"unknown message type {kind!r}: expected say, pcm or stop",
                            request_id)
    extra = sorted(set(message) - _FIELDS[kind])
    if extra:
        raise ProtocolError("bad_message", f"{kind} has no field {extra[0]!r}", request_id)
    if kind == "stop":
        return kind, request_id, None
    if kind == "pcm":
        return kind, request_id, _pcm(message, request_id)
    return kind, request_id, _say(message, request_id)


def _pcm(message: dict[str, Any], request_id: str | None) -> PcmMessage:
    data = _field(message, "data", str, request_id)
    end = _field(message, "end", bool, request_id) or False
    if data is None and not end:
        raise ProtocolError("bad_message", "pcm needs \"data\" (base64 PCM) or \"end\": true", request_id)
    try:
        raw = base64.b64decode(data or "", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError("bad_speech", f"\"data\" is not base64: {exc}", request_id) from None
    return PcmMessage(raw, end)


def _field(message: dict[str, Any], name: str, kind: type | tuple[type, ...], request_id: str | None) -> Any:
    value = message.get(name)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool) != (kind is bool)):
        raise ProtocolError("bad_message", f"\"{name}\" has the wrong type", request_id)
    return value


def _say(message: dict[str, Any], request_id: str | None) -> SayRequest:
    text = _field(message, "text", str, request_id)
    wav = _field(message, "wav", str, request_id)
    labels = _field(message, "labels", str, request_id)
    interrupt = _field(message, "interrupt", bool, request_id) or False
    lipmap = _field(message, "map", str, request_id)
    fps = _field(message, "fps", (int, float), request_id)
    mode = _field(message, "audio", str, request_id) or "local"
    if mode not in _MODES:
        raise ProtocolError("bad_message", f"\"audio\" must be \"local\", \"client\" or \"none\", not "
                            f"{mode!r}", request_id)
    stream = _stream(_field(message, "pcm", dict, request_id), request_id)
    lookahead = _field(message, "lookahead", (int, float), request_id)
    if lookahead is not None and not (math.isfinite(lookahead) and 100 <= lookahead <= 2000):
        raise ProtocolError("bad_message", f"\"lookahead\" must be 100 to 2000 (ms), not {lookahead}",
                            request_id)
    if lookahead is not None and stream is None:
        raise ProtocolError("bad_message", "\"lookahead\" goes with a \"pcm\" stream", request_id)
    if fps is not None and not (math.isfinite(fps) and 1 <= fps <= 240):
        raise ProtocolError("bad_message", f"\"fps\" must be 1 to 240, not {fps}", request_id)
    if lipmap is not None and not (0 < len(lipmap) <= 4096):
        raise ProtocolError("bad_message", "\"map\" must be a map name or a path", request_id)
    if text is not None and (not text.strip() or len(text) > MAX_TEXT):
        raise ProtocolError("bad_speech", f"\"text\" must hold 1 to {MAX_TEXT} characters", request_id)
    audio = timeline = None
    if stream is not None:
        if wav is not None or text is not None or labels is not None:
            raise ProtocolError("bad_message", "a \"pcm\" stream is the speech itself: no \"text\", "
                                "\"wav\" or \"labels\" with it", request_id)
    elif wav is None:
        if text is None:
            raise ProtocolError("bad_message", "say needs \"text\", \"wav\" (with its \"text\" or "
                                "\"labels\", or alone) or \"pcm\"", request_id)
        if labels is not None:
            raise ProtocolError("bad_message", "\"labels\" go with \"wav\"", request_id)
    else:
        audio = _wav(wav, request_id)
        if labels is not None:
            timeline = _labels(labels, request_id)
        elif text is not None:
            timeline = _aligned(audio, text, request_id)
        # "wav" alone: heard without its text, as it plays
    rate = None if fps is None else float(fps)
    return SayRequest(request_id, text, audio, timeline, interrupt, lipmap, rate, mode, stream,
                      None if lookahead is None else lookahead / 1000)


def _stream(given: dict[str, Any] | None, request_id: str | None) -> StreamFormat | None:
    if given is None:
        return None
    rate, channels = given.get("sample_rate"), given.get("channels", 1)
    extra = sorted(set(given) - {"sample_rate", "channels"})
    if extra:
        raise ProtocolError("bad_message", f"\"pcm\" has no field {extra[0]!r}", request_id)
    if not (isinstance(rate, int) and not isinstance(rate, bool) and MIN_RATE <= rate <= MAX_RATE):
        raise ProtocolError("bad_message", f"\"pcm\" needs its \"sample_rate\": {MIN_RATE} to {MAX_RATE}",
                            request_id)
    if not (isinstance(channels, int) and not isinstance(channels, bool) and 1 <= channels <= MAX_CHANNELS):
        raise ProtocolError("bad_message", f"\"pcm\" \"channels\" must be 1 to {MAX_CHANNELS}", request_id)
    return StreamFormat(rate, channels)


def _wav(data: str, request_id: str | None) -> Audio:
    import numpy as np

    try:
        raw = base64.b64decode(data, validate=True)
        with wave.open(io.BytesIO(raw), "rb") as source:
            width, channels = source.getsampwidth(), source.getnchannels()
            rate, frames = source.getframerate(), source.readframes(source.getnframes())
    except (binascii.Error, ValueError, EOFError, wave.Error) as exc:
        raise ProtocolError("bad_speech", f"\"wav\" is not a base64 WAV file: {exc}", request_id) from None
    if width != 2:
        raise ProtocolError("bad_speech", f"\"wav\" must be 16-bit PCM, not {8 * width}-bit", request_id)
    samples = np.frombuffer(frames, dtype="<i2")
    if channels > 1:
        samples = samples[: len(samples) // channels * channels].reshape(-1, channels).mean(axis=1)
    if not len(samples):
        raise ProtocolError("bad_speech", "\"wav\" holds no samples", request_id)
    return Audio(np.round(samples).astype(np.int16), rate)


def _aligned(audio: Audio, text: str, request_id: str | None) -> Timeline:
    """Where each phoneme of ``text`` is in ``audio`` (``lipsync.align``, where installed)."""
    try:
        from lipsync.alignment.aligner import align  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise ProtocolError("bad_message", "this lipsync cannot align a \"wav\" to its \"text\": "
                            "send its \"labels\"", request_id) from None
    try:
        timeline: Timeline = align(audio, text)
    except LipsyncError as exc:
        raise ProtocolError("bad_speech", str(exc).splitlines()[0], request_id) from None
    return timeline


def _labels(text: str, request_id: str | None) -> Timeline:
    from lipsync.labels import detect_format
    from lipsync.labels.segments import read_segments
    from lipsync.labels.textgrid import read_textgrid
    from lipsync.labels.voicevox import read_audio_query

    kind = detect_format(text)
    try:
        if kind == "voicevox":
            return read_audio_query(text, "labels")
        if kind == "textgrid":
            return read_textgrid(text, "labels")
        if kind == "hts":
            raise ProtocolError("bad_speech", "\"labels\" must be timed (mono, julius, TextGrid or "
                                "VOICEVOX); untimed full-context labels are not taken here", request_id)
        return read_segments(text, "labels", seconds=True if kind == "julius" else None)
    except ProtocolError:
        raise
    except LipsyncError as exc:
        raise ProtocolError("bad_speech", str(exc).splitlines()[0], request_id) from None
