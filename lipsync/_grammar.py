"""Our lark grammars, each built once on first use (building one costs milliseconds)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lark import Lark

__all__ = ["grammar"]


@functools.cache
def grammar(package: str, name: str) -> Lark:
    """The LALR parser for ``name`` (a ``.lark`` file shipped in ``package``)."""
    from lark import Lark

    return Lark.open_from_package(package, name, ("",), parser="lalr", lexer="basic")
