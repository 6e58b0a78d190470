"""The long-lived server for engines that cannot call Python (``lipsync serve``).

``protocol`` checks the messages (``schema.json`` is their specification), ``server`` runs
the WebSocket endpoint and the preview page (``page/``) around one ``Speaker``.
"""

from __future__ import annotations

__all__ = ["DEFAULT_PORT"]

#: Where ``lipsync serve`` listens unless told (``ws://127.0.0.1:50100/lipsync``).
DEFAULT_PORT = 50100
