"""GET /sentiment: Snowflake's poll. 202 while running, 200 with every row, 500 on failure."""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from sentiment_service import api
from sentiment_service.observability import logger, metrics, tracer
from sentiment_service.protocol import MAX_ANSWER_BYTES, Answer, parse_batch_id, rejection
from sentiment_service.settings import results_table, workflow
from sentiment_service.storage import ResultsTable
from sentiment_service.workflow import FAILED, IN_PROGRESS, SUCCEEDED, Workflow, execution_name, failure_message

app = api.resolver()


def poll_batch(batch_id: str, table: ResultsTable, flow: Workflow) -> Answer:
    state = flow.describe(execution_name(batch_id))
    if state is None:
        record = table.get_batch(batch_id)
        if record is None:
            return rejection(404, "Unknown batch: it was never posted, or its results expired.")
        return Answer(202, {"status": "STARTING", "rows": record.row_count})
    if state.status in IN_PROGRESS:
        record = table.get_batch(batch_id)
        progress = {"chunksDone": record.chunks_done, "chunksTotal": record.chunks_total} if record else {}
        return Answer(202, {"status": state.status, **progress})
    if state.status == SUCCEEDED:
        rows = table.read_results(batch_id)
        expected = (state.output or {}).get("rowCount")
        if expected is None or len(rows) != expected:
            return rejection(410, "The results of this batch have expired; run the query again.")
        answer = Answer(200, {"data": rows})
        if len(answer.text.encode("utf-8")) > MAX_ANSWER_BYTES:
            return rejection(500, f"The answer for this batch is larger than {MAX_ANSWER_BYTES // 1_000_000} MB; set MAX_BATCH_ROWS = 5000 on the external function.")
        metrics.add_metric(name="RowsReturned", unit="Count", value=len(rows))
        return answer
    if state.status in FAILED:
        metrics.add_metric(name="BatchesFailed", unit="Count", value=1)
        return rejection(500, failure_message(state))
    return rejection(500, f"Sentiment batch is in an unexpected state {state.status}.")


@app.get("/sentiment", compress=True)
def get_sentiment():
    batch_id = parse_batch_id(app.current_event.headers)
    logger.set_correlation_id(batch_id)
    answer = poll_batch(batch_id, results_table(), workflow())
    logger.info("batch polled", extra={"status": answer.status})
    return api.respond(answer)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
