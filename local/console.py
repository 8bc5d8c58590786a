"""What `make local` and `make bench` print: whole lines, one writer at a time, no raw JSON.

The handlers print as they would in Lambda, where CloudWatch Logs collects stdout: Powertools'
EMF metric blobs and JSON log records. Offline nobody collects them, so the console does: a
metric is tallied and summed up in one short line when an execution ends, a log record of
WARNING or above becomes one short line of its message and ids. `verbose` (LOCAL_VERBOSE=1,
`--verbose`) also prints the records as they are and a failed execution's stack trace.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

LOG_FIELDS_NOT_SHOWN = {
    "level",
    "location",
    "message",
    "timestamp",
    "service",
    "cold_start",
    "function_name",
    "function_memory_size",
    "function_arn",
    "function_request_id",
    "xray_trace_id",
    "exception",
    "exception_name",
    "stack_trace",
    "sampling_rate",
}
"""Powertools' standard keys a short line leaves out; what is left are the record's ids and counts."""

SHOWN_LEVELS = {"WARNING", "ERROR", "CRITICAL"}
MAX_VALUE_CHARS = 120


class Console:
    def __init__(self, stream: TextIO | None = None, verbose: bool = False):
        self.stream = stream
        self.verbose = verbose
        self.metrics: Counter[str] = Counter()
        self._lock = threading.Lock()

    def say(self, line: str) -> None:
        """One whole line, never interleaved with another thread's."""
        stream = self.stream or sys.stdout
        with self._lock:
            stream.write(line + "\n")
            stream.flush()

    def handler_line(self, line: str) -> None:
        """A line a handler printed: tallied, shortened or passed on."""
        record = _json_object(line)
        if record is None:
            if line.strip():
                self.say(line)
            return
        if "_aws" in record:
            self.tally(metrics_of(record))
            if self.verbose:
                self.say(line)
            return
        if self.verbose:
            self.say(line)
        elif str(record.get("level", "")).upper() in SHOWN_LEVELS:
            self.say(log_line(record))

    def tally(self, values: dict[str, float]) -> None:
        with self._lock:
            self.metrics.update(values)

    def metrics_line(self) -> str | None:
        """`metrics Name=sum ...` of what was tallied since the last call; None when nothing was."""
        self.tally(drain_powertools_metrics())
        with self._lock:
            tallied, self.metrics = self.metrics, Counter()
        if not tallied:
            return None
        return "metrics " + " ".join(f"{name}={value:g}" for name, value in sorted(tallied.items()))

    @contextmanager
    def capture(self) -> Iterator[None]:
        """Route stdout and the Powertools logger through this console; moto's own error log of a
        failed state (its cause, with a stack trace) is shown only when verbose."""
        real = sys.stdout
        self.stream = self.stream or real
        lines = HandlerOutput(self.handler_line)
        handlers = [handler for handler in logging.getLogger("snowflake-sentiment").handlers if isinstance(handler, logging.StreamHandler)]
        streams = [handler.setStream(lines) for handler in handlers]
        moto_log = logging.getLogger("moto.stepfunctions")
        level = moto_log.level
        if not self.verbose:
            moto_log.setLevel(logging.CRITICAL)
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        sys.stdout = lines
        try:
            yield
        finally:
            sys.stdout = real
            for handler, stream in zip(handlers, streams, strict=True):
                handler.setStream(stream)
            moto_log.setLevel(level)


class HandlerOutput(io.TextIOBase):
    """A stdout that hands on whole lines; each thread's partial line is kept until it ends."""

    def __init__(self, on_line: Any):
        self.on_line = on_line
        self._partial = threading.local()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        pending = getattr(self._partial, "text", "") + text
        *lines, self._partial.text = pending.split("\n")
        for line in lines:
            self.on_line(line)
        return len(text)


def _json_object(line: str) -> dict | None:
    if not line.startswith("{"):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def metrics_of(emf: dict) -> dict[str, float]:
    """Each metric's sum in one EMF document."""
    names = [metric["Name"] for directive in emf["_aws"].get("CloudWatchMetrics", []) for metric in directive.get("Metrics", [])]
    sums: dict[str, float] = {}
    for name in names:
        value = emf.get(name, 0)
        sums[name] = sum(value) if isinstance(value, list) else float(value)
    return sums


def drain_powertools_metrics() -> dict[str, float]:
    """Take what the handlers' Powertools Metrics buffered. Offline its metrics are disabled (the
    buffer is not safe to flush from concurrent threads), so it would otherwise only grow, and
    print raw EMF whenever a metric reached 100 values."""
    if "sentiment_service.observability" not in sys.modules:
        return {}
    from sentiment_service.observability import metrics

    buffer = metrics.metric_set
    sums: dict[str, float] = {}
    for name in list(buffer):
        metric = buffer.pop(name, None)
        if metric:
            sums[name] = sum(metric.get("Value", []))
    return sums


def log_line(record: dict) -> str:
    """`log LEVEL message key=value ...` of a Powertools record: its ids and counts, no stack trace."""
    extras = " ".join(f"{key}={_short(value)}" for key, value in record.items() if key not in LOG_FIELDS_NOT_SHOWN)
    exception = f" ({record['exception_name']})" if record.get("exception_name") else ""
    return f"log {record.get('level')} {record.get('message')}{exception}" + (f" {extras}" if extras else "")


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"
