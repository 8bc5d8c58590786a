"""Map iteration AnalyzeChunk: one BatchDetectSentiment call per chunk of a work item; and
state AnalyzePooledChunk: the batch's last chunk, sent with other batches' (pool.py).

Each chunk's values are stored as soon as Comprehend answers, and chunks already stored
are skipped, so a retried iteration never pays Comprehend twice for the same chunk.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sentiment_service.comprehend import detect_sentiment
from sentiment_service.observability import lambda_entry, logger, metrics
from sentiment_service.pool import settle_pooled_chunk
from sentiment_service.settings import client, results_table
from sentiment_service.storage import ResultsTable
from sentiment_service.worker import retryable_storage_errors


def analyze_work_item(batch_id: str, first_chunk: int, chunk_count: int, language: str, table: ResultsTable, comprehend: Any) -> dict:
    done = table.analysed_chunks(batch_id, first_chunk, chunk_count)
    pending = [index for index in range(first_chunk, first_chunk + chunk_count) if index not in done]
    if pending:
        chunks = table.read_chunks(batch_id, first_chunk, chunk_count)
        for index in pending:
            values = detect_sentiment(comprehend, chunks[index], language, on_throttle=count_throttle)
            if table.put_analysis(batch_id, index, values):
                table.add_chunks_done(batch_id, 1)
            count_calls(1, len(values))
    return {"chunksAnalysed": len(pending), "chunksAlreadyDone": len(done)}


def analyze_pooled_chunk(batch_id: str, pooled_chunk: int | None, language: str, table: ResultsTable, comprehend: Any) -> dict:
    if pooled_chunk is None:
        return {"pooledChunk": None}
    settled = settle_pooled_chunk(batch_id, pooled_chunk, language, table, comprehend, on_throttle=count_throttle)
    count_calls(settled.calls, settled.documents)
    if settled.chunks_stored > 1:
        metrics.add_metric(name="PooledChunksShared", unit="Count", value=settled.chunks_stored - 1)
    return {"pooledChunk": pooled_chunk, **settled.as_dict()}


def count_throttle() -> None:
    metrics.add_metric(name="ComprehendThrottles", unit="Count", value=1)


def count_calls(calls: int, documents: int) -> None:
    if calls:
        metrics.add_metric(name="ComprehendCalls", unit="Count", value=calls)
        metrics.add_metric(name="DocumentsAnalysed", unit="Count", value=documents)


@lambda_entry(correlation_id_path="batchId")
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    with retryable_storage_errors():
        table = results_table("worker")
        comprehend = client("comprehend", "comprehend")
        if "pooledChunk" in event:
            outcome = analyze_pooled_chunk(event["batchId"], event["pooledChunk"], event["language"], table, comprehend)
        else:
            outcome = analyze_work_item(event["batchId"], event["firstChunk"], event["chunkCount"], event["language"], table, comprehend)
    logger.info("chunks analysed", extra=outcome)
    return outcome
