"""Speech whose true phoneme times are known, under the conditions real recordings bring.

Open JTalk (``lipsync.synthesize``) gives the audio and its exact timeline. A ``Case`` is a
sentence, a voice, a speed and a pitch shift, delivered at a rate; the conditions add white
noise at a signal-to-noise ratio, silence before and after, drop the text's punctuation, or
join many utterances into one long take.

Two sets: ``TUNE`` (Open JTalk's built-in mei_normal and three mei styles, the sentences and
deliveries the aligner's rules were chosen on) and ``HELD_OUT`` (mei_bashful, a voice no rule
of the real-speech work was tuned on, and the others with other sentences, speeds and
pitches): the figures are reported on the second. ``wide_tune_cases`` widens the tuning set
(the same voices at more speeds, pitches and rates, 16 and 22.05 kHz among them, and sentences
written for tuning) so that a rule that only fits four deliveries shows it; it shares nothing
with the held-out set.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from lipsync import Audio, Timeline, synthesize

VOICES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "reference" / "voices"
PAUSES = frozenset({"sil", "pau"})
FRAME = 1 / 30
PUNCTUATION = "、。，．！？!?,."

TUNE_SENTENCES = [
    "こんにちは、いい天気ですね。",
    "今日は雨が降っていますが、明日は晴れるでしょう。",
    "東京駅から新幹線に乗って、大阪まで行きました。",
    "すみません、この近くに郵便局はありますか。",
    "私の趣味は写真を撮ることと、山に登ることです。",
    "来週の会議は、十時から第三会議室で行います。",
    "ありがとうございました。またお越しください。",
    "猫が窓の外をじっと見つめている。",
    "新しいパソコンを買ったので、設定に一日かかりました。",
    "駅前の喫茶店で、友達とコーヒーを飲みながら話しました。",
    "この番組は、ご覧のスポンサーの提供でお送りします。",
    "冷蔵庫に牛乳が残っているかどうか、確認してください。",
]
HELD_OUT_SENTENCES = [
    "朝ごはんを食べてから、急いで学校へ向かいました。",
    "図書館で借りた本は、来週までに返さなければなりません。",
    "彼女は静かに窓を開けて、遠くの山を眺めていた。",
    "この道をまっすぐ進むと、左手に大きな病院が見えます。",
    "夏休みには、家族と一緒に北海道へ旅行する予定です。",
    "電車が遅れたので、約束の時間に間に合いませんでした。",
    "日曜日の午後は、公園でゆっくり本を読むのが好きです。",
    "先生の説明はとても分かりやすくて、皆が感心した。",
    "台風が近づいているため、明日の試合は中止になりました。",
    "古い写真を見ながら、祖父は昔の話をしてくれた。",
]
STYLES = ["mei_angry", "mei_bashful", "mei_happy", "mei_sad"]
TUNE_VOICES: list[str | None] = [None, "mei_angry", "mei_happy", "mei_sad"]
HELD_OUT_VOICE = "mei_bashful"
#: (speed, half tones, rate) for the tuning set; the held-out set uses others.
TUNE_DELIVERIES = [(1.0, 0.0, 48000), (0.8, 2.0, 24000), (1.25, -2.0, 44100), (1.1, 0.0, 24000)]
HELD_OUT_DELIVERIES = [(0.9, 1.0, 22050), (1.15, -1.0, 44100), (1.0, 3.0, 16000), (0.85, -3.0, 48000)]
#: More tuning deliveries: slower and faster than ``TUNE_DELIVERIES``, and the band-limited
#: rates (16 and 22.05 kHz) it lacks. None is a held-out delivery.
WIDE_TUNE_DELIVERIES = [
    (0.95, 1.5, 16000), (1.2, -1.0, 22050), (0.75, 2.5, 32000), (1.05, -2.5, 16000), (0.88, 0.0, 22050),
    (1.3, 1.0, 44100),
]
#: Sentences written for tuning (not the held-out ones): phrases that start and end on each
#: kind of sound a pause edge meets (s/sh, stops, nasals, h, w/y, vowels; devoiced desu/masu,
#: N, long vowels).
WIDE_TUNE_SENTENCES = [
    "さっき、そこで先輩に会いました。",
    "しばらく待っても、バスは来なかった。",
    "ためしに、新しい店で昼食を食べた。",
    "ぼくは、パンより、ご飯のほうが好きです。",
    "みんなで歌を歌って、楽しい夜を過ごした。",
    "残念ながら、今回の応募は見送ります。",
    "お客様、お忘れ物はございませんか。",
    "けさは寒かったので、厚いコートを着て出かけた。",
    "ゆうべ、遅くまで本を読んでいた。",
    "ひとつ、質問してもいいですか。",
    "すぐに戻りますので、少々お待ちください。",
    "どうぞ、こちらへ。",
    "週末は、海の近くの町で過ごすつもりです。",
    "わかりました、すぐに準備します。",
    "ええ、そうですね、たぶん大丈夫だと思います。",
    "はい、承知しました。",
    "にんじんと玉ねぎを、細かく切ってください。",
    "ちょっと、聞いてもいいかな。",
    "雪が降り始めたので、早めに帰ることにした。",
    "本当に、ありがとう。",
]


@dataclass(frozen=True)
class Case:
    text: str
    voice: str | None  # a mei style in VOICES, or None for Open JTalk's built-in mei_normal
    speed: float
    half_tone: float
    rate: int

    def speech(self) -> tuple[Audio, Timeline]:
        """The audio (at ``rate``) and its true timeline."""
        voice = None if self.voice is None else VOICES / f"{self.voice}.htsvoice"
        audio, truth = synthesize(self.text, voice=voice, speed=self.speed, half_tone=self.half_tone)
        return audio.resampled(self.rate), truth


def tune_cases() -> list[Case]:
    return [Case(text, TUNE_VOICES[(n + w) % len(TUNE_VOICES)], *TUNE_DELIVERIES[w])
            for n, text in enumerate(TUNE_SENTENCES) for w in range(len(TUNE_DELIVERIES))]


def wide_tune_cases() -> list[Case]:
    """The tuning voices at ``WIDE_TUNE_DELIVERIES``: the tuning sentences, then those written
    for tuning (each twice, by two voices), for rules to be checked on more than four deliveries."""
    ways = WIDE_TUNE_DELIVERIES
    cases = [Case(text, TUNE_VOICES[(n + w) % len(TUNE_VOICES)], *ways[(n + w) % len(ways)])
             for n, text in enumerate(TUNE_SENTENCES) for w in range(3)]
    cases += [Case(text, TUNE_VOICES[(n + w) % len(TUNE_VOICES)], *ways[(2 * n + w) % len(ways)])
              for n, text in enumerate(WIDE_TUNE_SENTENCES) for w in range(2)]
    return cases


def held_out_cases() -> list[Case]:
    """The held-out voice on every held-out sentence, and the others at held-out deliveries."""
    deliveries = HELD_OUT_DELIVERIES
    cases = [Case(text, HELD_OUT_VOICE, *deliveries[n % len(deliveries)])
             for n, text in enumerate(HELD_OUT_SENTENCES)]
    cases += [Case(text, TUNE_VOICES[n % len(TUNE_VOICES)], *deliveries[(n + 1) % len(deliveries)])
              for n, text in enumerate(HELD_OUT_SENTENCES)]
    return cases


def noisy(audio: Audio, truth: Timeline, snr_db: float, seed: int = 0) -> Audio:
    """``audio`` with white noise ``snr_db`` below the speech's mean power (pauses excluded)."""
    x = audio.samples.astype(np.float64)
    rate = audio.sample_rate
    spoken = np.zeros(len(x), dtype=bool)
    for p in truth:
        if p.name not in PAUSES:
            spoken[int(p.start * rate): int(p.end * rate)] = True
    power = float(np.mean(x[spoken] ** 2))
    noise = np.random.default_rng(seed).normal(0, np.sqrt(power / 10 ** (snr_db / 10)), len(x))
    return Audio.from_float(x + noise, rate)


def padded(audio: Audio, truth: Timeline, lead: float, trail: float) -> tuple[Audio, Timeline]:
    """Digital silence of ``lead`` and ``trail`` seconds around the speech (a quiet room's)."""
    rate = audio.sample_rate
    before, after = round(lead * rate), round(trail * rate)
    samples = np.concatenate([np.zeros(before, np.int16), audio.samples, np.zeros(after, np.int16)])
    spans = list(zip(truth.names, truth.durations, strict=True))
    spans[0] = (spans[0][0], spans[0][1] + Fraction(before, rate))
    spans[-1] = (spans[-1][0], spans[-1][1] + Fraction(after, rate))
    return Audio(samples, rate), Timeline(spans)


def unpunctuated(text: str) -> str:
    return "".join(c for c in text if c not in PUNCTUATION)


def joined(cases: list[Case], seconds: float, rate: int = 16000) -> tuple[Audio, str, Timeline]:
    """Utterances back to back (each with its own silences) until ``seconds`` of audio."""
    parts: list[np.ndarray] = []
    spans: list[tuple[str, Fraction]] = []
    texts: list[str] = []
    total = 0
    made: dict[Case, tuple[Audio, Timeline]] = {}
    n = 0
    while total < seconds * rate:
        case = cases[n % len(cases)]
        if case not in made:
            audio, truth = case.speech()
            audio = audio.resampled(rate)
            made[case] = (audio, Timeline(_rescaled(truth, len(audio), rate)))
        audio, truth = made[case]
        parts.append(audio.samples)
        spans += list(zip(truth.names, truth.durations, strict=True))
        texts.append(case.text)
        total += len(audio)
        n += 1
    return Audio(np.concatenate(parts), rate), "".join(texts), Timeline(spans)


def _rescaled(truth: Timeline, samples: int, rate: int) -> list[tuple[str, Fraction]]:
    """The truth's spans with the last stretched or cut to end exactly at ``samples``."""
    spans = list(zip(truth.names, truth.durations, strict=True))
    end = Fraction(samples, rate)
    spans[-1] = (spans[-1][0], spans[-1][1] + end - truth.end)
    return spans


def boundary_errors(truth: Timeline, got: Timeline) -> tuple[list[float], list[float]]:
    """Seconds off for every spoken phoneme's start and end, and for those facing a pause."""
    spoken = [(k, p) for k, p in enumerate(truth) if p.name not in PAUSES]
    found = [p for p in got if p.name not in PAUSES]
    assert [p.name for _, p in spoken] == [p.name for p in found]
    truth_list = list(truth)
    errors: list[float] = []
    edges: list[float] = []
    for (k, a), b in zip(spoken, found, strict=True):
        start, end = abs(float(a.start - b.start)), abs(float(a.end - b.end))
        errors += [start, end]
        if k > 0 and truth_list[k - 1].name in PAUSES:
            edges.append(start)
        if k + 1 < len(truth_list) and truth_list[k + 1].name in PAUSES:
            edges.append(end)
    return errors, edges


def within(errors: list[float], limit: float = FRAME) -> float:
    return sum(e <= limit for e in errors) / max(len(errors), 1)
