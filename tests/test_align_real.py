"""Real recordings: people reading Japanese (tests/fixtures/realspeech), noise, silence, long takes.

The human recordings have no phoneme labels, so they show that real speech aligns (the
phonemes of the text, covering the audio exactly) and that another clip's text is refused.
Where the truth must be known, Open JTalk's speech is put through what recordings bring:
noise, long silence, pauses the text does not mark, a take of minutes.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from conftest import FIXTURES, REFERENCE

from lipsync import Audio, synthesize
from lipsync.alignment.activity import speech_activity
from lipsync.alignment.aligner import AlignmentRefused, align, alignment, plan_phonemes
from lipsync.cli.main import main

REAL = FIXTURES / "realspeech"
VOICES = REFERENCE / "voices"
PAUSES = {"sil", "pau"}
PASSAGE_KANA = (
    "コレワ、ワタシガチーサイトキニ、ムラノモヘイトイウオジーサンカラキイタオハナシデス。"
    "ムカシワ、ワタシタチノムラノチカクノ、ナカヤマトイウトコロニチーサナオシロガアッテ、"
    "ナカヤマサマトイウオトノサマガ、オラレタソーデス。ソノナカヤマカラ、スコシハナレタヤマノナカニ、"
    "ゴンギツネトイウキツネガイマシタ。ゴンワ、ヒトリボッチノコギツネデ、シダノイッパイシゲッタモリノナカニ"
    "アナヲホッテスンデイマシタ。ソシテ、ヨルデモヒルデモ、アタリノムラエデテキテ、イタズラバカリシマシタ。"
)
#: (file, text): read sentences, a noisy room, and a 40 s passage whose reader pauses where the
#: kana has no comma (after ソノ and 森の中に).
CLIPS = [
    ("julius_sample.wav", "今日はいい天気だ"),
    ("common_voice_ja_38843402_16k.wav",
     "「こりゃきっと仲間によくないことがあったにちがいない。」と小悪魔は考えました。"),
    ("common_voice_ja_38853932_16k.wav",
     "王もこのやり方は喜んでいません。それにもう一つ、これには困ることがあるのです。"),
    ("fleurs_ja_1837_clip4.wav",
     "復興努力に対するリベラル派からの批判では ワシントンの内部関係者と思われる人物と"
     "復興契約を交わしたことに焦点を当てています"),
]


def spoken(names: tuple[str, ...]) -> list[str]:
    return [n for n in names if n not in PAUSES]


@pytest.mark.parametrize(("name", "text"), CLIPS)
def test_real_speech_aligns(name, text):
    audio = Audio.load(REAL / name)
    result = alignment(audio, text)
    timeline = result.timeline
    assert timeline.duration == audio.duration and timeline.names[0] == "sil"
    assert spoken(timeline.names) == list(plan_phonemes(text).names)
    assert len(result.confidence) == len(timeline) and all(0 <= c <= 1 for c in result.confidence)
    # The silence before the speech is sil, not a stretched first phoneme.
    regions = speech_activity(audio).seconds()
    assert timeline[1].start >= regions[0][0] - Fraction(1, 4)


def test_a_long_passage_aligns_and_its_pauses_follow_the_reader():
    audio = Audio.load(REAL / "gongitsune_ch1_passage_16k.flac")
    timeline = align(audio, kana=PASSAGE_KANA)
    assert timeline.duration == audio.duration
    assert spoken(timeline.names) == list(plan_phonemes(kana=PASSAGE_KANA).names)
    pauses = [(p.start, p.end) for p in timeline if p.name == "pau"]
    # Every silence of the reader's over 0.3 s is a pause, commas or not (森の中に|穴を has none).
    activity = speech_activity(audio)
    regions = activity.seconds()
    for (_, end), (start, _) in itertools.pairwise(regions):
        if start - end > Fraction(3, 10):
            assert any(a < start and b > end for a, b in pauses), (float(end), float(start))


@pytest.mark.parametrize("shift", [1, 2, 3])
def test_another_clips_text_is_refused(shift):
    for number, (name, _) in enumerate(CLIPS):
        other = CLIPS[(number + shift) % len(CLIPS)][1]
        with pytest.raises(AlignmentRefused, match=r"cannot align|too short"):
            align(Audio.load(REAL / name), other)


def test_a_doubtful_alignment_warns_and_strict_refuses_it(capsys, tmp_path):
    name, text = CLIPS[3]  # FLEURS: room noise 20 dB under the voice
    wav = REAL / name
    code = main(["align", str(wav), text, "--json", "-o", str(tmp_path / "t.json")])
    out, err = capsys.readouterr()
    assert code == 0 and err.startswith(f"lipsync: warning: {wav}: the alignment is doubtful")
    data = json.loads(out)
    assert json.loads((tmp_path / "t.json").read_text()) == data
    assert all(0 <= p["confidence"] <= 1 for p in data["phonemes"])
    confidence = [p["confidence"] for p in data["phonemes"]]
    assert min(confidence) < 0.5 < max(confidence)
    code = main(["align", str(wav), text, "--strict"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and "cannot align (strict): the alignment is doubtful" in err
    with pytest.raises(AlignmentRefused, match="strict"):
        align(Audio.load(wav), text, strict=True)


def test_a_clean_alignment_is_confident_and_quiet(capsys):
    name, text = CLIPS[2]
    code = main(["align", str(REAL / name), text, "--strict", "--json"])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    confidence = [p["confidence"] for p in json.loads(out)["phonemes"]]
    assert sum(c >= 0.5 for c in confidence) >= 0.9 * len(confidence)


def _noise(audio: Audio, snr_db: float, seed: int) -> Audio:
    x = audio.samples.astype(np.float64)
    power = float(np.mean(x[np.abs(x) > 300] ** 2))
    noise = np.random.default_rng(seed).normal(0, np.sqrt(power / 10 ** (snr_db / 10)), len(x))
    return Audio.from_float(x + noise, audio.sample_rate)


def test_noise_and_long_silence_around_the_speech():
    text = "図書館で借りた本は、来週までに返さなければなりません。"
    audio, truth = synthesize(text, voice=VOICES / "mei_sad.htsvoice", speed=0.9)
    lead, trail = 2 * audio.sample_rate, 10 * audio.sample_rate
    padded = Audio(np.concatenate([np.zeros(lead, np.int16), audio.samples, np.zeros(trail, np.int16)]),
                   audio.sample_rate)
    for snr in (30, 20):
        heard = _noise(padded, snr, snr)
        got = align(heard, text)
        assert got.duration == heard.duration
        true = [p for p in truth if p.name not in PAUSES]
        found = [p for p in got if p.name not in PAUSES]
        errors = [abs(float(a.start + 2 - b.start)) for a, b in zip(true, found, strict=True)]
        errors += [abs(float(a.end + 2 - b.end)) for a, b in zip(true, found, strict=True)]
        assert sum(e <= 1 / 30 for e in errors) >= 0.9 * len(errors), snr
        assert max(errors) < 0.15, (snr, max(errors))
        assert got[0].name == "sil" and abs(float(got[0].end - 2 - truth[0].end)) < 0.1


def test_a_pause_inside_an_accent_phrase():
    # The speaker stops inside what Open JTalk reads as one accent phrase: 聞き取れ|ている.
    voice = VOICES / "mei_happy.htsvoice"
    first, _ = synthesize("先生の話はよく聞き取れ", voice=voice)
    second, _ = synthesize("ていると思います。", voice=voice)
    gap = np.zeros(first.sample_rate // 2, np.int16)
    joined = Audio(np.concatenate([first.samples, gap, second.samples]), first.sample_rate)
    got = align(joined, "先生の話はよく聞き取れていると思います。")
    pauses = [p for p in got if p.name == "pau"]
    assert len(pauses) == 1 and pauses[0].duration > Fraction(1, 2)
    assert got[list(got).index(pauses[0]) - 1].name == "e"


_MEASURE = """
import sys, numpy as np
from lipsync import Audio, align, synthesize
seconds, voice = float(sys.argv[1]), sys.argv[2]
texts = ["今日は雨が降っていますが、明日は晴れるでしょう。",
         "駅前の喫茶店で、友達とコーヒーを飲みながら話しました。"]
parts, said = [], []
for text in texts:
    audio, _ = synthesize(text, voice=voice)
    parts.append(audio.resampled(16000).samples)
    said.append(text)
one = np.concatenate(parts)
copies = max(1, round(seconds * 16000 / len(one)))
audio = Audio(np.concatenate([one] * copies), 16000)
timeline = align(audio, "".join(said * copies))
assert timeline.duration == audio.duration
status = open("/proc/self/status").read()
print(int(status.split("VmHWM:")[1].split()[0]) * 1024, audio.samples.nbytes)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is Linux's")
def test_a_long_take_aligns_in_bounded_memory():
    voice = str(VOICES / "mei_angry.htsvoice")
    runs = [subprocess.Popen([sys.executable, "-c", _MEASURE, str(s), voice], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for s in (10, 180)]
    (short_peak, _), (long_peak, long_audio) = ([int(v) for v in r.communicate(timeout=300)[0].split()]
                                                for r in runs)
    assert all(r.returncode == 0 for r in runs)
    # The model's memory is that of one stretch, whatever the length; the audio itself (and
    # its float copy for the aligner) is extra.
    assert long_peak <= 1.5 * short_peak + 4 * long_audio, (short_peak >> 20, long_peak >> 20)


def test_a_run_of_doubtful_phonemes_names_its_words():
    from lipsync.alignment.doubts import doubtful_words

    text = "村の茂平というおじいさん"
    plan = plan_phonemes(text)
    _, timeline = synthesize(text)
    names = list(timeline.names)
    # The phonemes after 村の (m u r a n o), Open JTalk's reading of 茂平, given low confidence.
    spoken_numbers = [i for i, n in enumerate(names) if n not in PAUSES]
    first = spoken_numbers[6]
    assert names[first - 6 : first] == ["m", "u", "r", "a", "n", "o"]
    confidence = [0.1 if first <= i < first + 4 else 0.9 for i in range(len(names))]
    (warning,) = doubtful_words(plan, text, timeline, confidence)
    assert warning.startswith("「茂平」 (read ") and "--kana" in warning and "「村」" not in warning
    # Without the text (a kana reading or phonemes), the phonemes are named instead.
    (warning,) = doubtful_words(plan, None, timeline, confidence)
    assert warning.startswith(f"the phonemes {' '.join(names[first : first + 4])} at ")
    assert doubtful_words(plan, text, timeline, [0.9] * len(names)) == []
