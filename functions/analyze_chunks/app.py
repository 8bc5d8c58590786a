"""Map iteration AnalyzeChunks: one BatchDetectSentiment call per chunk of a work item.

Each chunk's values are stored as soon as Comprehend answers, and chunks already stored
are skipped, so a retried iteration never pays Comprehend twice for the same chunk.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sentiment_service.comprehend import detect_sentiment
from sentiment_service.observability import logger, metrics, tracer
from sentiment_service.settings import client, results_table
from sentiment_service.storage import ResultsTable
from sentiment_service.worker import retryable_storage_errors


def analyze_work_item(batch_id: str, first_chunk: int, chunk_count: int, language: str, table: ResultsTable, comprehend: Any) -> dict:
    done = table.analysed_chunks(batch_id, first_chunk, chunk_count)
    pending = [index for index in range(first_chunk, first_chunk + chunk_count) if index not in done]
    if pending:
        chunks = table.read_chunks(batch_id, first_chunk, chunk_count)
        for index in pending:
            values = detect_sentiment(comprehend, chunks[index], language, on_throttle=lambda: metrics.add_metric(name="ComprehendThrottles", unit="Count", value=1))
            table.put_analysis(batch_id, index, values)
            table.add_chunks_done(batch_id, 1)
            metrics.add_metric(name="ComprehendCalls", unit="Count", value=1)
            metrics.add_metric(name="DocumentsAnalysed", unit="Count", value=len(values))
    return {"chunksAnalysed": len(pending), "chunksAlreadyDone": len(done)}


@logger.inject_lambda_context(correlation_id_path="batchId", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    with retryable_storage_errors():
        table = results_table("worker")
        outcome = analyze_work_item(event["batchId"], event["firstChunk"], event["chunkCount"], event["language"], table, client("comprehend", "comprehend"))
    logger.info("work item analysed", extra=outcome)
    return outcome
