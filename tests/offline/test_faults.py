"""Faults: AWS throttles and fails; every row still comes back once, or the user gets a clear error."""

from __future__ import annotations

import time
from unittest import mock

import pytest

from functions.poll_batch.app import DESCRIBE_EVERY_SECONDS
from local.comprehend import lexicon_sentiment
from local.snowflake import snowflake_headers
from sentiment_service import comprehend, storage
from sentiment_service.workflow import Workflow
from tests.helpers import aws_error, row_text, stored_items

pytestmark = pytest.mark.usefixtures("no_row_text_leaks")


def assert_complete(outcome, texts):
    assert outcome.status == 200, outcome.body
    assert [row for row, _ in outcome.body["data"]] == list(range(len(texts)))
    assert [value for _, value in outcome.body["data"]] == [lexicon_sentiment(text) for text in texts]


def test_a_throttling_storm_delays_but_never_loses_rows(snowflake, stand_in):
    texts = [row_text(index, f"{'great' if index % 2 else 'awful'} item {index}") for index in range(300)]
    stand_in.storm(seconds=15, share=0.8)
    outcome = snowflake.run(texts, timeout_s=300)
    assert_complete(outcome, texts)
    assert stand_in.throttled > stand_in.calls // 2
    assert sum(stand_in.documents.values()) == len(set(texts)), "a chunk was paid for twice"


def test_a_comprehend_outage_fails_the_batch_and_names_it(snowflake, stand_in, monkeypatch):
    monkeypatch.setattr(comprehend, "BACKOFF_BUDGET_S", 0.0)  # the function's own retries: tests/unit/test_comprehend_calls.py
    stand_in.fail_with = "InternalServerException"
    outcome = snowflake.run([row_text(0), row_text(1)], timeout_s=300)
    assert outcome.status == 500
    assert outcome.body["message"] == "Sentiment batch failed: ComprehendUnavailable: Amazon Comprehend failed a call (InternalServerException)."


def test_dynamodb_throttled_during_post_answers_429_and_the_retry_succeeds(snowflake, stack):
    headers = snowflake_headers()
    texts = [row_text(0), row_text(1, "awful")]
    stack.dynamodb_faults = lambda action: "ProvisionedThroughputExceededException"
    throttled = snowflake.post(texts, headers)
    assert throttled.status == 429 and "Snowflake retries" in throttled.body["message"]
    stack.dynamodb_faults = None
    assert stack.executions() == [] and stored_items(stack) == 0
    assert snowflake.post(texts, headers).status == 202
    assert_complete(snowflake.wait(headers), texts)


def test_dynamodb_throttled_inside_the_workflow_is_retried(snowflake, stack):
    failures = {"PutItem": 9}

    def fault(action):
        if failures.get(action, 0) > 0:
            failures[action] -= 1
            return "ThrottlingException"
        return None

    headers = snowflake_headers()
    texts = [row_text(index) for index in range(10)]
    assert snowflake.post(texts, headers).status == 202
    stack.dynamodb_faults = fault
    outcome = snowflake.wait(headers, timeout_s=300)
    assert_complete(outcome, texts)
    assert failures["PutItem"] == 0


def test_start_execution_throttled_answers_429_then_recovers(snowflake):
    throttled = aws_error("ThrottlingException", "StartExecution")
    headers = snowflake_headers()
    with mock.patch.object(Workflow, "start", side_effect=throttled):
        assert snowflake.post([row_text(0)], headers).status == 429
    assert snowflake.post([row_text(0)], headers).status == 202
    assert_complete(snowflake.wait(headers), [row_text(0)])


def test_describe_execution_throttled_answers_429(snowflake):
    headers = snowflake_headers()
    snowflake.post([row_text(0)], headers)
    throttled = aws_error("ThrottlingException", "DescribeExecution")
    with later(DESCRIBE_EVERY_SECONDS):
        with mock.patch.object(Workflow, "describe", side_effect=throttled):
            assert snowflake.get(headers).status == 429, "a GET whose turn it is to describe the execution"
        assert_complete(snowflake.wait(headers), [row_text(0)])


def test_a_crash_after_staging_is_recovered_by_snowflakes_retry(snowflake, stack):
    headers = snowflake_headers()
    crash = RuntimeError("Lambda died between staging and StartExecution")
    with mock.patch.object(Workflow, "start", side_effect=crash), pytest.raises(RuntimeError):
        snowflake.post([row_text(0)], headers)
    assert stack.executions() == []
    assert snowflake.get(headers).status == 202
    assert snowflake.post([row_text(0)], headers).status == 202
    assert_complete(snowflake.wait(headers), [row_text(0)])


def later(seconds: float):
    real = time.time
    return mock.patch.object(storage.time, "time", lambda: real() + seconds)


def test_expired_results_answer_410(snowflake):
    headers = snowflake_headers()
    assert snowflake.run([row_text(0)], headers).status == 200
    with later(2 * 24 * 3600):
        expired = snowflake.get(headers)
    assert expired.status == 410 and "expired" in expired.body["message"]


def test_an_expired_batch_that_never_started_is_410_not_a_202_for_ever(snowflake):
    headers = snowflake_headers()
    with mock.patch.object(Workflow, "start", side_effect=RuntimeError("crash")), pytest.raises(RuntimeError):
        snowflake.post([row_text(0)], headers)
    with later(2 * 24 * 3600):
        assert snowflake.get(headers).status == 410


@pytest.mark.parametrize("rows, sent", [(30, 25), (7, 7)], ids=["a chunk of the map", "a pooled chunk"])
def test_an_incomplete_comprehend_answer_fails_the_batch_without_quoting_a_row(snowflake, stand_in, monkeypatch, rows, sent):
    answer = stand_in.batch_detect_sentiment

    def one_result_short(text_list, language):
        complete = answer(text_list, language)
        return {**complete, "ResultList": complete["ResultList"][1:]}

    monkeypatch.setattr(stand_in, "batch_detect_sentiment", one_result_short)
    outcome = snowflake.run([row_text(index) for index in range(rows)])
    assert outcome.status == 500
    assert (
        outcome.body["message"] == f"Sentiment batch failed: ComprehendContractError: Amazon Comprehend answered for {sent - 1} of {sent} documents in a call."
    )


def test_a_wrong_table_name_is_answered_as_a_misconfiguration_not_an_outage(snowflake, monkeypatch):
    from sentiment_service.settings import reset_clients

    monkeypatch.setenv("RESULTS_TABLE", "no-such-table")
    reset_clients()
    outcome = snowflake.post(["I love it"])
    assert outcome.status == 424 and "misconfigured" in outcome.body["message"]
