"""Long recordings in stretches the model handles in bounded memory, each with its part of the text.

pydomino's model looks at its whole input at once (memory grows with the square of its
length), so speech longer than ``PIECE_SECONDS`` is cut, at the longest silence between 5 and
10 s from the last cut (or, in speech without one, at its quietest 100 ms there). Which part of
the text each stretch says is decided stretch by stretch: the places a pause may go near where
the speech's tempo so far puts the cut are tried, each by aligning the stretch to the text up
to there (the model's output for the stretch is reused by every try, so a try costs only its
search), and the one whose alignment fits the audio best is taken: no speech under its
pauses, no vowels on silence, no phoneme squeezed, and the length the tempo expects.

Stretches are made lazily, in order, so the aligner aligns each right after it was chosen
(the model's output for it still at hand). Memory is that of one stretch, whatever the length.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

from lipsync.alignment.engine import FRAME, PIECE_SECONDS, Clip, run
from lipsync.alignment.plan import MORA_ENDS, Plan, token_sequence

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from lipsync.alignment.activity import Activity
    from lipsync.alignment.stretch import Hearing

__all__ = ["pieces_of"]

#: Speech up to ``PIECE_SECONDS`` is aligned whole; longer speech in stretches of at most
#: ``_LONGEST`` frames (10 s: a take of any length then costs the memory of 10 s).
_WHOLE = round(PIECE_SECONDS * 100)
_LONGEST = 1000
_SHORTEST = _LONGEST // 2
#: Places tried on each side of where the tempo puts a cut.
_TRIES = 6
#: A phoneme's expected seconds where the plan has no prior (a phoneme string).
_UNTIMED = 0.08
#: Cost of one phoneme squeezed to a frame, in frames of misplaced speech.
_SQUEEZED_COST = 4
#: Cost of a frame of difference between a stretch's speech and the tempo's expectation.
_TEMPO_COST = 0.15
#: A phoneme longer or shorter than this many times its expected length is misplaced.
_FAR = 2.5
#: A silence at least this long (frames) is most likely where the text marks a pause: a
#: place with punctuation is worth this many frames of misfit there.
_LONG_SILENCE = 25
_MARKED_BONUS = 40.0
_VOWELS = frozenset("aiueoN")


def pieces_of(
    samples: npt.NDArray[np.float32], plan: Plan, activity: Activity, heard: Hearing,
    spoken: tuple[int, int],
) -> Iterator[tuple[tuple[int, int], tuple[int, int], Clip]]:
    """``((first, end) phonemes, (first, end) frames, the frames' audio)`` of each stretch, in
    order. A stretch's ``Clip`` is the one its cut was chosen on, already heard by the model."""
    first, end = spoken
    count = len(plan.names)
    if end - first <= _WHOLE:
        yield (0, count), spoken, _clip(samples, first, end)
        return
    expected = [e if e > 0 else _UNTIMED for e in plan.expected] if plan.expected else [_UNTIMED] * count
    speech = activity.is_speech()
    at_frame, at_phoneme = first, 0
    while True:
        cut, silence = _cut(activity, at_frame, end)
        if cut is None:
            yield (at_phoneme, count), (at_frame, end), _clip(samples, at_frame, end)
            return
        clip = _clip(samples, at_frame, cut)
        done = _best(clip, plan, expected, speech, heard, (at_phoneme, count), (at_frame, cut, end), silence)
        if done is None:  # no place fits before the rest: the rest in one (long) stretch
            yield (at_phoneme, count), (at_frame, end), _clip(samples, at_frame, end)
            return
        yield (at_phoneme, done), (at_frame, cut), clip
        at_frame, at_phoneme = cut, done


def _clip(samples: npt.NDArray[np.float32], first: int, end: int) -> Clip:
    return Clip(samples[first * FRAME : end * FRAME])


def _cut(activity: Activity, first: int, end: int) -> tuple[int | None, int]:
    """Where the stretch from ``first`` ends: a silence's middle, or the quietest 100 ms."""
    if end - first <= _LONGEST:
        return None, 0
    low, high = first + _SHORTEST, first + _LONGEST
    gaps = [(b - a, (a + b) // 2) for a, b in activity.silences()
            if low <= (a + b) // 2 <= high and a > first]
    if gaps:
        length, middle = max(gaps)
        return middle, length
    import numpy as np

    levels = np.asarray(activity.levels[low:high])
    window = np.convolve(levels, np.ones(10) / 10, mode="same")
    return low + int(np.argmin(window)), 0


def _best(
    audio: Clip, plan: Plan, expected: list[float], speech: list[bool], heard: Hearing,
    phonemes: tuple[int, int], frames: tuple[int, int, int], silence: int,
) -> int | None:
    """The phoneme the stretch ``frames[0]``-``frames[1]`` (``audio``) ends before: the best-fitting place.

    ``silence`` is the length (frames) of the silence the stretch ends in (0: in speech).
    """
    start, count = phonemes
    first, cut, end = frames
    here = sum(speech[first:cut])
    rest = sum(speech[first:end])
    remaining = sum(expected[start:count])
    tempo = remaining / max(rest, 1)  # expected seconds per frame of speech
    aim = here * tempo
    places = [k for k in range(start + 1, count)
              if (plan.optional[k] if silence else plan.names[k - 1] in MORA_ENDS)]
    if not places:
        return None
    so_far = [0.0]
    for e in expected[start:count]:
        so_far.append(so_far[-1] + e)
    places.sort(key=lambda k: abs(so_far[k - start] - aim))
    frames_here = audio.frames
    costs: list[tuple[float, int]] = []
    for k in places[: 2 * _TRIES + 1]:
        part = plan.part(start, k)
        tokens, members = token_sequence(part, part.optional)
        if len(tokens) > frames_here:
            tokens, members = token_sequence(part, [False] * len(part.names))
            if 2 * len(tokens) > frames_here:
                continue
        if 2 * (count - k) > end - cut:  # the rest could not fit what is left
            continue
        starts = run(audio, tokens)
        lengths = [sum(expected[start + i] for i in group) / tempo for group in members]
        cost = _misfit(tokens, starts, heard, first, cut, lengths)
        cost += _TEMPO_COST * abs(so_far[k - start] - aim) / max(tempo, 1e-9)
        if silence >= _LONG_SILENCE and plan.is_marked(k):
            cost -= _MARKED_BONUS
        costs.append((cost, k))
    return min(costs)[1] if costs else None


def _misfit(
    tokens: list[str], starts: list[int], heard: Hearing, first: int, cut: int, expected: list[float]
) -> float:
    """Frames of misplaced speech: loud frames under pauses, quiet vowel frames, squeezed
    phonemes, and the frames by which a phoneme is far longer or shorter than ``expected``."""
    edges = [0, *starts, cut - first]
    cost = 0.0
    for k, token in enumerate(tokens):
        a, b = first + edges[k], min(first + edges[k + 1], cut)
        if token == "pau":
            cost += sum(heard.loud[a:b])
        else:
            if b - a <= 1:
                cost += _SQUEEZED_COST
            want = expected[k]
            cost += max(0.0, (b - a) - _FAR * want) + max(0.0, want / _FAR - (b - a))
            if token in _VOWELS:
                cost += sum(heard.quiet[a:b])
    return cost if math.isfinite(cost) else float("inf")
