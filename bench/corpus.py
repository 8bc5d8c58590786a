"""A reproducible corpus of review-like texts: realistic lengths, duplicates and NULLs.

Lengths follow a log-normal distribution (median ~180 characters, a long tail past 2,000),
5% of rows are NULL, 2% blank, and 15% repeat an earlier short review, as stock phrases
("Great product!") do in real review tables.
"""

from __future__ import annotations

import random

POSITIVE = ["great", "excellent", "love", "perfect", "amazing", "wonderful", "happy", "fantastic", "reliable", "comfortable", "fast", "helpful"]
NEGATIVE = ["terrible", "awful", "broken", "slow", "disappointing", "useless", "poor", "horrible", "rude", "late", "refund", "waste"]
NEUTRAL = ["product", "delivery", "box", "battery", "screen", "service", "price", "color", "size", "staff", "room", "order", "week", "store", "item"]
FILLER = ["the", "it", "was", "and", "but", "a", "very", "this", "my", "with", "for", "of", "to", "is", "not", "really", "quite"]


def review(generator: random.Random, characters: int) -> str:
    mood = generator.random()
    words = []
    while sum(len(word) + 1 for word in words) < characters:
        roll = generator.random()
        if roll < 0.12:
            words.append(generator.choice(POSITIVE if mood > 0.4 else NEGATIVE))
        elif roll < 0.18:
            words.append(generator.choice(NEGATIVE if mood > 0.7 else POSITIVE))
        elif roll < 0.45:
            words.append(generator.choice(NEUTRAL))
        else:
            words.append(generator.choice(FILLER))
    return " ".join(words).capitalize() + "."


def corpus(rows: int, seed: int) -> list[str | None]:
    generator = random.Random(seed)
    texts: list[str | None] = []
    short: list[str] = []
    for _ in range(rows):
        roll = generator.random()
        if roll < 0.05:
            texts.append(None)
        elif roll < 0.07:
            texts.append(" ")
        elif roll < 0.22 and short:
            texts.append(generator.choice(short))
        else:
            text = review(generator, min(4900, int(generator.lognormvariate(5.2, 0.9))))
            if len(text) < 60:
                short.append(text)
            texts.append(text)
    return texts
