"""Where a recording has speech and where only its room: voice-activity detection by energy.

``speech_activity(audio)`` measures each 10 ms frame's level, estimates the recording's own
noise floor (the level its quietest frames keep to: digital silence, a room, a fan, a
microphone's hiss) and its speech level (its loud frames), and marks a frame as speech when it
stands clearly above the floor. Runs of speech closer than ``min_silence`` are one region (a
stop's closure is not a pause); isolated bursts shorter than ``min_speech`` are clicks, not
speech. Nothing here knows the text: the aligner and the recogniser both start from it.

The floor is the 5th percentile of the frame levels, so a recording needs about 5 % of
silence (50 ms in a second) for it to be the room's; in speech without any, it is the level of
the speech's quietest sounds, and only louder frames count as speech: regions then split at
closures, which is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from lipsync.sound import Audio

__all__ = ["ACTIVITY_RATE", "Activity", "frame_levels_db", "speech_activity", "speech_activity_of"]

#: The rate frames are measured at, and the frame (10 ms, as pydomino's).
ACTIVITY_RATE = 16000
_FRAME = 160
#: A frame is speech when it is this far above the noise floor (dB) ...
_ABOVE_FLOOR_DB = 9.0
#: ... and no further below the loud frames than this (dB): in a recording with digital
#: silence, a faint hiss 60 dB under the voice is not speech.
_BELOW_LOUD_DB = 50.0
#: Levels are never taken below this (dBFS): digital silence is as quiet as a room can be.
_FLOOR_LIMIT_DB = -100.0


@dataclass(frozen=True)
class Activity:
    """Speech regions of a recording, in 10 ms frames, with the levels they were found by.

    ``levels`` holds each frame's level in dBFS; ``noise_floor`` and ``speech_level`` (dBFS)
    are the recording's quiet and loud levels; ``regions`` are ``(first, end)`` frame ranges
    of speech, in order, apart by at least ``min_silence``. Frame ``f`` covers samples
    ``f * 160`` to ``(f + 1) * 160`` at 16 kHz (``seconds`` converts).
    """

    levels: tuple[float, ...]
    noise_floor: float
    speech_level: float
    threshold: float
    regions: tuple[tuple[int, int], ...]

    @property
    def frames(self) -> int:
        return len(self.levels)

    @property
    def snr(self) -> float:
        """The loud frames' level above the noise floor (dB)."""
        return self.speech_level - self.noise_floor

    def is_speech(self) -> list[bool]:
        """Per frame: inside a speech region."""
        marks = [False] * len(self.levels)
        for first, end in self.regions:
            marks[first:end] = [True] * (end - first)
        return marks

    def is_loud(self) -> list[bool]:
        """Per frame: above the speech threshold (a region's closures and gaps excluded)."""
        return [level > self.threshold for level in self.levels]

    def silences(self) -> list[tuple[int, int]]:
        """The frame ranges between regions (and before the first, after the last)."""
        gaps: list[tuple[int, int]] = []
        at = 0
        for first, end in self.regions:
            if first > at:
                gaps.append((at, first))
            at = end
        if at < len(self.levels):
            gaps.append((at, len(self.levels)))
        return gaps

    def seconds(self) -> list[tuple[Fraction, Fraction]]:
        """``regions`` in seconds from the recording's start."""
        return [(Fraction(a, 100), Fraction(b, 100)) for a, b in self.regions]


def frame_levels_db(samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """Each 10 ms frame's level (dBFS, mean power, DC removed) of 16 kHz ``samples``."""
    import numpy as np

    count = -(-len(samples) // _FRAME)
    power = np.empty(count, dtype=np.float64)
    step = 6000  # frames (a minute) at once: a long take costs no float64 copy of itself
    for first in range(0, count, step):
        end = min(first + step, count)
        block = np.zeros((end - first) * _FRAME, dtype=np.float64)
        chunk = samples[first * _FRAME : end * _FRAME]
        block[: len(chunk)] = chunk
        power[first:end] = block.reshape(end - first, _FRAME).var(axis=1)
    levels: npt.NDArray[np.float64] = 10 * np.log10(np.maximum(power, 10 ** (_FLOOR_LIMIT_DB / 10)))
    return levels


def speech_activity(audio: Audio, *, min_silence: float = 0.1, min_speech: float = 0.03) -> Activity:
    """Speech regions of ``audio`` (any rate: measured at 16 kHz) and its noise floor."""
    samples = audio.resampled(ACTIVITY_RATE).to_float32() if audio.sample_rate != ACTIVITY_RATE else (
        audio.to_float32())
    return speech_activity_of(samples, min_silence=min_silence, min_speech=min_speech)


def speech_activity_of(
    samples: npt.NDArray[np.float32], *, min_silence: float = 0.1, min_speech: float = 0.03
) -> Activity:
    """``speech_activity`` of 16 kHz float samples."""
    import numpy as np

    levels = frame_levels_db(samples)
    if len(levels) == 0:
        return Activity((), _FLOOR_LIMIT_DB, _FLOOR_LIMIT_DB, _FLOOR_LIMIT_DB, ())
    floor = float(np.percentile(levels, 5))
    loud = float(np.percentile(levels, 95))
    threshold = max(floor + _ABOVE_FLOOR_DB, loud - _BELOW_LOUD_DB)
    # A 30 ms median: one loud frame of noise, or one quiet frame inside a vowel, changes nothing.
    smooth = np.copy(levels)
    if len(levels) >= 3:
        smooth[1:-1] = np.median(np.stack([levels[:-2], levels[1:-1], levels[2:]]), axis=0)
    active = smooth > threshold
    runs = _runs(active)
    gap = round(min_silence * 100)
    merged: list[tuple[int, int]] = []
    for first, end in runs:
        if merged and first - merged[-1][1] < gap:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((first, end))
    shortest = max(1, round(min_speech * 100))
    regions = tuple((a, b) for a, b in merged if b - a >= shortest)
    return Activity(tuple(float(v) for v in levels), floor, loud, threshold, regions)


def _runs(active: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """``(first, end)`` of each run of true values."""
    import numpy as np

    padded = np.concatenate([[False], active, [False]]).astype(np.int8)
    changes = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(changes[::2], changes[1::2], strict=True)]
