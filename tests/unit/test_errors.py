"""One classification of AWS errors, and what each kind becomes for Snowflake and for Step Functions."""

from __future__ import annotations

import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError, ReadTimeoutError

from sentiment_service.api import aws_error_answer
from sentiment_service.errors import Kind, kind_of
from sentiment_service.storage import StorageThrottled, StorageUnavailable
from sentiment_service.worker import retryable_storage_errors
from tests.helpers import aws_error


@pytest.mark.parametrize(
    "error, kind",
    [
        (aws_error("ThrottlingException", "BatchDetectSentiment"), Kind.THROTTLED),
        (aws_error("ProvisionedThroughputExceededException", "PutItem"), Kind.THROTTLED),
        (aws_error("InternalServerError", "Query", 500), Kind.TRANSIENT),
        (aws_error("SomethingNew", "Query", 502), Kind.TRANSIENT),
        (EndpointConnectionError(endpoint_url="https://dynamodb"), Kind.TRANSIENT),
        (ReadTimeoutError(endpoint_url="https://states"), Kind.TRANSIENT),
        (aws_error("AccessDeniedException", "StartExecution"), Kind.MISCONFIGURED),
        (aws_error("ResourceNotFoundException", "GetItem"), Kind.MISCONFIGURED),
        (aws_error("StateMachineDoesNotExist", "StartExecution"), Kind.MISCONFIGURED),
        (NoCredentialsError(), Kind.MISCONFIGURED),
        (aws_error("ValidationException", "PutItem"), Kind.REJECTED),
    ],
)
def test_every_kind_of_aws_error_is_told_apart(error, kind):
    assert kind_of(error) is kind


def test_the_api_answers_throttling_429_outages_503_and_names_a_misconfiguration():
    assert aws_error_answer(aws_error("ThrottlingException", "DescribeExecution")).status == 429
    assert aws_error_answer(StorageThrottled("left unprocessed")).status == 429
    assert aws_error_answer(aws_error("ServiceUnavailable", "StartExecution", 503)).status == 503
    denied = aws_error_answer(aws_error("AccessDeniedException", "StartExecution"))
    assert denied.status == 424, "Snowflake retries every 5xx; a misconfiguration is not worth retrying"
    assert "misconfigured" in denied.body["message"] and "StartExecution" in denied.body["message"] and "AccessDeniedException" in denied.body["message"]
    missing = aws_error_answer(aws_error("ResourceNotFoundException", "GetItem"))
    assert missing.status == 424 and "GetItem" in missing.body["message"]


@pytest.mark.parametrize(
    "error, raised",
    [
        (aws_error("ProvisionedThroughputExceededException", "PutItem"), StorageThrottled),
        (aws_error("InternalServerError", "Query", 500), StorageUnavailable),
        (EndpointConnectionError(endpoint_url="https://dynamodb"), StorageUnavailable),
    ],
)
def test_workers_raise_what_step_functions_retries(error, raised):
    with pytest.raises(raised), retryable_storage_errors():
        raise error


@pytest.mark.parametrize("error", [aws_error("ResourceNotFoundException", "Query"), aws_error("AccessDeniedException", "PutItem"), NoCredentialsError()])
def test_workers_let_a_misconfiguration_fail_the_batch(error):
    with pytest.raises(type(error)), retryable_storage_errors():
        raise error
