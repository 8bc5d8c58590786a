"""Snowflake's polls cost a bounded number of DescribeExecution calls, whatever their rate."""

from __future__ import annotations

import math
import time

from functions.poll_batch.app import CONFIRM_EVERY_SECONDS, DESCRIBE_EVERY_SECONDS, poll_batch
from local.snowflake import snowflake_headers
from sentiment_service.storage import ResultsTable
from sentiment_service.workflow import ExecutionState
from tests.helpers import row_text


class CountingWorkflow:
    """DescribeExecution that answers from a script and counts its calls."""

    def __init__(self, status: str = "RUNNING"):
        self.status = status
        self.calls = 0

    def describe(self, name: str) -> ExecutionState:
        self.calls += 1
        return ExecutionState(self.status, None, "States.Timeout" if self.status == "TIMED_OUT" else None, None)


def started_batch(stack, batch_id: str, now: float) -> ResultsTable:
    table = ResultsTable(stack.client("dynamodb"), stack.table_name, 3600)
    assert table.create_batch(table.new_record(batch_id, "execution", "query", "f" * 64, 2, 1, table.new_expiry()))
    table.mark_started(batch_id, now)
    return table


def test_a_running_batch_is_described_at_most_once_per_period_however_often_it_is_polled(stack):
    start = time.time()
    table = started_batch(stack, "batch:1", start)
    flow = CountingWorkflow()
    running_for = 120.0
    polls = [start + 0.1 * step for step in range(int(running_for / 0.1))]
    answers = {poll_batch("batch:1", table, flow, now=moment).status for moment in polls}
    assert answers == {202}
    assert flow.calls <= math.ceil(running_for / DESCRIBE_EVERY_SECONDS)
    assert flow.calls >= math.floor(running_for / DESCRIBE_EVERY_SECONDS) - 1, "the execution is still looked at"


def test_a_finished_batch_is_confirmed_at_once_and_then_answered_without_describing(stack):
    start = time.time()
    table = started_batch(stack, "batch:1", start)
    table.put_results("batch:1", [[0, None], [1, {"Sentiment": "POSITIVE"}]])
    table.mark_ended("batch:1")
    flow = CountingWorkflow("SUCCEEDED")
    first = poll_batch("batch:1", table, flow, now=start + CONFIRM_EVERY_SECONDS)
    assert first.status == 200 and flow.calls == 1
    for step in range(50):
        assert poll_batch("batch:1", table, flow, now=start + 2 + step).status == 200
    assert flow.calls == 1, "one DescribeExecution after the batch ended"


def test_what_only_step_functions_knows_reaches_snowflake_within_one_period(stack):
    start = time.time()
    table = started_batch(stack, "batch:1", start)
    flow = CountingWorkflow("TIMED_OUT")
    moments = [start + step for step in range(int(DESCRIBE_EVERY_SECONDS) + 1)]
    answers = [poll_batch("batch:1", table, flow, now=moment) for moment in moments]
    assert answers[-1].status == 500 and "timed out" in answers[-1].body["message"]
    assert all(answer.status == 202 for answer in answers[:-1])


def test_concurrent_polls_share_one_describe(stack):
    start = time.time()
    table = started_batch(stack, "batch:1", start)
    flow = CountingWorkflow()
    due = start + DESCRIBE_EVERY_SECONDS + 0.01
    assert [poll_batch("batch:1", table, flow, now=due).status for _ in range(5)] == [202] * 5
    assert flow.calls == 1


def test_a_real_batch_polled_fast_costs_a_few_describes(snowflake, stack, stand_in, monkeypatch):
    from sentiment_service.workflow import Workflow

    calls = []
    describe = Workflow.describe
    monkeypatch.setattr(Workflow, "describe", lambda self, name: calls.append(name) or describe(self, name))
    stand_in.latency_s = 1.5
    headers = snowflake_headers()
    outcome = snowflake.run([row_text(index, f"review {index}") for index in range(400)], headers)
    assert outcome.status == 200 and outcome.polls > 10
    assert len(calls) <= 3, f"{len(calls)} DescribeExecution calls for {outcome.polls} polls"


def test_a_failed_batch_that_an_operator_redrives_is_answered_202_and_then_with_its_rows(stack):
    start = time.time()
    table = started_batch(stack, "batch:1", start)
    flow = CountingWorkflow("FAILED")
    failed = poll_batch("batch:1", table, flow, now=start + DESCRIBE_EVERY_SECONDS)
    assert failed.status == 500
    assert poll_batch("batch:1", table, flow, now=start + DESCRIBE_EVERY_SECONDS + 1).status == 500, "answered from the record"
    assert flow.calls == 1
    flow.status = "RUNNING"
    redriven = poll_batch("batch:1", table, flow, now=start + 2 * DESCRIBE_EVERY_SECONDS + 1)
    assert redriven.status == 202 and flow.calls == 2
    table.put_results("batch:1", [[0, None], [1, {"Sentiment": "POSITIVE"}]])
    table.mark_ended("batch:1")
    flow.status = "SUCCEEDED"
    done = poll_batch("batch:1", table, flow, now=start + 2 * DESCRIBE_EVERY_SECONDS + 1 + CONFIRM_EVERY_SECONDS)
    assert done.status == 200 and done.body["data"][1][1] == {"Sentiment": "POSITIVE"}
