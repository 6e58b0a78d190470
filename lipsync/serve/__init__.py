"""The long-lived server for engines that cannot call Python (``lipsync serve``).

``protocol`` checks the messages (``schema.json`` is their specification) and ``messages``
makes the larger ones the server sends; ``server`` runs the WebSocket endpoint around one
``Speaker``, each client a ``session``; ``pages`` serves the preview page (``page/``) and
decides which pages may connect; ``maps`` is what lip maps a client may name; ``limits``
bounds what clients may use; ``shape`` fits a map to a two-control drawn mouth.
"""

from __future__ import annotations

__all__ = ["DEFAULT_PORT"]

#: Where ``lipsync serve`` listens unless told (``ws://127.0.0.1:50100/lipsync``).
DEFAULT_PORT = 50100
