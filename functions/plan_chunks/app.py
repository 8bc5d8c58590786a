"""State PlanChunks: turn the staged rows into Comprehend chunks and the Map's work items."""

from __future__ import annotations

import math

from aws_lambda_powertools.utilities.typing import LambdaContext

from sentiment_service.chunking import plan_batch
from sentiment_service.governor import Governor
from sentiment_service.observability import lambda_entry, logger, metrics
from sentiment_service.pool import Pool
from sentiment_service.settings import governor, results_table
from sentiment_service.storage import ResultsTable
from sentiment_service.worker import retryable_storage_errors


def plan_chunks(batch_id: str, staging_id: str, input_pages: int, language: str, table: ResultsTable, governor: Governor | None = None) -> dict:
    """Write every chunk's texts, pool the last partly filled one, book the batch's block of
    Comprehend calls, and return only counts, chunk ranges and the wait for the block."""
    staged = table.read_input(batch_id, staging_id, input_pages)
    plan = plan_batch([value for _, value in staged], language)
    table.put_chunks(batch_id, ((index, plan.chunk_texts(index)) for index in range(len(plan.chunks))))
    table.set_chunks_total(batch_id, len(plan.chunks))
    if plan.pooled_chunk is not None:
        Pool(table, language).add(batch_id, plan.pooled_chunk, len(plan.chunks[plan.pooled_chunk]))
    metrics.add_metric(name="DocumentsPlanned", unit="Count", value=len(plan.documents))
    metrics.add_metric(name="RowsSkipped", unit="Count", value=len(staged) - sum(isinstance(source, int) for source in plan.row_documents))
    wait = 0
    if governor is not None and plan.chunks:
        turn_at = table.keep_turn(batch_id, governor.reserve_block(len(plan.chunks)))
        wait = max(0, math.floor(turn_at - governor.clock()))
    return {
        "documentCount": len(plan.documents),
        "chunkCount": len(plan.chunks),
        "workItems": [item.as_dict() for item in plan.work_items],
        "pooledChunk": plan.pooled_chunk,
        "waitSeconds": wait,
    }


@lambda_entry(correlation_id_path="batchId")
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    with retryable_storage_errors():
        table = results_table("worker")
        plan = plan_chunks(event["batchId"], event["stagingId"], event["inputPages"], event["language"], table, governor())
    logger.info("batch planned", extra={key: plan[key] for key in ("documentCount", "chunkCount")})
    return plan
