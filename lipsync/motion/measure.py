"""How a mouth motion reads as speech, in numbers: closure, lead, flicker, jaw steps.

Judged on the frames a viewer sees, 30 a second on the audio's clock (frame ``k`` at ``k/30``
s), from the curves' own values (``MouthCurves.at``), whatever made them:

- **closure**: a bilabial (m b p my by py) is closed when, on at least one frame inside its
  sound, every opening morph of the map is below 0.1 (``lipsync.motion.roles``). A bilabial
  no frame falls in counts as not closed (``unframed`` says how many there were).
- **lead**: at each voiced vowel whose main morph (its largest weight in the map) visibly
  changes (by 0.1 or more: from its lowest in the 150 ms before the vowel to its highest in
  the vowel), the time from the moment that morph is half-way there to the vowel's sound;
  positive when the lips lead. ``late`` counts vowels whose morph had not started to move
  (10 % of the way) when the sound began.
- **flicker**: a frame where a morph pops up (more than 0.1 above both neighbouring frames
  and more than twice the higher of them) or drops out (more than 0.1 below both and under
  half the lower), other than a closed frame (a closure is a shape held on purpose); rest
  morphs (``sil``, ``X``: what the other morphs leave) are not shapes and are not counted.
- **jaw step**: the largest change of jaw opening from one frame to the next (1 = a full ``a``).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lipsync.curves import FPS, MouthCurves
from lipsync.maps.lipmap import LipMap
from lipsync.motion.roles import BILABIALS, CLOSED, VOWELS, map_roles
from lipsync.timeline import Timeline

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["Figures", "figures"]

_BEFORE = 0.15  # seconds before a vowel its main morph's low point is looked for
_STEP = 0.001  # seconds between samples for the lead


@dataclass
class Figures:
    """The figures of one or more motions (``+`` adds them up)."""

    bilabials: int = 0
    closed: int = 0
    unframed: int = 0
    leads: list[float] = field(default_factory=list)
    late: int = 0
    flickers: int = 0
    frames: int = 0
    jaw_step: float = 0.0
    open_bilabials: list[str] = field(default_factory=list)

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            self.bilabials + other.bilabials, self.closed + other.closed, self.unframed + other.unframed,
            self.leads + other.leads, self.late + other.late, self.flickers + other.flickers,
            self.frames + other.frames, max(self.jaw_step, other.jaw_step),
            self.open_bilabials + other.open_bilabials,
        )

    @property
    def closure(self) -> float:
        """The share of bilabials closed (1 when there are none)."""
        return self.closed / self.bilabials if self.bilabials else 1.0

    @property
    def lead(self) -> float:
        """The median lead in seconds (0 when no vowel was measured)."""
        return statistics.median(self.leads) if self.leads else 0.0


def figures(curves: MouthCurves, timeline: Timeline, lipmap: LipMap, *, leads: bool = True) -> Figures:
    """The figures of ``curves`` (drawn from ``lipmap``) for the speech of ``timeline``.

    ``leads=False`` leaves the leads out (they take most of the time).
    """
    import numpy as np

    roles = map_roles(lipmap)
    opening = ~np.array(roles.closing)
    numbers = np.arange(int(np.floor(curves.start * FPS)), int(np.ceil(curves.end * FPS)) + 1)
    times = numbers / FPS
    poses = curves.at(times - curves.start)
    shut = np.asarray((np.where(opening, poses, 0.0) < CLOSED).all(axis=1), dtype=np.bool_)
    result = Figures(frames=len(times))
    for phone in timeline:
        if phone.name not in BILABIALS:
            continue
        result.bilabials += 1
        inside = (times >= float(phone.start) - 1e-9) & (times < float(phone.end) - 1e-9)
        if not inside.any():
            result.unframed += 1
        if shut[inside].any():
            result.closed += 1
        else:
            result.open_bilabials.append(f"{phone.name}@{float(phone.start):.3f}")
    if leads:
        result.leads, result.late = _leads(curves, timeline, lipmap)
    result.flickers = _flickers(poses[:, ~np.array(roles.rest_morphs)], shut)
    jaw = np.clip(np.where(opening, poses, 0.0) @ np.clip(np.array(roles.jaw), 0.0, None), 0.0, None)
    result.jaw_step = float(np.abs(np.diff(jaw)).max()) if len(jaw) > 1 else 0.0
    return result


def _flickers(poses: npt.NDArray[np.float64], shut: npt.NDArray[np.bool_]) -> int:
    import numpy as np

    if len(poses) < 3:
        return 0
    here, before, after = poses[1:-1], poses[:-2], poses[2:]
    higher, lower = np.maximum(before, after), np.minimum(before, after)
    pops = (here > higher + 0.1 + 1e-9) & (here > 2 * higher + 1e-9)
    drops = (here < lower - 0.1 - 1e-9) & (here < lower / 2 - 1e-9)
    peak = pops | drops
    return int((peak.any(axis=1) & ~shut[1:-1]).sum())


def _leads(curves: MouthCurves, timeline: Timeline, lipmap: LipMap) -> tuple[list[float], int]:
    import numpy as np

    leads: list[float] = []
    late = 0
    phones = list(timeline)
    # Every morph at 1 ms steps, once: each vowel looks at its own stretch.
    origin = float(timeline.start) - _BEFORE
    times = origin + np.arange(int(np.ceil((float(timeline.end) - origin) / _STEP)) + 1) * _STEP
    samples = curves.at(times - curves.start)
    for index, phone in enumerate(phones):
        if phone.name not in VOWELS or index == 0 or phones[index - 1].name == phone.name:
            continue
        row = lipmap.weights(phone.name)
        main = int(np.argmax(row))
        if row[main] <= 0:
            continue
        onset = float(phone.start)
        first = round((onset - _BEFORE - origin) / _STEP)
        at_onset = round((onset - origin) / _STEP) - first
        values = samples[first:round((float(phone.end) - origin) / _STEP), main]
        low_at = int(np.argmin(values[: at_onset + 1]))
        low, high = float(values[low_at]), float(values[low_at:].max())
        if high - low < 0.1:
            continue
        halfway = low_at + int(np.argmax(values[low_at:] >= (low + high) / 2))
        leads.append(onset - float(times[first + halfway]))
        if values[at_onset] < low + 0.1 * (high - low):
            late += 1
    return leads, late
