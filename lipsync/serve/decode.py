"""The costly part of a ``say``, done once the request has been let through: its WAV decoded,
its labels read, its text (or an untimed query's phonemes) aligned to the audio by an
``Aligning`` (the server's runs out of its process: ``lipsync.serve.aligning``)."""

from __future__ import annotations

import base64
import binascii
import io
import wave
from typing import TYPE_CHECKING, Protocol

from lipsync.errors import LipsyncError, MissingDependency, ValueRefused
from lipsync.serve.protocol import MAX_RATE, MAX_WAV_SECONDS, MIN_RATE, ProtocolError, SayRequest
from lipsync.sound import Audio
from lipsync.timeline import Timeline

if TYPE_CHECKING:
    from lipsync.labels.voicevox import QueryPhonemes

__all__ = ["Aligning", "decode_speech"]


class Aligning(Protocol):
    """What finds phonemes in a ``wav`` (``lipsync.serve.aligning.OutsideAligner``)."""

    def align(self, audio: Audio, text: str) -> Timeline:
        """Where each phoneme of ``text`` is in ``audio``."""
        ...

    def align_query(self, audio: Audio, phonemes: QueryPhonemes) -> Timeline:
        """Where each of a VOICEVOX query's phonemes is in ``audio``."""
        ...


def decode_speech(request: SayRequest, aligner: Aligning) -> tuple[Audio | None, Timeline | None]:
    """The audio and timeline of a ``say`` with a ``wav`` (``(None, None)`` for text alone or a
    stream; ``(audio, None)`` for a ``wav`` alone, heard as it plays); ``aligner``
    finds where a ``wav``'s text is in it."""
    if request.wav is None:
        return None, None
    audio = _wav(request.wav, request.id)
    if request.labels is not None:
        return audio, _labels(request.labels, audio, request.id, aligner)
    if request.text is None:
        return audio, None
    return audio, _aligned(audio, request.text, request.id, aligner)


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


def _aligned(audio: Audio, text: str, request_id: str | None, aligner: Aligning) -> Timeline:
    """Where each phoneme of ``text`` is in ``audio`` (``lipsync.align``, where installed)."""
    try:
        return aligner.align(audio, text)
    except MissingDependency:
        raise ProtocolError("bad_message", "this lipsync cannot align a \"wav\" to its \"text\": "
                            "send its \"labels\"", request_id) from None
    except ValueRefused as exc:
        raise ProtocolError("bad_speech", str(exc).splitlines()[0], request_id) from None


def _labels(text: str, audio: Audio, request_id: str | None, aligner: Aligning) -> Timeline:
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
                return aligner.align_query(audio, query_phonemes(text, "labels"))
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
