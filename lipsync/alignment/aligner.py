"""Any voice: find where each phoneme of a known text really is in its audio (pydomino).

``align(audio, text)`` reads the text with Open JTalk's front end (or takes a kana reading
or a phoneme string), finds where the recording has speech (``lipsync.alignment.activity``:
its own noise floor decides what is silence), and aligns the phonemes inside the speech with
pydomino's phoneme-transition model (16 kHz mono, 10 ms frames). Silence before and after
the speech, of any length, is ``sil``; the voice decides where it paused
(``lipsync.alignment.stretch``). Long recordings are cut at their silences into stretches the
model handles in bounded memory, each aligned to its part of the text
(``lipsync.alignment.split``).

The timeline covers the audio exactly: its spans are whole samples at the audio's rate and
add up to its length. Names are Open JTalk's (what lip maps know): phonemes pydomino lacks
are aligned as their nearest (``kw`` as ``k``, devoiced ``A`` as ``a``) and given back under
the name they came in with.

When the audio does not carry the text (another sentence, silence, noise) the alignment is
nonsense with a pattern (``lipsync.alignment.check``): ``AlignmentRefused`` (a
``ValueRefused``: exit 2 from the CLI) says so rather than return it. Between that and a good
fit, the alignment is given with a warning (logger ``lipsync.alignment``) and each phoneme's
``confidence``; ``strict=True`` refuses it instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from lipsync.alignment.activity import speech_activity_of
from lipsync.alignment.check import SILENT_DBFS, AlignmentScore, score_alignment, token_confidence
from lipsync.alignment.doubts import doubtful_words
from lipsync.alignment.engine import ALIGN_RATE, model_frames
from lipsync.alignment.plan import Plan, plan_phonemes, token_expectations, token_sequence
from lipsync.alignment.split import pieces_of
from lipsync.alignment.stretch import Stretch, align_stretch, hearing
from lipsync.errors import AlignmentRefused
from lipsync.sound import Audio
from lipsync.timeline import Timeline

if TYPE_CHECKING:
    from lipsync.alignment.activity import Activity

__all__ = ["ALIGN_RATE", "Alignment", "AlignmentRefused", "Plan", "align", "align_plan", "alignment",
           "plan_phonemes"]

logger = logging.getLogger("lipsync.alignment")

#: The fewest 10 ms frames a phoneme may have on average: no voice is faster (speech at twice
#: the usual rate still gives each phoneme about 40 ms).
_MIN_FRAMES_PER_PHONEME = 2
#: Frames of the silence around the speech given to the aligner with it: where the speech
#: starts and ends is the model's to find, and a quiet first consonant may be under the floor.
_PAD_FRAMES = 25


@dataclass(frozen=True)
class Alignment:
    """An alignment: the timeline, each of its phonemes' confidence, and what looks doubtful.

    ``confidence[i]`` (0 to 1) belongs to ``timeline[i]`` (pauses too: a pause over loud
    frames is doubtful). ``warnings`` say, in words, why the alignment may be wrong (empty
    when it fits); ``score`` is the fit the refusal is decided on.
    """

    timeline: Timeline
    confidence: tuple[float, ...]
    warnings: tuple[str, ...]
    score: AlignmentScore

    def __post_init__(self) -> None:
        if len(self.confidence) != len(self.timeline):
            raise ValueError("one confidence per phoneme of the timeline")

    @property
    def doubtful(self) -> bool:
        return bool(self.warnings)


def align(
    audio: Audio, text: str | None = None, *, kana: str | None = None, phonemes: str | None = None,
    strict: bool = False,
) -> Timeline:
    """Where each phoneme of ``text`` (or ``kana``, or ``phonemes``) is in ``audio``.

    The result starts at 0 and covers the audio to its last sample. Raises
    ``AlignmentRefused`` when the audio does not seem to say the text (or, with ``strict``,
    when the alignment is doubtful); a doubtful alignment is logged as a warning.
    """
    result = alignment(audio, text, kana=kana, phonemes=phonemes, strict=strict)
    for warning in result.warnings:
        logger.warning("%s", warning)
    return result.timeline


def alignment(
    audio: Audio, text: str | None = None, *, kana: str | None = None, phonemes: str | None = None,
    strict: bool = False,
) -> Alignment:
    """``align``, with each phoneme's confidence and the warnings (nothing logged)."""
    plan = plan_phonemes(text, kana=kana, phonemes=phonemes)
    return align_plan(audio, plan, strict=strict, text=text)


def align_plan(
    audio: Audio, plan: Plan, *, strict: bool = False, text: str | None = None, check: bool = True
) -> Alignment:
    """``alignment`` for phonemes already planned (``plan_phonemes``); ``text`` names words.

    ``check=False`` skips the test that the audio says the phonemes (for audio a TTS engine
    made from them: a short utterance can look squeezed, and refusing it would only cut
    the speech short).
    """
    if len(audio) == 0:
        raise AlignmentRefused("the audio is empty: nothing to align")
    samples = audio.resampled(ALIGN_RATE).to_float32()
    bare, _ = token_sequence(plan, [False] * len(plan.names))
    if model_frames(len(samples)) < _MIN_FRAMES_PER_PHONEME * len(bare):
        raise AlignmentRefused(
            f"{float(audio.duration):.2f} s of audio is too short for {len(plan.names)} phonemes "
            f"(a voice gives each at least {10 * _MIN_FRAMES_PER_PHONEME} ms)"
        )
    activity = speech_activity_of(samples)
    if activity.speech_level < SILENT_DBFS or not activity.regions:
        raise AlignmentRefused(f"cannot align: the audio is silent (its loud frames are at "
                               f"{activity.speech_level:.0f} dBFS)")
    heard = hearing(activity)
    spoken = _spoken(activity, len(bare))
    stretches = [
        align_stretch(clip, plan, phonemes, frames, heard, activity.silences())
        for phonemes, frames, clip in pieces_of(samples, plan, activity, heard, spoken)
    ]
    tokens, members, starts, raw = _joined(stretches)
    expected = token_expectations(plan, tokens, members)
    score = score_alignment(tokens, raw, heard, activity.speech_level, expected, spoken)
    fault = score.fault()
    if fault and check:
        raise AlignmentRefused(f"cannot align: {fault}")
    timeline, confidence = _timeline(audio, plan, tokens, members, starts,
                                     token_confidence(tokens, raw, heard, expected))
    warnings = [w for w in (score.doubt(),) if w]
    warnings += doubtful_words(plan, text, timeline, confidence)
    if strict and warnings:
        raise AlignmentRefused(f"cannot align (strict): {warnings[0]}")
    return Alignment(timeline, tuple(confidence), tuple(warnings), score)


def _spoken(activity: Activity, tokens: int) -> tuple[int, int]:
    """The frames to align the text in: the speech and a margin of its silence around it."""
    first = max(0, activity.regions[0][0] - _PAD_FRAMES)
    end = min(activity.frames, activity.regions[-1][1] + _PAD_FRAMES)
    if end - first < _MIN_FRAMES_PER_PHONEME * tokens:  # less speech than the text: all of it
        first, end = 0, activity.frames
    return first, end


def _joined(stretches: list[Stretch]) -> tuple[list[str], list[list[int]], list[int], list[int]]:
    """The stretches' tokens as one run: the pause ending one and starting the next become one."""
    tokens: list[str] = ["pau"]
    members: list[list[int]] = [[]]
    starts: list[int] = []
    raw: list[int] = []
    for stretch in stretches:
        tokens += [*stretch.tokens[1:-1], "pau"]
        members += [*stretch.members[1:-1], []]
        starts += stretch.starts
        raw += stretch.raw
    return tokens, members, starts, raw


def _timeline(
    audio: Audio, plan: Plan, tokens: list[str], members: list[list[int]], starts: list[int],
    confidence: list[float],
) -> tuple[Timeline, list[float]]:
    """Tokens at their frames -> Open JTalk names in whole samples of ``audio``, and each one's
    confidence."""
    rate = audio.sample_rate
    edges = [0, *(min(round(Fraction(f, 100) * rate), len(audio)) for f in starts), len(audio)]
    for k in range(1, len(edges)):
        edges[k] = max(edges[k], edges[k - 1])
    spans: list[tuple[str, Fraction]] = []
    trust: list[float] = []
    for k, token in enumerate(tokens):
        begin, end = edges[k], edges[k + 1]
        if token == "pau":
            if k in (0, len(tokens) - 1):
                spans.append(("sil", Fraction(end - begin, rate)))
                trust.append(confidence[k])
            elif end > begin:  # a pause the edges above left no time is none
                spans.append(("pau", Fraction(end - begin, rate)))
                trust.append(confidence[k])
            continue
        group = members[k]
        weights = [plan.expected[i] for i in group] if plan.expected else [1.0] * len(group)
        total = sum(weights) or 1.0
        at = begin
        for j, index in enumerate(group):
            share = sum(weights[: j + 1]) / total
            stop = end if j == len(group) - 1 else begin + round((end - begin) * share)
            spans.append((plan.names[index], Fraction(stop - at, rate)))
            trust.append(confidence[k])
            at = stop
    return Timeline(spans, allow_empty=True), trust
