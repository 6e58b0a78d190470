"""Where speech meets silence: boundaries the aligner cannot hear, placed as Open JTalk would.

pydomino finds where sound changes. Some of Open JTalk's boundaries (what lip maps are
made for) lie where nothing changes: a stop consonant's silent closure, a vowel's fading
tail before a pause, a devoiced vowel that is only its consonant's frication going on.
These functions move those boundaries, by the audio's level (10 ms frames) and by Open
JTalk's expected durations at the tempo the speech was spoken at. Measured on the four mei
voices at speeds 0.8 to 1.25 (bench/test_bench_align.py): they take the share of
boundaries within 33.3 ms of the truth from 86 % to 97 %.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lipsync.alignment.plan import CONSONANTS, STOPS, VOICELESS_STOPS, VOWELS

if TYPE_CHECKING:
    from lipsync.alignment.plan import Plan

__all__ = ["CLOSURE_FRAMES", "edges_by_prior", "split_devoiced"]

#: Up to this many more silent frames before a stop may be its closure, not a pause.
CLOSURE_FRAMES = 8
#: Frames this far down before a voiceless stop (after a vowel) are its closure.
_CLOSURE_DB = 40.0
#: The same for a voiced stop, whose closure carries a quiet voice bar.
_VOICED_CLOSURE_DB = 25.0
#: pydomino marks the change from a vowel to a voiceless stop about 20 ms (2 frames) before
#: Open JTalk's boundary (-23 ms on average over the four mei voices): moved by that much.
_ONSET_FRAMES = 2
#: A phoneme before a pause goes on while the sound is louder than this (dB below the loud
#: frames), for at most ``_TAIL_FRAMES`` frames. Open JTalk's labels end a phrase's last
#: vowel where its level is 55-60 dB down (median, all five mei voices): 35 to 45 dB ended
#: them 30-60 ms early. (In a noisy room the level never falls that far: the rules hear the
#: room's frames as silence, ``stretch.hearing``.) 300 ms rather than 200 ms gained 3 % of
#: the pause edges on bench/alignsets.py's tuning set but held nine phrase ends 105-180 ms
#: too long on bench/test_bench_align.py's.
_FADED_DB = 50.0
_TAIL_FRAMES = 20
#: A phoneme before a pause lasts at least this much longer than Open JTalk expects at the
#: utterance's tempo: the other mei styles lengthen a phrase's last mora more than
#: mei_normal, going on quietly past where the level falls (chosen on the bench's sentences,
#: where 1.2 to 1.4 all kept every boundary within 100 ms and 1.6 did not; checked on eight
#: sentences outside it, now in tests/test_align.py).
_FINAL_LENGTHENING = 1.3


def edges_by_prior(
    plan: Plan, tokens: list[str], members: list[list[int]], starts: list[int], frames: int,
    levels: list[float],
) -> list[int]:
    """Move boundaries that face silence to where Open JTalk's durations put them.

    Where speech meets silence the model sees only where the sound starts or stops: a stop
    consonant's closure and a vowel's fading tail are silent, and the aligner gives them
    to the pause. Open JTalk's labels (what lip maps are made for) count them as part of
    the phoneme. So a phoneme beside a pause is given at least its expected length, at
    the tempo the rest of the utterance was spoken at, taken from the pause's side.
    """
    edges = [0, *starts, frames]
    expected = [sum(plan.expected[i] for i in group) * 100 for group in members]
    inner = [
        k for k, token in enumerate(tokens)
        if token != "pau" and tokens[k - 1] != "pau" and tokens[k + 1] != "pau"
    ]
    spoken = sum(edges[k + 1] - edges[k] for k in inner)
    guessed = sum(expected[k] for k in inner)
    tempo = spoken / guessed if spoken and guessed else 1.0
    for k, token in enumerate(tokens):
        if token in STOPS and tokens[k - 1] in VOWELS | {"N"}:
            # The closure is quiet and belongs to the stop: start it where the sound stops.
            voiceless = token in VOICELESS_STOPS
            floor = -_CLOSURE_DB if voiceless else -_VOICED_CLOSURE_DB
            at = edges[k]
            while at - 1 > edges[k - 1] + 1 and levels[at - 1] < floor:
                at -= 1
            if voiceless or at < edges[k]:
                edges[k] = min(at + (_ONSET_FRAMES if voiceless else 0), edges[k + 1] - 1)
    for k, token in enumerate(tokens):
        if token == "pau":
            continue
        want = round(expected[k] * tempo)
        if tokens[k - 1] == "pau":
            begin = edges[k + 1] - want
            if edges[k] < begin:
                # Longer than expected: silence at its head is the pause's.
                while edges[k] < begin and levels[edges[k]] < -_FADED_DB:
                    edges[k] += 1
            else:
                edges[k] = max(edges[k - 1], begin)
        if tokens[k + 1] == "pau":
            # A fading tail is heard until the sound is all but gone.
            end = edges[k + 1]
            limit = min(edges[k + 2], end + _TAIL_FRAMES)
            while end < limit and levels[end] > -_FADED_DB:
                end += 1
            edges[k + 1] = min(edges[k + 2], max(end, edges[k] + round(want * _FINAL_LENGTHENING)))
    return edges[1:-1]


def split_devoiced(plan: Plan, tokens: list[str], members: list[list[int]], starts: list[int]) -> list[int]:
    """A consonant and the devoiced vowel after it, split as Open JTalk would.

    A devoiced vowel is the consonant's own frication going on (``s U`` of ``desU``): the
    model cannot hear where one ends, so the pair's span is shared by the expected lengths.
    """
    edges = [0, *starts]
    for k in range(1, len(tokens) - 2):
        if tokens[k] in CONSONANTS and all(plan.names[i] in ("I", "U") for i in members[k + 1]):
            first = sum(plan.expected[i] for i in members[k])
            second = sum(plan.expected[i] for i in members[k + 1])
            if first + second > 0:
                span = edges[k + 2] - edges[k]
                edges[k + 1] = edges[k] + round(span * first / (first + second))
    return edges[1:]
