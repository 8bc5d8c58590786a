"""POST -> polling GET -> answer, through the real handlers and the real state machine on moto."""

from __future__ import annotations

import json
import random
import time
from unittest import mock

import pytest

from bench.corpus import corpus as review_corpus
from local.comprehend import hashed_sentiment, lexicon_sentiment
from local.snowflake import snowflake_headers
from sentiment_service.chunking import normalize_argument
from sentiment_service.workflow import Workflow, execution_name
from tests import execution_history
from tests.helpers import ROW_TEXT_MARKER, aws_error, history_text, row_text

SEED = ["hello world", "I am happy"]
ROWS = [row_text(0, "hello world"), row_text(1, "I am happy")]
"""The seed's rows, marked so that no_row_text_leaks finds them wherever they leak."""

pytestmark = pytest.mark.usefixtures("no_row_text_leaks")


def expected(text):
    """The value a row must get: the stand-in's sentiment of exactly what Comprehend is sent."""
    normalized = normalize_argument(text)
    return lexicon_sentiment(normalized) if isinstance(normalized, str) else normalized


def assert_answers(outcome, texts):
    assert outcome.status == 200, outcome.body
    assert [row[0] for row in outcome.body["data"]] == list(range(len(texts)))
    for (_, value), text in zip(outcome.body["data"], texts, strict=True):
        assert value == expected(text)


def corpus(rows: int, seed: int = 5) -> list:
    """Review-like texts with realistic lengths, duplicates, NULLs and blanks (the benchmark's corpus),
    the texts marked as row text."""
    return [f"{ROW_TEXT_MARKER} {text}" if isinstance(text, str) and text.strip() else text for text in review_corpus(rows, seed)]


def test_seed_example_answers_every_row(snowflake, stand_in):
    outcome = snowflake.run(SEED)
    assert_answers(outcome, SEED)
    assert outcome.body["data"][1][1]["Sentiment"] == "POSITIVE"
    assert outcome.body["data"][0][1]["Sentiment"] == "NEUTRAL"
    assert stand_in.calls == 1


def test_5000_rows_with_duplicates_and_nulls(snowflake, stand_in):
    texts = corpus(5000)
    outcome = snowflake.run(texts)
    assert_answers(outcome, texts)
    unique = {normalize_argument(text) for text in texts} - {None}
    assert set(stand_in.documents) == unique
    assert set(stand_in.documents.values()) == {1}, "a text was sent to Comprehend more than once"
    assert stand_in.calls == -(-len(unique) // 25)


def test_repeated_posts_start_one_execution_and_keep_the_answer(snowflake, stack, stand_in):
    headers = snowflake_headers()
    for _ in range(3):
        assert snowflake.post(ROWS, headers).status == 202
    first = snowflake.wait(headers)
    assert snowflake.post(ROWS, headers).status == 202
    again = snowflake.wait(headers)
    assert_answers(first, ROWS)
    assert again.body == first.body
    assert len(stack.executions()) == 1
    assert stand_in.calls == 1


def test_a_different_body_under_the_same_batch_id_is_a_conflict(snowflake):
    headers = snowflake_headers()
    snowflake.post(ROWS, headers)
    conflict = snowflake.post([row_text(0, "something else")], headers)
    assert conflict.status == 409
    assert "different rows" in conflict.body["message"]
    assert_answers(snowflake.wait(headers), ROWS)


def test_brief_throttling_is_absorbed_inside_the_function(snowflake, stack, stand_in):
    stand_in.throttle_next = 6
    texts = [row_text(i, "review was great") for i in range(20)]
    outcome = snowflake.run(texts)
    assert_answers(outcome, texts)
    assert stand_in.throttled == 6
    assert "ComprehendThrottled" not in history_text(stack), "a brief throttle cost Step Functions retries"


def test_throttling_past_the_functions_budget_is_retried_by_the_state_machine(snowflake, stack, stand_in):
    stand_in.storm(seconds=7, share=1.0)
    texts = [row_text(i, "review was great") for i in range(20)]
    outcome = snowflake.run(texts)
    assert_answers(outcome, texts)
    assert "ComprehendThrottled" in history_text(stack), "the state machine's retry was not exercised"


def test_a_permanent_comprehend_failure_fails_the_batch_with_its_reason(snowflake, stand_in):
    stand_in.fail_with = "AccessDeniedException"
    outcome = snowflake.run(ROWS)
    assert outcome.status == 500
    assert outcome.body["message"] == "Sentiment batch failed: ComprehendRejected: The service's role may not call comprehend:BatchDetectSentiment."


def test_a_per_document_error_is_that_rows_value(snowflake, stand_in):
    stand_in.document_error = lambda text: ("INTERNAL_SERVER_ERROR", "Internal server error") if "broken" in text else None
    texts = [row_text(0, "a broken one"), row_text(1, "I am happy"), None, row_text(3, "another broken thing")]
    outcome = snowflake.run(texts)
    assert outcome.status == 200
    values = [value for _, value in outcome.body["data"]]
    assert values[0] == values[3] == {"Error": {"Code": "INTERNAL_SERVER_ERROR", "Message": "Internal server error"}}
    assert values[1] == expected(texts[1])
    assert values[2] is None


def test_non_text_values_get_row_errors_and_the_rest_is_answered(snowflake):
    texts = [row_text(0, "I am happy"), 42, True, {"a": 1}, None, ""]
    outcome = snowflake.run(texts)
    assert_answers(outcome, texts)
    assert outcome.body["data"][1][1]["Error"]["Code"] == "UnsupportedValue"


def test_row_numbers_and_order_are_the_inputs(snowflake):
    headers = snowflake_headers()
    body = json.dumps({"data": [[5, ROWS[1]], [2, None], [9, ROWS[0]]]})
    assert snowflake.post(headers=headers, body=body).status == 202
    outcome = snowflake.wait(headers)
    assert [[row, value] for row, value in outcome.body["data"]] == [[5, expected(ROWS[1])], [2, None], [9, expected(ROWS[0])]]


def test_a_batch_never_posted_is_404(snowflake):
    outcome = snowflake.get(snowflake_headers())
    assert outcome.status == 404
    assert "never posted" in outcome.body["message"]


def test_a_crash_between_staging_and_starting_answers_202_and_the_retry_recovers(snowflake, stack):
    headers = snowflake_headers()
    unavailable = aws_error("ServiceUnavailable", "StartExecution", 503)
    with mock.patch.object(Workflow, "start", side_effect=unavailable):
        crashed = snowflake.post(ROWS, headers)
    assert crashed.status == 503
    assert snowflake.get(headers).status == 202
    assert snowflake.get(headers).body["status"] == "STARTING"
    assert stack.executions() == []
    assert snowflake.post(ROWS, headers).status == 202
    assert_answers(snowflake.wait(headers), ROWS)


def test_running_batches_answer_202_with_progress(snowflake, stand_in):
    stand_in.latency_s = 0.3
    headers = snowflake_headers()
    snowflake.post(corpus(200), headers)
    running = snowflake.get(headers)
    assert running.status == 202
    assert running.body["status"] in ("RUNNING", "STARTING")
    assert snowflake.wait(headers).status == 200


class FixedWorkflow(Workflow):
    """DescribeExecution answering a chosen state: for the statuses moto cannot reach.

    moto's engine has no redrive and no execution timeout, and stopping an execution
    during a Map state ends it FAILED with an internal error instead of ABORTED.
    """

    def __init__(self, state):
        self.state = state

    def describe(self, name):
        return self.state


def recorded_batch(stack, batch_id: str):
    """The results table with a live record for `batch_id`, as its POST leaves it."""
    from sentiment_service.storage import ResultsTable

    table = ResultsTable(stack.client("dynamodb"), stack.table_name, 3600)
    assert table.create_batch(table.new_record(batch_id, "execution", "query", "f" * 64, 2, 1, table.new_expiry()))
    return table


@pytest.mark.parametrize(
    "status, code, fragment",
    [
        ("RUNNING", 202, None),
        ("PENDING_REDRIVE", 202, None),
        ("FAILED", 500, "Sentiment batch failed: ComprehendRejected: refused."),
        ("TIMED_OUT", 500, "Sentiment batch timed out: States.Timeout"),
        ("ABORTED", 500, "Sentiment batch aborted"),
    ],
)
def test_every_execution_status_maps_to_snowflakes_codes(stack, status, code, fragment):
    from functions.poll_batch.app import poll_batch
    from sentiment_service.workflow import ExecutionState

    error = {"FAILED": "ComprehendRejected", "TIMED_OUT": "States.Timeout"}.get(status)
    cause = json.dumps({"errorMessage": "refused.", "errorType": "ComprehendRejected"}) if status == "FAILED" else None
    table = recorded_batch(stack, "batch:1")
    answer = poll_batch("batch:1", table, FixedWorkflow(ExecutionState(status, None, error, cause)))
    assert answer.status == code
    if fragment:
        assert answer.body["message"].startswith(fragment)
    else:
        assert answer.body["status"] == status


def test_succeeded_but_missing_results_are_410(stack):
    from functions.poll_batch.app import poll_batch
    from sentiment_service.workflow import ExecutionState

    table = recorded_batch(stack, "batch:expired")
    answer = poll_batch("batch:expired", table, FixedWorkflow(ExecutionState("SUCCEEDED", {"rowCount": 2, "resultPages": 1}, None, None)))
    assert answer.status == 410


def test_a_batch_without_a_live_record_is_404_whatever_its_execution_says(stack):
    from functions.poll_batch.app import poll_batch
    from sentiment_service.storage import ResultsTable
    from sentiment_service.workflow import ExecutionState

    table = ResultsTable(stack.client("dynamodb"), stack.table_name, 3600)
    answer = poll_batch("batch:never", table, FixedWorkflow(ExecutionState("SUCCEEDED", {"rowCount": 2, "resultPages": 1}, None, None)))
    assert answer.status == 404


def test_row_text_never_reaches_execution_history_or_logs(snowflake, stack, stand_in, monkeypatch):
    """A mapped chunk and a pooled one, throttled past the function's retries, and rows Comprehend refuses."""
    from functions.analyze_chunks import app as analyze_chunks
    from sentiment_service import comprehend

    monkeypatch.setattr(comprehend, "BACKOFF_BUDGET_S", 0.0)
    monkeypatch.setattr(analyze_chunks, "DEADLINE_MARGIN_SECONDS", 10**6)
    stand_in.throttle_next = 2
    stand_in.document_error = lambda text: ("INTERNAL_SERVER_ERROR", "failed") if "broken" in text else None
    texts = [row_text(index, "a broken sample sentence" if index % 7 == 0 else "Zebras quietly adore marmalade") for index in range(30)]
    outcome = snowflake.run(texts)
    assert outcome.status == 200
    assert outcome.body["data"][7][1] == {"Error": {"Code": "INTERNAL_SERVER_ERROR", "Message": "failed"}}
    assert "ComprehendThrottled" in history_text(stack)


def test_history_events_per_iteration_match_the_bound_model(snowflake, stack):
    snowflake.run([row_text(i, "review number") for i in range(80)])
    (execution,) = stack.executions()
    events = [event["type"] for event in stack.history(execution["executionArn"])]
    iterations = events.count("MapIterationStarted")
    assert iterations == 3, "80 texts: three full chunks in the Map, the last five pooled"
    start, end = events.index("MapStateStarted"), events.index("MapStateSucceeded")
    without_waiting = execution_history.ITERATION_EVENTS + execution_history.TASK_EVENTS + 2 * execution_history.PASS_EVENTS
    assert (end - start - 1) / iterations == without_waiting, "AnalyzeChunk, TurnLater and ChunksDone once each"
    assert (
        len(events)
        == execution_history.history_events_bound({"States": {}}, 0)
        + sum(
            execution_history.task_events({}) if state["Type"] == "Task" else execution_history.PASS_EVENTS
            for name, state in execution_history.DEFINITION["States"].items()
            if state["Type"] in ("Task", "Pass", "Choice") and name not in ("ReleaseAdmission", "MarkBatchEnded")
        )
        + execution_history.MAP_EVENTS
        + iterations * without_waiting
    ), "every state of the path that succeeds, once"


def test_execution_is_named_after_the_batch_id(snowflake, stack):
    headers = snowflake_headers(batch_id="01b02bdf-0001-7b58-0003-27d60056b5a6:1:7:0:0")
    snowflake.run(ROWS, headers)
    (execution,) = stack.executions()
    described = stack.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])
    assert execution["name"] == execution_name("01b02bdf-0001-7b58-0003-27d60056b5a6:1:7:0:0", json.loads(described["input"])["stagingId"])
    assert execution["name"].startswith("01b02bdf-0001-7b58-0003-27d60056b5a6_1_7_0_0-")
    assert json.loads(described["input"])["queryId"] == "01b02bdf-0001-7b58-0003-27d60056b5a6"


def test_the_largest_body_lambda_accepts_is_answered_in_full(snowflake):
    words = ["good", "bad", "great", "awful", "fine", "slow", "fast", "love", "hate", "product", "service", "support"]
    generator = random.Random(11)
    texts = [row_text(i, " ".join(generator.choice(words) for _ in range(1000))[:4984]) for i in range(1190)]
    headers = snowflake_headers()
    body = json.dumps({"data": [[number, text] for number, text in enumerate(texts)]})
    assert 5_900_000 < len(body.encode()) < 6 * 1024 * 1024
    assert snowflake.post(headers=headers, body=body).status == 202
    assert_answers(snowflake.wait(headers), texts)


def test_throttling_past_the_functions_budget_in_the_map_is_retried_by_the_state_machine(snowflake, stand_in, monkeypatch):
    """25 texts: one full chunk, analysed in the Map alone. Each invocation gives up at its first
    throttle, so the batch succeeds only through the Map's ComprehendThrottled retrier."""
    from sentiment_service import comprehend

    monkeypatch.setattr(comprehend, "BACKOFF_BUDGET_S", 0.0)
    stand_in.analyse = hashed_sentiment
    stand_in.throttle_next = 3
    texts = [row_text(index, "one full chunk") for index in range(25)]
    outcome = snowflake.run(texts)
    assert outcome.status == 200, outcome.body
    assert outcome.body["data"] == [[number, hashed_sentiment(text)] for number, text in enumerate(texts)]
    assert (stand_in.throttled, stand_in.answered) == (3, 1)


def test_two_posts_racing_with_one_batch_id_keep_the_first_and_refuse_the_second(snowflake, stack, stand_in, monkeypatch):
    """The second POST finds no batch record, and before it writes its own the first POST runs to its end."""
    from sentiment_service.storage import ResultsTable

    stand_in.analyse = hashed_sentiment
    headers = snowflake_headers()
    first = [row_text(index, "the first batch") for index in range(3)]
    second = [row_text(index, "the second batch") for index in range(4)]
    stage_input = ResultsTable.stage_input
    first_answers = []

    def first_post_overtakes(self, *args, **kwargs):
        if not first_answers:
            first_answers.append(None)
            first_answers.append(snowflake.post(first, headers))
        return stage_input(self, *args, **kwargs)

    monkeypatch.setattr(ResultsTable, "stage_input", first_post_overtakes)
    refused = snowflake.post(second, headers)
    monkeypatch.undo()
    assert first_answers[1].status == 202
    assert refused.status == 409 and refused.body["message"] == "This batch id was already posted with different rows; the first batch is kept."
    assert snowflake.post(first, headers).status == 202, "Snowflake's retry of the first POST"
    outcome = snowflake.wait(headers)
    assert outcome.status == 200
    assert outcome.body["data"] == [[number, hashed_sentiment(text)] for number, text in enumerate(first)]
    assert len(stack.executions()) == 1 and set(stand_in.documents) == set(first)


class StartingWorkflow(Workflow):
    """StartExecution recorded, not run: what POST asks of Step Functions."""

    def __init__(self):
        self.started: list[tuple[str, dict]] = []

    def start(self, name, execution_input):
        self.started.append((name, execution_input))


def test_a_post_stages_its_rows_and_starts_one_execution_with_references_only(stack):
    from functions.start_batch.app import accept_batch
    from sentiment_service.chunking import unsupported_value_error
    from sentiment_service.protocol import BatchRequest
    from sentiment_service.storage import STATUS_STARTED, ResultsTable

    table = ResultsTable(stack.client("dynamodb"), stack.table_name, 3600)
    flow = StartingWorkflow()
    request = BatchRequest("batch:1", "query:1", [(4, row_text(0)), (2, None), (9, 7)])
    answer = accept_batch(request, table, flow, "es")
    ((name, execution_input),) = flow.started
    record = table.get_batch("batch:1")
    assert (answer.status, answer.body) == (202, {"status": "ACCEPTED", "rows": 3, "execution": name})
    assert name == execution_name("batch:1", record.staging_id) == record.execution_name
    assert execution_input == {"batchId": "batch:1", "queryId": "query:1", "rowCount": 3, "stagingId": record.staging_id, "inputPages": 1, "language": "es"}
    assert (record.fingerprint, record.query_id, record.row_count, record.status) == (request.fingerprint, "query:1", 3, STATUS_STARTED)
    assert table.read_input("batch:1", record.staging_id, 1) == [[4, row_text(0)], [2, None], [9, unsupported_value_error(7)]]

    assert accept_batch(request, table, flow, "es") == answer and len(flow.started) == 1, "a repeated POST starts nothing"
    other_rows = accept_batch(BatchRequest("batch:1", "query:1", [(0, row_text(1))]), table, flow, "es")
    assert other_rows.status == 409 and len(flow.started) == 1


def test_a_post_with_nothing_to_analyse_is_answered_at_once(stack):
    from functions.start_batch.app import accept_batch
    from sentiment_service.chunking import unsupported_value_error
    from sentiment_service.protocol import BatchRequest
    from sentiment_service.storage import ResultsTable

    table = ResultsTable(stack.client("dynamodb"), stack.table_name, 3600)
    flow = StartingWorkflow()
    answer = accept_batch(BatchRequest("batch:1", "query:1", [(3, None), (1, "  "), (2, True)]), table, flow, "en")
    assert (answer.status, answer.body) == (200, {"data": [[3, None], [1, None], [2, unsupported_value_error(True)]]})
    assert flow.started == [] and table.get_batch("batch:1") is None


class RacingTable:
    """The results table as a POST sees it when another POST of the same batch id records its
    batch between this one's first read and its own write; `gone` when that record then vanishes."""

    def __init__(self, table, gone: bool = False):
        self.table, self.gone, self.reads = table, gone, 0

    def __getattr__(self, name):
        return getattr(self.table, name)

    def get_batch(self, batch_id, **options):
        self.reads += 1
        return None if self.reads == 1 or self.gone else self.table.get_batch(batch_id, **options)


def test_a_post_that_loses_the_race_to_record_its_batch_answers_for_the_winner(stack):
    from functions.start_batch.app import accept_batch
    from sentiment_service.protocol import BatchRequest
    from sentiment_service.storage import ResultsTable

    table = ResultsTable(stack.client("dynamodb"), stack.table_name, 3600)
    flow = StartingWorkflow()
    first = BatchRequest("batch:1", "query:1", [(0, row_text(0))])
    winner = accept_batch(first, table, flow, "en")

    same_rows = accept_batch(first, RacingTable(table), flow, "en")
    assert same_rows == winner and len(flow.started) == 1
    other_rows = accept_batch(BatchRequest("batch:1", "query:1", [(0, row_text(1))]), RacingTable(table), flow, "en")
    assert (other_rows.status, other_rows.body) == (409, {"message": "This batch id was already posted with different rows; the first batch is kept."})
    vanished = accept_batch(BatchRequest("batch:1", "query:1", [(0, row_text(2))]), RacingTable(table, gone=True), flow, "en")
    assert (vanished.status, vanished.body) == (503, {"message": "The batch was being recorded by another request; Snowflake retries it."})
    assert table.get_batch("batch:1").fingerprint == first.fingerprint and len(flow.started) == 1


def test_a_repeated_post_stages_nothing_again(stack, monkeypatch):
    from functions.start_batch.app import accept_batch
    from sentiment_service.protocol import BatchRequest
    from sentiment_service.storage import ResultsTable

    table = ResultsTable(stack.client("dynamodb"), stack.table_name, 3600)
    request = BatchRequest("batch:1", "query:1", [(0, row_text(0))])
    accept_batch(request, table, StartingWorkflow(), "en")
    monkeypatch.setattr(ResultsTable, "stage_input", lambda *args, **kwargs: pytest.fail("staged again"))
    assert accept_batch(request, table, StartingWorkflow(), "en").status == 202


def test_polls_answer_from_the_batch_record_and_its_execution(stack):
    from functions.poll_batch.app import DESCRIBE_EVERY_SECONDS, poll_batch
    from sentiment_service.storage import ResultsTable
    from sentiment_service.workflow import ExecutionState

    table = ResultsTable(stack.client("dynamodb"), stack.table_name, 3600)
    unknown = poll_batch("batch:never", table, FixedWorkflow(None))
    assert (unknown.status, unknown.body) == (404, {"message": "Unknown batch: it was never posted, or its results expired."})

    class RecordedExecution(FixedWorkflow):
        """DescribeExecution of the execution the batch record names, and of no other."""

        def describe(self, name):
            return self.state if name == "execution" else None

    period = DESCRIBE_EVERY_SECONDS
    table = recorded_batch(stack, "batch:1")
    starting = poll_batch("batch:1", table, FixedWorkflow(None), now=time.time() + period)
    assert (starting.status, starting.body) == (202, {"status": "STARTING", "rows": 2})
    table.set_chunks_total("batch:1", 3)
    table.add_chunks_done("batch:1", 2)
    running = poll_batch("batch:1", table, RecordedExecution(ExecutionState("RUNNING", None, None, None)), now=time.time() + 2 * period)
    assert (running.status, running.body) == (202, {"status": "RUNNING", "chunksDone": 2, "chunksTotal": 3, "documentsCached": 0})
    table.put_results("batch:1", [[0, None], [1, {"Sentiment": "POSITIVE"}]])
    done = poll_batch("batch:1", table, RecordedExecution(ExecutionState("SUCCEEDED", {"rowCount": 2}, None, None)), now=time.time() + 3 * period)
    assert (done.status, done.body) == (200, {"data": [[0, None], [1, {"Sentiment": "POSITIVE"}]]})
    table = recorded_batch(stack, "batch:2")
    odd = poll_batch("batch:2", table, RecordedExecution(ExecutionState("PAUSED", None, None, None)), now=time.time() + period)
    assert (odd.status, odd.body) == (500, {"message": "Sentiment batch is in an unexpected state PAUSED."})


def test_a_poll_after_the_batch_record_expired_is_410_whatever_its_execution_says(stack, monkeypatch):
    from functions.poll_batch.app import poll_batch
    from sentiment_service import storage
    from sentiment_service.workflow import ExecutionState

    table = recorded_batch(stack, "batch:1")
    later = storage.time.time() + 3601
    monkeypatch.setattr(storage.time, "time", lambda: later)
    expired = poll_batch("batch:1", table, FixedWorkflow(ExecutionState("SUCCEEDED", {"rowCount": 2}, None, None)))
    assert (expired.status, expired.body) == (410, {"message": "The results of this batch have expired; run the query again."})
