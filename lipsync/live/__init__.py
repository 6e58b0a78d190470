"""Speech played live, with the lips on time: the scheduler and what carries it out.

- ``schedule``: the pure part: given pieces of speech, the output's sample clock and the
  agent's answers, what is due at which sample (a START, a STOP, a frame of weights, the end).
- ``agent``: the agent's answers (delays, silence) and the warnings they call for.
- ``speaker`` (``Speaker``, ``Utterance``) and ``run`` (one utterance on its way out): the
  threads and I/O that carry the schedule out; ``sources``: what a ``say()`` speaks and the
  pieces it becomes; ``incoming``: a stream's audio chunks as they arrive (and pause).
- ``clock``: clocks (monotonic, virtual for tests); ``audio``: outputs (miniaudio,
  simpleaudio, null) and capture inputs (miniaudio, a file as a stand-in); ``transport``:
  connections to the agent (TCP, WebSocket, stdout, memory) and VMC.
"""
