"""Measure the recogniser on a set and condition, with settings of your choice (a tool, not a test).

    python bench/tune_recognizer.py offline tuning [clean|30|20]
    python bench/tune_recognizer.py stream tuning clean COMMIT_LAG HOP WINDOW
    python bench/tune_recognizer.py live tuning clean LOOKAHEAD_MS [SWITCH LOUD_PENALTY]

``live`` hears each utterance as ``lipsync listen`` does (``heard_pieces``, 10 ms chunks,
``stream_settings(lookahead, live=True)``, its switch and loud-pause penalties replaced
when given; ``none`` turns one off); it runs the model anew each time. Model outputs of whole
utterances are cached in ``recognition.CACHE`` per set and condition, so trying decoder
settings costs only the search. Tune on ``tuning`` only; the held-out set is the bench's
(bench/test_bench_recognize.py).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np
import numpy.typing as npt
from recognition import CACHE, ROOT, Utterance, utterances, with_noise

sys.path.insert(0, str(ROOT / "tests"))
from mouth import Score

from lipsync.alignment.heard import stream_settings
from lipsync.alignment.hearing import Settings, decode_whole, join_spans, spans_timeline
from lipsync.alignment.model import RATE, load_model
from lipsync.alignment.pitch import median_pitch, warp_for
from lipsync.alignment.stream import StreamRecognizer, StreamSettings
from lipsync.alignment.warp import fill_top, frame_rate, warped
from lipsync.sound import Audio
from lipsync.timeline import Timeline


@dataclass
class Heard:
    """One utterance as the recogniser gets it: 16 kHz samples and the model's whole output."""

    utterance: Utterance
    audio: Audio  # as delivered (noise added)
    samples: npt.NDArray[np.float32]  # as the model hears it (warped)
    trans: npt.NDArray[np.float32]
    blank: npt.NDArray[np.float32]
    warp: float


def condition(name: str, snr: float | None, warp: float | None = None,
              transform: Callable[[Audio], Audio] | None = None, tag: str = "") -> list[Heard]:
    """The set with noise at ``snr`` dB (None: clean), heard with ``warp`` (None: by its pitch);
    model outputs cached."""
    sentences = utterances(name)
    path = CACHE / f"{name}-{'clean' if snr is None else f'snr{snr:g}'}-w{warp or 'auto'}-filled{tag}.npz"
    delivered = []
    for k, u in enumerate(sentences):
        audio = u.audio if snr is None else with_noise(u.audio, u.truth, snr, seed=k)
        if transform is not None:
            audio = transform(audio)
        delivered.append(audio)
    plain = [a.resampled(RATE).to_float32() for a in delivered]
    warps = [warp if warp is not None else warp_for(median_pitch(x)) for x in plain]
    samples = [warped(x, w) for x, w in zip(plain, warps, strict=True)]
    if path.exists():
        data = np.load(path)
        outputs = [(data[f"t{k}"].astype(np.float32), data[f"b{k}"].astype(np.float32))
                   for k in range(len(samples))]
    else:
        model = load_model()
        outputs = [model.run(fill_top(s, w)) for s, w in zip(samples, warps, strict=True)]
        CACHE.mkdir(parents=True, exist_ok=True)
        np.savez(path, **{f"t{k}": t.astype(np.float16) for k, (t, _) in enumerate(outputs)},
                 **{f"b{k}": b.astype(np.float16) for k, (_, b) in enumerate(outputs)})
    return [Heard(u, a, s, t, b, w)
            for u, a, s, (t, b), w in zip(sentences, delivered, samples, outputs, warps, strict=True)]


def offline(
    heard: list[Heard], settings: Settings | None = None, by: str | None = None,
) -> Score | dict[str, Score]:
    """Each utterance decoded whole."""
    s = settings or Settings()
    transitions = load_model().transitions
    total = Score()
    parts: dict[str, Score] = {}
    for h in heard:
        spans = decode_whole(transitions, h.trans, h.blank, h.samples, s)
        found = spans_timeline(spans, len(h.audio), h.audio.sample_rate, frame_rate=frame_rate(h.warp))
        total.add(h.utterance.truth, found)
        if by is not None:
            parts.setdefault(str(getattr(h.utterance.delivery, by)), Score()).add(h.utterance.truth, found)
    return parts if by is not None else total


def streamed(heard: list[Heard], stream: StreamSettings, settings: Settings | None = None,
             chunk: int = 320) -> tuple[Score, float]:
    """Each utterance streamed in ``chunk``-sample pieces; the score and CPU s per audio s."""
    s = settings or Settings()
    model = load_model()
    total = Score()
    cpu = audio_s = 0.0
    for h in heard:
        recognizer = StreamRecognizer(model, stream, search=s.search, gate=s.gate, edges=s.edges, warp=h.warp)
        began = time.process_time()
        spans = []
        for at in range(0, len(h.samples), chunk):
            spans += recognizer.push(h.samples[at : at + chunk])
        spans += recognizer.finish()
        cpu += time.process_time() - began
        audio_s += len(h.samples) / RATE
        total.add(h.utterance.truth, spans_timeline(join_spans(spans), len(h.audio), h.audio.sample_rate,
                                                    frame_rate=frame_rate(h.warp)))
    return total, cpu / audio_s


def live(heard: list[Heard], stream: StreamSettings) -> tuple[Score, float]:
    """Each utterance as a live voice (10 ms chunks through ``heard_pieces``); score, CPU s/s."""
    from lipsync.alignment.heard import heard_pieces

    total = Score()
    cpu = audio_s = 0.0
    for h in heard:
        audio = h.audio
        size = audio.sample_rate // 100
        chunks = [Audio(audio.samples[at : at + size], audio.sample_rate)
                  for at in range(0, len(audio), size)]
        began = time.process_time()
        spans: list[tuple[str, Fraction]] = []
        for piece in heard_pieces(chunks, rate=audio.sample_rate, stream=stream):
            for name, length in zip(piece.timeline.names, piece.timeline.durations, strict=True):
                spans[-1:] = ([(name, spans[-1][1] + length)] if spans and spans[-1][0] == name
                              else [*spans[-1:], (name, length)])
        cpu += time.process_time() - began
        audio_s += float(audio.duration)
        total.add(h.utterance.truth, Timeline(spans))
    return total, cpu / audio_s


def main() -> None:
    what, name = sys.argv[1], sys.argv[2]
    snr = None if len(sys.argv) < 4 or sys.argv[3] == "clean" else float(sys.argv[3])
    warp = float(sys.argv[4]) if what == "offline" and len(sys.argv) > 4 else None
    heard = condition(name, snr, warp)
    if what == "offline":
        settings = Settings(warp=warp)
        print(name, sys.argv[3:], offline(heard, settings).line())  # type: ignore[union-attr]
        for key in ("voice", "speed", "half_tone"):
            parts = offline(heard, settings, by=key)
            assert isinstance(parts, dict)
            for value, score in sorted(parts.items()):
                print(f"  {key} {value:8s} {score.line()}")
    elif what == "live":
        stream = stream_settings(float(sys.argv[4]) / 1000, live=True)
        if len(sys.argv) > 6:
            switch, loud = (None if v == "none" else float(v) for v in sys.argv[5:7])
            stream = replace(stream, switch=switch, loud_penalty=loud or 0.0)
        score, cpu = live(heard, stream)
        print(name, sys.argv[3], stream, score.line(), f"CPU {cpu:.3f}")
    else:
        lag, hop, window = (float(v) for v in sys.argv[4:7])
        score, cpu = streamed(heard, StreamSettings(commit_lag=lag, hop=hop, window=window))
        print(name, sys.argv[3], f"lag {lag} hop {hop} window {window}:", score.line(), f"CPU {cpu:.3f}")


if __name__ == "__main__":
    main()
