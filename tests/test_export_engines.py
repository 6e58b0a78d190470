"""Engine files (.vrma, .motion3.json, .anim, .tres, .unity.json), each read back against the
facts of its published format, and the keyframe formats loaded by real consumers under Node
(three.js with pixiv's three-vrm and three-vrm-animation, three.js's MMD parser, the Khronos
glTF-Validator): what they show equals lipsync's curves."""

from __future__ import annotations

import json
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from nodejs import consumers, run_node
from vrmmodel import FACE, tiny_vrm

from lipsync import Timeline, ValueRefused, load_map, resolve
from lipsync.cli.main import main
from lipsync.export import export_bytes, format_for
from lipsync.motion import Motion, mouth_curves

SEQUENCE = "sil,200,m,60,a,90,m,55,a,80,w,50,a,80,p,60,a,105,N,60,o,80,sil,300"
TIMES = [round(0.05 + 0.0333 * k, 4) for k in range(40)]


def timeline_for(name: str) -> Timeline:
    return resolve(Timeline.from_sequence(SEQUENCE), load_map(name))[0]


def glb(data: bytes) -> tuple[dict, bytes]:
    """The JSON and binary chunks of a GLB (glTF 2.0 binary container), its header checked."""
    magic, version, length = struct.unpack_from("<4sII", data)
    assert (magic, version, length) == (b"glTF", 2, len(data))
    size, kind = struct.unpack_from("<II", data, 12)
    assert kind == 0x4E4F534A and size % 4 == 0
    document = json.loads(data[20:20 + size])
    at = 20 + size
    size, kind = struct.unpack_from("<II", data, at)
    assert kind == 0x004E4942 and at + 8 + size == len(data)
    return document, data[at + 8:]


def accessor(document: dict, binary: bytes, index: int) -> np.ndarray:
    found = document["accessors"][index]
    view = document["bufferViews"][found["bufferView"]]
    width = {"SCALAR": 1, "VEC3": 3}[found["type"]]
    assert found["componentType"] == 5126 and view["byteLength"] == 4 * width * found["count"]
    values = np.frombuffer(binary, "<f4", width * found["count"], view["byteOffset"])
    return values.reshape(found["count"], width) if width > 1 else values


def test_formats_follow_their_extensions() -> None:
    assert [format_for(f"x{ext}") for ext in (".vrma", ".motion3.json", ".anim", ".tres", ".unity.json",
                                                ".JSON", ".Motion3.json")] == [
        "vrma", "motion3", "unity-anim", "godot-tres", "unity-json", "curves-json", "motion3"]


def test_vrma_holds_vrm_expression_tracks_as_the_specification_says() -> None:
    timeline, lipmap = timeline_for("vrm"), load_map("vrm")
    document, binary = glb(export_bytes(timeline, "vrma", lipmap))
    assert "VRMC_vrm_animation" in document["extensionsUsed"] and document["asset"]["version"] == "2.0"
    extension = document["extensions"]["VRMC_vrm_animation"]
    assert extension["specVersion"] == "1.0" and "humanoid" not in extension
    assert set(extension["expressions"]) == {"preset"}
    assert set(extension["expressions"]["preset"]) == set(lipmap.morphs)
    assert document["scenes"][document["scene"]]["nodes"] == list(range(len(lipmap.morphs)))
    curves = mouth_curves(timeline, lipmap)
    (animation,) = document["animations"]
    for channel in animation["channels"]:
        name = document["nodes"][channel["target"]["node"]]["name"]
        assert extension["expressions"]["preset"][name]["node"] == channel["target"]["node"]
        assert channel["target"]["path"] == "translation"
        sampler = animation["samplers"][channel["sampler"]]
        assert sampler["interpolation"] == "LINEAR"
        times = accessor(document, binary, sampler["input"])
        values = accessor(document, binary, sampler["output"])
        found = document["accessors"][sampler["input"]]
        assert found["min"] == [times.min()] and found["max"] == [times.max()] and np.all(np.diff(times) > 0)
        assert np.all(values[:, 1:] == 0) and values[:, 0].min() >= 0 and values[:, 0].max() <= 1
        expected = curves.at(times.astype(np.float64) - curves.start)[:, lipmap.morphs.index(name)]
        assert values[:, 0] == pytest.approx(expected, abs=1e-6)


def test_vrma_names_other_morphs_as_custom_expressions_and_refuses_look_at() -> None:
    timeline, lipmap = timeline_for("mmd"), load_map("mmd")
    document, _ = glb(export_bytes(timeline, "vrma", lipmap))
    assert set(document["extensions"]["VRMC_vrm_animation"]["expressions"]["custom"]) == set(lipmap.morphs)
    with pytest.raises(ValueRefused, match="lookUp"):
        export_bytes(timeline, "vrma", lipmap, renames=(("あ", "lookUp"),))


def _counts(curves: list[dict]) -> tuple[int, int]:
    """Segments and points by the counting rule of Cubism's motion3.json reader."""
    segments = points = 0
    for curve in curves:
        values, at = curve["Segments"], 2
        points += 1
        while at < len(values):
            kind = values[at]
            step = 3 if kind == 1 else 1
            segments, points, at = segments + 1, points + step, at + 1 + 2 * step
        assert at == len(values)
    return segments, points


def test_motion3_json_has_the_counts_cubism_sizes_its_arrays_by_and_no_fade() -> None:
    timeline, lipmap = timeline_for("live2d"), load_map("live2d")
    data = json.loads(export_bytes(timeline, "motion3", lipmap))
    assert set(data) == {"Version", "Meta", "Curves"} and data["Version"] == 3
    meta = data["Meta"]
    assert set(meta) == {"Duration", "Fps", "Loop", "AreBeziersRestricted", "FadeInTime", "FadeOutTime",
                         "CurveCount", "TotalSegmentCount", "TotalPointCount", "UserDataCount",
                         "TotalUserDataSize"}
    assert meta["FadeInTime"] == meta["FadeOutTime"] == 0 and meta["Fps"] == 30
    assert meta["CurveCount"] == len(data["Curves"]) == 2
    assert (meta["TotalSegmentCount"], meta["TotalPointCount"]) == _counts(data["Curves"])
    assert [(c["Target"], c["Id"]) for c in data["Curves"]] == [("Parameter", "ParamMouthOpenY"),
                                                                   ("Parameter", "ParamMouthForm")]
    curves = mouth_curves(timeline, lipmap)
    for curve in data["Curves"]:
        values = curve["Segments"]
        times, weights = values[0::3], values[1::3]
        assert times[0] == 0 and times[-1] == meta["Duration"] and all(k == 0 for k in values[2::3])
        column = curves.at(np.array(times) - curves.start)
        expected = column[:, 0] if curve["Id"] == "ParamMouthOpenY" else column[:, 1] - column[:, 2]
        assert weights == pytest.approx(expected, abs=1e-5)
    assert min(w for c in data["Curves"] if c["Id"] == "ParamMouthForm" for w in c["Segments"][1::3]) < 0


# The AnimationClip fields the Unity editor writes, in its order (a Unity 2019-2022 text clip).
CLIP_FIELDS = [
    "m_ObjectHideFlags", "m_CorrespondingSourceObject", "m_PrefabInstance", "m_PrefabAsset", "m_Name",
    "serializedVersion", "m_Legacy", "m_Compressed", "m_UseHighQualityCurve", "m_RotationCurves",
    "m_CompressedRotationCurves", "m_EulerCurves", "m_PositionCurves", "m_ScaleCurves", "m_FloatCurves",
    "m_PPtrCurves", "m_SampleRate", "m_WrapMode", "m_Bounds", "m_ClipBindingConstant",
    "m_AnimationClipSettings", "m_EditorCurves", "m_EulerEditorCurves", "m_HasGenericRootTransform",
    "m_HasMotionFloatCurves", "m_Events",
]


def test_unity_anim_is_an_animation_clip_of_blend_shape_curves() -> None:
    timeline, lipmap = timeline_for("rpm"), load_map("rpm")
    text = export_bytes(timeline, "unity-anim", lipmap, name="hello", mesh_path="Armature/Face").decode()
    assert text.startswith("%YAML 1.1\n%TAG !u! tag:unity3d.com,2011:\n--- !u!74 &7400000\nAnimationClip:\n")
    assert re.findall(r"^  (\w+):", text, re.M) == CLIP_FIELDS
    float_curves = text.split("  m_FloatCurves:\n")[1].split("  m_PPtrCurves:")[0]
    assert float_curves == text.split("  m_EditorCurves:\n")[1].split("  m_EulerEditorCurves:")[0]
    attributes = re.findall(r"^    attribute: blendShape\.(\S+)$", float_curves, re.M)
    assert attributes == list(lipmap.morphs)
    assert set(re.findall(r"^    path: (.+)$", float_curves, re.M)) == {"Armature/Face"}
    assert set(re.findall(r"^    classID: (\d+)$", float_curves, re.M)) == {"137"}
    bindings = re.findall(r"path: (\d+)\n      attribute: (\d+)\n.*\n      typeID: 137\n      customType: 20",
                          text)
    assert [int(a) for _, a in bindings] == [zlib.crc32(f"blendShape.{m}".encode()) for m in lipmap.morphs]
    assert {int(p) for p, _ in bindings} == {zlib.crc32(b"Armature/Face")}
    curves = mouth_curves(timeline, lipmap)
    first = float_curves.split("  - curve:")[1]
    keys = [(float(t), float(v)) for t, v in re.findall(r"time: (\S+)\n        value: (\S+)", first)]
    expected = curves.at(np.array([t for t, _ in keys]) - curves.start)[:, 0] * 100
    assert [v for _, v in keys] == pytest.approx(expected, abs=1e-3)  # weights in Unity's 0-100
    assert max(v for _, v in keys) == 100  # viseme_sil rests at 1


def test_godot_tres_has_blend_shape_tracks_of_triples() -> None:
    timeline, lipmap = timeline_for("rpm"), load_map("rpm")
    text = export_bytes(timeline, "godot-tres", lipmap, name="hello", mesh_path="Avatar/Head").decode()
    assert text.startswith('[gd_resource type="Animation" format=3]\n\n[resource]\nresource_name = "hello"\n')
    length = float(re.search(r"^length = (\S+)$", text, re.M)[1])
    curves = mouth_curves(timeline, lipmap)
    for index, morph in enumerate(lipmap.morphs):
        fields = dict(re.findall(rf"^tracks/{index}/(\w+) = (.+)$", text, re.M))
        assert fields["type"] == '"blend_shape"' and fields["interp"] == "1" and fields["enabled"] == "true"
        assert fields["path"] == f'NodePath("Avatar/Head:{morph}")'
        packed = re.fullmatch(r"PackedFloat32Array\((.*)\)", fields["keys"])[1]
        values = [float(v) for v in packed.split(", ")]
        assert len(values) % 3 == 0 and set(values[1::3]) == {1.0}
        times = values[0::3]
        assert times[0] == 0 and times[-1] == pytest.approx(length) and np.all(np.diff(times) > 0)
        expected = curves.at(np.array(times) - curves.start)[:, index]
        assert values[2::3] == pytest.approx(expected, abs=1e-6)
    with pytest.raises(ValueRefused, match="NodePath cannot hold :"):
        export_bytes(timeline, "godot-tres", lipmap, mesh_path="a:b")


def test_unity_json_is_an_object_of_arrays_of_objects() -> None:
    timeline, lipmap = timeline_for("live2d"), load_map("live2d")
    data = json.loads(export_bytes(timeline, "unity-json", lipmap, fps=30))

    def no_dictionaries_or_nested_arrays(value: object) -> bool:
        if isinstance(value, dict):
            return all(not isinstance(v, dict) and no_dictionaries_or_nested_arrays(v)
                       for v in value.values())
        if isinstance(value, list):
            return all(not isinstance(v, list) and no_dictionaries_or_nested_arrays(v) for v in value)
        return True

    assert set(data) == {"version", "fps", "duration", "morphs", "frames"}
    assert all(isinstance(frame, dict) for frame in data["frames"]) and no_dictionaries_or_nested_arrays(data)
    assert data["morphs"] == ["ParamMouthOpenY", "ParamMouthForm"]
    times = [f["time"] for f in data["frames"]]
    assert times == pytest.approx([k / 30 for k in range(len(times))], abs=1e-6)


def test_export_command_writes_each_engine_file_with_its_options(capsys, tmp_path: Path) -> None:
    for name in ("m.vrma", "m.motion3.json", "m.anim", "m.tres", "m.unity.json"):
        code = main(["export", "--sequence", SEQUENCE, "-o", str(tmp_path / name), "--intensity", "0.8"])
        assert code == 0, capsys.readouterr().err
    anim = (tmp_path / "m.anim").read_text()
    assert "m_Name: m\n" in anim and "path: Wolf3D_Head\n" in anim and "blendShape.viseme_aa" in anim
    assert main(["export", "--sequence", SEQUENCE, "-o", str(tmp_path / "v.tres"), "--map", "vrm",
                 "--mesh-path", "Body", "--rename", "aa=Fcl_MTH_A"]) == 0
    assert 'NodePath("Body:Fcl_MTH_A")' in (tmp_path / "v.tres").read_text()
    capsys.readouterr()
    assert main(["export", "--sequence", SEQUENCE, "-o", str(tmp_path / "x.anim"), "--rename", "zz=a"]) == 2
    assert "cannot rename morph 'zz'" in capsys.readouterr().err and not (tmp_path / "x.anim").exists()


# -- real consumers under Node ------------------------------------------------------------------


@pytest.fixture(scope="module")
def node() -> Path:
    return consumers()


def test_three_vrm_plays_the_vrma_as_the_curves_say(node: Path, tmp_path: Path) -> None:
    lipmap = load_map("vrm")
    timeline = timeline_for("vrm")
    (tmp_path / "tiny.vrm").write_bytes(tiny_vrm(list(lipmap.morphs)))
    louder = Motion.of(intensity=1.2)
    (tmp_path / "mouth.vrma").write_bytes(export_bytes(timeline, "vrma", lipmap, motion=louder))
    got = run_node(node, "vrma.mjs", tmp_path / "tiny.vrm", tmp_path / "mouth.vrma", FACE, *TIMES)
    assert got["preset"] == list(lipmap.morphs) and got["custom"] == []
    curves = mouth_curves(timeline, lipmap, Motion.of(intensity=1.2))
    expected = np.clip(curves.at(np.array(TIMES) - curves.start), 0, 1)
    assert np.array(got["influences"]) == pytest.approx(expected, abs=1e-5)
    assert expected.max() > 0.5 and (expected < 0.1).all(axis=1).sum() >= 3  # it opened, and shut on m/p
    reports = run_node(node, "validate.mjs", tmp_path / "tiny.vrm", tmp_path / "mouth.vrma")
    for report in reports:  # glTF-Validator: no errors, no warnings (it knows no VRMC_* extension)
        assert report["issues"]["numErrors"] == 0 and report["issues"]["numWarnings"] == 0, report


def test_three_js_mmd_parser_plays_the_vmd_as_the_curves_say(node: Path, tmp_path: Path) -> None:
    lipmap = load_map("mmd")
    timeline = timeline_for("mmd")
    (tmp_path / "mouth.vmd").write_bytes(export_bytes(timeline, "vmd", lipmap))
    got = run_node(node, "vmd.mjs", tmp_path / "mouth.vmd", ",".join(lipmap.morphs), *TIMES)
    assert got["magic"] == "Vocaloid Motion Data 0002"
    curves = mouth_curves(timeline, lipmap)
    assert np.array(got["influences"]) == pytest.approx(curves.at(np.array(TIMES) - curves.start), abs=1e-6)
