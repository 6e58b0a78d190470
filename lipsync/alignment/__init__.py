"""Audio to timeline: any voice aligned to the text it says (pydomino's model).

- ``plan``: what to align, the phonemes of a text, kana or phoneme string (``plan_phonemes``).
- ``aligner``: ``align(audio, text)`` -> ``Timeline`` covering the audio exactly.
- ``edges``: where speech meets silence, the boundaries the model does not place well.
- ``check``: refuse audio that does not say its text (``AlignmentRefused``).
- ``pieces``: ``(audio, text)`` pieces aligned one after another, for gapless speech.
"""
