"""Which words of the text the voice seems not to say as Open JTalk reads them.

A word read otherwise (茂平 as モヘイ where Open JTalk says モビラ) leaves a run of phonemes the
audio does not support: squeezed, stretched or laid over silence, each with a low confidence
(``check.token_confidence``). Such a run is named by the words of the text it falls in
(Open JTalk's own words and readings, mora by mora), so the user can give the reading.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from lipsync.alignment.plan import MORA_ENDS
from lipsync.timeline import PAUSES

if TYPE_CHECKING:
    from lipsync.alignment.plan import Plan
    from lipsync.timeline import Timeline

__all__ = ["doubtful_words"]

#: A phoneme this confident or less is doubtful ...
_LOW = 0.3
#: ... and a run of this many doubtful phonemes in a row is worth a warning.
_RUN = 3
#: Words are named for texts up to this long (Open JTalk reads the text again for them).
_NAMED_CHARS = 2000


def doubtful_words(
    plan: Plan, text: str | None, timeline: Timeline, confidence: Sequence[float]
) -> list[str]:
    """A warning per run of doubtful phonemes, naming its words when the text is known."""
    spoken_phones = [p for p in timeline if p.name not in PAUSES]
    low = [c <= _LOW for p, c in zip(timeline, confidence, strict=True) if p.name not in PAUSES]
    runs: list[tuple[int, int]] = []  # (first, last) spoken phoneme numbers
    first: int | None = None
    for number, doubtful in enumerate([*low, False]):
        if doubtful and first is None:
            first = number
        elif not doubtful and first is not None:
            if number - first >= _RUN:
                runs.append((first, number - 1))
            first = None
    if not runs:
        return []
    words = _words(plan, text)
    warnings = []
    for begin, last in runs:
        where = f"{float(spoken_phones[begin].start):.2f}-{float(spoken_phones[last].end):.2f} s"
        said = " ".join(p.name for p in spoken_phones[begin : last + 1])
        named = sorted({w for i in range(begin, last + 1) if (w := words.get(i))}, key=lambda w: w[2])
        if named:
            listed = ", ".join(f"「{surface}」 (read {reading})" for surface, reading, _ in named)
            warnings.append(f"{listed} at {where} does not fit the audio: if the voice reads it "
                            "otherwise, give the reading in kana (--kana)")
        else:
            warnings.append(f"the phonemes {said} at {where} do not fit the audio")
    return warnings


def _words(plan: Plan, text: str | None) -> dict[int, tuple[str, str, int]]:
    """Phoneme number -> (word, its reading, word number), where Open JTalk's words and the
    plan's morae agree; else empty."""
    if text is None or len(text) > _NAMED_CHARS:
        return {}
    from lipsync.speech.jtalk import frontend_words

    words = frontend_words(text)
    mora_of: list[int] = []
    mora = 0
    for name in plan.names:
        mora_of.append(mora)
        if name in MORA_ENDS:
            mora += 1
    if sum(size for _, _, size in words) != mora:
        return {}
    owner: list[int] = []
    for number, (_, _, size) in enumerate(words):
        owner += [number] * size
    return {i: (words[owner[m]][0], words[owner[m]][1], owner[m])
            for i, m in enumerate(mora_of) if m < len(owner)}
