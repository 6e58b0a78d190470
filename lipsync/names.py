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
    "ALIAS_LIMIT",
    "check_alias",
    "check_sequence",
    "check_token_name",
    "name_fault",
]

#: The longest model alias (UTF-8 bytes) we send: real aliases are short, and a long one would
#: leave no room for phonemes in a line under 2 KB.
ALIAS_LIMIT = 128
# ``|`` and ``,`` split the agent's messages; their full-width forms only look like them, but a
# name that looks like a field separator is a trap for whoever reads the line.
_MESSAGE_BREAKERS = frozenset("|,｜，")
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
    # Each distinct character once (a name may be megabytes of one character); the fault
    # named is the one that comes first.
    bad = [ch for ch in set(name) if _char_fault(ch, breakers, spaces=spaces)]
    if bad:
        first = min(bad, key=name.index)
        return f"{_char_fault(first, breakers, spaces=spaces)} is not allowed in a name"
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

    No ``|`` or ``,`` (nor their full-width look-alikes), no white space or control characters,
    at most ``ALIAS_LIMIT`` bytes.
    """
    fault = name_fault(alias, spaces=True, breakers=_MESSAGE_BREAKERS)
    if fault is None and isinstance(alias, str) and len(alias.encode("utf-8", "replace")) > ALIAS_LIMIT:
        fault = f"longer than {ALIAS_LIMIT} bytes"
    if fault:
        shown = alias[:40] + "..." if isinstance(alias, str) and len(alias) > 40 else alias
        raise NameRefused(f"model alias {shown!r} refused: {fault}")
    assert isinstance(alias, str)
    return alias


def check_sequence(sequence: object) -> str:
    """Return ``sequence`` if it is ``name,ms,name,ms,...`` (names valid, whole milliseconds),
    else raise ``NameRefused``: what goes after ``LIPSYNC_START|alias|`` must be nothing else."""
    if not isinstance(sequence, str) or not sequence:
        raise NameRefused(f"LIPSYNC sequence {sequence!r} refused: expected name,ms,name,ms,...")
    fields = sequence.split(",")
    if len(fields) % 2:
        raise NameRefused(f"LIPSYNC sequence refused: {len(fields)} fields, expected name,ms pairs")
    for number, field in enumerate(fields):
        if number % 2:
            if not (field.isascii() and field.isdigit()):
                raise NameRefused(f"LIPSYNC sequence refused: field {number + 1} {field[:40]!r} is not "
                                  "a whole number of milliseconds")
        else:
            fault = name_fault(field, breakers=_MESSAGE_BREAKERS)
            if fault:
                raise NameRefused(f"LIPSYNC sequence refused: field {number + 1} {field[:40]!r}: {fault}")
    return sequence
