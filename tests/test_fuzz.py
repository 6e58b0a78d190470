"""Hostile input everywhere: only LipsyncErrors (with a place), never a crash, never a hang.

Bounded here; ``LIPSYNC_FUZZ=N`` runs N examples per test instead (a longer run by hand).
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lipsync import LipsyncError, SourceError, Timeline, ValueRefused
from lipsync.cli import main
from lipsync.labels import FORMATS, read_labels
from lipsync.transport import MemoryTransport
from lipsync.transport.base import LineSplitter

EXAMPLES = int(os.environ.get("LIPSYNC_FUZZ", "60"))
fuzz = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# Text that looks enough like our formats to get past their first line.
pieces = st.sampled_from([
    "0 1000000 a\n", "0.0 0.1 k\n", "xx^sil-a+k=o/A:", "File type = \"ooTextFile\"\n",
    "Object class = \"TextGrid\"\n", "intervals [1]:\n", "xmin = 0\n", "xmax = 1\n", "text = \"a\"\n",
    "{\"accent_phrases\": [", "{\"moras\": [{\"vowel\": \"a\", \"vowel_length\": 0.1}]}", "]}",
    "\"speedScale\": 1.0,", "a|b", "\x00", "\r\n", "\ufeff", "-1", "1e309", "NaN", "\"", "#", " ", "\t",
])
texts = st.lists(st.one_of(pieces, st.text(max_size=8)), max_size=25).map("".join)


def located(exc: LipsyncError) -> bool:
    return not isinstance(exc, SourceError) or (exc.line >= 1 and exc.column >= 1)


@pytest.mark.parametrize("label_format", [*FORMATS, None])
@fuzz
@given(text=texts)
def test_label_readers_take_anything(tmp_path: Path, label_format: str | None, text: str) -> None:
    path = tmp_path / "fuzz.lab"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    try:
        timeline = read_labels(path, label_format)
    except LipsyncError as exc:
        assert located(exc) and "\n" not in str(exc)
    else:
        assert all("|" not in n and "," not in n for n in timeline.names)


@fuzz
@given(text=st.text(max_size=80) | st.lists(st.sampled_from(["a", ",", "100", "|", "\n"])).map("".join))
def test_sequences_take_anything(text: str) -> None:
    try:
        timeline = Timeline.from_sequence(text)
    except SourceError as exc:
        assert exc.line == 1 and exc.column >= 1
    else:
        assert Timeline.from_sequence(timeline.to_sequence()).names == timeline.names


words = st.sampled_from([
    "map", "check", "show", "set", "add", "remove", "rename", "timeline", "curves", "say", "--json",
    "--like", "--sequence", "a,100", "a|b,100", "--model", "gene", "ge|ne", "--to", "stdout", "tcp://x",
    "--audio", "null", "--labels", "/nonexistent", "--label-format", "hts", "--fps", "-1", "--speed", "0",
    "--latency", "nan", "--wait", "-3", "-o", "--unknown", "\x00", "", "data/lip.txt", "--map", "a",
    "align", "--wav", "--text", "--fit",
])


@fuzz
@given(argv=st.lists(words, max_size=8))
def test_the_cli_answers_anything_with_an_exit_code(argv: list[str]) -> None:
    if "say" in argv and "--to" in argv and "tcp://x" not in argv:
        argv = [a if a != "stdout" else "tcp://127.0.0.1:9" for a in argv]  # never speak for real
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit:  # argparse's own usage errors
            code = exit.code  # type: ignore[assignment]
    assert code in (0, 2, 3)
    assert "Traceback" not in err.getvalue()


@fuzz
@given(alias=st.text(max_size=12), names=st.lists(st.text(max_size=4), max_size=5))
def test_no_hostile_name_reaches_the_agent(alias: str, names: list[str]) -> None:
    agent = MemoryTransport()
    try:
        from lipsync.speaker import Speaker

        Speaker(agent, alias, audio="null")
        timeline = Timeline([(n, 0.1) for n in names] or [("a", 0.1)])
        for chunk in timeline.chunks(alias=alias):
            agent.send(chunk.line(alias))
    except ValueRefused:
        pass
    for line in agent.lines:
        _, alias_sent, *rest = line[:-1].split("|")
        assert alias_sent == alias and len(rest) <= 1
        assert not any(ch < " " for ch in line[:-1])


@fuzz
@given(chunks=st.lists(st.binary(max_size=300), max_size=30))
def test_whatever_the_agent_sends_splits_into_bounded_lines(chunks: list[bytes]) -> None:
    splitter = LineSplitter(limit=256)
    for data in chunks:
        for line in splitter.feed(data):
            assert "\n" not in line and len(line.encode("utf-8", errors="surrogatepass")) <= 3 * 256


@pytest.mark.parametrize("label", ["^-a|&+", "xx\x00xx^sil-a+k=o/A:1", "1xx^sil-a+k=o/A:xx^sil-a+k=o/A:"])
def test_labels_that_would_crash_the_hts_engine_are_refused(tmp_path: Path, label: str) -> None:
    path = tmp_path / "crash.lab"
    path.write_text(f"\n{label}\n")
    with pytest.raises(SourceError) as caught:
        read_labels(path, "hts")
    assert (caught.value.line, caught.value.column) == (2, 1)
