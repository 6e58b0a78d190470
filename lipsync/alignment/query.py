"""A TTS engine's audio aligned to the phonemes its engine read (an AudioQuery without timing).

AivisSpeech's queries, and any VOICEVOX-shaped query whose lengths are missing or disagree
with its audio, name the phonemes the engine spoke but not when. The engine's reading wins
(never the text read again by Open JTalk, which may read a word otherwise): the audio is
aligned to exactly those phonemes, a pause allowed at each phrase boundary and pause mora.
Open JTalk's durations for the same reading (the moras' katakana) guide the boundaries when
its phonemes are the engine's (up to devoicing), as they do for ``align(audio, text)``.
"""

from __future__ import annotations

from lipsync.alignment.aligner import align_plan
from lipsync.alignment.plan import Plan, plan_phonemes
from lipsync.errors import ValueRefused
from lipsync.labels.voicevox import QueryPhonemes
from lipsync.sound import Audio
from lipsync.timeline import Timeline

__all__ = ["align_query", "query_plan"]

_VOICED = str.maketrans("AIUEO", "aiueo")


def query_plan(phonemes: QueryPhonemes) -> Plan:
    """What to align for a query's phonemes: its names, its pause places, Open JTalk's priors."""
    expected: tuple[float, ...] = ()
    if phonemes.kana.strip("、"):
        try:
            reading = plan_phonemes(kana=phonemes.kana)
        except ValueRefused:
            reading = None
        if reading is not None and _same(reading.names, phonemes.names):
            expected = reading.expected
    return Plan(phonemes.names, phonemes.breaks, expected)


def align_query(audio: Audio, phonemes: QueryPhonemes, *, check: bool = True) -> Timeline:
    """Where each of a query's phonemes is in ``audio`` (covering it exactly, from 0).

    ``AlignmentRefused`` when the audio does not seem to say them (unless ``check=False``:
    audio the engine made from this very query says it by construction).
    """
    return align_plan(audio, query_plan(phonemes), check=check).timeline


def _same(reading: tuple[str, ...], names: tuple[str, ...]) -> bool:
    """Whether two phoneme sequences are the same but for devoicing (Open JTalk's capitals)."""
    return len(reading) == len(names) and all(
        a.translate(_VOICED) == b.translate(_VOICED) for a, b in zip(reading, names, strict=True)
    )
