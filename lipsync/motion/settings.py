"""How the mouth moves (``Motion``): co-articulation on or off, its intensity, per-morph gains.

A gain file (``--gains FILE``) has one ``MORPH GAIN`` pair per line; ``#`` starts a comment
anywhere; blank lines are skipped. Its names are checked like a lip map's, its numbers are
plain decimals from 0 to ``MAX_GAIN``::

    # calm character: a smaller jaw, the same lips
    aa 0.7
    oh 0.8
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from lipsync._numbers import decimal, short
from lipsync.errors import SourceError, ValueRefused
from lipsync.names import name_fault

__all__ = ["MAX_GAIN", "MAX_INTENSITY", "Motion", "parse_gains", "read_gains"]

#: The largest global intensity: three times the map's own weights (a shout).
MAX_INTENSITY = 3.0
#: The largest gain of one morph.
MAX_GAIN = 5.0


@dataclass(frozen=True)
class Motion:
    """How the mouth moves, for every consumer of the curves.

    ``coarticulation``: lipsync's rules (``lipsync.motion.rules``: closure on bilabials,
    shapes a little ahead of their sound, no one-frame shapes, a jaw that does not snap);
    off, the mouth is MMDAgent-EX's own ``createMotion``, as before. ``intensity``
    multiplies every weight (0 to ``MAX_INTENSITY``); ``gains`` multiplies single morphs
    (``(morph, gain)`` pairs, each morph once). A map's rest morph (``sil`` of the viseme
    maps) is not scaled: it is what the others leave (see ``rules``). MMDAgent-EX draws with
    its own lip.txt: intensity and gains reach engines, not the agent.
    """

    coarticulation: bool = True
    intensity: float = 1.0
    gains: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if not (isinstance(self.intensity, int | float) and math.isfinite(self.intensity)
                and 0 <= self.intensity <= MAX_INTENSITY):
            raise ValueRefused(f"intensity must be from 0 to {MAX_INTENSITY:g}, not {short(self.intensity)}")
        seen: set[str] = set()
        for name, gain in self.gains:
            fault = name_fault(name) if isinstance(name, str) else "is not text"
            if fault:
                raise ValueRefused(f"gain for morph {short(name)}: {fault}")
            if name in seen:
                raise ValueRefused(f"morph {name!r} has two gains")
            seen.add(name)
            if not (isinstance(gain, int | float) and not isinstance(gain, bool) and math.isfinite(gain)
                    and 0 <= gain <= MAX_GAIN):
                raise ValueRefused(
                    f"gain of morph {name!r} must be from 0 to {MAX_GAIN:g}, not {short(gain)}"
                )

    @classmethod
    def of(
        cls, *, coarticulation: bool = True, intensity: float = 1.0,
        gains: Mapping[str, float] | Iterable[tuple[str, float]] | None = None,
    ) -> Motion:
        """A ``Motion`` from a dict (or pairs) of gains; values are checked."""
        pairs = list(gains.items() if isinstance(gains, Mapping) else gains or ())
        return cls(coarticulation, float(intensity), tuple((n, float(g)) for n, g in pairs))

    @property
    def scaled(self) -> bool:
        """Whether any weight is scaled (intensity or a gain other than 1)."""
        return self.intensity != 1.0 or any(g != 1.0 for _, g in self.gains)

    def scale(self, morphs: tuple[str, ...]) -> list[float]:
        """The factor of each of ``morphs``: intensity times its gain.

        ``ValueRefused`` if a gain names a morph that is not among ``morphs`` (a typo must
        not pass unnoticed).
        """
        given = dict(self.gains)
        unknown = [name for name in given if name not in morphs]
        if unknown:
            raise ValueRefused(
                f"gain for morph {unknown[0]!r}, which the map does not have (its morphs: {' '.join(morphs)})"
            )
        return [self.intensity * given.get(m, 1.0) for m in morphs]


def parse_gains(text: str, source: str = "<gains>") -> tuple[tuple[str, float], ...]:
    """The ``(morph, gain)`` pairs of a gain file's text (``SourceError`` naming the line)."""
    pairs: list[tuple[str, float]] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        body = line.split("#", 1)[0]
        tokens = body.split()
        if not tokens:
            continue
        column = body.index(tokens[0]) + 1
        if len(tokens) != 2:
            raise SourceError(source, number, column, f"expected MORPH GAIN, found {len(tokens)} fields",
                              text=text)
        name, value = tokens
        fault = name_fault(name)
        if fault:
            raise SourceError(source, number, column, f"morph {short(name)}: {fault}", text=text)
        if name in seen:
            raise SourceError(source, number, column, f"morph {name!r} has a gain already", text=text)
        gain = decimal(value, signed=False)
        if gain is None or gain > MAX_GAIN:
            raise SourceError(source, number, body.index(value, column) + 1,
                              f"expected a gain from 0 to {MAX_GAIN:g}, found {short(value)}", text=text)
        seen.add(name)
        pairs.append((name, float(gain)))
    return tuple(pairs)


def read_gains(path: str | Path) -> tuple[tuple[str, float], ...]:
    """The gains in file ``path`` (UTF-8, a BOM allowed)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueRefused(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(str(path), 1, 1, "expected UTF-8 text") from exc
    return parse_gains(text, str(path))
