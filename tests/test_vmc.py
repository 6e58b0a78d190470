"""VMC out: OSC bundles of ``/VMC/Ext/Blend/Val`` and ``Apply`` to a real UDP receiver."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import ThreadingOSCUDPServer
from serveclient import client, serving

from lipsync.errors import ValueRefused
from lipsync.live.clock import VirtualClock
from lipsync.live.speaker import Speaker
from lipsync.live.transport.vmc import VmcSender, parse_vmc_url
from lipsync.maps.named import load_map
from lipsync.serve.server import Server


class Receiver:
    """A VMC marionette: records each message; ``frames`` groups Vals by the Apply after them."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, tuple[Any, ...]]] = []
        self.changed = threading.Condition()
        dispatcher = Dispatcher()
        dispatcher.set_default_handler(self._heard)
        self.server = ThreadingOSCUDPServer(("127.0.0.1", 0), dispatcher)
        self.url = f"vmc://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _heard(self, address: str, *args: Any) -> None:
        with self.changed:
            self.messages.append((address, args))
            self.changed.notify_all()

    def wait_applies(self, count: int, timeout: float = 20.0) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.applies() >= count, timeout)

    def applies(self) -> int:
        return sum(1 for address, _ in self.messages if address == "/VMC/Ext/Blend/Apply")

    def frames(self) -> list[dict[str, float]]:
        frames, current = [], {}
        with self.changed:
            for address, args in self.messages:
                if address == "/VMC/Ext/Blend/Val":
                    current[args[0]] = args[1]
                elif address == "/VMC/Ext/Blend/Apply":
                    frames.append(current)
                    current = {}
        return frames


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    received = Receiver()
    yield received
    received.server.shutdown()
    received.server.server_close()


def test_each_frame_is_every_morph_then_apply(receiver: Receiver) -> None:
    with VmcSender(receiver.url) as sender:
        sender(0.0, {"A": 0.5, "I": 0.0, "O": 0.25})
        sender(1 / 60, {"A": 0.0, "I": 0.75, "O": 0.0})
        assert receiver.wait_applies(2)
    assert receiver.messages[:4] == [("/VMC/Ext/Blend/Val", ("A", 0.5)), ("/VMC/Ext/Blend/Val", ("I", 0.0)),
                                     ("/VMC/Ext/Blend/Val", ("O", 0.25)), ("/VMC/Ext/Blend/Apply", ())]
    assert receiver.frames() == [{"A": 0.5, "I": 0.0, "O": 0.25}, {"A": 0.0, "I": 0.75, "O": 0.0}]


def test_vmc_urls_are_checked() -> None:
    assert parse_vmc_url("vmc://127.0.0.1:39540") == ("127.0.0.1", 39540)
    assert parse_vmc_url("vmc://localhost") == ("localhost", 39539)
    for bad in ("vmc://", "vmc://host:99999", "vmc://a b:1", "tcp://127.0.0.1:1"):
        with pytest.raises(ValueRefused):
            parse_vmc_url(bad)


def test_frames_leave_at_fps_on_the_sample_clock(receiver: Receiver) -> None:
    clock = VirtualClock()
    sent: list[tuple[float, float]] = []
    with VmcSender(receiver.url) as sender:
        speaker = Speaker(None, audio="null", clock=clock, fps=60)

        def on_weights(t: float, weights: dict[str, float]) -> None:
            sent.append((clock.now(), t))
            sender(t, weights)

        with speaker:
            utterance = speaker.say("こんにちは", on_weights=on_weights)
            utterance.wait()
        assert receiver.wait_applies(len(sent))
    assert utterance.started_at is not None and len(sent) > 60
    for number, (at, t) in enumerate(sent):
        assert t == pytest.approx(number / 60, abs=1e-6)  # every frame of the 60 fps grid
        assert at == pytest.approx(utterance.started_at + t, abs=1e-9)  # sent when its sample plays
    frames = receiver.frames()
    assert len(frames) == len(sent)
    assert all(set(f) == set(load_map().morphs) for f in frames)
    assert max(max(f.values()) for f in frames) > 0.3 and all(v == 0 for v in frames[-1].values())


def test_say_to_vmc_from_the_command_line(receiver: Receiver) -> None:
    result = subprocess.run([sys.executable, "-m", "lipsync", "say", "はい", "--to", receiver.url,
                             "--audio", "null", "--fps", "30"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert receiver.wait_applies(10)
    frames = receiver.frames()
    assert set(frames[0]) == set(load_map().morphs)
    assert any(v > 0.3 for f in frames for v in f.values())


def test_serve_sends_every_utterance_to_vmc_even_client_audio(receiver: Receiver) -> None:
    with VmcSender(receiver.url) as sender, serving(Speaker(None, audio="null", clock=VirtualClock()),
                                                   on_weights=sender) as server:
        assert isinstance(server, Server)
        with client(server) as c:
            c.send({"type": "say", "id": "v", "text": "はい", "audio": "client"})
            c.ended("v")
        assert receiver.wait_applies(10)
