"""lipsync: move a 3-D character's mouth in time with speech.

The data flows one way::

    text or label file -> Timeline -> checked against a LipMap -> chunks -> Speaker

- ``LipMap`` / ``load_map()``: MMDAgent-EX's phoneme map (lip.txt): parse, validate, edit, save.
- ``LipsyncError`` and its tree (``lipsync.errors``): everything lipsync refuses.

Importing lipsync loads neither Open JTalk, nor an audio library, nor numpy: they load when
first used.
"""

from __future__ import annotations

from lipsync.errors import (
    AgentUnreachable,
    AudioError,
    LipsyncError,
    MissingDependency,
    NameRefused,
    ParseError,
    SourceError,
    SynthesisError,
    TransportError,
    ValueRefused,
)
from lipsync.lipmap import OPEN_JTALK_PHONEMES, LipMap, LipWarning, load_map

__version__ = "0.1.0"

__all__ = [
    "AgentUnreachable",
    "AudioError",
    "LipMap",
    "LipWarning",
    "LipsyncError",
    "MissingDependency",
    "NameRefused",
    "OPEN_JTALK_PHONEMES",
    "ParseError",
    "SourceError",
    "SynthesisError",
    "TransportError",
    "ValueRefused",
    "__version__",
    "load_map",
]
