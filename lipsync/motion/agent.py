"""What MMDAgent-EX is sent, so that its own ``createMotion`` shuts the lips on every bilabial.

The agent keys each phoneme on the 30 fps frame its carried rounding of the milliseconds
gives (``lipsync.curves``), draws the phoneme's row of its own lip.txt there and interpolates
in between; within one LIPSYNC_START its frame 0 is the START. lipsync cannot change that
algorithm, only the sequence it is given. So within each START:

1. a bilabial (and N or cl right before one) whose row in the agent's map is not closed
   (the stock lip.txt's ``b`` is あ 0.1) is sent under the name of a phoneme whose row is
   (``m`` there; ``lipsync.motion.roles``);
2. a bilabial's key goes on the frame inside its sound nearest to where the agent's rounding
   would put it (that rounding may put it a frame early, while the vowel before still
   sounds), or, when no frame falls inside, on the frame nearest its middle;
3. every other key stays where the agent's rounding puts it (the agent starts each
   transition two frames before its key, so a shape never lags its sound);
4. a key a bilabial's moves onto (a short sound before it that does not close) is merged
   into the one before it; a key after it that would no longer come later is pushed a frame
   on, as the agent itself pushes a key that rounds to no frames.

The milliseconds are chosen, phoneme by phoneme, so that the agent's float32 carry lands on
exactly those frames, as close to the true times as that allows (so a timeline without a
bilabial is sent exactly as it is); the START's total length is the true one.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from fractions import Fraction
from typing import TYPE_CHECKING

from lipsync.curves import motion_keys
from lipsync.maps.lipmap import LipMap
from lipsync.motion.roles import BILABIALS, map_roles
from lipsync.timeline import MESSAGE_LIMIT, Chunk, Timeline

if TYPE_CHECKING:
    import numpy as np

    from lipsync.motion.settings import Motion

__all__ = ["agent_chunks", "agent_pairs", "agent_sequence", "sequence_for"]


def agent_pairs(timeline: Timeline, lipmap: LipMap) -> list[tuple[str, int]]:
    """The ``(name, ms)`` pairs to send for ``timeline`` as one START (names in ``lipmap``).

    A timeline without bilabials gives ``timeline``'s own sequence.
    """
    roles = map_roles(lipmap)
    names = timeline.names
    origin = timeline.start
    frames = _agent_frames(timeline)
    keys: list[tuple[str, int, bool, Fraction]] = []  # name sent, frame, closes, true start
    for index, phone in enumerate(timeline):
        after = names[index + 1] if index + 1 < len(names) else None
        bilabial = phone.name in BILABIALS
        closing = bilabial or (phone.name in ("N", "cl") and after in BILABIALS)
        name = phone.name
        if closing and roles.closed_name is not None and not roles.is_closed(lipmap.weights(name)):
            name = roles.closed_name
        frame = frames[index]
        if bilabial:
            start, end = (phone.start - origin) * 30, (phone.end - origin) * 30
            first, last = math.ceil(start), math.ceil(end) - 1
            if first <= last:
                frame = min(max(frame, first), last)
            else:
                frame = math.floor((start + end) / 2 + Fraction(1, 2))
        _place(keys, (name, frame, closing, phone.start - origin), bilabial)
    return _milliseconds(keys, timeline.duration)


def _agent_frames(timeline: Timeline) -> list[int]:
    """The frame the agent keys each phoneme on when sent ``timeline``'s own sequence."""
    keys = motion_keys(list(zip(timeline.names, timeline.milliseconds(), strict=True)), "sil")[:-1]
    return [key.frame for key in keys if key.rate == 1.0]


def _place(keys: list[tuple[str, int, bool, Fraction]], key: tuple[str, int, bool, Fraction],
           bilabial: bool) -> None:
    """Add a key after those before it: a bilabial takes its frame from a shorter key before it
    that does not close (rule 4, merged); any other key that would not come later is pushed
    a frame on, as the agent itself does."""
    name, frame, closing, start = key
    if not keys:
        keys.append((name, 0, closing, start))
        return
    if bilabial:
        while len(keys) > 1 and keys[-1][1] >= frame and not keys[-1][2] and keys[-2][1] < frame:
            keys.pop()
    keys.append((name, max(frame, keys[-1][1] + 1), closing, start))


def _milliseconds(keys: list[tuple[str, int, bool, Fraction]], total: Fraction) -> list[tuple[str, int]]:
    """Whole milliseconds that make the agent key each of ``keys`` on its frame."""
    import numpy as np

    carry = np.float32(0.0)
    pairs: list[tuple[str, int]] = []
    sent = 0
    for (name, frame, _, _), (_, following, _, true_next) in itertools.pairwise(keys):
        frames = following - frame
        wanted = math.floor(true_next * 1000 + Fraction(1, 2)) - sent
        # The agent's frames grow with the ms: take the ms nearest the true time that gives ``frames``.
        ms = max(wanted, 1)
        made = _frames(ms, carry)[0]
        if made < frames:
            ms = max(ms + 1, math.ceil((frames - 0.5 - float(carry)) / 0.03) - 1)
            while _frames(ms, carry)[0] < frames:
                ms += 1
        elif made > frames:
            ms = max(1, min(ms - 1, math.floor((frames + 0.5 - float(carry)) / 0.03) + 1))
            while _frames(ms, carry)[0] > frames:
                ms -= 1
        carry = _frames(ms, carry)[1]
        pairs.append((name, ms))
        sent += ms
    last = math.floor(total * 1000 + Fraction(1, 2)) - sent
    pairs.append((keys[-1][0], max(last, 1)))
    return pairs


def _frames(ms: int, carry: np.float32) -> tuple[int, np.float32]:
    """The frames the agent makes of ``ms`` after ``carry``, and the carry it keeps (float32)."""
    import numpy as np

    f32 = np.float32
    f = f32(f32(0.03) * f32(ms) + carry)
    frames = max(int(f + f32(0.5)), 1)
    return frames, f32(f - f32(frames))


def agent_sequence(timeline: Timeline, lipmap: LipMap) -> str:
    """``agent_pairs`` as the sequence a LIPSYNC_START carries (``sil,187,k,75,...``)."""
    return ",".join(f"{name},{ms}" for name, ms in agent_pairs(timeline, lipmap))


def sequence_for(motion: Motion, lipmap: LipMap) -> Callable[[Timeline], str]:
    """What the agent is sent for a timeline as one START (the rest of a chunk after a
    reconnection): shaped to close on m/b/p, unless ``motion`` turns co-articulation off."""
    if not motion.coarticulation:
        return Timeline.to_sequence
    return functools.partial(agent_sequence, lipmap=lipmap)


def agent_chunks(
    timeline: Timeline, lipmap: LipMap, *, alias: str | None = None, max_bytes: int = MESSAGE_LIMIT,
) -> list[Chunk]:
    """``timeline.chunks()`` whose sequences are ``agent_sequence`` of each chunk's timeline.

    Each chunk keeps its true timeline (when its START is due); only what it carries changes.
    A chunk whose new line would pass ``max_bytes`` is cut again, smaller.
    """
    result: list[Chunk] = []
    head = len(f"LIPSYNC_START|{alias if alias is not None else 'x' * 64}|\n".encode())
    for chunk in timeline.chunks(max_bytes, alias=alias):
        sequence = agent_sequence(chunk.timeline, lipmap)
        if head + len(sequence.encode()) < max_bytes or len(chunk.timeline) < 2:
            result.append(Chunk(chunk.timeline, sequence))
        else:
            result += agent_chunks(chunk.timeline, lipmap, alias=alias, max_bytes=max_bytes * 9 // 10)
    return result
