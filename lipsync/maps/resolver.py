"""Make every phoneme of a timeline one the lip map knows, before it is sent or drawn.

MMDAgent-EX draws an unknown phoneme as the map's first row (a half-open mouth in the stock
file) and says nothing, so an unknown name must never get through. Each name is looked up
as it is, then through ``ALIASES`` (names other tools use for Open JTalk's phonemes); a name
still unknown is an error, or, when the caller names a stand-in, replaced with a warning.
"""

from __future__ import annotations

from lipsync._numbers import short
from lipsync.errors import ValueRefused
from lipsync.maps.lipmap import LipMap
from lipsync.maps.phonemes import ALIASES
from lipsync.names import check_token_name
from lipsync.timeline import Timeline

__all__ = ["ALIASES", "resolve"]

def resolve(
    timeline: Timeline, lipmap: LipMap, *, unknown: str | None = None
) -> tuple[Timeline, list[str]]:
    """Return the timeline with every name in ``lipmap``, and the warnings it gave.

    A name is kept if the map has it, else replaced by its alias if the map has that. A
    name still unknown raises ``ValueRefused`` naming it and its time, unless ``unknown``
    names a phoneme of the map to use instead (each replacement is warned about once).
    """
    if unknown is not None:
        check_token_name(unknown, "stand-in phoneme")
        if unknown not in lipmap:
            raise ValueRefused(f"stand-in phoneme {unknown!r} is not in {lipmap.source}")
    names: list[str] = []
    warnings: dict[str, None] = {}  # in order, each once; a dict keeps 10^5 names linear
    for phone in timeline:
        name = phone.name
        if name not in lipmap:
            alias = ALIASES.get(name)
            if alias is not None and alias in lipmap:
                name = alias
            elif unknown is not None:
                message = f"phoneme {short(name)} is not in {lipmap.source}: drawn as {unknown!r}"
                warnings.setdefault(message)
                name = unknown
            else:
                raise ValueRefused(
                    f"phoneme {short(name)} at {float(phone.start):.3f} s is not in {lipmap.source} "
                    "and has no alias (add it with 'lipsync map add', or choose a stand-in)"
                )
        names.append(name)
    return timeline.with_names(names), list(warnings)
