"""lipsync: move a 3-D character's mouth in time with speech.

The data flows one way::

    text, label file, any audio + its text, or audio alone -> Timeline -> checked against a LipMap -> Speaker

- ``LipMap`` / ``load_map()``: MMDAgent-EX's phoneme map (lip.txt): parse, validate, edit, save;
  ``load_map("vrm")`` gives a named map (``lipsync.maps``: one per avatar standard).
- ``synthesize(text)``: Japanese text -> (``Audio``, ``Timeline``) with Open JTalk's own durations.
- ``read_labels(path)``: HTS, mono, Julius, TextGrid or VOICEVOX labels -> ``Timeline``.
- ``align(audio, text)``: any voice's audio and the text it says -> ``Timeline`` (pydomino);
  ``Audio.load(path)`` reads WAV, FLAC, MP3 and Ogg Vorbis. ``recognize(audio)``: the phonemes
  heard in audio without its text (less accurate: give the text when it is known).
- ``open_engine(url)``: a local TTS engine (VOICEVOX, AivisSpeech, Style-Bert-VITS2, COEIROINK)
  as a source of speech (``lipsync.engines``); ``Speaker(tts=...)`` speaks text with it.
- ``Timeline``: ``to_sequence()`` / ``from_sequence()`` (``sil,187,k,75,...``), ``chunks()``.
- ``resolve(timeline, lipmap)``: every name one the map knows (aliases, or an error).
- ``mouth_curves(timeline, lipmap, motion)``: the per-morph weights over time, by lipsync's rules
  (``lipsync.motion``: closure on m/b/p, shapes a little ahead of their sound; ``Motion``: on or
  off, intensity, gains), or as MMDAgent-EX draws them; ``lipsync.export`` writes them as VMD,
  VRMA, Live2D motion3.json, Unity .anim and JSON, Godot .tres, Rhubarb cues, CSV/JSON (and
  labels), ``lipsync.plot`` draws them.
- ``Speaker``: play speech and send LIPSYNC_START when the sound really starts (TCP,
  WebSocket or stdout), LIPSYNC_STOP when it is cut short; or, with ``to=None``, call
  ``on_weights`` with the mouth weights in step with the audio. ``say()`` gives an
  ``Utterance``; ``say(chunks)`` hears a stream of ``Audio`` without text as it comes.
- ``LipsyncError`` and its tree (``lipsync.errors``): everything lipsync refuses.

Importing lipsync loads neither Open JTalk, nor an audio or WebSocket library, nor numpy: they load when
first used.
"""

from __future__ import annotations

import importlib

# typing.TYPE_CHECKING without importing typing: the command line's signal handlers wait for
# this module, and typing costs milliseconds of start-up (type checkers read the name alike).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from lipsync.alignment.aligner import align
    from lipsync.alignment.recognize import recognize
    from lipsync.curves import MouthCurves
    from lipsync.engines import open_engine
    from lipsync.errors import (
        AgentUnreachable,
        AlignmentRefused,
        AudioError,
        EngineError,
        EngineUnreachable,
        LipsyncError,
        MissingDependency,
        NameRefused,
        ParseError,
        SourceError,
        SynthesisError,
        TransportError,
        UnknownSpeaker,
        UntimedLabels,
        ValueRefused,
    )
    from lipsync.labels import read_labels
    from lipsync.live.speaker import Speaker, Utterance
    from lipsync.maps.lipmap import OPEN_JTALK_PHONEMES, LipMap, LipWarning
    from lipsync.maps.named import load_map
    from lipsync.maps.resolver import resolve
    from lipsync.motion import Motion, mouth_curves
    from lipsync.sound import Audio
    from lipsync.speech.synthesis import synthesize
    from lipsync.timeline import Chunk, Phone, Timeline

# Where each public name lives. They load on first use (PEP 562), so that ``import lipsync``
# (and the command line, which installs its signal handlers first) starts in a few ms.
_WHERE = {
    "align": "alignment.aligner", "recognize": "alignment.recognize",
    "AgentUnreachable": "errors", "AlignmentRefused": "errors", "AudioError": "errors",
    "LipsyncError": "errors", "MissingDependency": "errors", "NameRefused": "errors", "ParseError": "errors",
    "SourceError": "errors", "SynthesisError": "errors", "TransportError": "errors",
    "ValueRefused": "errors", "EngineError": "errors", "EngineUnreachable": "errors",
    "UnknownSpeaker": "errors", "UntimedLabels": "errors",
    "MouthCurves": "curves", "Motion": "motion", "mouth_curves": "motion",
    "synthesize": "speech.synthesis",
    "open_engine": "engines",
    "read_labels": "labels",
    "OPEN_JTALK_PHONEMES": "maps.lipmap", "LipMap": "maps.lipmap", "LipWarning": "maps.lipmap",
    "load_map": "maps.named",
    "resolve": "maps.resolver",
    "Audio": "sound",
    "Speaker": "live.speaker", "Utterance": "live.speaker",
    "Chunk": "timeline", "Phone": "timeline", "Timeline": "timeline",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'lipsync' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"lipsync.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


from lipsync._version import __version__  # noqa: E402

__all__ = [
    "AgentUnreachable",
    "AlignmentRefused",
    "Audio",
    "AudioError",
    "Chunk",
    "EngineError",
    "EngineUnreachable",
    "LipMap",
    "LipWarning",
    "LipsyncError",
    "MissingDependency",
    "Motion",
    "MouthCurves",
    "NameRefused",
    "OPEN_JTALK_PHONEMES",
    "ParseError",
    "Phone",
    "SourceError",
    "Speaker",
    "SynthesisError",
    "Timeline",
    "TransportError",
    "UnknownSpeaker",
    "UntimedLabels",
    "Utterance",
    "ValueRefused",
    "__version__",
    "align",
    "load_map",
    "mouth_curves",
    "open_engine",
    "read_labels",
    "recognize",
    "resolve",
    "synthesize",
]
