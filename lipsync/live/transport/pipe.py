"""``exec:COMMAND``: start MMDAgent-EX as our child and speak over its standard input and output.

With ``use_stdinout=true`` in its .mdf (MMDAgent-EX since v2.0.1, 2025), the agent reads
messages from its standard input a line at a time, and prints every message of its bus to
its standard output as ``TYPE|ARGS`` (ours echoed, ``LIPSYNC_EVENT_START|alias``,
``MODEL_EVENT_ADD|alias``, ...), its log going to ``log_file=``. No socket, no port. What its
source does, and what this transport does about it:

- Its stdin reader starts once the world is built, and the model comes later (the content's
  ``MODEL_ADD``): ``open()`` waits for ``MODEL_EVENT_ADD|<model>`` before any LIPSYNC line.
- It reads with ``fgets`` into 2048 bytes and hangs for good on a byte that starts no UTF-8
  character: every line is checked (``check_line``: valid UTF-8, under 2047 bytes, so never
  cut mid-character) and written whole.
- It prints from its render thread and stops rendering while its stdout is full: a reader
  thread drains it all the time.
- It keeps running when its stdin closes, and no message makes it quit: ``close()`` closes
  its stdin, then ends it (SIGTERM, then SIGKILL). It runs in a session of its own, so a
  Ctrl-C reaches lipsync, which sends the STOP first.
- Its built-in HTTP server (``http_server``, on unless ``http_server=false``) listens on
  0.0.0.0:50000 and runs any message from the network: a warning says so.
"""

from __future__ import annotations

import collections
import logging
import os
import queue
import shlex
import shutil
import subprocess
import threading
import time
from pathlib import Path

from lipsync.errors import AgentUnreachable, TransportError, ValueRefused
from lipsync.live.transport.base import LineSplitter, Transport

__all__ = ["PipeTransport", "mdf_options"]

_log = logging.getLogger("lipsync.live.transport.pipe")
_STOP_WAIT = 2.0  # seconds the agent has to end after SIGTERM


def mdf_options(path: Path) -> dict[str, str]:
    """An .mdf file's ``key=value`` lines as MMDAgent-EX reads them (trailing white space cut,
    ``#`` at a line's start a comment, the last of a key winning)."""
    options: dict[str, str] = {}
    for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
        line = line.rstrip("\r\n\t ")
        if line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        options[key] = value
    return options


class PipeTransport(Transport):
    """MMDAgent-EX as a child process: ``argv`` is its command (the program and its .mdf).

    ``model``: the alias whose ``MODEL_EVENT_ADD`` ``open()`` waits for, at most ``wait``
    seconds. ``send_timeout``: how long a line may wait for the agent to read (a stalled
    agent counts as gone).
    """

    echoes = True  # the agent prints every message on its bus, ours too

    def __init__(
        self, argv: list[str], *, model: str | None, wait: float = 30.0, send_timeout: float = 0.5,
    ) -> None:
        super().__init__()
        if not argv:
            raise ValueRefused("exec: needs a command: exec:PATH/MMDAgent-EX main.mdf")
        self.argv = list(argv)
        self.url = "exec:" + shlex.join(self.argv)
        self.model = model
        self.wait = wait
        self.send_timeout = send_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._ready = threading.Event()
        self._gone = threading.Event()
        self._lines: queue.Queue[tuple[bytes, threading.Event] | None] = queue.Queue()
        self._errors: collections.deque[str] = collections.deque(maxlen=5)
        self._threads: list[threading.Thread] = []

    @property
    def connected(self) -> bool:
        return self.process is not None and not self._gone.is_set()

    def check_mdf(self) -> None:
        """Refuse a content whose .mdf does not turn stdin/stdout on; warn about its HTTP server.

        The system .mdf beside the program is read first, then the content's (the last .mdf
        argument), as MMDAgent-EX does. Without an .mdf argument nothing can be checked.
        """
        contents = [Path(a) for a in self.argv[1:] if a.lower().endswith(".mdf")]
        if not contents:
            _log.warning("%s: no .mdf argument to check for use_stdinout=true", self.url)
            return
        if not contents[-1].is_file():
            raise ValueRefused(
                f"{contents[-1]}: no such .mdf file (give exec:PATH/MMDAgent-EX PATH/main.mdf)"
            )
        options: dict[str, str] = {}
        program = shutil.which(self.argv[0]) or self.argv[0]
        for path in (Path(program + ".mdf"), contents[-1]):
            if path.is_file():
                options.update(mdf_options(path))
        if options.get("use_stdinout") != "true":
            raise ValueRefused(f"{contents[-1]}: MMDAgent-EX reads messages from its standard input only "
                               "with use_stdinout=true in its .mdf: add that line")
        if options.get("http_server") != "false":
            _log.warning("MMDAgent-EX's HTTP server (http_server, on by default) listens on 0.0.0.0:50000 "
                         "and runs any message sent to it: add http_server=false to %s", contents[-1])

    def _open(self) -> None:
        self.check_mdf()
        try:
            self.process = subprocess.Popen(
                self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                bufsize=0, start_new_session=os.name == "posix",
            )
        except OSError as exc:
            raise AgentUnreachable(f"lipsync: cannot start {self.argv[0]} ({exc.strerror or exc}): give "
                                   "exec:PATH/MMDAgent-EX PATH/main.mdf") from exc
        for name, target in (("out", self._read), ("err", self._read_errors), ("in", self._write)):
            thread = threading.Thread(target=target, name=f"lipsync-pipe-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        if self.model is None:
            return
        deadline = time.monotonic() + self.wait
        while not self._ready.wait(0.05):
            if self._gone.is_set() or time.monotonic() > deadline:
                why = self._why_not_ready()
                self._close()
                raise AgentUnreachable(why)

    def _why_not_ready(self) -> str:
        assert self.process is not None
        code = self.process.poll()
        said = f" (it said: {self._errors[-1]})" if self._errors else ""
        if code is not None:
            return f"lipsync: {self.url} exited with code {code} before adding model {self.model}{said}"
        return (f"lipsync: {self.url} printed no MODEL_EVENT_ADD|{self.model} within {self.wait:g} s: "
                "is the model alias right, and use_stdinout=true in its .mdf?")

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        splitter = LineSplitter()
        stream = self.process.stdout
        while True:
            try:
                data = stream.read(65536)
            except (OSError, ValueError):
                data = b""
            if not data:
                break
            for line in splitter.feed(data):
                if line == f"MODEL_EVENT_ADD|{self.model}":
                    self._ready.set()
                self._heard(line)
        self._gone.set()

    def _read_errors(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        for raw in iter(self.process.stderr.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip()
            if line:
                self._errors.append(line[:200])
                _log.debug("agent: %s", line)

    def _write(self) -> None:
        assert self.process is not None and self.process.stdin is not None
        stream = self.process.stdin
        while True:
            item = self._lines.get()
            if item is None:
                break
            data, done = item
            try:
                stream.write(data)  # whole: the agent must never see half a character
            except (OSError, ValueError):
                self._gone.set()
            done.set()
        try:
            stream.close()  # EOF: the agent's stdin thread ends (the agent does not)
        except OSError:
            pass

    def _send(self, data: bytes) -> None:
        if not self.connected:
            raise TransportError(f"lipsync: the agent {self.url} is not running{self._exit_code()}")
        done = threading.Event()
        self._lines.put((data, done))
        if not done.wait(self.send_timeout):
            raise TransportError(f"lipsync: the agent {self.url} stopped reading for {self.send_timeout} s")
        if self._gone.is_set():
            raise TransportError(f"lipsync: lost the agent {self.url}{self._exit_code()}")

    def _exit_code(self) -> str:
        code = self.process.poll() if self.process is not None else None
        return "" if code is None else f" (it exited with code {code})"

    def _close(self) -> None:
        process = self.process
        if process is None:
            return
        self._lines.put(None)
        if process.poll() is None:
            process.terminate()  # no message quits MMDAgent-EX, and closing its stdin does not
            try:
                process.wait(_STOP_WAIT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=1.0)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
