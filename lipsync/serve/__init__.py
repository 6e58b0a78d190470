"""The long-lived server for engines that cannot call Python (``lipsync serve``).

``protocol`` checks the messages (``schema.json`` is their specification), ``server`` runs
the WebSocket endpoint and the preview page (``page/``) around one ``Speaker``.
"""

from __future__ import annotations

__all__: list[str] = []
