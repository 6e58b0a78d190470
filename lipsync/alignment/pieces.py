"""Another voice's speech in pieces: each ``(audio, text)`` aligned as it comes, played back to back."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from lipsync.alignment.aligner import align
from lipsync.errors import ValueRefused
from lipsync.sound import Audio
from lipsync.speech.pieces import Piece

__all__ = ["aligned_pieces"]


def aligned_pieces(pairs: Iterable[tuple[Audio, str]]) -> Iterator[Piece]:
    """Another voice's speech, piece by piece: each ``(audio, text)`` aligned as it comes.

    The pieces play back to back as they are (an outside TTS gives each sentence its own
    silences), so each piece's timeline is its alignment, covering its audio exactly. Made
    lazily: a player takes the first piece while the next is still being aligned.
    """
    for number, pair in enumerate(pairs):
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], Audio)
                and isinstance(pair[1], str)):
            raise ValueRefused(f"piece {number + 1}: expected (Audio, text), got {type(pair).__name__}")
        audio, text = pair
        yield Piece(audio, align(audio, text))
