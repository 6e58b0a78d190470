"""Phonemes from the transition model alone: a Viterbi search over phoneme states.

The model says, per 10 ms frame, how likely each of its 557 phoneme-to-phoneme transitions
is to happen there, and how likely none is (blank). Its list has no consonant -> consonant
pair and no consonant -> pause, so the list is itself a grammar of Japanese sound sequences.
The search keeps, per phoneme and per age (frames since it began, capped), the best path so
far: each frame a path stays in its phoneme (scored by blank) or takes a transition the list
allows out of it (scored by that transition, less ``transition_penalty``). A path that
entered its phoneme on the frame before may hear the same transition again instead of blank
(the model's spikes often last two frames). Frames the loudness gate marks quiet cost every
phoneme but the pause ``gate_penalty`` (a soft gate: faded ends of words are quiet too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lipsync.alignment.model import Transitions

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["Run", "Search", "SearchSettings"]

#: A phoneme and the frame it begins on.
Run = tuple[int, int]
_NEVER = -1e30


@dataclass(frozen=True)
class SearchSettings:
    """How the search weighs its choices (chosen on the tuning set: see bench/recognition.py)."""

    min_frames: int = 2  # a phoneme lasts at least this many frames...
    min_pause_frames: int = 5  # ...and a pause this many (shorter silences are closures)
    transition_penalty: float = 1.0  # per transition: above 0, fewer and longer phonemes
    gate_penalty: float = 1.0  # per quiet frame, for every phoneme but the pause
    start_penalty: float = 5.0  # for starting in any phoneme but the pause


class Search:
    """The search over one transition list; ``decode`` runs it over frames of model output."""

    def __init__(self, transitions: Transitions, settings: SearchSettings | None = None) -> None:
        import numpy as np

        self.settings = s = settings or SearchSettings()
        self.phonemes = transitions.phonemes
        order = {name: i for i, name in enumerate(self.phonemes)}
        self.src = np.array([order[a] for a, _ in transitions.pairs], dtype=np.intp)
        self.dst = np.array([order[b] for _, b in transitions.pairs], dtype=np.intp)
        self.pau = order["pau"]
        count = len(self.phonemes)
        min_age = np.full(count, s.min_frames)
        min_age[self.pau] = s.min_pause_frames
        self.ages = max(2, int(min_age.max()))
        # ages 1..ages (index 0..ages-1; the last holds every older path): who may leave when.
        self._leave_mask = np.where(np.arange(1, self.ages + 1)[None, :] >= min_age[:, None], 0.0, _NEVER)
        self._into = [np.flatnonzero(self.dst == q) for q in range(count)]
        self._speech = np.ones(count)
        self._speech[self.pau] = 0.0

    def start(
        self, phoneme: int | None = None, age: int | None = None, switch: float | None = None,
    ) -> npt.NDArray[np.float64]:
        """Scores before the first frame: in ``phoneme`` at ``age`` (a stream goes on from what
        it committed), or by default in a pause, any other phoneme paying ``start_penalty``.

        With ``switch``, a stream may also go on in any other phoneme, newly begun, for that
        penalty: a phoneme committed wrongly (heard with too little audio after it) is left at
        the next transition the model hears, not held until one out of it happens to fit."""
        import numpy as np

        scores = np.full((len(self.phonemes), self.ages), _NEVER)
        if phoneme is None:
            scores[:, -1] = -self.settings.start_penalty
            scores[self.pau, -1] = 0.0
        else:
            if switch is not None:
                scores[:, 0] = -switch
            scores[phoneme, :] = _NEVER
            scores[phoneme, min(age or self.ages, self.ages) - 1] = 0.0
        return scores

    def decode(
        self, trans: npt.NDArray[np.float32], blank: npt.NDArray[np.float32],
        quiet: npt.NDArray[np.bool_] | None = None, scores: npt.NDArray[np.float64] | None = None,
        pause_cost: npt.NDArray[np.float64] | None = None,
    ) -> list[Run]:
        """The best path as ``(phoneme, first frame)`` runs, the first beginning at frame 0;
        ``pause_cost``, per frame, is what the pause pays for it."""
        import numpy as np

        frames, count = len(blank), len(self.phonemes)
        if frames == 0:
            return []
        score = self.start() if scores is None else scores.copy()
        penalty = np.zeros(frames) if quiet is None else np.where(quiet, self.settings.gate_penalty, 0.0)
        spikes = np.stack([trans[:, idx].max(axis=1) for idx in self._into], axis=1)
        moves = trans.astype(np.float64) - self.settings.transition_penalty
        came_from = np.zeros((frames, count), dtype=np.int16)  # the phoneme left to enter q at t
        came_age = np.zeros((frames, count), dtype=np.int8)  # its age index then
        stayed_old = np.zeros((frames, count), dtype=bool)  # oldest age came from oldest age
        every = np.arange(count)
        src, dst = self.src, self.dst
        candidates = np.full((count, count), _NEVER)
        for t in range(frames):
            leavable = score + self._leave_mask
            best_age = leavable.argmax(axis=1)
            best = leavable[every, best_age]
            candidates[src, dst] = best[src] + moves[t]
            origin = candidates.argmax(axis=0)
            entered = candidates[origin, every]
            stay = score + float(blank[t])
            stay[:, 0] = score[:, 0] + np.maximum(float(blank[t]), spikes[t])
            new = np.empty_like(score)
            new[:, 0] = entered
            new[:, 1:] = stay[:, :-1]
            old = stay[:, -1] >= stay[:, -2]
            new[:, -1] = np.where(old, stay[:, -1], stay[:, -2])
            if penalty[t]:
                new -= (penalty[t] * self._speech)[:, None]
            if pause_cost is not None:
                new[self.pau] -= pause_cost[t]
            came_from[t] = origin
            came_age[t] = best_age[origin]
            stayed_old[t] = old
            score = new
        self.final = score
        return self._back(score, came_from, came_age, stayed_old)

    def _back(
        self, score: npt.NDArray[np.float64], came_from: npt.NDArray[np.int16],
        came_age: npt.NDArray[np.int8], stayed_old: npt.NDArray[np.bool_],
    ) -> list[Run]:
        phoneme, age = divmod(int(score.argmax()), self.ages)
        runs: list[Run] = []
        t = len(came_from) - 1
        while t >= 0:
            if age == 0:  # entered ``phoneme`` on frame t
                runs.append((phoneme, t))
                phoneme, age = int(came_from[t, phoneme]), int(came_age[t, phoneme])
            elif not (age == self.ages - 1 and stayed_old[t, phoneme]):
                age -= 1
            t -= 1
        if not runs or runs[-1][1] != 0:
            runs.append((phoneme, 0))  # the path was in this phoneme before frame 0
        runs.reverse()
        return runs
