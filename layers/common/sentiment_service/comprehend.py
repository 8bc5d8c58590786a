"""Amazon Comprehend's BatchDetectSentiment, and what its answers mean for our rows.

The exception class names below are the error names Step Functions sees (a Lambda
task's errorType); statemachine/sentiment.asl.json retries the transient ones with
exponential backoff and full jitter and lets the permanent ones fail the batch. Their
messages are one sentence an operator and a Snowflake user can act on, and never quote
row text.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, Unpack, cast

from botocore.exceptions import BotoCoreError, ClientError

from .errors import Kind, backoff_seconds, error_code, kind_of

if TYPE_CHECKING:
    from mypy_boto3_comprehend.literals import LanguageCodeType
    from mypy_boto3_comprehend.type_defs import (
        BatchDetectDominantLanguageRequestTypeDef,
        BatchDetectDominantLanguageResponseTypeDef,
        BatchDetectSentimentRequestTypeDef,
        BatchDetectSentimentResponseTypeDef,
    )

Response = TypeVar("Response")


class ComprehendCalls(Protocol):
    """The two Comprehend calls the service makes: a boto3 client, or one that first waits its turn (governor.py)."""

    def batch_detect_sentiment(self, **request: Unpack[BatchDetectSentimentRequestTypeDef]) -> BatchDetectSentimentResponseTypeDef: ...

    def batch_detect_dominant_language(self, **request: Unpack[BatchDetectDominantLanguageRequestTypeDef]) -> BatchDetectDominantLanguageResponseTypeDef: ...


class ComprehendThrottled(Exception):
    """Comprehend's request quota is exhausted for now; retried with backoff."""


class ComprehendUnavailable(Exception):
    """Comprehend failed in a way that may pass; retried with backoff."""


class ComprehendRejected(Exception):
    """Comprehend refused the call for a reason a retry cannot fix; the batch fails."""


class ComprehendContractError(Exception):
    """Comprehend's answer did not cover every document it was sent; the batch fails."""


def sentiment_value(result: dict[str, Any]) -> dict[str, Any]:
    """A row's value for a ResultList entry: the shape Snowflake users query."""
    return {"Sentiment": result["Sentiment"], "SentimentScore": dict(result["SentimentScore"])}


MAX_ERROR_CODE = 40
MAX_ERROR_MESSAGE = 100
_NOT_PLAIN = re.compile(r"[^ !#-\[\]-~]")


def plain(text: object, limit: int) -> str:
    """Printable ASCII without `"` or `\\`, cut to `limit`: its JSON form is exactly `limit` + 2 bytes at most.

    An ErrorList entry's code and message are Comprehend's text; bounding them bounds every
    row's answer (protocol.MAX_ROW_ANSWER_BYTES).
    """
    return _NOT_PLAIN.sub("?", str(text))[:limit]


def error_value(error: dict[str, Any]) -> dict[str, Any]:
    """A row's value for an ErrorList entry: that row fails, not the batch."""
    return {"Error": {"Code": plain(error.get("ErrorCode", "Unknown"), MAX_ERROR_CODE), "Message": plain(error.get("ErrorMessage", ""), MAX_ERROR_MESSAGE)}}


BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 1.0
BACKOFF_BUDGET_S = 5.0
"""In-function retries of a throttled or failing call: full jitter from 50 ms, capped at 1 s,
for at most 5 s before Step Functions' slower retries take over. Comprehend's quota is counted
per second, so short waits keep it busy where the SDK's (0.5 s, 1 s, 2 s, ...) leave it idle;
longer waits belong to Step Functions, since a second of this function waiting costs about a
quarter of a state transition. The client itself does not retry (settings.py)."""


def detect_sentiment(
    client: ComprehendCalls,
    texts: list[str],
    language: str,
    sleep: Callable[[float], None] = time.sleep,
    on_throttle: Callable[[], None] = lambda: None,
    throttled_until: float | None = None,
) -> list[dict[str, Any]]:
    """One BatchDetectSentiment call, retried briefly; the value for each text, in the order sent.

    With `throttled_until` (a time.monotonic() deadline; the client is then governed, so every
    attempt waits for a turn of its own), a throttled call is tried again until that deadline
    rather than for BACKOFF_BUDGET_S: throttling by other callers becomes waiting, not failure.
    """
    response = _send(
        lambda: client.batch_detect_sentiment(TextList=texts, LanguageCode=cast("LanguageCodeType", language)),
        "BatchDetectSentiment",
        len(texts),
        language,
        sleep,
        on_throttle,
        throttled_until,
    )
    return _values(response, len(texts), sentiment_value)


def detect_languages(
    client: ComprehendCalls,
    texts: list[str],
    sleep: Callable[[float], None] = time.sleep,
    on_throttle: Callable[[], None] = lambda: None,
    throttled_until: float | None = None,
) -> list[dict[str, Any]]:
    """One BatchDetectDominantLanguage call, retried like detect_sentiment; each text's best language."""
    response = _send(
        lambda: client.batch_detect_dominant_language(TextList=texts), "BatchDetectDominantLanguage", len(texts), "auto", sleep, on_throttle, throttled_until
    )
    return _values(response, len(texts), language_value)


def language_value(result: dict[str, Any]) -> dict[str, Any]:
    """A text's detection: the language Comprehend is surest of, and how sure (0 when it named none)."""
    best = max(result.get("Languages") or [{"LanguageCode": "und", "Score": 0.0}], key=lambda language: float(language["Score"]))
    return {"LanguageCode": plain(best["LanguageCode"], 8), "Score": round(float(best["Score"]), 4)}


def _send(
    call: Callable[[], Response],
    operation: str,
    documents: int,
    language: str,
    sleep: Callable[[float], None],
    on_throttle: Callable[[], None],
    throttled_until: float | None,
) -> Response:
    deadline = time.monotonic() + BACKOFF_BUDGET_S
    attempt = 0
    while True:
        try:
            return call()
        except ClientError as error:
            failure = classify(error, documents, language, operation)
        except BotoCoreError as error:
            failure = ComprehendUnavailable(f"Could not reach Amazon Comprehend ({type(error).__name__}).")
        if isinstance(failure, ComprehendThrottled):
            on_throttle()
            if throttled_until is not None:
                if time.monotonic() > throttled_until:
                    raise failure
                continue
        wait = backoff_seconds(attempt, BACKOFF_BASE_S, BACKOFF_CAP_S)
        if isinstance(failure, ComprehendRejected) or time.monotonic() + wait > deadline:
            raise failure
        attempt += 1
        sleep(wait)


def _values(response: Mapping[str, Any], documents: int, value_of: Callable[[dict[str, Any]], dict[str, Any]]) -> list[dict[str, Any]]:
    values: list[dict[str, Any] | None] = [None] * documents
    for result in response.get("ResultList", []):
        values[result["Index"]] = value_of(result)
    for error in response.get("ErrorList", []):
        values[error["Index"]] = error_value(error)
    answered = [value for value in values if value is not None]
    if len(answered) < documents:
        raise ComprehendContractError(f"Amazon Comprehend answered for {len(answered)} of {documents} documents in a call.")
    return answered


def classify(error: ClientError, documents: int, language: str, operation: str = "BatchDetectSentiment") -> Exception:
    code = error_code(error)
    kind = kind_of(error)
    if kind is Kind.THROTTLED:
        return ComprehendThrottled(f"Amazon Comprehend throttled a call ({code}); the account's request quota is exhausted.")
    if kind is Kind.TRANSIENT:
        return ComprehendUnavailable(f"Amazon Comprehend failed a call ({code}).")
    reasons = {
        "UnsupportedLanguageException": f"Amazon Comprehend does not analyse sentiment in language {language!r}.",
        "AccessDeniedException": f"The service's role may not call comprehend:{operation}.",
        "TextSizeLimitExceededException": "Amazon Comprehend refused a document as too large.",
        "BatchSizeLimitExceededException": f"Amazon Comprehend refused a call of {documents} documents as too many.",
    }
    return ComprehendRejected(reasons.get(code, f"Amazon Comprehend rejected a call of {documents} documents ({code})."))
