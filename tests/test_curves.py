"""Mouth curves as MMDAgent-EX draws them (createMotion, frame for frame), and the curve type."""

from __future__ import annotations

import numpy as np
import pytest

from lipsync import LipMap, Timeline, ValueRefused, load_map
from lipsync.curves import FPS, agent_curves, motion_keys

EXAMPLE = "sil,187,k,75,o,75,N,75,n,75,i,62,ch,75,i,87,w,100,a,87,sil,212"


def _phoneme_frames(keys):
    """Undo the 2-frame split: frames per phoneme as createMotion first computed them."""
    merged = []
    for key in keys[:-1]:
        if merged and key.rate != 1.0 and key.phoneme == merged[-1][0]:
            merged[-1][1] += key.frames
        else:
            merged.append([key.phoneme, key.frames])
    return [frames for _, frames in merged]


def test_worked_example_key_lengths_and_last_keyframe():
    timeline = Timeline.from_sequence(EXAMPLE)
    curves = agent_curves(timeline, load_map())
    assert _phoneme_frames(curves.keys) == [6, 2, 2, 2, 3, 1, 3, 2, 3, 3, 12]
    assert curves.keys[-1].frame == 39 and curves.keys[-1].rate == 0.0
    assert curves.keys[-1].phoneme == "A"  # the closing key uses row 0
    assert [(k.frame, k.frames, k.rate) for k in curves.keys[:3]] == [(0, 4, 1.0), (4, 2, 0.8), (6, 2, 1.0)]


def test_keyframe_weights_are_map_weight_times_rate():
    curves = agent_curves(Timeline.from_sequence(EXAMPLE), load_map())
    a = dict(curves.keyframes()["あ"])
    assert a[24] == pytest.approx(0.5)  # 'a' at full rate
    assert a[25] == pytest.approx(0.4)  # its 2-frame tail at 0.8
    assert a[39] == 0.0


def test_weights_between_keyframes_are_linear_and_blend_in():
    curves = agent_curves(Timeline.from_sequence(EXAMPLE), load_map())
    halfway = curves.at([24.5 / FPS])[0, 0]
    assert halfway == pytest.approx(0.45)
    assert curves.at([0.0])[0].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert curves.at([100.0])[0].tolist() == [0.0, 0.0, 0.0, 0.0]


def test_float32_carry_like_the_agent():
    # 0.03 * 50 = 1.5 frames each: the carry alternates 2, 1, 2, 1 ...
    keys = motion_keys([("a", 50)] * 4, "A")
    assert _phoneme_frames(keys) == [2, 1, 2, 1 + 6]
    assert _phoneme_frames(motion_keys([("a", 1)], "A")) == [1 + 6]  # at least one frame


def test_sampling_covers_the_motion():
    curves = agent_curves(Timeline.from_sequence(EXAMPLE), load_map())
    times, weights = curves.sample(60)
    assert times[0] == 0 and times[-1] == pytest.approx(39 / 30)
    assert weights.shape == (len(times), 4)
    assert np.all(weights >= 0) and weights.max() == pytest.approx(0.8)  # o: お 0.8


def test_unknown_names_are_not_drawn():
    with pytest.raises(ValueRefused, match="'zz'"):
        agent_curves(Timeline.from_sequence("sil,100,zz,100"), load_map())


def test_other_maps_move_other_morphs():
    lipmap = LipMap.parse("2 x y\n2\nsil 0 0\na 0.2 0.9\n")
    curves = agent_curves(Timeline.from_sequence("sil,100,a,300"), lipmap)
    assert curves.morphs == ("x", "y")
    assert max(w for _, w in curves.keyframes()["y"]) == pytest.approx(0.9)
