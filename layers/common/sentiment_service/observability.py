"""Powertools Logger, Tracer and Metrics shared by every function.

Log records carry ids and counts, never row text: the batch id is the correlation id.
Traces record no handler responses and no errors: a GET's answer holds every row's sentiment,
values derived from customer text that must not outlive the table's retention in X-Ray.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()

Handler = Callable[[Any, Any], Any]


def lambda_entry(correlation_id_path: str | None = None) -> Callable[[Handler], Handler]:
    """Logging context, tracing and metrics around a Lambda handler, the same for every function."""

    def wrap(handler: Handler) -> Handler:
        measured = metrics.log_metrics(handler)
        traced = tracer.capture_lambda_handler(measured, capture_response=False, capture_error=False)
        return logger.inject_lambda_context(traced, correlation_id_path=correlation_id_path, clear_state=True)

    return wrap
