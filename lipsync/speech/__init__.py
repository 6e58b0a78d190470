"""Text to speech and its timeline: Open JTalk's own audio and durations.

- ``jtalk``: ``synthesize(text)`` -> (``Audio``, ``Timeline``); ``durations(text)`` times
  the text without making audio; the front end (labels, accent phrases).
- ``htsvoice``: a ``.htsvoice`` file's header checked against its data before the engine reads it.
- ``pieces``: long text cut into pieces, spoken one while the next is made, joined
  sample-exact (``Piece``: a piece's audio with its timeline).
"""
