"""One export: where the speech comes from, what to write, and writing it whole or not at all.

An ``ExportJob`` is a plain value (it crosses process boundaries in ``--batch``); ``run``
reads its source, checks the names against the map, and writes the output atomically.
Text is timed by Open JTalk's duration step alone (no waveform is made: the timeline is the
same, at about 1/16 of the cost).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lipsync._atomic import write_atomic
from lipsync.errors import ValueRefused
from lipsync.export import DEFAULT_MAPS, LABEL_EXPORTS, export_bytes, format_for
from lipsync.timeline import Timeline

__all__ = ["ExportJob", "job_timeline", "run"]


@dataclass(frozen=True)
class ExportJob:
    """What one ``lipsync export`` does. Give exactly one of ``text``, ``labels``, ``sequence``,
    or ``wav`` alone.

    ``wav`` is the speech's audio (any format ``Audio.load`` reads): with ``text``, the text
    is aligned to it (``lipsync.align``, any voice); alone, its phonemes are heard without the
    text (``lipsync.alignment.recognize``: less accurate, for recordings without a transcript);
    with ``labels`` or ``sequence`` it gives Rhubarb's ``soundFile`` and duration.
    """

    output: Path
    text: str | None = None
    labels: Path | None = None
    sequence: str | None = None
    wav: Path | None = None
    format: str | None = None
    map: str | None = None
    fps: float = 60.0
    label_format: str | None = None
    tier: str | None = None
    voice: Path | None = None
    speed: float = 1.0
    unknown: str | None = None
    model: str = ""

    @property
    def target_format(self) -> str:
        return self.format or format_for(self.output)


def job_timeline(job: ExportJob) -> tuple[Timeline, float | None]:
    """The job's timeline (names as the source gives them) and its audio's length, if known."""
    given = [n for n in ("text", "labels", "sequence") if getattr(job, n) is not None]
    if len(given) != 1 and not (job.wav is not None and not given):
        raise ValueRefused("give exactly one of TEXT, --labels FILE, --sequence SEQ or --wav AUDIO alone")
    duration: float | None = None
    if job.wav is not None:
        from lipsync.sound import Audio

        audio = Audio.load(job.wav)
        duration = float(audio.duration)
        if job.text is not None:
            from lipsync.alignment.aligner import align

            return align(audio, job.text), duration
        if not given:  # no transcript: the phonemes heard in the audio alone
            from lipsync.alignment.recognize import recognize

            return recognize(audio), duration
    if job.text is not None:
        from lipsync.speech.synthesis import durations

        timeline = durations(job.text, voice=job.voice, speed=job.speed)
        return timeline, float(timeline.end)
    if job.labels is not None:
        from lipsync.labels import read_labels

        timeline = read_labels(job.labels, job.label_format, tier=job.tier, voice=job.voice, speed=job.speed)
        return timeline, duration
    assert job.sequence is not None
    return Timeline.from_sequence(job.sequence), duration


def run(job: ExportJob, on_warning: Callable[[str], None] | None = None) -> Path:
    """Do ``job``: write its output atomically (never half a file) and return the path."""
    from lipsync.maps.named import load_map
    from lipsync.maps.resolver import resolve

    fmt = job.target_format  # refuses an unknown extension before any work
    timeline, duration = job_timeline(job)
    if fmt in LABEL_EXPORTS:
        data = export_bytes(timeline, fmt)
    else:
        lipmap = load_map(job.map if job.map is not None else DEFAULT_MAPS.get(fmt))
        timeline, warnings = resolve(timeline, lipmap, unknown=job.unknown)
        for warning in warnings:
            if on_warning is not None:
                on_warning(warning)
        try:
            data = export_bytes(
                timeline, fmt, lipmap, fps=job.fps, duration=duration,
                sound_file=str(job.wav) if job.wav is not None else "", model=job.model,
            )
        except ValueRefused as exc:  # name the file it was for
            raise ValueRefused(f"{job.output}: {exc}") from exc
    write_atomic(job.output, data)
    return job.output
