"""Forced alignment on the transition model's output: where each of a known sequence's changes happens.

This is the search pydomino's aligner runs in its C++ extension, done here on the model's
output (``lipsync.alignment.model``) so that lipsync chooses how many threads the model
uses (pydomino's session takes every core and offers no setting: two batch workers on a
two-core machine ran no faster than one). It gives pydomino's frames exactly: the same
float32 sums in the same order (``tests/test_align_forced.py`` compares the two).

The sequence's changes are tokens (``from to`` pairs of the transition list). The search is
CTC-like: each token takes one frame, the frames between tokens are blank, and consecutive
tokens are at least ``min_frames`` apart. Per token, the best score of a path that has
taken it on frame ``t`` either took the token before exactly ``min_frames`` frames earlier
(blank in between) or stayed blank since a frame before that; the choice is kept for the
way back. The loop runs over frames, every token at once.
"""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING

from lipsync.errors import ValueRefused

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from lipsync.alignment.model import Transitions

__all__ = ["devoiced", "search", "token_ids"]

#: A vowel i or u between two of these (or before a pause) is devoiced, as pydomino's rule has it.
_VOICELESS = frozenset({"k", "ky", "ch", "ts", "sh", "s", "hy", "h", "f", "py", "p", "t"})


def devoiced(phonemes: list[str]) -> list[str]:
    """``phonemes`` with pydomino's devoicing: ``i``/``u`` after a voiceless consonant and
    before another or a pause become ``I``/``U`` (its model has tokens for both)."""
    out = list(phonemes)
    for k in range(1, len(out) - 1):
        if out[k] in ("i", "u") and out[k - 1] in _VOICELESS and (out[k + 1] in _VOICELESS
                                                                   or out[k + 1] == "pau"):
            out[k] = out[k].upper()
    return out


def token_ids(transitions: Transitions, phonemes: list[str]) -> list[int]:
    """The class of each change in ``phonemes`` (devoiced first); refuses a change the model lacks."""
    order = transitions.order
    named = devoiced(phonemes)
    ids = []
    for before, after in pairwise(named):
        index = order.get((before, after))
        if index is None:
            raise ValueRefused(f"the aligner refused the phonemes: no change from {before} to {after} "
                               "is known to its model")
        ids.append(index)
    return ids


def search(
    transitions: npt.NDArray[np.float32], blank: npt.NDArray[np.float32], ids: list[int], min_frames: int
) -> list[int]:
    """The frame of each token in ``ids``, given the model's ``[frames, classes]`` and ``[frames]``
    log-probabilities. The caller checks that ``min_frames * (len(ids) - 1) + 1`` frames exist."""
    import numpy as np

    frames, count = len(blank), len(ids)
    never = np.float32(-np.inf)
    blank = np.asarray(blank, dtype=np.float32)
    heard = np.ascontiguousarray(transitions[:, ids], dtype=np.float32)
    took = np.full((frames, count), never, dtype=np.float32)  # best score, token k taken on frame t
    waiting = np.full((frames, count), never, dtype=np.float32)  # ... blank since token k - 1
    waiting[:, 0] = np.cumsum(blank, dtype=np.float32)
    took[0, 0] = heard[0, 0]
    took[1:, 0] = waiting[:-1, 0] + heard[1:, 0]
    chose = np.zeros((frames, count), dtype=bool)  # token k's path took token k - 1 n frames before
    for t in range(min_frames, frames):
        # Tokens 1 .. reach - 1 can have been taken by frame t (each needs min_frames more).
        reach = min(count, t // min_frames + 1)
        if reach < 2:
            continue
        jumped = took[t - min_frames, : reach - 1]
        for s in range(t - min_frames + 1, t):
            jumped = jumped + blank[s]
        stayed = waiting[t - 2, 1:reach] + blank[t - 1] if t >= 2 else np.full(reach - 1, never)
        chose[t - min_frames, : reach - 1] = jumped > stayed
        best = np.maximum(jumped, stayed)
        took[t, 1:reach] = best + heard[t, 1:reach]
        waiting[t - 1, 1:reach] = took[t, 1:reach] - heard[t, 1:reach]
    # The last token: the path ends blank or on it.
    last = took[:, count - 1]
    after = np.full(frames, never, dtype=np.float32)
    for t in range(min_frames, frames):
        after[t] = np.float32(max(last[t - 1], after[t - 1]) + blank[t])
        chose[t - 1, count - 1] = last[t - 1] > after[t - 1]
    chose[frames - 1, count - 1] = last[frames - 1] > after[frames - 1]
    return _back(chose, min_frames)


def _back(chose: npt.NDArray[np.bool_], min_frames: int) -> list[int]:
    frames, count = chose.shape
    at = [0] * count
    t, k = frames - 1, count - 1
    while t >= 0 and k >= 0:
        if chose[t, k]:
            at[k] = t
            t -= min_frames
            k -= 1
        else:
            t -= 1
    return at
