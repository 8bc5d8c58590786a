"""Admission control: a batch is accepted only when it can be answered within the window, and
what it was admitted for is given back however it ends."""

from __future__ import annotations

import json
import threading
import time
from unittest import mock

import pytest

from local.snowflake import snowflake_headers
from local.stack import OfflineStack
from sentiment_service.admission import LEASE_SECONDS, PARTITION, Admission, entry_key
from sentiment_service.workflow import ExecutionState, Workflow
from tests.helpers import row_text, stored_items

RATE, WINDOW = 1.0, 30.0
"""Unit tests: a window of 30 Comprehend calls."""
STACK_RATE, STACK_WINDOW = 1.0, 10.0
"""The offline stack's window: 10 calls, 250 unique texts, answered in 10 s at the governor's pace."""


@pytest.fixture
def admission(stack, clock) -> Admission:
    return Admission(stack.client("dynamodb"), stack.table_name, RATE, WINDOW, clock)


def entries(stack) -> list[str]:
    items = stack.client("dynamodb").query(
        TableName=stack.table_name, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": PARTITION}}, ConsistentRead=True
    )["Items"]
    return sorted(item["sk"]["S"] for item in items if item["sk"]["S"] != "head")


def test_batches_are_admitted_until_the_window_is_full_and_told_when_to_come_back(admission):
    assert admission.admit("a", 20).admitted
    assert admission.admit("b", 10).admitted
    refused = admission.admit("c", 5)
    assert not refused.admitted and refused.retry_after_seconds == 5 and refused.admitted_calls == 30
    assert admission.admit("a", 20).admitted, "a batch asking again keeps its admission and is not counted twice"
    assert admission.admitted_calls() == 30


def test_a_lone_batch_larger_than_the_window_is_admitted_when_nothing_else_is(admission):
    assert admission.admit("huge", 500).admitted
    assert not admission.admit("small", 1).admitted
    admission.release("huge")
    assert admission.admit("small", 1).admitted


def test_released_and_lapsed_claims_leave_room(admission, clock):
    assert admission.admit("a", 30).admitted
    admission.release("a")
    admission.release("a")
    assert admission.admitted_calls() == 0
    assert admission.admit("crashed", 30).admitted
    clock.now += LEASE_SECONDS + 1
    assert admission.admitted_calls() == 0, "a claim nobody released lapses with its lease"
    assert admission.admit("next", 30).admitted


def test_two_posts_racing_for_the_last_room_do_not_both_get_it(admission, stack):
    assert admission.admit("a", 20).admitted
    outcomes: dict[str, bool] = {}
    barrier = threading.Barrier(2)
    read = Admission._read
    first_reads = threading.Semaphore(2)

    def read_together(self, *args):
        seen = read(self, *args)
        if first_reads.acquire(blocking=False):
            barrier.wait(timeout=10)
        return seen

    with mock.patch.object(Admission, "_read", read_together):
        threads = [threading.Thread(target=lambda name=name: outcomes.__setitem__(name, admission.admit(name, 10).admitted)) for name in ("b", "c")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(outcomes.values()) == [False, True]
    assert admission.admitted_calls() == 30


# What Snowflake sees, and nothing leaks however a batch ends.


@pytest.fixture
def stack(stand_in):
    with OfflineStack(stand_in, parameters={"ComprehendRequestsPerSecond": f"{STACK_RATE:g}", "AdmissionWindowSeconds": f"{STACK_WINDOW:g}"}) as running:
        yield running


def texts(batch: str, count: int = 20) -> list[str]:
    return [row_text(index, f"{batch} review {index}") for index in range(count)]


def test_a_full_window_answers_429_with_retry_after_and_stores_nothing(snowflake, stack):
    first = snowflake_headers()
    with mock.patch.object(Workflow, "start"):
        assert snowflake.post(texts("first", 25 * 10), first).status == 202
        refused = snowflake.post(texts("second"))
    assert refused.status == 429 and refused.headers.get("Retry-After", "").isdigit()
    assert "Snowflake retries this batch" in refused.body["message"] and len(refused.body["message"]) <= 200
    assert stored_items(stack) == len(entries(stack)) + 2 + 1, "the first batch's record and page, the head, its claim: nothing of the second"


@pytest.mark.usefixtures("no_row_text_leaks")
def test_an_answered_batch_gives_its_claim_back(snowflake, stack):
    assert snowflake.run(texts("one")).status == 200
    assert entries(stack) == []


def fails_in(state: str):
    """Make the named state fail for good, the way a permanent error would."""
    from functions.assemble_results import app as assemble
    from functions.plan_chunks import app as plan

    broken = RuntimeError("broken on purpose")
    if state == "PlanChunks":
        return mock.patch.object(plan, "plan_batch", side_effect=broken)
    if state == "AssembleResults":
        return mock.patch.object(assemble, "assemble_rows", side_effect=broken)
    raise ValueError(state)


@pytest.mark.parametrize("state", ["PlanChunks", "AnalyzeChunk", "AnalyzePooledChunk", "AssembleResults"])
def test_a_batch_failing_in_any_state_gives_its_claim_back(snowflake, stack, stand_in, state):
    if state in ("AnalyzeChunk", "AnalyzePooledChunk"):
        stand_in.fail_with = "AccessDeniedException"
        count = 25 if state == "AnalyzeChunk" else 20
        outcome = snowflake.run(texts("failing", count))
    else:
        with fails_in(state):
            outcome = snowflake.run(texts("failing"))
    assert outcome.status == 500
    assert entries(stack) == []
    (execution,) = stack.executions()
    entered = [event["stateEnteredEventDetails"]["name"] for event in stack.history(execution["executionArn"]) if "stateEnteredEventDetails" in event]
    assert state in entered and entered[-3:] == ["ReleaseAdmission", "MarkBatchEnded", "BatchFailed"]


@pytest.mark.parametrize("status", ["TIMED_OUT", "ABORTED", "FAILED"])
def test_a_batch_step_functions_ended_gives_its_claim_back_at_the_next_due_poll(snowflake, stack, status):
    headers = snowflake_headers()
    with mock.patch.object(Workflow, "start"):
        assert snowflake.post(texts("ended"), headers).status == 202
    assert entries(stack) != []
    ended = ExecutionState(status, None, "States.Timeout" if status == "TIMED_OUT" else None, None)
    later = time.time() + 15
    with mock.patch.object(Workflow, "describe", return_value=ended), mock.patch("time.time", lambda: later):
        outcome = snowflake.get(headers)
    assert outcome.status == 500
    assert entries(stack) == []


def test_a_post_that_crashed_after_admission_is_admitted_once_when_snowflake_retries(snowflake, stack):
    headers = snowflake_headers()
    with mock.patch.object(Workflow, "start", side_effect=RuntimeError("crash")), pytest.raises(RuntimeError):
        snowflake.post(texts("crashed"), headers)
    assert len(entries(stack)) == 1
    assert snowflake.run(texts("crashed"), headers).status == 200
    assert entries(stack) == []


def test_an_earlier_batch_is_not_starved_by_later_ones(snowflake, stack, stand_in):
    """Later batches are refused while they would push the admitted work past the window, so
    the earlier batch keeps its place; once it is answered, they are admitted."""
    earlier = snowflake_headers()
    assert snowflake.post(texts("earlier", 25 * 9), earlier).status == 202
    refused = [snowflake.post(texts(f"later {number}", 50)).status for number in range(5)]
    assert refused == [429] * 5
    assert snowflake.wait(earlier, timeout_s=120).status == 200
    assert snowflake.run(texts("later 0", 50)).status == 200
    assert entries(stack) == []


def test_the_429_reaches_snowflake_over_http_with_retry_after(stand_in):
    from local.server import LocalService

    service = LocalService(
        port=0, aws_port=0, stand_in=stand_in, say=lambda line: None, parameters={"ComprehendRequestsPerSecond": "1", "AdmissionWindowSeconds": "10"}
    )
    service.start()
    try:
        with mock.patch.object(Workflow, "start"):
            status, _, _ = service.handle(
                "POST", "/v1/sentiment", snowflake_headers(), json.dumps({"data": [[n, t] for n, t in enumerate(texts("big", 25 * 10))]}).encode()
            )
            assert status == 202
            status, headers, body = service.handle("POST", "/v1/sentiment", snowflake_headers(), json.dumps({"data": [[0, "another"]]}).encode())
        assert status == 429 and int(headers["Retry-After"]) >= 1 and "message" in json.loads(body)
    finally:
        service.stop(drain_s=60)


def test_entry_keys_hold_ids_only():
    assert entry_key("q:1:2:0:0") == {"pk": {"S": PARTITION}, "sk": {"S": "batch#q:1:2:0:0"}}
