"""The serve protocol: JSON text frames, each one message with a ``type``; requests checked here.

Client to server: ``say`` and ``stop``. Server to client: ``hello`` (on connect), ``started``,
``frame`` (``"audio": "local"``), ``speech`` (``"audio": "client"``), ``ended`` and ``error``.
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
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lipsync._numbers import short
from lipsync.errors import LipsyncError, MissingDependency, ValueRefused
from lipsync.sound import Audio
from lipsync.timeline import Timeline

if TYPE_CHECKING:
    from lipsync.engines.base import EngineVoice

__all__ = [
    "CODES", "MAX_LABELS", "MAX_MESSAGE", "MAX_RATE", "MAX_TEXT", "MAX_WAV_SECONDS", "MIN_RATE", "PATH",
    "ProtocolError", "SayRequest", "decode_speech", "error", "parse_request", "request_id_of",
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
#: ``align(audio, text)``: where each phoneme of the text is in the audio.
Aligner = Callable[[Audio, str], Timeline]
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
            "gains", "coarticulation"},
    "stop": {"type", "id"},
}


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
class SayRequest:
    """A checked ``say``: text, or a WAV (still base64) with its text or labels (still text).

    Checking it costs little; ``decode_speech`` does the costly part (the WAV, the labels, the
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

    @property
    def sound_bytes(self) -> int:
        """At most how many bytes of samples the ``wav`` holds (0 without one)."""
        return 0 if self.wav is None else len(self.wav) * 3 // 4


def parse_request(frame: str | bytes) -> tuple[str, str | None, SayRequest | None]:
    """``(type, id, say request or None)`` of one frame; ``ProtocolError`` if it is refused."""
    if isinstance(frame, bytes):
        raise ProtocolError("bad_json", "expected a JSON text frame, got a binary one")
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
        raise ProtocolError("unknown_type", f"unknown message type {short(kind)}: expected say or stop",
                            request_id)
    extra = sorted(set(message) - _FIELDS[kind])
    if extra:
        raise ProtocolError("bad_message", f"{kind} has no field {short(extra[0])}", request_id)
    if kind == "stop":
        return kind, request_id, None
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
    if mode not in ("local", "client"):
        raise ProtocolError("bad_message", f"\"audio\" must be \"local\" or \"client\", not {short(mode)}",
                            request_id)
    if fps is not None and not (math.isfinite(fps) and 1 <= fps <= 240):
        raise ProtocolError("bad_message", f"\"fps\" must be 1 to 240, not {fps}", request_id)
    if lipmap is not None and not (0 < len(lipmap) <= 4096):
        raise ProtocolError("bad_message", "\"map\" must be a map name or a path", request_id)
    if text is not None and (not text.strip() or len(text) > MAX_TEXT):
        raise ProtocolError("bad_speech", f"\"text\" must hold 1 to {MAX_TEXT} characters", request_id)
    if labels is not None and len(labels) > MAX_LABELS:
        raise ProtocolError("bad_speech", f"\"labels\" must hold at most {MAX_LABELS} characters", request_id)
    if wav is None:
        if text is None:
            raise ProtocolError("bad_message", "say needs \"text\", or \"wav\" with \"text\" or \"labels\"",
                                request_id)
        if labels is not None:
            raise ProtocolError("bad_message", "\"labels\" go with \"wav\"", request_id)
    elif labels is None and text is None:
        raise ProtocolError("bad_message", "\"wav\" needs its \"text\" (to align) or its \"labels\" "
                            "(a label file's text)", request_id)
    rate = None if fps is None else float(fps)
    tts = None if message.get("tts") is None else _tts(message["tts"], wav is None, request_id)
    intensity, gains, coarticulation = _motion(message, request_id)
    return SayRequest(request_id, text, wav, labels, interrupt, lipmap, rate, mode, tts, intensity, gains,
                      coarticulation)


def decode_speech(request: SayRequest, align: Aligner) -> tuple[Audio | None, Timeline | None]:
    """The audio and timeline of a ``say`` with a ``wav`` (``(None, None)`` for text alone);
    ``align(audio, text)`` finds where a ``wav``'s text is in it."""
    if request.wav is None:
        return None, None
    audio = _wav(request.wav, request.id)
    if request.labels is not None:
        return audio, _labels(request.labels, audio, request.id)
    return audio, _aligned(audio, request.text or "", request.id, align)


_TTS_FIELDS = ("speaker", "speed", "pitch", "intonation", "volume", "pre_phoneme", "post_phoneme")


def _tts(value: Any, text_only: bool, request_id: str | None) -> tuple[str, EngineVoice]:
    """A say's ``tts``: the engine's URL and voice, checked (not yet connected)."""
    from lipsync.engines import is_engine_url
    from lipsync.engines.base import EngineVoice

    if not text_only:
        raise ProtocolError("bad_message", "\"tts\" speaks \"text\": it does not go with \"wav\"", request_id)
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


def _wav(data: str, request_id: str | None) -> Audio:
    import numpy as np

    try:
        raw = base64.b64decode(data, validate=True)
        with wave.open(io.BytesIO(raw), "rb") as source:
            width, channels = source.getsampwidth(), source.getnchannels()
            rate, count = source.getframerate(), source.getnframes()
            if width == 2 and MIN_RATE <= rate <= MAX_RATE and count <= MAX_WAV_SECONDS * rate:
                frames = source.readframes(count)
        del raw
    except (binascii.Error, ValueError, EOFError, wave.Error) as exc:
        raise ProtocolError("bad_speech", f"\"wav\" is not a base64 WAV file: {exc}", request_id) from None
    if width != 2:
        raise ProtocolError("bad_speech", f"\"wav\" must be 16-bit PCM, not {8 * width}-bit", request_id)
    if not MIN_RATE <= rate <= MAX_RATE:
        raise ProtocolError("bad_speech", f"\"wav\" must be sampled at {MIN_RATE} to {MAX_RATE} Hz, not "
                            f"{rate} Hz", request_id)
    if count > MAX_WAV_SECONDS * rate:
        raise ProtocolError("bad_speech", f"\"wav\" must last at most {MAX_WAV_SECONDS} s", request_id)
    samples = np.frombuffer(frames, dtype="<i2")
    if channels > 1:  # the channels' mean, in integers (no float copy of a long recording)
        frame = samples[: len(samples) // channels * channels].reshape(-1, channels)
        samples = (frame.sum(axis=1, dtype=np.int32) // channels).astype(np.int16)
    else:
        samples = samples.astype(np.int16)  # its own copy, in native order
    if not len(samples):
        raise ProtocolError("bad_speech", "\"wav\" holds no samples", request_id)
    return Audio(samples, rate)


def _aligned(audio: Audio, text: str, request_id: str | None, align: Aligner) -> Timeline:
    """Where each phoneme of ``text`` is in ``audio`` (``lipsync.align``, where installed)."""
    try:
        return align(audio, text)
    except MissingDependency:
        raise ProtocolError("bad_message", "this lipsync cannot align a \"wav\" to its \"text\": "
                            "send its \"labels\"", request_id) from None
    except ValueRefused as exc:
        raise ProtocolError("bad_speech", str(exc).splitlines()[0], request_id) from None


def _labels(text: str, audio: Audio, request_id: str | None) -> Timeline:
    from lipsync.errors import UntimedLabels
    from lipsync.labels import detect_format
    from lipsync.labels.segments import read_segments
    from lipsync.labels.textgrid import read_textgrid
    from lipsync.labels.voicevox import query_phonemes, read_audio_query

    kind = detect_format(text)
    try:
        if kind == "voicevox":
            try:
                return read_audio_query(text, "labels")
            except UntimedLabels:  # a query without timing (AivisSpeech's): align the audio to it
                from lipsync.alignment.query import align_query

                return align_query(audio, query_phonemes(text, "labels"))
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
