"""Aligning a client's WAV to its text (or to a VOICEVOX query's phonemes), in a process of
its own (``OutsideAligner``).

pydomino's aligner, which lipsync used to call, held the GIL for the whole of its native
work: aligning 33 s of speech took 8 s here, and every other thread of the server (the
scheduler's frames, the other clients, the signal handler that ends the server) stood still
for 6.9 s of it. The model now runs on onnxruntime, which lets go of it, but the search and
the rules around it are Python, and a native library can still abort the process it runs
in. So ``lipsync serve`` aligns in a child process: one at a time, at most ``TIMEOUT``
seconds each, killed when the server closes; if it dies, the request fails and the next one
starts a new child.

The child is ``python -m lipsync.serve.aligning``: requests and answers are pickles, each
after its length, on its standard input and output (a pipe between two copies of this very
code, never anything a client sent as it was).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import struct
import subprocess
import sys
import threading
import time
from typing import IO, TYPE_CHECKING, Any

from lipsync._ready import readable
from lipsync.errors import LipsyncError, MissingDependency, ValueRefused
from lipsync.sound import Audio
from lipsync.timeline import Timeline

if TYPE_CHECKING:
    from lipsync.labels.voicevox import QueryPhonemes

__all__ = ["TIMEOUT", "OutsideAligner"]

#: Seconds one alignment may take before the child is killed and the request fails.
TIMEOUT = 60.0
_HEADER = struct.Struct("!Q")
_ANSWER_LIMIT = 64 * 1024 * 1024  # bytes: more is not an answer of ours


class OutsideAligner:
    """``align(audio, text)`` run in a child process; ``close()`` kills it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # one alignment at a time
        self._child: subprocess.Popen[bytes] | None = None
        self._closed = False

    def align(self, audio: Audio, text: str) -> Timeline:
        """Where each phoneme of ``text`` is in ``audio``, as ``lipsync.alignment.aligner.align``
        finds it; its refusals raise as they would, a child that dies or hangs as a
        ``LipsyncError``."""
        return self._ask(audio, text)

    def align_query(self, audio: Audio, phonemes: QueryPhonemes) -> Timeline:
        """Where each of a VOICEVOX query's phonemes is in ``audio``
        (``lipsync.alignment.query.align_query``), in the child too."""
        return self._ask(audio, phonemes)

    def _ask(self, audio: Audio, what: str | QueryPhonemes) -> Timeline:
        with self._lock:
            child = self._start()
            assert child.stdin is not None and child.stdout is not None
            try:
                _write(child.stdin, (audio.samples.tobytes(), audio.sample_rate, what))
                kind, value = _read(child.stdout, time.monotonic() + TIMEOUT)
            except (OSError, EOFError, TimeoutError, pickle.UnpicklingError, ValueError) as exc:
                self._kill()
                why = "took too long" if isinstance(exc, TimeoutError) else "failed"
                raise LipsyncError(f"aligning the audio to its text {why}") from None
        if kind == "refused":
            raise ValueRefused(value)
        if kind == "missing":
            raise MissingDependency(value)
        if kind != "timeline":
            raise LipsyncError(f"aligning the audio to its text failed: {value}")
        return Timeline(value, allow_empty=True)

    @property
    def pid(self) -> int | None:
        """The child's process id, while there is one."""
        child = self._child
        return None if child is None or child.poll() is not None else child.pid

    def close(self) -> None:
        """Kill the child (an alignment under way fails)."""
        self._closed = True
        self._kill()

    def _start(self) -> subprocess.Popen[bytes]:
        if self._closed:
            raise LipsyncError("the server is shutting down")
        if self._child is None or self._child.poll() is not None:
            self._child = subprocess.Popen(
                [sys.executable, "-m", "lipsync.serve.aligning"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True)
        return self._child

    def _kill(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            with contextlib.suppress(OSError):
                child.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=1.0)
            for stream in (child.stdin, child.stdout):
                with contextlib.suppress(OSError):
                    if stream is not None:
                        stream.close()


def _write(stream: IO[bytes], value: object) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _read(stream: IO[bytes], deadline: float | None) -> Any:
    """One value from ``stream``, waiting at most until ``deadline`` (clock: time.monotonic)."""
    (size,) = _HEADER.unpack(_exactly(stream, _HEADER.size, deadline))
    if size > _ANSWER_LIMIT:
        raise ValueError(f"an answer of {size} bytes")
    return pickle.loads(_exactly(stream, size, deadline))


def _exactly(stream: IO[bytes], size: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    left = size
    descriptor = stream.fileno()
    while left:
        if deadline is not None and sys.platform != "win32":  # (select takes no pipes there)
            if not readable(descriptor, deadline - time.monotonic()):
                raise TimeoutError
        chunk = os.read(descriptor, min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _serve() -> None:
    """The child: align each request from standard input, answer on standard output."""
    import numpy as np

    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever the libraries print goes where the parent does not read
    requests = sys.stdin.buffer
    while True:
        try:
            samples, rate, what = _read(requests, None)
        except EOFError:
            return
        try:
            audio = Audio(np.frombuffer(samples, dtype=np.int16).copy(), rate)
            if isinstance(what, str):
                from lipsync.alignment.aligner import align

                timeline = align(audio, what)
            else:  # a VOICEVOX query's phonemes
                from lipsync.alignment.query import align_query

                timeline = align_query(audio, what)
            spans = list(zip(timeline.names, timeline.durations, strict=True))
            answer: tuple[str, object] = ("timeline", spans)
        except ImportError as exc:
            answer = ("missing", f"the aligner is not installed ({exc.name})")
        except MissingDependency as exc:
            answer = ("missing", str(exc))
        except ValueRefused as exc:
            answer = ("refused", str(exc).splitlines()[0])
        except Exception as exc:  # reported to the parent, which goes on
            answer = ("error", f"{type(exc).__name__}: {str(exc)[:200]}")
        _write(answers, answer)


if __name__ == "__main__":
    _serve()
