"""Every error lipsync raises, under one root.

::

    LipsyncError                 anything lipsync refuses or fails at (CLI exit 2)
    ├── SourceError              bad text in a file or string: names source:line:col
    │   └── ParseError           the text does not follow its format
    ├── ValueRefused             a value given through the API or CLI is not allowed
    │   ├── NameRefused          a name that would break lip.txt or the agent's messages
    │   ├── AlignmentRefused     the audio does not seem to say the text it was given
    │   └── UntimedLabels        labels that name phonemes but give them no time (align them)
    ├── MissingDependency        an optional library is not installed (says which pip fixes it)
    ├── SynthesisError           Open JTalk failed or disagreed with itself
    ├── AudioError               the audio device could not be opened or failed
    ├── ClusterError             a batch's cluster could not be reached, was lost, or disagrees
    ├── TransportError           the agent connection failed
    │   └── AgentUnreachable     no agent at the address we tried (CLI exit 3)
    └── EngineError              a TTS engine refused or failed: names it and what it answered
        ├── UnknownSpeaker       the engine has no such speaker (style): lists those it offers
        └── EngineUnreachable    no engine at the URL (CLI exit 3): says how to start one

Library exceptions (lark, socket, audio) are wrapped with ``raise ... from``.
"""

from __future__ import annotations

__all__ = [
    "AgentUnreachable",
    "AlignmentRefused",
    "AudioError",
    "ClusterError",
    "EngineError",
    "EngineUnreachable",
    "LipsyncError",
    "MissingDependency",
    "NameRefused",
    "ParseError",
    "SourceError",
    "SynthesisError",
    "TransportError",
    "UnknownSpeaker",
    "UntimedLabels",
    "ValueRefused",
]


class LipsyncError(Exception):
    """The root of lipsync's errors; ``str()`` is one line a user can act on."""

    exit_code = 2


class SourceError(LipsyncError):
    """A fault at a place in a text: ``source:line:col: message``, plus the line and a caret.

    ``line`` and ``column`` count from 1. ``context`` is the offending line with a caret
    under the column (empty when the text is not at hand).
    """

    def __init__(
        self,
        source: str,
        line: int,
        column: int,
        message: str,
        *,
        text: str | None = None,
    ) -> None:
        self.source = source
        self.line = line
        self.column = column
        self.message = message
        self.context = caret_context(text, line, column) if text is not None else ""
        super().__init__(f"{source}:{line}:{column}: {message}")


class ParseError(SourceError):
    """The text does not follow its format: what was expected and what was found."""

    def __init__(
        self,
        source: str,
        line: int,
        column: int,
        expected: str,
        found: str,
        *,
        text: str | None = None,
    ) -> None:
        self.expected = expected
        self.found = found
        super().__init__(source, line, column, f"expected {expected}, found {found}", text=text)


class ValueRefused(LipsyncError):
    """A value passed in through the API or the command line is not allowed."""


class NameRefused(ValueRefused):
    """A phoneme, morph or model name with characters that would break a file or a message."""


class AlignmentRefused(ValueRefused):
    """The audio does not seem to say the text: aligning it would give a confident wrong timeline."""


class UntimedLabels(ValueRefused):
    """Labels that name their phonemes but give them no time (a query of zero lengths, as
    AivisSpeech sends): the message names the key; align them to their audio instead."""


class MissingDependency(LipsyncError):
    """A library is missing; the message says what to install (lipsync-ja, or one of its extras)."""

    @classmethod
    def needs(
        cls, library: str, *, extra: str | None = None, package: str | None = None
    ) -> MissingDependency:
        """``library`` is not installed: a lipsync-ja ``extra`` brings it, or (a dependency of
        every install) reinstalling lipsync-ja does, or ``package`` alone."""
        if extra is not None:
            return cls(f"{library} is not installed: pip install 'lipsync-ja[{extra}]'")
        return cls(f"{library} is not installed: pip install lipsync-ja (it brings {package or library})")


class SynthesisError(LipsyncError):
    """Open JTalk could not make speech, or its durations disagree with its audio."""


class AudioError(LipsyncError):
    """The audio output could not be opened, or failed while playing."""


class ClusterError(LipsyncError):
    """The cluster running a batch (``export --cluster``) is unreachable, gone, or runs another
    lipsync: like an agent or an engine that is not there, exit 3 from the CLI."""

    exit_code = 3


class TransportError(LipsyncError):
    """The connection to the agent failed."""


class AgentUnreachable(TransportError):
    """No agent answered where we looked; the message says where and how to enable it."""

    exit_code = 3


class EngineError(LipsyncError):
    """A TTS engine refused a request or failed: the message names the engine, its URL and
    what it answered. ``status`` is the HTTP status (``None`` when there was no answer)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class UnknownSpeaker(EngineError):
    """The engine has no such speaker or style; the message and ``offers`` list ``(id, name)``
    of those it has, and ``details`` the same as lines (the command line prints them when the
    message is too long for its one line)."""

    def __init__(self, message: str, offers: tuple[tuple[str, str], ...]) -> None:
        super().__init__(message)
        self.offers = offers
        self.details = tuple(f"{ident}  {name}" for ident, name in offers)


class EngineUnreachable(EngineError):
    """No engine answered at the URL; the message says where and how to start one."""

    exit_code = 3


_CONTEXT_WIDTH = 80


def caret_context(text: str, line: int, column: int) -> str:
    """Return line ``line`` of ``text`` and a caret under ``column`` (both 1-based).

    A long line is shown as the 80 characters around the column, with ``...`` where cut,
    so a one-line 10 MB file never reaches the terminal whole.
    """
    lines = text.splitlines()
    if not 1 <= line <= len(lines):
        return ""
    shown = lines[line - 1].replace("\t", " ")
    caret = column - 1
    if len(shown) > _CONTEXT_WIDTH:
        first = max(0, min(caret - _CONTEXT_WIDTH // 2, len(shown) - _CONTEXT_WIDTH))
        cut = shown[first : first + _CONTEXT_WIDTH]
        head = "..." if first > 0 else ""
        tail = "..." if first + _CONTEXT_WIDTH < len(shown) else ""
        shown, caret = head + cut + tail, caret - first + len(head)
    return f"{shown}\n{' ' * caret}^"


def quote(token: str | None) -> str:
    """Describe a found token for an error message (``end of file`` when there is none)."""
    if token is None:
        return "end of file"
    return repr(token) if len(token) <= 40 else repr(token[:37] + "...")
