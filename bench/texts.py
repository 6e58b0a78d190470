"""Japanese texts of set lengths for benchmarks, cut from one public-domain passage."""

from __future__ import annotations

_PASSAGE = (
    "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。何でも薄暗いじめじめした所で"
    "ニャーニャー泣いていた事だけは記憶している。吾輩はここで始めて人間というものを見た。しかもあとで"
    "聞くとそれは書生という人間中で一番獰悪な種族であったそうだ。この書生というのは時々我々を捕えて"
    "煮て食うという話である。しかしその当時は何という考もなかったから別段恐しいとも思わなかった。"
    "ただ彼の掌に載せられてスーと持ち上げられた時何だかフワフワした感じがあったばかりである。"
    "掌の上で少し落ちついて書生の顔を見たのがいわゆる人間というものの見始であろう。"
)


def text_of(length: int) -> str:
    """A text of ``length`` characters ending at a sentence end where one is near."""
    text = (_PASSAGE * (length // len(_PASSAGE) + 1))[:length]
    end = text.rfind("。")
    return text if end < length * 0.8 else text[: end + 1]
