"""The query driver (local/snowflake.py): Snowflake's many batches in flight, scaled back on 429.

Everything runs against a fake in-process service on a fake clock: no real sleeping, and every
time in a record is known exactly.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
from collections import Counter, defaultdict
from typing import Any

import pytest

from local.snowflake import BATCH_ID_HEADER, QUERY_ID_HEADER, Send, SnowflakeQuery, Wake, play_query, run_batch, snowflake_headers


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.slept.append(seconds)
        self.now += seconds


class FakeService:
    """Accepts at most `capacity` batches at once (429 beyond, optionally with Retry-After); a
    batch is done `work_s` after it was accepted; each request takes `latency_s` of the clock."""

    def __init__(
        self,
        clock: FakeClock,
        capacity: int,
        work_s: float = 2.0,
        latency_s: float = 0.01,
        retry_after: str | None = None,
        fail: set[int] = frozenset(),
        never_done: set[int] = frozenset(),
    ):
        self.clock, self.capacity, self.work_s, self.latency_s, self.retry_after = clock, capacity, work_s, latency_s, retry_after
        self.fail, self.never_done = fail, never_done
        self.done_at: dict[str, float] = {}
        self.rows: dict[str, int] = {}
        self.bodies: dict[str, set[bytes]] = defaultdict(set)
        self.log: list[tuple[float, str, str, int]] = []
        self.answered_200: Counter = Counter()
        self.answered: set[str] = set()
        self.max_accepted = 0

    def running(self) -> int:
        return sum(1 for batch_id in self.done_at if batch_id not in self.answered)

    def number(self, batch_id: str) -> int:
        return int(batch_id.split(":")[2])

    def __call__(self, method: str, headers: dict[str, str], body: bytes | None) -> tuple[int, Any, dict[str, str]]:
        self.clock.now += self.latency_s
        batch_id = headers[BATCH_ID_HEADER]
        status, answer, response_headers = self.handle(method, batch_id, body)
        self.log.append((self.clock.now, method, batch_id, status))
        return status, answer, response_headers

    def handle(self, method: str, batch_id: str, body: bytes | None) -> tuple[int, Any, dict[str, str]]:
        now = self.clock.now
        if method == "POST":
            self.bodies[batch_id].add(body)
            if batch_id in self.done_at:
                return 202, None, {}
            if self.running() >= self.capacity:
                return 429, {"message": "busy"}, ({"Retry-After": self.retry_after} if self.retry_after else {})
            self.done_at[batch_id] = math.inf if self.number(batch_id) in self.never_done else now + self.work_s
            self.rows[batch_id] = len(json.loads(body)["data"])
            self.max_accepted = max(self.max_accepted, self.running())
            return 202, None, {}
        assert body is None
        if now < self.done_at[batch_id]:
            return 202, None, {}
        self.answered.add(batch_id)
        if self.number(batch_id) in self.fail:
            return 500, {"message": "Sentiment batch failed"}, {}
        self.answered_200[batch_id] += 1
        return 200, {"data": [[row, {"Sentiment": "NEUTRAL"}] for row in range(self.rows[batch_id])]}, {}


def batches(count: int, rows: int = 3) -> list[list[str]]:
    return [[f"text {number}-{row}" for row in range(rows)] for number in range(count)]


def play(service: FakeService, clock: FakeClock, count: int, concurrency: int, **options: Any):
    return play_query(service, batches(count), concurrency=concurrency, query_id="q", clock=clock, sleep=clock.sleep, **options)


def test_concurrency_drops_on_429_and_recovers_as_batches_finish():
    clock = FakeClock()
    service = FakeService(clock, capacity=3)
    record = play(service, clock, count=20, concurrency=8)
    limits = [limit for _, limit in record.limits]
    assert limits[0] == 8
    assert min(limits) < 8, "a 429 scales the limit back"
    assert limits[-1] > min(limits), "answered batches raise it again"
    assert all(later <= 8 for later in limits)
    drops = [(before, after) for before, after in itertools.pairwise(limits) if after < before]
    assert drops and all(after == max(1, before // 2) for before, after in drops)
    rises = [(before, after) for before, after in itertools.pairwise(limits) if after > before]
    assert rises and all(after == min(8, before + 1) for before, after in rises)
    assert service.max_accepted <= 3
    assert record.summary["post_429s"] == sum(status == 429 for *_, status in service.log) > 0
    assert record.summary["concurrency_limit_min"] == min(limits)


def test_every_batch_is_answered_once_and_retries_keep_the_batch_id():
    clock = FakeClock()
    service = FakeService(clock, capacity=2)
    record = play(service, clock, count=10, concurrency=6)
    assert [batch.outcome for batch in record.batches] == ["answered"] * 10
    assert all(batch.correct and batch.status == 200 for batch in record.batches)
    assert set(service.answered_200.values()) == {1} and len(service.answered_200) == 10
    ids = {batch_id for _, _, batch_id, _ in service.log}
    assert ids == {f"q:1:{number}:0:0" for number in range(10)}
    assert all(len(bodies) == 1 for bodies in service.bodies.values()), "a re-POST sends the same rows"
    posts = Counter(batch_id for _, method, batch_id, _ in service.log if method == "POST")
    gets = Counter(batch_id for _, method, batch_id, _ in service.log if method == "GET")
    assert any(count > 1 for count in posts.values()), "some batches were re-POSTed after a 429"
    for batch in record.batches:
        batch_id = f"q:1:{batch.number}:0:0"
        assert (batch.posts, batch.gets) == (posts[batch_id], gets[batch_id])
        assert batch.post_429s == posts[batch_id] - 1
    assert record.summary["answered_correctly"] == 10 and record.summary["failed"] == 0


def test_the_limit_bounds_batches_in_flight_and_re_posts_go_first():
    query = SnowflakeQuery(10, 4, give_up_late=False)
    assert query.start(0.0) == [Send(0, "POST"), Send(1, "POST"), Send(2, "POST"), Send(3, "POST")]
    (backoff,) = query.answer(0, "POST", 429, 0.1)
    assert query.limit == 2
    polls = {number: query.answer(number, "POST", 202, 0.1)[0] for number in (1, 2, 3)}
    assert query.occupied == 3
    assert query.wake(0, backoff.token, backoff.at) == [], "three batches in flight, limit 2: batch 0 waits"
    assert query.wake(1, polls[1].token, polls[1].at) == [Send(1, "GET")]
    assert query.answer(1, "GET", 200, 1.0) == [Send(0, "POST")], "limit 3, two in flight: the waiting re-POST goes before new batches"
    assert query.wake(2, polls[2].token, polls[2].at) == [Send(2, "GET")]
    assert query.answer(2, "GET", 200, 1.1) == [Send(4, "POST"), Send(5, "POST")]
    assert (query.limit, query.occupied) == (4, 4)
    assert [limit for _, limit in query.limits] == [4, 2, 3, 4]


def test_times_are_recorded_on_the_query_clock():
    clock = FakeClock()
    service = FakeService(clock, capacity=1, work_s=2.0, latency_s=0.01, retry_after="7")
    record = play(service, clock, count=2, concurrency=2, poll_first_s=0.1, poll_growth=2.0, poll_max_s=1.0)
    first, second = record.batches
    # Both POSTs are sent at 0 (one thread: batch 1's leaves when batch 0's is answered, at 0.01).
    # Batch 0: accepted at 0.01, done at 2.01; GETs sent 0.1, 0.2, 0.4, 0.8, then 1.0 (capped) after
    # each answer, at 0.11, 0.32, 0.73, 1.54, 2.55, each answered 0.01 later.
    assert (first.first_post, first.accepted) == (0.0, pytest.approx(0.01))
    assert first.answered == pytest.approx(2.56) and first.gets == 5 and first.post_429s == 0
    # Batch 1: 429 at 0.02 (batch 0 runs), Retry-After 7 s, re-POST at 7.02, accepted at 7.03,
    # done at 9.03; GETs at 7.13, 7.34, 7.75, 8.56, 9.57, answered at 9.58.
    assert second.first_post == 0.0 and second.post_429s == 1 and second.posts == 2
    assert second.accepted == pytest.approx(7.03) and second.answered == pytest.approx(9.58)
    assert second.accepted_to_answered == pytest.approx(2.55)
    assert second.first_post_to_answered == pytest.approx(9.58)
    summary = record.summary
    assert summary["accepted_to_answered_s"] == {"min": 2.55, "median": 2.55, "p95": 2.55, "max": 2.55}
    assert summary["first_post_to_answered_s"] == {"min": 2.56, "median": 6.07, "p95": 9.58, "max": 9.58}
    assert summary["seconds"] == pytest.approx(9.58)
    # The limit: 2, halved by the 429 at 0.02, back to 2 when batch 0 is answered.
    assert record.limits == [(0.0, 2), (pytest.approx(0.02), 1), (pytest.approx(2.56), 2)]


def test_without_retry_after_a_429_backs_off_doubling():
    query = SnowflakeQuery(1, 1, retry_first_s=0.5, retry_max_s=2.0, give_up_late=False)
    assert query.start(0.0) == [Send(0, "POST")]
    wakes = []
    now = 0.0
    for _ in range(4):
        (wake,) = query.answer(0, "POST", 429, now)
        wakes.append(wake.at - now)
        now = wake.at
        assert query.wake(0, wake.token, now) == [Send(0, "POST")]
    assert wakes == [0.5, 1.0, 2.0, 2.0]
    assert query.records[0].post_429s == 4


def test_the_limit_falls_once_a_second_at_most_and_not_below_one():
    query = SnowflakeQuery(4, 8, give_up_late=False)
    sends = query.start(0.0)
    assert [send.number for send in sends] == [0, 1, 2, 3]
    query.answer(0, "POST", 429, 0.1)
    query.answer(1, "POST", 429, 0.5)
    assert query.limit == 4
    query.answer(2, "POST", 429, 1.1)
    assert query.limit == 2
    query.answer(3, "POST", 429, 2.2)
    assert query.limit == 1
    # Every batch waits to re-POST: nothing holds a place, so one re-POSTs when its wait is over.
    assert query.occupied == 0
    assert query.wake(0, 1, 2.3) == [Send(0, "POST")]
    query.answer(0, "POST", 429, 3.3)
    assert query.limit == 1


def test_a_failed_batch_aborts_the_query_unless_told_otherwise():
    clock = FakeClock()
    record = play(FakeService(clock, capacity=10, fail={1}), clock, count=6, concurrency=2)
    outcomes = [batch.outcome for batch in record.batches]
    assert outcomes[1] == "failed" and record.batches[1].status == 500
    assert outcomes.count("aborted") >= 1 and "pending" not in outcomes
    assert record.summary["failed"] == 1 and record.summary["aborted"] == outcomes.count("aborted")
    clock = FakeClock()
    record = play(FakeService(clock, capacity=10, fail={1}), clock, count=6, concurrency=2, abort_on_failure=False)
    assert [batch.outcome for batch in record.batches] == ["answered", "failed"] + ["answered"] * 4


def test_snowflake_gives_up_on_a_late_batch_from_its_first_post():
    clock = FakeClock()
    service = FakeService(clock, capacity=10, never_done={0})
    record = play(service, clock, count=3, concurrency=3, window_s=60.0)
    late = record.batches[0]
    assert late.outcome == "late" and late.answered == pytest.approx(60.0) and late.status is None
    assert [batch.outcome for batch in record.batches[1:]] == ["answered", "answered"]
    assert record.summary["late_after_first_post"] == 1 and record.summary["late_after_accepted"] == 0


def test_the_window_can_count_from_the_accepted_post():
    clock = FakeClock()
    service = FakeService(clock, capacity=1, work_s=50.0, retry_after="30")
    record = play(service, clock, count=2, concurrency=2, window_s=60.0, window_from="accepted", poll_max_s=1.0)
    second = record.batches[1]
    assert second.post_429s >= 1 and second.outcome == "answered"
    assert second.first_post_to_answered > 60.0 > second.accepted_to_answered
    assert record.summary["late_after_first_post"] == 1 and record.summary["late_after_accepted"] == 0
    clock = FakeClock()
    service = FakeService(clock, capacity=1, work_s=50.0, retry_after="30")
    record = play(service, clock, count=2, concurrency=2, window_s=60.0, poll_max_s=1.0)
    assert record.batches[1].outcome == "late" and record.batches[1].answered == pytest.approx(60.0)


def test_a_two_element_exchange_still_drives_a_query_and_run_batch_takes_three():
    clock = FakeClock()
    service = FakeService(clock, capacity=1, retry_after="1")
    record = play_query(
        lambda method, headers, body: service(method, headers, body)[:2], batches(3), concurrency=3, query_id="q", clock=clock, sleep=clock.sleep
    )
    assert [batch.outcome for batch in record.batches] == ["answered"] * 3
    assert record.summary["post_429s"] > 0
    headers = snowflake_headers("q:1:9:0:0", "q")
    body = json.dumps({"data": [[0, "a"]]}).encode()
    three = FakeService(FakeClock(), capacity=1, work_s=0.0)
    status, answer = run_batch(three, headers, body, time.monotonic() + 5)
    assert status == 200 and answer["data"][0][0] == 0
    two = FakeService(FakeClock(), capacity=1, work_s=0.0)
    status, answer = run_batch(lambda method, headers, body: two(method, headers, body)[:2], headers, body, time.monotonic() + 5)
    assert status == 200 and answer["data"] == [[0, {"Sentiment": "NEUTRAL"}]]
    assert [method for _, method, _, _ in two.log] == ["POST", "GET"]


def test_headers_are_snowflakes_for_each_batch():
    clock = FakeClock()
    seen: list[dict[str, str]] = []

    def exchange(method: str, headers: dict[str, str], body: bytes | None):
        seen.append(dict(headers))
        return FakeService(clock, capacity=1, work_s=0.0)(method, headers, body) if method == "POST" else (200, {"data": [[0, None], [1, None], [2, None]]})

    play_query(exchange, batches(2), concurrency=2, query_id="q7", clock=clock, sleep=clock.sleep)
    posts = [headers for headers in seen if "Content-Type" in headers]
    gets = [headers for headers in seen if "Content-Type" not in headers]
    assert {headers[BATCH_ID_HEADER] for headers in posts} == {"q7:1:0:0:0", "q7:1:1:0:0"} == {headers[BATCH_ID_HEADER] for headers in gets}
    assert {headers[QUERY_ID_HEADER] for headers in seen} == {"q7"}


def test_an_answer_with_rows_missing_is_not_correct():
    clock = FakeClock()

    def exchange(method: str, headers: dict[str, str], body: bytes | None):
        return (202, None) if method == "POST" else (200, {"data": [[0, None]]})

    record = play_query(exchange, batches(1, rows=2), concurrency=1, clock=clock, sleep=clock.sleep)
    assert record.batches[0].outcome == "answered" and not record.batches[0].correct
    assert record.summary["answered_correctly"] == 0


def test_parallel_requests_overlap_and_answer_every_batch_once():
    clock = FakeClock()
    lock = threading.Lock()
    flying, most = 0, 0
    service = FakeService(clock, capacity=3, latency_s=0.0)

    def exchange(method: str, headers: dict[str, str], body: bytes | None):
        nonlocal flying, most
        with lock:
            flying += 1
            most = max(most, flying)
        time.sleep(0.02)
        with lock:
            flying -= 1
            return service(method, headers, body)

    record = play_query(exchange, batches(8), concurrency=8, query_id="q", clock=clock, sleep=clock.sleep, parallel=4)
    assert most > 1
    assert [batch.outcome for batch in record.batches] == ["answered"] * 8
    assert set(service.answered_200.values()) == {1} and len(service.answered_200) == 8


def test_wakes_and_sends_are_the_whole_contract():
    query = SnowflakeQuery(2, 1, give_up_late=False)
    assert query.start(0.0) == [Send(0, "POST")]
    (poll_wake,) = query.answer(0, "POST", 202, 0.1)
    assert isinstance(poll_wake, Wake) and poll_wake.at == pytest.approx(0.2)
    assert query.answer(0, "POST", 202, 0.15) == [], "an answer to nothing in flight is ignored"
    assert query.wake(0, poll_wake.token, 0.2) == [Send(0, "GET")]
    assert query.answer(0, "GET", 200, 0.3) == [Send(1, "POST")]
    assert query.records[0].outcome == "answered" and not query.finished
