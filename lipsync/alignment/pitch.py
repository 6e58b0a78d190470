"""How high a voice is, and how much the recogniser slows it down to hear it best.

pydomino's model hears low voices better than high ones: on the tuning set, Mei (about
350 Hz) raised 5 half tones lost 4 points of frames, and hearing high voices slowed down by
10 % (pitch and formants 10 % lower, ``lipsync.alignment.recognize.warped``) won them back,
while the same slowing hurt men's voices (about 100 Hz). So the warp follows the voice's
median pitch: none up to ``LOW`` Hz, rising with the log of the pitch to ``MOST`` at ``HIGH``.

The pitch is a YIN-style estimate (the cumulative-mean-normalised difference of 40 ms
frames) over the loud frames of at most ``SECONDS`` of audio.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["HIGH", "LOW", "MOST", "median_pitch", "warp_for"]

#: The warp begins above ``LOW`` Hz and reaches ``MOST`` at ``HIGH`` Hz.
LOW, HIGH, MOST = 200.0, 340.0, 1.1
SECONDS = 20.0
_RATE = 16000
_FRAME = 640  # 40 ms
_LAGS = (_RATE // 500, _RATE // 60)  # 500 Hz down to 60 Hz
_VOICED = 0.2  # the normalised difference's dip at the period, at most
_LOUD_DB = 25.0  # frames this far below the loud ones are not looked at


def median_pitch(samples: npt.NDArray[np.float32]) -> float | None:
    """The median F0 (Hz) of the voiced frames of 16 kHz ``samples`` (``None``: none voiced)."""
    import numpy as np

    lo, hi = _LAGS
    x = np.asarray(samples[: round(SECONDS * _RATE)], dtype=np.float64)
    count = (len(x) - _FRAME - hi) // (_FRAME // 2)
    if count <= 0:
        return None
    starts = np.arange(count) * (_FRAME // 2)
    frames = x[starts[:, None] + np.arange(_FRAME + hi)[None, :]]
    level = 10 * np.log10(np.mean(frames[:, :_FRAME] ** 2, axis=1) + 1e-12)
    frames = frames[level >= np.percentile(level, 95) - _LOUD_DB]
    head = frames[:, :_FRAME]
    size = 1 << (2 * _FRAME + hi).bit_length()
    spectrum = np.fft.rfft(frames, size) * np.conj(np.fft.rfft(head, size))
    cross = np.fft.irfft(spectrum, size)[:, 1 : hi + 1]  # sum x[n] x[n + lag], n over the frame
    energy = np.cumsum(frames**2, axis=1)
    own = energy[:, _FRAME - 1][:, None]
    shifted = energy[:, _FRAME : _FRAME + hi] - energy[:, :hi]  # sum x[n + lag]^2
    difference = np.maximum(own + shifted - 2 * cross, 0.0)
    normalised = difference * np.arange(1, hi + 1) / np.maximum(np.cumsum(difference, axis=1), 1e-12)
    lag = np.argmin(normalised[:, lo - 1 :], axis=1) + lo
    dip = normalised[np.arange(len(lag)), lag - 1]
    voiced = lag[dip < _VOICED]
    return float(np.median(_RATE / voiced)) if len(voiced) else None


def warp_for(pitch: float | None) -> float:
    """How much to slow a voice of ``pitch`` Hz down before the model hears it (1: not at all)."""
    if pitch is None or pitch <= LOW:
        return 1.0
    share = min(1.0, math.log(pitch / LOW) / math.log(HIGH / LOW))
    return round(1.0 + share * (MOST - 1.0), 3)
