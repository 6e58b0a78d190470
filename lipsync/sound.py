"""``Audio``: mono 16-bit samples and their rate, with WAV reading and writing."""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from lipsync._atomic import write_atomic
from lipsync.errors import ValueRefused

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["Audio"]


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
    def load_wav(cls, path: str | Path) -> Audio:
        """Read a 16-bit PCM WAV; more than one channel is mixed down to mono."""
        import numpy as np

        try:
            with wave.open(str(path), "rb") as source:
                if source.getsampwidth() != 2:
                    raise ValueRefused(f"{path}: expected 16-bit PCM, found {8 * source.getsampwidth()}-bit")
                channels = source.getnchannels()
                rate = source.getframerate()
                frames = source.readframes(source.getnframes())
        except (OSError, EOFError, wave.Error) as exc:
            raise ValueRefused(f"{path}: cannot read as WAV: {exc}") from exc
        samples = np.frombuffer(frames, dtype="<i2")
        if channels > 1:
            samples = samples.reshape(-1, channels).mean(axis=1).round().astype(np.int16)
        return cls(samples.astype(np.int16), rate)
