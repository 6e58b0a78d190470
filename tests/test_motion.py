"""The mouth's motion (lipsync.motion): closure on m/b/p, a lead within what viewers accept, no
one-frame shapes, a jaw that does not snap, intensity and gains; measured with every named map
on the tuning sentences and on held-out speech (tests/speechsets.py)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from speechsets import held_out, tuning

from lipsync import LipMap, Timeline, ValueRefused, load_map, resolve
from lipsync.curves import FPS, agent_curves
from lipsync.errors import SourceError
from lipsync.maps.named import MAP_NAMES
from lipsync.motion import Motion, mouth_curves
from lipsync.motion.measure import Figures, figures
from lipsync.motion.roles import BILABIALS
from lipsync.motion.settings import parse_gains, read_gains


def measured(name: str, timelines: tuple[Timeline, ...], motion: Motion | None = None, *,
             leads: bool = False) -> Figures:
    lipmap = load_map(name)
    total = Figures()
    for timeline in timelines:
        timeline, _ = resolve(timeline, lipmap)
        total += figures(mouth_curves(timeline, lipmap, motion), timeline, lipmap, leads=leads)
    return total


@pytest.mark.parametrize("name", sorted(MAP_NAMES))
def test_every_map_shuts_the_lips_on_every_bilabial_of_the_tuning_set(name: str) -> None:
    got = measured(name, tuning())
    assert got.bilabials == 62 and got.closed == got.bilabials, got.open_bilabials
    assert got.flickers == 0 and got.jaw_step <= 0.55


@pytest.mark.parametrize("name", sorted(MAP_NAMES))
def test_held_out_speech_closes_on_98_percent_of_bilabials_with_every_map(name: str) -> None:
    got = measured(name, held_out())
    assert got.bilabials == 379 and got.closure >= 0.98, got.open_bilabials
    # The misses are bilabials shorter than a frame that no 30 fps frame falls in.
    assert got.bilabials - got.closed == got.unframed
    assert got.flickers == 0 and got.jaw_step <= 0.55


@pytest.mark.parametrize("name", ["mmdagent", "vrm"])
def test_mmdagent_ex_s_own_rule_left_lips_open_and_flickering(name: str) -> None:
    old = measured(name, held_out(), Motion(coarticulation=False))
    assert old.closure < 0.9  # it touches closed between frames, or (stock map) b is あ 0.1
    assert old.flickers > 100 and old.jaw_step > 0.9


@pytest.mark.parametrize("name", ["mmdagent", "live2d"])
def test_held_out_vowels_are_formed_ahead_of_their_sound_within_45_ms(name: str) -> None:
    got = measured(name, held_out(), leads=True)
    assert len(got.leads) > 2000
    assert 0.015 <= got.lead <= 0.045
    assert got.late <= 0.005 * len(got.leads)  # barely started when its sound began: at most 1 in 200


def test_a_sound_shorter_than_a_frame_is_blended_not_flashed() -> None:
    lipmap = load_map("vrm")
    # i for 20 ms between two a's: MMDAgent-EX's rule shows it on one frame at full weight.
    timeline = Timeline.from_sequence("sil,200,a,150,i,20,a,150,sil,200")
    new, old = mouth_curves(timeline, lipmap), agent_curves(timeline, lipmap)
    assert figures(new, timeline, lipmap).flickers == 0
    ih = lipmap.morphs.index("ih")
    assert new.weights[:, ih].max() < 0.5 * old.weights[:, ih].max()


def test_a_bilabial_no_frame_falls_in_closes_the_nearest_frame() -> None:
    lipmap = load_map("vrm")
    timeline = Timeline.from_sequence("sil,200,a,105,m,20,a,200,sil,200")  # m: 0.305 to 0.325 s
    curves = mouth_curves(timeline, lipmap)
    got = figures(curves, timeline, lipmap)
    assert got.unframed == 1 and got.closed == 0
    assert curves.at([9 / FPS])[0].max() < 0.1  # frame 9 (0.300 s), 15 ms before its middle, is shut


def test_n_and_cl_before_a_bilabial_close_too() -> None:
    lipmap = load_map("mmd")
    for sequence, first in (("sil,200,a,100,N,70,p,60,o,150,sil,200", "N"),
                            ("sil,200,i,100,cl,90,p,60,a,150,sil,200", "cl")):
        timeline = Timeline.from_sequence(sequence)
        curves = mouth_curves(timeline, lipmap)
        phone = next(p for p in timeline if p.name == first)
        frames = [k / FPS for k in range(60) if phone.start <= Fraction(k, FPS) < phone.end]
        weights = curves.at(frames)
        assert len(frames) >= 2 and (weights[:, :5] < 0.1).all() and weights[:, 5] == pytest.approx(1.0)  # ん


def test_no_coarticulation_is_mmdagent_ex_s_own_motion() -> None:
    timeline, _ = resolve(tuning()[0], load_map())
    plain = mouth_curves(timeline, load_map(), Motion(coarticulation=False))
    agent = agent_curves(timeline, load_map())
    assert plain.keyframes() == agent.keyframes() and plain.keys == agent.keys


def test_intensity_and_gains_scale_every_consumer_s_weights() -> None:
    lipmap = load_map("vrm")
    timeline, _ = resolve(tuning()[1], lipmap)
    full = mouth_curves(timeline, lipmap)
    half = mouth_curves(timeline, lipmap, Motion.of(intensity=0.5))
    quiet_a = mouth_curves(timeline, lipmap, Motion.of(gains={"aa": 0.0, "oh": 2.0}))
    aa, oh = lipmap.morphs.index("aa"), lipmap.morphs.index("oh")
    assert half.weights[:, oh].max() == pytest.approx(0.5 * full.weights[:, oh].max(), rel=0.05)
    assert quiet_a.weights[:, aa].max() == 0 and quiet_a.weights[:, oh].max() > full.weights[:, oh].max()
    assert figures(half, timeline, lipmap).closure == 1.0
    old = mouth_curves(timeline, lipmap, Motion.of(coarticulation=False, intensity=2.0))
    assert old.weights.max() == pytest.approx(2 * agent_curves(timeline, lipmap).weights.max())


def test_the_rest_viseme_is_one_whenever_the_mouth_rests() -> None:
    lipmap = load_map("rpm")
    timeline = Timeline.from_sequence("sil,300,m,60,a,150,pau,400,b,50,a,120,sil,300").shifted(1)
    curves = mouth_curves(timeline, lipmap, Motion.of(intensity=0.5))
    sil = lipmap.morphs.index("viseme_sil")
    resting = curves.at([-0.5, 0.1, 0.68, 10.0])  # before, in the first sil, mid-pause, after
    assert resting[:, sil].tolist() == [1.0, 1.0, 1.0, 1.0]
    times, weights = curves.sample(30)
    assert np.allclose(weights.sum(axis=1), 1.0)  # visemes share one mouth
    vowel = weights[(times > 1.36) & (times < 1.45), lipmap.morphs.index("viseme_aa")]
    assert vowel.max() == pytest.approx(0.5)


def test_intensity_leaves_the_rest_viseme_whole_in_mmdagent_s_own_motion() -> None:
    lipmap = load_map("rpm")
    timeline = Timeline.from_sequence("sil,300,m,60,a,150,pau,400,b,50,a,120,sil,300")
    _, plain = agent_curves(timeline, lipmap).sample(30)
    _, half = mouth_curves(timeline, lipmap, Motion.of(intensity=0.5, coarticulation=False)).sample(30)
    sil = lipmap.morphs.index("viseme_sil")
    others = np.arange(len(lipmap.morphs)) != sil
    assert np.allclose(half[:, others], 0.5 * plain[:, others]) and half[:, others].max() > 0.4
    assert np.array_equal(half[:, sil], plain[:, sil]) and half[:, sil].max() == 1.0  # at rest, wholly


@pytest.mark.parametrize(("motion", "message"), [
    (dict(intensity=3.5), "intensity must be from 0 to 3"),
    (dict(intensity=float("nan")), "intensity"),
    (dict(gains={"aa": -1}), "gain of morph 'aa' must be from 0 to 5"),
    (dict(gains={"a|a": 1}), "gain for morph"),
])
def test_motion_settings_are_checked(motion: dict[str, object], message: str) -> None:
    with pytest.raises(ValueRefused, match=message):
        Motion.of(**motion)  # type: ignore[arg-type]


def test_a_gain_for_a_morph_the_map_lacks_is_refused() -> None:
    with pytest.raises(ValueRefused, match="'jawOpen', which the map does not have"):
        mouth_curves(Timeline.from_sequence("sil,100,a,100"), load_map("vrm"),
                     Motion.of(gains={"jawOpen": 1}))


def test_gain_files_read_pairs_and_name_the_faulty_line(tmp_path) -> None:
    path = tmp_path / "calm.gains"
    path.write_text("\ufeff# calm\naa 0.7  # jaw\n\noh 1\n", encoding="utf-8")
    assert read_gains(path) == (("aa", 0.7), ("oh", 1.0))
    for text, where, what in (("oh 1\naa\n", "2:1", "expected MORPH GAIN, found 1 fields"),
                              ("aa 1\naa 2\n", "2:1", "morph 'aa' has a gain already"),
                              ("oh 1\naa 9\n", "2:4", "expected a gain from 0 to 5, found '9'"),
                              ("oh -1\n", "1:4", "expected a gain from 0 to 5, found '-1'")):
        with pytest.raises(SourceError, match=f"^g:{where}: {what}$"):
            parse_gains(text, "g")


def test_maps_of_any_shape_get_roles_from_their_rows() -> None:
    lipmap = LipMap.parse("3 open shut rest\n4\nsil 0 0 1\na 1 0 0\nm 0 1 0\ni 0.5 0 0\n")
    timeline = Timeline.from_sequence("sil,200,a,100,m,60,i,100,sil,200")
    got = figures(mouth_curves(timeline, lipmap), timeline, lipmap)
    assert got.closure == 1.0 and got.flickers == 0


def test_live_frames_of_speech_in_several_pieces_shut_on_every_bilabial() -> None:
    from lipsync.live.clock import VirtualClock
    from lipsync.live.speaker import Speaker

    lipmap = load_map("vrm")
    got: list[tuple[float, dict[str, float]]] = []
    text = "ママはパンを買いました。ぼくは毎晩本を読みます。みんなで海までバスに乗ります。"
    with Speaker(None, audio="null", clock=VirtualClock(), lipmap=lipmap, fps=30,
                 on_weights=lambda t, w: got.append((t, w))) as speaker:
        utterance = speaker.say(text)
        utterance.wait()
    timeline = utterance.timeline
    assert timeline.names.count("pau") + timeline.names.count("sil") >= 3  # more than one piece
    assert all(abs(t * 30 - round(t * 30)) < 1e-6 for t, _ in got)  # on the 30 fps grid
    bilabials = [p for p in timeline if p.name in BILABIALS]
    assert len(bilabials) >= 12
    for phone in bilabials:
        inside = [w for t, w in got if phone.start <= Fraction(t).limit_denominator(10**6) < phone.end]
        assert any(max(w.values()) < 0.1 for w in inside), (phone, inside)
