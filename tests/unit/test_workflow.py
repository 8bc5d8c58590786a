"""Execution names and what an execution's status means for Snowflake."""

import re

from hypothesis import given
from hypothesis import strategies as st

from sentiment_service.workflow import ExecutionState, execution_arn, execution_name, failure_message

LEGAL = re.compile(r"^[0-9A-Za-z_-]{1,80}$")


def test_real_batch_id_gives_a_legal_readable_name():
    name = execution_name("01b02bdf-0001-7b58-0003-27d60056b5a6:1:1:0:0", "0123456789abcdef")
    assert LEGAL.match(name)
    assert name.startswith("01b02bdf-0001-7b58-0003-27d60056b5a6_1_1_0_0-")


STAGING = "0123456789abcdef"


def test_the_name_is_deterministic():
    assert execution_name("a:b", STAGING) == execution_name("a:b", STAGING)


def test_ids_that_read_alike_get_different_names():
    assert execution_name("a:b", STAGING) != execution_name("a_b", STAGING)
    assert execution_name("a:b", STAGING) != execution_name("a/b", STAGING)
    long_prefix = "x" * 100
    assert execution_name(long_prefix + "1", STAGING) != execution_name(long_prefix + "2", STAGING)


def test_the_same_batch_id_with_other_rows_gets_another_execution():
    assert execution_name("a:b", STAGING) != execution_name("a:b", "fedcba9876543210")


@given(st.text(min_size=1, max_size=600), st.text(max_size=20))
def test_any_batch_id_gives_a_legal_name(batch_id, staging):
    assert LEGAL.match(execution_name(batch_id, staging))


def test_execution_arn_from_state_machine_arn():
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:Sentiment"
    assert execution_arn(machine, "n-1") == "arn:aws:states:us-east-1:123456789012:execution:Sentiment:n-1"


def test_failure_message_keeps_a_lambda_error_message_only():
    cause = '{"errorMessage": "Amazon Comprehend refused a call.", "errorType": "ComprehendRejected", "stackTrace": ["  File x"]}'
    message = failure_message(ExecutionState("FAILED", None, "ComprehendRejected", cause))
    assert message == "Sentiment batch failed: ComprehendRejected: Amazon Comprehend refused a call."


def test_failure_message_for_a_timeout_without_cause():
    assert "timed out" in failure_message(ExecutionState("TIMED_OUT", None, None, None))
