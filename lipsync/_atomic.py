"""Safe file replacement: a crash leaves the old file or the new one, and no edit is lost.

``write_atomic`` writes what a path *means*: through a symlink to its target; over a
regular file by a synced temporary file renamed into place (keeping owner and mode); into a
FIFO, a device (``/dev/stdout``) or a hard-linked file in place, since a rename would cut
the link or replace the special file with a regular one. With ``expect``, it refuses to
overwrite a file whose bytes changed since they were read (another editor's save).

A hard-linked file cannot be replaced atomically without cutting its links, nor can another
user's file without making it ours (only root may give a file away): such files are written
in place, their old bytes kept beside them (``.NAME.lipsync-old-PID``) until the new ones are
on disk. If that process is killed in between, the next save or read (``recover``) puts the
old bytes back, whole. A file without write permission is not written, even where the
folder would allow replacing it.

``locked`` holds an exclusive ``flock`` on a file across a read-edit-write, so two
``lipsync map set`` runs on one file take turns instead of one silently undoing the other.

Temporary files are named ``.NAME.lipsync-tmp-PID-N``; those left by a killed process (its
PID is gone) are removed by the next save beside them. Finding them lists the folder, so a
writer of thousands of files in one folder passes ``sweep=False`` and calls
``sweep_temporaries`` once per folder instead (a scan per file would be quadratic).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from lipsync.errors import ValueRefused

__all__ = ["locked", "recover", "sweep_temporaries", "write_atomic"]

_TMP = ".lipsync-tmp-"
_OLD = ".lipsync-old-"
_LOCK_WAIT = 10.0  # seconds: another lipsync holding a map longer than this is stuck
_counter = itertools.count()
_held: dict[tuple[str, int], int] = {}


def _real(path: Path) -> Path:
    """The file a path names: symlinks followed (a dangling one names what it would create)."""
    return Path(os.path.realpath(path))


@contextlib.contextmanager
def locked(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on the regular file at ``path`` (re-entrant in one thread).

    Waits up to 10 s for another process's edit, then refuses. A missing file or a special
    one is not locked. The lock follows a save's rename: once taken, it is checked to be on
    the file the path names now, and taken again if a save replaced it meanwhile.
    """
    real = str(_real(Path(path)))
    key = (real, threading.get_ident())
    if key in _held:
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    fd = _lock(real, path)
    _held[key] = 1
    try:
        yield
    finally:
        del _held[key]
        if fd is not None:
            os.close(fd)  # closing the last descriptor releases the flock


def _lock(real: str, shown: str | Path) -> int | None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX: compare-before-replace still holds
        return None
    deadline = time.monotonic() + _LOCK_WAIT
    while True:
        try:
            fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ValueRefused(f"{shown}: cannot open: {exc.strerror or exc}") from exc
        held = os.fstat(fd)
        if not stat.S_ISREG(held.st_mode):
            os.close(fd)
            return None
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise ValueRefused(
                        f"{shown}: another process is editing it (locked for over {_LOCK_WAIT:g} s)"
                    ) from None
                time.sleep(0.01)
        try:
            now = os.stat(real)
        except FileNotFoundError:
            now = None
        if now is not None and (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino):
            return fd
        os.close(fd)  # a save replaced the file while we waited: lock the new one


def write_atomic(path: str | Path, data: bytes, *, expect: bytes | None = None, sweep: bool = True) -> None:
    """Write ``data`` to what ``path`` names; see the module docstring for how.

    ``expect``: the bytes the file held when it was read; if it holds others now (or is
    gone), nothing is written and ``ValueRefused`` says the file changed. ``sweep=False``
    leaves killed saves' temporary files beside it alone (see ``sweep_temporaries``).
    """
    path = Path(path)
    try:
        first = os.stat(path)  # through any symlinks
    except FileNotFoundError:
        first = None
    except OSError as exc:
        raise ValueRefused(f"{path}: cannot write: {exc.strerror or exc}") from exc
    if first is not None and stat.S_ISDIR(first.st_mode):
        raise ValueRefused(f"{path}: is a folder, not a file")
    if first is not None and not stat.S_ISREG(first.st_mode):
        # A FIFO or a device, maybe behind /dev/stdout -> /proc/self/fd/1 -> pipe:[...],
        # which has no path to resolve: open the name we were given.
        _write_in_place(path, path, data)
        return
    target = _real(path)
    with locked(target):
        if sweep:  # else the caller sweeps the folder once (sweep_temporaries), not per file
            recover(target)
        try:
            info: os.stat_result | None = os.stat(target)
        except FileNotFoundError:
            info = None
        except OSError as exc:
            raise ValueRefused(f"{path}: cannot write: {exc.strerror or exc}") from exc
        if info is not None and not _may_write(info):
            raise ValueRefused(f"{path}: read-only (mode {stat.S_IMODE(info.st_mode):04o}); not written")
        if expect is not None:
            _check_unchanged(path, target, info, expect)
        if info is not None and (not stat.S_ISREG(info.st_mode) or info.st_nlink > 1 or not _may_own(info)):
            _write_in_place(path, target, data)
        else:
            _replace(path, target, data, info)


def _may_write(info: os.stat_result) -> bool:
    """Whether the file's mode lets us write it (root too needs some write bit: a 0444 file is
    meant to stay as it is)."""
    mode = info.st_mode
    if os.geteuid() == 0:
        return bool(mode & 0o222)
    if info.st_uid == os.geteuid():
        return bool(mode & stat.S_IWUSR)
    if info.st_gid == os.getegid() or info.st_gid in os.getgroups():
        return bool(mode & stat.S_IWGRP)
    return bool(mode & stat.S_IWOTH)


def _may_own(info: os.stat_result) -> bool:
    """Whether a replacement can keep the file's owner: ours already, or we are root."""
    return os.geteuid() in (0, info.st_uid)


def recover(path: str | Path) -> bool:
    """Clean up after a save that was killed: remove its temporaries, and put back a file whose
    in-place save was killed half-way (its ``.NAME.lipsync-old-PID`` backup outlived its
    process); True if it did. A warning says so on the ``lipsync`` logger."""
    import logging

    target = _real(Path(path))
    _remove_stale(target.parent, target.name)
    prefix = f".{target.name}{_OLD}"
    try:
        stale = [entry.name for entry in os.scandir(target.parent) if entry.name.startswith(prefix)]
    except OSError:
        return False
    restored = False
    for name in sorted(stale):
        pid_text = name[len(prefix):]
        if not (pid_text.isascii() and pid_text.isdigit()) or _alive(int(pid_text)):
            continue
        backup = target.parent / name
        try:
            whole = backup.read_bytes()
            with open(target, "r+b" if target.exists() else "wb") as handle:
                handle.write(whole)
                handle.truncate()
                handle.flush()
                os.fsync(handle.fileno())
            os.unlink(backup)
        except OSError as exc:
            raise ValueRefused(f"{path}: an interrupted save left {name}; cannot restore it: "
                               f"{exc.strerror or exc}") from exc
        logging.getLogger("lipsync").warning(
            "%s: an earlier save was killed half-way; its contents before it are restored", path)
        restored = True
    return restored


def _check_unchanged(path: Path, target: Path, info: os.stat_result | None, expect: bytes) -> None:
    if info is None:
        raise ValueRefused(f"{path}: removed since it was read; not written")
    if not stat.S_ISREG(info.st_mode):
        return
    try:
        current = target.read_bytes() if info.st_size == len(expect) else None
    except OSError as exc:
        raise ValueRefused(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if current != expect:
        raise ValueRefused(
            f"{path}: changed since it was read; not overwritten (load it again and redo the edit)"
        )


def _write_in_place(path: Path, target: Path, data: bytes) -> None:
    """A FIFO, a device, a file with other hard links or another user's file: open it and write.

    A regular file's old bytes are first saved as ``.NAME.lipsync-old-PID``, removed once
    the new ones are on disk: a crash in between leaves them there to recover.
    """
    backup = None
    try:
        if stat.S_ISREG(os.stat(target).st_mode):
            # The backup gets its name only once it is whole: a kill while it is being written
            # leaves a temporary (removed by the next save), never half a backup to restore.
            backup = target.parent / f".{target.name}{_OLD}{os.getpid()}"
            partial = target.parent / f".{target.name}{_TMP}{os.getpid()}-{next(_counter)}"
            _write_new(partial, target.read_bytes())
            os.replace(partial, backup)
        with open(target, "wb") as handle:
            handle.write(data)
            handle.flush()
            with contextlib.suppress(OSError):  # a pipe or a terminal cannot sync
                os.fsync(handle.fileno())
        if backup is not None:
            os.unlink(backup)
    except OSError as exc:
        raise ValueRefused(f"{path}: cannot write: {exc.strerror or exc}") from exc


def _write_new(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _replace(path: Path, target: Path, data: bytes, info: os.stat_result | None) -> None:
    folder = target.parent
    tmp = folder / f".{target.name}{_TMP}{os.getpid()}-{next(_counter)}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError as exc:
        raise ValueRefused(f"{path}: cannot write in {folder}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            _keep_owner_and_mode(handle.fileno(), info)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise ValueRefused(f"{path}: cannot write: {exc.strerror or exc}") from exc
        raise
    _sync_folder(folder)


def _keep_owner_and_mode(fd: int, info: os.stat_result | None) -> None:
    if info is None:
        os.fchmod(fd, 0o644)
        return
    if (info.st_uid, info.st_gid) != (os.geteuid(), os.getegid()):
        # Root editing a user's map must leave it theirs; others may only keep the group.
        with contextlib.suppress(OSError):
            os.fchown(fd, info.st_uid, info.st_gid)
    os.fchmod(fd, stat.S_IMODE(info.st_mode))


def sweep_temporaries(folder: str | Path) -> None:
    """Clean up after every killed save in ``folder`` at once: remove each
    ``.NAME.lipsync-tmp-PID-N`` whose process is gone, and put back each file whose in-place
    save was killed half-way (``recover``)."""
    folder = Path(folder)
    _remove_stale(folder, None)
    try:
        torn = {entry.name[1:].split(_OLD)[0] for entry in os.scandir(folder)
                if entry.name.startswith(".") and _OLD in entry.name}
    except OSError:
        return
    for name in sorted(torn):
        recover(folder / name)


def _remove_stale(folder: Path, name: str | None) -> None:
    """Remove ``.NAME.lipsync-tmp-PID-N`` files (any NAME if None) whose process is gone."""
    prefix = f".{name}{_TMP}" if name is not None else "."
    try:
        entries = [entry.name for entry in os.scandir(folder)
                   if entry.name.startswith(prefix) and _TMP in entry.name]
    except OSError:
        return
    for entry in entries:
        pid_text = entry[entry.rindex(_TMP) + len(_TMP) :].split("-", 1)[0]
        if pid_text.isascii() and pid_text.isdigit() and not _alive(int(pid_text)):
            with contextlib.suppress(OSError):
                os.unlink(folder / entry)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _sync_folder(folder: Path) -> None:
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - some systems cannot open folders
        return
    try:
        os.fsync(dir_fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(dir_fd)
