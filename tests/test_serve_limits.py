"""``lipsync serve`` under load: requests, the queue, its memory and connections are bounded, and
every refusal is said (an ``error`` with its code), never a silent drop or a thread per request."""

from __future__ import annotations

import base64
import errno
import json
import os
import signal
import socket
import threading
import time

import pytest
from serveclient import Client, client, serving, wait_until
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from lipsync.errors import LipsyncError
from lipsync.live.clock import VirtualClock
from lipsync.live.speaker import Speaker
from lipsync.serve.limits import Limits
from lipsync.serve.server import SPARE
from lipsync.speech.synthesis import synthesize

LONG = "今日はとても良い天気ですね。散歩に行きましょう。公園で少し休んでから、帰りに買い物をします。"
#: A frame that decodes to no WAV at all: refused as bad_speech if it is ever decoded.
NOT_A_WAV = base64.b64encode(b"\x00" * 3000).decode()


def quick() -> Speaker:
    return Speaker(None, audio="null", clock=VirtualClock())


def replies(c: Client, count: int) -> list[dict[str, object]]:
    return [c.recv(10) for _ in range(count)]


def test_requests_count_per_address_across_connections_malformed_ones_too_before_decoding() -> None:
    # 8 requests, no refill to speak of: from two connections of one address, 8 frames go through.
    with serving(quick(), limits=Limits(burst=8, rate=0.001)) as server:
        with client(server) as a, client(server) as b:
            for n in range(5):
                a.send_raw("{not json")
                b.send_raw(json.dumps({"type": "say", "id": f"w{n}", "wav": NOT_A_WAV, "labels": "0 1 a\n"}))
            got = replies(a, 5) + replies(b, 5)
            codes = [str(m["code"]) for m in got]
            assert codes.count("rate_limited") == 2 and len(codes) == 10, codes
            # A frame over the budget is refused before its WAV is looked at (bad_speech), with its id.
            assert all(m["id"].startswith("w") for m in got if m["code"] == "rate_limited" and "id" in m)
            with client(server) as c:  # a new connection does not start a new budget
                c.send({"type": "stop"})
                assert c.recv(10)["code"] == "rate_limited"
            other = socket.create_connection(("127.0.0.1", server.port), source_address=("127.0.0.2", 0))
            with connect(server.url, sock=other) as elsewhere:  # another address has its own
                assert json.loads(elsewhere.recv(10))["type"] == "hello"
                elsewhere.send(json.dumps({"type": "dance"}))
                assert json.loads(elsewhere.recv(10))["code"] == "unknown_type"


def test_the_queue_is_bounded_per_connection_and_in_all_and_costs_no_thread_per_say() -> None:
    limits = Limits(queue=3, queue_per_client=2, queued_audio=1_000_000, burst=100)
    with serving(Speaker(None, audio="null"), limits=limits) as server:  # real time: LONG lasts
        with client(server) as a, client(server) as b:
            threads = threading.active_count()
            for n in range(20):
                a.send({"type": "say", "id": f"a{n}", "text": LONG})
            busy = [m for m in a.until(lambda m: m.get("id") == "a19") if m["type"] == "error"]
            assert len(busy) == 18 and {m["code"] for m in busy} == {"busy"}
            assert "2 utterances queued" in str(busy[0]["message"])
            assert threading.active_count() - threads <= limits.queue + 3  # not one per say sent
            # Sound held in the queue is bounded too, and checked before the WAV is decoded.
            b.send({"type": "say", "id": "big", "wav": base64.b64encode(b"\x00" * 1_500_000).decode(),
                    "labels": "0 1 a\n"})
            big = b.until(lambda m: m.get("id") == "big")[-1]
            assert big["code"] == "busy" and "MB" in str(big["message"])
            b.send({"type": "say", "id": "b0", "text": "はい"})
            b.send({"type": "say", "id": "b1", "text": "はい"})
            full = b.until(lambda m: m.get("id") == "b1" and m["type"] == "error")[-1]
            assert full["code"] == "busy" and "queue is full (3 utterances)" in str(full["message"])
            a.send({"type": "stop"})
            b.send({"type": "stop"})
            assert a.ended("a1")[-1]["stopped"] is True and b.ended("b0")
            assert wait_until(lambda: server.queue.count == 0)  # every place given back
            a.send({"type": "say", "id": "again", "text": "はい"})
            assert a.ended("again")[-1]["stopped"] is False


def test_clients_past_the_limit_are_told_busy_and_idle_connections_are_bounded() -> None:
    limits = Limits(clients=2)
    with serving(quick(), limits=limits) as server:
        with client(server) as a, client(server):
            with connect(server.url) as third:
                told = json.loads(third.recv(10))
                assert told["type"] == "error" and told["code"] == "busy" and "2 clients" in told["message"]
                with pytest.raises(ConnectionClosed) as closed:
                    third.recv(10)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
            # Connections that never even start their handshake: a bounded few are taken.
            threads = threading.active_count()
            idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(60)]
            try:
                time.sleep(0.5)
                assert threading.active_count() - threads <= 2 * SPARE + 2  # not 2 per connection
                a.send({"type": "say", "id": "still", "text": "はい"})  # the others are still served
                assert a.ended("still")[-1]["stopped"] is False
            finally:
                for sock in idle:
                    sock.close()
        assert wait_until(lambda: server.clients == 0)
        with client(server) as later:  # places free again: served
            later.send({"type": "say", "id": "later", "text": "はい"})
            assert later.ended("later")[-1]["stopped"] is False


def test_short_of_descriptors_at_accept_it_warns_waits_and_serves_on(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    real = socket.socket.accept
    shortages = iter(range(3))

    def accept(self: socket.socket) -> tuple[socket.socket, object]:
        if next(shortages, None) is not None:
            raise OSError(errno.EMFILE, "Too many open files")
        return real(self)

    with serving(quick()) as server:
        monkeypatch.setattr(socket.socket, "accept", accept)
        with client(server) as c:  # it waited in the backlog meanwhile
            c.send({"type": "say", "id": "through", "text": "はい"})
            assert c.ended("through")[-1]["stopped"] is False
    assert "cannot take a connection (Too many open files)" in caplog.text


def test_a_server_that_cannot_accept_any_more_says_so_instead_of_ending_quietly(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def accept(self: socket.socket) -> tuple[socket.socket, object]:
        raise OSError(errno.EBADF, "Bad file descriptor")

    with serving(quick()) as server:
        monkeypatch.setattr(socket.socket, "accept", accept)
        with pytest.raises(LipsyncError, match="the server stopped: cannot accept connections: Bad file"):
            server.serve_forever()


def test_aligning_a_wav_runs_beside_the_server_and_a_crash_there_fails_only_that_say() -> None:
    # pydomino holds the GIL throughout: in the server's process it froze every client (and the
    # signal that ends the server) for seconds. Outside, the others are served meanwhile.
    text = "今日はとても良い天気ですね。散歩に行きましょう。公園で少し休んでから、帰りに買い物をします。" * 2
    audio, _ = synthesize(text)
    wav = base64.b64encode(audio.to_wav_bytes()).decode()
    with serving(quick()) as server, client(server) as a, client(server) as b:
        a.send({"type": "say", "id": "long", "wav": wav, "text": text})
        assert wait_until(lambda: server.aligner.pid is not None)
        b.send({"type": "say", "id": "short", "text": "はい"})
        assert b.ended("short")[-1]["stopped"] is False
        assert a.received[1:] == []  # "long" is still being aligned: nothing yet
        os.kill(server.aligner.pid or 0, signal.SIGKILL)  # as a native abort would
        failed = a.recv(10)
        assert failed["type"] == "error" and failed["code"] == "failed" and failed["id"] == "long"
        a.send({"type": "say", "id": "again", "wav": wav[:200_000], "labels": "0 1 a\n"})
        assert a.ended("again")[-1]["stopped"] is False  # the server went on
    assert server.aligner.pid is None  # closing the server ended the child
