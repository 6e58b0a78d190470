"""Which lip maps a serve client may name: the shipped ones, and files under ``--maps-dir`` only.

A client must not read the server's files, learn which exist, hang the server on a FIFO or a
terminal, or make it swallow a device without end; every refusal reads the same.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from serveclient import Client, client, serving

from lipsync.errors import ValueRefused
from lipsync.live.clock import VirtualClock
from lipsync.live.speaker import Speaker
from lipsync.maps.named import MAP_NAMES, load_map, map_bytes
from lipsync.serve.maps import MAX_MAP_BYTES

SECRET = "SecretMorph"


def quick() -> Speaker:
    return Speaker(None, audio="null", clock=VirtualClock())


def a_map(morph: str) -> bytes:
    """The vrm map with its first morph renamed, so frames show which file was read."""
    return map_bytes("vrm").replace(b"aa", morph.encode())


@pytest.fixture
def maps(tmp_path: Path) -> Path:
    folder = tmp_path / "maps"
    (folder / "sub").mkdir(parents=True)
    (folder / "mine.txt").write_bytes(a_map("MineMorph"))
    (folder / "sub" / "deep.txt").write_bytes(a_map("DeepMorph"))
    (tmp_path / "secret.txt").write_bytes(a_map(SECRET))
    (folder / "link.txt").symlink_to(tmp_path / "secret.txt")  # a link out of the folder
    (folder / "zero.txt").symlink_to("/dev/zero")
    (folder / "stdin.txt").symlink_to("/dev/stdin")
    os.mkfifo(folder / "fifo.txt")
    (folder / "big.txt").write_bytes(map_bytes("vrm") + b"#" * MAX_MAP_BYTES)
    return folder


def say(c: Client, name: str, request_id: str) -> dict[str, Any]:
    """Send a say naming map ``name``; its error, or its first frame."""
    c.send({"type": "say", "id": request_id, "text": "はい", "map": name})
    got = c.until(lambda m: m.get("id") == request_id and m["type"] in ("error", "frame"), timeout=10)
    if got[-1]["type"] == "frame":
        c.ended(request_id)
    return got[-1]


def test_a_client_names_shipped_maps_and_files_under_maps_dir_only(maps: Path, tmp_path: Path) -> None:
    refused = ["../secret.txt", str(tmp_path / "secret.txt"), "link.txt", "sub/../../secret.txt",
               "zero.txt", "stdin.txt", "fifo.txt", "big.txt", "missing.txt", "/etc/shadow",
               "/nonexistent/x", "/dev/zero", "sub", ".", "sub//deep.txt", "a\\b.txt"]
    with serving(quick(), maps_dir=maps) as server, client(server) as c:
        assert "MineMorph" in say(c, "mine.txt", "a")["weights"]
        assert "DeepMorph" in say(c, "sub/deep.txt", "b")["weights"]
        assert "ou" in say(c, "vrm", "c")["weights"]
        started = time.monotonic()
        replies = {name: say(c, name, f"r{n}") for n, name in enumerate(refused)}
        took = time.monotonic() - started
    assert took < 10  # no FIFO, terminal or device held the request up (each would hang)
    sentences = set()
    for name, reply in replies.items():
        assert reply["type"] == "error" and reply["code"] == "bad_map", (name, reply)
        shown, _, sentence = str(reply["message"]).partition(": ")  # the name as given, then why
        assert SECRET not in sentence and str(tmp_path) not in sentence
        assert shown == name or (len(name) > 60 and shown.startswith(repr(name)[:40]))
        sentences.add(sentence)
    # One sentence whatever the reason: what exists and what does not cannot be told apart.
    named = f"not a named map ({', '.join(MAP_NAMES)})"
    assert sentences == {f"no such map file in the server's --maps-dir, and {named}"}


def test_without_maps_dir_a_client_names_shipped_maps_only(maps: Path) -> None:
    with serving(quick()) as server, client(server) as c:
        assert say(c, "mmd", "named")["type"] == "frame"
        for n, name in enumerate(["mine.txt", str(maps / "mine.txt")]):
            reply = say(c, name, f"file{n}")
            assert reply["code"] == "bad_map" and "reads no map files" in str(reply["message"])
            assert str(maps) not in str(reply["message"]).replace(name, "")


def test_a_bad_map_file_in_maps_dir_is_refused_by_line_without_its_path(tmp_path: Path) -> None:
    (tmp_path / "broken.txt").write_text("a\n", encoding="utf-8")
    with serving(quick(), maps_dir=tmp_path) as server, client(server) as c:
        reply = say(c, "broken.txt", "x")
    assert reply["code"] == "bad_map" and "broken.txt" in str(reply["message"])
    assert str(tmp_path) not in str(reply["message"])


def test_an_unknown_map_gets_the_same_message_as_without_server() -> None:
    with pytest.raises(ValueRefused) as local:
        load_map("vrn")
    with serving(quick()) as server, client(server) as c:
        reply = say(c, "vrn", "x")
    named = f"not a named map ({', '.join(MAP_NAMES)}): did you mean vrm?"
    assert str(local.value).endswith(named) and str(reply["message"]).endswith(named)
    files = "this server reads no map files (lipsync serve --maps-dir DIR)"
    assert reply["message"] == f"vrn: {files}, and {named}"
