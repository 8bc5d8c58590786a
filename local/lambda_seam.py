"""Run the template's Lambda handlers in this process when moto invokes a function.

moto runs Lambda functions in Docker, which these machines lack, and without Docker only
echoes the payload. Its narrowest seam is `LambdaFunction._invoke_lambda(self, event)`,
which serves `lambda:invoke`, bare function ARNs in a Task state and plain Invoke calls,
and returns `(payload_json, errored, logs)`. This module is the one place that patches it (and
the clients moto's Step Functions makes to call it);
moto is pinned exactly in requirements-dev.txt and tests/test_offline_stack.py covers it.
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

from moto.awslambda.models import LambdaFunction
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_dynamodb

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
    except Exception as error:
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
    for listener in _listeners:
        listener(function_name, event, errored, seconds)


_engine_clients: dict[tuple, Any] = {}
_engine_clients_lock = threading.Lock()


def _engine_client(region: str, service: str, state_credentials: Any = None) -> Any:
    """moto's Step Functions makes a new boto3 client for every Lambda and DynamoDB task: ~0.1-0.3 s of
    CPU under the GIL each, which stalled every emulated function. Step Functions itself costs our
    functions nothing, so its clients are made once per region and service."""
    key = (region, service, repr(state_credentials))
    with _engine_clients_lock:
        if key not in _engine_clients:
            _engine_clients[key] = _original_engine_client(region, service, state_credentials)
        return _engine_clients[key]


_original_engine_client = lambda_eval_utils.boto_client_for
_ENGINE_MODULES = (lambda_eval_utils, state_task_service_dynamodb)


def install() -> Callable[[], None]:
    """Patch moto; returns the function that restores it and forgets the handlers."""
    LambdaFunction._invoke_lambda = _invoke_in_process
    for module in _ENGINE_MODULES:
        module.boto_client_for = _engine_client  # type: ignore[attr-defined]

    def uninstall() -> None:
        LambdaFunction._invoke_lambda = _original
        for module in _ENGINE_MODULES:
            module.boto_client_for = _original_engine_client  # type: ignore[attr-defined]
        _engine_clients.clear()
        _handlers.clear()
        _listeners.clear()
        _warm.clear()

    return uninstall
