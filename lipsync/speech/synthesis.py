"""Japanese text of any length -> speech and its timeline (``lipsync.synthesize``).

Up to ``MAX_TEXT_CHARS`` the text is one call of Open JTalk (``lipsync.speech.jtalk``); longer,
up to ``MAX_LONG_TEXT_CHARS``, it is spoken sentence by sentence and joined exactly as ``say``
joins it (``lipsync.speech.pieces``).
"""

from __future__ import annotations

from pathlib import Path

from lipsync.errors import ValueRefused
from lipsync.sound import Audio
from lipsync.speech import jtalk
from lipsync.speech.jtalk import MAX_TEXT_CHARS, check_half_tone, check_speed
from lipsync.speech.pieces import joined_durations, joined_speech, warn_if_latin
from lipsync.timeline import Timeline

__all__ = ["MAX_LONG_TEXT_CHARS", "MAX_TEXT_CHARS", "durations", "synthesize"]

#: The longest text ``durations`` and ``synthesize`` take: longer than ``MAX_TEXT_CHARS``, it is
#: spoken sentence by sentence and joined as ``say`` joins it (``lipsync.speech.pieces``).
MAX_LONG_TEXT_CHARS = 5000


def _long(text: str) -> bool:
    """Whether ``text`` is too long for Open JTalk at once (and not too long altogether)."""
    if len(text) > MAX_LONG_TEXT_CHARS:
        raise ValueRefused(f"the text is {len(text)} characters: at most {MAX_LONG_TEXT_CHARS} at once "
                           "(say - reads any length as it arrives)")
    return len(text) > jtalk.MAX_TEXT_CHARS


def durations(text: str, *, voice: str | Path | None = None, speed: float = 1.0) -> Timeline:
    """The timeline Open JTalk would speak ``text`` with, without making the audio."""
    check_speed(speed)
    warn_if_latin(text)
    if _long(text):
        return joined_durations(text, voice=voice, speed=speed)
    return jtalk.durations_one(text, voice=voice, speed=speed)


def synthesize(
    text: str, *, voice: str | Path | None = None, speed: float = 1.0, half_tone: float = 0.0
) -> tuple[Audio, Timeline]:
    """Speak ``text``: the audio and the timeline of exactly that audio.

    ``voice`` is an .htsvoice file (default: the bundled mei_normal, 48 kHz, 5 ms frames),
    ``speed`` the speaking rate, ``half_tone`` a pitch shift in semitones.
    """
    check_speed(speed)
    check_half_tone(half_tone)
    if _long(text):  # its pieces are checked as they are made
        return joined_speech(text, voice=voice, speed=speed, half_tone=half_tone)
    warn_if_latin(text)
    return jtalk.synthesize_one(text, voice=voice, speed=speed, half_tone=half_tone)
