"""Speech without its text: the recogniser on the held-out set, offline, streamed and live.

Targets (issue 19), on speech whose true phoneme times are known (bench/recognition.py's
held-out set: voices, speeds, pitches, rates and sentences no setting was chosen on), scored
per 10 ms frame in 7 mouth classes (tests/mouth.py):

- offline: >= 92 % frames and >= 96 % open/closed clean, >= 88 % frames at 30 dB SNR; pause
  edges >= 80 % within 33.3 ms;
- streamed with the default look-ahead (the sound held back that long): >= 88 % frames clean,
  the mouth's timing error within +-20 ms (median); live (<= 150 ms look-ahead): >= 80 %;
- speed: <= 0.1 x real time offline; streaming <= 0.5 of a core;
- memory bounded whatever the length (a file of 20 minutes, a stream of 5).
"""

from __future__ import annotations

import subprocess
import sys
import time
from fractions import Fraction

import numpy as np
from conftest import ROOT
from mouth import Score
from recognition import HELD_OUT_SENTENCES, Utterance, utterances, with_noise

from lipsync.alignment.heard import LIVE_LOOKAHEAD, LOOKAHEAD, heard_pieces, stream_settings
from lipsync.alignment.model import load_model
from lipsync.alignment.recognize import recognize
from lipsync.sound import Audio
from lipsync.timeline import Timeline

_HELD: list[Utterance] = []


def held_out() -> list[Utterance]:
    if not _HELD:
        _HELD.extend(utterances("held_out"))
    return _HELD


def streamed(audio: Audio, lookahead: float, *, live: bool = False) -> Timeline:
    """What a stream of ``audio`` plays: its pieces' timelines, end to end (20 ms chunks as a
    pipe sends them; 10 ms, a microphone's, when ``live``)."""
    size = audio.sample_rate // (100 if live else 50)
    chunks = [Audio(audio.samples[at : at + size], audio.sample_rate) for at in range(0, len(audio), size)]
    spans: list[tuple[str, Fraction]] = []
    settings = stream_settings(lookahead, live=live)
    for piece in heard_pieces(chunks, rate=audio.sample_rate, stream=settings):
        for name, length in zip(piece.timeline.names, piece.timeline.durations, strict=True):
            spans[-1:] = ([(name, spans[-1][1] + length)] if spans and spans[-1][0] == name
                          else [*spans[-1:], (name, length)])
    return Timeline(spans)


def loudness(audio: Audio) -> Timeline:
    """The baseline avatars fall back on: the mouth open as "a" where the sound is loud (within
    50 dB of its loud frames and 3 dB over its floor, per 10 ms), shut elsewhere."""
    samples = audio.resampled(16000).to_float32().astype(np.float64)
    count = len(samples) // 160
    power = (samples[: count * 160].reshape(count, 160) ** 2).mean(axis=1)
    level = 10 * np.log10(power + 1e-10)
    loud = level > max(np.percentile(level, 95) - 50, np.percentile(level, 10) + 3)
    spans: list[tuple[str, Fraction]] = []
    for k, on in enumerate(loud):
        name = "a" if on else "sil"
        size = Fraction(160, 16000) if k < count - 1 else audio.duration - Fraction((count - 1) * 160, 16000)
        spans[-1:] = ([(name, spans[-1][1] + size)] if spans and spans[-1][0] == name
                      else [*spans[-1:], (name, size)])
    return Timeline(spans)


def _offline() -> tuple[Score, Score, Score, float, float]:
    clean, noisy, volume = Score(), Score(), Score()
    spent = heard = 0.0
    load_model()
    for k, u in enumerate(held_out()):
        began = time.process_time()
        clean.add(u.truth, recognize(u.audio))
        spent += time.process_time() - began
        heard += float(u.audio.duration)
        noisy.add(u.truth, recognize(with_noise(u.audio, u.truth, 30.0, seed=k)))
        volume.add(u.truth, loudness(u.audio))
    return clean, noisy, volume, spent, heard


def test_offline_accuracy_and_speed(benchmark, figures):
    clean, noisy, volume, spent, heard = benchmark.pedantic(_offline, rounds=1)
    count = f"{len(held_out())} utterances, {len(HELD_OUT_SENTENCES)} sentences"
    figures.add(f"no text, offline: frames right, clean ({count})", clean.frame_rate, "%",
                target="≥ 92 %", check=lambda v, b: v >= 92)
    figures.add("no text, offline: open/closed right, clean", clean.open_rate, "%", target="≥ 96 %",
                check=lambda v, b: v >= 96)
    figures.add("no text, offline: pause edges within 33.3 ms, clean", clean.edge_rate, "%", target="≥ 80 %",
                check=lambda v, b: v >= 80)
    figures.add("no text, offline: frames right, 30 dB SNR (white noise)", noisy.frame_rate, "%",
                target="≥ 88 %", check=lambda v, b: v >= 88)
    figures.add("no text, offline: open/closed right, 30 dB SNR", noisy.open_rate, "%")
    figures.add("no text, offline: pause edges within 33.3 ms, 30 dB SNR", noisy.edge_rate, "%")
    figures.add("no text, baseline: the mouth open where the sound is loud, frames right, clean",
                volume.frame_rate, "%")
    figures.add("no text, baseline: open where loud, open/closed right, clean", volume.open_rate, "%")
    figures.add("no text: audio heard (held-out set)", heard)
    figures.add("no text, offline: CPU time to hear it", spent,
                baseline="no text: audio heard (held-out set)", target="≤ 0.1 × audio",
                check=lambda v, b: b is not None and v <= 0.1 * b)


def _stream(lookahead: float, live: bool = False) -> tuple[Score, float, float]:
    score = Score()
    spent = heard = 0.0
    for u in held_out():
        began = time.process_time()
        score.add(u.truth, streamed(u.audio, lookahead, live=live))
        spent += time.process_time() - began
        heard += float(u.audio.duration)
    return score, spent, heard


def test_streamed_accuracy_timing_and_cpu(benchmark, figures):
    score, spent, heard = benchmark.pedantic(_stream, args=(LOOKAHEAD,), rounds=1)
    ms = f"{LOOKAHEAD * 1000:g} ms"
    figures.add(f"no text, streamed, sound held back {ms} (default): frames right, clean",
                score.frame_rate, "%", target="≥ 88 %", check=lambda v, b: v >= 88)
    figures.add(f"no text, streamed {ms}: open/closed right, clean", score.open_rate, "%")
    figures.add(f"no text, streamed {ms}: mouth timing error, median of {len(score.timing)} changes",
                score.median_timing, target="within ±20 ms", check=lambda v, b: abs(v) <= 0.02)
    figures.add(f"no text, streamed {ms}: CPU per second of audio", spent / heard, "core",
                target="≤ 0.5 core", check=lambda v, b: v <= 0.5)


def test_live_accuracy_and_cpu(benchmark, figures):
    score, spent, heard = benchmark.pedantic(_stream, args=(LIVE_LOOKAHEAD, True), rounds=1)
    ms = f"{LIVE_LOOKAHEAD * 1000:g} ms"
    figures.add(f"no text, live, mouth {ms} behind the voice (listen's default): frames right, clean",
                score.frame_rate, "%", target="≥ 80 %", check=lambda v, b: v >= 80)
    figures.add(f"no text, live {ms}: open/closed right, clean", score.open_rate, "%")
    figures.add(f"no text, live {ms}: CPU per second of audio", spent / heard, "core", target="≤ 0.5 core",
                check=lambda v, b: v <= 0.5)
    for lookahead in (0.2, 0.3):
        more, _, _ = _stream(lookahead, True)
        figures.add(f"no text, live, mouth {lookahead * 1000:g} ms behind: frames right, clean",
                    more.frame_rate, "%")


_PEAK = """
import sys, threading, time
import numpy as np
from lipsync import Audio, synthesize
from lipsync.alignment.heard import heard_pieces, stream_settings
from lipsync.alignment.recognize import recognize
def status(key):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith(key))
highest = [0]
def watch():  # the resident memory, every 20 ms: its peak while hearing (VmHWM counts Open JTalk's)
    while True:
        highest[0] = max(highest[0], status("VmRSS"))
        time.sleep(0.02)
threading.Thread(target=watch, daemon=True).start()
kind, seconds = sys.argv[1], float(sys.argv[2])
one, _ = synthesize("今日は駅前の本屋で、新しい料理の本を買いました。明日はそれを見て晩ご飯を作ります。")
one = one.resampled(24000)
reps = int(seconds / float(one.duration)) + 1
if kind == "file":
    audio = Audio(np.tile(one.samples, reps)[: round(seconds * 24000)].copy(), 24000)
    time.sleep(0.1)
    before = status("VmRSS")  # the audio itself loaded: what hearing it adds is the question
    highest[0] = 0
    timeline = recognize(audio)
    assert timeline.end == audio.duration
else:
    size = 480
    def chunks():
        for _ in range(reps):
            for at in range(0, len(one), size):
                yield Audio(one.samples[at : at + size], 24000)
    time.sleep(0.1)
    before = status("VmRSS")
    highest[0] = 0
    for piece in heard_pieces(chunks(), rate=24000, stream=stream_settings(0.4)):
        pass
time.sleep(0.05)
print(highest[0] - before)
"""


def _peak(kind: str, seconds: float) -> float:
    done = subprocess.run([sys.executable, "-c", _PEAK, kind, str(seconds)], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    return float(done.stdout.split()[-1])


def test_memory_stays_bounded_whatever_the_length(benchmark, figures):
    peaks = benchmark.pedantic(lambda: {(k, s): _peak(k, s) for k, s in (("file", 60), ("file", 1200),
                                                                          ("stream", 60), ("stream", 300))},
                               rounds=1)
    # Peak memory while hearing, over what the process held before (the model loads then, so it
    # counts; the file's own samples do not: a file is held whole, at 2.9 MB a minute at 24 kHz).
    one = "no text: memory hearing a file of 1 minute (peak, over the audio loaded)"
    figures.add(one, peaks["file", 60], "B")
    figures.add("no text: memory hearing a file of 20 minutes (peak, over the audio loaded)",
                peaks["file", 1200], "B", baseline=one, target="≤ 1.1 × the 1-minute file",
                check=lambda v, b: b is not None and v <= 1.1 * b)
    figures.add("no text: memory hearing a stream of 1 minute (peak)", peaks["stream", 60], "B")
    figures.add("no text: memory hearing a stream of 5 minutes (peak)", peaks["stream", 300], "B",
                baseline="no text: memory hearing a stream of 1 minute (peak)",
                target="≤ 1.05 × the 1-minute stream", check=lambda v, b: b is not None and v <= 1.05 * b)
