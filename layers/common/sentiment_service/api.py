"""What the two API handlers share: Powertools routing, answers, and AWS errors as HTTP.

Snowflake retries 429 and 5xx with the same batch id and slows down on 429, so a
throttled or briefly failing AWS call is answered that way; any other 4xx is final.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from botocore.exceptions import BotoCoreError, ClientError

from .admission import AdmissionContended
from .errors import Kind, error_code, kind_of, operation_of
from .observability import logger, metrics
from .protocol import LAMBDA_PAYLOAD_BYTES, Answer, RequestRejected, rejection
from .storage import StorageThrottled


def within_payload_limit(response: dict[str, Any]) -> dict[str, Any]:
    """The proxy response, or a clear 500 when Lambda could not return it.

    Lambda's 6 MB limit applies to the response as its runtime serializes it, the body's quotes
    escaped inside the JSON envelope; beyond it API Gateway would answer a bare 502.
    """
    if len(json.dumps(response).encode("utf-8")) <= LAMBDA_PAYLOAD_BYTES:
        return response
    metrics.add_metric(name="AnswersTooLarge", unit="Count", value=1)
    too_large = rejection(
        500, f"The answer for this batch is larger than Lambda's {LAMBDA_PAYLOAD_BYTES // 2**20} MB; set MAX_BATCH_ROWS = 5000 on the external function."
    )
    return {"statusCode": too_large.status, "headers": {"Content-Type": content_types.APPLICATION_JSON}, "body": too_large.text, "isBase64Encoded": False}


def respond(answer: Answer) -> Response[str]:
    return Response(status_code=answer.status, content_type=content_types.APPLICATION_JSON, body=answer.text, headers=dict(answer.headers))


MISCONFIGURED_STATUS = 424
"""Failed Dependency: Snowflake retries 429 and every 5xx but fails the query at once on any other
4xx, showing the message. Retrying a misconfigured deployment changes nothing, so the user learns at
once what the operator must fix (and the operator is alarmed: metric Misconfigured)."""


def aws_error_answer(error: Exception) -> Answer:
    """Throttling is a 429 and an outage a 503, both retried by Snowflake; a misconfiguration
    is a 424 naming the failing call, which Snowflake does not retry: retrying changes nothing."""
    code = error_code(error)
    kind = Kind.THROTTLED if isinstance(error, StorageThrottled) else kind_of(error)
    if kind is Kind.THROTTLED:
        return rejection(429, "AWS is throttling the sentiment service; Snowflake retries this batch.", code=code)
    if kind is Kind.TRANSIENT:
        return rejection(503, "The sentiment service could not reach AWS; Snowflake retries this batch.", code=code)
    if kind is Kind.MISCONFIGURED:
        metrics.add_metric(name="Misconfigured", unit="Count", value=1)
        return rejection(
            MISCONFIGURED_STATUS,
            f"The sentiment service is misconfigured: {operation_of(error)} failed with {code}; its operator must fix the deployment.",
            code=code,
        )
    return rejection(500, f"AWS refused {operation_of(error)} ({code}); the sentiment service's logs say more.", code=code)


def resolver() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver()

    @app.exception_handler(RequestRejected)
    def rejected(error: RequestRejected) -> Response[str]:
        metrics.add_metric(name="RequestsRejected", unit="Count", value=1)
        logger.info("request rejected", extra={"status": error.status, "reason": error.message})
        return respond(rejection(error.status, error.message))

    @app.exception_handler(AdmissionContended)
    def contended(error: AdmissionContended) -> Response[str]:
        metrics.add_metric(name="AdmissionsContended", unit="Count", value=1)
        return respond(Answer(429, {"message": "Many batches arrived at once; Snowflake retries this batch."}, {"Retry-After": "1"}))

    @app.exception_handler([ClientError, BotoCoreError, StorageThrottled])
    def aws_failed(error: Exception) -> Response[str]:
        answer = aws_error_answer(error)
        logger.warning("AWS call failed", extra={"status": answer.status, "code": answer.body.get("code"), "operation": operation_of(error)})
        return respond(answer)

    return app
