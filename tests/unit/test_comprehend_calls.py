"""BatchDetectSentiment calls: brief full-jitter retries, then a named error Step Functions retries."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from sentiment_service import comprehend, errors
from sentiment_service.comprehend import ComprehendRejected, ComprehendThrottled, ComprehendUnavailable, detect_sentiment
from tests.helpers import aws_error


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
            "ResultList": [
                {"Index": index, "Sentiment": "NEUTRAL", "SentimentScore": {"Positive": 0, "Negative": 0, "Neutral": 1, "Mixed": 0}}
                for index in range(len(TextList))
                if index != 1
            ],
            "ErrorList": [{"Index": 1, "ErrorCode": "INTERNAL_SERVER_ERROR", "ErrorMessage": "x"}] if len(TextList) > 1 else [],
        }


def test_throttled_calls_are_retried_with_short_jittered_waits():
    waits: list[float] = []
    throttles: list[int] = []
    client = FakeComprehend(failure("ThrottlingException"), failure("ThrottlingException"), failure("InternalServerException", 500))
    values = detect_sentiment(client, ["a", "b", "c"], "en", sleep=waits.append, on_throttle=lambda: throttles.append(1))
    assert client.calls == 4 and len(waits) == 3 and len(throttles) == 2
    assert all(0 <= wait <= 0.05 * 2**attempt for attempt, wait in enumerate(waits)), "full jitter from 50 ms, doubling"
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
    assert clock[0] <= 5.0, "Step Functions takes over after 5 s"
    assert client.calls > 5


def test_an_answer_missing_a_document_fails_the_batch():
    class Partial(FakeComprehend):
        def batch_detect_sentiment(self, TextList, LanguageCode):
            return {"ResultList": [], "ErrorList": []}

    with pytest.raises(comprehend.ComprehendContractError):
        detect_sentiment(Partial(), ["a"], "en")


def test_waits_double_from_50_ms_up_to_a_second(monkeypatch):
    monkeypatch.setattr(errors.random, "uniform", lambda low, high: high)
    waits: list[float] = []
    client = FakeComprehend(*[failure("ThrottlingException")] * 7)
    detect_sentiment(client, ["a"], "en", sleep=waits.append)
    assert waits == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


def test_an_unreachable_comprehend_is_retried_then_unavailable(monkeypatch):
    from botocore.exceptions import EndpointConnectionError

    clock = [0.0]
    monkeypatch.setattr(comprehend.time, "monotonic", lambda: clock[0])

    class Unreachable(FakeComprehend):
        def batch_detect_sentiment(self, TextList, LanguageCode):
            self.calls += 1
            raise EndpointConnectionError(endpoint_url="https://comprehend.us-east-1.amazonaws.com")

    def sleep(wait: float) -> None:
        clock[0] += wait

    client = Unreachable()
    with pytest.raises(ComprehendUnavailable) as raised:
        detect_sentiment(client, ["a"], "en", sleep=sleep)
    assert str(raised.value) == "Could not reach Amazon Comprehend (EndpointConnectionError)."
    assert client.calls > 5


@pytest.mark.parametrize(
    "code, status, error, message",
    [
        (
            "ThrottlingException",
            400,
            ComprehendThrottled,
            "Amazon Comprehend throttled a call (ThrottlingException); the account's request quota is exhausted.",
        ),
        ("InternalServerException", 500, ComprehendUnavailable, "Amazon Comprehend failed a call (InternalServerException)."),
        ("UnsupportedLanguageException", 400, ComprehendRejected, "Amazon Comprehend does not analyse sentiment in language 'xx'."),
        ("AccessDeniedException", 400, ComprehendRejected, "The service's role may not call comprehend:BatchDetectSentiment."),
        ("TextSizeLimitExceededException", 400, ComprehendRejected, "Amazon Comprehend refused a document as too large."),
        ("BatchSizeLimitExceededException", 400, ComprehendRejected, "Amazon Comprehend refused a call of 2 documents as too many."),
        ("InvalidRequestException", 400, ComprehendRejected, "Amazon Comprehend rejected a call of 2 documents (InvalidRequestException)."),
    ],
)
def test_each_failure_is_named_for_step_functions_and_explained_for_the_user(monkeypatch, code, status, error, message):
    monkeypatch.setattr(comprehend, "BACKOFF_BUDGET_S", 0.0)
    with pytest.raises(error) as raised:
        detect_sentiment(FakeComprehend(failure(code, status)), ["a", "b"], "xx", sleep=lambda wait: None)
    assert type(raised.value) is error and str(raised.value) == message


def test_only_throttling_is_counted_as_throttling():
    throttles: list[int] = []
    client = FakeComprehend(failure("ThrottlingException"), failure("InternalServerException", 500))
    detect_sentiment(client, ["a"], "en", sleep=lambda wait: None, on_throttle=lambda: throttles.append(1))
    assert client.calls == 3 and throttles == [1]


def test_values_follow_the_documents_indexes_whatever_the_answers_order():
    class Shuffled(FakeComprehend):
        def batch_detect_sentiment(self, TextList, LanguageCode):
            return {
                "ResultList": [
                    {"Index": 2, "Sentiment": "NEGATIVE", "SentimentScore": {"Positive": 0.1}},
                    {"Index": 0, "Sentiment": "POSITIVE", "SentimentScore": {"Positive": 0.9}},
                ],
                "ErrorList": [{"Index": 1, "ErrorCode": "INTERNAL_SERVER_ERROR", "ErrorMessage": "failed"}],
            }

    assert detect_sentiment(Shuffled(), ["a", "b", "c"], "en") == [
        {"Sentiment": "POSITIVE", "SentimentScore": {"Positive": 0.9}},
        {"Error": {"Code": "INTERNAL_SERVER_ERROR", "Message": "failed"}},
        {"Sentiment": "NEGATIVE", "SentimentScore": {"Positive": 0.1}},
    ]


def test_an_answer_missing_a_document_says_how_many_it_covered():
    class Partial(FakeComprehend):
        def batch_detect_sentiment(self, TextList, LanguageCode):
            return {"ResultList": [{"Index": 0, "Sentiment": "NEUTRAL", "SentimentScore": {}}], "ErrorList": []}

    with pytest.raises(comprehend.ComprehendContractError) as raised:
        detect_sentiment(Partial(), ["a", "b", "c"], "en")
    assert str(raised.value) == "Amazon Comprehend answered for 1 of 3 documents in a call."


@pytest.mark.parametrize(
    "entry, value",
    [
        (
            {"ErrorCode": "INTERNAL_SERVER_ERROR", "ErrorMessage": "Internal server error"},
            {"Code": "INTERNAL_SERVER_ERROR", "Message": "Internal server error"},
        ),
        ({}, {"Code": "Unknown", "Message": ""}),
        ({"ErrorCode": "C" * 41, "ErrorMessage": "M" * 101}, {"Code": "C" * 40, "Message": "M" * 100}),
        ({"ErrorCode": 'a"b\\c\n', "ErrorMessage": "caf\u00e9 \u2028ok ~"}, {"Code": "a?b?c?", "Message": "caf? ?ok ~"}),
    ],
    ids=["as sent", "missing", "cut to 40 and 100", "printable ASCII without quote or backslash"],
)
def test_a_documents_error_becomes_its_rows_value(entry, value):
    assert comprehend.error_value(entry) == {"Error": value}
