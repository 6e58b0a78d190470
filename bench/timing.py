"""What several benchmarks time: Open JTalk's synthesis, and ``say()`` to the first sound."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from lipsync.live.audio.null import NullOutput
from lipsync.live.speaker import Speaker
from lipsync.speech.synthesis import synthesize


def median_synthesis(text: str, rounds: int) -> float:
    """Median seconds to synthesise ``text`` in this process."""
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        synthesize(text)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def median_first_sound(source: Callable[[], object], rounds: int, join: float = 30.0) -> float:
    """Median seconds from ``say(source())`` to its first sample reaching the (null) device."""
    times = []
    with Speaker(None, audio=NullOutput()) as speaker:
        for _ in range(rounds):
            began = time.monotonic()
            utterance = speaker.say(source())  # type: ignore[arg-type]
            while utterance.started_at is None and not utterance.done:
                time.sleep(0.0005)
            assert utterance.started_at is not None
            times.append(utterance.started_at - began)
            utterance.stop()
            speaker.join(join)
    return statistics.median(times)
