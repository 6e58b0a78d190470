"""Any voice: find where each phoneme of a known text really is in its audio (pydomino).

``align(audio, text)`` reads the text with Open JTalk's front end (or takes a kana reading
or a phoneme string), and aligns those phonemes to the audio with pydomino's phoneme-
transition model (16 kHz mono, 10 ms frames). The voice decides where it paused: a pause may
fall between any two accent phrases (after any mora for a phoneme string), and the aligner
is asked with one at every such place; those where the audio is not silent for long enough
(80 ms, more before a stop, whose closure is quiet too, or a faint ``h``) are dropped and the rest aligned
again (pydomino keeps the model's output for the same audio, so the second pass costs
almost nothing). Boundaries facing silence are then placed as Open JTalk would
(``lipsync.alignment.edges``).

The timeline covers the audio exactly: its spans are whole samples at the audio's rate and
add up to its length, with the silence before and after as ``sil``. Names are Open JTalk's
(what lip maps know): phonemes pydomino lacks are aligned as their nearest (``kw`` as ``k``,
devoiced ``A`` as ``a``) and given back under the name they came in with.

When the audio does not carry the text (another sentence, silence, noise) the alignment is
nonsense with a pattern: phonemes squeezed to the minimum, long stretches of speech under a
pause, long phonemes over silence. ``AlignmentRefused`` (a ``ValueRefused``: exit 2 from
the CLI) says so rather than return it (``lipsync.alignment.check``).
"""

from __future__ import annotations

from fractions import Fraction

from lipsync.alignment.check import check_alignment
from lipsync.alignment.edges import CLOSURE_FRAMES, QUIET_DB, edges_by_prior, frame_levels, split_devoiced
from lipsync.alignment.engine import ALIGN_RATE, model_frames, run
from lipsync.alignment.plan import (
    QUIET_CONSONANTS,
    STOPS,
    VOICELESS_STOPS,
    Plan,
    plan_phonemes,
    token_sequence,
)
from lipsync.errors import AlignmentRefused
from lipsync.sound import Audio
from lipsync.timeline import Timeline

__all__ = ["ALIGN_RATE", "AlignmentRefused", "Plan", "align", "align_plan", "plan_phonemes"]

#: A pause the aligner gives less time than this (frames) was not there.
_MIN_PAUSE_FRAMES = 8
#: The fewest 10 ms frames a phoneme may have on average: no voice is faster (speech at twice
#: the usual rate still gives each phoneme about 40 ms).
_MIN_FRAMES_PER_PHONEME = 2


def align(
    audio: Audio, text: str | None = None, *, kana: str | None = None, phonemes: str | None = None
) -> Timeline:
    """Where each phoneme of ``text`` (or ``kana``, or ``phonemes``) is in ``audio``.

    The result starts at 0 and covers the audio to its last sample. Raises
    ``AlignmentRefused`` when the audio does not seem to say the text.
    """
    plan = plan_phonemes(text, kana=kana, phonemes=phonemes)
    return align_plan(audio, plan)


def align_plan(audio: Audio, plan: Plan) -> Timeline:
    """``align`` for phonemes already planned (``plan_phonemes``)."""
    if len(audio) == 0:
        raise AlignmentRefused("the audio is empty: nothing to align")
    samples = audio.resampled(ALIGN_RATE).to_float32()
    frames = -(-len(samples) // 160)
    bare, _ = token_sequence(plan, [False] * len(plan.names))
    if model_frames(len(samples)) < _MIN_FRAMES_PER_PHONEME * len(bare):
        raise AlignmentRefused(
            f"{float(audio.duration):.2f} s of audio is too short for {len(plan.names)} phonemes "
            f"(a voice gives each at least {10 * _MIN_FRAMES_PER_PHONEME} ms)"
        )
    everywhere = list(plan.optional)
    tokens, members = token_sequence(plan, everywhere)
    if len(tokens) > model_frames(len(samples)):  # too short to offer a pause everywhere
        everywhere = [False] * len(plan.names)
        tokens, members = token_sequence(plan, everywhere)
    starts = run(samples, tokens, 1)
    level = frame_levels(samples)
    quiet = [db < -QUIET_DB for db in level]
    kept = [False] * len(plan.names)
    for k, token in enumerate(tokens[1:-1], start=1):
        # A pause is kept where the aligner found one and the audio is silent there for long enough.
        silent = sum(quiet[starts[k - 1] : starts[k]])
        if token == "pau" and silent >= _pause_needs(plan, tokens, members, k) and (
            silent >= 0.6 * (starts[k] - starts[k - 1])
        ):
            kept[members[k + 1][0]] = True
    if kept != everywhere:
        tokens, members = token_sequence(plan, kept)
        starts = run(samples, tokens, 1)
    raw_starts = starts
    if plan.expected:
        starts = edges_by_prior(plan, tokens, members, starts, frames, level)
        starts = split_devoiced(plan, tokens, members, starts)
    timeline = _timeline(audio, plan, tokens, members, starts)
    check_alignment(audio, samples, plan, timeline, tokens, members, raw_starts, level)
    return timeline


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


def _timeline(
    audio: Audio, plan: Plan, tokens: list[str], members: list[list[int]], starts: list[int]
) -> Timeline:
    """Tokens at their frames -> Open JTalk names in whole samples of ``audio``."""
    rate = audio.sample_rate
    edges = [0, *(min(round(Fraction(f, 100) * rate), len(audio)) for f in starts), len(audio)]
    for k in range(1, len(edges)):
        edges[k] = max(edges[k], edges[k - 1])
    spans: list[tuple[str, Fraction]] = []
    for k, token in enumerate(tokens):
        begin, end = edges[k], edges[k + 1]
        if token == "pau":
            if k in (0, len(tokens) - 1):
                spans.append(("sil", Fraction(end - begin, rate)))
            elif end > begin:  # a pause the edges above left no time is none
                spans.append(("pau", Fraction(end - begin, rate)))
            continue
        group = members[k]
        weights = [plan.expected[i] for i in group] if plan.expected else [1.0] * len(group)
        total = sum(weights) or 1.0
        at = begin
        for j, index in enumerate(group):
            share = sum(weights[: j + 1]) / total
            stop = end if j == len(group) - 1 else begin + round((end - begin) * share)
            spans.append((plan.names[index], Fraction(stop - at, rate)))
            at = stop
    return Timeline(spans, allow_empty=True)
