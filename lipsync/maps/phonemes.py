"""Phoneme names every map is checked against: Open JTalk's set, and other tools' names for them."""

from __future__ import annotations

__all__ = ["ALIASES", "OPEN_JTALK_PHONEMES"]

#: Every phoneme Open JTalk emits for speech (``xx``, its "unknown", is left out).
OPEN_JTALK_PHONEMES: tuple[str, ...] = tuple(
    "a i u e o A I U E O N cl pau sil b by ch d dy f g gw gy h hy j k kw ky m my n ny "
    "p py r ry s sh t ts ty v w y z".split()
)

#: Other tools' names for Open JTalk phonemes. Julius writes silB/silE at the ends, sp for a
#: pause and q for the geminate, and a colon for a long vowel; aligners write "" or <sil>
#: for silence (label readers turn an empty text into sil or pau before this). An alias
#: is used only when the map lacks the name itself.
ALIASES: dict[str, str] = {
    "silB": "sil",
    "silE": "sil",
    "sp": "pau",
    "q": "cl",
    "a:": "a",
    "i:": "i",
    "u:": "u",
    "e:": "e",
    "o:": "o",
    "<sil>": "sil",
    "spn": "pau",
    # MMDAgent-EX's stock lip.txt has no rows for Open JTalk's gw and kw (loanword gwa, kwa):
    # sent as they are, the agent would draw them as its first row.
    "gw": "g",
    "kw": "k",
}
