"""State PlanChunks: turn the staged rows into Comprehend chunks and the Map's work items."""

from __future__ import annotations

import math
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sentiment_service.cache import ResultCache
from sentiment_service.chunking import estimated_calls, plan_batch, staged_languages
from sentiment_service.governor import Governor
from sentiment_service.observability import lambda_entry, logger, metrics
from sentiment_service.pool import Pool
from sentiment_service.settings import governor, result_cache, results_table, settings
from sentiment_service.states import PlanChunksInput
from sentiment_service.storage import ResultsTable, StoredChunk
from sentiment_service.worker import retryable_storage_errors


def plan_chunks(
    batch_id: str,
    staging_id: str,
    input_pages: int,
    language: str,
    table: ResultsTable,
    governor: Governor | None = None,
    confidence_threshold: float = 0.0,
    cache: ResultCache | None = None,
) -> dict[str, Any]:
    """Write the chunks' texts, pool each language's last partly filled one, book the batch's block
    of Comprehend calls, and return only counts, chunk ranges and the wait for the block.

    A batch with `auto` rows is planned twice: first its detection chunks (the Map runs them, and
    Step Functions comes back here), then, with every detection stored, its sentiment chunks.
    Documents the result cache knows are answered from it (stored with the batch) and sent in no chunk."""
    staged = table.read_input(batch_id, staging_id, input_pages)
    values, languages = [row[1] for row in staged], staged_languages(staged, language)
    plan = plan_batch(values, languages, threshold=confidence_threshold)
    detections = None
    if plan.detecting:
        detections = table.read_analysis(batch_id, 0, len(plan.chunks))
        plan = plan_batch(values, languages, detections, confidence_threshold)
    if cache is not None and not plan.detecting:
        wanted = list(plan.sentiment_documents)
        hits = {wanted[position]: value for position, value in cache.lookup([plan.documents[document] for document in wanted]).items()}
        if hits:
            table.put_hits(batch_id, hits)
            plan = plan_batch(values, languages, detections, confidence_threshold, cached=hits)
        metrics.add_metric(name="CacheHits", unit="Count", value=len(hits))
        metrics.add_metric(name="CacheMisses", unit="Count", value=len(wanted) - len(hits))
    first = 0 if plan.detecting else plan.detection_chunks
    table.put_chunks(batch_id, ((index, StoredChunk(plan.chunk_languages[index], plan.chunk_texts(index))) for index in range(first, len(plan.chunks))))
    table.set_chunks_total(batch_id, len(plan.chunks), len(plan.cached_values))
    for chunk in plan.pooled_chunks:
        Pool(table, plan.chunk_languages[chunk]).add(batch_id, chunk, len(plan.chunks[chunk]))
    if plan.detecting:
        metrics.add_metric(name="DocumentsToDetect", unit="Count", value=plan.detection_documents)
    else:
        metrics.add_metric(name="DocumentsPlanned", unit="Count", value=len(plan.sentiment_documents))
        metrics.add_metric(name="RowsSkipped", unit="Count", value=len(staged) - sum(isinstance(source, int) for source in plan.row_documents))
    wait = 0
    if governor is not None and plan.chunks:
        booked_before = plan.detection_chunks and not plan.detecting
        turn_at = table.keep_turn(
            batch_id,
            governor.clock() if booked_before else governor.reserve_block(len(plan.chunks) if plan.cached_values else estimated_calls(values, languages)),
        )
        wait = max(0, math.floor(turn_at - governor.clock()))
    return {
        "documentCount": len(plan.documents),
        "chunkCount": len(plan.chunks),
        "detecting": plan.detecting,
        "workItems": [item.as_dict() for item in plan.work_items],
        "pooledChunks": [{"chunk": chunk, "language": plan.chunk_languages[chunk]} for chunk in plan.pooled_chunks],
        "waitSeconds": wait,
    }


@lambda_entry(correlation_id_path="batchId")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batch = PlanChunksInput.from_event(event)
    with retryable_storage_errors():
        table = results_table("worker")
        plan = plan_chunks(
            batch.batch_id,
            batch.staging_id,
            batch.input_pages,
            batch.language,
            table,
            governor(),
            settings().language_confidence_threshold,
            result_cache(),
        )
    logger.info("batch planned", extra={key: plan[key] for key in ("documentCount", "chunkCount")})
    return plan
