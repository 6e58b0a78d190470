"""VOICEVOX AudioQuery keys lipsync does not know are refused by name, never read past."""

from __future__ import annotations

import json

import pytest
from conftest import FIXTURES

from lipsync import ValueRefused
from lipsync.labels.voicevox import read_audio_query

QUERY = json.loads((FIXTURES / "konnichiwa.voicevox.json").read_text())


def timeline_of(query: dict) -> object:
    return read_audio_query(json.dumps(query), "q.json")


def test_snake_case_top_keys_mean_the_engines_camel_case():
    camel = dict(QUERY, speedScale=1.25, prePhonemeLength=0.3)
    renamed = {"speedScale": "speed_scale", "prePhonemeLength": "pre_phoneme_length"}
    snake = {renamed.get(k, k): v for k, v in camel.items()}
    assert "speed_scale" in snake and timeline_of(snake) == timeline_of(camel)
    assert timeline_of(snake) != timeline_of(QUERY)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda q: q | {"tempoDynamicsScale": 1.2}, "q.json: tempoDynamicsScale 1.2 changes the timing"),
        (lambda q: q | {"speedScael": 1.0}, "q.json: unknown AudioQuery key 'speedScael'"),
        (lambda q: q | {"speed_scale": 1.1, "speedScale": 1.0}, "'speed_scale' and 'speedScale' both given"),
        (lambda q: q | {"accent_phrases": []}, "at accent_phrases: expected at least one accent phrase"),
        (lambda q: q | {"accent_phrases": [q["accent_phrases"][0] | {"pauseMora": None}]},
         "at accent_phrases[0]: unknown key 'pauseMora'"),
    ],
)
def test_unknown_keys_are_named(change, words):
    with pytest.raises(ValueRefused, match=words.replace("[", r"\[").replace("]", r"\]")):
        timeline_of(change(json.loads(json.dumps(QUERY))))


def test_a_neutral_tempo_dynamics_scale_is_fine():
    assert timeline_of(QUERY | {"tempoDynamicsScale": 1.0}) == timeline_of(QUERY)


def test_a_mora_with_an_unknown_key_is_named():
    query = json.loads(json.dumps(QUERY))
    query["accent_phrases"][0]["moras"][0]["consonantLength"] = 0.1
    with pytest.raises(ValueRefused, match=r"accent_phrases\[0\].moras\[0\]: unknown key 'consonantLength'"):
        timeline_of(query)
