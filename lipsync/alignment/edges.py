"""Where speech meets silence: boundaries the aligner cannot hear, placed as Open JTalk would.

pydomino finds where sound changes. Some of Open JTalk's boundaries (what lip maps are
made for) lie where nothing changes: a stop consonant's silent closure, a vowel's fading
tail before a pause, a devoiced vowel that is only its consonant's frication going on.
These functions move those boundaries, by the audio's level (10 ms frames) and by Open
JTalk's expected durations at the tempo the speech was spoken at. Measured on the four mei
voices at speeds 0.8 to 1.25 (bench/test_bench_align.py): they take the share of
boundaries within 33.3 ms of the truth from 86 % to 97 %. A phrase's last phoneme ends where
its level falls to the pause's own level (the recording's, not a fixed depth): on
bench/alignsets.py's tuning set that took the ends and starts at pauses within 33.3 ms from
79 % to 95 %. A phrase's first phoneme starts a little before its sound is heard, as Open
JTalk's labels start it (the widened tuning set, ``wide_tune_cases`` with ``tune_cases``:
pause edges 93.0 -> 94.2 %). In a noisy recording, where a phrase's last vowel's tail is under
the noise, it goes on half its expected length past the model's end.
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
#: An ``s`` or ``sh`` after a pause starts this many frames before the model hears it: its
#: hiss rises out of the pause's silence, under the floor for its first 50-70 ms (Open JTalk's
#: labels start it there; the model, where it is heard: 45-75 ms later on the tuning set,
#: where 5 to 8 frames all placed every such start within 33 ms). The breath of ``h``, ``hy``
#: and ``f`` rises the same way: with them, on ``alignsets.wide_tune_cases`` and the tuning
#: set, starts after a pause within 33 ms went from 95.9 % to 97.1 % (the ``h`` of はい,
#: ひとつ, 本当 had begun 45-70 ms late, where the model heard it); 5 to 7 frames as good.
_FRICATIVE_LEAD = 6
_FRICATIVES = frozenset({"s", "sh", "h", "hy", "f"})
#: Any other phoneme after a pause (a vowel, a nasal, r, w, y, z, a voiced stop) starts
#: between ``_LEAD_MOST`` and ``_LEAD_LEAST`` frames before its sound is heard: Open JTalk's
#: labels start it 20-70 ms before the level rises out of the pause (tuning sets: 3-5 frames
#: at the median, 2 to 7 for 90 % of them, for every such kind). Without the bounds, a
#: phrase's first vowel the model heard shorter than expected was started at its expected
#: length before its end: 45-80 ms into the silence (ええ、). Bounds 6-7 and 1-3 gave the
#: same; starts after a pause within 33 ms 97.1 -> 98.3 %. Voiceless stops keep their silent
#: closure's expected length, which may be longer.
_LEAD_MOST = 7
_LEAD_LEAST = 2
#: A phoneme before a pause goes on while the sound is louder than this (dB below the loud
#: frames): where a phoneme starts after a pause, frames quieter than this are the pause's.
_FADED_DB = 50.0
#: A phoneme before a pause ends where its level first falls to the pause's own, for two
#: frames running: to ``_STEP_DB`` above the median level of the pause's first
#: ``_PAUSE_FRAMES`` (the room's frames left out: a long pause's breath dies down further
#: on), searched from ``_STEP_BACK`` frames before the model's end to ``_STEP_AHEAD`` after
#: it. Open JTalk's labels end a phrase-final vowel about where its level reaches the
#: pause's, whatever that level is: 50-60 dB down in a quiet recording, the room's level in a
#: noisy one. A fixed 50 dB (the rule before) ended loud vowels on time but then had to
#: lengthen every final phoneme by ``_FINAL_LENGTHENING`` for the breathy voices, holding
#: mei_normal's phrase ends 40-85 ms open. (The first fall, not the best step: a pause's
#: breath can be as loud as the vowel's last frames. Tuning set: 2 to 3 dB above the median
#: kept the most pause edges, 4 dB two points fewer.)
_STEP_DB = 3.0
_PAUSE_FRAMES = 50
#: ... and a frame this far below the loud frames is quiet whatever the pause holds: a pause
#: that turns to digital silence is no reason to hold a vowel open through its faint breath.
_ENDED_DB = 52.0
_STEP_BACK = 10
_STEP_AHEAD = 30
#: ... or this many, after a phoneme loud to the model's end (not ``fading``, below): such a
#: vowel's fall takes 50-80 ms, and a pause's breath as loud as its last frames then held
#: it 100-120 ms past its end (tuning set: 15 to 22 frames kept the same share of edges).
_LOUD_AHEAD = 15
#: A phoneme whose last ``_FADING_FRAMES`` frames before the model's end are all more than
#: ``_FADING_DB`` below the loud frames was already fading there: a breathy ending (mei's
#: sad and angry styles) that goes on under the pause's own noise, where the level cannot
#: show it. Such a phoneme lasts at least ``_FINAL_LENGTHENING`` times what Open JTalk
#: expects at the utterance's tempo (those styles lengthen a phrase's last mora); one loud to
#: the end, at least what Open JTalk expects. (Chosen on bench/alignsets.py's tuning set:
#: 5 to 8 dB gave the same pause edges within a point on clean speech, 6 dB and less kept
#: more at 30 dB SNR, 3 dB and 12 dB lost two points; 1.2 to 1.4 all kept every boundary
#: within 100 ms in bench/test_bench_align.py, 1.6 did not.)
_FADING_DB = 6.0
_FADING_FRAMES = 5
_FINAL_LENGTHENING = 1.3
#: In a noisy recording the pause is the room's noise and a vowel's tail goes on under it: the
#: level leaps from speech (less than ``_HIDDEN_DB`` down) straight to the room's, and the
#: level step ended the vowel 40-140 ms early (30 dB SNR: 80 of the 239 ends before a pause
#: more than 33.3 ms off, all but 3 early). Open JTalk's labels end it about half an expected
#: phoneme after the model's end (the model's change to the pause comes 50-150 ms early, clean
#: or noisy), so such a phoneme lasts to at least ``_HIDDEN_INSIDE`` (before a ``pau``) or
#: ``_HIDDEN_LAST`` (before the stretch's last pause) of its expected length past the model's
#: end. Tuning sets: ends before a pause within 33.3 ms 66.5 -> 74.5 % at 30 dB SNR and
#: 60.9 -> 70.0 % at 20 dB, pause edges 81.0 -> 84.9 % and 75.3 -> 79.8 %; clean and
#: unpunctuated unchanged (their vowels fade out before the room). 0.4/0.3: 73.2 % at 30 dB;
#: 0.5 before every pause: 71.5 %; a leap from 30 dB down: 71.5 %, from 40 or 50 dB the same.
#: Only where the room is loud enough to hide a tail: no frame of the stretch but the room's is
#: ``_HIDDEN_DB`` under the loud ones. Where some are (a quiet room, digital silence), the
#: tail would have been heard, and a leap to the room is a cut: the voice stops there.
_HIDDEN_DB = 40.0
_HIDDEN_INSIDE = 0.5
_HIDDEN_LAST = 0.4
#: Levels at or below this are the room's (``stretch.hearing`` marks them -120 dB).
_ROOM_DB = -119.0


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
    masking = min((v for v in levels if v > _ROOM_DB), default=0.0) > -_HIDDEN_DB
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
            heard = edges[k]  # where the sound is, in the model's span
            while heard < edges[k + 1] - 1 and levels[heard] < -_FADED_DB:
                heard += 1
            begin = edges[k + 1] - want
            if edges[k] < begin:
                # Longer than expected: silence at its head is the pause's.
                while edges[k] < begin and levels[edges[k]] < -_FADED_DB:
                    edges[k] += 1
            else:
                edges[k] = max(edges[k - 1], begin)
            if token in _FRICATIVES:
                edges[k] = max(edges[k - 1] + 1, min(edges[k], heard - _FRICATIVE_LEAD))
            elif token not in VOICELESS_STOPS and levels[heard] >= -_FADED_DB:  # heard in its span
                lead = min(_LEAD_MOST, max(_LEAD_LEAST, heard - edges[k]))
                edges[k] = max(edges[k - 1] + 1, heard - lead)
        if tokens[k + 1] == "pau":
            inside = k + 2 < len(tokens)  # not the stretch's last pause
            edges[k + 1] = _end_before_pause(levels, edges[k], edges[k + 1], edges[k + 2], want,
                                             inside, masking)
    return edges[1:-1]


def _end_before_pause(
    levels: list[float], begin: int, end: int, after: int, want: int, inside: bool = False,
    masking: bool = False,
) -> int:
    """Where a phoneme from ``begin`` that the model ends at ``end`` (a pause up to ``after``,
    ``inside`` when another phoneme follows it in the stretch) really ends: where its level
    steps down to the pause's, or later for a breathy ending or one under the room's noise
    (``masking``: the room is loud enough to hide it)."""
    pause = sorted(v for v in levels[end : min(after, end + _PAUSE_FRAMES)] if v > _ROOM_DB)
    floor = pause[len(pause) // 2] if len(pause) >= 3 else _ROOM_DB
    threshold = max(floor + _STEP_DB, -_ENDED_DB)
    tail = levels[max(begin, end - _FADING_FRAMES) : end]
    fading = bool(tail) and max(tail) < -_FADING_DB
    ahead = _STEP_AHEAD if fading else _LOUD_AHEAD
    found = end  # the model's, where the level never reaches the pause's
    for at in range(max(begin + 1, end - _STEP_BACK), min(after - 2, end + ahead)):
        if levels[at] <= threshold and levels[at + 1] <= threshold:
            found = at + 1  # the frame that reaches the pause's level is still the phoneme's
            break
    least = begin + round(want * (_FINAL_LENGTHENING if fading else 1.0))
    ended = max(found, least)
    if masking and len(pause) < 3 and _leaps_to_the_room(levels, begin, ended):
        ended = max(ended, end + round(want * (_HIDDEN_INSIDE if inside else _HIDDEN_LAST)))
    return min(after, ended)


def _leaps_to_the_room(levels: list[float], begin: int, ended: int) -> bool:
    """Whether the sound before ``ended`` goes from speech straight to the room's level."""
    at = min(ended, len(levels)) - 1
    while at > begin and levels[at] <= _ROOM_DB:
        at -= 1
    return levels[at] > -_HIDDEN_DB


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
