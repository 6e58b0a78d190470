"""What to align: the phonemes of a text, a kana reading or a phoneme string, and pydomino's tokens.

A ``Plan`` holds Open JTalk phoneme names (no silences), where a pause may fall (between
accent phrases, or after any mora of a bare phoneme string) and Open JTalk's expected
durations. ``token_sequence`` turns it into the tokens pydomino aligns, with a pause where
asked; phonemes pydomino lacks become their nearest (``kw`` as ``k``, devoiced ``A`` as ``a``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from lipsync.errors import ValueRefused

__all__ = [
    "CONSONANTS", "MORA_ENDS", "QUIET_CONSONANTS", "SILENCES", "STOPS", "VOICELESS_STOPS", "VOWELS", "Plan",
    "plan_phonemes", "token_expectations", "token_sequence",
]

VOWELS = frozenset("aiueo")
CONSONANTS = frozenset(
    "ry r my m ny n j z by b dy d gy g ky k ch ts sh s hy h v f py p t y w".split()
)
STOPS = frozenset("k ky g gy t d dy p py b by ch ts j".split())
VOICELESS_STOPS = frozenset("k ky t p py ch ts".split())
#: Consonants whose sound may be as quiet as a pause: stops' closures, the breath of h and f.
QUIET_CONSONANTS = STOPS | {"h", "hy", "f"}
#: Open JTalk names pydomino has no token for, and the one it aligns them as.
_NEAREST = {"sil": "pau", "A": "a", "E": "e", "O": "o", "kw": "k", "gw": "g", "ty": "t"}


#: Phonemes that end a mora: a pause may follow any of them.
MORA_ENDS = frozenset("a i u e o A I U E O N cl".split())


SILENCES = frozenset({"sil", "pau", "sp", "silB", "silE"})


@dataclass(frozen=True)
class Plan:
    """What to align: Open JTalk phoneme names (no silences), where a pause may go, priors.

    ``optional[i]`` is true when a pause may come before phoneme ``i`` (never at 0): the
    aligner keeps it where the voice paused. ``expected`` holds a duration per phoneme
    (seconds, Open JTalk's guess or a label's) or is empty. ``marked[i]`` is true where the
    text itself marks a pause (punctuation, a sentence's end: Open JTalk pauses there), or
    empty when nothing is known.
    """

    names: tuple[str, ...]
    optional: tuple[bool, ...]
    expected: tuple[float, ...] = ()
    marked: tuple[bool, ...] = ()

    def is_marked(self, index: int) -> bool:
        return bool(self.marked) and self.marked[index]

    def part(self, first: int, end: int) -> Plan:
        """Phonemes ``first`` to ``end`` (exclusive) as a plan of their own."""
        optional = (False, *self.optional[first + 1 : end])
        marked = (False, *self.marked[first + 1 : end]) if self.marked else ()
        expected = self.expected[first:end] if self.expected else ()
        return Plan(self.names[first:end], optional, expected, marked)

    def duration(self, first: int, end: int) -> float:
        """Open JTalk's expected seconds for phonemes ``first`` to ``end`` (0 without a prior)."""
        return sum(self.expected[first:end]) if self.expected else 0.0


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
    return _plan_from_long_text(text)


def _plan_from_long_text(text: str) -> Plan:
    """``_plan_from_text``, sentence by sentence when Open JTalk cannot take the text at once."""
    from lipsync.speech.jtalk import MAX_TEXT_CHARS
    from lipsync.speech.pieces import split_text

    if len(text) <= MAX_TEXT_CHARS:
        return _plan_from_text(text)
    parts = [_plan_from_text(piece) for piece in split_text(text)]
    names = tuple(n for p in parts for n in p.names)
    # A pause may come between sentences, as within them.
    optional = tuple(o or (k == 0 and bool(i)) for i, p in enumerate(parts) for k, o in enumerate(p.optional))
    marked = tuple(o or (k == 0 and bool(i)) for i, p in enumerate(parts) for k, o in enumerate(p.marked))
    return Plan(names, optional, tuple(e for p in parts for e in p.expected), marked)


def _is_kana(c: str) -> bool:
    return "ぁ" <= c <= "ゖ" or "ァ" <= c <= "ヺ" or c in "ゝゞヽヾ"


def _plan_from_text(text: str) -> Plan:
    from lipsync.labels.segments import full_context_phoneme
    from lipsync.speech.jtalk import labels_for, time_labels

    labels = labels_for(text)
    timed = time_labels(labels)
    names: list[str] = []
    optional: list[bool] = []
    marked: list[bool] = []
    expected: list[float] = []
    pause_before = False
    phrase = None
    for label, duration in zip(labels, timed.durations, strict=True):
        name = full_context_phoneme(label)
        assert name is not None
        if name in SILENCES:
            pause_before = True
            continue
        # The accent phrase (F field) and breath group (I field) this phoneme belongs to.
        here = (label.split("/F:")[1].split("/")[0], label.split("/I:")[1].split("/")[0])
        optional.append(bool(names) and (pause_before or here != phrase))
        marked.append(bool(names) and pause_before)
        names.append(name)
        expected.append(float(duration))
        phrase, pause_before = here, False
    if not names:
        raise ValueRefused(f"nothing to align in {text!r}: Open JTalk found no speech")
    return Plan(tuple(names), tuple(optional), tuple(expected), tuple(marked))


def _plan_from_string(text: str) -> Plan:
    from lipsync.names import name_fault

    names: list[str] = []
    for index, name in enumerate(text.replace(",", " ").split()):
        fault = name_fault(name)
        if fault:
            raise ValueRefused(f"phoneme {index + 1} {name!r}: {fault}")
        if name in SILENCES:
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
    optional = [i > 0 and names[i - 1] in MORA_ENDS for i in range(len(names))]
    return Plan(tuple(names), tuple(optional))


def _token(names: Sequence[str], index: int, before: str, after: str) -> str:
    """pydomino's name for ``names[index]`` between the tokens ``before`` and ``after``."""
    name = names[index]
    token = _NEAREST.get(name, name)
    # pydomino has devoiced I and U only between a consonant and a consonant or a pause.
    if token in ("I", "U") and not (before in CONSONANTS and (after in CONSONANTS or after == "pau")):
        token = token.lower()
    return token


def token_sequence(plan: Plan, pauses: Sequence[bool]) -> tuple[list[str], list[list[int]]]:
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


def token_expectations(plan: Plan, tokens: list[str], members: list[list[int]]) -> list[float]:
    """Open JTalk's expected seconds per token (0 for pauses; empty without a prior)."""
    if not plan.expected:
        return []
    return [sum(plan.expected[i] for i in group) for group in members]
