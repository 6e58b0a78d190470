"""The ``lipsync`` command: one module per command, wiring library calls; the only place that prints.

``entry`` is the program's entry point (signal handlers before anything loads), ``main``
builds the parser and maps errors to exit codes, ``io`` holds the printing and argument
helpers every command shares. Nothing here is imported by the library.
"""
