"""Where recognised speech meets silence, moved to where Open JTalk's timelines put it.

The model hears where sound starts and stops. Open JTalk's labels (what lip maps are made
for) start a phrase earlier -- a stop's silent closure and the breath before a vowel belong
to its first phoneme -- and end it later: a phrase-final vowel goes on, fading, after the
level drops, and a final devoiced vowel (``desU``) is a long whisper the model gives only
its minimum length. So after the search:

* an onset (pause -> phoneme) moves earlier by ``onset`` frames, by the phoneme's kind;
* a phrase-final phoneme's end moves later: its length (a devoiced vowel's with its
  consonant, the pair then shared half and half) times ``final_scale`` plus ``final_add``.

No pause is left shorter than ``keep_pause`` frames, and no edge crosses a neighbour's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["EdgeSettings", "Span", "kind_of", "place_pauses"]

#: A phoneme (Open JTalk's name) from one frame up to another (exclusive).
Span = tuple[str, int, int]
_SILENT = frozenset({"sil", "pau"})
_VOICELESS_STOPS = frozenset("k ky t p py ch ts".split())
_VOICED_STOPS = frozenset("g gy d dy b by j".split())


def kind_of(name: str) -> str:
    """``vowel``, ``devoiced``, ``N``, ``cl``, ``voiceless-stop``, ``voiced-stop`` or ``consonant``."""
    if name in ("a", "i", "u", "e", "o"):
        return "vowel"
    if name in ("A", "I", "U", "E", "O"):
        return "devoiced"
    if name in ("N", "cl"):
        return name
    if name in _VOICELESS_STOPS:
        return "voiceless-stop"
    return "voiced-stop" if name in _VOICED_STOPS else "consonant"


def _onsets() -> dict[str, int]:
    return {"vowel": 5, "voiceless-stop": 7, "voiced-stop": 3, "consonant": 6, "N": 4, "cl": 4, "devoiced": 4}


@dataclass(frozen=True)
class EdgeSettings:
    """How far edges move (frames), by the kind of phoneme beside the pause."""

    onset: dict[str, int] = field(default_factory=_onsets)
    final_scale: dict[str, float] = field(default_factory=lambda: {"vowel": 1.3, "devoiced": 1.5, "N": 1.3})
    final_add: dict[str, int] = field(default_factory=lambda: {"vowel": 2, "devoiced": -2, "N": 3})
    keep_pause: int = 5


def place_pauses(spans: Sequence[Span], settings: EdgeSettings | None = None) -> list[Span]:
    """``spans`` (back to back) with each speech/silence edge moved as the module says."""
    s = settings or EdgeSettings()
    if not spans:
        return []
    names = [span[0] for span in spans]
    bounds = [span[1] for span in spans] + [spans[-1][2]]
    last = len(spans) - 1
    for k in range(last):  # phrase ends: span k is speech, span k + 1 silence
        if names[k] in _SILENT or names[k + 1] not in _SILENT:
            continue
        kind = kind_of(names[k])
        paired = kind == "devoiced" and k > 0 and names[k - 1] not in _SILENT
        first = k - 1 if paired else k
        length = bounds[k + 1] - bounds[first]
        want = bounds[first] + round(length * s.final_scale.get(kind, 1.0) + s.final_add.get(kind, 0))
        limit = bounds[k + 2] - (s.keep_pause if k + 1 < last else 0)
        bounds[k + 1] = max(bounds[k + 1], min(want, limit))
        if paired:
            bounds[k] = bounds[first] + max(1, round((bounds[k + 1] - bounds[first]) / 2))
    for k in range(last):  # onsets: span k is silence, span k + 1 speech
        if names[k] not in _SILENT or names[k + 1] in _SILENT:
            continue
        want = bounds[k + 1] - s.onset.get(kind_of(names[k + 1]), 0)
        limit = bounds[k] + (s.keep_pause if k > 0 else 0)
        bounds[k + 1] = min(bounds[k + 1], max(want, limit))
    return [(name, bounds[k], bounds[k + 1]) for k, name in enumerate(names) if bounds[k + 1] > bounds[k]]
