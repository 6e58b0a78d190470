"""A fake MMDAgent-EX that speaks over its standard input and output, as the real one does with
``use_stdinout=true`` (its source, MMDAgent.cpp: stdInputReceivingThreadMain and
procReceivedMessage, commit 9981469). Run as the real one is: ``python stdio_agent.py main.mdf``.

- Reads the .mdf (``key=value`` lines, ``#`` comments at a line's start, trailing white space
  cut). Without ``use_stdinout=true`` it neither reads its stdin nor prints a message.
  ``log_file=`` (relative to the .mdf's folder) gets its log, one line each, appended.
- Its own keys, for tests: ``fake_models`` (aliases it adds, comma-separated; default gene),
  ``fake_model_delay`` (seconds before it adds them; default 0.2).
- Its stdin thread starts once the "world" is built and reads as ``fgets`` into 2048 bytes:
  a line of 2047 bytes or more comes in pieces, each a message of its own. Each read is
  tokenised at ``|``, ``\\r`` and ``\\n`` stepping by UTF-8 character sizes; a byte that
  starts no character hangs the stdin thread for good (logged ``stdin thread hung``): the
  real one loops forever there. An empty line gives no message.
- Its main thread handles queued messages once per frame (30 fps) and prints every one as
  ``TYPE|ARGS`` (or ``TYPE``), flushing each: our lines echoed, ``MODEL_EVENT_ADD|alias``,
  ``LIPSYNC_EVENT_START|alias`` (a frame after the START; only for models it has added:
  else ``startLipSync: X is not found.`` in the log), ``LIPSYNC_EVENT_STOP|alias`` after the
  lips end or a ``LIPSYNC_STOP``.
- At EOF on stdin the stdin thread logs ``stdin thread exited`` and the agent runs on. No
  message quits it; SIGTERM does (no handler).
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from pathlib import Path

FRAME = 1 / 30
BUFFER = 2048  # MMDAGENT_MAXBUFLEN: fgets reads at most 2047 bytes


def options(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
        line = line.rstrip("\r\n\t ")
        if not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            found[key] = value
    return found


def char_size(byte: int) -> int:
    """MMDFiles_getcharsize for UTF-8: 0 for a byte that starts no character."""
    if byte < 0x80:
        return 1
    if 0xC2 <= byte <= 0xDF:
        return 2
    if 0xE0 <= byte <= 0xEF:
        return 3
    if 0xF0 <= byte <= 0xF7:
        return 4
    if 0xF8 <= byte <= 0xFB:
        return 5
    if 0xFC <= byte <= 0xFD:
        return 6
    return 0


class Hang(Exception):
    """The tokeniser met a byte that starts no character: the real one never returns."""


def strtok(data: bytes, delimiters: bytes) -> tuple[bytes | None, bytes]:
    """MMDFiles_strtok: skip leading delimiters, then take up to the next one (by characters)."""
    at = 0
    while at < len(data):
        size = char_size(data[at])
        if size == 0:
            raise Hang
        if size == 1 and data[at] in delimiters:
            at += 1
            continue
        break
    if at >= len(data):
        return None, b""
    start = at
    while at < len(data):
        size = char_size(data[at])
        if size == 0:
            raise Hang
        if size == 1 and data[at] in delimiters:
            return data[start:at], data[at + 1 :]
        at += size
    return data[start:], b""


class Agent:
    def __init__(self, mdf: Path) -> None:
        self.options = options(mdf)
        log = self.options.get("log_file")
        self.log_path = mdf.parent / log if log else None
        self.stdio = self.options.get("use_stdinout") == "true"
        self.models = [m for m in self.options.get("fake_models", "gene").split(",") if m]
        self.model_delay = float(self.options.get("fake_model_delay", "0.2"))
        self.added: set[str] = set()
        self.messages: queue.Queue[tuple[str, str]] = queue.Queue()
        self.lips: dict[str, float] = {}  # alias -> when its EVENT_STOP is due

    def log(self, text: str) -> None:
        if self.log_path is not None:
            with self.log_path.open("a", encoding="utf-8") as out:
                out.write(text + "\n")

    def read_stdin(self) -> None:
        self.log("stdin thread started")
        stream = sys.stdin.buffer
        while True:
            buff = b""
            while len(buff) < BUFFER - 1 and not buff.endswith(b"\n"):  # fgets
                byte = stream.read(1)
                if not byte:
                    break
                buff += byte
            if not buff:
                break
            self.log("read " + buff.decode("utf-8", errors="backslashreplace").rstrip("\n"))
            try:
                kind, rest = strtok(buff, b"|\r\n")
                args = strtok(rest, b"\r\n")[0] if kind is not None else None
            except Hang:
                self.log("stdin thread hung")
                threading.Event().wait()  # for good, as the real thread spins
                return
            if kind is not None:
                self.messages.put((kind.decode("utf-8", "replace"), (args or b"").decode("utf-8", "replace")))
        self.log("stdin thread exited")

    def emit(self, kind: str, args: str = "") -> None:
        self.messages.put((kind, args))

    def handle(self, kind: str, args: str) -> None:
        """What the main thread does with one message (after printing it)."""
        fields = [f for f in args.split("|") if f]
        if kind == "LIPSYNC_START" and len(fields) == 2:
            alias = fields[0]
            if alias not in self.added:
                self.log(f"startLipSync: {alias} is not found.")
                return
            values = fields[1].split(",")
            length = sum(float(v) for v in values[1::2]) / 1000
            if alias in self.lips:
                self.emit("LIPSYNC_EVENT_STOP", alias)
            self.lips[alias] = time.monotonic() + length + 0.2
            self.emit("LIPSYNC_EVENT_START", alias)
        elif kind == "LIPSYNC_STOP" and len(fields) == 1 and self.lips.pop(fields[0], None) is not None:
            self.emit("LIPSYNC_EVENT_STOP", fields[0])

    def run(self) -> None:
        self.log(f"started pid {os.getpid()}")
        if not self.stdio:
            self.log("use_stdinout is off: stdin not read")
            threading.Event().wait()
        time.sleep(0.05)  # building the world
        threading.Thread(target=self.read_stdin, daemon=True).start()
        added_at = time.monotonic() + self.model_delay
        while True:
            now = time.monotonic()
            if added_at is not None and now >= added_at:
                added_at = None
                for model in self.models:
                    self.added.add(model)
                    self.emit("MODEL_EVENT_ADD", model)
            for alias, due in list(self.lips.items()):
                if now >= due:
                    del self.lips[alias]
                    self.emit("LIPSYNC_EVENT_STOP", alias)
            batch = []
            while not self.messages.empty():
                batch.append(self.messages.get())
            for kind, args in batch:
                sys.stdout.write(f"{kind}|{args}\n" if args else f"{kind}\n")
                sys.stdout.flush()  # blocks while our reader does not read: the render loop stops
                self.log(f"message {kind}|{args}")
                self.handle(kind, args)
            time.sleep(FRAME)


if __name__ == "__main__":
    mdfs = [Path(a) for a in sys.argv[1:] if a.lower().endswith(".mdf")]
    Agent(mdfs[-1]).run()
