"""``Audio``: mono 16-bit samples and their rate; reading any common format, resampling, WAV out.

``Audio.load`` and ``Audio.decode`` read WAV (8, 16, 24, 32-bit integer and 32/64-bit float),
FLAC, MP3 and Ogg Vorbis at any rate, mono or more channels (mixed down to mono), through
miniaudio. ``Audio.resampled`` changes the rate with soxr, whose filter keeps aliases and
images far below hearing (a 9 kHz tone at 24 kHz played at 48 kHz leaves no image at 15 kHz
above -100 dB; linear interpolation left one 7 dB down).
"""

from __future__ import annotations

import io
import struct
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lipsync._atomic import write_atomic
from lipsync.errors import ValueRefused

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["Audio"]

_KINDS = "WAV, FLAC, MP3 or Ogg Vorbis"
#: The sample rates a recording may have (telephone speech is 8 kHz; studios record up to 768).
MIN_RATE, MAX_RATE = 4000, 768_000
MAX_CHANNELS = 32
#: Frames converted at once when decoding.
_BLOCK = 1 << 20


@dataclass(frozen=True, eq=False)
class Audio:
    """Mono int16 samples at ``sample_rate`` Hz."""

    samples: npt.NDArray[np.int16]
    sample_rate: int

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def duration(self) -> Fraction:
        return Fraction(len(self.samples), self.sample_rate)

    @classmethod
    def from_float(cls, samples: npt.NDArray[np.float64], sample_rate: int) -> Audio:
        """From floats in int16 scale (what Open JTalk gives), rounded and clipped."""
        import numpy as np

        return cls(np.clip(np.rint(samples), -32768, 32767).astype(np.int16), sample_rate)

    @classmethod
    def from_pcm16(cls, data: bytes, sample_rate: int, channels: int = 1) -> Audio:
        """Raw little-endian 16-bit PCM, ``channels`` interleaved (mixed down to mono).

        ``data`` must hold whole frames (``2 * channels`` bytes each).
        """
        import numpy as np

        if not (MIN_RATE <= sample_rate <= MAX_RATE and 1 <= channels <= MAX_CHANNELS):
            raise ValueRefused(f"PCM at {sample_rate} Hz with {channels} channels: expected {MIN_RATE} to "
                               f"{MAX_RATE} Hz and 1 to {MAX_CHANNELS} channels")
        if len(data) % (2 * channels):
            raise ValueRefused(f"{len(data)} bytes of 16-bit PCM with {channels} channels: expected whole "
                               f"frames of {2 * channels} bytes")
        samples = np.frombuffer(data, dtype="<i2")
        if channels == 1:
            return cls(samples.astype(np.int16), sample_rate)
        return cls.from_float(samples.reshape(-1, channels).mean(axis=1), sample_rate)

    def to_float32(self) -> npt.NDArray[np.float32]:
        """The samples as float32 in [-1, 1)."""
        import numpy as np

        converted: npt.NDArray[np.float32] = self.samples.astype(np.float32)
        converted /= np.float32(32768)  # in place: a long take is not copied twice
        return converted

    def resampled(self, rate: int) -> Audio:
        """This audio at ``rate`` Hz (soxr, high quality); ``round(len * rate / sample_rate)`` samples.

        The same audio when the rate is already ``rate``.
        """
        import numpy as np
        import soxr

        if rate <= 0:
            raise ValueRefused(f"sample rate {rate} Hz: expected a positive rate")
        if rate == self.sample_rate:
            return self
        count = round(Fraction(len(self.samples) * rate, self.sample_rate))
        if len(self.samples) == 0:
            return Audio(np.zeros(0, dtype=np.int16), rate)
        converted = soxr.resample(self.samples.astype(np.float32), self.sample_rate, rate, quality="VHQ")
        # soxr gives about the exact length; make it exactly the rounded one, so the time
        # of every sample is the same at both rates.
        if len(converted) < count:
            converted = np.concatenate([converted, np.zeros(count - len(converted), np.float32)])
        return Audio.from_float(converted[:count].astype(np.float64), rate)

    def to_wav_bytes(self) -> bytes:
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(self.sample_rate)
            out.writeframes(self.samples.astype("<i2").tobytes())
        return buffer.getvalue()

    def save_wav(self, path: str | Path) -> None:
        """Write a 16-bit mono WAV atomically."""
        write_atomic(Path(path), self.to_wav_bytes())

    @classmethod
    def load(cls, path: str | Path) -> Audio:
        """Read a WAV, FLAC, MP3 or Ogg Vorbis file; channels are mixed down to mono.

        Faults are ``ValueRefused`` naming the file and the reason.
        """
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ValueRefused(f"{path}: cannot read: {exc.strerror or exc}") from exc
        return cls.decode(data, str(path))

    #: The old name: every format is read now, not only WAV.
    load_wav = load

    @classmethod
    def decode(cls, data: bytes, source: str = "<audio>") -> Audio:
        """Decode a whole audio file held in memory; ``source`` names it in errors."""
        import miniaudio
        import numpy as np

        if not data:
            raise ValueRefused(f"{source}: empty file: expected {_KINDS} audio")
        kind, info = _probe(data, source)
        if not MIN_RATE <= info.sample_rate <= MAX_RATE:
            # A header claiming 1 Hz would be resampled 48 000-fold: gigabytes from a few bytes.
            raise ValueRefused(f"{source}: {kind} with sample rate {info.sample_rate} Hz: expected "
                               f"{MIN_RATE} to {MAX_RATE} Hz")
        if not 1 <= info.nchannels <= MAX_CHANNELS:
            raise ValueRefused(
                f"{source}: {kind} with {info.nchannels} channels: expected 1 to {MAX_CHANNELS}"
            )
        try:
            decoded = miniaudio.decode(
                data, output_format=miniaudio.SampleFormat.FLOAT32, nchannels=info.nchannels,
                sample_rate=info.sample_rate,
            )
        except miniaudio.DecodeError as exc:
            raise ValueRefused(f"{source}: cannot decode this {kind}: {_reason(exc)}") from exc
        raw = np.frombuffer(decoded.samples, dtype=np.float32)
        frames = raw[: len(raw) - len(raw) % info.nchannels].reshape(-1, info.nchannels)
        samples = np.empty(len(frames), dtype=np.int16)
        # In blocks, so that a long recording costs its samples, not several float64 copies.
        for at in range(0, len(frames), _BLOCK):
            block = frames[at : at + _BLOCK].astype(np.float64)
            mono = block.mean(axis=1) if info.nchannels > 1 else block[:, 0]
            scaled = np.nan_to_num(mono) * 32768.0
            samples[at : at + _BLOCK] = np.clip(np.rint(scaled), -32768, 32767).astype(np.int16)
        return cls(samples, info.sample_rate)


def _probe(data: bytes, source: str) -> tuple[str, Any]:
    """The container by its first bytes, and miniaudio's header info (rate, channels)."""
    import miniaudio

    if data[:4] in (b"RIFF", b"RIFX", b"RF64") and data[8:12] == b"WAVE":
        kind, probe = "WAV", miniaudio.wav_get_info
        fault = _wav_fault(data) if data[:4] != b"RIFX" else ""
        if fault:
            raise ValueRefused(f"{source}: WAV {fault}")
    elif data[:4] == b"fLaC":
        kind, probe = "FLAC", miniaudio.flac_get_info
    elif data[:4] == b"OggS":
        if b"OpusHead" in data[:128]:
            raise ValueRefused(f"{source}: Ogg Opus is not supported: expected {_KINDS}")
        kind, probe = "Ogg Vorbis", miniaudio.vorbis_get_info
    elif data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        kind, probe = "MP3", miniaudio.mp3_get_info
    else:
        head = data[:4].hex(" ")
        raise ValueRefused(
            f"{source}: not audio lipsync can read (starts with {head}): expected {_KINDS}"
        )
    try:
        return kind, probe(data)
    except miniaudio.DecodeError as exc:
        raise ValueRefused(f"{source}: broken {kind} header: {_reason(exc)}") from exc


def _wav_fault(data: bytes) -> str:
    """What is wrong with a WAV's format chunk, in words ("" when it looks usable)."""
    at = 12
    while at + 8 <= len(data):
        chunk, size = data[at : at + 4], struct.unpack("<I", data[at + 4 : at + 8])[0]
        if chunk == b"fmt ":
            if size < 16 or at + 24 > len(data):
                return "format chunk is cut short"
            _, channels, rate = struct.unpack("<HHI", data[at + 8 : at + 16])
            bits = struct.unpack("<H", data[at + 22 : at + 24])[0]
            if rate == 0:
                return "with sample rate 0 Hz: expected above 0"
            if channels == 0:
                return "with 0 channels: expected 1 or more"
            if bits not in (8, 16, 24, 32, 64):
                return f"with {bits}-bit samples: expected 8, 16, 24, 32 or 64"
            return ""
        at += 8 + size + (size & 1)
    return "without a format chunk (file cut short?)"


def _reason(exc: Exception) -> str:
    words = " ".join(str(arg) for arg in exc.args if isinstance(arg, str)).strip()
    return words or type(exc).__name__
