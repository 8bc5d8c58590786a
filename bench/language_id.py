"""Compares offline language identifiers for the Comprehend stand-in's BatchDetectDominantLanguage.

A labelled sample of short texts (product-review style, 10 to 200 characters) in Comprehend's
sentiment languages and in five it should report as other languages; for each candidate that
imports here: accuracy on the sample (overall, on the texts under 30 characters, and on the
other languages), whether zh-TW is told from zh, load time, time per text, and whether a
second pass answers the same; and the stand-in's own answer (py3langid with Chinese told apart
by script). Run it where the candidates are installed (only py3langid is in the project's
locks, so the others need a throwaway virtualenv); it is not part of make test:

    PYTHONPATH=$PWD:$PWD/layers/common .venv/bin/python bench/language_id.py
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable

SAMPLE: dict[str, list[str]] = {
    "en": [
        "Great value, works as described.",
        "The zipper broke after two days and support never answered my emails.",
        "Arrived late.",
        "I would buy this kettle again, it boils fast and the handle stays cool.",
    ],
    "es": [
        "Muy buen producto, llegó a tiempo.",
        "La batería dura muy poco y el cargador se calienta demasiado.",
        "No me gustó nada.",
        "Lo compré para mi hermana y está encantada con el color y la calidad.",
    ],
    "fr": [
        "Très bon produit, livraison rapide.",
        "La taille ne correspond pas du tout, je vais devoir le renvoyer.",
        "Je suis déçu.",
        "Le son est clair et la batterie tient toute la journée, je recommande.",
    ],
    "de": [
        "Sehr gutes Produkt, schnelle Lieferung.",
        "Leider ist das Gerät nach einer Woche kaputt gegangen.",
        "Nie wieder!",
        "Die Verarbeitung ist hochwertig und die Anleitung gut verständlich.",
    ],
    "it": [
        "Ottimo prodotto, consegna veloce.",
        "Il colore è diverso dalla foto e la taglia è troppo piccola.",
        "Non funziona.",
        "Lo uso tutti i giorni in cucina ed è ancora come nuovo.",
    ],
    "pt": [
        "Produto excelente, chegou antes do prazo.",
        "A embalagem veio rasgada e faltavam duas peças.",
        "Não recomendo.",
        "Comprei para o meu filho e ele adorou, a qualidade é muito boa.",
    ],
    "ar": [
        "منتج رائع وسعره مناسب",
        "وصل الطلب متأخرا والعلبة مكسورة",
        "لا أنصح به",
        "الجودة ممتازة وسأشتريه مرة أخرى بالتأكيد",
    ],
    "hi": [
        "बहुत अच्छा उत्पाद है",
        "डिलीवरी बहुत देर से हुई और पैकेट फटा हुआ था",
        "पैसे की बर्बादी",
        "मैंने यह अपनी माँ के लिए खरीदा और उन्हें बहुत पसंद आया",
    ],
    "ja": [
        "とても良い商品です。",
        "届いた時には箱が壊れていて、中身も傷だらけでした。",
        "最悪です",
        "毎日使っていますが、電池の持ちが良くてとても満足しています。",
    ],
    "ko": [
        "정말 좋은 제품이에요",
        "배송이 너무 늦었고 포장도 엉망이었어요",
        "별로예요",
        "가격에 비해 품질이 훌륭하고 디자인도 마음에 들어요",
    ],
    "zh": [
        "质量很好，物流也很快。",
        "用了两天就坏了，客服也不回复。",
        "非常失望",
        "这款耳机音质清晰，电池续航时间长，值得购买。",
    ],
    "zh-TW": [
        "品質很好，物流也很快。",
        "用了兩天就壞了，客服也不回覆。",
        "非常滿意這個產品",
        "這款耳機音質清晰，電池續航時間長，值得購買。",
    ],
    "ru": [
        "Отличный товар, рекомендую.",
        "Доставка заняла три недели, коробка была помята.",
        "Не работает.",
        "Качество хорошее, но инструкция только на английском.",
    ],
    "nl": [
        "Prima product, snel geleverd.",
        "Na een week ging het apparaat al kapot.",
        "Niet tevreden.",
        "De kwaliteit is goed en de prijs is heel redelijk voor wat je krijgt.",
    ],
    "sv": [
        "Mycket bra produkt, snabb leverans.",
        "Tyvärr gick den sönder efter bara några dagar.",
        "Inte nöjd.",
        "Jag köpte den till min dotter och hon älskar den.",
    ],
    "tr": [
        "Çok güzel bir ürün, tavsiye ederim.",
        "Kargo çok geç geldi ve kutu ezilmişti.",
        "Berbat.",
        "Fiyatına göre kalitesi gayet iyi, tekrar alırım.",
    ],
    "pl": [
        "Świetny produkt, szybka dostawa.",
        "Po tygodniu przestał działać, jestem rozczarowany.",
        "Nie polecam.",
        "Jakość wykonania jest bardzo dobra i cena rozsądna.",
    ],
}
"""4 texts in each of 17 languages (68 texts): 12 Comprehend sentiment languages and 5 others."""

OTHER_LANGUAGES = {"ru", "nl", "sv", "tr", "pl"}


def py3langid_candidate() -> Callable[[str], str]:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return lambda text: identifier.classify(text)[0]


def cld3_candidate() -> Callable[[str], str]:
    import gcld3

    identifier = gcld3.NNetLanguageIdentifier(min_num_bytes=0, max_num_bytes=1000)
    codes = {"zh-Hant": "zh-TW", "zh": "zh"}
    return lambda text: codes.get(identifier.FindLanguage(text).language, identifier.FindLanguage(text).language)


def stand_in_candidate() -> Callable[[str], str]:
    from local.comprehend import _ranked_languages

    return lambda text: _ranked_languages.__wrapped__(text)[0][0]


def lingua_candidate() -> Callable[[str], str]:
    from lingua import LanguageDetectorBuilder

    detector = LanguageDetectorBuilder.from_all_languages().build()

    def detect(text: str) -> str:
        language = detector.detect_language_of(text)
        return language.iso_code_639_1.name.lower() if language else "und"

    return detect


CANDIDATES = {
    "py3langid": ("py3langid", py3langid_candidate),
    "cld3-py": ("gcld3", cld3_candidate),
    "lingua-language-detector": ("lingua", lingua_candidate),
    "the stand-in (py3langid, Chinese by script)": ("moto", stand_in_candidate),
}


def measure(make: Callable[[], Callable[[str], str]]) -> dict:
    labelled = [(language, text) for language, texts in SAMPLE.items() for text in texts]
    started = time.perf_counter()
    detect = make()
    first = [detect(text) for _, text in labelled]
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    answers = [detect(text) for _, text in labelled]
    per_text = (time.perf_counter() - started) / len(labelled)
    right = [answer == language for (language, _), answer in zip(labelled, answers, strict=True)]
    short = [ok for (_, text), ok in zip(labelled, right, strict=True) if len(text) < 30]
    other = [ok for (language, _), ok in zip(labelled, right, strict=True) if language in OTHER_LANGUAGES]
    misses = [f"{language}->{answer}" for (language, _), answer, ok in zip(labelled, answers, right, strict=True) if not ok]
    return {
        "accuracy": f"{sum(right)}/{len(right)}",
        "under 30 chars": f"{sum(short)}/{len(short)}",
        "other languages": f"{sum(other)}/{len(other)}",
        "load and first pass s": f"{loaded:.2f}",
        "ms/text": f"{per_text * 1000:.2f}",
        "deterministic": first == answers,
        "misses": ", ".join(misses),
    }


def main() -> None:
    for name, (module, make) in CANDIDATES.items():
        if importlib.util.find_spec(module) is None:
            print(f"{name}: not installed here")
            continue
        print(name, measure(make))


if __name__ == "__main__":
    main()
