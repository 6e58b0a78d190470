"""Unity ``.anim``: an AnimationClip of blend-shape curves, for the Animator (Mecanim) or Timeline.

The file is Unity's own YAML serialisation of class 74 (AnimationClip), field for field as
the Unity editor writes one (compared with a Unity-written clip in tests/fixtures/unity): one
float curve per morph on the SkinnedMeshRenderer (class 137) at ``mesh_path`` (relative to
the Animator's GameObject), attribute ``blendShape.<name>``, weights 0-100 (Unity's blend
shape unit), linear keys (each slope the line to the neighbouring key); the same curves as
editor curves; and the clip's binding table, whose path and attribute are CRC32 hashes of
those strings (custom type 20: a blend shape). Import it into the Assets folder: a built
player cannot read ``.anim`` files (use ``unity-json`` at run time).
"""

from __future__ import annotations

import itertools
import re
import zlib

from lipsync.curves import MouthCurves
from lipsync.errors import ValueRefused
from lipsync.export.curves import tracks

__all__ = ["DEFAULT_MESH_PATH", "anim_yaml"]

#: The face mesh of a Ready Player Me avatar, relative to its root (the default map is ``rpm``).
DEFAULT_MESH_PATH = "Wolf3D_Head"
_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_ ./()\-]*\Z")
_KEY = """      - serializedVersion: 3
        time: {time}
        value: {value}
        inSlope: {inslope}
        outSlope: {outslope}
        tangentMode: 69
        weightedMode: 0
        inWeight: 0.33333334
        outWeight: 0.33333334
"""


def _quoted(text: str) -> str:
    """A YAML scalar for ``text``: plain where that is safe, else single-quoted."""
    if _PLAIN.match(text) and text.strip() == text:
        return text
    return "'" + text.replace("'", "''") + "'"


def _number(value: float) -> str:
    text = f"{value:.7g}"
    return "0" if text in ("-0", "0") else text


def _curve(attribute: str, path: str, points: list[tuple[float, float]]) -> str:
    values = [(t, w * 100) for t, w in points]
    slopes = [(b[1] - a[1]) / (b[0] - a[0]) for a, b in itertools.pairwise(values)]
    keys = "".join(_KEY.format(
        time=_number(t), value=_number(v), inslope=_number(slopes[i - 1] if i else 0.0),
        outslope=_number(slopes[i] if i < len(slopes) else 0.0),
    ) for i, (t, v) in enumerate(values))
    return (
        "  - curve:\n      serializedVersion: 2\n      m_Curve:\n" + keys
        + "      m_PreInfinity: 2\n      m_PostInfinity: 2\n      m_RotationOrder: 4\n"
        + f"    attribute: {_quoted(attribute)}\n    path: {_quoted(path)}\n    classID: 137\n"
        + "    script: {fileID: 0}\n"
    )


def anim_yaml(curves: MouthCurves, *, name: str = "mouth", mesh_path: str = DEFAULT_MESH_PATH) -> str:
    """The ``.anim`` of ``curves``: clip ``name``, blend shapes named as the morphs, on ``mesh_path``."""
    if any(ord(c) < 32 for c in mesh_path + name) or mesh_path.startswith("/") or mesh_path.endswith("/"):
        raise ValueRefused(f"mesh path {mesh_path!r}: expected names joined by '/', relative to the Animator")
    found = tracks(curves, from_zero=True)
    stop = max(points[-1][0] for _, points in found)
    body = "".join(_curve(f"blendShape.{morph}", mesh_path, points) for morph, points in found)
    bindings = "".join(
        f"    - serializedVersion: 2\n      path: {_crc(mesh_path)}\n"
        f"      attribute: {_crc('blendShape.' + m)}\n      script: {{fileID: 0}}\n      typeID: 137\n"
        "      customType: 20\n      isPPtrCurve: 0\n"
        for m, _ in found
    )
    return f"""%YAML 1.1
%TAG !u! tag:unity3d.com,2011:
--- !u!74 &7400000
AnimationClip:
  m_ObjectHideFlags: 0
  m_CorrespondingSourceObject: {{fileID: 0}}
  m_PrefabInstance: {{fileID: 0}}
  m_PrefabAsset: {{fileID: 0}}
  m_Name: {_quoted(name)}
  serializedVersion: 6
  m_Legacy: 0
  m_Compressed: 0
  m_UseHighQualityCurve: 1
  m_RotationCurves: []
  m_CompressedRotationCurves: []
  m_EulerCurves: []
  m_PositionCurves: []
  m_ScaleCurves: []
  m_FloatCurves:
{body}  m_PPtrCurves: []
  m_SampleRate: 30
  m_WrapMode: 0
  m_Bounds:
    m_Center: {{x: 0, y: 0, z: 0}}
    m_Extent: {{x: 0, y: 0, z: 0}}
  m_ClipBindingConstant:
    genericBindings:
{bindings}    pptrCurveMapping: []
  m_AnimationClipSettings:
    serializedVersion: 2
    m_AdditiveReferencePoseClip: {{fileID: 0}}
    m_AdditiveReferencePoseTime: 0
    m_StartTime: 0
    m_StopTime: {_number(stop)}
    m_OrientationOffsetY: 0
    m_Level: 0
    m_CycleOffset: 0
    m_HasAdditiveReferencePose: 0
    m_LoopTime: 0
    m_LoopBlend: 0
    m_LoopBlendOrientation: 0
    m_LoopBlendPositionY: 0
    m_LoopBlendPositionXZ: 0
    m_KeepOriginalOrientation: 0
    m_KeepOriginalPositionY: 1
    m_KeepOriginalPositionXZ: 0
    m_HeightFromFeet: 0
    m_Mirror: 0
  m_EditorCurves:
{body}  m_EulerEditorCurves: []
  m_HasGenericRootTransform: 0
  m_HasMotionFloatCurves: 0
  m_Events: []
"""


def _crc(text: str) -> int:
    """Unity's binding hash of a path or attribute: CRC32 of its UTF-8 bytes."""
    return zlib.crc32(text.encode("utf-8")) & 0xFFFFFFFF
