"""Recognition as the audio comes: phonemes out a fixed look-ahead behind the newest sample.

Every ``hop`` seconds of audio the model hears the last ``window`` seconds (a Transformer
over its whole input, so it needs context on both sides), and the search goes on from the
last committed frame, starting in the committed phoneme at its age, so nothing committed is
contradicted (it may go on in another phoneme for a price, ``switch``: what was committed
with little audio after it can be wrong). Frames up to ``commit_lag`` before the newest
sample are committed; the rest of the best path is provisional and searched again next
time, with more audio after it. A pause may pay for loud frames (``loud_penalty``).
Pause edges (``lipsync.alignment.pauses``) are placed over the last committed phonemes and
the provisional path; only frames not yet committed take their result.

The runs fall on whole hops of the audio, whatever the chunks it came in: the result depends
on the audio alone, never on how it was cut or when it arrived. Memory holds one window of
audio and a few seconds of frame levels (the gate's running speech level and noise floor).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lipsync.alignment.gate import GateSettings, frame_levels, quiet_frames
from lipsync.alignment.model import HOP, RATE, TransitionModel
from lipsync.alignment.pauses import EdgeSettings, Span, place_pauses
from lipsync.alignment.viterbi import Search, SearchSettings
from lipsync.alignment.warp import fill_top

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["StreamRecognizer", "StreamSettings"]

_RECENT = 8  # committed phonemes the pause edges look back over
_SETTLED = 2  # the newest frames' 25 ms reach past the audio: their levels wait a run


@dataclass(frozen=True)
class StreamSettings:
    """Seconds: committed this far behind the newest sample, a run every ``hop`` over the
    last ``window``; the gate's levels are those of the last ``level_memory``. ``switch`` and
    ``loud_penalty`` are off unless given (``lipsync.alignment.heard.stream_settings`` gives them)."""

    commit_lag: float = 0.3
    hop: float = 0.1
    window: float = 2.0
    level_memory: float = 10.0
    #: Seconds of the newest audio, mirrored, heard after it (not committed): the model, which
    #: never heard speech cut off mid-sound, takes an abrupt end for the end of an utterance.
    mirror: float = 0.0
    #: What the search pays to go on in another phoneme than the one it committed (None:
    #: never). The newest frames are heard with little audio after them: a phoneme committed
    #: wrongly (a pause where the model took the abrupt end for the end of speech, the wrong
    #: vowel) would otherwise hold until a transition out of it happened to fit.
    switch: float | None = None
    #: What the pause pays per loud frame: ``loud_db`` over the running noise floor (and within
    #: 30 dB of the speech level, so a floor of digital silence does not make breath loud).
    loud_penalty: float = 0.0
    loud_db: float = 20.0

    def __post_init__(self) -> None:
        if not (0 <= self.commit_lag and 0 < self.hop and self.commit_lag + self.hop < self.window):
            raise ValueError(f"stream settings out of range: {self}")


class StreamRecognizer:
    """Feed 16 kHz float32 audio (slowed down by ``warp``, ``lipsync.alignment.warp``) with
    ``push``; each call gives the spans it committed.

    Spans are ``(Open JTalk name, first frame, end frame)`` in 10 ms frames from the
    stream's start, back to back; one phoneme may come split across calls. The first
    silence is ``sil``, later ones ``pau``; ``finish`` commits the rest, its last silence ``sil``.
    """

    def __init__(
        self, model: TransitionModel, settings: StreamSettings | None = None, *,
        search: SearchSettings | None = None, gate: GateSettings | None = None,
        edges: EdgeSettings | None = None, warp: float = 1.0,
    ) -> None:
        import numpy as np

        self.settings = s = settings or StreamSettings()
        self.warp = warp
        self.model = model
        self.search = Search(model.transitions, search)
        self.gate = gate or GateSettings()
        self.edges = edges or EdgeSettings()
        self._hop = round(s.hop * RATE) // HOP * HOP
        self._window = round(s.window * RATE) // HOP * HOP
        self._lag = round(s.commit_lag * 100)
        self._audio = np.zeros(0, dtype=np.float32)
        self._audio_start = 0  # sample index of _audio[0], a whole frame
        self.received = 0
        self._next_run = self._hop
        self.committed = 0  # frames
        self._raw: list[list[int]] = []  # the last committed runs: [phoneme, first, end]
        self._last_name: str | None = None
        self._levels: deque[float] = deque(maxlen=round(s.level_memory * 100))
        self._levels_to = 0  # frames whose level is remembered

    def push(self, samples: npt.NDArray[np.float32]) -> list[Span]:
        """Take more audio; the spans it let us commit (often none)."""
        import numpy as np

        self._audio = np.concatenate([self._audio, np.asarray(samples, dtype=np.float32)])
        self.received += len(samples)
        out: list[Span] = []
        while self.received >= self._next_run:
            out += self._run(self._next_run, final=False, end=False)
            self._next_run += self._hop
            self._trim(self._next_run - self._window)
        return out

    def finish(self) -> list[Span]:
        """The audio has ended: commit everything up to its last frame (a last pause is ``sil``)."""
        return self._run(self.received, final=True, end=True)

    def flush(self) -> list[Span]:
        """Nothing more is coming for now: commit everything heard so far (more may follow)."""
        return self._run(self.received, final=True, end=False)

    def _trim(self, keep_from: int) -> None:
        drop = max(0, keep_from - self._audio_start) // HOP * HOP
        if drop:
            self._audio = self._audio[drop:]
            self._audio_start += drop

    def _run(self, until: int, *, final: bool, end: bool) -> list[Span]:
        import numpy as np

        start = max(self._audio_start, until - self._window) // HOP * HOP
        window = self._audio[start - self._audio_start : until - self._audio_start]
        if len(window) == 0:
            return []
        first = start // HOP
        heard = window
        mirror = 0 if final else min(len(window), round(self.settings.mirror * RATE) // HOP * HOP)
        if mirror:
            heard = np.concatenate([window, window[::-1][:mirror]])
        trans, blank = self.model.run(fill_top(heard, self.warp))
        if mirror:
            trans, blank = trans[: -(mirror // HOP)], blank[: -(mirror // HOP)]
        frames = len(blank)
        newest = first + frames
        levels = frame_levels(window, frames)
        self._remember(levels, first, newest - (0 if final else _SETTLED))
        commit_to = newest if final else newest - self._lag
        begin = max(self.committed, first)
        if commit_to <= self.committed or begin >= newest:
            return []
        known = np.fromiter(self._levels, dtype=np.float64)
        quiet = quiet_frames(levels, self.gate, speech_db=float(np.percentile(known, 95)),
                             floor_db=float(np.percentile(known, 10)))
        local = slice(begin - first, frames)
        scores = None
        if self._raw:
            phoneme, a, b = self._raw[-1]
            scores = self.search.start(phoneme, b - a, self.settings.switch)
        pause_cost = None
        if self.settings.loud_penalty:
            loud = levels[local] >= max(float(np.percentile(known, 10)) + self.settings.loud_db,
                                        float(np.percentile(known, 95)) - 30.0)
            pause_cost = np.where(loud, self.settings.loud_penalty, 0.0)
        runs = self.search.decode(trans[local], blank[local], quiet[local], scores, pause_cost)
        path = [(p, begin + a, begin + (runs[k + 1][1] if k + 1 < len(runs) else newest - begin))
                for k, (p, a) in enumerate(runs)]
        recent = self._raw[-_RECENT:]
        names = self.search.phonemes
        done = [(names[p], a, b) for p, a, b in recent]
        spans = _joined(done + [(names[p], a, b) for p, a, b in path if b > a], len(done))
        spans = place_pauses(_silences(spans, at_end=end), self.edges)
        self._commit(path, commit_to)
        out = [(name, max(a, self.committed), min(b, commit_to)) for name, a, b in spans
               if min(b, commit_to) > max(a, self.committed)]
        if out and out[0][0] == "sil" and self._last_name not in (None, "sil"):
            out[0] = ("pau", out[0][1], out[0][2])
        self.committed = commit_to
        if out:
            self._last_name = out[-1][0]
        return out

    def _commit(self, path: list[tuple[int, int, int]], commit_to: int) -> None:
        for phoneme, a, b in path:
            if a >= commit_to:
                break
            b = min(b, commit_to)
            if self._raw and self._raw[-1][0] == phoneme and self._raw[-1][2] == a == self.committed:
                self._raw[-1][2] = b  # the same phoneme going on across the commit point
            else:
                self._raw.append([phoneme, a, b])
        del self._raw[:-_RECENT]

    def _remember(self, levels: npt.NDArray[np.float64], first: int, settled: int) -> None:
        for frame in range(max(self._levels_to, first), settled):
            self._levels.append(float(levels[frame - first]))
        self._levels_to = max(self._levels_to, settled)
        if not self._levels:
            self._levels.extend(float(v) for v in levels)


def _joined(spans: list[Span], join: int) -> list[Span]:
    """The committed path and the new one may go on in one phoneme: make it one span."""
    if 0 < join < len(spans) and spans[join - 1][0] == spans[join][0] and (
            spans[join - 1][2] == spans[join][1]):
        name, a, _ = spans[join - 1]
        return [*spans[: join - 1], (name, a, spans[join][2]), *spans[join + 1 :]]
    return spans


def _silences(spans: list[Span], *, at_end: bool) -> list[Span]:
    """Pauses as Open JTalk names them: ``sil`` at the stream's first frame and at its end."""
    out = []
    for k, (name, a, b) in enumerate(spans):
        if name == "pau" and ((k == 0 and a == 0) or (at_end and k == len(spans) - 1)):
            name = "sil"
        out.append((name, a, b))
    return out
