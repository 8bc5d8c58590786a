"""Map iteration AnalyzeChunk (work_item_handler): one Comprehend call per chunk of a work item
(BatchDetectSentiment in the chunk's language, or BatchDetectDominantLanguage for a detection
chunk); and state AnalyzePooledChunk (pooled_chunks_handler): each language's last chunk, sent
with other batches' (pool.py). One code, two functions: each gets only the permissions its entry point uses.

Each chunk's values are stored as soon as Comprehend answers, and chunks already stored
are skipped, so a retried iteration never pays Comprehend twice for the same chunk.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sentiment_service.cache import ResultCache
from sentiment_service.chunking import AUTO
from sentiment_service.comprehend import ComprehendCalls, detect_languages, detect_sentiment
from sentiment_service.governor import GovernedClient, TurnLater, Turns
from sentiment_service.observability import lambda_entry, logger, metrics
from sentiment_service.pool import PooledChunkInFlight, Settled, settle_pooled_chunk
from sentiment_service.settings import client, governor, result_cache, results_table
from sentiment_service.states import AnalyzeChunkInput, AnalyzePooledChunkInput, PooledChunkOfBatch
from sentiment_service.storage import ResultsTable
from sentiment_service.worker import retryable_storage_errors


def analyze_work_item(
    batch_id: str,
    first_chunk: int,
    chunk_count: int,
    table: ResultsTable,
    comprehend: ComprehendCalls,
    turns: Turns | None = None,
    throttled_until: float | None = None,
    cache: ResultCache | None = None,
) -> dict[str, Any]:
    """Send the item's chunks not stored yet, each at its turn; when the next turn is far off,
    return how long Step Functions should wait and the slot kept for this item."""
    turns = turns or Turns(None)
    done = table.analysed_chunks(batch_id, first_chunk, chunk_count)
    pending = [index for index in range(first_chunk, first_chunk + chunk_count) if index not in done]
    outcome: dict[str, float] = {"chunksAlreadyDone": len(done), "chunksAnalysed": 0, "waitSeconds": 0, "slot": 0}
    if pending:
        chunks = table.read_chunks(batch_id, first_chunk, chunk_count)
        governed = GovernedClient(comprehend, turns)
        for index in pending:
            chunk = chunks[index]
            try:
                if chunk.language == AUTO:
                    values = detect_languages(governed, chunk.texts, on_throttle=count_throttle, throttled_until=throttled_until)
                else:
                    values = detect_sentiment(governed, chunk.texts, chunk.language, on_throttle=count_throttle, throttled_until=throttled_until)
                    if cache is not None:
                        cache.store(((chunk.language, text), value) for text, value in zip(chunk.texts, values, strict=True))
            except TurnLater as later:
                metrics.add_metric(name="QuotaWaitsHandedBack", unit="Count", value=1)
                outcome.update(waitSeconds=max(1, math.floor(later.wait_seconds - WAKE_EARLY_SECONDS)), slot=later.slot)
                break
            if table.put_analysis(batch_id, index, values):
                table.add_chunks_done(batch_id, 1)
            count_calls(1, len(values))
            outcome["chunksAnalysed"] += 1
    if turns.slept_seconds:
        metrics.add_metric(name="QuotaSleepSeconds", unit="Seconds", value=round(turns.slept_seconds, 3))
    return outcome


WAKE_EARLY_SECONDS = 1.0
"""A Wait state ends a little before the kept slot; the function sleeps the rest."""

MAX_WAITS_HANDED_BACK = 1
"""Wait states per work item: after one, the item sleeps in the function for every later turn,
which keeps the execution's history bounded (tests/template/test_statemachine.py)."""

DEADLINE_MARGIN_SECONDS = 45
"""Throttled calls are retried until this long before the function's timeout: room for the
last call (30 s read timeout) and storing its values."""


def analyze_pooled_chunks(
    batch_id: str, pooled_chunks: Sequence[PooledChunkOfBatch], table: ResultsTable, comprehend: ComprehendCalls, cache: ResultCache | None = None
) -> dict[str, Any]:
    """Settle each language's pooled chunk; one still held by another call is retried by Step
    Functions after the others are settled."""
    total, in_flight = Settled(), None
    for pooled in pooled_chunks:
        try:
            settled = settle_pooled_chunk(batch_id, pooled.chunk, pooled.language, table, comprehend, on_throttle=count_throttle, cache=cache)
        except PooledChunkInFlight as held:
            in_flight = held
            continue
        total.add(settled)
    count_calls(total.calls, total.documents)
    if total.chunks_stored > len(pooled_chunks):
        metrics.add_metric(name="PooledChunksShared", unit="Count", value=total.chunks_stored - len(pooled_chunks))
    if in_flight is not None:
        raise in_flight
    return {"pooledChunks": len(pooled_chunks), **total.as_dict()}


def count_throttle() -> None:
    metrics.add_metric(name="ComprehendThrottles", unit="Count", value=1)


def count_calls(calls: int, documents: int) -> None:
    if calls:
        metrics.add_metric(name="ComprehendCalls", unit="Count", value=calls)
        metrics.add_metric(name="DocumentsAnalysed", unit="Count", value=documents)


@lambda_entry(correlation_id_path="batchId")
def work_item_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """AnalyzeChunk: a work item's chunks, each at its turn; a turn far off is handed back to Step Functions."""
    item = AnalyzeChunkInput.from_event(event)
    with retryable_storage_errors():
        table = results_table("worker")
        comprehend = client("comprehend", "comprehend")
        cache = result_cache()
        turns = Turns(governor(), held=item.slot or None, may_hand_back=item.waits < MAX_WAITS_HANDED_BACK)
        throttled_until = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - DEADLINE_MARGIN_SECONDS
        outcome = analyze_work_item(item.batch_id, item.first_chunk, item.chunk_count, table, comprehend, turns, throttled_until, cache)
        outcome["waits"] = item.waits + (1 if outcome["waitSeconds"] else 0)
    return reported(outcome, cache)


@lambda_entry(correlation_id_path="batchId")
def pooled_chunks_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """AnalyzePooledChunk: the batch's pooled chunks, sent with other batches' waiting ones; no turn is handed back."""
    pooled = AnalyzePooledChunkInput.from_event(event)
    with retryable_storage_errors():
        table = results_table("worker")
        governed = GovernedClient(client("comprehend", "comprehend"), Turns(governor(), may_hand_back=False))
        cache = result_cache()
        outcome = analyze_pooled_chunks(pooled.batch_id, pooled.pooled_chunks, table, governed, cache)
    return reported(outcome, cache)


def reported(outcome: dict[str, Any], cache: ResultCache | None) -> dict[str, Any]:
    """Count the cache's use and log the outcome (counts only) before handing it to Step Functions."""
    if cache is not None:
        count_cache_use(cache)
    logger.info("chunks analysed", extra=outcome)
    return outcome


def count_cache_use(cache: ResultCache) -> None:
    for name, value in (("CacheHits", cache.use.hits), ("CacheValuesStored", cache.use.stored), ("CacheFailures", cache.use.failures)):
        if value:
            metrics.add_metric(name=name, unit="Count", value=value)
