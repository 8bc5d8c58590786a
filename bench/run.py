"""`make bench`: our service against the seed design on the same Snowflake-like workloads.

Both run on the offline stack with the Comprehend stand-in at a realistic latency and a
per-second request quota (throttling beyond it). Every figure is measured: Comprehend calls
and billable units from the stand-in, state transitions from execution histories, Lambda
invocations and handler seconds from the in-process seam, DynamoDB capacity units from
every call's items, and wall-clock time from the first POST to the last 200.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import threading
import time
import tracemalloc
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.apigateway import proxy_event
from local.comprehend import StandIn, billable_units
from local.console import Console
from local.server import LocalService
from local.snowflake import Exchange, batch_body, play_query, poll, run_batch, snowflake_headers
from sentiment_service.chunking import MAX_DOCUMENTS_PER_CHUNK, SUPPORTED_LANGUAGES, normalize_argument
from sentiment_service.workflow import Workflow

from . import prices
from .baseline import MEMORY_MB as SEED_MEMORY_MB
from .baseline import SeedDesign
from .corpus import corpus

RESULTS = Path(__file__).resolve().parent / "results"
WORKLOADS = [(100, 1), (1000, 1), (10_000, 1), (1000, 4), (1000, 16)]
"""(rows per batch, concurrent batches)."""


@dataclass
class Meter:
    """What one workload cost, counted as AWS would bill it."""

    lambda_seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    lambda_invocations: Counter = field(default_factory=Counter)
    read_units: float = 0.0
    write_units: float = 0.0
    api_requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_lambda(self, function: str, seconds: float) -> None:
        with self.lock:
            self.lambda_seconds[function] += seconds
            self.lambda_invocations[function] += 1

    def on_dynamodb(self, action: str, request: dict, response: dict) -> None:
        reads = writes = 0.0
        if action == "PutItem":
            writes = units(item_bytes(request["Item"]), 1024)
        elif action == "BatchWriteItem":
            writes = sum(
                units(item_bytes(entry["PutRequest"]["Item"]), 1024)
                for entries in request["RequestItems"].values()
                for entry in entries
                if "PutRequest" in entry
            )
        elif action in ("UpdateItem", "DeleteItem"):
            writes = 1
        elif action == "GetItem":
            reads = units(item_bytes(response.get("Item", {})), 4096) if response.get("Item") else 1
        elif action == "Query":
            reads = max(1, units(sum(item_bytes(item) for item in response.get("Items", [])), 4096))
        elif action == "BatchGetItem":
            reads = 0.5 * sum(len(request_items.get("Keys", [])) for request_items in request["RequestItems"].values())
        with self.lock:
            self.read_units += reads
            self.write_units += writes


def units(size: int, per: int) -> int:
    return max(1, math.ceil(size / per))


def item_bytes(item: dict) -> int:
    """DynamoDB's item size: attribute names plus values (numbers about half their digits)."""
    return sum(len(name.encode()) + value_bytes(value) for name, value in item.items())


def value_bytes(value: dict) -> int:
    ((kind, content),) = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "N":
        return len(content) // 2 + 1
    if kind == "B":
        return len(content) * 3 // 4
    if kind == "L":
        return 3 + sum(value_bytes(element) + 1 for element in content)
    if kind == "M":
        return 3 + item_bytes(content)
    return 1


@dataclass
class Run:
    """One workload on one design."""

    design: str
    rows: int
    concurrency: int
    completed: bool
    reason: str
    seconds: float
    texts: list[list[Any]]
    meter: Meter
    stand_in: StandIn
    transitions: int = 0
    sfn_retries: int = 0
    projected: bool = False
    memory_mb: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def drive(exchange: Exchange, batches: list[list[Any]], budget_s: float, max_wait_s: float = 1.0) -> tuple[bool, str, float]:
    """Snowflake's loop (local/snowflake.run_batch) for every batch at once; polls wait at most `max_wait_s`."""
    started = time.monotonic()
    deadline = started + budget_s
    outcome: dict[int, str] = {}

    def one(number: int, texts: list[Any]) -> None:
        status, answer = run_batch(
            exchange, snowflake_headers(f"{uuid.uuid4()}:1:{number}:0:0"), batch_body(texts).encode("utf-8"), deadline, max_wait_s=max_wait_s
        )
        if status == 200 and [row for row, _ in answer["data"]] == list(range(len(texts))):
            outcome[number] = "ok"
        elif status == 202:
            outcome[number] = f"not finished within the benchmark's budget of {budget_s:.0f} s"
        else:
            outcome[number] = f"answered {status}: {str(answer)[:160]}"

    threads = [threading.Thread(target=one, args=(number, texts)) for number, texts in enumerate(batches)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reasons = sorted({reason for reason in outcome.values() if reason != "ok"})
    return not reasons, "; ".join(reasons), time.monotonic() - started


Player = Callable[[Callable[..., tuple], list[list[Any]], float], tuple[bool, str, float, dict[str, Any]]]
"""How Snowflake plays a workload against the exchange: (completed, reason, seconds, extra figures)."""


def drive_all(exchange: Callable[..., tuple], batches: list[list[Any]], budget_s: float) -> tuple[bool, str, float, dict[str, Any]]:
    return (*drive(lambda method, headers, body: exchange(method, headers, body)[:2], batches, budget_s), {})


class OurStack:
    """One offline deployment of ours, measured workload after workload: what one workload leaves
    (the result cache) is there for the next, as in a real account."""

    def __init__(self, latency_ms: float, quota_rps: float, parameters: dict[str, str]):
        self.meter = Meter()
        self.stand_in = StandIn(latency_s=latency_ms / 1000, quota_rps=quota_rps)
        self.service = LocalService(
            port=0,
            aws_port=0,
            stand_in=self.stand_in,
            say=lambda line: None,
            parameters=parameters,
            lambda_listener=self._on_lambda,
            dynamodb_listener=self._on_dynamodb,
        )
        self.service.start()

    def _on_lambda(self, function: str, event: dict, errored: bool, seconds: float) -> None:
        self.meter.on_lambda(function, seconds)

    def _on_dynamodb(self, action: str, request: dict, response: dict) -> None:
        """Metered by the current workload's meter: run() starts a new one for each workload."""
        self.meter.on_dynamodb(action, request, response)

    def run(self, batches: list[list[Any]], budget_s: float, player: Player = drive_all) -> Run:
        self.meter = meter = Meter()
        self.stand_in.calls = self.stand_in.answered = self.stand_in.throttled = self.stand_in.units = self.stand_in.detection_units = 0
        self.stand_in.documents.clear()
        self.stand_in.detection_documents.clear()
        before = {execution["executionArn"] for execution in self.service.executions()}
        described: list[float] = []
        describe = Workflow.describe

        def counted_describe(workflow: Workflow, name: str) -> Any:
            with meter.lock:
                described.append(time.monotonic())
            return describe(workflow, name)

        def exchange(method: str, headers: dict, body: bytes | None) -> tuple[int, Any, dict[str, str]]:
            with meter.lock:
                meter.api_requests += 1
            status, response_headers, raw = self.service.handle(method, "/sentiment", headers, body or b"")
            if response_headers.get("Content-Encoding") == "gzip":
                raw = gzip.decompress(raw)
            return status, json.loads(raw) if raw else None, response_headers

        Workflow.describe = counted_describe  # type: ignore[method-assign]
        try:
            completed, reason, seconds, extra = player(exchange, batches, budget_s)
        finally:
            Workflow.describe = describe  # type: ignore[method-assign]
        extra["describe_execution_calls_per_batch"] = round(len(described) / len(batches), 2)
        extra["describe_execution_peak_per_second"] = max(Counter(int(moment) for moment in described).values(), default=0)
        transitions = retries = 0
        for execution in self.service.executions():
            if execution["executionArn"] in before:
                continue
            events = self.service.history(execution["executionArn"])
            entered = sum(event["type"].endswith("StateEntered") for event in events)
            scheduled = sum(event["type"] == "LambdaFunctionScheduled" for event in events)
            tasks = sum(event["type"] == "TaskStateEntered" for event in events)
            transitions += entered + (scheduled - tasks)
            retries += scheduled - tasks
        memory = {spec.logical_id: spec.memory_mb for spec in self.service.functions()}
        return Run(
            "ours",
            len(batches[0]),
            len(batches),
            completed,
            reason,
            seconds,
            batches,
            meter,
            self.stand_in,
            transitions,
            retries,
            memory_mb=memory,
            extra=extra,
        )

    def stop(self) -> None:
        self.service.stop(drain_s=300)


def run_ours(batches: list[list[Any]], latency_ms: float, quota_rps: float, parameters: dict[str, str], budget_s: float, player: Player = drive_all) -> Run:
    stack = OurStack(latency_ms, quota_rps, parameters)
    try:
        return stack.run(batches, budget_s, player)
    finally:
        stack.stop()


CACHE_WORKLOAD = {"rows": 1000, "batches": 16, "growth": 0.05}
"""The result cache's scenarios: the 16 x 1,000 query cold, run again under new batch ids, and
after the table grew by new texts, 5% of its distinct texts."""


def grown(batches: list[list[Any]], growth: float) -> list[list[Any]]:
    """Each batch with new texts added, `growth` of its distinct texts: the reviews table a day later."""
    result = []
    for number, batch in enumerate(batches):
        added = round(len(set(analysed(batch))) * growth)
        fresh = [text for text in corpus(3 * added, seed=777_000 + number) if isinstance(text, str) and text.strip()][:added]
        result.append(batch + [f"{text} (added {number}-{index})" for index, text in enumerate(fresh)])
    return result


def run_cache_scenarios(
    latency_ms: float, quota_rps: float, parameters: dict[str, str], rows: int = CACHE_WORKLOAD["rows"], count: int = CACHE_WORKLOAD["batches"]
) -> list[dict[str, Any]]:
    batches = [corpus(rows, seed=1000 * count + number) for number in range(count)]
    stack = OurStack(latency_ms, quota_rps, parameters)
    try:
        cold = {**figures(stack.run(batches, 300), quota_rps), "scenario": "cold"}
        rerun = {**figures(stack.run(batches, 300), quota_rps), "scenario": "rerun"}
        incremental = {**figures(stack.run(grown(batches, CACHE_WORKLOAD["growth"]), 300), quota_rps), "scenario": "incremental"}
    finally:
        stack.stop()
    for entry in (cold, rerun, incremental):
        entry["cortex_ai_sentiment_usd_per_million_rows"] = prices.cortex_ai_sentiment_usd_per_million_rows(entry["mean_characters_per_row"])
    rerun["comprehend_calls_to_cold"] = round(rerun["comprehend_calls"] / cold["comprehend_calls"], 3)
    rerun["cost_to_cold"] = round(rerun["usd_per_million_rows_total"] / cold["usd_per_million_rows_total"], 4)
    incremental["comprehend_calls_to_cold"] = round(incremental["comprehend_calls"] / cold["comprehend_calls"], 3)
    incremental["cost_to_cold"] = round(
        incremental["usd_per_million_rows_total"] * incremental["rows"] / (cold["usd_per_million_rows_total"] * cold["rows"]), 4
    )
    return [cold, rerun, incremental]


OVER_WINDOW = {"batches": 24, "rows": 500, "window_s": 60.0, "admission_window_s": 45}
"""Snowflake's 10 minutes scaled to the bench quota: 24 batches of 500 unique texts need 480 calls,
96 s at 5 requests/s, more than the 60-s window, as 64 batches of ~3,750 rows are against a
10 requests/s quota and 600 s. Admission answers 429 for what does not fit 45 s."""


MIXED_LANGUAGES = {"batches": 4, "rows": 500}
"""A table of reviews in Comprehend's 12 sentiment languages, run with its languages given and with 'auto'."""


def language_batches(batches: int, rows: int, given: bool) -> list[list[Any]]:
    """(text, language) rows cycling through the labelled reviews of bench/language_id.py, each made unique."""
    from bench.language_id import SAMPLE

    labelled = [(text, language) for language in SUPPORTED_LANGUAGES for text in SAMPLE[language]]
    return [
        [(f"{labelled[index % len(labelled)][0]} {number * rows + index}", labelled[index % len(labelled)][1] if given else "auto") for index in range(rows)]
        for number in range(batches)
    ]


def play_languages(given: bool) -> Player:
    def play(exchange: Callable[..., tuple], batches: list[list[Any]], budget_s: float) -> tuple[bool, str, float, dict[str, Any]]:
        outcome: dict[str, int] = Counter()

        def counted(method: str, headers: dict, body: bytes | None) -> tuple:
            status, answer = exchange(method, headers, body)[:2]
            if method == "GET" and status == 200:
                for _, value in answer["data"]:
                    outcome["rows_with_error" if isinstance(value, dict) and "Error" in value else "rows_analysed"] += 1
            return status, answer

        completed, reason, seconds = drive(counted, batches, budget_s)
        return completed, reason, seconds, {"scenario": f"languages_{'given' if given else 'auto'}", **outcome}

    return play


def unique_batches(batches: int, rows: int) -> list[list[Any]]:
    """Batches of texts that are all different: every one is a Comprehend document."""
    texts = [text for text in corpus(batches * rows, seed=4242) if isinstance(text, str) and text.strip()]
    return [[f"{texts[(number * rows + index) % len(texts)]} (batch {number}, row {index})" for index in range(rows)] for number in range(batches)]


def play_over_window(exchange: Callable[..., tuple], batches: list[list[Any]], budget_s: float) -> tuple[bool, str, float, dict[str, Any]]:
    """Snowflake's query with its concurrency learnt from 429s (local/snowflake.play_query); late batches counted, not abandoned."""
    record = play_query(
        exchange, batches, concurrency=len(batches), parallel=len(batches), window_s=OVER_WINDOW["window_s"], give_up_late=False, abort_on_failure=False
    )
    summary = record.summary
    completed = summary["answered_correctly"] == len(batches)
    reason = "" if completed else f"{len(batches) - summary['answered_correctly']} batches not answered correctly"
    return completed, reason, summary["seconds"], {"scenario": "over_window", "snowflake": summary}


def run_seed(batches: list[list[Any]], latency_ms: float, quota_rps: float, budget_s: float) -> Run:
    from local.stack import OfflineStack

    meter = Meter()
    stand_in = StandIn(latency_s=latency_ms / 1000, quota_rps=quota_rps)
    stack = OfflineStack(stand_in)
    stack.start()
    stack.dynamodb_listener = meter.on_dynamodb
    seed = SeedDesign(stack.session, lambda function, seconds, errored: meter.on_lambda(function, seconds))

    def exchange(method: str, headers: dict, body: bytes | None) -> tuple[int, Any]:
        with meter.lock:
            meter.api_requests += 1
        response = seed.lambda_handler(proxy_event(method, "/sentiment", headers, body.decode("utf-8") if body else None))
        return response["statusCode"], json.loads(response["body"]) if response["statusCode"] == 200 else response.get("body")

    try:
        completed, reason, seconds = drive(exchange, batches, budget_s)
        seed.stop.set()
        for worker in seed.workers:
            worker.join()
    finally:
        stack.stop(drain_s=0)
    run = Run("baseline", len(batches[0]), len(batches), completed, reason, seconds, batches, meter, stand_in, memory_mb={"SeedFunction": SEED_MEMORY_MB})
    if not completed and all("budget" in part for part in reason.split("; ")):
        project_seed(run, latency_ms, quota_rps)
    return run


def analysed(texts: list[Any]) -> list[str]:
    """A batch's texts that get a sentiment, as the service decides it (NULL and blank rows do not);
    a (text, language) row counts as its text."""
    return [value for value in (normalize_argument(text[0] if isinstance(text, tuple) else text) for text in texts) if isinstance(value, str)]


def project_seed(run: Run, latency_ms: float, quota_rps: float) -> None:
    """The seed's work is one sequential call per row: its time is projected from that, not guessed.

    Each batch needs (rows to analyse) calls, one at a time, each at least the call latency;
    concurrent batches share the quota. If the projected time passes Lambda's 900 s, it
    would fail; if its single result item passes 400 KB, it would fail.
    """
    calls = [len(analysed(texts)) for texts in run.texts]
    per_batch = max(max(calls) * latency_ms / 1000, sum(calls) / quota_rps)
    item = max(
        len(
            json.dumps(
                [
                    [
                        row,
                        json.dumps(
                            {
                                "Positive": 0.9954453706741333,
                                "Negative": 0.00039307220140472054,
                                "Neutral": 0.002452891319990158,
                                "Mixed": 0.0017087293090298772,
                            }
                        ),
                    ]
                    for row in range(len(texts))
                ]
            )
        )
        for texts in run.texts
    )
    run.projected = True
    run.seconds = per_batch
    if item > 400 * 1024:
        run.reason = f"its single result item would hold ~{item // 1024} KB, above DynamoDB's 400 KB (projected from {run.reason})"
    elif per_batch > 900:
        run.reason = f"its one-call-per-row processing would need ~{per_batch:.0f} s, above Lambda's 900 s (projected)"
    else:
        run.completed = True
        run.reason = f"projected: ~{per_batch:.0f} s at one call per row ({run.reason})"


def figures(run: Run, quota_rps: float) -> dict[str, Any]:
    rows = run.rows * run.concurrency
    per_k = 1000 / rows
    stand_in = run.stand_in
    documents = [analysed(texts) for texts in run.texts]
    unique = sum(len(set(batch)) for batch in documents)
    calls_floor = math.ceil(len({text for batch in documents for text in batch}) / MAX_DOCUMENTS_PER_CHUNK)
    if run.projected:
        calls, units_billed = sum(map(len, documents)), sum(billable_units(text) for batch in documents for text in batch)
    else:
        calls, units_billed = stand_in.answered, stand_in.units + stand_in.detection_units
    memory = run.memory_mb
    gb_seconds = sum(seconds * memory.get(function, 128) / 1024 for function, seconds in run.meter.lambda_seconds.items())
    invocations = sum(run.meter.lambda_invocations.values())
    if run.projected:
        gb_seconds = run.seconds * run.concurrency * SEED_MEMORY_MB / 1024
    cost = {
        "comprehend": units_billed * prices.COMPREHEND_PER_UNIT,
        "step_functions": run.transitions * prices.STEP_FUNCTIONS_PER_TRANSITION,
        "lambda": gb_seconds * prices.LAMBDA_PER_GB_SECOND_ARM64 + invocations * prices.LAMBDA_PER_REQUEST,
        "dynamodb": run.meter.write_units * prices.DYNAMODB_PER_WRITE_UNIT + run.meter.read_units * prices.DYNAMODB_PER_READ_UNIT,
        "api_gateway": run.meter.api_requests * prices.API_GATEWAY_PER_REQUEST,
    }
    floor = calls / quota_rps
    return {
        "design": run.design,
        "rows_per_batch": run.rows,
        "concurrent_batches": run.concurrency,
        "rows": rows,
        "unique_non_null_rows": unique,
        "completed": run.completed,
        "reason": run.reason,
        "projected": run.projected,
        "comprehend_calls": calls,
        "comprehend_calls_per_1000_rows": round(calls * per_k, 2),
        "comprehend_calls_per_1000_unique_rows": round(calls * 1000 / unique, 2) if unique else 0.0,
        "comprehend_calls_floor": calls_floor,
        "comprehend_calls_floor_per_1000_unique_rows": round(calls_floor * 1000 / unique, 2) if unique else 0.0,
        "comprehend_units_per_1000_rows": round(units_billed * per_k, 1),
        "transitions_per_1000_rows": round(run.transitions * per_k, 2),
        "lambda_invocations_per_1000_rows": round(invocations * per_k, 2),
        "lambda_gb_seconds_per_1000_rows": round(gb_seconds * per_k, 4),
        "dynamodb_read_units_per_1000_rows": round(run.meter.read_units * per_k, 2),
        "dynamodb_write_units_per_1000_rows": round(run.meter.write_units * per_k, 2),
        "api_requests_per_1000_rows": round(run.meter.api_requests * per_k, 2),
        "e2e_seconds": round(run.seconds, 2),
        "floor_seconds": round(floor, 2),
        "e2e_to_floor": round(run.seconds / floor, 2) if floor else None,
        "throttles": stand_in.throttled,
        "state_machine_retries": run.sfn_retries,
        "usd_per_million_rows": {service: round(value * 1_000_000 / rows, 2) for service, value in cost.items()},
        "usd_per_million_rows_total": round(sum(cost.values()) * 1_000_000 / rows, 2),
        "throttled_requests_per_call": round(stand_in.throttled / calls, 3) if calls else 0.0,
        "detection_units_per_1000_rows": round(stand_in.detection_units * per_k, 1),
        "mean_characters_per_row": round(sum(len(text) for batch in documents for text in batch) / rows, 1),
        **run.extra,
    }


def handler_profile(latency_ms: float, quota_rps: float, rows: int) -> dict[str, Any]:
    """POST and GET handler time and peak Python memory for the largest batch, measured alone."""
    texts = corpus(rows, seed=99)
    stand_in = StandIn(latency_s=latency_ms / 1000)
    service = LocalService(port=0, aws_port=0, stand_in=stand_in, say=lambda line: None)
    service.start()
    try:
        timed, traced = snowflake_headers(), snowflake_headers()
        body = batch_body(texts).encode()
        profile: dict[str, Any] = {"rows": rows, "request_bytes": len(body)}
        for method, payload in (("POST", body), ("GET", b"")):
            if method == "GET":
                for headers in (timed, traced):
                    poll(lambda headers=headers: (service.handle("GET", "/sentiment", headers, b"")[0], None), time.monotonic() + 300)
            started = time.perf_counter()
            status, _, raw = service.handle(method, "/sentiment", timed, payload)
            elapsed = time.perf_counter() - started
            tracemalloc.start()
            service.handle(method, "/sentiment", traced, payload)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            profile[method.lower()] = {
                "status": status,
                "handler_ms": round(elapsed * 1000, 1),
                "peak_python_mb": round(peak / 2**20, 1),
                "answer_bytes": len(raw),
            }
    finally:
        service.stop(drain_s=120)
    return profile


def main(argv: list[str] | None = None) -> int:
    """The benchmark, with the handlers' EMF metrics and JSON log records summed up and shortened
    (local.console) rather than printed raw between its own lines."""
    with Console().capture():
        return measure(argv)


def measure(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--latency-ms", type=float, default=float(os.environ.get("COMPREHEND_LATENCY_MS", "100")))
    parser.add_argument(
        "--quota-rps",
        type=float,
        default=float(os.environ.get("COMPREHEND_QUOTA_RPS", "5")),
        help="low enough that the quota, not this emulator, bounds the 16-batch workload (see docs/benchmark.md)",
    )
    parser.add_argument("--baseline-budget-s", type=float, default=30.0, help="wall-clock cap per baseline workload; beyond it the seed's time is projected")
    parser.add_argument(
        "--set", action="append", default=[], metavar="PARAMETER=VALUE", help="template parameter override for our stack, e.g. MapConcurrency=4"
    )
    parser.add_argument("--workloads", default=",".join(f"{rows}x{count}" for rows, count in WORKLOADS))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--skip-baseline", action="store_true", help="measure ours only (for tuning runs)")
    parser.add_argument("--skip-scenarios", action="store_true", help="leave out the scenarios (the over-window query)")
    parser.add_argument(
        "--cache-workload", default=f"{CACHE_WORKLOAD['rows']}x{CACHE_WORKLOAD['batches']}", metavar="ROWSxBATCHES", help="the result cache scenarios' query"
    )
    parser.add_argument(
        "--mixed-languages", default=f"{MIXED_LANGUAGES['rows']}x{MIXED_LANGUAGES['batches']}", metavar="ROWSxBATCHES", help="the mixed-language query"
    )
    parser.add_argument(
        "--over-window", default=f"{OVER_WINDOW['rows']}x{OVER_WINDOW['batches']}", metavar="ROWSxBATCHES", help="the over-window query's shape"
    )
    args = parser.parse_args(argv)
    parameters = dict(item.split("=", 1) for item in args.set)
    workloads = [tuple(int(part) for part in item.split("x")) for item in args.workloads.split(",")]
    started = time.monotonic()
    results = []
    for rows, concurrency in workloads:
        batches = [corpus(rows, seed=1000 * concurrency + number) for number in range(concurrency)]
        ours = figures(run_ours(batches, args.latency_ms, args.quota_rps, parameters, budget_s=300), args.quota_rps)
        if args.skip_baseline:
            print(
                (
                    f"{rows:>6} rows x {concurrency:>2}: ours {ours['e2e_seconds']:>6.1f}s floor {ours['floor_seconds']:.1f}s throttles "
                    f"{ours['throttles']} retries {ours['state_machine_retries']} calls/1k unique {ours['comprehend_calls_per_1000_unique_rows']} "
                    f"(floor {ours['comprehend_calls_floor_per_1000_unique_rows']}) transitions/1k {ours['transitions_per_1000_rows']} "
                    f"${ours['usd_per_million_rows_total']}/M"
                ),
                flush=True,
            )
            continue
        seed = figures(run_seed(batches, args.latency_ms, args.quota_rps, args.baseline_budget_s), args.quota_rps)
        results.append({"rows_per_batch": rows, "concurrent_batches": concurrency, "ours": ours, "baseline": seed})
        print(
            f"{rows:>6} rows x {concurrency:>2}: ours {ours['e2e_seconds']:>6.1f}s (floor {ours['floor_seconds']:.1f}s, "
            f"{ours['comprehend_calls_per_1000_rows']} calls/1k rows, ${ours['usd_per_million_rows_total']}/M rows) "
            f"| baseline {'ok' if seed['completed'] else 'FAILED'} {seed['e2e_seconds']:.1f}s{' (projected)' if seed['projected'] else ''} "
            f"${seed['usd_per_million_rows_total']}/M rows",
            flush=True,
        )
    scenarios = []
    if not args.skip_scenarios:
        rows, count = (int(part) for part in args.over_window.split("x"))
        over = figures(
            run_ours(
                unique_batches(count, rows),
                args.latency_ms,
                args.quota_rps,
                {"AdmissionWindowSeconds": str(OVER_WINDOW["admission_window_s"]), **parameters},
                300,
                play_over_window,
            ),
            args.quota_rps,
        )
        scenarios.append(over)
        snowflake = over["snowflake"]
        print(
            f"over the window ({count} x {rows} rows, window {OVER_WINDOW['window_s']:.0f} s): {snowflake['answered_correctly']} answered, late "
            f"after accepted {snowflake['late_after_accepted']}, "
            f"failed {snowflake['failed']}, POST 429s {snowflake['post_429s']}, accepted->answered max "
            f"{snowflake['accepted_to_answered_s']['max']} s, throttled/call {over['throttled_requests_per_call']}",
            flush=True,
        )
        cache_rows, cache_batches = (int(part) for part in args.cache_workload.split("x"))
        for entry in run_cache_scenarios(args.latency_ms, args.quota_rps, parameters, cache_rows, cache_batches):
            scenarios.append(entry)
            print(
                f"result cache ({entry['scenario']}): {entry['comprehend_calls']} calls, ${entry['usd_per_million_rows_total']}/M rows "
                f"(calls to cold {entry.get('comprehend_calls_to_cold', 1.0)}, cost to cold {entry.get('cost_to_cold', 1.0)}), e2e {entry['e2e_seconds']} s",
                flush=True,
            )
        for given in (True, False):
            mixed_rows, mixed_batches = (int(part) for part in args.mixed_languages.split("x"))
            mixed = figures(
                run_ours(language_batches(mixed_batches, mixed_rows, given), args.latency_ms, args.quota_rps, parameters, 300, play_languages(given)),
                args.quota_rps,
            )
            scenarios.append(mixed)
            print(
                f"mixed languages ({mixed['scenario']}): {mixed['comprehend_calls']} calls, units/1k rows "
                f"{mixed['comprehend_units_per_1000_rows']} (detection {mixed['detection_units_per_1000_rows']}), "
                f"${mixed['usd_per_million_rows_total']}/M rows, rows with an error {mixed.get('rows_with_error', 0)}",
                flush=True,
            )
    if args.skip_baseline:
        return 0
    largest = max(rows for rows, _ in workloads)
    profile = handler_profile(args.latency_ms, args.quota_rps, largest)
    report = build_report(results, profile, args, parameters, time.monotonic() - started, scenarios)
    write_outputs(report, args.out)
    print(f"\nwrote {args.out}/latest.json, summary.md and plots in {time.monotonic() - started:.0f} s")
    return 0


FIELDS = {
    "scenario": "a scenario's name: over_window, languages_given / languages_auto (mixed languages), cold / rerun / incremental (the result cache)",
    "detection_units_per_1000_rows": (
        "BatchDetectDominantLanguage units (100 characters, 3 at least a document) per 1,000 rows, included in comprehend_units_per_1000_rows"
    ),
    "mean_characters_per_row": "characters of the analysed texts per row: what a per-token price (Cortex) is computed from",
    "comprehend_calls_to_cold": "this run's Comprehend calls / the cold run's (result cache scenarios)",
    "cost_to_cold": "this run's total dollars / the cold run's (result cache scenarios)",
    "cortex_ai_sentiment_usd_per_million_rows": "Snowflake Cortex AI_SENTIMENT for the same texts, under bench/prices.py's stated assumptions",
    "comprehend_calls_per_1000_rows": "Comprehend requests answered (billed) per 1,000 input rows; throttled requests are counted in throttles",
    "comprehend_calls_per_1000_unique_rows": "the same per 1,000 unique non-NULL, non-blank rows of each batch",
    "comprehend_calls_floor": (
        "ceil(texts unique across the whole workload / 25): the fewest BatchDetectSentiment calls any design can make for a cold workload"
    ),
    "comprehend_calls_floor_per_1000_unique_rows": "that floor per 1,000 unique rows: 40 only when the unique texts are a multiple of 25",
    "comprehend_units_per_1000_rows": "billable units (100 characters, at least 3 per document) per 1,000 rows",
    "transitions_per_1000_rows": "Step Functions state transitions (states entered plus task retries) per 1,000 rows, from the execution histories",
    "lambda_invocations_per_1000_rows": "Lambda invocations of every function, API handlers included",
    "lambda_gb_seconds_per_1000_rows": "measured handler seconds x configured memory; all functions share 2 cores here, so under concurrency this overstates",
    "dynamodb_read_units_per_1000_rows": "strongly consistent read units (4 KB) of every GetItem and Query page",
    "dynamodb_write_units_per_1000_rows": "write units (1 KB per item) of every PutItem, BatchWriteItem item and UpdateItem",
    "api_requests_per_1000_rows": "POSTs and GETs Snowflake sends (API Gateway requests)",
    "e2e_seconds": "first POST to last 200 of the workload; projected for the baseline where it exceeds the budget",
    "floor_seconds": "Comprehend requests / quota: no design can answer faster at this quota",
    "e2e_to_floor": "e2e_seconds / floor_seconds",
    "throttles": "requests Comprehend refused with ThrottlingException",
    "state_machine_retries": "task retries Step Functions made",
    "usd_per_million_rows": "list-price dollars per million rows by service (bench/prices.py)",
    "completed": "every batch answered 200 with all its rows (or, projected, would be)",
    "projected": "the figure is projected from the seed's one-call-per-row work, not run to the end",
}


def build_report(
    results: list[dict], profile: dict, args: argparse.Namespace, parameters: dict, seconds: float, scenarios: list[dict] | None = None
) -> dict[str, Any]:
    concurrent = max(results, key=lambda result: (result["concurrent_batches"], result["rows_per_batch"]))
    return {
        "settings": {
            "comprehend_latency_ms": args.latency_ms,
            "comprehend_quota_rps": args.quota_rps,
            "baseline_budget_s": args.baseline_budget_s,
            "template_overrides": parameters,
            "prices_as_of": prices.PRICES_AS_OF,
            "region": prices.REGION,
            "bench_seconds": round(seconds, 1),
        },
        "ours": concurrent["ours"],
        "baseline": concurrent["baseline"],
        "workloads": [entry for result in results for entry in (result["ours"], result["baseline"])] + (scenarios or []),
        "handler_profile_largest_batch": profile,
        "fields": FIELDS,
    }


def write_outputs(report: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(report, indent=1) + "\n")
    (out / "summary.md").write_text(summary_markdown(report))
    plot(report, out)


def summary_markdown(report: dict) -> str:
    settings = report["settings"]
    lines = [
        (
            f"Comprehend stand-in: {settings['comprehend_latency_ms']:.0f} ms a call, quota {settings['comprehend_quota_rps']:.0f} requests/s; "
            f"prices {settings['region']} as of {settings['prices_as_of']}."
        ),
        "",
        (
            "| workload | design | done | Comprehend calls / 1k rows | units / 1k rows | transitions / 1k rows | Lambda GB-s / 1k rows | DynamoDB "
            "RU / WU per 1k rows | e2e s | floor s | e2e / floor | throttles | $ / M rows |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in report["workloads"]:
        done = "yes" if entry["completed"] else "**no**"
        if entry["projected"]:
            done += " (projected)"
        ratio = entry["e2e_to_floor"] if entry["e2e_to_floor"] is not None else "-"
        design = f"{entry['design']} ({entry['scenario']})" if entry.get("scenario") else entry["design"]
        lines.append(
            f"| {entry['rows_per_batch']:,} x {entry['concurrent_batches']} | {design} | {done} | {entry['comprehend_calls_per_1000_rows']} | "
            f"{entry['comprehend_units_per_1000_rows']} | "
            f"{entry['transitions_per_1000_rows']} | {entry['lambda_gb_seconds_per_1000_rows']} | {entry['dynamodb_read_units_per_1000_rows']} / "
            f"{entry['dynamodb_write_units_per_1000_rows']} | "
            f"{entry['e2e_seconds']} | {entry['floor_seconds']} | {ratio} | {entry['throttles']} | {entry['usd_per_million_rows_total']} |"
        )
    for entry in report["workloads"]:
        if entry.get("scenario") == "over_window":
            snowflake = entry["snowflake"]

            def spread(key: str, snowflake: dict[str, Any] = snowflake) -> str:
                values = snowflake[key]
                return f"{values['min']} / {values['median']} / {values['p95']} / {values['max']}"

            lines += [
                "",
                (
                    f"Over the window: {entry['concurrent_batches']} concurrent batches of {entry['rows_per_batch']:,} unique rows, Snowflake's "
                    f"10 minutes scaled to {OVER_WINDOW['window_s']:.0f} s, "
                    f"AdmissionWindowSeconds {OVER_WINDOW['admission_window_s']}, the Snowflake simulator lowering its concurrency on 429:"
                ),
                "",
                (
                    "| answered correctly | late after accepted | late after first POST | failed | POST 429s | accepted→answered s (min / median / "
                    "p95 / max) | first POST→answered s | throttled / call | SFN retries | DescribeExecution / batch, peak /s | $ / M rows |"
                ),
                "|---|---|---|---|---|---|---|---|---|---|---|",
                (
                    f"| {snowflake['answered_correctly']} | {snowflake['late_after_accepted']} | {snowflake['late_after_first_post']} | "
                    f"{snowflake['failed']} | {snowflake['post_429s']} | {spread('accepted_to_answered_s')} | "
                    f"{spread('first_post_to_answered_s')} | "
                    f"{entry['throttled_requests_per_call']} | {entry['state_machine_retries']} | {entry['describe_execution_calls_per_batch']}, "
                    f"{entry['describe_execution_peak_per_second']} | {entry['usd_per_million_rows_total']} |"
                ),
            ]
    mixed = {entry["scenario"]: entry for entry in report["workloads"] if str(entry.get("scenario", "")).startswith("languages_")}
    if mixed:
        lines += [
            "",
            (
                f"Mixed languages: {next(iter(mixed.values()))['concurrent_batches']} batches of {next(iter(mixed.values()))['rows_per_batch']} "
                "reviews in Comprehend's 12 sentiment languages, with their languages given "
                "(sentiment(text, language)) and with 'auto' (detected first):"
            ),
            "",
            "| languages | Comprehend calls / 1k rows | units / 1k rows (detection) | rows analysed / with an error | e2e s | $ / M rows (Comprehend) |",
            "|---|---|---|---|---|---|",
        ]
        for name, entry in mixed.items():
            lines.append(
                f"| {name.removeprefix('languages_')} | {entry['comprehend_calls_per_1000_rows']} | {entry['comprehend_units_per_1000_rows']} "
                f"({entry['detection_units_per_1000_rows']}) | "
                f"{entry.get('rows_analysed', 0)} / {entry.get('rows_with_error', 0)} | {entry['e2e_seconds']} | "
                f"{entry['usd_per_million_rows_total']} ({entry['usd_per_million_rows']['comprehend']}) |"
            )
    cached = [entry for entry in report["workloads"] if entry.get("scenario") in ("cold", "rerun", "incremental")]
    if cached:
        lines += [
            "",
            (
                f"The result cache: the {cached[0]['concurrent_batches']} x {cached[0]['rows_per_batch']:,} query cold, run again under new "
                "batch ids, and after the table grew by "
                f"new texts, {CACHE_WORKLOAD['growth']:.0%} of its distinct texts; Cortex AI_SENTIMENT priced for the same texts ({prices.CORTEX_ASSUMPTIONS}):"
            ),
            "",
            "| run | Comprehend calls (to cold) | $ for the run (to cold) | $ / M rows | e2e s | Cortex AI_SENTIMENT $ / M rows |",
            "|---|---|---|---|---|---|",
        ]
        for entry in cached:
            run_usd = entry["usd_per_million_rows_total"] * entry["rows"] / 1_000_000
            lines.append(
                f"| {entry['scenario']} | {entry['comprehend_calls']} ({entry.get('comprehend_calls_to_cold', 1.0)}) | {run_usd:.4f} "
                f"({entry.get('cost_to_cold', 1.0)}) | "
                f"{entry['usd_per_million_rows_total']} | {entry['e2e_seconds']} | {entry['cortex_ai_sentiment_usd_per_million_rows']} |"
            )
    failures = [entry for entry in report["workloads"] if not entry["completed"] or entry["projected"]]
    if failures:
        lines += ["", "Baseline notes:"]
        lines += [f"- {entry['rows_per_batch']:,} x {entry['concurrent_batches']}: {entry['reason']}" for entry in failures]
    ours, baseline = report["ours"], report["baseline"]
    completed = [entry for entry in report["workloads"] if entry["design"] == "baseline" and entry["completed"]]
    if baseline["completed"]:
        versus = f"baseline ${baseline['usd_per_million_rows_total']} per million rows"
    elif completed:
        largest = max(completed, key=lambda entry: entry["rows"])
        mine = next(
            entry
            for entry in report["workloads"]
            if entry["design"] == "ours"
            and entry["rows_per_batch"] == largest["rows_per_batch"]
            and entry["concurrent_batches"] == largest["concurrent_batches"]
        )
        versus = (
            f"the baseline fails this workload ({baseline['reason'][:90]}); the largest it completes is {largest['rows_per_batch']:,} x "
            f"{largest['concurrent_batches']}"
            f"{' (projected)' if largest['projected'] else ''}, at ${largest['usd_per_million_rows_total']} per million rows and "
            f"{largest['e2e_seconds']} s, against ours ${mine['usd_per_million_rows_total']} and {mine['e2e_seconds']} s"
        )
    else:
        versus = "the baseline completes no workload"
    orchestration = sum(value for service, value in ours["usd_per_million_rows"].items() if service != "comprehend")
    comprehend = ours["usd_per_million_rows"]["comprehend"]
    profile = report["handler_profile_largest_batch"]
    lines += [
        "",
        (
            f"At {ours['concurrent_batches']} concurrent batches of {ours['rows_per_batch']:,} rows: ours "
            f"{ours['comprehend_calls_per_1000_unique_rows']} Comprehend calls per 1,000 unique non-null rows "
            f"(target <= 40; {ours['comprehend_calls']} calls against a floor of {ours['comprehend_calls_floor']} = "
            f"{ours['comprehend_calls_floor_per_1000_unique_rows']} per 1,000 for these {ours['unique_non_null_rows']:,} texts), end to end "
            f"{ours['e2e_to_floor']}x the quota-bound floor (target <= 1.3), orchestration ${orchestration:.2f} per million rows = "
            f"{100 * orchestration / comprehend:.1f}% of Comprehend's ${comprehend:.2f} (target < 5%); {versus}."
        ),
        "",
        (
            f"Largest batch ({profile['rows']:,} rows, {profile['request_bytes']:,} bytes): POST handler {profile['post']['handler_ms']} ms, "
            f"peak {profile['post']['peak_python_mb']} MB of Python memory; "
            f"final GET {profile['get']['handler_ms']} ms, peak {profile['get']['peak_python_mb']} MB, {profile['get']['answer_bytes']:,} bytes (gzip)."
        ),
        "",
    ]
    return "\n".join(lines)


def plot(report: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    single = [entry for entry in report["workloads"] if entry["concurrent_batches"] == 1 and "scenario" not in entry] or report["workloads"]
    figure, axis = plt.subplots(figsize=(7, 4.2))
    for design, style in (("ours", "o-"), ("baseline", "s--")):
        points = sorted((entry["rows"], entry["e2e_seconds"], entry["completed"]) for entry in single if entry["design"] == design)
        axis.plot([rows for rows, _, _ in points], [seconds for _, seconds, _ in points], style, label=design)
        for rows, seconds, completed in points:
            if not completed:
                axis.annotate("fails", (rows, seconds), textcoords="offset points", xytext=(4, 4), color="crimson")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("rows in one batch" if all(entry["concurrent_batches"] == 1 for entry in single) else "rows in the workload")
    axis.set_ylabel("end-to-end seconds")
    axis.set_title("Time to answer one Snowflake batch")
    axis.legend()
    axis.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(out / "time_vs_rows.png", dpi=110)
    plt.close(figure)

    services = ["comprehend", "step_functions", "lambda", "dynamodb", "api_gateway"]
    colours = dict(zip(services, ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3"], strict=False))
    workloads = sorted(
        {(entry["rows_per_batch"], entry["concurrent_batches"]) for entry in report["workloads"] if "scenario" not in entry},
        key=lambda item: (item[1], item[0]),
    )
    figure, axis = plt.subplots(figsize=(9.5, 4.5))
    width = 0.38
    for offset, design in ((-width / 2, "ours"), (width / 2, "baseline")):
        for position, workload in enumerate(workloads):
            entry = next(
                item
                for item in report["workloads"]
                if item["design"] == design and "scenario" not in item and (item["rows_per_batch"], item["concurrent_batches"]) == workload
            )
            x = position + offset
            if not entry["completed"]:
                axis.text(x, 5, "fails", rotation=90, ha="center", va="bottom", color="crimson", fontsize=8)
                continue
            bottom = 0.0
            for service in services:
                height = entry["usd_per_million_rows"][service]
                axis.bar(
                    x,
                    height,
                    width,
                    bottom=bottom,
                    color=colours[service],
                    label=service.replace("_", " ") if position == 0 and design == "ours" else None,
                    hatch="//" if design == "baseline" else None,
                    edgecolor="white",
                )
                bottom += height
    axis.set_xticks(range(len(workloads)), [f"{rows:,} x {count}" for rows, count in workloads])
    axis.set_xlabel("rows per batch x concurrent batches (left bar ours, hatched bar the seed design)")
    axis.set_ylabel("USD per million rows")
    axis.set_title("Cost per million rows by service; a failed run has no bar")
    axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    figure.tight_layout()
    figure.savefig(out / "cost_by_service.png", dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    raise SystemExit(main())
