"""Run the template's Lambda handlers in this process when moto invokes a function.

moto runs Lambda functions in Docker, which these machines lack, and without Docker only
echoes the payload. Its narrowest seam is `LambdaFunction._invoke_lambda(self, event)`,
which serves `lambda:invoke`, bare function ARNs in a Task state and plain Invoke calls,
and returns `(payload_json, errored, logs)`. This module is the one place that patches it;
moto is pinned exactly in requirements-dev.txt and tests/test_offline_stack.py covers it.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
import traceback
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from moto.awslambda.models import LambdaFunction

Handler = Callable[[dict, Any], Any]


@dataclass
class LambdaContext:
    """The parts of Lambda's context object that Powertools and our handlers read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_s: int
    function_version: str = "$LATEST"

    def __post_init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "offline"

    def fresh(self) -> LambdaContext:
        """The same function's context for a new invocation (a new request id)."""
        return LambdaContext(self.function_name, self.memory_limit_in_mb, self.invoked_function_arn, self.timeout_s, self.function_version)

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_s * 1000


def load_handler(module: str, attribute: str) -> Handler:
    return getattr(importlib.import_module(module), attribute)


def invoke(handler: Handler, event: dict, context: LambdaContext) -> tuple[str, bool]:
    """Call a handler as Lambda's Python runtime would: its result, or its error report."""
    try:
        return json.dumps(handler(event, context)), False
    except Exception as error:  # noqa: BLE001 - Lambda reports every exception the same way
        report = {
            "errorMessage": str(error),
            "errorType": type(error).__name__,
            "requestId": context.aws_request_id,
            "stackTrace": traceback.format_tb(error.__traceback__),
        }
        return json.dumps(report), True


_original = LambdaFunction._invoke_lambda
_handlers: dict[str, tuple[Handler, LambdaContext]] = {}
_listeners: list[Callable[[str, dict, bool, float], None]] = []


_running = threading.local()


@contextmanager
def running(function_name: str) -> Iterator[None]:
    """Mark the calling thread as running `function_name`'s handler, as Lambda's process would be."""
    previous = getattr(_running, "function", None)
    _running.function = function_name
    try:
        yield
    finally:
        _running.function = previous


def running_function() -> str | None:
    """The function whose handler this thread runs; None in Step Functions' own integrations."""
    return getattr(_running, "function", None)


def register(function_name: str, handler: Handler, context: LambdaContext) -> None:
    _handlers[function_name] = (handler, context)


def on_invoke(listener: Callable[[str, dict, bool, float], None]) -> None:
    """Call `listener(function_name, event, errored, seconds)` after every in-process invoke."""
    _listeners.append(listener)


def _invoke_in_process(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
    entry = _handlers.get(self.function_name)
    if entry is None:
        return _original(self, event)
    handler, context = entry
    payload = json.loads(event) if isinstance(event, (str, bytes)) else (event or {})
    started = time.perf_counter()
    with running(self.function_name):
        result, errored = invoke(handler, payload, context.fresh())
    report(self.function_name, payload, errored, time.perf_counter() - started)
    return result, errored, ""


def report(function_name: str, event: dict, errored: bool, seconds: float) -> None:
    """Tell the listeners about one invocation, from the seam or from the API's proxy."""
    for listener in list(_listeners):
        listener(function_name, event, errored, seconds)


def install() -> Callable[[], None]:
    """Patch moto; returns the function that restores it and forgets the handlers."""
    LambdaFunction._invoke_lambda = _invoke_in_process

    def uninstall() -> None:
        LambdaFunction._invoke_lambda = _original
        _handlers.clear()
        _listeners.clear()

    return uninstall
