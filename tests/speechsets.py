"""Speech to measure the mouth on: the sentences the rules were tuned on, and held-out speech.

Tuning: ``tests/fixtures/motion/tune.txt`` in the mei voice at speed 1. Held out (no rule was
tuned on it): ``heldout.txt`` in four mei styles at speeds 1, 1.3, 0.8 and 1.5, and the 100
JSUT label files (a real speaker's timing, tests/fixtures/reference). Timings come from Open
JTalk's duration step (no audio), once per process.
"""

from __future__ import annotations

import functools
from pathlib import Path

from lipsync import read_labels
from lipsync.speech.synthesis import durations
from lipsync.timeline import Timeline

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REFERENCE = FIXTURES / "reference"
VOICES = REFERENCE / "voices"
#: (voice, speed) of the held-out sentences: None is the default voice, mei normal.
HELD_OUT_VOICES = ((None, 1.0), (VOICES / "mei_happy.htsvoice", 1.3), (VOICES / "mei_sad.htsvoice", 0.8),
                   (VOICES / "mei_angry.htsvoice", 1.5))


def sentences(name: str) -> list[str]:
    """The sentences of ``tests/fixtures/motion/NAME.txt`` (``#`` lines are comments)."""
    text = (FIXTURES / "motion" / f"{name}.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


@functools.cache
def tuning() -> tuple[Timeline, ...]:
    return tuple(durations(s) for s in sentences("tune"))


@functools.cache
def held_out() -> tuple[Timeline, ...]:
    spoken = [durations(s, voice=voice, speed=speed) for voice, speed in HELD_OUT_VOICES
              for s in sentences("heldout")]
    labels = [read_labels(p) for p in sorted(Path(REFERENCE / "labels" / "jsut-basic5000").glob("*.lab"))]
    return tuple(spoken + labels)
