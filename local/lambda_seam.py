"""Lambda's Python runtime, offline: the template's handlers run in this process, in emulated warm containers.

moto's Lambda runs them through `invoke_registered` (local.moto_patches.run_lambdas_in_process
puts it there), the offline API Gateway's proxy integration (local.stack) through `running`;
both tell the listeners of every invocation (`on_invoke`).
"""

from __future__ import annotations

import importlib
import json
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sentiment_service.settings import container_clients

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


_handlers: dict[str, tuple[Handler, LambdaContext]] = {}
_listeners: list[Callable[[str, dict, bool, float], None]] = []


_running = threading.local()
_warm: dict[str, list[dict]] = {}
"""Each function's idle containers, as the AWS clients each one made."""
_warm_lock = threading.Lock()


@contextmanager
def running(function_name: str) -> Iterator[None]:
    """Run `function_name`'s handler on the calling thread in one of its containers, as Lambda would:
    a warm one when one is idle, so the AWS clients it made are reused. Making a client costs a
    cold start's CPU (~0.1-0.3 s); made per invocation offline, it stalled every thread of the process."""
    with _warm_lock:
        idle = _warm.setdefault(function_name, [])
        clients = idle.pop() if idle else {}
    previous = getattr(_running, "function", None)
    _running.function = function_name
    try:
        with container_clients(clients):
            yield
    finally:
        _running.function = previous
        with _warm_lock:
            idle.append(clients)


def running_function() -> str | None:
    """The function whose handler this thread runs; None in Step Functions' own integrations."""
    return getattr(_running, "function", None)


def register(function_name: str, handler: Handler, context: LambdaContext) -> None:
    _handlers[function_name] = (handler, context)


def on_invoke(listener: Callable[[str, dict, bool, float], None]) -> None:
    """Call `listener(function_name, event, errored, seconds)` after every in-process invoke."""
    _listeners.append(listener)


def invoke_registered(function_name: str, event: Any) -> tuple[str, bool] | None:
    """Run `function_name`'s registered handler as Lambda would: (payload JSON, errored); None when it has none."""
    entry = _handlers.get(function_name)
    if entry is None:
        return None
    handler, context = entry
    payload = json.loads(event) if isinstance(event, (str, bytes)) else (event or {})
    started = time.perf_counter()
    with running(function_name):
        result, errored = invoke(handler, payload, context.fresh())
    report(function_name, payload, errored, time.perf_counter() - started)
    return result, errored


def report(function_name: str, event: dict, errored: bool, seconds: float) -> None:
    """Tell the listeners about one invocation, from moto's Lambda or from the API's proxy integration."""
    for listener in list(_listeners):  # noqa: PERF101 - a copy: other threads add and clear listeners
        listener(function_name, event, errored, seconds)


def forget() -> None:
    """Forget the handlers, the listeners and the warm containers: the stack that registered them stopped."""
    _handlers.clear()
    _listeners.clear()
    _warm.clear()
