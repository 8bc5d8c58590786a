"""State AssembleResults: every input row's value, in order, written where GET reads it."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sentiment_service.admission import Admission
from sentiment_service.chunking import plan_batch, staged_languages
from sentiment_service.observability import lambda_entry, logger, metrics
from sentiment_service.results import ResultsIncomplete, assemble_rows
from sentiment_service.settings import admission_control, results_table, settings
from sentiment_service.states import AssembleResultsInput
from sentiment_service.storage import ResultsTable
from sentiment_service.worker import retryable_storage_errors


def assemble_batch(
    batch_id: str, staging_id: str, input_pages: int, language: str, table: ResultsTable, admission: Admission | None = None, confidence_threshold: float = 0.0
) -> dict[str, Any]:
    """Rebuild the plan from the staged rows (and their stored detections) and join it with the
    stored chunk values; once the answer is stored, the batch's claim on the admission window is given back."""
    staged = table.read_input(batch_id, staging_id, input_pages)
    analysis = table.read_analysis(batch_id)
    plan = plan_batch([row[1] for row in staged], staged_languages(staged, language), analysis, confidence_threshold, cached=table.read_hits(batch_id))
    if plan.detecting:
        raise ResultsIncomplete("The batch's language detections are incomplete.")
    rows = assemble_rows([row[0] for row in staged], plan, analysis)
    pages = table.put_results(batch_id, rows)
    table.mark_ended(batch_id)
    if admission is not None:
        admission.release(batch_id)
    metrics.add_metric(name="RowsAnswered", unit="Count", value=len(rows))
    return {"rowCount": len(rows), "resultPages": pages}


@lambda_entry(correlation_id_path="batchId")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batch = AssembleResultsInput.from_event(event)
    with retryable_storage_errors():
        table = results_table("worker")
        outcome = assemble_batch(
            batch.batch_id,
            batch.staging_id,
            batch.input_pages,
            batch.language,
            table,
            admission_control("worker"),
            settings().language_confidence_threshold,
        )
    logger.info("results assembled", extra=outcome)
    return outcome
