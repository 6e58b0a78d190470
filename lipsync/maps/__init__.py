"""Lip maps: which mouth morphs each phoneme moves (MMDAgent-EX's ``lip.txt`` and its kin).

- ``LipMap`` (``lipmap``): the immutable map type; parse, validate, edit, save byte-exact
  (its text layout, checks and warnings are ``layout``'s, its grammar ``lipmap.lark``).
- ``load_map``, ``MAP_NAMES``, ``named_map`` (``named``): the maps shipped with lipsync, one per
  avatar standard (``*.txt`` here; ``mmdagent`` is ``data/lip.txt``, MMDAgent-EX's stock map).
- ``resolve`` (``resolver``): make every phoneme of a timeline one the map knows.
- ``OPEN_JTALK_PHONEMES``, ``ALIASES`` (``phonemes``): the names maps are checked against.
"""

from __future__ import annotations

from lipsync.maps.lipmap import LipMap, LipWarning, format_weight
from lipsync.maps.named import DEFAULT_MAP, MAP_NAMES, load_map, map_bytes, named_map
from lipsync.maps.phonemes import ALIASES, OPEN_JTALK_PHONEMES
from lipsync.maps.resolver import resolve

__all__ = [
    "ALIASES",
    "DEFAULT_MAP",
    "MAP_NAMES",
    "OPEN_JTALK_PHONEMES",
    "LipMap",
    "LipWarning",
    "format_weight",
    "load_map",
    "map_bytes",
    "named_map",
    "resolve",
]
