"""A voice's header is checked against its data before the HTS engine (C) reads it."""

from __future__ import annotations

import pytest
from conftest import REFERENCE

from lipsync import SourceError, ValueRefused
from lipsync.speech.htsvoice import check_voice
from lipsync.speech.synthesis import synthesize

VOICES = sorted((REFERENCE / "voices").glob("*.htsvoice"))
HAPPY = REFERENCE / "voices" / "mei_happy.htsvoice"


@pytest.mark.parametrize("voice", VOICES, ids=lambda p: p.name)
def test_the_reference_voices_pass(voice):
    check_voice(voice)


def test_the_bundled_voice_passes():
    import pyopenjtalk

    check_voice(pyopenjtalk.DEFAULT_HTS_VOICE.decode())


# Unchecked, the first two crash the engine (heap corruption, segfault); with the next two it
# speaks from a misread model; the others it refuses itself. All are refused before it runs.
# Lines: [GLOBAL] is 1, STREAM_TYPE 7, OPTION[MCP] 25, [POSITION] 28, STREAM_WIN[MCP] 31,
# STREAM_PDF[MCP] 34, STREAM_TREE[MCP] 37, GV_TREE[LF0] 43.
@pytest.mark.parametrize(("old", "new", "line", "words"), [
    (b"STREAM_TREE[MCP]:625725-695896", b"STREAM_TREE[MCP]:625725-691896", 37, "whole decision trees"),
    (b"OPTION[MCP]:ALPHA", b"OPTIONcMCP]:ALPHA", 25, "a key of [STREAM]"),
    (b"GV_TREE[LF0]:861115-861532", b"GV_TREE[LF0]:861115-961532", 43, "within the 861533 bytes"),
    (b"NUM_WINDOWS[MCP]:3", b"NUM_WINDOWS[MCP]:2", 31, "2 windows"),
    (b"VECTOR_LENGTH[MCP]:35", b"VECTOR_LENGTH[MCP]:95", 34, "PDFs of 570 floats"),
    (b"NUM_STREAMS:3", b"NUM_STREAMS:4", 7, "4 different stream names"),
    (b"[POSITION]", b"[POSITIOM]", 28, "KEY:VALUE inside a section"),
])
def test_a_changed_header_is_refused_with_its_line(tmp_path, old, new, line, words):
    data = HAPPY.read_bytes()
    assert data.count(old) == 1
    path = tmp_path / "v.htsvoice"
    path.write_bytes(data.replace(old, new))
    with pytest.raises(SourceError) as caught:
        check_voice(path)
    assert caught.value.line == line and words in str(caught.value)


def test_synthesis_refuses_a_broken_voice_before_the_engine_sees_it(tmp_path):
    path = tmp_path / "v.htsvoice"
    path.write_bytes(HAPPY.read_bytes().replace(b"OPTION[MCP]:ALPHA", b"OPTIONcMCP]:ALPHA"))
    with pytest.raises(ValueRefused, match="cannot load as an HTS voice: line 25"):
        synthesize("はい", voice=path)
