"""Execution names and what an execution's status means for Snowflake."""

import re

from hypothesis import given
from hypothesis import strategies as st

from sentiment_service.workflow import ExecutionState, execution_arn, execution_name, failure_message

LEGAL = re.compile(r"^[0-9A-Za-z_-]{1,80}$")


def test_real_batch_id_gives_a_legal_readable_name():
    name = execution_name("01b02bdf-0001-7b58-0003-27d60056b5a6:1:1:0:0")
    assert LEGAL.match(name)
    assert name.startswith("01b02bdf-0001-7b58-0003-27d60056b5a6_1_1_0_0-")


def test_the_name_is_deterministic():
    assert execution_name("a:b") == execution_name("a:b")


def test_ids_that_read_alike_get_different_names():
    assert execution_name("a:b") != execution_name("a_b")
    assert execution_name("a:b") != execution_name("a/b")
    long_prefix = "x" * 100
    assert execution_name(long_prefix + "1") != execution_name(long_prefix + "2")


@given(st.text(min_size=1, max_size=600))
def test_any_batch_id_gives_a_legal_name(batch_id):
    assert LEGAL.match(execution_name(batch_id))


def test_execution_arn_from_state_machine_arn():
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:Sentiment"
    assert execution_arn(machine, "n-1") == "arn:aws:states:us-east-1:123456789012:execution:Sentiment:n-1"


def test_failure_message_keeps_a_lambda_error_message_only():
    cause = '{"errorMessage": "Amazon Comprehend refused a call.", "errorType": "ComprehendRejected", "stackTrace": ["  File x"]}'
    message = failure_message(ExecutionState("FAILED", None, "ComprehendRejected", cause))
    assert message == "Sentiment batch failed: ComprehendRejected: Amazon Comprehend refused a call."


def test_failure_message_for_a_timeout_without_cause():
    assert "timed out" in failure_message(ExecutionState("TIMED_OUT", None, None, None))
