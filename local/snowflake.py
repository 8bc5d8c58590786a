"""Behave like Snowflake's external-function runtime: its headers, its batches, its polling.

`run_batch` plays one batch. `play_query` plays a whole query of many batches the way Snowflake
keeps them in flight: up to the warehouse's concurrency at once, fewer after the service answers
429 (`SnowflakeQuery`, the policy, has no I/O: bench/model.py drives the same policy in simulated
time).
"""

from __future__ import annotations

import heapq
import json
import math
import random
import statistics
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sentiment_service.protocol import header

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
    """Snowflake's request body: row numbers from 0, one argument each, or (text, language) for
    sentiment(text, language) when a row is a tuple (JSON has none, so it is never a value)."""
    return json.dumps({"data": [[number, *text] if isinstance(text, tuple) else [number, text] for number, text in enumerate(texts)]})


Exchange = Callable[[str, dict[str, str], "bytes | None"], tuple]
"""One request to the service, over HTTP or in-process: method, headers and body in; the
status and the answer (decoded as the caller likes) out, optionally followed by the response
headers (a dict; Retry-After is read from them). A network failure is status 599."""

POLL_FIRST_WAIT_S = 0.1
POLL_MAX_WAIT_S = 5.0
POLL_GROWTH = 1.5
RETRY_FIRST_WAIT_S = 0.5
RETRY_MAX_WAIT_S = 10.0
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504, 599})


def is_transient(method: str, status: int) -> bool:
    """What Snowflake retries with the same batch id: 429, gateway errors, network failures and a
    POST's 5xx. A GET's 500 is the service's answer for a failed batch, so it ends the batch."""
    return status in TRANSIENT_STATUSES or (method == "POST" and status >= 500)


def exchange_result(result: tuple) -> tuple[int, Any, dict[str, str]]:
    """An Exchange's result as (status, answer, response headers); none when it returns two elements."""
    status, answer, *rest = result
    return status, answer, (rest[0] or {}) if rest else {}


def retry_after_s(headers: dict[str, str]) -> float | None:
    """Retry-After in seconds, when the answer carries it as a number."""
    value = header(headers, "retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def get_headers(headers: dict[str, str]) -> dict[str, str]:
    """A GET carries the POST's headers but no body, so no Content-Type."""
    return {key: value for key, value in headers.items() if key.lower() != "content-type"}


def poll(
    get: Callable[[], tuple[int, Any]], deadline: float, first_wait_s: float = POLL_FIRST_WAIT_S, max_wait_s: float = POLL_MAX_WAIT_S
) -> tuple[int, Any, int]:
    """GET until the answer is not 202, waiting longer after each 202 as Snowflake does.

    Returns the last status, its answer and the number of GETs; stops at `deadline` with
    whatever it last got (Snowflake's own limit is 10 minutes).
    """
    wait = first_wait_s
    polls = 0
    while True:
        status, answer = get()[:2]
        polls += 1
        if status != 202 or time.monotonic() >= deadline:
            return status, answer, polls
        time.sleep(wait)
        wait = min(wait * POLL_GROWTH, max_wait_s)


def retrying(exchange: Exchange, method: str, headers: dict[str, str], body: bytes | None, deadline: float) -> tuple[int, Any]:
    """Snowflake retries 429, 5xx and network failures with the same batch id, slowing down.

    A GET's 500 is the service's answer for a failed batch, so only a POST's is retried here.
    """
    wait = RETRY_FIRST_WAIT_S
    while True:
        status, answer = exchange(method, headers, body)[:2]
        if not is_transient(method, status) or time.monotonic() >= deadline:
            return status, answer
        time.sleep(wait)
        wait = min(wait * 2, RETRY_MAX_WAIT_S)


def run_batch(exchange: Exchange, headers: dict[str, str], body: bytes, deadline: float, max_wait_s: float = POLL_MAX_WAIT_S) -> tuple[int, Any]:
    """Snowflake's loop for one batch: POST until accepted, then GET until answered.

    Returns the answer that ended it: 200 with the rows, an error, or, past `deadline`,
    the last 202 or retried error.
    """
    status, answer = retrying(exchange, "POST", headers, body, deadline)
    if status != 202:
        return status, answer
    status, answer, _ = poll(lambda: retrying(exchange, "GET", get_headers(headers), None, deadline), deadline, max_wait_s=max_wait_s)
    return status, answer


# A whole query: many batches in flight, concurrency scaled back on 429 (AIMD).

SNOWFLAKE_WINDOW_S = 600.0


@dataclass
class BatchRecord:
    """One batch as Snowflake saw it. Times are seconds since the query started."""

    number: int
    first_post: float | None = None
    """When Snowflake sent its first POST (in play_query's one-thread mode: decided to; the request
    may leave a little later, behind others)."""
    accepted: float | None = None
    answered: float | None = None
    """When the batch ended: its 200, its error, or Snowflake giving up on it."""
    status: int | None = None
    """The status that ended it (None while open, given up or aborted)."""
    outcome: str = "pending"
    """answered (200) | failed (an error Snowflake does not retry) | late (Snowflake gave up at its
    10 minutes) | aborted (another batch ended the query first) | pending."""
    correct: bool = False
    """200 with every row, in order (as the host judged the answer)."""
    answer: Any = None
    posts: int = 0
    post_429s: int = 0
    gets: int = 0
    get_retries: int = 0
    """GETs answered 429, 5xx (not 500) or not at all, retried."""

    @property
    def accepted_to_answered(self) -> float | None:
        return self.answered - self.accepted if self.outcome == "answered" and self.accepted is not None else None

    @property
    def first_post_to_answered(self) -> float | None:
        return self.answered - self.first_post if self.outcome == "answered" and self.first_post is not None else None


class Send(NamedTuple):
    """Send `method` for batch `number` now."""

    number: int
    method: str


class Wake(NamedTuple):
    """Call `SnowflakeQuery.wake(number, token, ...)` at time `at`."""

    at: float
    number: int
    token: int


FIRST_POST_DEADLINE, ACCEPTED_DEADLINE = -1, -2
"""The tokens of a batch's give-up wakes: `window_s` after its first POST (which also bounds its
re-POSTs when the window is counted from the accepted POST), and after its accepted POST."""

_NEW, _POSTING, _BACKOFF, _READY, _POLL_WAIT, _GETTING, _DONE = range(7)


def distribution(values: list[float]) -> dict[str, float | None]:
    """min / median / p95 (nearest rank) / max, rounded to 0.01 s; None for no values."""
    if not values:
        return {"min": None, "median": None, "p95": None, "max": None}
    ordered = sorted(values)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    return {"min": round(ordered[0], 2), "median": round(statistics.median(ordered), 2), "p95": round(p95, 2), "max": round(ordered[-1], 2)}


class SnowflakeQuery:
    """Snowflake's side of one query of `batch_count` batches, as a policy without I/O or clock.

    The host tells it the time and what happened; it answers with `Send`s (requests to send now)
    and `Wake`s (call `wake` then). Concurrency is AIMD: the limit starts at the warehouse's
    `concurrency`, is multiplied by `decrease` (not below 1) on a POST's 429 at most once per
    `decrease_interval_s`, and grows by 1 (up to `concurrency`) each time a batch is answered.
    A batch holds a place from its POST until it ends, except while it waits to re-POST after a
    429 (Retry-After, or `retry_first_s` doubling to `retry_max_s`); waiting batches re-POST,
    same batch id, before new batches start. Accepted batches are polled after `poll_first_s`,
    the wait growing by `poll_growth` after each 202 up to `poll_max_s`. With `give_up_late`,
    Snowflake gives up on a batch `window_s` after its first POST (or, `window_from="accepted"`,
    after its accepted POST); with `abort_on_failure` a failed or given-up batch ends the query.
    """

    def __init__(
        self,
        batch_count: int,
        concurrency: int = 64,
        *,
        window_s: float = SNOWFLAKE_WINDOW_S,
        window_from: str = "first_post",
        give_up_late: bool = True,
        abort_on_failure: bool = True,
        poll_first_s: float = POLL_FIRST_WAIT_S,
        poll_growth: float = POLL_GROWTH,
        poll_max_s: float = POLL_MAX_WAIT_S,
        retry_first_s: float = RETRY_FIRST_WAIT_S,
        retry_max_s: float = RETRY_MAX_WAIT_S,
        decrease: float = 0.5,
        decrease_interval_s: float = 1.0,
        retry_jitter: float = 0.0,
        rng: random.Random | None = None,
    ):
        if window_from not in ("first_post", "accepted"):
            raise ValueError("window_from is 'first_post' or 'accepted'")
        self.concurrency = concurrency
        self.window_s, self.window_from = window_s, window_from
        self.give_up_late, self.abort_on_failure = give_up_late, abort_on_failure
        self.poll_first_s, self.poll_growth, self.poll_max_s = poll_first_s, poll_growth, poll_max_s
        self.retry_first_s, self.retry_max_s = retry_first_s, retry_max_s
        self.decrease, self.decrease_interval_s = decrease, decrease_interval_s
        self.retry_jitter, self.rng = retry_jitter, rng or random.Random(0)
        self.records = [BatchRecord(number) for number in range(batch_count)]
        self.limit = concurrency
        self.limits: list[tuple[float, int]] = []
        """(time, concurrency limit) at the start and at every change."""
        self.occupied = 0
        self.finished = batch_count == 0
        self.ended_at: float | None = None
        self._state = [_NEW] * batch_count
        self._token = [0] * batch_count
        self._poll_wait = [poll_first_s] * batch_count
        self._transients = [0] * batch_count
        self._ready: deque[int] = deque()
        """Batches whose wait to re-POST is over, in the order they became ready."""
        self._next_new = 0
        self._last_decrease = -math.inf
        self._open = batch_count

    def start(self, now: float) -> list[Send | Wake]:
        self.limits.append((now, self.limit))
        return self._fill(now)

    def wake(self, number: int, token: int, now: float) -> list[Send | Wake]:
        state = self._state[number]
        if self.finished or state == _DONE:
            return []
        if token == FIRST_POST_DEADLINE and (self.window_from == "first_post" or self.records[number].accepted is None):
            return self._end(number, "late", None, now)
        if token == ACCEPTED_DEADLINE:
            return self._end(number, "late", None, now)
        if token != self._token[number]:
            return []
        if state == _BACKOFF:
            self._state[number] = _READY
            self._ready.append(number)
            return self._fill(now)
        if state == _POLL_WAIT:
            self._state[number] = _GETTING
            self.records[number].gets += 1
            return [Send(number, "GET")]
        return []

    def answer(
        self, number: int, method: str, status: int, now: float, retry_after: float | None = None, correct: bool | None = None, answer: Any = None
    ) -> list[Send | Wake]:
        """Apply the answer to a request the policy sent; `correct` defaults to status == 200."""
        record, state = self.records[number], self._state[number]
        if self.finished or state == _DONE or state != (_POSTING if method == "POST" else _GETTING):
            return []
        if is_transient(method, status):
            self._transients[number] += 1
            wait = retry_after if retry_after is not None else min(self.retry_first_s * 2 ** (self._transients[number] - 1), self.retry_max_s)
            wait *= 1 - self.retry_jitter * self.rng.random()
            actions: list[Send | Wake] = []
            if method == "POST":
                self._state[number] = _BACKOFF
                self.occupied -= 1
                if status == 429:
                    record.post_429s += 1
                    if now - self._last_decrease >= self.decrease_interval_s:
                        self._last_decrease = now
                        self._set_limit(now, max(1, int(self.limit * self.decrease)))
                actions = self._fill(now)
            else:
                record.get_retries += 1
                self._state[number] = _POLL_WAIT
            return [*actions, self._wake_after(number, now, wait)]
        self._transients[number] = 0
        if status == 202 and method == "POST":
            record.accepted = now
            self._state[number] = _POLL_WAIT
            actions = [self._wake_after(number, now, self.poll_first_s)]
            if self.give_up_late and self.window_from == "accepted":
                actions.append(Wake(now + self.window_s, number, ACCEPTED_DEADLINE))
            return actions
        if status == 202:
            self._state[number] = _POLL_WAIT
            wait = self._poll_wait[number] = min(self._poll_wait[number] * self.poll_growth, self.poll_max_s)
            return [self._wake_after(number, now, wait)]
        record.answer = answer
        record.correct = status == 200 if correct is None else correct
        return self._end(number, "answered" if status == 200 else "failed", status, now)

    def _wake_after(self, number: int, now: float, wait: float) -> Wake:
        self._token[number] += 1
        return Wake(now + wait, number, self._token[number])

    def _set_limit(self, now: float, limit: int) -> None:
        if limit != self.limit:
            self.limit = limit
            self.limits.append((now, limit))

    def _end(self, number: int, outcome: str, status: int | None, now: float) -> list[Send | Wake]:
        record = self.records[number]
        if self._state[number] in (_POSTING, _POLL_WAIT, _GETTING):
            self.occupied -= 1
        self._state[number] = _DONE
        record.outcome, record.status, record.answered = outcome, status, now
        self._open -= 1
        if outcome == "answered":
            self._set_limit(now, min(self.concurrency, self.limit + 1))
        elif self.abort_on_failure:
            return self._abort(now)
        if self._open == 0:
            self.finished, self.ended_at = True, now
            return []
        return self._fill(now)

    def _abort(self, now: float) -> list[Send | Wake]:
        for number, state in enumerate(self._state):
            if state != _DONE:
                self._state[number] = _DONE
                self.records[number].outcome = "aborted"
        self.finished, self.ended_at, self._open = True, now, 0
        self._ready.clear()
        return []

    def _fill(self, now: float) -> list[Send | Wake]:
        """POST what the limit allows: batches waiting to re-POST first, then new ones."""
        actions: list[Send | Wake] = []
        while self.occupied < self.limit and (self._ready or self._next_new < len(self.records)):
            if self._ready:
                number = self._ready.popleft()
            else:
                number = self._next_new
                self._next_new += 1
                self.records[number].first_post = now
                if self.give_up_late:
                    actions.append(Wake(now + self.window_s, number, FIRST_POST_DEADLINE))
            self._state[number] = _POSTING
            self.occupied += 1
            self.records[number].posts += 1
            actions.append(Send(number, "POST"))
        return actions

    def summary(self) -> dict[str, Any]:
        return query_summary(self.records, self.limits, self.window_s, self.ended_at)


def query_summary(records: list[BatchRecord], limits: list[tuple[float, int]], window_s: float, ended_at: float | None) -> dict[str, Any]:
    """What a query did, in the fields the benchmark and bench/model.py both report."""
    answered = [record for record in records if record.outcome == "answered"]
    accepted = [record.accepted_to_answered for record in answered if record.accepted_to_answered is not None]
    first = [record.first_post_to_answered for record in answered if record.first_post_to_answered is not None]
    given_up = [record for record in records if record.outcome == "late"]
    return {
        "batches": len(records),
        "answered_correctly": sum(record.correct for record in answered),
        "late_after_first_post": sum(value > window_s for value in first) + len(given_up),
        "late_after_accepted": sum(value > window_s for value in accepted)
        + sum(record.accepted is not None and record.answered - record.accepted >= window_s for record in given_up),
        "failed": sum(record.outcome == "failed" for record in records),
        "aborted": sum(record.outcome == "aborted" for record in records),
        "accepted_to_answered_s": distribution(accepted),
        "first_post_to_answered_s": distribution(first),
        "post_429s": sum(record.post_429s for record in records),
        "gets_per_batch": round(sum(record.gets for record in records) / len(records), 2) if records else 0.0,
        "get_retries": sum(record.get_retries for record in records),
        "concurrency_limit_min": min((limit for _, limit in limits), default=None),
        "seconds": round(ended_at, 2) if ended_at is not None else None,
    }


@dataclass
class QueryRecord:
    """What `play_query` saw: every batch, the concurrency limit over time, the summary."""

    batches: list[BatchRecord]
    limits: list[tuple[float, int]]
    seconds: float
    summary: dict[str, Any] = field(default_factory=dict)


def rows_in_order(answer: Any, rows: int) -> bool:
    """A 200's body holds exactly the batch's row numbers, in order."""
    data = answer.get("data") if isinstance(answer, dict) else None
    return isinstance(data, list) and [row[0] if isinstance(row, list) and row else None for row in data] == list(range(rows))


def play_query(
    exchange: Exchange,
    batches: list[list[Any]],
    *,
    concurrency: int = 64,
    query_id: str | None = None,
    headers_for: Callable[[str, str], dict[str, str]] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    parallel: int = 1,
    **policy: Any,
) -> QueryRecord:
    """Play one Snowflake query of `batches` (lists of row values) against `exchange`.

    Batch n's id is `<query id>:1:<n>:0:0` on its POST, every re-POST and every GET;
    `headers_for(batch_id, query_id)` builds the POST headers (default `snowflake_headers`).
    `parallel=1` sends one request at a time from this thread, waiting with `sleep` on `clock`:
    deterministic with a fake clock. `parallel>1` keeps up to that many requests in flight on
    threads (it waits in real time, so it needs the real clock). `policy` takes
    `SnowflakeQuery`'s options (window_s, window_from, give_up_late, abort_on_failure, poll and
    retry waits, decrease, rng, ...).
    """
    query_id = query_id or str(uuid.uuid4())
    headers_for = headers_for or snowflake_headers
    started = clock()
    query = SnowflakeQuery(len(batches), concurrency, **policy)
    headers = [headers_for(f"{query_id}:1:{number}:0:0", query_id) for number in range(len(batches))]
    wakes: list[tuple[float, int, int, int]] = []
    serial = 0

    def now() -> float:
        return clock() - started

    def request(send: Send) -> tuple:
        if send.method == "POST":
            return exchange("POST", headers[send.number], batch_body(batches[send.number]).encode("utf-8"))
        return exchange("GET", get_headers(headers[send.number]), None)

    def answered(send: Send, result: tuple) -> list[Send | Wake]:
        status, answer, response_headers = exchange_result(result)
        correct = status == 200 and rows_in_order(answer, len(batches[send.number]))
        return query.answer(send.number, send.method, status, now(), retry_after_s(response_headers), correct, answer)

    pending: deque[Send] = deque()

    def schedule(actions: list[Send | Wake]) -> None:
        nonlocal serial
        for action in actions:
            if isinstance(action, Wake):
                serial += 1
                heapq.heappush(wakes, (action.at, serial, action.number, action.token))
            else:
                pending.append(action)

    def due(until: float = -math.inf) -> None:
        """Fire the wakes whose time has come (or is `until`: a sleep may fall short by a rounding)."""
        while wakes and wakes[0][0] <= max(now(), until) and not query.finished:
            _, _, number, token = heapq.heappop(wakes)
            schedule(query.wake(number, token, now()))

    schedule(query.start(now()))
    pool = ThreadPoolExecutor(max_workers=parallel) if parallel > 1 else None
    flying: dict[Future, Send] = {}
    try:
        until = -math.inf
        while not query.finished:
            due(until)
            if pool is None and pending:
                send = pending.popleft()
                schedule(answered(send, request(send)))
                continue
            while pool is not None and pending and len(flying) < parallel:
                send = pending.popleft()
                flying[pool.submit(request, send)] = send
            if not (flying or wakes):
                break
            timeout = max(0.0, wakes[0][0] - now()) if wakes else None
            until = -math.inf
            if flying:
                done, _ = wait(list(flying), timeout=timeout, return_when=FIRST_COMPLETED)
                for future in done:
                    schedule(answered(flying.pop(future), future.result()))
            else:
                until = wakes[0][0]
                sleep(timeout or 0.0)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    seconds = now()
    return QueryRecord(
        query.records,
        query.limits,
        seconds,
        query_summary(query.records, query.limits, query.window_s, query.ended_at if query.ended_at is not None else seconds),
    )
