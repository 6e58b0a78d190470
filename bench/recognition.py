"""Speech with known phoneme times, and the recogniser's scores against it (bench and tuning).

Two sets that share no sentence, no voice and no delivery:

- ``tuning``: 50 sentences spoken by mei_normal, mei_angry and mei_sad at speeds 0.85 to 1.3
  and pitch shifts of 0 and +-2 half tones. Every default of the recogniser was chosen on it
  (``bench/tune_recognizer.py``).
- ``held_out``: 24 other everyday sentences, spoken by mei_bashful and mei_happy (never heard
  in tuning) and by the tuning voices at speeds and pitch shifts tuning never used, delivered
  at 16, 24, 44.1 and 48 kHz. Nothing was tuned on it: the bench reports it.

The truth is Open JTalk's own timeline of the audio (the HTS engine's durations, exact);
the scores are tests/mouth.py's (7 mouth classes per 10 ms frame).
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lipsync.sound import Audio
from lipsync.speech.synthesis import synthesize
from lipsync.timeline import Timeline

ROOT = Path(__file__).resolve().parents[1]
VOICES = ROOT / "tests" / "fixtures" / "reference" / "voices"
CACHE = Path(os.environ.get("LIPSYNC_RECOGNITION_CACHE", "/tmp/lipsync-recognition"))

TUNING_SENTENCES = [
    "おはようございます、今日もよろしくお願いします。", "昨日の夜は遅くまで本を読んでいました。",
    "駅までバスで十五分くらいかかります。", "お昼ご飯は何にしましょうか。",
    "週末は家族と一緒に海へ行く予定です。", "このお店のケーキはとても美味しいです。",
    "電話番号を教えていただけますか。", "窓を開けると、涼しい風が入ってきた。",
    "明日の朝は早く起きなければなりません。", "彼女はピアノを弾くのが上手です。",
    "日曜日に映画を見に行きませんか。", "財布をどこかに落としてしまいました。",
    "毎朝コーヒーを一杯飲んでから出かけます。", "子供たちが公園で元気に遊んでいる。",
    "少し休憩してから、また始めましょう。", "先生に質問があるのですが、よろしいですか。",
    "今年の夏は、去年よりずっと暑いですね。", "荷物はこちらに置いてください。",
    "雨が止んだら、買い物に出かけよう。", "部屋の掃除を手伝ってもらえますか。",
    "来月から新しい仕事を始めることになりました。", "道に迷ってしまったので、地図を見せてください。",
    "冷たい水を一杯いただけますか。", "その映画はもう見ましたか。",
    "花火大会は八時から始まります。", "夕方になると、急に寒くなってきました。",
    "図書館は月曜日がお休みです。", "ちょっと待って、すぐに行くから。",
    "彼は毎日ジョギングを欠かさない。", "誕生日おめでとう、素敵な一年になりますように。",
    "私はりんごよりみかんの方が好きです。", "次の電車は何時に来ますか。",
    "病院の受付は九時に開きます。", "机の上に青いペンがあります。",
    "久しぶりに実家に帰ってのんびりしました。", "山の上から見る景色は最高でした。",
    "宿題を忘れて、先生に叱られた。", "この道をまっすぐ行くと、右側に銀行があります。",
    "猫が膝の上で気持ちよさそうに眠っている。", "申し訳ありませんが、本日は満席です。",
    "晩ご飯はカレーライスにしよう。", "友達からの手紙を読んで、思わず笑ってしまった。",
    "新聞によると、明日は雪が降るらしい。", "お風呂が沸きましたよ。",
    "困ったときは、いつでも相談してください。", "バスの中に傘を忘れてきてしまった。",
    "庭に植えたトマトが赤くなってきた。", "切符はあちらの窓口でお買い求めください。",
    "会議の資料を三部コピーしておいてください。", "ゆっくり話していただけると助かります。",
]

HELD_OUT_SENTENCES = [
    "すみません、トイレはどこにありますか。", "このシャツの色違いはありますか。",
    "弟は今、大学で経済を勉強しています。", "週に二回、駅前のジムに通っています。",
    "昨日買ったパンがもう固くなってしまった。", "天気予報では、午後から晴れるそうです。",
    "お土産に、地元のお菓子を買って帰りました。", "エレベーターは右手の奥にございます。",
    "明後日までに、返事をいただけると嬉しいです。", "スマホの充電が切れそうなので、急いで帰ります。",
    "隣の家の犬が、夜中にずっと吠えていた。", "冬休みは、北海道でスキーをする予定です。",
    "父の誕生日に、ネクタイを贈りました。", "この辺りは、春になると桜がきれいですよ。",
    "ごめんなさい、少し遅れそうです。", "お会計は、別々にお願いできますか。",
    "もう少し大きな声で話してもらえますか。", "野菜は毎朝、近くの農家から届きます。",
    "妹はピンクのリボンがお気に入りです。", "たまには、ゆっくり温泉に入りたいなあ。",
    "昼過ぎに、郵便屋さんが小包を届けてくれた。", "この薬は、食後に一錠ずつ飲んでください。",
    "ボールペンを一本、貸してもらえませんか。", "来週の土曜日、一緒にテニスをしませんか。",
]


@dataclass(frozen=True)
class Delivery:
    """How a sentence is spoken and handed over: voice, speed, pitch shift, sample rate."""

    voice: str
    speed: float
    half_tone: float
    rate: int


TUNING_DELIVERIES = [
    Delivery("normal", 1.0, 0, 48000), Delivery("angry", 0.9, 2, 48000), Delivery("sad", 1.1, -2, 48000),
    Delivery("normal", 1.2, -2, 48000), Delivery("angry", 1.3, 0, 48000), Delivery("sad", 0.85, 2, 48000),
]
HELD_OUT_DELIVERIES = [
    Delivery("bashful", 1.0, 0, 48000), Delivery("happy", 0.95, 0, 24000), Delivery("normal", 1.15, 3, 44100),
    Delivery("happy", 1.25, -1, 16000), Delivery("bashful", 0.8, 1, 24000), Delivery("sad", 1.05, -3, 44100),
    Delivery("angry", 0.95, 4, 24000), Delivery("happy", 1.1, 1, 48000),
]


@dataclass(frozen=True)
class Utterance:
    """One sentence spoken one way: its audio and the timeline of exactly that audio."""

    text: str
    delivery: Delivery
    audio: Audio
    truth: Timeline


def voice_path(voice: str) -> Path | None:
    return None if voice == "normal" else VOICES / f"mei_{voice}.htsvoice"


def speak(text: str, delivery: Delivery) -> Utterance:
    audio, truth = synthesize(text, voice=voice_path(delivery.voice), speed=delivery.speed,
                              half_tone=delivery.half_tone)
    return Utterance(text, delivery, audio.resampled(delivery.rate), truth)


def utterances(name: str, limit: int | None = None) -> list[Utterance]:
    """The set ``name`` (``tuning`` or ``held_out``), two deliveries per sentence, in turn."""
    sentences, deliveries = ((TUNING_SENTENCES, TUNING_DELIVERIES) if name == "tuning"
                             else (HELD_OUT_SENTENCES, HELD_OUT_DELIVERIES))
    ways = itertools.cycle(deliveries)
    out = []
    for text in sentences:
        for _ in range(2):
            out.append(speak(text, next(ways)))
            if limit is not None and len(out) >= limit:
                return out
    return out


def with_noise(audio: Audio, truth: Timeline, snr_db: float, seed: int) -> Audio:
    """White noise ``snr_db`` below the power of the speech (the truth's spans that are not silence)."""
    samples = audio.samples.astype(np.float64)
    rate = audio.sample_rate
    speech = np.concatenate([samples[round(p.start * rate) : round(p.end * rate)]
                             for p in truth if p.name not in ("sil", "pau")])
    power = float(np.mean(speech**2))
    noise = np.random.default_rng(seed).standard_normal(len(samples)) * np.sqrt(power / 10 ** (snr_db / 10))
    return Audio.from_float(samples + noise, rate)
