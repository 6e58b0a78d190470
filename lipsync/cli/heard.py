"""What the commands share about speech without its text: raw PCM in, the look-ahead, the caveat.

Audio without text is heard by the recogniser (``lipsync.alignment.recognize``); a stream of
it (``say --pcm``, ``listen``) a look-ahead behind. When the text is known, aligning it is
the better choice, and every help text says so (``NO_TEXT``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from lipsync.cli.io import finite_float

if TYPE_CHECKING:
    from lipsync.sound import Audio

__all__ = ["NO_TEXT", "add_lookahead", "pcm_chunks", "preload"]

#: The caveat every command that hears audio without text gives (figures: the README's bench table).
NO_TEXT = ("without its text the phonemes are heard from the audio alone (about 9 in 10 frames of "
           "the mouth right): when the text is known, give it, aligned speech is more accurate")
_CHUNK = 0.02  # seconds read at a time from a pipe: what a TTS or a realtime API sends


def add_lookahead(parser: argparse.ArgumentParser, default_ms: float, *, what: str) -> None:
    parser.add_argument("--lookahead", type=finite_float(100, 2000), default=default_ms, metavar="MS",
                        help=f"how far behind the audio the recogniser hears, 100 to 2000 ms (default "
                        f"{default_ms:g}): {what}; longer is more accurate")


def pcm_chunks(source: Path, rate: int, channels: int) -> Iterator[Audio]:
    """Raw little-endian 16-bit PCM from ``source`` (``-``: standard input) as it arrives, in
    chunks of about 20 ms (what is there, not waiting for more)."""
    from lipsync.errors import ValueRefused
    from lipsync.sound import Audio

    frame = 2 * channels
    size = frame * max(1, round(rate * _CHUNK))
    pending = b""
    stdin = str(source) == "-"
    try:
        handle = sys.stdin.fileno() if stdin else os.open(source, os.O_RDONLY)
    except OSError as exc:
        raise ValueRefused(f"{source}: cannot read: {exc.strerror or exc}") from exc
    try:
        while True:
            try:
                data = os.read(handle, size)
            except OSError as exc:  # a directory, a device that fails
                raise ValueRefused(f"{'<stdin>' if stdin else source}: cannot read: "
                                   f"{exc.strerror or exc}") from exc
            if not data:
                break
            pending += data
            whole = len(pending) // frame * frame
            if whole:
                yield Audio.from_pcm16(pending[:whole], rate, channels)
                pending = pending[whole:]
    finally:
        if not stdin:
            os.close(handle)
    if pending:
        raise ValueRefused(f"{'<stdin>' if stdin else source}: the PCM ends in the middle of a frame "
                           f"({len(pending)} of {frame} bytes): is it 16-bit with {channels} channel(s)?")


def preload() -> None:
    """Load the recogniser's model now, so the first sound does not wait for it."""
    from lipsync.alignment.model import load_model

    load_model()
