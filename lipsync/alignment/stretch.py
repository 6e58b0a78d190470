"""One stretch of audio aligned to its part of the text, with pauses where the voice made them.

The aligner is asked with a pause at every place one may go (between accent phrases, between
sentences) and, where the audio has a silence the text gives no place for (a speaker pausing
inside an accent phrase), at the mora boundary nearest that silence. A pause is kept where
the audio is quiet for long enough (80 ms, more before a stop, whose closure is quiet too, or a
faint ``h``); the rest are dropped and the stretch aligned again (a ``Clip`` keeps the model's
output for the same audio, so each pass after the first costs only its search). Boundaries
facing silence are then placed as Open JTalk would (``lipsync.alignment.edges``).

"Quiet" is measured against the recording's own noise floor (``lipsync.alignment.activity``):
30 dB under the loud frames in a quiet room, or just above the floor of a noisy one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lipsync.alignment.edges import CLOSURE_FRAMES, edges_by_prior, split_devoiced
from lipsync.alignment.engine import Clip, run
from lipsync.alignment.plan import MORA_ENDS, QUIET_CONSONANTS, STOPS, VOICELESS_STOPS, Plan, token_sequence

if TYPE_CHECKING:

    from lipsync.alignment.activity import Activity

__all__ = ["Hearing", "Stretch", "align_stretch", "hearing"]

#: A pause the aligner gives less time than this (frames) was not there.
_MIN_PAUSE_FRAMES = 8
#: Frames this far below the loud ones (dB) are quiet, in a recording quieter than that.
_QUIET_DB = 30.0
#: ... and in a noisier one, frames less than this above its noise floor (dB).
_QUIET_ABOVE_FLOOR_DB = 9.0
#: Levels less than this above the noise floor (dB) are the room's, not the voice's.
_ROOM_DB = 6.0
#: A silence the text gives no place for, at least this long (frames), gets a place. (A
#: slow voice holds a stop's closure inside a word for 150 ms: at 120 ms, 見つ|めて paused.)
_UNPLACED_SILENCE = 25


@dataclass(frozen=True)
class Hearing:
    """What the rules hear of each 10 ms frame: its level next to the loud frames (dB, with
    the room's frames at -120) and whether it is quiet."""

    levels: list[float]
    quiet: list[bool]
    loud: list[bool]


def hearing(activity: Activity) -> Hearing:
    """Levels and quiet frames by the recording's noise floor, for the rules and the check."""
    loudest, floor = activity.speech_level, activity.noise_floor
    quiet_below = max(loudest - _QUIET_DB, floor + _QUIET_ABOVE_FLOOR_DB)
    room = floor + _ROOM_DB
    levels = [v - loudest if v > room else -120.0 for v in activity.levels]
    quiet = [v < quiet_below for v in activity.levels]
    loud_above = max(loudest - 20.0, floor + 2 * _QUIET_ABOVE_FLOOR_DB)
    loud = [v > loud_above for v in activity.levels]
    return Hearing(levels, quiet, loud)


@dataclass(frozen=True)
class Stretch:
    """A stretch's tokens, the plan's phonemes each stands for, and where each starts.

    ``starts`` are frames from the recording's start (token 0, a pause, starts at ``first``);
    ``raw`` the aligner's own, before the rules moved the boundaries facing silence.
    """

    first: int
    end: int
    tokens: list[str]
    members: list[list[int]]
    starts: list[int]
    raw: list[int]


def align_stretch(
    audio: Clip, plan: Plan, phonemes: tuple[int, int], frames: tuple[int, int],
    heard: Hearing, silences: list[tuple[int, int]],
) -> Stretch:
    """Align the plan's ``phonemes`` (first, end) to the audio's ``frames`` (first, end), whose
    samples ``audio`` holds (``split.pieces_of`` gives both).

    ``silences`` are the recording's silent frame ranges (``Activity.silences``).
    """
    first, end = frames
    part = plan.part(*phonemes)
    count = audio.frames
    quiet = heard.quiet[first:end]
    offered = list(part.optional)
    tokens, members = token_sequence(part, offered)
    if len(tokens) > count:  # too short to offer a pause everywhere
        offered = [False] * len(part.names)
        tokens, members = token_sequence(part, offered)
    starts = _within(run(audio, tokens), end - first)
    inner = [(max(a, first) - first, min(b, end) - first) for a, b in silences if a > first and b < end]
    extra = _unplaced(part, tokens, members, starts, inner, offered)
    if extra:
        tried = [o or e for o, e in zip(offered, extra, strict=True)]
        retokens, remembers = token_sequence(part, tried)
        if len(retokens) <= count:
            offered, tokens, members = tried, retokens, remembers
            starts = _within(run(audio, tokens), end - first)
    kept = [False] * len(part.names)
    for k, token in enumerate(tokens[1:-1], start=1):
        silent = sum(quiet[starts[k - 1] : starts[k]])
        if token == "pau" and silent >= _pause_needs(part, tokens, members, k) and (
            silent >= 0.6 * (starts[k] - starts[k - 1])
        ):
            kept[members[k + 1][0]] = True
    if kept != offered:
        tokens, members = token_sequence(part, kept)
        starts = _within(run(audio, tokens), end - first)
    raw = starts
    if part.expected:
        starts = edges_by_prior(part, tokens, members, starts, end - first, heard.levels[first:end])
        starts = split_devoiced(part, tokens, members, starts)
    shift = phonemes[0]
    return Stretch(first, end, tokens, [[i + shift for i in group] for group in members],
                   [s + first for s in starts], [s + first for s in raw])


def _within(starts: list[int], frames: int) -> list[int]:
    """Starts inside the stretch's frames (the model counts one frame more than a whole number)."""
    return [min(s, frames - 1) for s in starts]


def _unplaced(
    plan: Plan, tokens: list[str], members: list[list[int]], starts: list[int],
    silences: list[tuple[int, int]], offered: list[bool],
) -> list[bool]:
    """A place for a pause at each silence the first pass laid a phoneme over.

    The place is the mora boundary nearest where the sound stopped: after the token the
    silence starts in, or before it when that token does not end a mora.
    """
    edges = [0, *starts]
    extra = [False] * len(plan.names)
    for gap_first, gap_end in silences:
        if gap_end - gap_first < _UNPLACED_SILENCE:
            continue
        k = max(i for i, at in enumerate(edges) if at <= gap_first)
        if tokens[k] == "pau" or (k + 1 < len(tokens) and tokens[k + 1] == "pau"):
            continue  # the pass already paused here
        for candidate in (k, k - 1):
            if 0 < candidate < len(tokens) - 1 and candidate + 1 < len(tokens) - 1:
                last = members[candidate][-1] if members[candidate] else None
                if last is not None and plan.names[last] in MORA_ENDS:
                    following = members[candidate + 1][0]
                    if not offered[following]:
                        extra[following] = True
                    break
    return extra


def _pause_needs(plan: Plan, tokens: list[str], members: list[list[int]], k: int) -> int:
    """Silent frames that make the pause ``tokens[k]`` real, by what follows it.

    A quiet consonant next may be what is silent: a stop's closure (at least
    ``CLOSURE_FRAMES``; Open JTalk's expected length of a voiceless stop, twice that of a
    voiced one, whose closure some voices hold for 300 ms at a phrase's start) or the faint
    breath of ``h`` and ``f`` (twice their expected length). The pause must outlast it.
    """
    need = _MIN_PAUSE_FRAMES
    following = tokens[k + 1]
    if following in QUIET_CONSONANTS:
        expected = round(plan.expected[members[k + 1][0]] * 100) if plan.expected else 0
        need += expected * (1 if following in VOICELESS_STOPS else 2)
        if following in STOPS:
            need = max(need, _MIN_PAUSE_FRAMES + CLOSURE_FRAMES)
    return need
