"""The character rules for every name lipsync writes to a file or sends to the agent.

MMDAgent-EX splits a message on ``|``, a LIPSYNC sequence on ``,`` and a line on ``\\n``; its
lip.txt splits tokens on white space and starts a comment at ``#``. A name carrying any of
these, or a control character, would be read as something else: at worst as a command
(the agent runs any line it receives). So such names are refused before they go anywhere.
"""

from __future__ import annotations

import re
import unicodedata

from lipsync.errors import NameRefused

__all__ = [
    "check_alias",
    "check_token_name",
    "name_fault",
]

_MESSAGE_BREAKERS = frozenset("|,")
_TOKEN_BREAKERS = frozenset("|,#")
# What lip.txt's grammar reads as a number: a name like this would be taken for a weight.
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\Z")


def _char_fault(ch: str, breakers: frozenset[str], *, spaces: bool) -> str | None:
    if ch in breakers:
        return f"{ch!r}"
    category = unicodedata.category(ch)
    # Cc: control (NUL, CR, LF, TAB, ...); Cf: invisible format marks; Zl/Zp: line breaks.
    if category in ("Cc", "Cf", "Cs", "Zl", "Zp"):
        return f"control character U+{ord(ch):04X}"
    if spaces and (category == "Zs" or ch.isspace()):
        return "white space"
    return None


def name_fault(
    name: object, *, spaces: bool = True, breakers: frozenset[str] = _TOKEN_BREAKERS
) -> str | None:
    """Say what is wrong with ``name`` as a phoneme or morph name, or ``None`` if it is fine."""
    if not isinstance(name, str):
        return f"a name must be text, not {type(name).__name__}"
    if not name:
        return "a name must not be empty"
    for ch in name:
        fault = _char_fault(ch, breakers, spaces=spaces)
        if fault:
            return f"{fault} is not allowed in a name"
    if spaces and _NUMBER.match(name):
        return "a name must not read as a number"
    return None


def check_token_name(name: object, what: str = "name") -> str:
    """Return ``name`` if it is a valid phoneme or morph name, else raise ``NameRefused``."""
    fault = name_fault(name)
    if fault:
        raise NameRefused(f"{what} {name!r} refused: {fault}")
    assert isinstance(name, str)
    return name


def check_alias(alias: object) -> str:
    """Return ``alias`` if it is a valid MMDAgent-EX model alias, else raise ``NameRefused``.

    Spaces are allowed (the agent does not split on them); ``|``, ``,`` and control
    characters are not.
    """
    fault = name_fault(alias, spaces=False, breakers=_MESSAGE_BREAKERS)
    if fault is None and isinstance(alias, str) and alias != alias.strip():
        fault = "leading or trailing white space is not allowed"
    if fault:
        raise NameRefused(f"model alias {alias!r} refused: {fault}")
    assert isinstance(alias, str)
    return alias
