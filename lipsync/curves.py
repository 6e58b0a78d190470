"""Mouth curves (``MouthCurves``: 30 fps keys, linear between), and MMDAgent-EX's own motion.

lipsync's own motion, which every consumer gets, is ``lipsync.motion`` (it builds a
``MouthCurves``); this module also reproduces MMDAgent-EX's ``LipSync::createMotion``
(``agent_curves``), what the agent draws of a sequence it is sent. From a LIPSYNC sequence
(whole milliseconds, as the agent receives them) to keys at 30 fps:

- each phoneme lasts ``d = int(f + 0.5)`` frames, at least 1, where ``f = 0.03 * ms + carry``
  in float32 and ``carry = f - d`` goes on to the next;
- the last key gets 6 more frames; a closing key (row 0 of the map, weight 0) follows;
- every key but the closing one that is longer than 2 frames gives its last 2 frames to a
  key of the same phoneme at 0.8 of its weight;
- each morph has a keyframe at every key's first frame: map weight x key rate.

Between keyframes weights are linear in time. At the start the mouth blends in from closed
over min(6 frames, the second keyframe's time), as the agent blends from the model's current
mouth (taken here as closed).

A timeline that starts after 0 (labels whose first phoneme is at 0.5 s) keeps that offset:
``sample()`` and ``keyframes()`` are on the audio's clock. ``at()`` and ``duration`` stay on
the motion's own clock (0 = its LIPSYNC_START).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from lipsync._numbers import MAX_CURVE_VALUES, MAX_FPS
from lipsync.errors import ValueRefused
from lipsync.maps.lipmap import LipMap
from lipsync.timeline import Timeline

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["FPS", "Key", "MouthCurves", "agent_curves", "motion_keys", "needed_keys"]

#: MMDAgent-EX's motion frame rate.
FPS = 30
_LAST_EXTRA = 6
_MARGIN = 2
_RATE = 0.8
_BLEND = 6


@dataclass(frozen=True)
class Key:
    """One motion key: phoneme row, start frame, length in frames, weight factor."""

    phoneme: str
    frame: int
    frames: int
    rate: float


def motion_keys(pairs: Sequence[tuple[str, int | float]], first_row: str) -> list[Key]:
    """The keys ``createMotion`` makes from (phoneme, ms) pairs; ``first_row`` closes."""
    import numpy as np

    f32 = np.float32
    step = f32(0.03)
    carry = f32(0.0)
    raw: list[tuple[str, int]] = []
    for phoneme, ms in pairs:
        f = f32(step * f32(ms) + carry)
        frames = max(int(f + f32(0.5)), 1)
        carry = f32(f - f32(frames))
        raw.append((phoneme, frames))
    if not raw:
        raise ValueRefused("no phonemes to draw")
    raw[-1] = (raw[-1][0], raw[-1][1] + _LAST_EXTRA)
    keys: list[tuple[str, int, float]] = []
    rate = 1.0
    for phoneme, frames in raw:
        if frames > _MARGIN:
            keys.append((phoneme, frames - _MARGIN, rate))
            keys.append((phoneme, _MARGIN, _RATE * rate))
        else:
            keys.append((phoneme, frames, rate))
    keys.append((first_row, 1, 0.0))
    result: list[Key] = []
    at = 0
    for phoneme, frames, rate in keys:
        result.append(Key(phoneme, at, frames, rate))
        at += frames
    return result


class MouthCurves:
    """Per-morph keyframes of one mouth motion, and their values at any time.

    Keys are on a 30 fps grid: ``numbers`` are their frame numbers on the audio's clock
    (frame ``k`` at ``k / 30`` s), ``frames`` the same on the motion's own clock (0 = the
    timeline's start, ``start``). Weights are linear between keys; before the first and after
    the last the mouth is at ``rest`` (zeros unless the map has a rest morph). ``at()`` and
    ``duration`` take seconds on the motion's clock; ``sample()``, ``keyframes()`` and
    ``end`` are on the audio's clock.

    ``agent_curves`` builds MMDAgent-EX's motion (``keys`` holds its keys, ``blend`` the
    frames over which it blends in from a closed mouth); ``lipsync.motion`` builds lipsync's
    own (``simplify``: ``keyframes()`` leaves out keys that lie on the line between their
    neighbours).
    """

    def __init__(
        self, frames: npt.ArrayLike, weights: npt.ArrayLike, morphs: tuple[str, ...],
        start: Fraction | float = 0, *, numbers: npt.ArrayLike | None = None,
        rest: Sequence[float] | None = None, blend: int = 0, keys: list[Key] | None = None,
        simplify: bool = False,
    ) -> None:
        import numpy as np

        self.start = float(start)
        self.start_frame = math.floor(Fraction(start) * FPS + Fraction(1, 2))
        self.morphs = morphs
        self.frames = np.asarray(frames, dtype=np.float64)
        self.weights = np.asarray(weights, dtype=np.float64).reshape(len(self.frames), len(morphs))
        self.numbers = (np.asarray(numbers, dtype=np.int64) if numbers is not None
                        else self.frames.astype(np.int64) + self.start_frame)
        self.rest = np.zeros(len(morphs)) if rest is None else np.asarray(rest, dtype=np.float64)
        self.blend = blend
        self.keys = keys
        self.simplify = simplify

    @property
    def duration(self) -> float:
        """Seconds from the motion's start until its last keyframe."""
        return float(self.frames[-1]) / FPS

    @property
    def end(self) -> float:
        """Seconds on the audio's clock at the last keyframe."""
        return self.start + self.duration

    def keyframes(self) -> dict[str, list[tuple[int, float]]]:
        """``{morph: [(frame, weight), ...]}`` at 30 fps on the audio's clock."""
        numbers = self.numbers.tolist()
        result: dict[str, list[tuple[int, float]]] = {}
        for i, morph in enumerate(self.morphs):
            column = self.weights[:, i]
            keep = needed_keys(self.numbers, column) if self.simplify else range(len(numbers))
            result[morph] = [(numbers[k], float(column[k])) for k in keep]
        return result

    def at(self, times: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Weights at ``times`` (seconds): shape ``(len(times), len(morphs))``."""
        import numpy as np

        t = np.asarray(times, dtype=np.float64).ravel() * FPS
        out = np.empty((t.size, len(self.morphs)), dtype=np.float64)
        for i in range(len(self.morphs)):
            rest = float(self.rest[i])
            out[:, i] = np.interp(t, self.frames, self.weights[:, i], left=rest, right=rest)
        if self.blend:
            out *= np.clip(t / self.blend, 0.0, 1.0)[:, None]
        return out

    def sample(self, fps: float = 60.0) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Times from 0 to ``end`` at ``fps`` (the audio's clock), and the weights then.

        Before ``start`` the mouth is at rest.
        """
        import numpy as np

        if not 1 <= fps <= MAX_FPS:
            raise ValueRefused(f"fps must be from 1 to {MAX_FPS}, not {fps}")
        count = int(np.floor(self.end * fps + 1e-9)) + 1
        if count * max(1, len(self.morphs)) > MAX_CURVE_VALUES:
            raise ValueRefused(
                f"{count} samples of {len(self.morphs)} morphs is more than the "
                f"{MAX_CURVE_VALUES} values curves makes at once: lower the fps or cut the speech"
            )
        times = np.arange(count, dtype=np.float64) / fps
        return times, self.at(times - self.start)


def needed_keys(numbers: npt.NDArray[np.int64], column: npt.NDArray[np.float64]) -> list[int]:
    """Indexes of the keys of one curve that are not on the line between their neighbours."""
    import numpy as np

    if len(column) <= 2:
        return list(range(len(column)))
    slopes = np.diff(column) / np.diff(numbers)
    bends = np.abs(np.diff(slopes)) > 1e-9
    return [0, *(np.flatnonzero(bends) + 1).tolist(), len(column) - 1]


def agent_curves(timeline: Timeline, lipmap: LipMap) -> MouthCurves:
    """The curves MMDAgent-EX draws for ``timeline`` sent as one LIPSYNC_START (its
    ``createMotion``: see this module's docstring). Names must be in ``lipmap``."""
    import numpy as np

    pairs = list(zip(timeline.names, timeline.milliseconds(), strict=True))
    for name, _ in pairs:
        lipmap.weights(name)  # refuses an unknown name
    keys = motion_keys(pairs, lipmap.phonemes[0])
    frames = np.array([k.frame for k in keys], dtype=np.float64)
    rows = np.array([lipmap.weights(k.phoneme) for k in keys], dtype=np.float64)
    weights = rows * np.array([k.rate for k in keys], dtype=np.float64)[:, None]
    blend = min(_BLEND, keys[1].frame) if len(keys) > 1 else 0
    return MouthCurves(frames, weights, lipmap.morphs, timeline.start, blend=blend, keys=keys)
