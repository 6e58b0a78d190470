"""How the mouth reads as speech: closure on m/b/p, lead on vowel onsets, flicker, jaw steps.

Measured (lipsync.motion.measure) on held-out speech (tests/speechsets.py: sentences no rule
was tuned on, in four mei styles at four speeds, and the 100 JSUT label files: 379 m/b/p),
for every named map: lipsync's motion (what engines, files, serve frames and VMC get), the
motion MMDAgent-EX draws by its own algorithm of the sequences lipsync sends it, and, for
comparison, MMDAgent-EX's own rule on the plain sequence (--no-coarticulation).
"""

from __future__ import annotations

import pytest
from speechsets import held_out

from lipsync import Timeline, load_map, resolve
from lipsync.curves import agent_curves
from lipsync.export.rhubarb import mouth_cues
from lipsync.maps.named import MAP_NAMES
from lipsync.motion import Motion, mouth_curves
from lipsync.motion.agent import agent_sequence
from lipsync.motion.measure import Figures, figures
from lipsync.motion.roles import BILABIALS


def _measure(name: str) -> tuple[Figures, Figures, Figures]:
    lipmap = load_map(name)
    ours, agent, old = Figures(), Figures(), Figures()
    for timeline in held_out():
        timeline, _ = resolve(timeline, lipmap)
        ours += figures(mouth_curves(timeline, lipmap), timeline, lipmap)
        sent = Timeline.from_sequence(agent_sequence(timeline, lipmap))
        agent += figures(agent_curves(sent, lipmap), timeline, lipmap)
        old += figures(mouth_curves(timeline, lipmap, Motion(coarticulation=False)), timeline, lipmap)
    return ours, agent, old


@pytest.mark.parametrize("name", list(MAP_NAMES))
def test_motion_figures_of_every_map(benchmark, figures, name):
    ours, agent, old = benchmark.pedantic(_measure, args=(name,), rounds=1, iterations=1)
    at_least = dict(target="≥ 98 %", check=lambda v, b: v >= 98)
    figures.add(f"motion {name}: m/b/p closed, lipsync's motion ({ours.bilabials} held out)",
                100 * ours.closure, "%", **at_least)
    figures.add(f"motion {name}: m/b/p closed, MMDAgent-EX's own motion of what it is sent",
                100 * agent.closure, "%", **at_least)
    figures.add(f"motion {name}: m/b/p closed, MMDAgent-EX's rule on the plain sequence (before)",
                100 * old.closure, "%")
    figures.add(f"motion {name}: lead on vowel onsets, median of {len(ours.leads)}", ours.lead, "s",
                target="0 to 45 ms", check=lambda v, b: 0 <= v <= 0.045)
    figures.add(f"motion {name}: vowels not yet forming when their sound starts", ours.late, "vowels")
    figures.add(f"motion {name}: one-frame flickers ({ours.frames} frames at 30 fps; before: {old.flickers})",
                ours.flickers, "frames", target="0", check=lambda v, b: v == 0)
    figures.add(f"motion {name}: largest jaw step a frame (before: {old.jaw_step:.2f})", ours.jaw_step,
                "of an a", target="≤ 0.55", check=lambda v, b: v <= 0.55)


def test_rhubarb_cues_show_the_closed_shape_on_every_bilabial(benchmark, figures):
    lipmap = load_map("rhubarb")

    def measure(motion: Motion) -> tuple[int, int, int, int]:
        steps = closed_steps = bilabials = shown = 0
        for timeline in held_out():
            timeline, _ = resolve(timeline, lipmap)
            cues = mouth_cues(mouth_curves(timeline, lipmap, motion))
            for phone in timeline:
                if phone.name not in BILABIALS:
                    continue
                bilabials += 1
                spans = [(max(s, float(phone.start)), min(e, float(phone.end)), v) for s, e, v in cues
                         if e > float(phone.start) and s < float(phone.end)]
                steps += round(sum(e - s for s, e, _ in spans) * 100)
                closed_steps += round(sum(e - s for s, e, v in spans if v == "A") * 100)
                shown += any(v == "A" for _, _, v in spans)
        return steps, closed_steps, bilabials, shown

    new = benchmark.pedantic(measure, args=(Motion(),), rounds=1, iterations=1)
    old = measure(Motion(coarticulation=False))
    figures.add("Rhubarb cues: 10 ms steps inside m/b/p shown as A (closed)", 100 * new[1] / new[0], "%")
    figures.add("Rhubarb cues, before: 10 ms steps inside m/b/p shown as A", 100 * old[1] / old[0], "%")
    figures.add(f"Rhubarb cues: m/b/p with an A cue ({new[2]} held out)", 100 * new[3] / new[2], "%",
                target="≥ 98 %", check=lambda v, b: v >= 98)
    figures.add("Rhubarb cues, before: m/b/p with an A cue", 100 * old[3] / old[2], "%")
