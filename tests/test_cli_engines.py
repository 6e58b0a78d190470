"""``--tts URL`` on every command, and serve's ``tts``: the fake engines over real HTTP."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import wave
from typing import ClassVar

import pytest
from agent import TcpAgent
from engines import VoicevoxFake
from serveclient import client, serving

from lipsync import Timeline
from lipsync.cli.main import main
from lipsync.labels.voicevox import read_audio_query
from lipsync.live.clock import VirtualClock
from lipsync.live.speaker import Speaker

TEXT = "今日は晴れです。明日は雨でしょう。"


@pytest.fixture(scope="module")
def fake():
    with VoicevoxFake() as engine:
        yield engine


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def joined(queries: list[dict]) -> Timeline:
    from lipsync.engines.stream import join_timelines

    return join_timelines([read_audio_query(json.dumps(q), "q") for q in queries])


def test_timeline_is_the_engines_query_timing_and_writes_its_audio(capsys, fake, tmp_path):
    code, out, err = run(capsys, "timeline", TEXT, "--tts", fake.url, "--speaker", "3")
    assert code == 0, err
    seen = len(fake.queries)
    code, out_json, err = run(capsys, "timeline", TEXT, "--tts", fake.url, "--speaker", "3", "--json",
                              "-o", tmp_path / "t.wav")
    assert code == 0, err
    assert out.strip() == joined(fake.queries[seen:]).to_sequence()
    data = json.loads(out_json)
    with wave.open(str(tmp_path / "t.wav")) as audio:
        assert (audio.getframerate(), audio.getnframes()) == (24000, data["samples"])


def test_curves_export_and_plot_take_the_engine(capsys, fake, tmp_path):
    made = len(fake.paths("/synthesis"))
    code, out, err = run(capsys, "curves", "こんにちは", "--tts", fake.url, "--speed", "1.2", "--fps", "30")
    assert code == 0, err
    assert json.loads(out)["fps"] == 30 and fake.paths("/audio_query")
    code, out, err = run(capsys, "export", "こんにちは", "--tts", fake.url, "-o", tmp_path / "k.vmd")
    assert (code, out.strip()) == (0, f"{tmp_path / 'k.vmd'}: vmd"), err
    assert len(fake.paths("/synthesis")) == made  # timing alone: the query says it all
    code, out, err = run(capsys, "plot", "こんにちは", "--tts", fake.url, "-o", tmp_path / "k.svg")
    assert code == 0, err
    assert (tmp_path / "k.svg").read_text().startswith("<?xml") and len(fake.paths("/synthesis")) == made + 1


def test_an_engine_that_is_not_running_exits_3(capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, out, err = run(capsys, "timeline", "あ", "--tts", f"aivisspeech://127.0.0.1:{port}")
    assert (code, out) == (3, "")
    assert err.startswith(f"lipsync: no AivisSpeech engine at http://127.0.0.1:{port} (")
    assert "start the AivisSpeech app" in err


def test_an_unknown_speaker_lists_the_speakers(capsys, fake):
    code, _, err = run(capsys, "timeline", "あ", "--tts", fake.url, "--speaker", "42")
    assert code == 2
    assert err.endswith("has no speaker 42: it offers 4: 2 四国めたん (ノーマル), 0 四国めたん (あまあま), "
                        "3 ずんだもん (ノーマル), 1 ずんだもん (あまあま)\n")


def test_a_long_list_of_speakers_comes_one_a_line(capsys):
    class Many(VoicevoxFake):
        styles: ClassVar[dict[str, list[tuple[int, str]]]] = {f"話者{n}": [(n, "通常")] for n in range(40)}

    with Many() as fake:
        code, _, err = run(capsys, "timeline", "あ", "--tts", fake.url, "--speaker", "42")
    lines = err.splitlines()
    assert code == 2 and "has no speaker 42: it offers 40: 0 話者0 (通常)" in lines[0]
    assert lines[1:] == [f"lipsync:   {n}  話者{n} (通常)" for n in range(40)]


@pytest.mark.parametrize(("argv", "words"), [
    (["timeline", "あ", "--speaker", "3"], "--speaker sets the TTS engine's voice: give --tts URL"),
    (["timeline", "--sequence", "sil,100", "--tts", "voicevox://"], "--tts speaks TEXT; --sequence"),
    (["timeline", "あ", "--tts", "voicevox://", "--half-tone", "2"], "--voice and --half-tone shape"),
    (["timeline", "あ", "--tts", "sbv2://", "--pitch", "0.1"], "Style-Bert-VITS2 has no pitch setting"),
    (["export", "--sequence", "sil,100", "--tts", "voicevox://", "-o", "x.vmd"], "--tts speaks TEXT"),
])
def test_engine_options_are_checked_before_anything_is_asked(capsys, argv, words):
    code, _, err = run(capsys, *argv)
    assert code == 2 and words in err


def test_say_speaks_a_long_text_with_lips_on_every_sentence(fake):
    text = "こんにちは。元気ですか？いい天気ですね！"
    seen = len(fake.queries)
    with TcpAgent() as agent:
        argv = [sys.executable, "-m", "lipsync", "say", text, "--tts", fake.url, "--speaker", "1",
                "--model", "gene", "--to", agent.url, "--audio", "null"]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        starts = [Timeline.from_sequence(line.split("|")[2]) for line in agent.lines]
    queries = [read_audio_query(json.dumps(q), "q") for q in fake.queries[seen:]]
    assert len(starts) == len(queries) == 3
    assert [s.names for s in starts] == [q.names for q in queries]


def test_serve_speaks_a_say_through_the_engine_it_names(fake):
    speaker = Speaker(None, audio="null", clock=VirtualClock())
    with serving(speaker) as server, client(server) as c:
        seen = len(fake.queries)
        c.send({"type": "say", "id": "v", "text": TEXT, "audio": "client",
                "tts": {"url": fake.url, "speaker": 3, "speed": 1.1}})
        speech = [m for m in c.ended("v") if m["type"] == "speech"]
        c.send({"type": "say", "id": "far", "text": "あ", "tts": {"url": "voicevox://192.0.2.1:50021"}})
        refused = c.until(lambda m: m["type"] == "error")[-1]
    queries = [read_audio_query(json.dumps(q), "q") for q in fake.queries[seen:]]
    assert all(q["speedScale"] == 1.1 for q in fake.queries[seen:])
    assert [[name for name, _, _ in m["timeline"]] for m in speech] == [list(q.names) for q in queries]
    assert refused["id"] == "far" and refused["code"] == "bad_message"
    assert "on this machine" in refused["message"]


def test_a_server_others_can_reach_calls_its_own_engine_only():
    from lipsync.engines.base import EngineVoice
    from lipsync.serve.protocol import ProtocolError
    from lipsync.serve.server import Server

    own = "voicevox://127.0.0.1:50021"
    with Speaker(None, audio="null", clock=VirtualClock(), tts=own) as speaker:
        reachable = Server(speaker, host="0.0.0.0", port=0)  # built, never started: nothing listens
        assert reachable.engine(own, EngineVoice(speaker=3), "a").http.port == 50021
        with pytest.raises(ProtocolError, match=r"own --tts, not 127\.0\.0\.1:6379"):
            reachable.engine("voicevox://127.0.0.1:6379", EngineVoice(), "b")  # another local service
        local = Server(speaker, host="127.0.0.1", port=0)
        assert local.engine("voicevox://localhost:6379", EngineVoice(), "c").http.port == 6379


def test_the_server_keeps_the_last_engines_clients_named_and_closes_the_rest():
    from lipsync.engines.base import EngineVoice
    from lipsync.serve.server import ENGINES, Server

    closed = []
    with Speaker(None, audio="null", clock=VirtualClock()) as speaker:
        server = Server(speaker, port=0)
        engines = [server.engine("voicevox://127.0.0.1:50021", EngineVoice(speaker=n), str(n))
                   for n in range(ENGINES + 2)]
        for engine in engines:
            engine.http.close = lambda e=engine: closed.append(e)  # type: ignore[method-assign]
        assert server.engine("voicevox://127.0.0.1:50021", EngineVoice(speaker=2), "again") is engines[2]
        server.engine("voicevox://127.0.0.1:50021", EngineVoice(speaker=99), "new")
        assert closed == [engines[3]]  # the least recently used; the others stay
        server.close()
    assert sorted(map(id, closed)) == sorted(map(id, engines[2:]))  # each closed once, on close()


def test_say_to_a_server_hands_it_the_engine_and_voice():
    from serveclient import CLIENT

    from lipsync.cli.main import build_parser
    from lipsync.cli.say_server import say_request

    args = build_parser().parse_args(["say", "あ", "--server", "ws://127.0.0.1:1", "--tts",
                                      "voicevox://127.0.0.1:50021", "--speaker", "3", "--pitch", "0.1",
                                      "--speed", "1.2"])
    request = say_request(args)
    CLIENT.validate(request)
    assert request["tts"] == {"url": "voicevox://127.0.0.1:50021", "speaker": 3, "speed": 1.2, "pitch": 0.1}


def test_a_batch_speaks_every_line_through_one_kept_connection(capsys, tmp_path):
    texts = ["こんにちは", "はい", "ありがとう"]
    with VoicevoxFake() as engine:  # its own, to count the connections it was asked on
        listing = tmp_path / "lines.tsv"
        rows = "".join(f"text\t-\t{t}\tout/{n}.lab\n" for n, t in enumerate(texts))
        listing.write_text(rows, encoding="utf-8")
        code, _, err = run(capsys, "export", "--batch", listing, "--tts", engine.url, "--speaker", "3",
                           "-j", "1")
        assert code == 0, err
        asked = [fields["text"] for method, path, fields in engine.requests if path == "/audio_query"]
        assert sorted(asked) == sorted(texts) and len(engine.connections) == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0.lab", "1.lab", "2.lab"]
