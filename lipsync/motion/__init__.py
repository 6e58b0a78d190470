"""The mouth's motion, in one place for every consumer (files, serve frames, VMC, ``on_weights``).

- ``Motion`` (``settings``): co-articulation on or off, intensity, per-morph gains (and the
  gain file, ``read_gains``).
- ``mouth_curves``: a timeline's curves for any engine: lipsync's rules (``rules``), or with
  ``Motion(coarticulation=False)`` MMDAgent-EX's own ``createMotion`` (``lipsync.curves``).
- ``agent_sequence`` (``agent``): what MMDAgent-EX is sent, so that its own algorithm closes
  the lips on every bilabial too.
- ``map_roles`` (``roles``): which morphs of a map open the mouth, close it or stand for rest;
  ``mouth_shares`` (``shape``): each morph's share of jaw opening and lip rounding.
- ``figures`` (``measure``): closure, lead, flicker and jaw steps of any curves.
"""

from __future__ import annotations

from lipsync.curves import MouthCurves, agent_curves
from lipsync.maps.lipmap import LipMap
from lipsync.motion.roles import map_roles
from lipsync.motion.rules import motion_curves
from lipsync.motion.settings import Motion, read_gains
from lipsync.timeline import Timeline

__all__ = ["Motion", "map_roles", "mouth_curves", "read_gains"]


def mouth_curves(timeline: Timeline, lipmap: LipMap, motion: Motion | None = None) -> MouthCurves:
    """The mouth curves of ``timeline`` drawn with ``lipmap`` (names already in the map).

    By default lipsync's rules (``lipsync.motion.rules``); with
    ``Motion(coarticulation=False)`` the curves MMDAgent-EX would draw for the timeline sent
    as one LIPSYNC_START, scaled by the motion's intensity and gains.
    """
    import numpy as np

    motion = motion or Motion()
    if motion.coarticulation:
        return motion_curves(timeline, lipmap, motion)
    curves = agent_curves(timeline, lipmap)
    if motion.scaled:  # a rest morph (the mouth at rest) is not a mouth movement to scale
        scale = np.array(motion.scale(lipmap.morphs))
        scale[np.array(map_roles(lipmap).rest_morphs, dtype=bool)] = 1.0
        curves.weights = curves.weights * scale
    return curves
