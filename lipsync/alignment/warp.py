"""The audio as the model hears it best: slowed down (``warp``), its top band filled again.

Slowing 16 kHz audio down by ``warp`` (resampling it to ``16000 * warp`` Hz and hearing it
at 16 kHz) lowers its pitch and formants alike and stretches its time; the model's 10 ms
frames are then ``10 / warp`` ms of the original. It leaves the band above ``8 / warp`` kHz
empty, which the model has never heard: in white noise at 30 dB it lost 3 points of frames
to it (tuning set). ``fill_top`` fills that band with the band just below it, shifted up
(the same sound, one octave-fraction higher, in time with it), window by window.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

from lipsync.alignment.model import RATE

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["fill_top", "frame_rate", "warped"]

_EDGE = 0.97  # the resampler's filter rolls off a little below the new band edge: fill from here


def frame_rate(warp: float) -> Fraction:
    """The model's frames per second of the original audio, when it hears it ``warp`` times slower."""
    return 100 * Fraction(warp).limit_denominator(1000)


def warped(samples: npt.NDArray[np.float32], warp: float) -> npt.NDArray[np.float32]:
    """16 kHz ``samples`` slowed down by ``warp`` (the same samples when it is 1)."""
    if warp == 1:
        return samples
    import numpy as np
    import soxr

    out: npt.NDArray[np.float32] = soxr.resample(samples, RATE, RATE * warp, quality="HQ").astype(np.float32)
    return out


def fill_top(window: npt.NDArray[np.float32], warp: float) -> npt.NDArray[np.float32]:
    """``window`` of warped audio with its empty top band filled from the band below it."""
    if warp == 1 or len(window) < 2:
        return window
    import numpy as np

    spectrum = np.fft.rfft(window)
    top = len(spectrum) - 1
    first = int(top / warp * _EDGE)
    width = len(spectrum) - first
    if width > first:
        return window
    spectrum[first:] = spectrum[first - width : first]
    filled: npt.NDArray[np.float32] = np.fft.irfft(spectrum, len(window)).astype(np.float32)
    return filled
