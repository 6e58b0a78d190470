"""One export: where the speech comes from, what to write, and writing it whole or not at all.

An ``ExportJob`` is a plain value (it crosses process boundaries in ``--batch``); ``run``
reads its source, checks the names against the map, and writes the output atomically.
``render`` makes the output's bytes without touching the output, from input bytes the caller
read (a batch worker gets them from the submitting side and never reads or writes a file).
Text is timed by Open JTalk's duration step alone (no waveform is made: the timeline is the
same, at about 1/16 of the cost), or by a TTS engine's own timing (``tts``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lipsync._atomic import write_atomic
from lipsync.errors import UntimedLabels, ValueRefused
from lipsync.export import DEFAULT_MAPS, LABEL_EXPORTS, export_bytes, format_for
from lipsync.motion.settings import Motion
from lipsync.timeline import Timeline

if TYPE_CHECKING:
    from lipsync.engines.base import Engine, EngineVoice
    from lipsync.maps.lipmap import LipMap

__all__ = ["ExportJob", "job_timeline", "render", "run"]


@dataclass(frozen=True)
class ExportJob:
    """What one ``lipsync export`` does. Give exactly one of ``text``, ``labels``, ``sequence``,
    or ``wav`` alone.

    ``wav`` is the speech's audio (any format ``Audio.load`` reads): with ``text``, the text
    is aligned to it (``lipsync.align``, any voice); with ``labels`` or ``sequence`` it gives
    Rhubarb's ``soundFile`` and duration; alone, its phonemes are heard without the text
    (``lipsync.alignment.recognize``: less accurate, for recordings without a transcript).
    ``tts`` (an engine's URL, ``lipsync.engines``) with ``tts_voice`` speaks ``text`` instead
    of Open JTalk.
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
    tts: str | None = None
    tts_voice: EngineVoice | None = None
    motion: Motion = field(default_factory=Motion)
    #: The face mesh's path from the animated root (.anim, .tres); None: the format's default.
    mesh_path: str | None = None
    #: ``(morph, name)``: write a morph under the model's own name for it.
    renames: tuple[tuple[str, str], ...] = ()
    strict: bool = False  # refuse a doubtful alignment of ``wav`` to ``text``

    @property
    def target_format(self) -> str:
        return self.format or format_for(self.output)


def job_timeline(
    job: ExportJob, *, audio: bytes | None = None, labels: bytes | None = None,
    voice: str | Path | None = None,
) -> tuple[Timeline, float | None]:
    """The job's timeline (names as the source gives them) and its audio's length, if known.

    ``audio`` and ``labels`` are the bytes of ``job.wav`` and ``job.labels`` when the caller
    has read them (the paths then only name them); ``voice`` stands for ``job.voice``.
    """
    given = [n for n in ("text", "labels", "sequence") if getattr(job, n) is not None]
    if len(given) != 1 and not (job.wav is not None and not given):
        raise ValueRefused("give exactly one of TEXT, --labels FILE, --sequence SEQ or --wav AUDIO alone")
    voice = voice if voice is not None else job.voice
    duration: float | None = None
    sound = None
    if job.wav is not None:
        from lipsync.sound import Audio

        sound = Audio.decode(audio, str(job.wav)) if audio is not None else Audio.load(job.wav)
        duration = float(sound.duration)
        if job.text is not None:
            from lipsync.alignment.aligner import align

            return align(sound, job.text, strict=job.strict), duration
        if not given:  # no transcript: the phonemes heard in the audio alone
            from lipsync.alignment.recognize import recognize

            return recognize(sound), duration
    if job.text is not None and job.tts is not None:
        from lipsync.engines.stream import engine_timing

        timeline = engine_timing(_engine(job.tts, job.tts_voice), job.text)
        return timeline, float(timeline.end)
    if job.text is not None:
        from lipsync.speech.synthesis import durations

        timeline = durations(job.text, voice=voice, speed=job.speed)
        return timeline, float(timeline.end)
    if job.labels is not None:
        from lipsync.labels import decode_labels, read_labels

        try:
            if labels is not None:
                timeline = decode_labels(labels, str(job.labels), job.label_format, tier=job.tier,
                                         voice=voice, speed=job.speed)
            else:
                timeline = read_labels(job.labels, job.label_format, tier=job.tier, voice=voice,
                                       speed=job.speed)
        except UntimedLabels:
            if sound is None:
                raise
            from lipsync.alignment.query import align_query
            from lipsync.labels import read_query_phonemes
            from lipsync.labels.voicevox import query_phonemes

            # Read whole by the reader above, so its bytes are UTF-8 text.
            phonemes = (query_phonemes(labels.decode("utf-8"), str(job.labels)) if labels is not None
                        else read_query_phonemes(job.labels))
            timeline = align_query(sound, phonemes)  # a query without timing: align the audio to it
        return timeline, duration
    assert job.sequence is not None
    return Timeline.from_sequence(job.sequence), duration


def render(
    job: ExportJob, *, audio: bytes | None = None, labels: bytes | None = None, lipmap: LipMap | None = None,
    voice: str | Path | None = None, on_warning: Callable[[str], None] | None = None,
) -> bytes:
    """The bytes ``job`` would write (nothing is written; ``job.output`` only names them).

    ``audio``, ``labels`` and ``voice`` as for ``job_timeline``; ``lipmap`` stands for
    ``job.map`` (or the format's default map) when given.
    """
    from lipsync.maps.named import load_map
    from lipsync.maps.resolver import resolve

    fmt = job.target_format  # refuses an unknown extension before any work
    timeline, duration = job_timeline(job, audio=audio, labels=labels, voice=voice)
    if fmt in LABEL_EXPORTS:
        return export_bytes(timeline, fmt)
    if lipmap is None:
        lipmap = load_map(job.map if job.map is not None else DEFAULT_MAPS.get(fmt))
    timeline, warnings = resolve(timeline, lipmap, unknown=job.unknown)
    for warning in warnings:
        if on_warning is not None:
            on_warning(warning)
    try:
        return export_bytes(
            timeline, fmt, lipmap, fps=job.fps, duration=duration,
            sound_file=str(job.wav) if job.wav is not None else "", model=job.model,
            motion=job.motion, name=job.output.name.split(".")[0] or "mouth", mesh_path=job.mesh_path,
            renames=job.renames,
        )
    except ValueRefused as exc:  # name the file it was for
        raise ValueRefused(f"{job.output}: {exc}") from exc


def run(job: ExportJob, on_warning: Callable[[str], None] | None = None) -> Path:
    """Do ``job``: write its output atomically (never half a file) and return the path."""
    write_atomic(job.output, render(job, on_warning=on_warning))
    return job.output


@functools.lru_cache(maxsize=8)
def _engine(url: str, voice: EngineVoice | None) -> Engine:
    """One engine per URL and voice in this process: a batch's lines share its connection."""
    from lipsync.engines import open_engine

    return open_engine(url, voice)
