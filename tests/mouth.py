"""How right a mouth is: a recognised timeline scored against the true one, per 10 ms frame.

Frame ``t`` is ``[t, t+1)`` x 10 ms, read at its middle, in 7 mouth classes: silence (sil,
pau), closed (m my b by p py, and N and cl: lip maps draw the moraic nasal and a geminate's
held stop closed or nearly), a i u e o (devoiced A I U E O as their vowel); any other
consonant takes the class of the vowel after it (the jaw is on its way there). Open/closed:
a vowel class or not. Pause edges: the truth's speech/silence boundaries with one of the same
direction in the result within 33.3 ms. Timing: each true change of mouth class against the
nearest found change of the same kind (open/closed on both sides) within 100 ms, signed.
Used by tests/test_recognize.py and bench/test_bench_recognize.py alike.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from lipsync.timeline import Timeline

SILENCE, CLOSED = 0, 1
_VOWELS = {"a": 2, "i": 3, "u": 4, "e": 5, "o": 6}
_CLOSED = frozenset("m my b by p py N cl".split())
EDGE_TOLERANCE = 1 / 30


def mouth_classes(names: Sequence[str]) -> list[int]:
    """The mouth class of each phoneme of a sequence (other consonants: the next vowel's)."""
    own: list[int | None] = []
    for name in names:
        if name in ("sil", "pau"):
            own.append(SILENCE)
        elif name in _CLOSED:
            own.append(CLOSED)
        else:
            own.append(_VOWELS.get(name.lower()))
    out: list[int] = []
    for k, c in enumerate(own):
        if c is None:
            after = next((x for x in own[k + 1 :] if x is not None), None)
            c = after if after is not None and after >= 2 else (out[-1] if out else SILENCE)
        out.append(c)
    return out


def frames_of(timeline: Timeline, frames: int) -> npt.NDArray[np.int8]:
    """The mouth class of each 10 ms frame, read at its middle."""
    classes = np.array(mouth_classes(timeline.names), dtype=np.int8)
    ends = np.array([float(p.end) for p in timeline])
    middles = (np.arange(frames) + 0.5) / 100
    return classes[np.minimum(np.searchsorted(ends, middles, side="right"), len(classes) - 1)]


def pause_edges(timeline: Timeline) -> list[tuple[float, bool]]:
    """``(time, True for silence -> speech)`` at each speech/silence boundary."""
    out = []
    for a, b in itertools.pairwise(timeline):
        quiet_a, quiet_b = a.name in ("sil", "pau"), b.name in ("sil", "pau")
        if quiet_a != quiet_b:
            out.append((float(a.end), quiet_a))
    return out


def boundaries(timeline: Timeline) -> list[tuple[float, int, int]]:
    """``(time, class before, class after)`` wherever the mouth class changes."""
    classes = mouth_classes(timeline.names)
    return [(float(p.end), classes[k], classes[k + 1]) for k, p in enumerate(list(timeline)[:-1])
            if classes[k] != classes[k + 1]]


@dataclass
class Score:
    """Sums over utterances."""

    frames: int = 0
    right: int = 0
    open_right: int = 0
    edges: int = 0
    edges_hit: int = 0
    timing: list[float] = field(default_factory=list)

    def add(self, truth: Timeline, found: Timeline) -> None:
        count = int(float(truth.end) * 100)
        want, got = frames_of(truth, count), frames_of(found, count)
        self.frames += count
        self.right += int((want == got).sum())
        self.open_right += int(((want >= 2) == (got >= 2)).sum())
        found_edges = pause_edges(found)
        for at, onset in pause_edges(truth):
            self.edges += 1
            near = [abs(f - at) for f, o in found_edges if o == onset]
            self.edges_hit += bool(near) and min(near) <= EDGE_TOLERANCE + 1e-9
        mine = boundaries(found)
        for at, before, after in boundaries(truth):
            near = [f - at for f, b, a in mine if (b >= 2) == (before >= 2) and (a >= 2) == (after >= 2)
                    and abs(f - at) <= 0.1]
            if near:
                self.timing.append(min(near, key=abs))

    @property
    def frame_rate(self) -> float:
        return 100 * self.right / max(1, self.frames)

    @property
    def open_rate(self) -> float:
        return 100 * self.open_right / max(1, self.frames)

    @property
    def edge_rate(self) -> float:
        return 100 * self.edges_hit / max(1, self.edges)

    @property
    def median_timing(self) -> float:
        return float(np.median(self.timing)) if self.timing else float("nan")

    def line(self) -> str:
        return (f"frames {self.frame_rate:5.1f} %  open/closed {self.open_rate:5.1f} %  "
                f"pause edges {self.edge_rate:5.1f} %  timing median {1000 * self.median_timing:+.1f} ms")
