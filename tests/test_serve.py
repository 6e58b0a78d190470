"""``lipsync serve`` over real sockets: Python WebSocket clients, a fake agent, the schema."""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import urllib.error
import urllib.request

import numpy as np
import pytest
from agent import TcpAgent
from serveclient import client, serving, wait_until
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from lipsync.curves import agent_curves
from lipsync.live.clock import VirtualClock
from lipsync.live.speaker import Speaker
from lipsync.maps.named import MAP_NAMES, load_map
from lipsync.motion import Motion, mouth_curves
from lipsync.motion.shape import VOWEL_SHAPES, mouth_shares
from lipsync.serve.pages import own_host
from lipsync.sound import Audio
from lipsync.speech.pieces import speech_pieces
from lipsync.speech.synthesis import synthesize
from lipsync.timeline import Timeline

LONG = "今日はとても良い天気ですね。散歩に行きましょう。公園で少し休んでから、帰りに買い物をします。"


def quick() -> Speaker:
    """No agent, a silent output on a virtual clock: speech takes no real time."""
    return Speaker(None, audio="null", clock=VirtualClock())


def test_say_gets_started_frames_on_the_fps_grid_and_ended() -> None:
    with serving(quick()) as server, client(server) as c:
        c.send({"type": "say", "id": "k1", "text": "こんにちは", "fps": 30})
        got = c.ended("k1")
    kinds = [m["type"] for m in got]
    assert kinds[0] == "started" and kinds[-1] == "ended" and got[-1]["stopped"] is False
    frames = [m for m in got if m["type"] == "frame"]
    times = [m["t"] for m in frames]
    assert times == pytest.approx([n / 30 for n in range(len(times))], abs=1e-6)
    assert set(frames[0]["weights"]) == set(load_map().morphs)
    assert max(max(m["weights"].values()) for m in frames) > 0.3  # the mouth opened
    assert all(w == 0 for w in frames[-1]["weights"].values())  # and closed


@pytest.mark.parametrize("name", ["vrm0", "live2d"])
def test_a_named_map_gives_its_own_morphs(name: str) -> None:
    lipmap = load_map(name)
    with serving(quick()) as server, client(server) as c:
        assert name in c.hello["maps"]
        c.send({"type": "say", "id": "m", "text": "こんにちは", "map": name})
        frames = [m for m in c.ended("m") if m["type"] == "frame"]
        c.send({"type": "say", "id": "c", "text": "こんにちは", "map": name, "audio": "client"})
        (speech,) = [m for m in c.ended("c") if m["type"] == "speech"]
    assert all(set(f["weights"]) == set(lipmap.morphs) for f in frames)
    times = [f["t"] for f in frames]  # no "fps": the speaker's own (30 here)
    assert times == pytest.approx([n / 30 for n in range(len(times))], abs=1e-6)
    assert speech["morphs"] == list(lipmap.morphs) and set(speech["keyframes"]) == set(lipmap.morphs)
    assert set(speech["shape"]) == set(lipmap.morphs)


def test_intensity_gains_and_coarticulation_shape_a_say_s_frames_and_keyframes() -> None:
    lipmap = load_map("vrm")
    timeline = Timeline.from_sequence("sil,100,m,60,a,150,sil,100")
    wav = base64.b64encode(_wav(timeline)).decode()
    labels = "".join(f"{float(p.start):.3f} {float(p.end):.3f} {p.name}\n" for p in timeline)
    with serving(quick()) as server, client(server) as c:
        c.send({"type": "say", "id": "a", "wav": wav, "labels": labels, "map": "vrm", "fps": 30,
                "intensity": 0.5, "gains": {"aa": 2.0}})
        frames = [m for m in c.ended("a") if m["type"] == "frame"]
        c.send({"type": "say", "id": "b", "wav": wav, "labels": labels, "map": "vrm", "audio": "client",
                "coarticulation": False})
        (speech,) = [m for m in c.ended("b") if m["type"] == "speech"]
    curves = mouth_curves(timeline, lipmap, Motion.of(intensity=0.5, gains={"aa": 2.0}))
    got = np.array([[f["weights"][m] for m in lipmap.morphs] for f in frames])
    assert got == pytest.approx(curves.at([f["t"] for f in frames]), abs=1e-4)
    plain = agent_curves(timeline, lipmap).keyframes()["aa"]
    assert speech["keyframes"]["aa"] == [[round(f / 30, 6), round(w, 4)] for f, w in plain]


def _wav(timeline: Timeline) -> bytes:
    import io
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\0\0" * round(float(timeline.duration) * 16000))
    return buffer.getvalue()


def test_mouth_shares_give_each_named_map_the_reference_vowels() -> None:
    for name in MAP_NAMES:
        lipmap = load_map(name)
        shares = mouth_shares(lipmap)
        for vowel, (opening, rounding) in VOWEL_SHAPES.items():
            row = lipmap.weights(vowel)
            drawn = [sum(w * shares[m][k] for w, m in zip(row, lipmap.morphs, strict=True)) for k in (0, 1)]
            assert drawn == pytest.approx([opening, rounding], abs=0.1), (name, vowel)


def test_request_ids_are_echoed_or_given() -> None:
    with serving(quick()) as server, client(server) as c:
        c.send({"type": "say", "text": "はい"})
        first = c.recv()
        assert first["type"] == "started" and first["id"].startswith("s")
        c.ended(first["id"])


def test_client_audio_arrives_piece_by_piece_first_piece_first() -> None:
    pieces = list(speech_pieces(LONG))
    assert len(pieces) >= 3
    with serving(quick()) as server, client(server) as c:
        c.send({"type": "say", "id": "long", "text": LONG, "audio": "client"})
        got = c.ended("long")
    assert got[0]["type"] == "started"
    speech = [m for m in got if m["type"] == "speech"]
    assert len(speech) == len(pieces)
    for message, piece in zip(speech, pieces, strict=True):
        samples = np.frombuffer(base64.b64decode(message["pcm16"]), dtype="<i2")
        assert message["sample_rate"] == piece.audio.sample_rate
        assert np.array_equal(samples, piece.audio.samples)  # the very sound, in order
        timeline = Timeline([(n, e - s) for n, s, e in message["timeline"]], allow_empty=True)
        assert float(timeline.duration) == pytest.approx(len(samples) / message["sample_rate"], abs=0.002)
    offsets = [m["offset"] for m in speech]
    ends = np.cumsum([len(base64.b64decode(m["pcm16"])) / 2 / m["sample_rate"] for m in speech])
    assert offsets[0] == 0 and offsets[1:] == pytest.approx(list(ends[:-1]), abs=0.002)
    assert "a" in str(speech[0]["timeline"]) and speech[0]["keyframes"]
    assert not [m for m in got if m["type"] == "frame"]


def test_wav_with_labels_is_spoken_and_bad_wav_refused() -> None:
    audio, timeline = synthesize("はい")
    mono = "".join(f"{float(p.start):.4f} {float(p.end):.4f} {p.name}\n" for p in timeline)
    wav = base64.b64encode(audio.to_wav_bytes()).decode()
    with serving(quick()) as server, client(server) as c:
        c.send({"type": "say", "id": "w", "wav": wav, "labels": mono, "audio": "client"})
        got = c.ended("w")
        (speech,) = [m for m in got if m["type"] == "speech"]
        assert [p[0] for p in speech["timeline"]] == list(timeline.names)
        c.send({"type": "say", "id": "bad", "wav": "bm90IGEgd2F2", "labels": mono})
        reply = c.recv()
        assert reply == {"type": "error", "code": "bad_speech", "id": "bad", "message": reply["message"]}
        assert "WAV" in reply["message"]


def test_wav_with_its_text_is_aligned_where_align_is_installed() -> None:
    audio, timeline = synthesize("こんにちは")
    wav = base64.b64encode(audio.to_wav_bytes()).decode()
    try:
        import lipsync.alignment.aligner  # noqa: F401
    except ImportError:
        aligner = False
    else:
        aligner = True
    with serving(quick()) as server, client(server) as c:
        c.send({"type": "say", "id": "t", "wav": wav, "text": "こんにちは", "audio": "client"})
        got = c.until(lambda m: m["type"] in ("ended", "error"))
    if not aligner:  # this build has no aligner: a clear refusal, not a guess
        assert got[-1]["code"] == "bad_message" and "labels" in got[-1]["message"]
        return
    (speech,) = [m for m in got if m["type"] == "speech"]
    names = [p[0] for p in speech["timeline"] if p[0] not in ("sil", "pau")]
    assert names == [n for n in timeline.names if n not in ("sil", "pau")]


@pytest.mark.parametrize(("frame", "code"), [
    ("{not json", "bad_json"),
    (b"\x00\x01", "bad_json"),
    ("[1, 2]", "bad_json"),
    ('{"type": "dance"}', "unknown_type"),
    ('{"type": "say", "id": "x"}', "bad_message"),
    ('{"type": "say", "id": "x", "text": "あ", "fps": 0}', "bad_message"),
    ('{"type": "say", "id": "x", "text": "あ", "audio": "speaker"}', "bad_message"),
    ('{"type": "say", "id": "x", "text": "あ", "volume": 3}', "bad_message"),
    ('{"type": "say", "id": "x", "text": "あ", "map": "/nonexistent/lip.txt"}', "bad_map"),
    ('{"type": "say", "id": "x", "text": "   "}', "bad_speech"),
    ('{"type": "say", "id": "bad id!", "text": "あ"}', "bad_message"),
    ('{"type": "say", "id": "x", "text": "あ", "intensity": 4}', "bad_message"),
    ('{"type": "say", "id": "x", "text": "あ", "gains": {"zz": 1}}', "bad_message"),
    ('{"type": "say", "id": "x", "text": "あ", "gains": {"あ": -1}}', "bad_message"),
    ('{"type": "say", "id": "x", "text": "あ", "coarticulation": 1}', "bad_message"),
])
def test_malformed_requests_get_an_error_and_the_connection_stays_open(frame: str | bytes, code: str) -> None:
    with serving(quick()) as server, client(server) as c:
        c.send_raw(frame)
        reply = c.recv()
        assert reply["type"] == "error" and reply["code"] == code and reply["message"]
        c.send({"type": "say", "id": "after", "text": "はい"})
        assert c.ended("after")[-1]["stopped"] is False


def test_a_foreign_origin_is_refused_and_the_own_page_and_no_origin_accepted() -> None:
    with serving(quick()) as server:
        with pytest.raises(InvalidStatus) as refused:
            connect(server.url, origin="http://evil.example")  # type: ignore[arg-type]
        assert refused.value.response.status_code == 403
        with pytest.raises(InvalidStatus):
            connect(server.url, origin=f"http://127.0.0.1:{server.port + 1}")  # type: ignore[arg-type]
        for origin in (f"http://127.0.0.1:{server.port}", f"http://localhost:{server.port}", None):
            with client(server, origin=origin) as c:
                assert c.hello["path"] == "/lipsync"


def this_machines_address() -> str | None:
    """An address of this machine other than loopback (None if it has none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("198.51.100.7", 9))  # no packet leaves: it only picks a route
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


def test_on_every_address_only_the_servers_own_page_origins_are_taken() -> None:
    with serving(quick(), host="0.0.0.0") as server:
        port = server.port
        url = f"ws://127.0.0.1:{port}/lipsync"
        for origin in (f"http://localhost:{port}", f"http://127.0.0.1:{port}", None):
            with connect(url, origin=origin) as ws:  # type: ignore[arg-type]
                assert json.loads(ws.recv(10))["type"] == "hello"
        for origin in (f"http://10.1.2.3:{port}", f"http://198.51.100.7:{port}", f"http://evil.example:{port}",
                       f"http://localhost:{port + 1}"):
            with pytest.raises(InvalidStatus) as refused:
                connect(url, origin=origin)  # type: ignore[arg-type]
            assert refused.value.response.status_code == 403, origin
        mine = this_machines_address()
        if mine is not None:  # reached at that address: its page is ours, localhost's is not
            there = f"ws://{mine}:{port}/lipsync"
            with connect(there, origin=f"http://{mine}:{port}") as ws:  # type: ignore[arg-type]
                assert json.loads(ws.recv(10))["type"] == "hello"
            with pytest.raises(InvalidStatus):
                connect(there, origin=f"http://localhost:{port}")  # type: ignore[arg-type]


def test_own_hosts_are_the_address_reached_and_its_port_never_another_name() -> None:
    def ours(hostport: str, local: str = "127.0.0.1", bound: str = "127.0.0.1") -> bool:
        return own_host(hostport, port=50100, local=local, bound=bound)

    assert ours("127.0.0.1:50100") and ours("localhost:50100") and ours("[::1]:50100")
    for other in ("127.0.0.1:50101", "evil.example:50100", "192.168.1.2:50100", "127.0.0.1", ""):
        assert not ours(other)
    # Bound to every address: the one this connection reached is ours, no other machine's.
    assert ours("192.168.1.2:50100", local="192.168.1.2", bound="0.0.0.0")
    assert ours("[fe80::1]:50100", local="fe80::1", bound="::")
    assert ours("192.168.1.2:50100", local="::ffff:192.168.1.2", bound="::")
    assert ours("localhost:50100", local="127.0.0.1", bound="0.0.0.0")
    for other in ("192.168.1.3:50100", "localhost:50100", "evil.example:50100", "192.168.1.2:1"):
        assert not ours(other, local="192.168.1.2", bound="0.0.0.0")
    assert ours("myhost.lan:50100", local="192.168.1.2", bound="myhost.lan")  # the name it was given
    assert own_host("127.0.0.1", port=80, local="127.0.0.1", bound="127.0.0.1")  # no port: 80


def test_http_serves_the_page_and_nothing_else() -> None:
    with serving(quick()) as server:
        base = f"http://127.0.0.1:{server.port}"
        with urllib.request.urlopen(base + "/") as page:
            assert page.status == 200 and b"<html" in page.read().lower()
        for path in ("/etc/passwd", "/../schema.json", "/lipsync"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(base + path)
            assert refused.value.code in (404, 426)
            refused.value.close()
        rebound = urllib.request.Request(base + "/", headers={"Host": f"evil.example:{server.port}"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(rebound)
        assert refused.value.code == 404
        refused.value.close()


def test_requests_are_rate_limited() -> None:
    with serving(quick()) as server, client(server) as c:
        for _ in range(25):  # a burst of 20 is allowed, then 5 a second
            c.send({"type": "stop"})
        reply = c.recv()
        assert reply["code"] == "rate_limited"
        c.send({"type": "say", "id": "later", "text": "はい"})  # still connected, still refused
        refused = c.until(lambda m: m.get("id") == "later")[-1]
        assert refused["type"] == "error" and refused["code"] == "rate_limited"


def test_an_oversized_message_closes_only_that_connection() -> None:
    with serving(quick()) as server:
        with client(server) as c:
            c.send_raw(json.dumps({"type": "say", "text": "あ" * (17 * 1024 * 1024 // 3)}))
            with pytest.raises(ConnectionClosed) as closed:
                c.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        with client(server) as c:
            c.send({"type": "say", "id": "ok", "text": "はい"})
            assert c.ended("ok")[-1]["stopped"] is False


def agent_speaker(agent: TcpAgent) -> Speaker:
    """A real-time silent output (speech can be cut short) and the fake agent."""
    return Speaker(agent.url, "mei", audio="null", sync="clock")


def test_with_an_agent_stop_mid_speech_ends_stopped_and_sends_stop() -> None:
    with TcpAgent() as agent, serving(agent_speaker(agent)) as server, client(server) as c:
        c.send({"type": "say", "id": "long", "text": LONG})
        assert c.recv()["type"] == "started"
        assert agent.wait_for(lambda lines: any(x.startswith("LIPSYNC_START|mei|") for x in lines))
        c.send({"type": "stop", "id": "halt"})
        assert c.ended("long")[-1]["stopped"] is True
        assert agent.wait_for(lambda lines: "LIPSYNC_STOP|mei" in lines)
        assert agent.connections == 1


def test_with_an_agent_client_audio_drives_it_too() -> None:
    with TcpAgent() as agent, serving(Speaker(agent.url, "mei", audio="null", sync="clock",
                                              clock=VirtualClock())) as server, client(server) as c:
        c.send({"type": "say", "id": "k", "text": "こんにちは", "audio": "client"})
        c.ended("k")
        _, timeline = synthesize("こんにちは")
        assert agent.wait_for(lambda lines: f"LIPSYNC_START|mei|{timeline.to_sequence()}" in lines)


def test_a_client_vanishing_mid_speech_stops_its_speech_and_no_one_elses() -> None:
    with TcpAgent() as agent, serving(agent_speaker(agent)) as server:
        with client(server) as c:
            c.send({"type": "say", "id": "gone", "text": LONG})
            assert c.recv()["type"] == "started"
            assert agent.wait_for(lambda lines: any(x.startswith("LIPSYNC_START") for x in lines))
            c.connection.socket.shutdown(socket.SHUT_RDWR)  # no close frame: it just vanished
        assert agent.wait_for(lambda lines: "LIPSYNC_STOP|mei" in lines)
        with client(server) as other:
            other.send({"type": "say", "id": "next", "text": "はい"})
            assert other.ended("next")[-1]["stopped"] is False
        assert agent.connections == 1


def test_an_id_still_speaking_is_refused() -> None:
    with serving(Speaker(None, audio="null")) as server, client(server) as c:
        c.send({"type": "say", "id": "same", "text": LONG})
        c.send({"type": "say", "id": "same", "text": "はい"})
        refused = c.until(lambda m: m["type"] == "error")[-1]
        assert refused["code"] == "bad_message" and refused["id"] == "same"
        c.send({"type": "stop"})
        assert c.ended("same")[-1]["stopped"] is True


def test_interrupt_ends_what_plays_with_stopped() -> None:
    with TcpAgent() as agent, serving(agent_speaker(agent)) as server, client(server) as c:
        c.send({"type": "say", "id": "one", "text": LONG})
        assert c.recv()["type"] == "started"
        c.send({"type": "say", "id": "two", "text": "はい", "interrupt": True})
        got = c.ended("two")
        ended = {m["id"]: m["stopped"] for m in got if m["type"] == "ended"}
        assert ended == {"one": True, "two": False}


def test_a_client_that_stops_reading_is_dropped_and_others_are_served() -> None:
    # A minute of sound comes back as one 7.7 MB speech message: more than the socket buffers
    # hold, so a client that does not read stalls the send, and the server lets it go.
    minute = Audio(np.zeros(48000 * 60, dtype=np.int16), 48000)
    wav = base64.b64encode(minute.to_wav_bytes()).decode()
    with serving(quick()) as server:
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        # It reads one message, then no more (and will not wait to close politely).
        with connect(server.url, sock=sock, max_queue=1, close_timeout=0.1, max_size=None) as stalled:
            try:
                stalled.send(json.dumps({"type": "say", "id": "flood", "wav": wav,
                                         "labels": "0.0 60.0 a\n", "audio": "client"}))
                with client(server) as other:
                    other.send({"type": "say", "id": "next", "text": "はい"})
                    assert other.ended("next")[-1]["stopped"] is False  # the scheduler went on
                    assert wait_until(lambda: server.clients == 1)  # the stalled one was let go
            finally:
                # It leaves as it lived: without reading, so without a polite close (which would
                # wait on its unread data with some websockets versions).
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
