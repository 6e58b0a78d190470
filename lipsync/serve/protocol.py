"""The serve protocol: JSON text frames, each one message with a ``type``; requests checked here.

Client to server: ``say``, ``pcm`` and ``stop``; binary frames carry the raw PCM of the
client's open stream (a ``say`` with ``pcm``, heard as it comes). Server to client: ``hello``
(on connect), ``started``, ``frame`` (``"audio": "local"`` or ``"none"``), ``speech``
(``"audio": "client"``), ``warning``, ``ended`` and ``error``.
Every message about a request carries that request's ``id`` (the client's, or one the server
gives when the client sent none). An error is ``{"type": "error", "code", "message", "id"?}``:
``code`` is one of ``CODES`` for programs, ``message`` a sentence for people. ``schema.json``
beside this module is the full specification; the tests check every message sent against it.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lipsync._numbers import short
from lipsync.errors import LipsyncError
from lipsync.sound import MAX_CHANNELS
from lipsync.sound import MAX_RATE as PCM_MAX_RATE
from lipsync.sound import MIN_RATE as PCM_MIN_RATE

if TYPE_CHECKING:
    from lipsync.engines.base import EngineVoice

__all__ = [
    "CODES", "MAX_LABELS", "MAX_MESSAGE", "MAX_RATE", "MAX_TEXT", "MAX_WAV_SECONDS", "MIN_RATE", "PATH",
    "PcmMessage", "ProtocolError", "SayRequest", "StreamFormat", "error", "parse_request",
    "request_id_of",
]

#: The WebSocket endpoint.
PATH = "/lipsync"

#: The largest message a client may send (bytes): a WAV of about 2.5 minutes at 48 kHz.
MAX_MESSAGE = 16 * 1024 * 1024
#: The longest text one ``say`` may carry (characters).
MAX_TEXT = 20_000
#: The longest ``labels`` one ``say`` may carry (characters).
MAX_LABELS = 2 * 1024 * 1024
#: The sample rates a ``wav`` may have (Hz), and the longest it may last (seconds).
MIN_RATE, MAX_RATE, MAX_WAV_SECONDS = 8000, 192_000, 300
_PEEK = 65536  # the largest frame whose id a refusal looks up
#: Error codes: what went wrong, for a program to act on.
CODES = (
    "bad_json",  # the frame is not a JSON object (or is binary)
    "bad_message",  # a field is missing, of the wrong type or out of range
    "unknown_type",  # no such message type
    "bad_map",  # the map name or path cannot be loaded
    "bad_speech",  # the text, audio or labels cannot be spoken
    "rate_limited",  # too many requests too fast (counted per client address)
    "busy",  # the server is full: its queue, its sound memory or its clients; try again later
    "failed",  # the server could not speak it (synthesis, audio or agent failure)
)
_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,64}\Z")
_FIELDS = {
    "say": {"type", "id", "text", "wav", "labels", "interrupt", "map", "fps", "audio", "tts", "intensity",
            "gains", "coarticulation", "pcm", "lookahead"},
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
class PcmMessage:
    """A checked ``pcm``: more of the open stream's audio (raw bytes), and whether it ends."""

    data: bytes
    end: bool


@dataclass(frozen=True)
class SayRequest:
    """A checked ``say``: text; a WAV (still base64) with its text or labels (still text), or
    alone (heard without its text); or a stream (``pcm``) whose audio follows.

    Checking it costs little; ``lipsync.serve.decode`` does the costly part (the WAV, the labels, the
    alignment), once the request has been let through.
    """

    id: str | None
    text: str | None
    wav: str | None
    labels: str | None
    interrupt: bool
    map: str | None
    fps: float | None  # None: the server's own (``--fps``)
    audio_mode: str
    #: The TTS engine to speak ``text`` (its URL and voice), or None (the server's own).
    tts: tuple[str, EngineVoice] | None = None
    #: None where the request leaves it to the server's own (``--intensity``, ``--gain``, ...).
    intensity: float | None = None
    gains: dict[str, float] | None = None
    coarticulation: bool | None = None
    stream: StreamFormat | None = None
    lookahead: float | None = None  # seconds; None: the default

    @property
    def sound_bytes(self) -> int:
        """At most how many bytes of samples the ``wav`` holds (0 without one)."""
        return 0 if self.wav is None else len(self.wav) * 3 // 4


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
        raise ProtocolError("unknown_type", f"unknown message type {short(kind)}: expected say, pcm or stop",
                            request_id)
    extra = sorted(set(message) - _FIELDS[kind])
    if extra:
        raise ProtocolError("bad_message", f"{kind} has no field {short(extra[0])}", request_id)
    if kind == "stop":
        return kind, request_id, None
    if kind == "pcm":
        return kind, request_id, _pcm(message, request_id)
    return kind, request_id, _say(message, request_id)


def request_id_of(frame: str | bytes) -> str | None:
    """The ``id`` of a small frame, if it has a valid one (for refusing it without decoding it)."""
    if not isinstance(frame, str) or len(frame) > _PEEK:
        return None
    try:
        message = json.loads(frame)
    except (json.JSONDecodeError, RecursionError):
        return None
    raw_id = message.get("id") if isinstance(message, dict) else None
    return raw_id if isinstance(raw_id, str) and _ID.match(raw_id) else None


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
                            f"{short(mode)}", request_id)
    stream = _stream(_field(message, "pcm", dict, request_id), request_id)
    lookahead = _field(message, "lookahead", (int, float), request_id)
    if lookahead is not None and not (math.isfinite(lookahead) and 100 <= lookahead <= 2000):
        raise ProtocolError("bad_message", f"\"lookahead\" must be 100 to 2000 (ms), not {lookahead}",
                            request_id)
    if fps is not None and not (math.isfinite(fps) and 1 <= fps <= 240):
        raise ProtocolError("bad_message", f"\"fps\" must be 1 to 240, not {fps}", request_id)
    if lipmap is not None and not (0 < len(lipmap) <= 4096):
        raise ProtocolError("bad_message", "\"map\" must be a map name or a path", request_id)
    if text is not None and (not text.strip() or len(text) > MAX_TEXT):
        raise ProtocolError("bad_speech", f"\"text\" must hold 1 to {MAX_TEXT} characters", request_id)
    if labels is not None and len(labels) > MAX_LABELS:
        raise ProtocolError("bad_speech", f"\"labels\" must hold at most {MAX_LABELS} characters", request_id)
    if stream is not None:
        if wav is not None or text is not None or labels is not None:
            raise ProtocolError("bad_message", "a \"pcm\" stream is the speech itself: no \"text\", "
                                "\"wav\" or \"labels\" with it", request_id)
    elif wav is None:
        if text is None:
            raise ProtocolError("bad_message", "say needs \"text\", \"wav\" (with its \"text\" or "
                                "\"labels\", or alone) or a \"pcm\" stream", request_id)
        if labels is not None:
            raise ProtocolError("bad_message", "\"labels\" go with \"wav\"", request_id)
    rate = None if fps is None else float(fps)
    text_only = wav is None and stream is None
    tts = None if message.get("tts") is None else _tts(message["tts"], text_only, request_id)
    intensity, gains, coarticulation = _motion(message, request_id)
    return SayRequest(request_id, text, wav, labels, interrupt, lipmap, rate, mode, tts, intensity, gains,
                      coarticulation, stream, None if lookahead is None else lookahead / 1000)


def _stream(given: dict[str, Any] | None, request_id: str | None) -> StreamFormat | None:
    if given is None:
        return None
    rate, channels = given.get("sample_rate"), given.get("channels", 1)
    extra = sorted(set(given) - {"sample_rate", "channels"})
    if extra:
        raise ProtocolError("bad_message", f"\"pcm\" has no field {short(extra[0])}", request_id)
    if not (isinstance(rate, int) and not isinstance(rate, bool) and PCM_MIN_RATE <= rate <= PCM_MAX_RATE):
        raise ProtocolError("bad_message", f"\"pcm\" needs its \"sample_rate\": {PCM_MIN_RATE} to "
                            f"{PCM_MAX_RATE}", request_id)
    if not (isinstance(channels, int) and not isinstance(channels, bool) and 1 <= channels <= MAX_CHANNELS):
        raise ProtocolError("bad_message", f"\"pcm\" \"channels\" must be 1 to {MAX_CHANNELS}", request_id)
    return StreamFormat(rate, channels)


_TTS_FIELDS = ("speaker", "speed", "pitch", "intonation", "volume", "pre_phoneme", "post_phoneme")


def _tts(value: Any, text_only: bool, request_id: str | None) -> tuple[str, EngineVoice]:
    """A say's ``tts``: the engine's URL and voice, checked (not yet connected)."""
    from lipsync.engines import is_engine_url
    from lipsync.engines.base import EngineVoice

    if not text_only:
        raise ProtocolError("bad_message", "\"tts\" speaks \"text\": it does not go with \"wav\" or \"pcm\"",
                            request_id)
    if not isinstance(value, dict) or not isinstance(value.get("url"), str) or len(value["url"]) > 300:
        raise ProtocolError("bad_message", "\"tts\" must be an object with the engine's \"url\"", request_id)
    extra = sorted(set(value) - {"url", *_TTS_FIELDS})
    if extra:
        raise ProtocolError("bad_message", f"\"tts\" has no field {extra[0]!r}", request_id)
    if not is_engine_url(value["url"]):
        raise ProtocolError("bad_message", f"\"tts\".url {value['url'][:60]!r}: expected voicevox://, "
                            "aivisspeech://, sbv2:// or coeiroink://HOST:PORT", request_id)
    try:
        voice = EngineVoice(**{k: value[k] for k in _TTS_FIELDS if value.get(k) is not None})
    except (LipsyncError, TypeError) as exc:
        raise ProtocolError("bad_message", f"\"tts\": {exc}", request_id) from None
    return value["url"], voice


def _motion(message: dict[str, Any], request_id: str | None) -> tuple[float | None, dict[str, float] | None,
                                                                      bool | None]:
    """The say's ``intensity``, ``gains`` and ``coarticulation``, checked (None: not given)."""
    from lipsync.motion.settings import MAX_GAIN, MAX_INTENSITY

    intensity = _field(message, "intensity", (int, float), request_id)
    if intensity is not None and not (math.isfinite(intensity) and 0 <= intensity <= MAX_INTENSITY):
        raise ProtocolError("bad_message", f"\"intensity\" must be 0 to {MAX_INTENSITY:g}, not {intensity}",
                            request_id)
    gains = _field(message, "gains", dict, request_id)
    if gains is not None:
        if len(gains) > 256:
            raise ProtocolError("bad_message", "\"gains\" holds at most 256 morphs", request_id)
        for name, gain in gains.items():
            if (isinstance(gain, bool) or not isinstance(gain, int | float) or not math.isfinite(gain)
                    or not 0 <= gain <= MAX_GAIN):
                raise ProtocolError("bad_message", f"\"gains\": the gain of {name[:40]!r} must be 0 to "
                                    f"{MAX_GAIN:g}", request_id)
        gains = {str(name): float(gain) for name, gain in gains.items()}
    coarticulation = _field(message, "coarticulation", bool, request_id)
    return (None if intensity is None else float(intensity)), gains, coarticulation
