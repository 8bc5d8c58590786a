"""What the two API handlers share: Powertools routing, answers, and AWS errors as HTTP.

Snowflake retries 429 and 5xx with the same batch id and slows down on 429, so a
throttled or briefly failing AWS call is answered that way; any other 4xx is final.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from botocore.exceptions import BotoCoreError, ClientError

from .comprehend import THROTTLING_CODES
from .observability import logger, metrics
from .protocol import Answer, RequestRejected, rejection
from .storage import StorageThrottled


def respond(answer: Answer) -> Response:
    return Response(status_code=answer.status, content_type=content_types.APPLICATION_JSON, body=answer.text)


def aws_error_answer(error: Exception) -> Answer:
    code = error.response.get("Error", {}).get("Code", "") if isinstance(error, ClientError) else type(error).__name__
    if code in THROTTLING_CODES or isinstance(error, StorageThrottled):
        return rejection(429, "AWS is throttling the sentiment service; Snowflake retries this batch.", code=code)
    return rejection(503, "The sentiment service could not reach AWS; Snowflake retries this batch.", code=code)


def resolver() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver()

    @app.exception_handler(RequestRejected)
    def rejected(error: RequestRejected) -> Response:
        metrics.add_metric(name="RequestsRejected", unit="Count", value=1)
        logger.info("request rejected", extra={"status": error.status, "reason": error.message})
        return respond(rejection(error.status, error.message))

    @app.exception_handler([ClientError, BotoCoreError, StorageThrottled])
    def aws_failed(error: Exception) -> Response:
        answer = aws_error_answer(error)
        logger.warning("AWS call failed", extra={"status": answer.status, "code": answer.body.get("code")})
        return respond(answer)

    return app
