"""POST /sentiment: accept a Snowflake batch, stage it, start its execution, answer 202."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from sentiment_service import api, storage
from sentiment_service.admission import Admission
from sentiment_service.chunking import estimated_calls, normalize_argument, row_language, staged_languages
from sentiment_service.observability import lambda_entry, logger, metrics
from sentiment_service.protocol import Answer, BatchRequest, parse_batch_request, rejection
from sentiment_service.settings import admission_control, results_table, settings, workflow
from sentiment_service.storage import BatchRecord, ResultsTable
from sentiment_service.workflow import Workflow, execution_name

app = api.resolver()


def execution_input(record: BatchRecord, language: str) -> dict[str, Any]:
    """References and counts only: rows stay in DynamoDB, out of the execution history."""
    return {
        "batchId": record.batch_id,
        "queryId": record.query_id,
        "rowCount": record.row_count,
        "stagingId": record.staging_id,
        "inputPages": record.input_pages,
        "language": language,
    }


def stage_row(row: tuple[Any, ...], default_language: str) -> list[Any]:
    """[row_number, value] for sentiment(text); [row_number, value, language] for sentiment(text, language),
    where a language Comprehend does not read becomes the row's error."""
    value = normalize_argument(row[1])
    if len(row) == 2:
        return [row[0], value]
    language = row_language(row[2], default_language)
    if isinstance(language, dict):
        return [row[0], language if value is not None else None, default_language]
    return [row[0], value, language]


def accept_batch(request: BatchRequest, table: ResultsTable, flow: Workflow, language: str, admission: Admission | None = None) -> Answer:
    """Stage and start a batch exactly once, however often Snowflake posts it.

    A batch with nothing for Comprehend (no rows, or only NULL, blank or non-text rows) is
    answered at once with 200: Snowflake accepts a synchronous answer to any POST. A new batch
    the window has no room for is answered 429 before anything is stored.
    """
    language = request.language or language
    staged = [stage_row(row, language) for row in request.rows]
    if not any(isinstance(row[1], str) for row in staged):
        metrics.add_metric(name="BatchesAnsweredAtOnce", unit="Count", value=1)
        return Answer(200, {"data": [row[:2] for row in staged]})
    record = table.get_batch(request.batch_id)
    if record is None and admission is not None:
        decision = admission.admit(request.batch_id, estimated_calls([row[1] for row in staged], staged_languages(staged, language)))
        if not decision.admitted:
            metrics.add_metric(name="BatchesRefused", unit="Count", value=1)
            message = (
                f"The sentiment service has admitted all the Comprehend calls it can answer within {admission.window_seconds:.0f} s; "
                "Snowflake retries this batch."
            )
            return Answer(429, {"message": message}, {"Retry-After": str(decision.retry_after_seconds)})
    if record is None:
        fingerprint = request.fingerprint
        staging = storage.staging_id(fingerprint)
        expires_at = table.new_expiry()
        pages = table.stage_input(request.batch_id, staging, staged, expires_at)
        candidate = table.new_record(request.batch_id, execution_name(request.batch_id, staging), request.query_id, fingerprint, len(staged), pages, expires_at)
        record = candidate if table.create_batch(candidate) else table.get_batch(request.batch_id)
        if record is None:
            return rejection(503, "The batch was being recorded by another request; Snowflake retries it.")
        metrics.add_metric(name="RowsAccepted", unit="Count", value=len(staged))
    if record.fingerprint != request.fingerprint:
        return rejection(409, "This batch id was already posted with different rows; the first batch is kept.")
    if record.status != storage.STATUS_STARTED:
        flow.start(record.execution_name, execution_input(record, language))
        table.mark_started(record.batch_id, time.time())
        metrics.add_metric(name="BatchesStarted", unit="Count", value=1)
    logger.info("batch accepted", extra={"execution": record.execution_name, "rows": record.row_count})
    return Answer(202, {"status": "ACCEPTED", "rows": record.row_count, "execution": record.execution_name})


@app.post("/sentiment")
def post_sentiment() -> Response[str]:
    event = app.current_event
    request = parse_batch_request(event.headers, event.body, is_base64=bool(event.is_base64_encoded))
    logger.set_correlation_id(request.batch_id)
    return api.respond(accept_batch(request, results_table(), workflow(), settings().language_code, admission_control()))


@lambda_entry()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return api.within_payload_limit(app.resolve(event, context))
