"""BatchDetectSentiment calls: brief full-jitter retries, then a named error Step Functions retries."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from conftest import aws_error
from sentiment_service import comprehend
from sentiment_service.comprehend import ComprehendRejected, ComprehendThrottled, ComprehendUnavailable, detect_sentiment


def failure(code: str, status: int = 400) -> ClientError:
    return aws_error(code, "BatchDetectSentiment", status)


class FakeComprehend:
    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls = 0

    def batch_detect_sentiment(self, TextList, LanguageCode):
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if isinstance(outcome, Exception):
            raise outcome
        return {
            "ResultList": [{"Index": index, "Sentiment": "NEUTRAL", "SentimentScore": {"Positive": 0, "Negative": 0, "Neutral": 1, "Mixed": 0}} for index in range(len(TextList)) if index != 1],
            "ErrorList": [{"Index": 1, "ErrorCode": "INTERNAL_SERVER_ERROR", "ErrorMessage": "x"}] if len(TextList) > 1 else [],
        }


def test_throttled_calls_are_retried_with_short_jittered_waits():
    waits: list[float] = []
    throttles: list[int] = []
    client = FakeComprehend(failure("ThrottlingException"), failure("ThrottlingException"), failure("InternalServerException", 500))
    values = detect_sentiment(client, ["a", "b", "c"], "en", sleep=waits.append, on_throttle=lambda: throttles.append(1))
    assert client.calls == 4 and len(waits) == 3 and len(throttles) == 2
    assert all(0 <= wait <= comprehend.BACKOFF_BASE_S * 2**attempt for attempt, wait in enumerate(waits))
    assert values[0]["Sentiment"] == "NEUTRAL" and values[1] == {"Error": {"Code": "INTERNAL_SERVER_ERROR", "Message": "x"}}


def test_a_rejected_call_is_not_retried():
    client = FakeComprehend(failure("AccessDeniedException"))
    with pytest.raises(ComprehendRejected):
        detect_sentiment(client, ["a"], "en", sleep=lambda wait: pytest.fail("slept"))
    assert client.calls == 1


@pytest.mark.parametrize("code, status, error", [("ThrottlingException", 400, ComprehendThrottled), ("InternalServerException", 500, ComprehendUnavailable)])
def test_persistent_failures_end_in_the_error_step_functions_retries(monkeypatch, code, status, error):
    clock = [0.0]
    monkeypatch.setattr(comprehend.time, "monotonic", lambda: clock[0])
    client = FakeComprehend(*[failure(code, status)] * 1000)

    def sleep(wait: float) -> None:
        clock[0] += wait

    with pytest.raises(error):
        detect_sentiment(client, ["a"], "en", sleep=sleep)
    assert clock[0] <= comprehend.BACKOFF_BUDGET_S
    assert client.calls > 5


def test_an_answer_missing_a_document_fails_the_batch():
    class Partial(FakeComprehend):
        def batch_detect_sentiment(self, TextList, LanguageCode):
            return {"ResultList": [], "ErrorList": []}

    with pytest.raises(comprehend.ComprehendContractError):
        detect_sentiment(Partial(), ["a"], "en")
