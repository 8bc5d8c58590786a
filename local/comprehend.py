"""An offline Amazon Comprehend BatchDetectSentiment and BatchDetectDominantLanguage that hold
callers to the real contract.

moto implements only DetectSentiment (a constant answer), so this stand-in answers
BatchDetectSentiment and BatchDetectDominantLanguage inside moto's Comprehend endpoint
(local.moto_patches.serve_comprehend puts it there): the service's code calls them through a
real boto3 client, with botocore's validation, error parsing and retries. It refuses what the real service refuses (0 or more than 25 documents,
an empty or over-5,000-byte document, an unsupported sentiment language) and answers in its
exact shape: ResultList and ErrorList sorted by Index. Sentiment comes from the VADER
lexicon, mapped onto Comprehend's four labels and scores; VADER reads English only, so a
text in any other supported language is answered NEUTRAL with four equal scores (read,
not understood). Languages come from py3langid, an offline identifier whose model ships
in its wheel.

Fault and load knobs (environment variables read by `StandIn.from_environment`):
COMPREHEND_LATENCY_MS, COMPREHEND_QUOTA_RPS (throttles beyond it, like the real
per-account quota) and COMPREHEND_ERROR_RATE (InternalServerException).
"""

from __future__ import annotations

import copy
import hashlib
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from moto.core.exceptions import JsonRESTError
from py3langid.langid import MODEL_FILE, LanguageIdentifier
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

LANGUAGES = frozenset({"en", "es", "fr", "de", "it", "pt", "ar", "hi", "ja", "ko", "zh", "zh-TW"})
"""The languages Comprehend analyses sentiment in, exactly as its documentation lists them."""
LEXICON_LANGUAGES = frozenset({"en"})
"""The languages VADER's lexicon reads."""
MAX_DOCUMENTS = 25
MAX_DOCUMENT_BYTES = 5000


class ComprehendError(JsonRESTError):
    """An error as Comprehend's JSON protocol sends it; botocore raises it as ClientError."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(code, message)
        self.code = status


_vader = SentimentIntensityAnalyzer()
_vader_lock = threading.Lock()
SCORED_CHARACTERS = 1000
"""VADER takes ~50 ms on a 5,000-byte text; scoring the opening keeps the stand-in fast
(older Comprehend documentation said the service itself analysed the first 500 characters)."""


@lru_cache(maxsize=65536)
def lexicon_sentiment(text: str) -> dict:
    """A ResultList entry's Sentiment and SentimentScore for `text`, from VADER (English only:
    the stand-in gives it no text in another language)."""
    with _vader_lock:
        scores = _vader.polarity_scores(text[:SCORED_CHARACTERS])
    positive, negative, neutral = scores["pos"], scores["neg"], scores["neu"]
    mixed = min(positive, negative)
    total = positive + negative + neutral + mixed or 1.0
    score = {"Positive": positive / total, "Negative": negative / total, "Neutral": neutral / total, "Mixed": mixed / total}
    compound = scores["compound"]
    if positive >= 0.1 and negative >= 0.1 and abs(compound) < 0.5:
        label = "MIXED"
    elif compound >= 0.05:
        label = "POSITIVE"
    elif compound <= -0.05:
        label = "NEGATIVE"
    else:
        label = "NEUTRAL"
    return {"Sentiment": label, "SentimentScore": score}


lexicon_sentiment.languages = LEXICON_LANGUAGES  # type: ignore[attr-defined]

UNREAD_SENTIMENT = {"Sentiment": "NEUTRAL", "SentimentScore": {"Positive": 0.25, "Negative": 0.25, "Neutral": 0.25, "Mixed": 0.25}}
"""The answer for a supported language the lexicon cannot read: NEUTRAL with four equal scores,
which no reading gives, so that nobody takes it for an analysis."""


def hashed_sentiment(text: str) -> dict:
    """A ResultList entry's Sentiment and SentimentScore that differ for every text: the scores come
    from a digest of the text. Tests set `StandIn.analyse` to it to tell whose value a row got
    (VADER gives many texts the same value)."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    weights = [1 + int.from_bytes(digest[start : start + 4], "big") for start in range(0, 16, 4)]
    score = {name: weight / sum(weights) for name, weight in zip(("Positive", "Negative", "Neutral", "Mixed"), weights, strict=True)}
    return {"Sentiment": max(score, key=score.__getitem__).upper(), "SentimentScore": score}


RUNNER_UP_SCORE = 0.1
"""Further languages a Languages list names: those the identifier gives at least this probability."""
CHINESE_FAMILY = ("zh", "yue", "wuu")
"""py3langid tells Cantonese and Wu apart from Mandarin; Comprehend answers zh or zh-TW for Chinese text.
Their probabilities count towards zh or zh-TW for text in Han characters, and not at all for other text."""
_identifier: list[LanguageIdentifier] = []
_identifier_lock = threading.Lock()


def _language_identifier() -> LanguageIdentifier:
    """py3langid's model, loaded on first use (about half a second) and shared."""
    with _identifier_lock:
        if not _identifier:
            _identifier.append(LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True))
        return _identifier[0]


def _han_script(text: str) -> str:
    """zh-TW when the text has more Han characters that only Big5 (Traditional) encodes than ones
    that only GB 2312 (Simplified) encodes, else zh: the two standards' character sets decide."""
    traditional = simplified = 0
    for character in text:
        if _is_han(character):
            in_big5, in_gb2312 = _encodes(character, "big5"), _encodes(character, "gb2312")
            traditional += in_big5 and not in_gb2312
            simplified += in_gb2312 and not in_big5
    return "zh-TW" if traditional > simplified else "zh"


def _is_han(character: str) -> bool:
    return "\u4e00" <= character <= "\u9fff"


def _encodes(character: str, encoding: str) -> bool:
    try:
        character.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


@lru_cache(maxsize=65536)
def _ranked_languages(text: str) -> tuple[tuple[str, float], ...]:
    scored = text[:SCORED_CHARACTERS]
    chinese = _han_script(scored) if any(_is_han(character) for character in scored) else None
    scores: dict[str, float] = {}
    for ranked, score in _language_identifier().rank(scored):
        if ranked in CHINESE_FAMILY and chinese is None:
            continue
        code = chinese if ranked in CHINESE_FAMILY else ranked
        scores[code] = scores.get(code, 0.0) + score
    best = sorted(scores.items(), key=lambda entry: entry[1], reverse=True)
    return tuple((code, round(score, 6)) for index, (code, score) in enumerate(best) if index == 0 or score >= RUNNER_UP_SCORE)


def dominant_languages(text: str) -> list[dict]:
    """A ResultList entry's Languages for `text`: the most probable language first, then any other
    with at least RUNNER_UP_SCORE, each {LanguageCode, Score} with py3langid's probability."""
    return [{"LanguageCode": code, "Score": score} for code, score in _ranked_languages(text)]


@dataclass
class StandIn:
    """The stand-in's behaviour and what it has seen; tests steer it through these fields."""

    latency_s: float = 0.0
    quota_rps: float = 0.0
    """Calls per second before ThrottlingException; 0 means unlimited."""
    error_rate: float = 0.0
    analyse: Callable[[str], dict] = lexicon_sentiment
    """Sentiment of one text. It reads the languages in its `languages` attribute (lexicon_sentiment:
    English), or every language if it has none; other supported languages get UNREAD_SENTIMENT."""
    detect: Callable[[str], list[dict]] = dominant_languages
    throttle_next: int = 0
    """Throttle this many further calls (a throttling storm), then answer again."""
    storm_until: float = 0.0
    """Until this time.monotonic(), throttle a `storm_share` of calls: a throttling storm."""
    storm_share: float = 0.0
    fail_with: str | None = None
    """Fail every call with this error code (an outage or a permanent rejection)."""
    document_error: Callable[[str], tuple[str, str] | None] | None = None
    """Per-document ErrorList entries: (ErrorCode, ErrorMessage) for texts it picks."""
    calls: int = 0
    """Requests received, throttled and failed ones included."""
    answered: int = 0
    """Requests answered: the ones Comprehend bills."""
    throttled: int = 0
    units: int = 0
    """Billable units of answered documents: 100 characters each, at least 3 a document."""
    documents: Counter = field(default_factory=Counter)
    """How often each text was sent for sentiment: the test oracle for dedup and data handling."""
    detection_units: int = 0
    """Billable units of answered BatchDetectDominantLanguage documents, counted like `units`."""
    detection_documents: Counter = field(default_factory=Counter)
    """How often each text was sent for language detection."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _window: list[float] = field(default_factory=list, repr=False)
    _random: random.Random = field(default_factory=lambda: random.Random(7), repr=False)

    def storm(self, seconds: float, share: float) -> None:
        """Throttle `share` of the calls for the next `seconds`."""
        self.storm_until, self.storm_share = time.monotonic() + seconds, share

    @classmethod
    def from_environment(cls) -> StandIn:
        return cls(
            latency_s=float(os.environ.get("COMPREHEND_LATENCY_MS", "0")) / 1000,
            quota_rps=float(os.environ.get("COMPREHEND_QUOTA_RPS", "0")),
            error_rate=float(os.environ.get("COMPREHEND_ERROR_RATE", "0")),
        )

    def batch_detect_sentiment(self, text_list: object, language: object) -> dict:
        self._admit()
        self._refuse_unless_documents(text_list, language)
        reads = getattr(self.analyse, "languages", LANGUAGES)
        analyse = self.analyse if language in reads else lambda text: UNREAD_SENTIMENT
        answer, units = self._answer(text_list, self.documents, analyse)
        with self._lock:
            self.units += units
        return answer

    def batch_detect_dominant_language(self, text_list: object) -> dict:
        """BatchDetectDominantLanguage: each document's Languages, under the same knobs and limits.
        Comprehend advises at least 20 characters a document but refuses only empty ones."""
        self._admit()
        self._refuse_unless_documents(text_list)
        answer, units = self._answer(text_list, self.detection_documents, lambda text: {"Languages": self.detect(text)})
        with self._lock:
            self.detection_units += units
        return answer

    def _refuse_unless_documents(self, text_list: object, language: object = None) -> None:
        """Refuse a TextList (and a sentiment LanguageCode) the way Comprehend does."""
        if not isinstance(text_list, list) or not text_list:
            raise ComprehendError("InvalidRequestException", "TextList must hold at least 1 document.")
        if len(text_list) > MAX_DOCUMENTS:
            raise ComprehendError("BatchSizeLimitExceededException", f"The number of documents in the request exceeds the limit of {MAX_DOCUMENTS}.")
        if language is not None and language not in LANGUAGES:
            raise ComprehendError("UnsupportedLanguageException", "The language code is not supported for sentiment detection.")
        for text in text_list:
            if not isinstance(text, str) or len(text) < 1:
                raise ComprehendError("InvalidRequestException", "Each document must hold at least 1 character.")
            if len(text.encode("utf-8")) > MAX_DOCUMENT_BYTES:
                raise ComprehendError(
                    "TextSizeLimitExceededException", f"Input text size exceeds limit. Max length of request text allowed is {MAX_DOCUMENT_BYTES} bytes."
                )

    def _answer(self, text_list: list[str], sent: Counter, result: Callable[[str], dict]) -> tuple[dict, int]:
        """ResultList and ErrorList for an admitted call, and its billable units; counts the call answered
        and each document in `sent`."""
        if self.latency_s:
            time.sleep(self.latency_s)
        results, errors = [], []
        with self._lock:
            self.answered += 1
        for index, text in enumerate(text_list):
            with self._lock:
                sent[text] += 1
            failure = self.document_error(text) if self.document_error else None
            if failure:
                errors.append({"Index": index, "ErrorCode": failure[0], "ErrorMessage": failure[1]})
            else:
                results.append({"Index": index, **copy.deepcopy(result(text))})
        return {"ResultList": results, "ErrorList": errors}, sum(billable_units(text) for text in text_list)

    def detect_sentiment(self, text: object, language: object) -> dict:
        """DetectSentiment, one document a call (the seed design's API), under the same rules."""
        answer = self.batch_detect_sentiment([text], language)
        if answer["ErrorList"]:
            raise ComprehendError("InvalidRequestException", answer["ErrorList"][0]["ErrorMessage"])
        result = answer["ResultList"][0]
        return {"Sentiment": result["Sentiment"], "SentimentScore": result["SentimentScore"]}

    def _admit(self) -> None:
        """Count the call and refuse it the way the real service would under the knobs."""
        with self._lock:
            self.calls += 1
            if self.fail_with:
                raise ComprehendError(self.fail_with, f"Stand-in failure {self.fail_with}.", 500 if self.fail_with == "InternalServerException" else 400)
            if time.monotonic() < self.storm_until and self._random.random() < self.storm_share:
                self.throttled += 1
                raise ComprehendError("ThrottlingException", "Rate exceeded")
            if self.throttle_next > 0:
                self.throttle_next -= 1
                self.throttled += 1
                raise ComprehendError("ThrottlingException", "Rate exceeded")
            if self.quota_rps:
                now = time.monotonic()
                self._window = [stamp for stamp in self._window if now - stamp < 1.0]
                if len(self._window) >= self.quota_rps:
                    self.throttled += 1
                    raise ComprehendError("ThrottlingException", "Rate exceeded")
                self._window.append(now)
            if self.error_rate and self._random.random() < self.error_rate:
                raise ComprehendError("InternalServerException", "Stand-in internal error.", 500)


def billable_units(text: str) -> int:
    return max(3, -(-len(text) // 100))
