"""Batches' last, partly filled chunks share Comprehend calls, each text sent once, each value stored once."""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

import pytest

from local.comprehend import hashed_sentiment
from sentiment_service.comprehend import ComprehendRejected, ComprehendThrottled
from sentiment_service.pool import CLAIM_SECONDS, POOL, Pool, PooledChunkInFlight, settle_pooled_chunk
from sentiment_service.states import PooledChunkOfBatch
from sentiment_service.storage import ResultsTable, staging_id
from tests.helpers import ROW_TEXT_MARKER, aws_error, row_text

ENTRY_ATTRIBUTES = {"pk", "sk", "batchId", "chunk", "documents", "expiresAt", "claimedBy", "claimedUntil"}

pytestmark = pytest.mark.usefixtures("no_row_text_leaks", "distinct_values")


@pytest.fixture
def distinct_values(stand_in) -> None:
    """Every text gets a value of its own, so a value stored under the wrong chunk or row shows."""
    stand_in.analyse = hashed_sentiment


def values_of(texts: list[str]) -> list[dict]:
    return [hashed_sentiment(text) for text in texts]


@pytest.fixture
def table(stack) -> ResultsTable:
    return ResultsTable(stack.client("dynamodb"), stack.table_name, 3600)


@pytest.fixture
def comprehend(stack) -> Any:
    return stack.client("comprehend")


class Batches:
    """Batches taken through the workflow's functions one state at a time, as Step Functions runs them."""

    def __init__(self, table: ResultsTable, comprehend: Any):
        from functions.analyze_chunks.app import analyze_pooled_chunks, analyze_work_item
        from functions.assemble_results.app import assemble_batch
        from functions.plan_chunks.app import plan_chunks

        self.table, self.comprehend = table, comprehend
        self.plan_chunks, self.analyze_work_item, self.analyze_pooled_chunks, self.assemble_batch = (
            plan_chunks,
            analyze_work_item,
            analyze_pooled_chunks,
            assemble_batch,
        )

    def stage(self, batch_id: str, texts: list[str | None]) -> dict:
        """POST's part (staged rows, batch record), then PlanChunks."""
        fingerprint = hashlib.sha256(batch_id.encode()).hexdigest()
        expires_at = self.table.new_expiry()
        pages = self.table.stage_input(batch_id, staging_id(fingerprint), [[number, text] for number, text in enumerate(texts)], expires_at)
        assert self.table.create_batch(self.table.new_record(batch_id, f"execution-{batch_id}", "query", fingerprint, len(texts), pages, expires_at))
        plan = self.plan_chunks(batch_id, staging_id(fingerprint), pages, "en", self.table)
        return {**plan, "stagingId": staging_id(fingerprint), "inputPages": pages}

    def finish(self, batch_id: str, plan: dict) -> list[list[Any]]:
        """The Map's work items, AnalyzePooledChunk, then AssembleResults: the rows GET would answer."""
        for item in plan["workItems"]:
            self.analyze_work_item(batch_id, item["firstChunk"], item["chunkCount"], self.table, self.comprehend)
        pooled = [PooledChunkOfBatch.from_event(entry) for entry in plan["pooledChunks"]]
        self.analyze_pooled_chunks(batch_id, pooled, self.table, self.comprehend)
        self.assemble_batch(batch_id, plan["stagingId"], plan["inputPages"], "en", self.table)
        return self.table.read_results(batch_id)


@pytest.fixture
def batches(table, comprehend) -> Batches:
    """Imported once the stack has set the functions' environment, as Lambda imports them."""
    return Batches(table, comprehend)


def texts_of(batch: int, count: int) -> list[str]:
    return [row_text(index, f"batch {batch} review is good") for index in range(count)]


def pool_items(stack) -> list[dict]:
    return [item for item in stack.client("dynamodb").scan(TableName=stack.table_name)["Items"] if item["pk"]["S"].startswith(POOL)]


def test_the_first_batch_to_settle_sends_every_waiting_last_chunk_in_full_calls(stack, stand_in, table, comprehend, batches):
    texts_by_batch = {f"batch:{number}": texts_of(number, 30) for number in range(4)}
    plans = {batch_id: batches.stage(batch_id, texts) for batch_id, texts in texts_by_batch.items()}
    assert all(plan["pooledChunks"] == [{"chunk": 1, "language": "en"}] and len(plan["workItems"]) == 1 for plan in plans.values())
    assert len(pool_items(stack)) == 4

    first = settle_pooled_chunk("batch:2", 1, "en", table, comprehend)
    assert (first.calls, first.documents, first.chunks_stored) == (1, 20, 4)
    assert stand_in.answered == 1

    for batch_id, texts in texts_by_batch.items():
        rows = batches.finish(batch_id, plans[batch_id])
        assert rows == [[number, hashed_sentiment(text)] for number, text in enumerate(texts)]
        assert table.get_batch(batch_id).chunks_done == 2
    assert stand_in.answered == 1 + 4, "one shared call for the four last chunks, one call per full chunk"
    assert set(stand_in.documents.values()) == {1}
    assert pool_items(stack) == []


def test_a_text_in_several_batches_last_chunks_is_sent_once(stand_in, table, comprehend, batches):
    shared = row_text(99, "same words everywhere")
    for number in range(3):
        batches.stage(f"batch:{number}", [shared, *texts_of(number, 3)])
    settle_pooled_chunk("batch:0", 0, "en", table, comprehend)
    assert stand_in.documents[shared] == 1
    for number in range(3):
        assert table.read_analysis(f"batch:{number}")[0] == values_of([shared, *texts_of(number, 3)])


def test_pool_entries_hold_ids_and_counts_never_text(stack, table, batches):
    batches.stage("batch:1", texts_of(1, 7))
    (item,) = pool_items(stack)
    assert set(item) <= ENTRY_ATTRIBUTES
    assert ROW_TEXT_MARKER not in str(item)


def test_a_chunk_another_call_holds_is_waited_for_not_sent_again(stack, stand_in, table, comprehend, batches):
    batches.stage("batch:1", texts_of(1, 4))
    (entry,) = Pool(table, "en").entries(10)
    assert Pool(table, "en").claim(entry, "batch:other", time.time(), time.time() + CLAIM_SECONDS)
    clock = [time.time()]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    with pytest.raises(PooledChunkInFlight, match=r"^Another Comprehend call holds this batch's last chunk; waiting for it\.$"):
        settle_pooled_chunk("batch:1", 0, "en", table, comprehend, sleep=sleep, clock=lambda: clock[0])
    assert stand_in.calls == 0
    assert sleeps == [0.5] * 30, "it looks for the values every half second for 15 s, then leaves it to Step Functions"

    lapsed = settle_pooled_chunk("batch:1", 0, "en", table, comprehend, clock=lambda: time.time() + CLAIM_SECONDS + 1)
    assert (lapsed.calls, lapsed.chunks_stored) == (1, 1), "a claim whose holder died lapses"
    assert pool_items(stack) == []


def test_values_stored_by_an_earlier_call_are_never_overwritten_or_counted_twice(stack, table, comprehend, batches):
    plan = batches.stage("batch:1", texts_of(1, 4))
    stored = [{"Sentiment": "FIRST", "SentimentScore": {}}] * 4
    assert table.put_analysis("batch:1", plan["pooledChunks"][0]["chunk"], stored)
    table.add_chunks_done("batch:1", 1)
    batches.stage("batch:2", texts_of(2, 4))

    settle_pooled_chunk("batch:2", 0, "en", table, comprehend)
    assert table.read_analysis("batch:1")[0] == stored
    assert table.get_batch("batch:1").chunks_done == 1
    assert pool_items(stack) == []


class Refusing:
    """Comprehend refusing every call that carries a given text, as it would an oversized one."""

    def __init__(self, inner: Any, refused: str):
        self.inner, self.refused, self.calls = inner, refused, 0

    def batch_detect_sentiment(self, TextList: list[str], LanguageCode: str) -> dict:
        self.calls += 1
        if self.refused in TextList:
            raise aws_error("TextSizeLimitExceededException", "BatchDetectSentiment")
        return self.inner.batch_detect_sentiment(TextList=TextList, LanguageCode=LanguageCode)


def test_a_text_comprehend_refuses_fails_only_its_own_batch(stack, table, comprehend, batches):
    batches.stage("batch:good", texts_of(1, 3))
    refused = row_text(99, "refused text")
    batches.stage("batch:bad", [refused, *texts_of(2, 2)])
    refusing = Refusing(comprehend, refused)

    settled = settle_pooled_chunk("batch:good", 0, "en", table, refusing)
    assert (settled.calls, settled.documents, settled.chunks_stored, refusing.calls) == (1, 3, 1, 2), "the refused shared call is not counted"
    assert table.get_batch("batch:good").chunks_done == 1
    assert table.read_analysis("batch:good")[0] == values_of(texts_of(1, 3))
    (entry,) = Pool(table, "en").entries(10)
    assert (entry.batch_id, entry.claimed_by) == ("batch:bad", None), "the other batch's chunk goes back to the pool"

    with pytest.raises(ComprehendRejected):
        settle_pooled_chunk("batch:bad", 0, "en", table, refusing)
    assert refusing.calls == 3, "alone, a refused chunk is not sent a second time"


def test_the_own_chunk_sent_alone_after_a_refused_shared_call_is_retried_like_any_call(table, comprehend, batches):
    batches.stage("batch:good", texts_of(1, 3))
    refused = row_text(99, "refused text")
    batches.stage("batch:bad", [refused, *texts_of(2, 2)])
    refusing = Refusing(comprehend, refused)
    outcomes = iter([None, aws_error("ThrottlingException", "BatchDetectSentiment")])

    class ThrottledOnceAlone:
        def batch_detect_sentiment(self, TextList: list[str], LanguageCode: str) -> dict:
            failure = next(outcomes, None)
            if failure:
                raise failure
            return refusing.batch_detect_sentiment(TextList=TextList, LanguageCode=LanguageCode)

    throttles: list[int] = []
    sleeps: list[float] = []
    settled = settle_pooled_chunk("batch:good", 0, "en", table, ThrottledOnceAlone(), on_throttle=lambda: throttles.append(1), sleep=sleeps.append)
    assert (settled.calls, settled.chunks_stored) == (1, 1)
    assert len(throttles) == len(sleeps) == 1, "the call alone counts its throttle and waits through the function's sleep"
    assert table.read_analysis("batch:good")[0] == values_of(texts_of(1, 3))


class FailingAfter:
    """Comprehend answering `answered` calls, then failing every call with `failure`."""

    def __init__(self, inner: Any, answered: int, failure: Exception):
        self.inner, self.answered, self.failure = inner, answered, failure

    def batch_detect_sentiment(self, TextList: list[str], LanguageCode: str) -> dict:
        if self.answered == 0:
            if isinstance(self.failure, Exception):
                raise self.failure
            return self.failure
        self.answered -= 1
        return self.inner.batch_detect_sentiment(TextList=TextList, LanguageCode=LanguageCode)


def test_once_its_own_chunk_is_stored_a_throttled_flush_hands_the_rest_back(monkeypatch, table, comprehend, batches):
    from sentiment_service import comprehend as comprehend_calls

    batches.stage("batch:0", texts_of(0, 5))
    for number in range(1, 4):
        batches.stage(f"batch:{number}", texts_of(number, 24))
    clock = [0.0]
    monkeypatch.setattr(comprehend_calls.time, "monotonic", lambda: clock[0])

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    settled = settle_pooled_chunk("batch:0", 0, "en", table, FailingAfter(comprehend, 1, aws_error("ThrottlingException", "BatchDetectSentiment")), sleep=sleep)
    monkeypatch.undo()
    assert table.is_analysed("batch:0", 0)
    assert settled.calls == 1
    waiting = Pool(table, "en").entries(10)
    assert waiting and all(entry.claimed_by is None for entry in waiting)
    for number in range(1, 4):
        settle_pooled_chunk(f"batch:{number}", 0, "en", table, comprehend)
        assert table.read_analysis(f"batch:{number}")[0] == values_of(texts_of(number, 24))


@pytest.mark.parametrize(
    "failure",
    [
        aws_error("TextSizeLimitExceededException", "BatchDetectSentiment"),
        {"ResultList": [], "ErrorList": []},
    ],
    ids=["rejected", "incomplete answer"],
)
def test_a_later_call_failing_for_other_batches_texts_does_not_fail_the_flushing_batch(table, comprehend, batches, failure):
    batches.stage("batch:0", texts_of(0, 5))
    for number in range(1, 3):
        batches.stage(f"batch:{number}", texts_of(number, 24))

    settled = settle_pooled_chunk("batch:0", 0, "en", table, FailingAfter(comprehend, 1, failure))
    assert settled.calls == 1 and table.is_analysed("batch:0", 0)
    assert all(entry.claimed_by is None for entry in Pool(table, "en").entries(10))


def test_a_waiting_chunk_whose_batch_is_gone_is_dropped(stack, table, comprehend, batches):
    batches.stage("batch:1", texts_of(1, 3))
    batches.stage("batch:gone", texts_of(2, 3))
    batches.stage("batch:later", texts_of(3, 3))
    dynamodb = stack.client("dynamodb")
    dynamodb.delete_item(TableName=stack.table_name, Key={"pk": {"S": "batch:gone"}, "sk": {"S": "chunk#000000"}})

    settled = settle_pooled_chunk("batch:1", 0, "en", table, comprehend)
    assert (settled.calls, settled.chunks_stored) == (1, 2), "the chunks waiting after the gone one are still sent"
    assert table.read_analysis("batch:later")[0] == values_of(texts_of(3, 3))
    assert pool_items(stack) == []


def test_a_chunk_whose_pool_entry_expired_is_still_analysed_as_on_a_redrive(stack, stand_in, table, comprehend, batches):
    batches.stage("batch:1", texts_of(1, 6))
    (entry,) = Pool(table, "en").entries(10)
    Pool(table, "en").remove(entry)

    settled = settle_pooled_chunk("batch:1", 0, "en", table, comprehend)
    assert (settled.calls, settled.chunks_stored, stand_in.answered) == (1, 1, 1)
    assert table.read_analysis("batch:1")[0] == values_of(texts_of(1, 6))


def test_a_batch_without_a_partial_chunk_pools_nothing(stack, table, comprehend, batches):
    plan = batches.stage("batch:1", texts_of(1, 50))
    assert {key: plan[key] for key in ("documentCount", "chunkCount", "workItems", "pooledChunks")} == {
        "documentCount": 50,
        "chunkCount": 2,
        "workItems": [{"firstChunk": 0, "chunkCount": 1}, {"firstChunk": 1, "chunkCount": 1}],
        "pooledChunks": [],
    }
    assert pool_items(stack) == []
    assert batches.analyze_pooled_chunks("batch:1", [], table, comprehend) == {
        "pooledChunks": 0,
        "comprehendCalls": 0,
        "documentsAnalysed": 0,
        "pooledChunksStored": 0,
    }


def test_concurrent_batches_through_the_state_machine_send_each_text_once(snowflake, stand_in):
    from local.snowflake import snowflake_headers

    stand_in.latency_s = 0.05
    posted = [(snowflake_headers(), [row_text(index, f"batch {number} is good") for index in range(40 + number)]) for number in range(6)]
    for headers, texts in posted:
        assert snowflake.post(texts, headers).status == 202
    for headers, texts in posted:
        outcome = snowflake.wait(headers)
        assert outcome.status == 200
        assert outcome.body["data"] == [[number, hashed_sentiment(text)] for number, text in enumerate(texts)]
    assert sum(stand_in.documents.values()) == sum(len(texts) for _, texts in posted)
    assert set(stand_in.documents.values()) == {1}
    assert stand_in.answered <= 12


def test_a_batch_whose_last_text_opens_the_second_call_gets_all_its_values(table, comprehend, batches):
    """5 texts of the flushing batch and 21 of another: the other's last text is the 26th, sent in
    the second call, so its chunk is complete only once that call has answered."""
    batches.stage("batch:0", texts_of(0, 5))
    batches.stage("batch:1", texts_of(1, 21))

    settled = settle_pooled_chunk("batch:0", 0, "en", table, comprehend)
    assert (settled.calls, settled.documents, settled.chunks_stored) == (2, 26, 2)
    assert table.read_analysis("batch:0")[0] == values_of(texts_of(0, 5))
    assert table.read_analysis("batch:1")[0] == values_of(texts_of(1, 21))


def test_a_waiting_chunk_whose_claim_lapsed_is_sent_with_the_flushing_batchs(stand_in, table, comprehend, batches):
    batches.stage("batch:0", texts_of(0, 3))
    batches.stage("batch:1", texts_of(1, 4))
    (entry,) = [entry for entry in Pool(table, "en").entries(10) if entry.batch_id == "batch:1"]
    now = time.time()
    assert Pool(table, "en").claim(entry, "batch:1#died", now - CLAIM_SECONDS - 1, now - 1)

    settled = settle_pooled_chunk("batch:0", 0, "en", table, comprehend)
    assert (settled.calls, settled.chunks_stored, stand_in.answered) == (1, 2, 1)
    assert table.read_analysis("batch:1")[0] == values_of(texts_of(1, 4))


class OutlivingItsClaims:
    """A call that outlives its claims: meanwhile another invocation claims one of its lapsed
    entries, and then the call dies (the function timed out)."""

    def __init__(self, table: ResultsTable, taken_over: str):
        self.table, self.taken_over = table, taken_over

    def batch_detect_sentiment(self, TextList: list[str], LanguageCode: str) -> dict:
        (entry,) = [entry for entry in Pool(self.table, "en").entries(10) if entry.batch_id == self.taken_over]
        lapsed = time.time() + CLAIM_SECONDS + 1
        assert Pool(self.table, "en").claim(entry, f"{self.taken_over}#next", lapsed, lapsed + CLAIM_SECONDS)
        raise RuntimeError("Task timed out")


def test_a_claim_taken_over_after_it_lapsed_stays_with_its_new_holder(table, batches):
    batches.stage("batch:0", texts_of(0, 3))
    batches.stage("batch:1", texts_of(1, 4))

    with pytest.raises(RuntimeError):
        settle_pooled_chunk("batch:0", 0, "en", table, OutlivingItsClaims(table, "batch:1"))
    claims = {entry.batch_id: entry.claimed_by for entry in Pool(table, "en").entries(10)}
    assert claims == {"batch:0": None, "batch:1": "batch:1#next"}, "the dying call released only its own claims"


class HoldingTheFirstCall:
    """Comprehend holding the first call until a second invocation for the same batch has tried its chunk."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.in_call = threading.Event()
        self.tried = threading.Event()

    def batch_detect_sentiment(self, TextList: list[str], LanguageCode: str) -> dict:
        if self.in_call.is_set():
            self.tried.set()
        else:
            self.in_call.set()
            self.tried.wait(timeout=60)
        return self.inner.batch_detect_sentiment(TextList=TextList, LanguageCode=LanguageCode)


def test_a_retry_overlapping_a_running_invocation_of_the_same_batch_sends_nothing_again(stand_in, table, comprehend, batches):
    """Step Functions retries AnalyzePooledChunk after a timeout while the first invocation still runs."""
    from concurrent.futures import ThreadPoolExecutor

    batches.stage("batch:1", texts_of(1, 6))
    holding = HoldingTheFirstCall(comprehend)

    def sleep(seconds: float) -> None:
        holding.tried.set()
        time.sleep(0.01)

    with ThreadPoolExecutor(1) as first_invocation:
        first = first_invocation.submit(settle_pooled_chunk, "batch:1", 0, "en", table, holding)
        while not holding.in_call.wait(timeout=0.05):
            assert not first.done(), f"the first invocation ended before calling Comprehend: {first.result()}"
        try:
            second = settle_pooled_chunk("batch:1", 0, "en", table, holding, sleep=sleep)
        finally:
            holding.tried.set()
        assert (first.result().calls, second.calls) == (1, 0)
    assert set(stand_in.documents.values()) == {1}
    assert table.read_analysis("batch:1")[0] == values_of(texts_of(1, 6))


def test_a_retried_work_item_sends_only_the_chunks_not_yet_stored(monkeypatch, stand_in, table, comprehend, batches):
    """A work item of three chunks (as when a batch has more chunks than the Map has iterations)
    throttled past the function's retries after its first chunk: Step Functions runs it again."""
    from sentiment_service import comprehend as comprehend_calls

    texts = texts_of(1, 75)
    plan = batches.stage("batch:1", texts)
    assert plan["pooledChunks"] == []
    monkeypatch.setattr(comprehend_calls, "BACKOFF_BUDGET_S", 0.0)

    with pytest.raises(ComprehendThrottled):
        batches.analyze_work_item("batch:1", 0, 3, table, FailingAfter(comprehend, 1, aws_error("ThrottlingException", "BatchDetectSentiment")))
    assert table.analysed_chunks("batch:1", 0, 3) == {0}
    retried = batches.analyze_work_item("batch:1", 0, 3, table, comprehend)
    assert (retried["chunksAnalysed"], retried["chunksAlreadyDone"], retried["waitSeconds"]) == (2, 1, 0)
    assert batches.finish("batch:1", plan) == [[number, value] for number, value in enumerate(values_of(texts))]
    assert len(stand_in.documents) == 75 and set(stand_in.documents.values()) == {1}, "a chunk was paid for twice"
    assert table.get_batch("batch:1").chunks_done == 3


def test_a_flush_takes_waiting_chunks_up_to_250_documents(stack, table, comprehend, batches):
    batches.stage("batch:00", texts_of(0, 10))
    for number in range(1, 12):
        batches.stage(f"batch:{number:02d}", texts_of(number, 24))

    settled = settle_pooled_chunk("batch:00", 0, "en", table, comprehend)
    assert (settled.calls, settled.documents, settled.chunks_stored) == (10, 250, 11)
    (left,) = Pool(table, "en").entries(10)
    assert (left.batch_id, left.claimed_by) == ("batch:11", None), "the chunk beyond 250 documents waits for the next flush"


def test_a_flush_reads_a_bounded_number_of_waiting_chunks(monkeypatch, table, comprehend, batches):
    from sentiment_service import pool

    for number in range(4):
        batches.stage(f"batch:{number}", texts_of(number, 3))
    assert len(Pool(table, "en").entries(2)) == 2
    monkeypatch.setattr(pool, "MAX_ENTRIES_READ", 2)

    settled = settle_pooled_chunk("batch:0", 0, "en", table, comprehend)
    assert settled.chunks_stored == 2 and len(Pool(table, "en").entries(10)) == 2


@pytest.mark.parametrize("call_seconds, calls", [(75, 2), (76, 1)], ids=["the last call starts 45 s before the claims lapse", "no call starts later"])
def test_a_flush_starts_no_call_too_close_to_its_claims_lapsing(table, comprehend, batches, call_seconds, calls):
    """Claims hold 120 s; a call may take 45 s (its retries and read timeout), so none starts after 75 s."""
    batches.stage("batch:0", texts_of(0, 5))
    batches.stage("batch:1", texts_of(1, 24))
    clock = [time.time()]

    class Slow:
        def batch_detect_sentiment(self, TextList: list[str], LanguageCode: str) -> dict:
            clock[0] += call_seconds
            return comprehend.batch_detect_sentiment(TextList=TextList, LanguageCode=LanguageCode)

    settled = settle_pooled_chunk("batch:0", 0, "en", table, Slow(), clock=lambda: clock[0])
    assert (settled.calls, settled.chunks_stored) == (calls, calls)
    assert table.is_analysed("batch:1", 0) is (calls == 2)


def test_a_throttled_shared_call_is_counted_and_a_persistent_throttle_is_not_sent_alone(monkeypatch, table, comprehend, batches):
    from sentiment_service import comprehend as comprehend_calls

    batches.stage("batch:0", texts_of(0, 5))
    batches.stage("batch:1", texts_of(1, 5))
    throttled = FailingAfter(comprehend, 0, aws_error("ThrottlingException", "BatchDetectSentiment"))
    calls = []
    monkeypatch.setattr(throttled, "batch_detect_sentiment", lambda **request: calls.append(1) or FailingAfter.batch_detect_sentiment(throttled, **request))
    monkeypatch.setattr(comprehend_calls, "BACKOFF_BUDGET_S", 0.0)
    throttles: list[int] = []

    with pytest.raises(ComprehendThrottled):
        settle_pooled_chunk("batch:0", 0, "en", table, throttled, on_throttle=lambda: throttles.append(1))
    assert len(calls) == len(throttles) == 1, "Step Functions retries the whole flush; nothing is sent alone"
    assert all(entry.claimed_by is None for entry in Pool(table, "en").entries(10))


def test_analyze_pooled_chunk_reports_what_the_flush_took(table, comprehend, batches):
    batches.stage("batch:0", texts_of(0, 5))
    batches.stage("batch:1", texts_of(1, 4))
    assert batches.analyze_pooled_chunks("batch:0", [PooledChunkOfBatch(0, "en")], table, comprehend) == {
        "pooledChunks": 1,
        "comprehendCalls": 1,
        "documentsAnalysed": 9,
        "pooledChunksStored": 2,
    }
    assert batches.analyze_pooled_chunks("batch:1", [PooledChunkOfBatch(0, "en")], table, comprehend) == {
        "pooledChunks": 1,
        "comprehendCalls": 0,
        "documentsAnalysed": 0,
        "pooledChunksStored": 0,
    }


def test_a_chunk_whose_pool_entry_expired_still_takes_the_others_waiting(table, comprehend, batches):
    batches.stage("batch:0", texts_of(0, 6))
    batches.stage("batch:1", texts_of(1, 4))
    (own,) = [entry for entry in Pool(table, "en").entries(10) if entry.batch_id == "batch:0"]
    Pool(table, "en").remove(own)

    settled = settle_pooled_chunk("batch:0", 0, "en", table, comprehend)
    assert (settled.calls, settled.documents, settled.chunks_stored) == (1, 10, 2)


def test_a_batch_whose_own_chunk_is_gone_fails_with_a_reason(stack, table, comprehend, batches):
    from sentiment_service.storage import StagedBatchMissing

    batches.stage("batch:1", texts_of(1, 3))
    stack.client("dynamodb").delete_item(TableName=stack.table_name, Key={"pk": {"S": "batch:1"}, "sk": {"S": "chunk#000000"}})
    with pytest.raises(StagedBatchMissing, match=r"^Chunks 0 to 0 of the batch are incomplete; they may have expired\.$"):
        settle_pooled_chunk("batch:1", 0, "en", table, comprehend)
