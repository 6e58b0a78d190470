"""Edges at pauses, placed from the recording's own levels (lipsync.alignment.edges)."""

from __future__ import annotations

from lipsync.alignment.edges import edges_by_prior
from lipsync.alignment.plan import Plan

# "a、sa": a pause between two phrases; every phoneme is expected to last 100 ms (10 frames).
PLAN = Plan(("a", "s", "a"), (False, True, False), (0.1, 0.1, 0.1))
TOKENS = ["pau", "a", "pau", "s", "a", "pau"]
MEMBERS = [[], [0], [], [1], [2], []]
FRAMES = 150


def levels_with(vowel: list[float], pause: float, s_heard: int = 80) -> list[float]:
    """Frame levels (dB below the loud frames): silence, the vowel from frame 10, a pause at
    ``pause`` dB until the ``s`` is heard at ``s_heard``, then ``sa`` and silence."""
    levels = [-120.0] * 10 + vowel
    levels += [pause] * (s_heard - len(levels))
    levels += [-30.0] * 15 + [-5.0] * 25
    return levels + [-120.0] * (FRAMES - len(levels))


def edges_for(levels: list[float], vowel_end: int) -> list[int]:
    # The model: ``a`` from 10 to ``vowel_end``, ``s`` from 80, ``a`` from 95 to 120.
    return edges_by_prior(PLAN, TOKENS, MEMBERS, [10, vowel_end, 80, 95, 120], FRAMES, levels)


def test_a_vowel_before_a_pause_ends_where_its_level_falls_to_the_pauses_own():
    # A pause 46 dB down (a breath, a room): the vowel stops where the level reaches it,
    # not 50 dB down (which this pause never is) nor at a fixed lengthening of its prior.
    falling = [-5.0] * 24 + [-20.0, -40.0]
    assert edges_for(levels_with(falling, pause=-46.0), vowel_end=30)[1] == 37
    # The same vowel shorter, loud to the model's end: it ends where it falls, not lengthened.
    short = [-5.0] * 10 + [-30.0, -56.0]
    assert edges_for(levels_with(short, pause=-53.0), vowel_end=18)[1] == 22


def test_a_breathy_ending_lasts_longer_than_open_jtalk_expects():
    # Already fading when the model ends it (its last 50 ms 20 dB down), then under the
    # pause's noise: it goes on to 1.3 times its expected length.
    breathy = [-5.0] * 3 + [-20.0] * 5
    start, end = edges_for(levels_with(breathy, pause=-53.0), vowel_end=18)[:2]
    assert end - start == 13
    # Loud to its end instead, it ends where the level falls (frame 18, the model's end).
    start, end = edges_for(levels_with([-5.0] * 8, pause=-53.0), vowel_end=18)[:2]
    assert end == 19 and end - start < 13


def test_an_s_after_a_pause_starts_before_it_is_heard():
    levels = levels_with([-5.0] * 24 + [-56.0], pause=-53.0)
    assert edges_for(levels, vowel_end=34)[2] == 80 - 6


def test_an_h_after_a_pause_starts_before_its_breath_is_heard():
    plan = Plan(("a", "h", "a"), (False, True, False), (0.1, 0.1, 0.1))
    levels = levels_with([-5.0] * 24 + [-56.0], pause=-53.0)
    tokens = ["pau", "a", "pau", "h", "a", "pau"]
    starts = edges_by_prior(plan, tokens, MEMBERS, [10, 34, 80, 95, 120], FRAMES, levels)
    assert starts[2] == 80 - 6


def _vowel_after_a_pause(model_start: int, expected: float) -> int:
    """Where ``a、a`` puts its second vowel's start: heard from frame 80 (``levels_with``'s
    ``s`` and ``a`` both loud here), the model's span from ``model_start`` to 120."""
    plan = Plan(("a", "a"), (False, True), (0.1, expected))
    levels = levels_with([-5.0] * 24 + [-56.0], pause=-53.0)
    levels[80:95] = [-5.0] * 15
    return edges_by_prior(plan, ["pau", "a", "pau", "a", "pau"], [[], [0], [], [1], []],
                          [10, 34, model_start, 120], FRAMES, levels)[2]


def test_a_vowel_after_a_pause_starts_at_most_70_ms_before_it_is_heard():
    # Expected 500 ms, heard 400: by its length it would start at 70, 100 ms before its sound.
    assert _vowel_after_a_pause(80, 0.5) == 80 - 7


def test_a_vowel_after_a_pause_starts_at_least_20_ms_before_it_is_heard():
    # The model starts it where it is already loud: Open JTalk's labels start it earlier.
    assert _vowel_after_a_pause(80, 0.1) == 80 - 2
    assert _vowel_after_a_pause(84, 0.1) == 84 - 2


def test_a_vowel_that_dies_away_ends_where_it_fell_whatever_the_pause_holds_after():
    # The vowel dies away under the pause's level (60 ms at -65 dB), then a breath comes in at
    # -50 dB. Open JTalk's labels end a vowel before a pau where that breath begins (36), but
    # in a recording the voice has stopped at the fall (31): the mouth must not stay open
    # over the silence to the breath.
    dying = [-5.0] * 20 + [-65.0] * 6
    assert edges_for(levels_with(dying, pause=-50.0), vowel_end=30)[1] == 31


def test_a_vowel_whose_tail_is_under_the_noise_lasts_past_the_models_end():
    # The pause is the room's noise and the vowel leaps into it from 5 dB down: its tail goes
    # on under the noise, to half its expected length (5 frames) past the model's end (24).
    assert edges_for(levels_with([-5.0] * 14, pause=-120.0), vowel_end=24)[1] == 29
    # Heard fading out before the room (a quiet recording), it ends where it fell.
    assert edges_for(levels_with([-5.0] * 14 + [-45.0, -58.0], pause=-120.0), vowel_end=24)[1] == 26
    # Cut short in a quiet recording (elsewhere it has frames 60 dB down, above its room): no
    # noise hides anything, the voice stops where the sound does.
    quiet_room = levels_with([-5.0] * 14, pause=-120.0)
    quiet_room[5] = -60.0
    assert edges_for(quiet_room, vowel_end=24)[1] == 25  # the level step's end, not 29
