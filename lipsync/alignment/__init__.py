"""Audio to timeline: any voice aligned to the text it says, or heard without it (pydomino's model).

With the text:

- ``plan``: what to align, the phonemes of a text, kana or phoneme string (``plan_phonemes``).
- ``aligner``: ``align(audio, text)`` -> ``Timeline`` covering the audio exactly;
  ``alignment(...)`` -> ``Alignment`` (the timeline, a confidence per phoneme, warnings).
- ``activity``: where a recording has speech, by its own noise floor (``speech_activity``).
- ``engine``: pydomino's model and its search (``forced``) behind one guarded call.
- ``stretch``: one stretch of speech aligned, pauses where the voice made them.
- ``split``: long speech in stretches of bounded memory, each with its part of the text.
- ``edges``: where speech meets silence, the boundaries the model does not place well.
- ``check``: refuse audio that does not say its text (``AlignmentRefused``), score and confidence.
- ``doubts``: which words of the text do not fit the audio.
- ``pieces``: ``(audio, text)`` pieces aligned one after another, for gapless speech.

Without it (the recogniser):

- ``recognize``: ``recognize(audio)`` -> ``Timeline``; ``recording_pieces`` for playing a file.
- ``heard``: a stream of audio chunks -> pieces (audio + timeline) a look-ahead behind.
- ``stream``: the streaming recogniser (``StreamRecognizer``): committed spans as audio comes.
- ``hearing``: the recogniser's ``Settings``; audio heard whole; frame spans -> ``Timeline``.
- ``model``: pydomino's phoneme-transition model run with onnxruntime, and its transition list.
- ``viterbi``: the free search over the model's transitions.
- ``gate``: the loudness gate (quiet frames); ``pauses``: pause edges placed as Open JTalk's.
- ``pitch``, ``warp``: high voices heard slowed down, the emptied top band filled again.
"""
