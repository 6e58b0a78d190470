"""Does the audio say the text? A score from the aligner's own result, and the refusal.

pydomino always returns an alignment, even for audio of another sentence, silence or
noise. What gives those away (measured on synthesised speech of matching and of wrong
texts, see tests/test_align.py):

- ``squeezed``: the share of phonemes the aligner gave only its minimum (one 10 ms frame);
  speech that matches has a few short consonants there, a wrong text piles up dozens.
- ``misfit``: the share of phonemes 2.5 times longer or shorter than Open JTalk expects at
  the tempo of the whole (text and kana only): matching speech stays under 0.1, another
  sentence of about the same length comes out at 0.17 to 0.44.
- ``voiced_in_silence``: the share of vowel frames that are silent (the text's vowels laid
  over pauses), and ``speech_in_pauses``: the share of loud frames under a pause (a text
  shorter than the speech).

No one share tells every case apart; their sum (``mismatch``) does: up to 0.16 for matching
speech, 0.38 and more for another sentence (four voices, speeds 0.8 to 1.25). The refusal
is at 0.25.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lipsync.alignment.plan import token_expectations
from lipsync.errors import AlignmentRefused

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from lipsync.alignment.plan import Plan
    from lipsync.sound import Audio
    from lipsync.timeline import Timeline

__all__ = ["AlignmentScore", "check_alignment", "score_alignment"]

#: The loud frames of audio quieter than this (dBFS) are no speech at all.
SILENT_DBFS = -55.0
_VOWELS = frozenset("aiueoN")


@dataclass(frozen=True)
class AlignmentScore:
    """How well an alignment fits its audio (shares, 0 to 1) and the audio's level."""

    squeezed: float
    voiced_in_silence: float
    speech_in_pauses: float
    loudness: float  # dBFS of the loud (95th percentile) frames
    misfit: float = 0.0

    @property
    def mismatch(self) -> float:
        """One number: squeezed + misfit + voiced_in_silence (matching speech stays under 0.2)."""
        return self.squeezed + self.misfit + self.voiced_in_silence

    def fault(self) -> str:
        """Why this alignment should not be trusted, in words ("" when it fits)."""
        if self.loudness < SILENT_DBFS:
            return f"the audio is silent (its loud frames are at {self.loudness:.0f} dBFS)"
        if self.mismatch > 0.25:
            return (f"the alignment does not fit (mismatch {self.mismatch:.2f}, above 0.25: "
                    f"{self.squeezed:.0%} of the phonemes squeezed to 10 ms, {self.misfit:.0%} far "
                    f"from the text's rhythm, {self.voiced_in_silence:.0%} of vowel time on silence): "
                    "the audio does not seem to say this text")
        if self.speech_in_pauses > 0.1:
            return (f"{self.speech_in_pauses:.0%} of the speech falls in pauses: "
                    "the audio says more than this text")
        return ""


def score_alignment(
    samples: npt.NDArray[np.float32], tokens: list[str], starts: list[int], levels: list[float],
    expected: list[float] | None = None,
) -> AlignmentScore:
    """Score tokens aligned at ``starts`` (frames) against the 16 kHz ``samples``."""
    import numpy as np

    frames = len(levels)
    edges = [0, *starts, frames]
    lengths = [edges[k + 1] - edges[k] for k in range(len(tokens))]
    inner = [k for k, t in enumerate(tokens) if t != "pau"]
    squeezed = sum(1 for k in inner if lengths[k] <= 1) / max(len(inner), 1)
    quiet = [level < -30.0 for level in levels]
    vowel_frames = [f for k in inner if tokens[k] in _VOWELS for f in range(edges[k], edges[k + 1])]
    silent_vowels = sum(1 for f in vowel_frames if f < frames and quiet[f]) / max(len(vowel_frames), 1)
    pause_frames = [
        f for k, t in enumerate(tokens) if t == "pau" for f in range(edges[k], min(edges[k + 1], frames))
    ]
    loud = [f for f in range(frames) if levels[f] > -20.0]
    in_pauses = len(set(pause_frames) & set(loud)) / max(len(loud), 1)
    count = -(-len(samples) // 160)
    padded = np.zeros(count * 160, dtype=np.float64)
    padded[: len(samples)] = samples
    power = (padded.reshape(count, 160) ** 2).mean(axis=1)
    loudness = float(np.percentile(10 * np.log10(power + 1e-12), 95))
    misfit = 0.0
    if expected:
        import math

        pairs = [(max(lengths[k], 1), expected[k] * 100) for k in inner if expected[k] > 0]
        tempo = sum(a for a, _ in pairs) / max(sum(b for _, b in pairs), 1e-9)
        ratios = [abs(math.log(a / (b * tempo))) for a, b in pairs]
        misfit = sum(1 for r in ratios if r > math.log(2.5)) / max(len(ratios), 1)
    return AlignmentScore(squeezed, silent_vowels, in_pauses, loudness, misfit)


def check_alignment(
    audio: Audio, samples: npt.NDArray[np.float32], plan: Plan, timeline: Timeline,
    tokens: list[str], members: list[list[int]], starts: list[int], levels: list[float],
) -> AlignmentScore:
    """Raise ``AlignmentRefused`` when the alignment does not fit; else give its score."""
    score = score_alignment(samples, tokens, starts, levels, token_expectations(plan, tokens, members))
    fault = score.fault()
    if fault:
        raise AlignmentRefused(f"cannot align: {fault}")
    return score
