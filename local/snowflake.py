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


Exchange = Callable[[str, dict[str, str], "bytes | None"], tuple[int, Any]]
"""One request to the service, over HTTP or in-process: method, headers and body in; the
status and the answer (decoded as the caller likes) out. A network failure is status 599."""

POLL_FIRST_WAIT_S = 0.1
POLL_MAX_WAIT_S = 5.0


def poll(get: Callable[[], tuple[int, Any]], deadline: float, first_wait_s: float = POLL_FIRST_WAIT_S, max_wait_s: float = POLL_MAX_WAIT_S) -> tuple[int, Any, int]:
    """GET until the answer is not 202, waiting longer after each 202 as Snowflake does.

    Returns the last status, its answer and the number of GETs; stops at `deadline` with
    whatever it last got (Snowflake's own limit is 10 minutes).
    """
    wait = first_wait_s
    polls = 0
    while True:
        status, answer = get()
        polls += 1
        if status != 202 or time.monotonic() >= deadline:
            return status, answer, polls
        time.sleep(wait)
        wait = min(wait * 1.5, max_wait_s)


def retrying(exchange: Exchange, method: str, headers: dict[str, str], body: bytes | None, deadline: float) -> tuple[int, Any]:
    """Snowflake retries 429, 5xx and network failures with the same batch id, slowing down.

    A GET's 500 is the service's answer for a failed batch, so only a POST's is retried here.
    """
    wait = 0.5
    while True:
        status, answer = exchange(method, headers, body)
        transient = status in (429, 502, 503, 504, 599) or (method == "POST" and status >= 500)
        if not transient or time.monotonic() >= deadline:
            return status, answer
        time.sleep(wait)
        wait = min(wait * 2, 10.0)


def run_batch(exchange: Exchange, headers: dict[str, str], body: bytes, deadline: float, max_wait_s: float = POLL_MAX_WAIT_S) -> tuple[int, Any]:
    """Snowflake's loop for one batch: POST until accepted, then GET until answered.

    Returns the answer that ended it: 200 with the rows, an error, or, past `deadline`,
    the last 202 or retried error.
    """
    status, answer = retrying(exchange, "POST", headers, body, deadline)
    if status != 202:
        return status, answer
    get_headers = {key: value for key, value in headers.items() if key.lower() != "content-type"}
    status, answer, _ = poll(lambda: retrying(exchange, "GET", get_headers, None, deadline), deadline, max_wait_s=max_wait_s)
    return status, answer
