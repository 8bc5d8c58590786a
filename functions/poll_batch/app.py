"""GET /sentiment: Snowflake's poll. 202 while running, 200 with every row, 500 on failure."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from sentiment_service import api
from sentiment_service.admission import Admission
from sentiment_service.observability import lambda_entry, logger, metrics
from sentiment_service.protocol import Answer, parse_batch_id, rejection
from sentiment_service.settings import admission_control, results_table, workflow
from sentiment_service.storage import STATUS_ENDED, STATUS_STARTED, BatchRecord, ResultsTable
from sentiment_service.workflow import FAILED, IN_PROGRESS, SUCCEEDED, Workflow, failure_message

app = api.resolver()

EXPIRED = "The results of this batch have expired; run the query again."


DESCRIBE_EVERY_SECONDS = 15.0
"""While a batch runs, GETs ask DescribeExecution at most this often; they answer 202 from the
batch record in between. Snowflake's poll rate then costs no DescribeExecution quota (15 a
second for the whole account), which carries 200 batches polled at once."""

CONFIRM_EVERY_SECONDS = 1.0
"""Once the workflow has marked the batch ended (answer stored, or failed), how often GETs ask
whether the execution has closed."""


def poll_batch(batch_id: str, table: ResultsTable, flow: Workflow, admission: Admission | None = None, now: float | None = None) -> Answer:
    """The batch record names the execution of the rows that were posted; nothing else is answered.

    A success is final. A failure is answered from the record but still looked at every period:
    an operator may redrive the execution, and Snowflake then gets 202 and, in the end, the rows."""
    now = time.time() if now is None else now
    record = table.get_batch(batch_id, expired_too=True)
    if record is None:
        return rejection(404, "Unknown batch: it was never posted, or its results expired.")
    if record.is_expired(now):
        return rejection(410, EXPIRED)
    closed_status = record.execution_status
    if closed_status == SUCCEEDED:
        return closed_answer(record, closed_status, record.failure, table)
    failed = closed_status is not None
    confirming = record.status == STATUS_ENDED and not failed
    due = record.described_at + (CONFIRM_EVERY_SECONDS if confirming else DESCRIBE_EVERY_SECONDS)
    if now < due or not table.claim_describe(batch_id, record.described_at, now):
        return closed_answer(record, closed_status, record.failure, table) if closed_status is not None else progress(record)
    state = flow.describe(record.execution_name)
    metrics.add_metric(name="ExecutionsDescribed", unit="Count", value=1)
    if state is None or state.status in IN_PROGRESS:
        if failed:
            table.reopen(batch_id)
        return progress(record, state.status if state else None)
    failure = (
        None
        if state.status == SUCCEEDED
        else failure_message(state)
        if state.status in FAILED
        else f"Sentiment batch is in an unexpected state {state.status}."
    )
    table.record_closed(batch_id, state.status, failure)
    if admission is not None:
        admission.release(batch_id)
    return closed_answer(record, state.status, failure, table)


def progress(record: BatchRecord, execution_status: str | None = None) -> Answer:
    """202 with what the batch record knows; the execution's own status when it was just described."""
    if execution_status or record.status in (STATUS_STARTED, STATUS_ENDED):
        return Answer(
            202,
            {
                "status": execution_status or "RUNNING",
                "chunksDone": record.chunks_done,
                "chunksTotal": record.chunks_total,
                "documentsCached": record.documents_cached,
            },
        )
    return Answer(202, {"status": "STARTING", "rows": record.row_count})


def closed_answer(record: BatchRecord, execution_status: str, failure: str | None, table: ResultsTable) -> Answer:
    if execution_status != SUCCEEDED:
        metrics.add_metric(name="BatchesFailed", unit="Count", value=1)
        return rejection(500, failure or f"Sentiment batch {execution_status.lower()}.")
    rows = table.read_results(record.batch_id)
    if len(rows) != record.row_count:
        return rejection(410, EXPIRED)
    metrics.add_metric(name="RowsReturned", unit="Count", value=len(rows))
    return Answer(200, {"data": rows})


@app.get("/sentiment")
def get_sentiment() -> Response[str]:
    batch_id = parse_batch_id(app.current_event.headers)
    logger.set_correlation_id(batch_id)
    answer = poll_batch(batch_id, results_table(), workflow(), admission_control())
    logger.info("batch polled", extra={"status": answer.status})
    return api.respond(answer)


@lambda_entry()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return api.within_payload_limit(app.resolve(event, context))
