"""Audio to timeline: any voice aligned to the text it says (pydomino's model).

- ``plan``: what to align, the phonemes of a text, kana or phoneme string (``plan_phonemes``).
- ``aligner``: ``align(audio, text)`` -> ``Timeline`` covering the audio exactly;
  ``alignment(...)`` -> ``Alignment`` (the timeline, a confidence per phoneme, warnings).
- ``activity``: where a recording has speech, by its own noise floor (``speech_activity``).
- ``engine``: pydomino behind one guarded call (nothing reaches its native code unchecked).
- ``stretch``: one stretch of speech aligned, pauses where the voice made them.
- ``split``: long speech in stretches of bounded memory, each with its part of the text.
- ``edges``: where speech meets silence, the boundaries the model does not place well.
- ``check``: refuse audio that does not say its text (``AlignmentRefused``), score and confidence.
- ``doubts``: which words of the text do not fit the audio.
- ``pieces``: ``(audio, text)`` pieces aligned one after another, for gapless speech.
"""
