"""GET /sentiment: Snowflake's poll. 202 while running, 200 with every row, 500 on failure."""

from __future__ import annotations

import time

from aws_lambda_powertools.utilities.typing import LambdaContext

from sentiment_service import api
from sentiment_service.observability import lambda_entry, logger, metrics
from sentiment_service.protocol import Answer, parse_batch_id, rejection
from sentiment_service.settings import results_table, workflow
from sentiment_service.storage import ResultsTable
from sentiment_service.workflow import FAILED, IN_PROGRESS, SUCCEEDED, Workflow, failure_message

app = api.resolver()

EXPIRED = "The results of this batch have expired; run the query again."


def poll_batch(batch_id: str, table: ResultsTable, flow: Workflow) -> Answer:
    """The batch record names the execution of the rows that were posted; nothing else is answered."""
    record = table.get_batch(batch_id, expired_too=True)
    if record is None:
        return rejection(404, "Unknown batch: it was never posted, or its results expired.")
    if record.is_expired(time.time()):
        return rejection(410, EXPIRED)
    state = flow.describe(record.execution_name)
    if state is None:
        return Answer(202, {"status": "STARTING", "rows": record.row_count})
    if state.status in IN_PROGRESS:
        return Answer(202, {"status": state.status, "chunksDone": record.chunks_done, "chunksTotal": record.chunks_total})
    if state.status == SUCCEEDED:
        rows = table.read_results(batch_id)
        expected = (state.output or {}).get("rowCount")
        if expected is None or len(rows) != expected:
            return rejection(410, EXPIRED)
        metrics.add_metric(name="RowsReturned", unit="Count", value=len(rows))
        return Answer(200, {"data": rows})
    if state.status in FAILED:
        metrics.add_metric(name="BatchesFailed", unit="Count", value=1)
        return rejection(500, failure_message(state))
    return rejection(500, f"Sentiment batch is in an unexpected state {state.status}.")


@app.get("/sentiment")
def get_sentiment():
    batch_id = parse_batch_id(app.current_event.headers)
    logger.set_correlation_id(batch_id)
    answer = poll_batch(batch_id, results_table(), workflow())
    logger.info("batch polled", extra={"status": answer.status})
    return api.respond(answer)


@lambda_entry()
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return api.within_payload_limit(app.resolve(event, context))
