"""Speech without text as it comes: audio chunks in, pieces (audio + its heard timeline) out.

``heard_pieces`` turns a stream of ``Audio`` chunks (any rate, one rate per stream) into
``Piece``s to play back to back at ``rate``: each holds the audio the recogniser has committed
(``lipsync.alignment.stream``) since the last piece, with the timeline of exactly that audio.
A piece comes out ``commit_lag`` plus up to one ``hop`` of audio after its last sample went
in (plus the model's run): a player that holds the sound back that long keeps the mouth on
time. An empty chunk means "nothing more for now" (a pause in a live source): what was heard
is committed at once, so the end of a reply does not wait for the next one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from lipsync.alignment.hearing import Settings
from lipsync.alignment.model import RATE, load_model
from lipsync.alignment.pauses import Span
from lipsync.alignment.stream import StreamRecognizer, StreamSettings
from lipsync.alignment.warp import frame_rate
from lipsync.errors import ValueRefused
from lipsync.sound import Audio
from lipsync.speech.pieces import Piece
from lipsync.timeline import Timeline

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["LIVE_LOOKAHEAD", "LOOKAHEAD", "MAX_LOOKAHEAD", "MIN_LOOKAHEAD", "STREAM_WARP", "heard_pieces",
           "stream_settings"]

#: How much a stream is slowed down for the model: its pitch is not known when it starts.
STREAM_WARP = 1.05
#: How long a stream's sound is held back by default (seconds): what the accuracy needs.
LOOKAHEAD = 0.4
#: The default for a live voice (``lipsync listen``), which is not ours to hold back.
LIVE_LOOKAHEAD = 0.15
MIN_LOOKAHEAD, MAX_LOOKAHEAD = 0.1, 2.0  # seconds
#: What a stream's search pays to leave a phoneme it committed wrongly, and a pause per loud
#: frame (``StreamSettings``): live 150 ms 81.0 -> 87.6 %, 400 ms 91.4 -> 92.1 % (tuning).
_SWITCH, _LOUD_PAUSE = 6.0, 1.0


def stream_settings(lookahead: float, *, live: bool = False) -> StreamSettings:
    """The recogniser's settings for a stream whose sound is held back ``lookahead`` seconds.

    A frame is committed ``commit_lag`` after it arrived plus up to a ``hop`` (it waits for
    the next run) plus the run itself and the chunk it came in: the lag is what the hold-back
    leaves after the hop and a margin for the rest. From 0.3 s on, a run every 100 ms over
    2 s (about a third of a core); shorter look-aheads run every 30 ms over 0.6 s, the newest
    audio mirrored after it (about half a core): the model takes an abrupt end for the end of
    an utterance. A ``live`` voice (never played; a late piece skips ahead) leaves a margin
    for the run alone. Either way the search may leave a phoneme it committed too early to
    be sure of, and a pause pays for loud frames. Chosen on the tuning set (bench/recognition.py).
    """
    if not MIN_LOOKAHEAD <= lookahead <= MAX_LOOKAHEAD:
        raise ValueRefused(f"look-ahead {lookahead * 1000:g} ms is out of range ({MIN_LOOKAHEAD * 1000:g} to "
                           f"{MAX_LOOKAHEAD * 1000:g} ms)")
    if lookahead >= 0.3:
        return StreamSettings(commit_lag=round(lookahead - 0.17, 3), hop=0.1, window=2.0, switch=_SWITCH,
                              loud_penalty=_LOUD_PAUSE)
    margin = 0.015 if live else 0.025
    return StreamSettings(commit_lag=round(lookahead - 0.03 - margin, 3), hop=0.03, window=0.6, mirror=0.1,
                          switch=_SWITCH, loud_penalty=_LOUD_PAUSE)


class _Cutter:
    """Committed frames and the audio they cover, cut into pieces at ``rate``."""

    def __init__(self, rate: int, warp: float) -> None:
        self.rate = rate
        self.frames_per_second = frame_rate(warp)
        self.spans: list[Span] = []
        self.audio: list[npt.NDArray[np.int16]] = []
        self.buffered = 0  # samples held in self.audio
        self.emitted = 0  # samples given out in pieces

    def sample(self, frame: int) -> int:
        return round(Fraction(frame * self.rate) / self.frames_per_second)

    def add_audio(self, samples: npt.NDArray[np.float32]) -> None:
        import numpy as np

        if len(samples):
            self.audio.append(np.clip(np.rint(samples * 32768.0), -32768, 32767).astype(np.int16))
            self.buffered += len(samples)

    def add_spans(self, spans: Iterable[Span]) -> None:
        for name, a, b in spans:
            last = self.spans[-1] if self.spans else None
            if last is not None and last[2] == a and last[0] == name:
                self.spans[-1] = (name, last[1], b)
            else:
                self.spans.append((name, a, b))

    def piece(self, committed: int, *, everything: bool = False) -> Piece | None:
        """The next piece: the audio up to frame ``committed`` (or all of it) and its timeline."""
        import numpy as np

        end = self.emitted + self.buffered
        if not everything:
            end = min(end, self.sample(committed))
        live = [s for s in self.spans if self.sample(s[2]) > self.emitted and self.sample(s[1]) < end]
        if end <= self.emitted or not (live or everything):
            return None
        if not live:
            live = [("sil", 0, 0)]
        # Each span from where it begins (the first from the last piece's end) to the next.
        cuts = [self.emitted, *(max(self.emitted, min(end, self.sample(a))) for _, a, _ in live[1:]), end]
        parts = [(name, Fraction(cuts[k + 1] - cuts[k], self.rate)) for k, (name, _, _) in enumerate(live)
                 if cuts[k + 1] > cuts[k]]
        held = np.concatenate(self.audio)
        count = end - self.emitted
        self.audio = [held[count:]] if count < len(held) else []
        self.buffered -= count
        self.emitted = end
        self.spans = [s for s in self.spans if self.sample(s[2]) > end]
        return Piece(Audio(held[:count], self.rate), Timeline(parts))


def heard_pieces(
    chunks: Iterable[Audio], *, rate: int, stream: StreamSettings, settings: Settings | None = None,
    warp: float = STREAM_WARP,
) -> Iterator[Piece]:
    """Pieces of the stream ``chunks`` at ``rate``, each as soon as its timeline is committed.

    ``stream`` is in seconds of the audio as it comes (the model hears it ``warp`` times slower).
    """
    import numpy as np
    import soxr

    s = settings or Settings()
    heard = replace(stream, commit_lag=stream.commit_lag * warp, hop=stream.hop * warp,
                    window=stream.window * warp, level_memory=stream.level_memory * warp,
                    mirror=stream.mirror * warp)
    recognizer = StreamRecognizer(load_model(), heard, search=s.search, gate=s.gate, edges=s.edges,
                                  warp=warp)
    cutter = _Cutter(rate, warp)
    source: int | None = None
    to_model: Any = None
    to_out: Any = None
    for number, chunk in enumerate(chunks, start=1):
        if not isinstance(chunk, Audio):
            raise ValueRefused(f"chunk {number} of the stream: expected Audio, got {type(chunk).__name__}")
        if source is None:
            source = chunk.sample_rate
        elif chunk.sample_rate != source:
            raise ValueRefused(f"chunk {number} of the stream is at {chunk.sample_rate} Hz: the stream "
                               f"began at {source} Hz (one rate per stream)")
        if to_model is None:
            to_model = soxr.ResampleStream(source, RATE * warp, 1, dtype="float32", quality="HQ")
            to_out = None if source == rate else soxr.ResampleStream(source, rate, 1, dtype="float32",
                                                                     quality="HQ")
        samples = chunk.to_float32()
        idle = len(samples) == 0
        cutter.add_audio(samples if to_out is None else to_out.resample_chunk(samples, last=idle))
        cutter.add_spans(recognizer.push(to_model.resample_chunk(samples, last=idle)))
        if idle:  # a pause in the source: commit what was heard; the resamplers start afresh
            cutter.add_spans(recognizer.flush())
            to_model = to_out = None
        piece = cutter.piece(recognizer.committed, everything=idle)
        if piece is not None:
            yield piece
    if to_model is not None:
        empty = np.zeros(0, dtype=np.float32)
        if to_out is not None:
            cutter.add_audio(to_out.resample_chunk(empty, last=True))
        cutter.add_spans(recognizer.push(to_model.resample_chunk(empty, last=True)))
    cutter.add_spans(recognizer.finish())
    piece = cutter.piece(recognizer.committed, everything=True)
    if piece is not None:
        yield piece
