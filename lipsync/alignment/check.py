"""Does the audio say the text? A score from the aligner's own result, a confidence per phoneme.

pydomino always returns an alignment, even for audio of another sentence, silence or
noise. What gives those away:

- ``squeezed``: the share of phonemes the aligner gave only its minimum (one 10 ms frame);
  speech that matches has a few short consonants there, a wrong text piles up dozens.
- ``misfit``: the share of phonemes 2.5 times longer or shorter than Open JTalk expects at
  the tempo of the whole (text and kana only).
- ``voiced_in_silence``: the share of vowel frames that are quiet (the text's vowels laid
  over pauses), and ``speech_in_pauses``: the share of loud frames under a pause (a text
  shorter than the speech).

Quiet and loud are measured against the recording's own noise floor (``stretch.hearing``).
Their sum (``mismatch``) and ``misfit`` alone tell the cases apart. Measured on the tuning
set of bench/alignsets.py (four voices, speeds 0.8 to 1.25, clean, noise at 30 and 20 dB
SNR, 10 s of silence around, no punctuation) and on 15 read human recordings (Common Voice,
LibriVox, Julius's sample, FLEURS): matching speech scored a mismatch up to 0.27 and a misfit
up to 0.145 (real readers, whose rhythm is not Open JTalk's); another sentence's text a
mismatch of 0.27 and more with a misfit of 0.163 and more, or a mismatch above 0.32, but for
one (0.274 at 30 dB SNR, a misfit of 0.133). Above ``REFUSE``, or above ``MISFIT_REFUSE``
with a mismatch over ``MISFIT_WITH``, the alignment is refused; above ``DOUBT`` it is given
with a warning (refused under ``strict``, which so refuses every other sentence's text
measured). The margins are thin: a right text read very unlike Open JTalk's rhythm may be
refused (its reading as kana, or ``phonemes``, helps). In a short text, two phonemes far from
the rhythm are chance, not a fault: the misfit refuses from three.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lipsync.alignment.stretch import Hearing

__all__ = [
    "DOUBT", "MISFIT_REFUSE", "MISFIT_WITH", "REFUSE", "SILENT_DBFS", "AlignmentScore", "score_alignment",
    "token_confidence",
]

#: The loud frames of audio quieter than this (dBFS) are no speech at all.
SILENT_DBFS = -55.0
#: Above this mismatch an alignment is doubtful; above ``REFUSE`` it is refused.
DOUBT = 0.25
REFUSE = 0.35
MISFIT_REFUSE = 0.155
MISFIT_WITH = 0.22
#: More than this share of the loud frames under pauses: the audio says more than the text.
_EXTRA_SPEECH = 0.1
_EXTRA_SPEECH_REFUSE = 0.25
_FAR_ENOUGH = 3
_VOWELS = frozenset("aiueoN")
_FAR = math.log(2.5)


@dataclass(frozen=True)
class AlignmentScore:
    """How well an alignment fits its audio (shares, 0 to 1) and the audio's level."""

    squeezed: float
    voiced_in_silence: float
    speech_in_pauses: float
    loudness: float  # dBFS of the loud (95th percentile) frames
    misfit: float = 0.0
    phonemes: int = 0  # the phonemes the shares are of

    @property
    def mismatch(self) -> float:
        """One number: squeezed + misfit + voiced_in_silence (matching speech stays under 0.3)."""
        return self.squeezed + self.misfit + self.voiced_in_silence

    def _words(self) -> str:
        return (f"mismatch {self.mismatch:.2f}: {self.squeezed:.0%} of the phonemes squeezed to 10 ms, "
                f"{self.misfit:.0%} far from the text's rhythm, {self.voiced_in_silence:.0%} of vowel time "
                "on silence")

    def fault(self) -> str:
        """Why this alignment must not be trusted, in words ("" when it may be)."""
        if self.loudness < SILENT_DBFS:
            return f"the audio is silent (its loud frames are at {self.loudness:.0f} dBFS)"
        # A share of a handful is chance: two of nine phonemes far from the rhythm is no sign.
        far = round(self.misfit * self.phonemes)
        if self.mismatch > REFUSE or (
            self.misfit > MISFIT_REFUSE and self.mismatch > MISFIT_WITH and far >= _FAR_ENOUGH
        ):
            return (f"the alignment does not fit ({self._words()}; refused above {REFUSE}, or "
                    f"{MISFIT_WITH} with {MISFIT_REFUSE:.1%} far from the rhythm): the audio does not seem "
                    "to say this text")
        if self.speech_in_pauses > _EXTRA_SPEECH_REFUSE:
            return (f"{self.speech_in_pauses:.0%} of the speech falls in pauses: "
                    "the audio says more than this text")
        return ""

    def doubt(self) -> str:
        """Why this alignment is doubtful though possible ("" when it fits)."""
        if self.mismatch > DOUBT:
            return f"the alignment is doubtful ({self._words()}; doubtful above {DOUBT})"
        if self.speech_in_pauses > _EXTRA_SPEECH:
            return (f"{self.speech_in_pauses:.0%} of the speech falls in pauses: the audio may say "
                    "more than the text (a filler such as えー or あの?)")
        return ""


def _lengths(tokens: list[str], starts: list[int], frames: int) -> tuple[list[int], list[int]]:
    edges = [0, *starts, frames]
    return edges, [max(edges[k + 1] - edges[k], 0) for k in range(len(tokens))]


def _tempo(tokens: list[str], lengths: list[int], expected: list[float]) -> float:
    pairs = [(max(lengths[k], 1), expected[k] * 100) for k, t in enumerate(tokens) if t != "pau"
             and expected[k] > 0]
    return sum(a for a, _ in pairs) / max(sum(b for _, b in pairs), 1e-9)


def score_alignment(
    tokens: list[str], starts: list[int], heard: Hearing, loudness: float,
    expected: list[float] | None = None,
    spoken: tuple[int, int] | None = None,
) -> AlignmentScore:
    """Score tokens aligned at ``starts`` (frames) against what ``heard`` heard.

    ``spoken`` (first, end frames) limits the loud frames counted to where the text is
    aligned (the silence trimmed around it holds no speech of the text's).
    """
    frames = len(heard.quiet)
    edges, lengths = _lengths(tokens, starts, frames)
    inner = [k for k, t in enumerate(tokens) if t != "pau"]
    squeezed = sum(1 for k in inner if lengths[k] <= 1) / max(len(inner), 1)
    vowel_frames = [f for k in inner if tokens[k] in _VOWELS
                    for f in range(edges[k], min(edges[k + 1], frames))]
    silent_vowels = sum(1 for f in vowel_frames if heard.quiet[f]) / max(len(vowel_frames), 1)
    first, end = spoken if spoken is not None else (0, frames)
    in_pause = [False] * frames
    for k, t in enumerate(tokens):
        if t == "pau":
            stop = min(edges[k + 1], frames)
            in_pause[edges[k] : stop] = [True] * max(stop - edges[k], 0)
    loud = [f for f in range(first, end) if heard.loud[f]]
    in_pauses = sum(1 for f in loud if in_pause[f]) / max(len(loud), 1)
    misfit = 0.0
    if expected:
        tempo = _tempo(tokens, lengths, expected)
        ratios = [abs(math.log(max(lengths[k], 1) / (expected[k] * 100 * tempo)))
                  for k in inner if expected[k] > 0]
        misfit = sum(1 for r in ratios if r > _FAR) / max(len(ratios), 1)
    return AlignmentScore(squeezed, silent_vowels, in_pauses, loudness, misfit, len(inner))


def token_confidence(
    tokens: list[str], starts: list[int], heard: Hearing, expected: list[float] | None = None,
) -> list[float]:
    """Per token, 0 to 1: how well its place agrees with the audio and the text's rhythm.

    A phoneme loses confidence for a length far from Open JTalk's at the utterance's tempo
    (0.6 at 2.5 times or a 2.5th), for the aligner's minimum of one frame, and, for a vowel,
    for the share of its frames that are quiet; a pause for the share of its frames that are
    loud. 1.0 is a phoneme nothing speaks against, not a proof.
    """
    frames = len(heard.quiet)
    edges, lengths = _lengths(tokens, starts, frames)
    tempo = _tempo(tokens, lengths, expected) if expected else 1.0
    result: list[float] = []
    for k, token in enumerate(tokens):
        span = range(edges[k], min(edges[k + 1], frames))
        if token == "pau":
            loud = sum(1 for f in span if heard.loud[f]) / max(len(span), 1)
            result.append(round(1.0 - loud, 2))
            continue
        value = 1.0
        if expected and expected[k] > 0:
            ratio = math.log(max(lengths[k], 1) / (expected[k] * 100 * tempo))
            value *= math.exp(-0.5 * (ratio / _FAR) ** 2)
        if lengths[k] <= 1:
            value *= 0.5
        if token in _VOWELS and len(span):
            value *= 1.0 - sum(1 for f in span if heard.quiet[f]) / len(span)
        result.append(round(value, 2))
    return result
