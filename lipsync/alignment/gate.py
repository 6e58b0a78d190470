"""A loudness gate for the recogniser: which frames are too quiet to be speech.

The transition model hears words in noise: left alone, it finds phonemes in the silence
between sentences. Frames far below the speech's level, or close to the noise floor, are
marked quiet; only runs of ``min_frames`` or more count (a stop's closure and a geminate are
quiet too, but short). The recogniser's search then makes every phoneme but the pause pay
for each quiet frame (``lipsync.alignment.viterbi``).

The levels are the recording's own: speech is its 95th percentile frame level and the floor
its 10th (a stream passes running ones). This is deliberately one small function: the
aligner's voice-activity detection may take its place once both exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lipsync.alignment.model import HOP

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["GateSettings", "frame_levels", "quiet_frames"]

_WINDOW = 400  # samples the model's frame sees: 25 ms centred on its hop


@dataclass(frozen=True)
class GateSettings:
    """Where quiet begins (dB), and how long a quiet run must last (frames)."""

    below_speech_db: float = 45.0
    above_floor_db: float = 3.0
    min_frames: int = 8


def frame_levels(samples: npt.NDArray[np.float32], frames: int) -> npt.NDArray[np.float64]:
    """Per model frame, the power (dB re full scale) of the 25 ms it hears."""
    import numpy as np

    half = _WINDOW // 2
    padded = np.zeros(frames * HOP + _WINDOW, dtype=np.float64)
    used = min(len(samples), frames * HOP + half)
    padded[half : half + used] = samples[:used]
    total = np.concatenate([[0.0], np.cumsum(padded * padded)])
    starts = np.arange(frames) * HOP
    power = (total[starts + _WINDOW] - total[starts]) / _WINDOW
    levels: npt.NDArray[np.float64] = 10 * np.log10(power + 1e-10)
    return levels


def quiet_frames(
    levels: npt.NDArray[np.float64], settings: GateSettings | None = None, *,
    speech_db: float | None = None, floor_db: float | None = None,
) -> npt.NDArray[np.bool_]:
    """The frames the gate calls quiet: runs of ``min_frames`` or more below the threshold.

    The threshold is ``below_speech_db`` under the speech level, or ``above_floor_db`` over the
    floor when that is higher (but never within 10 dB of the speech).
    """
    import numpy as np

    s = settings or GateSettings()
    if len(levels) == 0:
        return np.zeros(0, dtype=bool)
    loud = float(np.percentile(levels, 95)) if speech_db is None else speech_db
    floor = float(np.percentile(levels, 10)) if floor_db is None else floor_db
    threshold = max(loud - s.below_speech_db, min(floor + s.above_floor_db, loud - 10.0))
    quiet = levels < threshold
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]])))
    kept = np.zeros(len(levels), dtype=bool)
    for begin, end in zip(edges[::2], edges[1::2], strict=True):
        if end - begin >= s.min_frames:
            kept[begin:end] = True
    return kept
