"""What each morph of a lip map does to the mouth: open it, close it, or stand for rest.

Read from the map's own rows, so it holds for any map, named or a user's:

- the **rest** pose is the ``sil`` row (else ``pau``, else all zeros): the mouth before and
  after speech; a closing morph the rest row sets to 0.5 or more (``sil`` of the viseme maps,
  Rhubarb's ``X``) is a **rest morph**: during speech it is what the other morphs leave
  (1 minus their sum);
- a **closing** morph is one the map weighs more in its bilabial row (``m``, else another of
  ``BILABIALS``) or at rest than in any vowel (``ん``, ``PP``, ``mouthClose``,
  ``mouthPress``, Rhubarb's ``A``, and the rest morphs); every other morph **opens** the mouth;
- a pose is **closed** when every opening morph is below ``CLOSED`` (0.1);
- a morph's **jaw share** is its share of mouth opening (``lipsync.motion.shape``: fitted so
  the map's vowels open as a reference mouth does), so a pose's jaw opening is the sum of its
  weights times their shares, with ``a`` at 1.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from lipsync.maps.lipmap import LipMap
from lipsync.motion.shape import mouth_shares

__all__ = ["BILABIALS", "CLOSED", "LABIALS", "VOWELS", "Roles", "map_roles"]

#: Phonemes the lips make by closing: the mouth must be seen shut on each.
BILABIALS = frozenset({"m", "b", "p", "my", "by", "py"})
#: Phonemes the lips make (closing, or lower lip to teeth, or rounding): they keep their own shape.
LABIALS = BILABIALS | {"f", "v", "w"}
#: Voiced vowels, whose onsets the lead is measured on.
VOWELS = ("a", "i", "u", "e", "o")
#: An opening morph below this is shut.
CLOSED = 0.1


@dataclass(frozen=True)
class Roles:
    """The roles of a map's morphs (one entry per morph, in map order)."""

    morphs: tuple[str, ...]
    rest: tuple[float, ...]
    rest_morphs: tuple[bool, ...]
    closing: tuple[bool, ...]
    jaw: tuple[float, ...]
    #: A phoneme whose own row is closed (for MMDAgent-EX, which draws rows by name), or None.
    closed_name: str | None

    def closed_pose(self, row: tuple[float, ...]) -> tuple[float, ...]:
        """``row`` with its opening morphs at 0: the mouth shut, closing morphs as the row has them."""
        return tuple(w if closing else 0.0 for w, closing in zip(row, self.closing, strict=True))

    def is_closed(self, row: tuple[float, ...]) -> bool:
        """Whether every opening morph of ``row`` is below ``CLOSED``."""
        return all(closing or w < CLOSED for w, closing in zip(row, self.closing, strict=True))


@functools.lru_cache(maxsize=32)
def map_roles(lipmap: LipMap) -> Roles:
    """The roles of ``lipmap``'s morphs (computed once per map)."""
    count = len(lipmap.morphs)
    zeros = (0.0,) * count
    rest = next((lipmap.weights(p) for p in ("sil", "pau") if p in lipmap), zeros)
    bilabial = next((lipmap.weights(p) for p in ("m", "b", "p", "my", "by", "py") if p in lipmap), zeros)
    vowels = [lipmap.weights(v) for v in VOWELS if v in lipmap]
    most = [max((row[i] for row in vowels), default=0.0) for i in range(count)]
    closing = tuple(max(bilabial[i], rest[i]) > most[i] for i in range(count))
    rest_morphs = tuple(w >= 0.5 and c for w, c in zip(rest, closing, strict=True))
    shares = mouth_shares(lipmap)
    roles = Roles(
        morphs=lipmap.morphs, rest=rest, rest_morphs=rest_morphs, closing=closing,
        jaw=tuple(shares[m][0] for m in lipmap.morphs), closed_name=None,
    )
    candidates = ("m", "p", "b", "my", "py", "by", "N", "sil", "pau")
    name = next((p for p in candidates if p in lipmap and roles.is_closed(lipmap.weights(p))), None)
    return Roles(roles.morphs, rest, rest_morphs, closing, roles.jaw, name)
