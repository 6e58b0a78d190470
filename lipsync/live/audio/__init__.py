"""Audio outputs behind one interface (``Output``), chosen by name and imported when used.

- ``miniaudio``: the default; the sound card, or miniaudio's silent NULL backend where
  there is none.
- ``simpleaudio``: optional (``pip install 'lipsync-ja[simpleaudio]'``).
- ``null``: no device, a real-time clock (tests, servers).

Live input, for ``lipsync listen``: ``capture`` (a capture device, or a file given in real time).
"""

from __future__ import annotations

from lipsync.errors import ValueRefused
from lipsync.live.audio.base import DEFAULT_RATE, Output
from lipsync.live.clock import Clock

__all__ = ["DEFAULT_RATE", "OUTPUTS", "Output", "open_output"]

OUTPUTS = ("miniaudio", "simpleaudio", "null")


def open_output(name: str, *, sample_rate: int = DEFAULT_RATE, clock: Clock | None = None) -> Output:
    """Open the output called ``name`` (one of ``OUTPUTS``)."""
    if name == "miniaudio":
        from lipsync.live.audio.miniaudio_output import MiniaudioOutput

        return MiniaudioOutput(sample_rate, clock=clock)
    if name == "simpleaudio":
        from lipsync.live.audio.simpleaudio_output import SimpleaudioOutput

        return SimpleaudioOutput(sample_rate, clock=clock)
    if name == "null":
        from lipsync.live.audio.null import NullOutput

        return NullOutput(sample_rate, clock=clock)
    raise ValueRefused(f"unknown audio output {name!r}: expected one of {', '.join(OUTPUTS)}")
