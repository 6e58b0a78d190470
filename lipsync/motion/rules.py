"""lipsync's mouth motion: six rules on top of the map's rows, the same for every consumer.

Poses are worked out on a 30 fps grid on the audio's clock (frame ``k`` at ``k / 30`` s) and
are linear in between, so every file and every live frame shows the same motion:

1. **Targets.** Each phoneme asks for its map row, times the intensity and the morph's gain;
   a pause asks for the rest pose. A consonant the lips do not make (k, s, t, n, r, h, y, ...)
   also shows the next vowel's lips at ``ANTICIPATION`` of their weight (morph by morph, the
   larger of the two): in Japanese consonant-vowel syllables the lips are already on the
   vowel while the tongue makes the consonant (JALI's tongue-only visemes).
2. **Look-ahead.** A frame's pose is the targets averaged over ``WINDOW`` centred ``LEAD``
   after the frame: each shape is half formed ``LEAD`` before its sound, and a sound shorter
   than the window is blended with its neighbours instead of flashing up for one frame.
3. **Closure.** m, b, p (my, by, py), and N or cl right before one, shut the lips: every
   frame inside such a sound shows the closed pose (opening morphs 0, closing morphs as the
   bilabial's row: ``ん``, ``PP``, ``mouthPress`` ...). A bilabial no frame falls in closes
   the frame nearest its middle.
4. **Jaw.** The jaw opening (``lipsync.motion.roles``: ``a`` opens it fully) changes by at
   most ``JAW_STEP`` a frame. Where the rules ask for more, the opening is lowered: the mouth
   starts closing a frame earlier before a bilabial and opens over two frames after it; the
   lips' own morphs (closing, rounding into ``u``) are not held back.
5. **No one-frame shapes.** A morph that pops up for one frame (more than ``FLICKER`` above
   both neighbouring frames and more than twice the higher) is brought down to that bound;
   one that drops out for a frame likewise, except on a closure. (Rest morphs follow rule 6.)
6. **Rest.** A rest morph (``sil`` of the viseme maps, Rhubarb's ``X``) is what the other
   morphs leave, 1 minus their sum: 1 whenever the mouth rests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lipsync.curves import FPS, MouthCurves
from lipsync.errors import ValueRefused
from lipsync.maps.lipmap import LipMap
from lipsync.motion.roles import BILABIALS, LABIALS, Roles, map_roles
from lipsync.motion.settings import Motion
from lipsync.timeline import PAUSES, Timeline

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["ANTICIPATION", "FLICKER", "JAW_STEP", "LEAD", "WINDOW", "motion_curves"]

#: Seconds a shape is half formed before its sound.
LEAD = 0.025
#: Seconds of speech each frame's pose averages.
WINDOW = 0.05
#: Seconds before a closing sound's end from which its frames may already open again.
RELEASE = 0.025
#: The share of the next vowel's lips a tongue consonant shows.
ANTICIPATION = 0.3
#: The most the jaw opening changes in one frame (1 = a full ``a``).
JAW_STEP = 0.5
#: How far a morph may stand above (or below) both neighbouring frames, at least.
FLICKER = 0.1

_NUCLEI = frozenset({"a", "i", "u", "e", "o", "A", "I", "U", "E", "O"})
_OWN_SHAPE = LABIALS | _NUCLEI | {"N", "cl"} | PAUSES


def motion_curves(timeline: Timeline, lipmap: LipMap, motion: Motion | None = None) -> MouthCurves:
    """The mouth of ``timeline`` by the rules above (names must be in ``lipmap``)."""
    import numpy as np

    motion = motion or Motion()
    if not len(timeline):
        raise ValueRefused("no phonemes to draw")
    roles = map_roles(lipmap)
    names = timeline.names
    start = float(timeline.start)
    bounds = np.empty(len(names) + 1)
    bounds[0] = start
    bounds[1:] = start + np.cumsum([float(d) for d in timeline.durations])
    targets, closures = _targets(names, lipmap, roles, motion)
    rest = np.array(roles.rest)
    first = max(0, int(np.floor(bounds[0] * FPS)) - 2)
    numbers = np.arange(first, int(np.ceil(bounds[-1] * FPS - 1e-9)) + 2)
    times = numbers / FPS
    poses = _look_ahead(times, bounds, targets, rest)
    shut = _close(poses, times, bounds, closures)
    opening = ~np.array(roles.closing)
    resting = np.array(roles.rest_morphs)
    _no_flicker(poses, shut, resting)
    jaw = np.array(roles.jaw)
    _limit_jaw(poses, shut, opening, jaw)
    _no_flicker(poses, shut, resting)
    if resting.any():
        left = np.clip(1.0 - poses[:, ~resting].sum(axis=1), 0.0, 1.0)
        poses[:, resting] = rest[resting] * left[:, None]
    # Keys from the timeline's first frame to its last (a frame earlier where a shape leads).
    moving = np.flatnonzero(np.abs(poses - rest).max(axis=1) > 1e-12)
    low = round(start * FPS) - first
    high = int(np.ceil(bounds[-1] * FPS - 1e-9)) - first
    if len(moving):
        low, high = min(low, int(moving[0]) - 1), max(high, int(moving[-1]) + 1)
    keep = slice(max(low, 0), min(high, len(numbers) - 1) + 1)
    numbers, poses = numbers[keep], poses[keep]
    return MouthCurves(numbers - start * FPS, poses, lipmap.morphs, timeline.start, numbers=numbers,
                       rest=roles.rest, simplify=True)


def _targets(
    names: tuple[str, ...], lipmap: LipMap, roles: Roles, motion: Motion,
) -> tuple[npt.NDArray[np.float64], dict[int, npt.NDArray[np.float64]]]:
    """Each phoneme's target pose (rule 1), and the closed pose of each that closes (rule 3)."""
    import numpy as np

    scale = np.array(motion.scale(lipmap.morphs))
    scale[np.array(roles.rest_morphs)] = 1.0
    top = max(1.0, *(max(lipmap.weights(p)) for p in lipmap.phonemes))
    unique = {name: i for i, name in enumerate(dict.fromkeys(names))}
    rows = np.array([lipmap.weights(name) for name in unique], dtype=np.float64).reshape(len(unique), -1)
    rows = np.clip(rows * scale, 0.0, top)
    index = np.fromiter((unique[n] for n in names), dtype=np.intp, count=len(names))
    targets = rows[index]
    rest = np.array(roles.rest)
    closing = np.array(roles.closing)
    closures: dict[int, npt.NDArray[np.float64]] = {}
    count = len(names)
    for i, name in enumerate(names):
        after = names[i + 1] if i + 1 < count else None
        if name in PAUSES:
            targets[i] = rest
        elif name in BILABIALS:
            closures[i] = np.where(closing, targets[i], 0.0)
        elif name in ("N", "cl") and after in BILABIALS:
            closures[i] = np.where(closing, rows[unique[after]], 0.0)
        elif name not in _OWN_SHAPE and after in _NUCLEI:
            targets[i] = np.maximum(targets[i], ANTICIPATION * rows[unique[after]])
    for i, pose in closures.items():
        targets[i] = pose
    return targets, closures


def _look_ahead(
    times: npt.NDArray[np.float64], bounds: npt.NDArray[np.float64], targets: npt.NDArray[np.float64],
    rest: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Rule 2: the targets averaged over ``WINDOW`` around ``LEAD`` after each time."""
    import numpy as np

    spans = np.diff(bounds)[:, None]
    area = np.zeros((len(bounds), targets.shape[1]))
    area[1:] = np.cumsum((targets - rest) * spans, axis=0)
    late = times + LEAD + WINDOW / 2
    early = times + LEAD - WINDOW / 2
    poses = np.empty((len(times), targets.shape[1]))
    for j in range(targets.shape[1]):
        gained = np.interp(late, bounds, area[:, j]) - np.interp(early, bounds, area[:, j])
        poses[:, j] = rest[j] + gained / WINDOW
    return poses


def _close(
    poses: npt.NDArray[np.float64], times: npt.NDArray[np.float64], bounds: npt.NDArray[np.float64],
    closures: dict[int, npt.NDArray[np.float64]],
) -> npt.NDArray[np.bool_]:
    """Rule 3: the closed pose on every frame inside a closing sound; which frames are shut."""
    import numpy as np

    shut = np.zeros(len(times), dtype=bool)
    for i, pose in closures.items():
        first, last = np.searchsorted(times, [bounds[i] - 1e-9, bounds[i + 1] - 1e-9])
        if last - first > 1 and times[last - 1] > bounds[i + 1] - RELEASE:
            last -= 1  # the lips part as the sound ends: one closed frame inside is enough
        if first == last:
            middle = (bounds[i] + bounds[i + 1]) / 2
            first = min(max(int(np.argmin(np.abs(times - middle))), 0), len(times) - 1)
            last = first + 1
        poses[first:last] = pose
        shut[first:last] = True
    return shut


def _limit_jaw(
    poses: npt.NDArray[np.float64], shut: npt.NDArray[np.bool_], opening: npt.NDArray[np.bool_],
    jaw: npt.NDArray[np.float64],
) -> None:
    """Rule 4: lower the opening wherever it would change by more than ``JAW_STEP`` a frame."""
    import numpy as np

    share = np.where(opening, np.clip(jaw, 0.0, None), 0.0)
    if not share.any():
        return
    wide = np.clip(poses @ share, 0.0, None)
    steps = JAW_STEP * np.arange(len(wide))
    forward = np.minimum.accumulate(wide - steps) + steps
    backward = np.minimum.accumulate((wide + steps)[::-1])[::-1] - steps
    allowed = np.minimum(wide, np.minimum(forward, backward))
    factor = np.divide(allowed, wide, out=np.ones_like(wide), where=wide > 1e-9)
    factor[shut] = 1.0
    poses[:, opening] *= factor[:, None]


def _no_flicker(
    poses: npt.NDArray[np.float64], shut: npt.NDArray[np.bool_], resting: npt.NDArray[np.bool_],
) -> None:
    """Rule 5: no morph pops up (or drops out) for one frame.

    A morph pops up when it is more than ``FLICKER`` above both neighbouring frames and more
    than twice the higher of them; it is brought down to that bound. Dropping out is the
    mirror image (below both by more than ``FLICKER``, and under half the lower).
    """
    import numpy as np

    if len(poses) < 3:
        return
    before, here, after = poses[:-2], poses[1:-1], poses[2:]
    higher = np.maximum(before, after)
    lower = np.minimum(before, after)
    ceiling = np.maximum(higher + FLICKER, 2 * higher)
    floor = np.minimum(lower - FLICKER, lower / 2)
    free = ~shut[1:-1, None] & ~resting[None, :]
    poses[1:-1] = np.where(free & (here > ceiling), ceiling, np.where(free & (here < floor), floor, here))
