"""A discrete-event model of one Snowflake query against the service, at real AWS quotas.

`make model` plays a grid of queries (1 M and 10 M rows; warehouse concurrency 8, 64
and 512; Comprehend quotas of 10 and 100 requests/s) through two designs and writes
bench/results/model.md:

- **before** (the design on main until issue 11): every batch runs `MapConcurrency` work items
  at once; a throttled call is retried in the function (full jitter from 50 ms, capped at 1 s,
  for 5 s), then Step Functions retries the work item (`ComprehendThrottled`: 1 s, x2, 8
  attempts, at most 20 s, full jitter) and, those spent, the batch fails. Every POST is
  accepted; every GET calls DescribeExecution.
- **after** (issue 11): a deployment-wide governor spends Comprehend's quota at R_gov =
  `ComprehendRequestsPerSecond` = `headroom` x R (95% by default, as docs/operators.md advises and the
  offline stack runs it). Batches are served in the order they were planned: PlanChunks books the
  batch's block of (its calls / R_gov) seconds in a second GCRA queue (`quota#comprehend/batches`:
  block start = max(now, tail), tail = start + calls/R_gov) and the execution waits in
  WaitForBatchTurn (floor of the wait, as plan_chunks returns it) before its Map starts. Inside the
  Map every call still reserves its own slot (GCRA, spacing 1/R_gov: a work item of k chunks
  reserves k consecutive slots, slot = max(tat, now), tat += k/R_gov) and calls at it; a slot
  further away than min(20 s, 200/R_gov) is waited for in the WaitForTurn state (woken 1 s
  early, the rest slept), at most once per work item, and every other wait is slept in the
  function. So per-call slots only arbitrate between the batches whose blocks have started. A
  POST is answered 429 (Retry-After) when the calls already admitted and not finished plus its
  own would pass R_gov x W (W = `AdmissionWindowSeconds`; a batch alone is always admitted). A
  GET reads DynamoDB and calls DescribeExecution at most once per batch per 15 s (from the
  execution's start) while the batch runs, and once it has ended (answer stored, or the failure
  path marked it) every 1 s until it sees the execution closed.

Snowflake's side is `local.snowflake.SnowflakeQuery`, the very policy the query driver plays
against the real service: AIMD concurrency (start at C, x0.5 on a POST's 429 at most once a
second, +1 per answered batch), re-POSTs with the same batch id after Retry-After (or 0.5 s
doubling to 10 s), polls 0.1 s growing x1.5 to 5 s.

`calibrate()` runs the local over-window workload (24 concurrent batches of 500 unique rows,
R = 5/s with the governor at 4.75/s, 100 ms calls, window 60 s, W = 45 s) through both designs
and returns the fields the benchmark reports for it, to set beside a local run (model.md's
calibration section does).

Assumptions and simplifications (also written to model.md):

1. Comprehend's quota is a sliding 1-s window of R admitted requests, as local/comprehend.py's
   stand-in enforces it; refused requests do not count against it. The quota is not shared
   with other callers unless `other_callers_rps` > 0 (Poisson calls that take quota and give up
   when refused). A call takes `call_latency_s`, uniform in the range given; a refused request
   `refused_request_s` (20 ms). In the after design, when no other caller shares the quota, the
   governor (R_gov) is no faster than the quota and each work item is one call (batches of at
   most 25 x `chunking.MAX_WORK_ITEMS` documents), a call is made at its slot without checking the
   window: GCRA's spacing keeps every 1-s window at R calls or fewer (tests/tooling/test_model.py checks
   the calls' times).
2. In the before design, throttled in-function retries are aggregated, not simulated one by
   one: while calls wait, the quota's window is full; when an admission leaves the window its
   place goes at once to one waiting call chosen uniformly at random (the real retries race for
   it: a call that has just been refused retries sooner than one that has waited, which the
   model ignores). A waiting call gives up when its 5-s budget is spent. Its throttled requests
   are the expected number of its retries in the time it waited (each refusal, then a wait of mean
   min(1 s, 50 ms x 2^attempt)/2), so throttle counts are expectations, not draws. Against
   `make bench`'s 16 x 1,000 rows at R = 5/s the model gives the measured time (116 s against
   117 s) but 2-3 times the throttles and Step Functions retries: the offline stack runs fewer
   work items truly at once (two cores, DynamoDB serialized), so read these counts as upper ends.
3. Every unique non-blank text is one document; a batch makes ceil(documents / 25) calls, grouped
   into work items by `sentiment_service.chunking.group_chunks`. Pooling of partly filled last
   chunks across batches is not modelled (with 100% unique rows and batches that are multiples
   of 25 rows there is none). A call that has been answered is never made again.
4. Billable units: documents have the bench corpus's log-normal lengths (bench/corpus.py:
   LogNormal(5.2, 0.9), at most 4,900 characters; a mean of about 272 characters, not 150),
   scaled to `chars_per_document` when that is given; units = max(3, ceil(characters / 100))
   per document, averaged exactly over that distribution.
5. Lambda: cold starts are ignored; handler times are linear in rows (`SERVICE_TIMES`); memory as
   template.yaml (API and orchestration functions 1,024 MB, AnalyzeChunks 256 MB, arm64).
   Sleeping in a function is billed as running. Peak concurrency counts the AnalyzeChunks
   functions running or sleeping (the API, plan and assemble functions run for well under a second
   each and are left out); the account limit (1,000) is reported, not enforced: beyond it real
   invocations would be throttled (Lambda.TooManyRequestsException, retried 4 times by Step
   Functions, then the batch fails).
6. Step Functions: state latency is folded into the handler times. Transitions per execution,
   before: ApplySettings, PlanChunks, the Map, AnalyzePooledChunk, AssembleResults (5), one per
   work item, one per task retry, one for BatchFailed. After, as statemachine/sentiment.asl.json
   has them: the same 5, TurnOfBatch and LanguagesDetected (7), WaitForBatchTurn when the batch waits for its block;
   per work item AnalyzeChunk, TurnLater, ChunksDone (3), and WaitForTurn, AnalyzeChunk,
   TurnLater again (3) when it hands a wait back; one per task retry; on failure ReleaseAdmission,
   MarkBatchEnded, BatchFailed (3). A timed-out execution enters no further state. Executions time
   out after 900 s, the wait for the batch's block included.
7. DynamoDB: latency ignored; request units per row as `make bench` measured them (0.22 write and
   0.11 read units a row for staging, planning, values and the answer), 1 read unit per GET,
   and after: 1 write unit per admission decision, release, slot reservation and claim of a
   DescribeExecution, 2 per block booked (the block and the batch's turnAt).
8. API Gateway: every POST and GET, 429s included. Network latency between Snowflake and AWS is
   folded into the handler times; a GET is answered at once (its ~20 ms are billed, not waited
   for: Snowflake's polls are 0.1-5 s apart).
9. The query: `rows` split into batches of `batch_rows` (the last one smaller); Snowflake sends
   them in order. The model does not give up on a late batch: it plays the query to the end so
   that it can count every batch that would be late under either reading of the 10 minutes
   (from the first POST, from the accepted one); the fate says aborted if any is. A failed
   batch ends the query (`stop_at_failure`, Snowflake aborts); the work then still running in
   AWS is not followed, so an aborted query's cost is what was spent up to the abort.
10. DescribeExecution shares one token bucket (300 burst, 15/s) with nothing else. Before, a GET
    refused by it answers 429 (Snowflake retries); after, a refused describe leaves the GET a
    202 and is tried again on the next GET. After, the execution closes when AssembleResults (or
    BatchFailed) ends, so the first describe after the batch ended sees it closed.
11. After: a 429's Retry-After is the time the governor needs to work off the excess at R_gov/s
    (at least 1 s, at most 60 s); admitted calls are released when the execution ends. Blocks are
    booked in the order PlanChunks runs, which is the order executions start; each batch then runs
    `MapConcurrency` work items at once and each reserves its per-call slot when it starts, so
    batches whose blocks overlap (at high R one batch's `MapConcurrency` calls in flight cannot
    use its whole block) share the slots round-robin. Snowflake's first GET comes 0.1 s after
    the POST's 202.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import math
import random
import time
from bisect import bisect_right
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from local.snowflake import SnowflakeQuery, Wake, query_summary
from sentiment_service.admission import MAX_RETRY_AFTER_SECONDS
from sentiment_service.chunking import MAX_DOCUMENTS_PER_CHUNK, MAX_WORK_ITEMS, group_chunks
from sentiment_service.governor import SLEEP_BREAK_EVEN_SECONDS, SLEEPING_CONCURRENCY

from . import prices

RESULTS = Path(__file__).resolve().parent / "results"

# The before design's retries (main until issue 11: sentiment_service/comprehend.py and the ASL).
IN_FUNCTION_BASE_S, IN_FUNCTION_CAP_S, IN_FUNCTION_BUDGET_S = 0.05, 1.0, 5.0
SFN_THROTTLE_RETRY = {"interval_s": 1.0, "backoff": 2.0, "max_attempts": 8, "max_delay_s": 20.0}
EXECUTION_TIMEOUT_S = 900.0
EPSILON = 1e-9
# The after design's waits (functions/analyze_chunks/app.py, functions/poll_batch/app.py).
WAKE_EARLY_S = 1.0
"""A WaitForTurn state ends this long before the kept slot (at least 1 s after it began); the function sleeps the rest."""
MAX_WAITS_HANDED_BACK = 1
DESCRIBE_EVERY_S, CONFIRM_EVERY_S = 15.0, 1.0
FAILURE_PATH_TRANSITIONS = {"before": 1, "after": 3}
"""States a failed execution enters: BatchFailed before; ReleaseAdmission, MarkBatchEnded, BatchFailed after."""

SERVICE_TIMES = {
    "post_s": (0.05, 20e-6),
    "get_s": (0.02, 0.0),
    "get_answer_s": (0.03, 10e-6),
    "plan_s": (0.10, 20e-6),
    "pooled_s": (0.05, 0.0),
    "assemble_s": (0.10, 30e-6),
}
"""Handler seconds as (fixed, per row of the batch): assumptions, not measurements."""
MEMORY_GB = {"api": 1.0, "plan": 1.0, "analyze": 0.25, "assemble": 1.0}
DYNAMODB_UNITS_PER_ROW = {"write": 0.22, "read": 0.11}
"""From bench/results/latest.json (10,000 x 1, ours): staging, plan, values, answer."""


def service_time(name: str, rows: int) -> float:
    fixed, per_row = SERVICE_TIMES[name]
    return fixed + per_row * rows


def units_per_document(chars_per_document: float | None = None, mu: float = 5.2, sigma: float = 0.9, cap: int = 4900) -> float:
    """Expected billable units of a document whose length is LogNormal(mu, sigma), capped, as in
    bench/corpus.py; scaled to a mean of `chars_per_document` when given. Exact: E[max(3,
    ceil(L/100))] = 3 + sum over k >= 3 of P(L > 100k)."""
    if chars_per_document is not None:
        mu = math.log(chars_per_document) - sigma**2 / 2
    over = [0.5 * math.erfc((math.log(100 * k) - mu) / (sigma * math.sqrt(2))) for k in range(3, cap // 100)]
    return 3 + sum(over)


def retry_times(refused_request_s: float) -> list[float]:
    """Expected times of a waiting call's retries after its first refusal, within the 5-s budget:
    each refusal takes `refused_request_s`, then the function waits full jitter (mean half of
    min(1 s, 50 ms x 2^attempt))."""
    times, elapsed, attempt = [], 0.0, 0
    while True:
        elapsed += refused_request_s + min(IN_FUNCTION_CAP_S, IN_FUNCTION_BASE_S * 2 ** min(attempt, 10)) / 2
        if elapsed > IN_FUNCTION_BUDGET_S:
            return times
        times.append(elapsed)
        attempt += 1


def throttled_attempts(times: list[float], waited_s: float) -> int:
    """Requests a call refused at its first attempt has had refused after waiting `waited_s`."""
    return 1 + bisect_right(times, waited_s - EPSILON)


@dataclass(frozen=True)
class Scenario:
    design: str = "after"
    """before | after."""
    rows: int = 1_000_000
    concurrency: int = 64
    """Snowflake's concurrent requests (the warehouse's C)."""
    batch_rows: int = 4000
    batch_mix: tuple[int, ...] = ()
    """Batch sizes in turn, instead of `batch_rows` for every batch (Snowflake's sizes vary)."""
    unique_share: float = 1.0
    """Share of rows that are unique non-blank texts within their batch."""
    quota_rps: float = 100.0
    """The account's Comprehend BatchDetectSentiment quota R."""
    governor_rps: float | None = None
    """ComprehendRequestsPerSecond (after); None: `headroom` x R."""
    headroom: float = 0.95
    """The share of R the governor spends when `governor_rps` is None (docs/operators.md's advice)."""
    call_latency_s: tuple[float, float] = (0.1, 0.3)
    refused_request_s: float = 0.02
    """How long a throttled request takes to be refused (before: it spaces the in-function retries)."""
    window_s: float = 600.0
    admission_window_s: float = 540.0
    map_concurrency: int = 4
    describe_burst: float = 300.0
    describe_rps: float = 15.0
    describe_every_s: float = DESCRIBE_EVERY_S
    confirm_every_s: float = CONFIRM_EVERY_S
    poll_first_s: float = 0.1
    poll_growth: float = 1.5
    poll_max_s: float = 5.0
    chars_per_document: float | None = None
    """Mean characters per document; None: the bench corpus's own lengths."""
    wait_state_beyond_s: float | None = None
    """Longer waits for a slot go to WaitForTurn; None: min(20 s, 200 / R_gov), as governor.py."""
    max_waits_handed_back: int = MAX_WAITS_HANDED_BACK
    batch_blocks: bool = True
    """After: batches wait for their block (TurnOfBatch); False plays the design without blocks."""
    after_item_transitions: int = 3
    wait_transitions: int = 3
    other_callers_rps: float = 0.0
    lambda_limit: int = 1000
    stop_at_failure: bool = True
    max_work_items: int = MAX_WORK_ITEMS
    seed: int = 1
    record_calls: bool = False
    """Keep every Comprehend request's time (ours: sent, admitted or not), for tests."""
    horizon_s: float = 30 * 86400.0

    @property
    def governor(self) -> float:
        """R_gov: ComprehendRequestsPerSecond."""
        return self.governor_rps or self.headroom * self.quota_rps

    @property
    def sleep_limit_s(self) -> float:
        if self.wait_state_beyond_s is not None:
            return self.wait_state_beyond_s
        return min(SLEEP_BREAK_EVEN_SECONDS, SLEEPING_CONCURRENCY / self.governor)

    def batch_sizes(self) -> list[int]:
        sizes, left = [], self.rows
        for size in itertools.cycle(self.batch_mix or (self.batch_rows,)):
            if left <= 0:
                return sizes
            sizes.append(min(size, left))
            left -= size
        raise AssertionError("unreachable")


class Batch:
    __slots__ = (
        "admitted",
        "answered_200",
        "block_start",
        "calls",
        "calls_done",
        "describes",
        "documents",
        "ended",
        "items",
        "last_describe",
        "map_started",
        "next_item",
        "number",
        "planned",
        "rows",
        "running",
        "started",
        "state",
    )

    def __init__(self, number: int, rows: int, unique_share: float, max_work_items: int):
        self.number, self.rows = number, rows
        self.documents = round(rows * unique_share)
        self.calls = math.ceil(self.documents / MAX_DOCUMENTS_PER_CHUNK)
        self.items = [item.chunk_count for item in group_chunks(self.calls, max_work_items)]
        self.next_item = self.running = self.describes = self.calls_done = self.answered_200 = 0
        self.state = "NEW"
        self.started = self.planned = self.block_start = self.map_started = self.ended = self.last_describe = -math.inf
        self.admitted = False


class Item:
    __slots__ = ("batch", "chunks_left", "lambda_started", "next_slot", "pool_index", "race_start", "retries", "token", "waits")

    def __init__(self, batch: Batch, chunks: int):
        self.batch, self.chunks_left = batch, chunks
        self.retries = self.waits = self.token = 0
        self.lambda_started: float | None = None
        self.next_slot = self.race_start = 0.0
        self.pool_index = -1


class Simulation:
    """One query through one design. `run()` returns the figures (see `result`)."""

    def __init__(self, scenario: Scenario):
        if scenario.design not in ("before", "after"):
            raise ValueError("design is 'before' or 'after'")
        self.s = scenario
        self.after = scenario.design == "after"
        self.rng = random.Random(scenario.seed)
        self.batches = [Batch(number, rows, scenario.unique_share, scenario.max_work_items) for number, rows in enumerate(scenario.batch_sizes())]
        self.query = SnowflakeQuery(
            len(self.batches),
            scenario.concurrency,
            window_s=scenario.window_s,
            give_up_late=False,
            abort_on_failure=scenario.stop_at_failure,
            poll_first_s=scenario.poll_first_s,
            poll_growth=scenario.poll_growth,
            poll_max_s=scenario.poll_max_s,
        )
        self.heap: list[tuple[float, int, Callable[[Any, float], None], Any]] = []
        heap, serial, heappush = self.heap, itertools.count(), heapq.heappush

        def push(at: float, handler: Callable[[Any, float], None], argument: Any = None) -> None:
            heappush(heap, (at, next(serial), handler, argument))

        self.push = push
        self.now = 0.0
        self.governor, self.quota = scenario.governor, scenario.quota_rps
        self.random = self.rng.random
        self.latency_low, self.latency_span = scenario.call_latency_s[0], scenario.call_latency_s[1] - scenario.call_latency_s[0]
        self.item_transitions = scenario.after_item_transitions if self.after else 1
        # Comprehend's quota: admission times in the last second (ours and other callers').
        self.window: list[float] = []
        self.window_head = 0
        self.racers: list[Item] = []
        self.retry_times = retry_times(scenario.refused_request_s)
        self.deadlines: deque[tuple[float, Item, int]] = deque()
        self.expiry_pending = False
        self.exact = (
            self.after and not scenario.other_callers_rps and self.governor <= self.quota and all(k == 1 for batch in self.batches for k in batch.items)
        )
        """After, with nothing else using the quota, the governor no faster than it and one call per
        work item: every call is made at its slot, and GCRA's spacing keeps each 1-s window at R
        calls or fewer, so the model schedules the call when it reserves the slot."""
        self.wake_pending = False
        self.tat = self.block_tat = 0.0
        self.sleep_limit = scenario.sleep_limit_s
        self.admitted_calls = 0
        self.capacity_calls = scenario.governor * scenario.admission_window_s
        self.tokens, self.tokens_at = scenario.describe_burst, 0.0
        # What the query cost and did.
        self.calls = self.throttles = 0
        self.documents = 0.0
        self.call_times: list[float] = []
        self.transitions = self.sfn_retries = self.turn_waits = self.batch_waits = 0
        self.describe_calls = self.describe_refused = self.get_429s = 0
        self.describe_per_second: dict[int, int] = {}
        self.lambdas = self.lambda_peak = self.lambda_invocations = 0
        self.gb_seconds = 0.0
        self.read_units = self.write_units = 0.0
        self.api_requests = 0

    # The event loop (`push(at, handler, argument)` schedules `handler(argument, at)`).

    def run(self) -> dict[str, Any]:
        started = time.perf_counter()
        self.snowflake(self.query.start(0.0), 0.0)
        if self.s.other_callers_rps:
            self.push(self.rng.expovariate(self.s.other_callers_rps), self.other_caller)
        heap, pop, query, horizon = self.heap, heapq.heappop, self.query, self.s.horizon_s
        while heap and not query.finished:
            at, _, handler, argument = pop(heap)
            if at > horizon:
                break
            self.now = at
            handler(argument, at)
        return self.result(time.perf_counter() - started)

    # Snowflake.

    def snowflake(self, actions: list, now: float) -> None:
        for action in actions:
            if type(action) is Wake:
                self.push(action.at, self.snowflake_wake, action)
            else:
                self.request(action.number, action.method, now)

    def snowflake_wake(self, wake: Wake, now: float) -> None:
        self.snowflake(self.query.wake(wake.number, wake.token, now), now)

    def request(self, number: int, method: str, now: float) -> None:
        """A POST is answered after its handler's time; a GET at once (its ~20 ms are billed only)."""
        self.api_requests += 1
        batch = self.batches[number]
        if method == "POST":
            status, retry_after, seconds = self.post(batch, now)
            self.lambda_brief(seconds, MEMORY_GB["api"])
            self.push(now + seconds, self.snowflake_answer, (number, method, status, retry_after))
            return
        status, seconds = self.get(batch, now)
        self.lambda_brief(seconds, MEMORY_GB["api"])
        self.snowflake_answer((number, method, status, None), now)

    def snowflake_answer(self, answer: tuple, now: float) -> None:
        number, method, status, retry_after = answer
        if status == 200:
            self.batches[number].answered_200 += 1
        self.snowflake(self.query.answer(number, method, status, now, retry_after), now)

    # The API: StartBatch and PollBatch.

    def post(self, batch: Batch, now: float) -> tuple[int, float | None, float]:
        seconds = service_time("post_s", batch.rows)
        if batch.state != "NEW":
            return 202, None, seconds
        if batch.calls == 0:
            batch.state, batch.started, batch.ended = "SUCCEEDED", now, now
            return 200, None, seconds
        if self.after:
            self.write_units += 1
            excess = self.admitted_calls + batch.calls - self.capacity_calls
            if excess > 0 and self.admitted_calls > 0:
                return 429, float(min(MAX_RETRY_AFTER_SECONDS, max(1, math.ceil(excess / self.s.governor)))), seconds
            self.admitted_calls += batch.calls
            batch.admitted = True
        batch.state = "STARTING"
        self.write_units += DYNAMODB_UNITS_PER_ROW["write"] * batch.rows
        self.read_units += DYNAMODB_UNITS_PER_ROW["read"] * batch.rows
        self.push(now + seconds, self.execution_start, batch)
        return 202, None, seconds

    def get(self, batch: Batch, now: float) -> tuple[int, float]:
        self.read_units += 1
        seconds = SERVICE_TIMES["get_s"][0]
        if self.after:
            # The batch record answers until a describe has seen the execution closed; once the
            # workflow has marked the batch ended (answer stored, or MarkBatchEnded), GETs ask every 1 s.
            closed = batch.state in ("SUCCEEDED", "FAILED", "TIMED_OUT")
            if not closed or (batch.calls and batch.last_describe < batch.ended):
                every = self.s.confirm_every_s if batch.state in ("SUCCEEDED", "FAILED") else self.s.describe_every_s
                if now - max(batch.started, batch.last_describe) < every - EPSILON or not self.describe(batch, now) or not closed:
                    return 202, seconds
            if batch.state == "SUCCEEDED":
                return 200, service_time("get_answer_s", batch.rows)
            return 500, seconds
        if not self.describe(batch, now):
            self.get_429s += 1
            return 429, seconds
        if batch.state == "SUCCEEDED":
            return 200, service_time("get_answer_s", batch.rows)
        if batch.state in ("FAILED", "TIMED_OUT"):
            return 500, seconds
        return 202, seconds

    def describe(self, batch: Batch, now: float) -> bool:
        """DescribeExecution through the account's token bucket."""
        self.tokens = min(self.s.describe_burst, self.tokens + (now - self.tokens_at) * self.s.describe_rps)
        self.tokens_at = now
        if self.tokens < 1:
            self.describe_refused += 1
            return False
        self.tokens -= 1
        self.describe_calls += 1
        if self.after:
            self.write_units += 1
        batch.describes += 1
        batch.last_describe = now
        second = int(now)
        self.describe_per_second[second] = self.describe_per_second.get(second, 0) + 1
        return True

    # The execution.

    def execution_start(self, batch: Batch, now: float) -> None:
        batch.state, batch.started = "RUNNING", now
        self.transitions += 2
        self.lambda_brief(service_time("plan_s", batch.rows), MEMORY_GB["plan"])
        self.push(now + EXECUTION_TIMEOUT_S, self.execution_timeout, batch)
        self.push(now + service_time("plan_s", batch.rows), self.planned, batch)

    def planned(self, batch: Batch, now: float) -> None:
        """PlanChunks returns; after, it has booked the batch's block: TurnOfBatch, and
        WaitForBatchTurn for the whole seconds until the block starts (plan_chunks.py)."""
        if batch.state != "RUNNING":
            return
        batch.planned = now
        if self.after:
            self.transitions += 1
            if self.s.batch_blocks and batch.calls:
                start = self.block_tat if self.block_tat > now else now
                self.block_tat = start + batch.calls / self.governor
                batch.block_start = start
                self.write_units += 2
                wait = math.floor(start - now + EPSILON)
                if wait > 0:
                    self.transitions += 1
                    self.batch_waits += 1
                    self.push(now + wait, self.map_start, batch)
                    return
        self.map_start(batch, now)

    def map_start(self, batch: Batch, now: float) -> None:
        if batch.state != "RUNNING":
            return
        batch.map_started = now
        self.transitions += 1
        if not batch.items:
            self.map_done(batch, now)
        for _ in range(min(self.s.map_concurrency, len(batch.items))):
            self.next_item(batch, now)

    def next_item(self, batch: Batch, now: float) -> None:
        item = Item(batch, 0)
        batch.running += 1
        self.lambdas += 1
        self.lambda_peak = max(self.lambda_peak, self.lambdas)
        self.start_item(item, now)

    def start_item(self, item: Item, now: float) -> None:
        """The Map's next work item, in a function counted as running (`item` is reused)."""
        batch = item.batch
        item.chunks_left, item.retries, item.waits, item.lambda_started = batch.items[batch.next_item], 0, 0, now
        batch.next_item += 1
        self.lambda_invocations += 1
        self.transitions += self.item_transitions
        if self.after:
            self.reserve(item, now)
            self.await_slot(item, now)
        else:
            self.attempt(item, now)

    def invoke(self, item: Item, now: float) -> None:
        """A work item's function again: a Step Functions retry (before), or its turn after a Wait
        state (after: its slot is kept)."""
        if item.batch.state != "RUNNING":
            return
        self.lambda_begin()
        item.lambda_started = now
        if self.after:
            self.await_slot(item, now)
        else:
            self.attempt(item, now)

    def item_done(self, item: Item, now: float) -> None:
        """A call of `item` was answered: the next chunk, or the next work item, or the Map's end."""
        batch = item.batch
        if batch.state != "RUNNING":
            self.abandon(item, now)
            return
        item.chunks_left -= 1
        if item.chunks_left:
            if self.after:
                self.await_slot(item, now)
            else:
                self.attempt(item, now)
            return
        if batch.next_item < len(batch.items):
            self.gb_seconds += (now - item.lambda_started) * MEMORY_GB["analyze"]
            self.start_item(item, now)
            return
        self.lambda_return(item, now)
        batch.running -= 1
        if batch.running == 0:
            self.map_done(batch, now)

    def map_done(self, batch: Batch, now: float) -> None:
        self.transitions += 3 if self.after else 2
        seconds = service_time("pooled_s", batch.rows) + service_time("assemble_s", batch.rows)
        self.lambda_brief(service_time("pooled_s", batch.rows), MEMORY_GB["analyze"])
        self.lambda_brief(service_time("assemble_s", batch.rows), MEMORY_GB["assemble"])
        self.push(now + seconds, self.execution_end, (batch, "SUCCEEDED"))

    def execution_end(self, ending: tuple[Batch, str], now: float) -> None:
        batch, state = ending
        if batch.state != "RUNNING":
            return
        batch.state, batch.ended = state, now
        if state == "FAILED":
            self.transitions += FAILURE_PATH_TRANSITIONS[self.s.design]
        if self.after:
            self.admitted_calls -= batch.calls
            self.write_units += 1 + (state == "SUCCEEDED")

    def execution_timeout(self, batch: Batch, now: float) -> None:
        self.execution_end((batch, "TIMED_OUT"), now)

    # Comprehend's quota.

    def room(self, now: float) -> bool:
        window, head, expired = self.window, self.window_head, now - 1.0 + EPSILON
        while head < len(window) and window[head] <= expired:
            head += 1
        if head > 4096:
            del window[:head]
            head = 0
        self.window_head = head
        return len(window) - head < self.quota

    def admit(self, item: Item, now: float) -> None:
        """The call of `item` made at `now` is admitted (`now` may be a slot ahead of the clock
        when the governor's spacing alone keeps the quota, see `exact`)."""
        if not self.exact:
            self.window.append(now)
        self.calls += 1
        batch = item.batch
        batch.calls_done += 1
        self.documents += batch.documents / batch.calls
        if self.s.record_calls:
            self.call_times.append(now)
        self.push(now + self.latency_low + self.latency_span * self.random(), self.item_done, item)

    def other_caller(self, _: Any, now: float) -> None:
        if not self.racers and self.room(now):
            self.window.append(now)
        self.push(now + self.rng.expovariate(self.s.other_callers_rps), self.other_caller)

    # Before: calls race for the quota, retried in the function for 5 s, then by Step Functions.

    def attempt(self, item: Item, now: float) -> None:
        if not self.racers and self.room(now):
            self.admit(item, now)
            return
        if self.s.record_calls:
            self.call_times.append(now)
        item.token += 1
        item.race_start = now
        item.pool_index = len(self.racers)
        self.racers.append(item)
        self.deadlines.append((now + IN_FUNCTION_BUDGET_S, item, item.token))
        if not self.expiry_pending:
            self.expiry_pending = True
            self.push(now + IN_FUNCTION_BUDGET_S, self.give_up)
        if not self.wake_pending:
            self.wake_pending = True
            self.push(self.window[self.window_head] + 1.0, self.quota_frees)

    def leave_race(self, item: Item) -> None:
        racers, index = self.racers, item.pool_index
        last = racers.pop()
        if last is not item:
            racers[index] = last
            last.pool_index = index
        item.pool_index = -1

    def quota_frees(self, _: Any, now: float) -> None:
        self.wake_pending = False
        racers = self.racers
        while racers and self.room(now):
            item = racers[self.rng.randrange(len(racers))]
            self.leave_race(item)
            if item.batch.state != "RUNNING":
                self.abandon(item, now)
                continue
            self.throttles += throttled_attempts(self.retry_times, now - item.race_start)
            self.admit(item, now)
        if racers:
            self.wake_pending = True
            self.push(self.window[self.window_head] + 1.0, self.quota_frees)

    def give_up(self, _: Any, now: float) -> None:
        """Calls whose 5-s budget is spent fail their work item; then wait for the next such call.
        Calls join the race in time order, so their deadlines are in order: one event suffices."""
        deadlines = self.deadlines
        while deadlines and deadlines[0][0] <= now + EPSILON:
            _, item, token = deadlines.popleft()
            if item.token == token and item.pool_index >= 0:
                self.fail_race(item, now)
        while deadlines and (deadlines[0][2] != deadlines[0][1].token or deadlines[0][1].pool_index < 0):
            deadlines.popleft()
        self.expiry_pending = bool(deadlines)
        if deadlines:
            self.push(deadlines[0][0], self.give_up)

    def fail_race(self, item: Item, now: float) -> None:
        self.leave_race(item)
        self.throttles += throttled_attempts(self.retry_times, IN_FUNCTION_BUDGET_S)
        self.lambda_return(item, now)
        batch = item.batch
        if batch.state != "RUNNING":
            return
        retry = SFN_THROTTLE_RETRY
        if item.retries >= retry["max_attempts"]:
            self.execution_end((batch, "FAILED"), now)
            return
        delay = self.rng.uniform(0, min(retry["max_delay_s"], retry["interval_s"] * retry["backoff"] ** item.retries))
        item.retries += 1
        self.sfn_retries += 1
        self.transitions += 1
        self.push(now + delay, self.invoke, item)

    # After: the governor.

    def reserve(self, item: Item, now: float) -> None:
        """GCRA: the item's remaining chunks take consecutive slots from max(tat, now)."""
        first = self.tat if self.tat > now else now
        self.tat = first + item.chunks_left / self.governor
        item.next_slot = first
        self.write_units += 1

    def await_slot(self, item: Item, now: float) -> None:
        slot = item.next_slot if item.next_slot > now else now
        wait = slot - now
        if wait > self.sleep_limit and item.waits < self.s.max_waits_handed_back:
            # TurnLater: WaitForTurn for the whole seconds to a second before the slot, kept.
            self.lambda_return(item, now)
            self.transitions += self.s.wait_transitions
            self.turn_waits += 1
            item.waits += 1
            self.push(now + max(1, math.floor(wait - WAKE_EARLY_S)), self.invoke, item)
        elif self.exact:
            self.admit(item, slot)
        elif wait <= EPSILON:
            self.call_at_slot(item, now)
        else:
            self.push(slot, self.call_at_slot, item)

    def call_at_slot(self, item: Item, now: float) -> None:
        if item.batch.state != "RUNNING":
            self.abandon(item, now)
            return
        if self.room(now):
            item.next_slot += 1 / self.governor
            self.admit(item, now)
            return
        if self.s.record_calls:
            self.call_times.append(now)
        self.throttles += 1
        self.reserve(item, now)
        self.await_slot(item, now)

    # Lambda.

    def lambda_brief(self, seconds: float, memory_gb: float) -> None:
        """An API, plan or assemble function: billed, but too brief to count towards concurrency."""
        self.lambda_invocations += 1
        self.gb_seconds += seconds * memory_gb

    def lambda_begin(self) -> None:
        """A work item's function starts: it counts towards concurrency until it returns."""
        self.lambdas += 1
        self.lambda_invocations += 1
        if self.lambdas > self.lambda_peak:
            self.lambda_peak = self.lambdas

    def lambda_return(self, item: Item, now: float) -> None:
        if item.lambda_started is not None:
            self.gb_seconds += (now - item.lambda_started) * MEMORY_GB["analyze"]
            self.lambdas -= 1
            item.lambda_started = None

    def abandon(self, item: Item, now: float) -> None:
        """The execution ended (failed or timed out) while this work item ran: it stops here."""
        self.lambda_return(item, now)

    # Figures.

    def result(self, wall_s: float) -> dict[str, Any]:
        s = self.s
        records = self.query.records
        summary = query_summary(records, self.query.limits, s.window_s, self.query.ended_at)
        rows = sum(batch.rows for batch in self.batches)
        answered_rows = sum(batch.rows for batch, record in zip(self.batches, records, strict=True) if record.outcome == "answered")
        units = self.documents * units_per_document(s.chars_per_document)
        cost = {
            "comprehend": units * prices.COMPREHEND_PER_UNIT,
            "step_functions": self.transitions * prices.STEP_FUNCTIONS_PER_TRANSITION,
            "lambda": self.gb_seconds * prices.LAMBDA_PER_GB_SECOND_ARM64 + self.lambda_invocations * prices.LAMBDA_PER_REQUEST,
            "dynamodb": self.write_units * prices.DYNAMODB_PER_WRITE_UNIT + self.read_units * prices.DYNAMODB_PER_READ_UNIT,
            "api_gateway": self.api_requests * prices.API_GATEWAY_PER_REQUEST,
        }
        per_million = 1_000_000 / answered_rows if answered_rows else 0.0
        unfinished = not self.query.finished
        if unfinished:
            fate = f"unfinished at the {s.horizon_s:.0f}-s horizon"
        elif summary["failed"]:
            fate = f"aborted: a batch failed at {self.query.ended_at:.0f} s"
        elif summary["late_after_accepted"]:
            fate = "aborted: batches late"
        elif summary["late_after_first_post"]:
            fate = "aborted if the 10 min count from the first POST"
        else:
            fate = "completes"
        return {
            "scenario": asdict(s),
            "fate": fate,
            "aborted": fate != "completes",
            "seconds": summary["seconds"],
            "floor_seconds": round(sum(batch.calls for batch in self.batches) / s.quota_rps, 1),
            "batches": len(self.batches),
            "answered": sum(record.outcome == "answered" for record in records),
            "answered_once": all(batch.answered_200 <= 1 for batch in self.batches),
            "failed": summary["failed"],
            "not_answered": sum(record.outcome in ("aborted", "pending") for record in records),
            "late_after_first_post": summary["late_after_first_post"],
            "late_after_accepted": summary["late_after_accepted"],
            "accepted_to_answered_s": summary["accepted_to_answered_s"],
            "first_post_to_answered_s": summary["first_post_to_answered_s"],
            "post_429s": summary["post_429s"],
            "concurrency_limit_min": summary["concurrency_limit_min"],
            "gets_per_batch": summary["gets_per_batch"],
            "get_429s": self.get_429s,
            "comprehend_calls": self.calls,
            "comprehend_calls_expected": sum(batch.calls for batch in self.batches),
            "throttled_requests": self.throttles,
            "throttled_requests_per_call": round(self.throttles / self.calls, 2) if self.calls else 0.0,
            "step_functions_retries": self.sfn_retries,
            "turn_waits": self.turn_waits,
            "batch_waits": self.batch_waits,
            "transitions": self.transitions,
            "transitions_per_batch": round(self.transitions / len(self.batches), 2) if self.batches else 0.0,
            "describe_execution_calls": self.describe_calls,
            "describe_execution_refused": self.describe_refused,
            "describe_execution_calls_per_batch": round(self.describe_calls / len(self.batches), 2) if self.batches else 0.0,
            "describe_execution_peak_per_second": max(self.describe_per_second.values(), default=0),
            "lambda_peak": self.lambda_peak,
            "lambda_over_limit": self.lambda_peak > s.lambda_limit,
            "lambda_gb_seconds": round(self.gb_seconds, 1),
            "api_requests": self.api_requests,
            "rows": rows,
            "rows_answered": answered_rows,
            "usd": {service: round(value, 2) for service, value in cost.items()},
            "usd_per_million_rows": {service: round(value * per_million, 2) for service, value in cost.items()},
            "usd_per_million_rows_total": round(sum(cost.values()) * per_million, 2),
            "model_seconds": round(wall_s, 2),
        }


def simulate(scenario: Scenario) -> dict[str, Any]:
    return Simulation(scenario).run()


# The local over-window workload, for comparing with a local run of the benchmark.

OVER_WINDOW = Scenario(
    rows=24 * 500,
    concurrency=24,
    batch_rows=500,
    quota_rps=5.0,
    call_latency_s=(0.1, 0.1),
    window_s=60.0,
    admission_window_s=45.0,
    map_concurrency=4,
    stop_at_failure=False,
)
CALIBRATION_FIELDS = (
    "answered_correctly",
    "late_after_first_post",
    "late_after_accepted",
    "failed",
    "accepted_to_answered_s",
    "first_post_to_answered_s",
    "post_429s",
    "throttled_requests_per_call",
    "step_functions_retries",
    "describe_execution_calls_per_batch",
    "describe_execution_peak_per_second",
)


MEASURED_OVER_WINDOW = {
    "answered_correctly": 24,
    "late_after_first_post": 11,
    "late_after_accepted": 0,
    "failed": 0,
    "accepted_to_answered_s": {"min": 8.2, "median": 36.7, "p95": 42.14, "max": 47.16},
    "first_post_to_answered_s": {"min": 8.4, "median": 59.73, "p95": 106.87, "max": 107.18},
    "post_429s": 17,
    "throttled_requests_per_call": 0.015,
    "step_functions_retries": 0,
    "describe_execution_calls_per_batch": 2.58,
    "describe_execution_peak_per_second": 5,
    "seconds": 107.18,
    "comprehend_calls": 480,
    "transitions_per_batch": 67.96,
}
"""`make bench`'s over-window run of the after design (bench/results/summary.md: offline stack, stand-in
quota 5/s, governor 4.75/s, 100 ms calls); transitions per batch = 135.92 a thousand rows x 0.5."""

CALIBRATION_NOTE = """The model's after design against the measured run: the same outcome (every batch answered, none
late after its accepted POST, none failed, no Step Functions retry), batches late after their first
POST the same (11), about as many POST 429s (18 against 17), the same Comprehend calls and the same
transitions per batch (7 states, WaitForBatchTurn for all batches but the first, 3 per call), and
times within 3% where the quota decides them: the query 104.2 s against 107.2, accepted -> answered
median 36.3 s against 36.7 and max 46.3 against 47.2. The model's governing is exact: calls leave at
their slots, so it has no throttles; offline, a few calls leave a little after their slots and bunch
into one of the stand-in's 1-s windows (7 throttles, 0.015 a call). Short batches are where they
differ: the quickest batch is answered 8.2 s after it was accepted offline, where the model needs
4.9 for 20 calls, because the handlers share two cores with DynamoDB and the stand-in.
DescribeExecution per batch is near (2.42 against 2.58; the model, too, confirms an ended batch with
a describe every 1 s until it sees the execution closed, and otherwise describes every 15 s from the
start); its peak per second is higher (8 against 5) because the model's batches, accepted within the
same second, reach their 15-s describes together, where the offline run's spread over Snowflake's
poll intervals."""


def calibrate(**overrides: Any) -> dict[str, dict[str, Any]]:
    """The over-window workload (24 x 500 unique rows, R = 5/s with the governor at 4.75/s, 100 ms
    calls, window 60 s, W = 45 s, MapConcurrency 4) through both designs: the fields the benchmark
    reports, per design."""
    summaries = {}
    for design in ("before", "after"):
        result = simulate(replace(OVER_WINDOW, design=design, **overrides))
        result["answered_correctly"] = result["answered"]
        extra = {name: result[name] for name in ("seconds", "comprehend_calls", "transitions_per_batch")}
        summaries[design] = {name: result[name] for name in CALIBRATION_FIELDS} | extra
    return summaries


def calibration_markdown(figures: dict[str, dict[str, Any]]) -> list[str]:
    """calibrate()'s figures beside the measured run's."""

    def text(value: Any) -> str:
        if isinstance(value, dict):
            return " / ".join(f"{value[key]:g}" for key in ("min", "median", "p95", "max"))
        return f"{value:g}"

    lines = [
        "## Calibration: the over-window workload, model against `make bench`",
        "",
        (
            "24 concurrent batches of 500 unique rows, stand-in quota R = 5 requests/s with the governor at 4.75, 100 ms calls, window 60 s, "
            "AdmissionWindowSeconds 45 (`make model ARGS=--calibrate`; measured: bench/results/summary.md, the after design)."
        ),
        "",
        "| figure | measured (after) | model, after | model, before |",
        "|---|---|---|---|",
    ]
    for name, measured in MEASURED_OVER_WINDOW.items():
        label = name.replace("_s", " s (min / median / p95 / max)") if name.endswith("_to_answered_s") else name
        lines.append(f"| {label.replace('_', ' ')} | {text(measured)} | {text(figures['after'][name])} | {text(figures['before'][name])} |")
    return [*lines, "", CALIBRATION_NOTE]


# The grid.


MIXED_BATCHES = (4000,) + (500,) * 7
"""One batch of 4,000 rows for every seven of 500: Snowflake's batch sizes vary."""


def grid() -> list[Scenario]:
    scenarios = []
    for rows in (1_000_000, 10_000_000):
        for concurrency in (8, 64, 512):
            for quota in (10.0, 100.0):
                scenarios.append(Scenario(rows=rows, concurrency=concurrency, batch_rows=4000, quota_rps=quota))
    scenarios += [Scenario(rows=1_000_000, concurrency=64, batch_rows=500, quota_rps=quota) for quota in (10.0, 100.0)]
    scenarios += [Scenario(rows=1_000_000, concurrency=64, batch_mix=MIXED_BATCHES, quota_rps=quota) for quota in (10.0, 100.0)]
    return scenarios


def run_grid(scenarios: list[Scenario] | None = None) -> list[dict[str, Any]]:
    return [simulate(replace(scenario, design=design)) for scenario in scenarios or grid() for design in ("before", "after")]


def seconds_text(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def batch_text(scenario: dict[str, Any]) -> str:
    mix = scenario["batch_mix"]
    if not mix:
        return f"{scenario['batch_rows']:,}"
    counts = {size: mix.count(size) for size in dict.fromkeys(mix)}
    return " + ".join(f"{count} x {size:,}" if count > 1 else f"{size:,}" for size, count in counts.items())


def per_million(result: dict[str, Any]) -> str:
    """$ per million rows; for a query a failed batch ended, what it spent by then."""
    if result["rows_answered"] and not result["failed"]:
        return f"{result['usd_per_million_rows_total']:,.2f}"
    return f"- (${sum(result['usd'].values()):,.2f} spent)"


def markdown(results: list[dict[str, Any]], elapsed_s: float, calibration: dict[str, dict[str, Any]] | None = None) -> str:
    lines = [
        "# Model: one Snowflake query at real quotas, before and after issue 11",
        "",
        (
            f"Written by `make model` ({elapsed_s:.1f} s for {len(results)} runs); the assumptions are bench/model.py's docstring, repeated below. "
            f"Prices {prices.REGION} as of {prices.PRICES_AS_OF}. Calls take 100-300 ms; Snowflake window 600 s; admission window 540 s; MapConcurrency 4; "
            "after, the governor at 95% of R and batches served in the order they were planned (blocks); "
            "DescribeExecution 300 burst, 15/s. A late or failed batch aborts a real query: `fate` says so, but the model plays on after "
            "lateness to count late batches."
        ),
        "",
        (
            "| rows | C | rows/batch | R/s | design | fate | done s (floor) | late: from first POST / from accepted | failed | POST 429s | "
            "throttled requests per call | SFN retries / batch waits / turn waits | DescribeExecution calls, peak/s, refused, GET 429s | peak "
            "Lambdas | $/M rows |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        s = result["scenario"]
        peak = f"**{result['lambda_peak']:,}**" if result["lambda_over_limit"] else f"{result['lambda_peak']:,}"
        lines.append(
            f"| {s['rows']:,} | {s['concurrency']} | {batch_text(s)} | {s['quota_rps']:.0f} | {s['design']} | {result['fate']} | "
            f"{seconds_text(result['seconds'])} ({seconds_text(result['floor_seconds'])}) | {result['late_after_first_post']} / "
            f"{result['late_after_accepted']} | {result['failed']} | "
            f"{result['post_429s']:,} | {result['throttled_requests_per_call']} | {result['step_functions_retries']:,} / "
            f"{result['batch_waits']:,} / {result['turn_waits']:,} | "
            f"{result['describe_execution_calls']:,}, {result['describe_execution_peak_per_second']}, {result['describe_execution_refused']:,}, "
            f"{result['get_429s']:,} | {peak} | {per_million(result)} |"
        )
    lines += [
        "",
        (
            "Bold: above the account's default 1,000 concurrent Lambda functions (not enforced by the model). Floor: calls / R (after, the "
            "governor's own floor is calls / 0.95 R)."
        ),
        "Batch waits: executions that waited in WaitForBatchTurn for their block; turn waits: work items that handed a wait to WaitForTurn.",
        "A failed batch ends the query: its figures stop there (work still running in AWS is not followed) and $ is what was spent by then.",
        "",
        "## Timing of answered batches (seconds: min / median / p95 / max)",
        "",
        "| rows | C | rows/batch | R/s | design | accepted -> answered | first POST -> answered | lowest concurrency limit |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        s = result["scenario"]

        def spread(values: dict) -> str:
            return " / ".join(seconds_text(values[key]) for key in ("min", "median", "p95", "max"))

        lines.append(
            f"| {s['rows']:,} | {s['concurrency']} | {batch_text(s)} | {s['quota_rps']:.0f} | {s['design']} | {spread(result['accepted_to_answered_s'])} | "
            f"{spread(result['first_post_to_answered_s'])} | {result['concurrency_limit_min']} |"
        )
    lines += [
        "",
        "## Cost per million rows by service (USD)",
        "",
        "| rows | C | rows/batch | R/s | design | Comprehend | Step Functions | Lambda | DynamoDB | API Gateway | total |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        s, usd = result["scenario"], result["usd_per_million_rows"]
        if not result["rows_answered"] or result["failed"]:
            spent = ", ".join(f"{service} ${value:,.2f}" for service, value in result["usd"].items())
            lines.append(
                f"| {s['rows']:,} | {s['concurrency']} | {batch_text(s)} | {s['quota_rps']:.0f} | {s['design']} | aborted; spent {spent} ||||| "
                f"{per_million(result)} |"
            )
            continue
        lines.append(
            f"| {s['rows']:,} | {s['concurrency']} | {batch_text(s)} | {s['quota_rps']:.0f} | {s['design']} | {usd['comprehend']:,.2f} | "
            f"{usd['step_functions']:,.2f} | "
            f"{usd['lambda']:,.2f} | {usd['dynamodb']:,.2f} | {usd['api_gateway']:,.2f} | {result['usd_per_million_rows_total']:,.2f} |"
        )
    if calibration is not None:
        lines += ["", *calibration_markdown(calibration)]
    lines += ["", "## Assumptions", "", __doc__.split("Assumptions and simplifications (also written to model.md):", 1)[1].strip(), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.model", description="Play the grid of queries before and after issue 11; print and write bench/results/model.md."
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "model.md")
    parser.add_argument("--calibrate", action="store_true", help="print calibrate()'s figures for the local over-window workload instead")
    args = parser.parse_args(argv)
    if args.calibrate:
        import json

        print(json.dumps(calibrate(), indent=1))
        return 0
    started = time.perf_counter()
    results = run_grid()
    elapsed = time.perf_counter() - started
    text = markdown(results, elapsed, calibrate())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
