"""The lip maps a ``lipsync serve`` client may name: the shipped ones, and files in one folder.

The named maps (``lipsync.maps.named.MAP_NAMES``) are always there. Files come only from
the folder the operator gave (``serve --maps-dir DIR``), by a name relative to it
(``model.txt``, ``vrm/model.txt``): never an absolute path, a ``..``, or a link leading out of
the folder; only a regular file of at most ``MAX_MAP_BYTES``, opened without blocking (a FIFO
or a device neither hangs the server nor feeds it without end). Every refusal is the same
sentence whatever the reason, so an answer never tells a file that exists from one that does
not, and no answer names a path on the server.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from lipsync.errors import ValueRefused
from lipsync.maps.lipmap import LipMap
from lipsync.maps.named import MAP_NAMES, named_map, unknown_map

__all__ = ["MAX_MAP_BYTES", "ServerMaps", "maps_folder"]

#: The largest map file a client may name (the shipped maps are under 4 KB).
MAX_MAP_BYTES = 256 * 1024
_CACHED = 64  # parsed files kept
_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
          | getattr(os, "O_NOFOLLOW", 0))


def maps_folder(folder: str | Path) -> str:
    """``folder`` as the maps folder (its real path); ``ValueRefused`` if it is not a folder."""
    if not Path(folder).is_dir():
        raise ValueRefused(f"{folder}: not a folder (--maps-dir takes the folder of the lip maps clients "
                           "may name)")
    return os.path.realpath(folder)


class ServerMaps:
    """The server's own map (``default``), the named maps, and the files in ``folder`` (or none)."""

    def __init__(self, default: LipMap, folder: str | Path | None = None) -> None:
        self.default = default
        self.folder = None if folder is None else maps_folder(folder)
        self._lock = threading.Lock()
        self._parsed: dict[tuple[str, int, int, int, int], LipMap] = {}

    def get(self, name: str | None) -> LipMap:
        """The map a ``say`` names (``None``: the server's own); ``ValueRefused`` if none."""
        if name is None:
            return self.default
        if name in MAP_NAMES:
            return named_map(name)
        if self.folder is None:
            raise unknown_map(name, "this server reads no map files (lipsync serve --maps-dir DIR)")
        found = self._file(name)
        if found is None:
            raise unknown_map(name, "no such map file in the server's --maps-dir")
        key, data = found
        with self._lock:
            parsed = self._parsed.get(key)
        if parsed is None:
            parsed = LipMap.parse(data, source=f"map {name[:60]!r}")
            with self._lock:
                if len(self._parsed) >= _CACHED:
                    self._parsed.clear()
                self._parsed[key] = parsed
        return parsed

    def _file(self, name: str) -> tuple[tuple[str, int, int, int, int], bytes] | None:
        """``(key, bytes)`` of the regular file ``name`` names in the folder (the key tells one
        version of it from another), or ``None`` whatever the reason it cannot be used."""
        assert self.folder is not None
        parts = name.split("/")
        if len(name) > 1024 or any(p in ("", ".", "..") or not p.isprintable() or "\\" in p for p in parts):
            return None
        path = os.path.realpath(os.path.join(self.folder, *parts))
        if os.path.commonpath([self.folder, path]) != self.folder or path == self.folder:
            return None
        try:
            # Look before opening: opening some devices acts (a tape rewinds, a terminal is taken).
            if not stat.S_ISREG(os.stat(path).st_mode):
                return None
            descriptor = os.open(path, _FLAGS)
        except (OSError, ValueError):
            return None
        try:
            info = os.fstat(descriptor)
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_MAP_BYTES:
                return None
            key = (name, info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
            chunks: list[bytes] = []
            size = 0
            while size <= MAX_MAP_BYTES:
                chunk = os.read(descriptor, MAX_MAP_BYTES + 1 - size)
                if not chunk:
                    return key, b"".join(chunks)
                chunks.append(chunk)
                size += len(chunk)
            return None  # it grew past the limit since it was looked at
        except OSError:
            return None
        finally:
            os.close(descriptor)
