"""Named lip maps shipped with lipsync: one per avatar standard, reachable by name.

``load_map("vrm")`` (and ``--map vrm`` on the command line) reads ``lipsync/maps/vrm.txt``.
Each file's header says where its morph names come from and how its weights were chosen.
``mmdagent`` is MMDAgent-EX's stock ``lip.txt`` byte for byte, and the default: the
repository's ``data/lip.txt``, installed as ``lipsync/data/lip.txt``.

A bare word that is one of ``MAP_NAMES`` always means the named map, even when a file of
that name is in the current folder (write ``./vrm`` for the file): a command then means the
same thing wherever it runs.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from lipsync.errors import ValueRefused
from lipsync.maps.lipmap import LipMap

__all__ = ["DEFAULT_MAP", "MAP_NAMES", "load_map", "map_bytes", "named_map", "unknown_map"]

logger = logging.getLogger("lipsync.maps")

#: The named maps, and what each is for (``lipsync map list`` prints this).
MAP_NAMES: dict[str, str] = {
    "mmdagent": "MMDAgent-EX's stock lip.txt (あ い う お), the default",
    "mmd": "MikuMikuDance models: あ い う え お ん",
    "vrm": "VRM 1.0 expressions: aa ih ou ee oh",
    "vrm0": "VRM 0.x blend shapes: A I U E O",
    "live2d": "Live2D parameters: ParamMouthOpenY, ParamMouthForm (-1..1)",
    "arkit": "ARKit blend shapes: jawOpen, mouthFunnel, mouthPucker, ...",
    "oculus": "Oculus / Meta visemes: sil PP FF TH DD kk CH SS nn RR aa E ih oh ou",
    "rpm": "Ready Player Me visemes: viseme_sil viseme_PP ... viseme_aa viseme_E viseme_I viseme_O viseme_U",
    "rhubarb": "Rhubarb Lip Sync mouth shapes A-H and X, one-hot",
}

#: The map used when none is given.
DEFAULT_MAP = "mmdagent"


def map_bytes(name: str) -> bytes:
    """The file of named map ``name``, as shipped."""
    if name not in MAP_NAMES:
        raise ValueRefused(f"no named map {name!r}: the names are {', '.join(MAP_NAMES)}")
    from importlib.resources import files

    if name == DEFAULT_MAP:
        return _stock_map()
    return files("lipsync.maps").joinpath(f"{name}.txt").read_bytes()


def _stock_map() -> bytes:
    """``data/lip.txt``: installed as ``lipsync/data/lip.txt``; in a checkout run without
    installing (``PYTHONPATH=.``), the repository's own file."""
    from importlib.resources import files

    try:
        return files("lipsync.data").joinpath("lip.txt").read_bytes()
    except ModuleNotFoundError:
        return (Path(__file__).resolve().parents[2] / "data" / "lip.txt").read_bytes()


@functools.cache
def named_map(name: str) -> LipMap:
    """The named map ``name`` as a ``LipMap`` (its ``source`` is ``map NAME``, its path None).

    Parsed once per process: a ``LipMap`` is immutable, so every caller may share it.
    """
    return LipMap.parse(map_bytes(name), source=f"map {name}")


def load_map(source: str | Path | None = None) -> LipMap:
    """Load a named map (``"vrm"``, see ``lipsync.maps.MAP_NAMES``) or the lip map at a path.

    ``None`` gives the default, ``mmdagent``: MMDAgent-EX's stock map as the agent ships it
    (it has no ``gw``/``kw`` rows: ``lipsync.resolve`` sends them as ``g``/``k``). A ``str``
    that is a map name is the named map even if a file of that name exists (write ``./vrm``
    for the file); a ``Path`` is always a file.
    """
    if source is None:
        return named_map(DEFAULT_MAP)
    if isinstance(source, str) and source in MAP_NAMES:
        if Path(source).exists():
            logger.warning("%s: the named map %r, not the file of that name (write ./%s for it)",
                           source, source, source)
        return named_map(source)
    path = Path(source)
    if isinstance(source, str) and not path.exists() and path.name == source and not path.suffix:
        raise unknown_map(source, "no such file")
    return LipMap.load(path)


def unknown_map(name: str, why: str) -> ValueRefused:
    """The error for ``name``, neither a named map nor a map file (``why``: why not a file).

    ``lipsync say --map`` and ``lipsync serve`` say it alike: the named maps, and the closest
    to ``name`` if one is close.
    """
    import difflib

    from lipsync._numbers import short

    close = difflib.get_close_matches(name.lower(), MAP_NAMES, n=1, cutoff=0.6)
    hint = f": did you mean {close[0]}?" if close else ""
    shown = name if name.isprintable() and len(name) <= 60 else short(name)
    return ValueRefused(f"{shown}: {why}, and not a named map ({', '.join(MAP_NAMES)}){hint}")
