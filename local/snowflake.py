"""Behave like Snowflake's external-function runtime: its headers, its batches, its polling."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Callable

from .template import ROOT

EVENTS = ROOT / "events"
BATCH_ID_HEADER = "sf-external-function-query-batch-id"
QUERY_ID_HEADER = "sf-external-function-current-query-id"


def snowflake_headers(batch_id: str | None = None, query_id: str | None = None) -> dict[str, str]:
    """The sample POST event's headers, for a new batch id unless one is given."""
    headers = dict(json.loads((EVENTS / "post.json").read_text())["headers"])
    query_id = query_id or headers[QUERY_ID_HEADER]
    headers[QUERY_ID_HEADER] = query_id
    headers[BATCH_ID_HEADER] = batch_id or f"{query_id}:1:{uuid.uuid4().int % 10**12}:0:0"
    return headers


def batch_body(texts: list[Any]) -> str:
    """Snowflake's request body: row numbers from 0, one argument each."""
    return json.dumps({"data": [[number, text] for number, text in enumerate(texts)]})


def poll(get: Callable[[], dict], timeout_s: float = 120.0, first_wait_s: float = 0.05, max_wait_s: float = 2.0) -> tuple[dict, int]:
    """GET until the answer is not 202, waiting longer after each 202 as Snowflake does.

    Returns the final response and the number of GETs; gives up after `timeout_s`
    (Snowflake's own limit is 10 minutes).
    """
    deadline = time.monotonic() + timeout_s
    wait = first_wait_s
    polls = 0
    while True:
        response = get()
        polls += 1
        if response["statusCode"] != 202 or time.monotonic() > deadline:
            return response, polls
        time.sleep(wait)
        wait = min(wait * 1.5, max_wait_s)
