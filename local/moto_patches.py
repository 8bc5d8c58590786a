"""Every change this project makes to moto, in one place; each install returns its undo.

moto is pinned exactly (moto==5.2.5 in requirements-dev.txt and requirements-mutants.txt)
because these patches reach into its internals; tests/tooling/test_offline_stack.py, tests/offline/test_faults.py
and tests/template/test_iam_in_use.py notice when an upgrade moves them.

- `run_lambdas_in_process` replaces `moto.awslambda.models.LambdaFunction._invoke_lambda`
  (private). moto runs Lambda functions in Docker, which these machines lack, and without
  Docker only echoes the payload; this seam serves `lambda:invoke`, bare function ARNs in a
  Task state and plain Invoke calls, and returns `(payload_json, errored, logs)`. The
  handlers run as local.lambda_seam runs them.
- `cache_engine_clients` replaces `boto_client_for` (internal) in moto's Step Functions
  engine, in `lambda_eval_utils` and in `state_task_service_dynamodb`, which imported it by
  name: the engine made a new boto3 client for every Lambda and DynamoDB task (~0.1-0.3 s
  of CPU under the GIL each), which stalled every emulated function.
- `serialize_dynamodb` wraps `moto.dynamodb.responses.DynamoHandler.call_action`. Real
  DynamoDB serves parallel Map iterations; moto's in-memory tables raise "dictionary
  changed size during iteration" when a Query meets a concurrent write. The wrapper also
  fails chosen calls on demand (tests/offline/test_faults.py) and reports every call that
  succeeded (the benchmark meters capacity units with it).
- `serve_comprehend` sets `BatchDetectSentiment`, `BatchDetectDominantLanguage` and
  `DetectSentiment` on `moto.comprehend.responses.ComprehendResponse`: moto implements only
  DetectSentiment, with a constant answer. The answers come from local.comprehend.StandIn.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.comprehend.responses import ComprehendResponse
from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
from moto.dynamodb.responses import DynamoHandler
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_dynamodb

from .comprehend import StandIn

Undo = Callable[[], None]

InProcessLambda = Callable[[str, Any], "tuple[str, bool] | None"]
"""(function name, event) -> (payload JSON, errored), or None to leave the function to moto."""

DynamoFault = Callable[[str], "str | None"]
"""(DynamoDB action, e.g. "PutItem") -> an error code to fail that call with, or None."""
DynamoListener = Callable[[str, dict, dict], None]
"""(DynamoDB action, request, response) after every call that succeeded."""


def run_lambdas_in_process(run: InProcessLambda) -> Undo:
    """Have moto answer every Lambda invocation with `run`, unless `run` declines it."""
    replaced = LambdaFunction._invoke_lambda

    def invoke_lambda(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        answer = run(self.function_name, event)
        if answer is None:
            return replaced(self, event)
        payload, errored = answer
        return payload, errored, ""

    LambdaFunction._invoke_lambda = invoke_lambda  # type: ignore[method-assign]

    def undo() -> None:
        LambdaFunction._invoke_lambda = replaced  # type: ignore[method-assign]

    return undo


_moto_engine_client = lambda_eval_utils.boto_client_for
_ENGINE_MODULES = (lambda_eval_utils, state_task_service_dynamodb)
_engine_clients: dict[tuple, Any] = {}
_engine_clients_lock = threading.Lock()


def _engine_client(region: str, service: str, state_credentials: Any = None) -> Any:
    """Step Functions itself costs our functions nothing, so its clients are made once per region and service."""
    key = (region, service, repr(state_credentials))
    with _engine_clients_lock:
        if key not in _engine_clients:
            _engine_clients[key] = _moto_engine_client(region, service, state_credentials)
        return _engine_clients[key]


def cache_engine_clients() -> Undo:
    """Have moto's Step Functions engine reuse its boto3 clients; the undo forgets them."""
    replaced = {module: module.boto_client_for for module in _ENGINE_MODULES}
    for module in _ENGINE_MODULES:
        module.boto_client_for = _engine_client  # type: ignore[attr-defined]

    def undo() -> None:
        for module, client_for in replaced.items():
            module.boto_client_for = client_for  # type: ignore[attr-defined]
        _engine_clients.clear()

    return undo


def serialize_dynamodb(faults: Callable[[], DynamoFault | None], listener: Callable[[], DynamoListener | None] = lambda: None) -> Undo:
    """Make moto's DynamoDB safe for concurrent callers and able to fail on demand.

    `faults` and `listener` are asked at every call, so their owner can change them while the patch is in place.
    """
    original = DynamoHandler.call_action
    lock = threading.RLock()

    def call_action(self: DynamoHandler) -> Any:
        fault = faults()
        code = fault(self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]) if fault else None
        if code:
            raise DynamodbException(ERROR_TYPE_PREFIX + code, f"Injected {code}")
        request = json.loads(self.body or "{}") if isinstance(self.body, (str, bytes)) else {}
        with lock:
            response = original(self)
        listen = listener()
        if listen and isinstance(response, tuple) and response[0] == 200:
            listen(self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1], request, json.loads(response[2] or "{}"))
        return response

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]

    def undo() -> None:
        DynamoHandler.call_action = original  # type: ignore[method-assign]

    return undo


_stand_ins: list[StandIn] = []
"""The installed stand-ins, the latest answering; moto's own methods come back when none is left."""
_moto_detect_sentiment = ComprehendResponse.detect_sentiment


def serve_comprehend(stand_in: StandIn) -> Undo:
    """Serve BatchDetectSentiment, BatchDetectDominantLanguage and DetectSentiment from `stand_in` inside moto."""

    def batch_detect_sentiment(response: ComprehendResponse) -> str:
        params = json.loads(response.body)
        return json.dumps(_stand_ins[-1].batch_detect_sentiment(params.get("TextList"), params.get("LanguageCode")))

    def detect_sentiment(response: ComprehendResponse) -> str:
        params = json.loads(response.body)
        return json.dumps(_stand_ins[-1].detect_sentiment(params.get("Text"), params.get("LanguageCode")))

    def batch_detect_dominant_language(response: ComprehendResponse) -> str:
        params = json.loads(response.body)
        return json.dumps(_stand_ins[-1].batch_detect_dominant_language(params.get("TextList")))

    _stand_ins.append(stand_in)
    ComprehendResponse.batch_detect_sentiment = batch_detect_sentiment  # type: ignore[attr-defined]
    ComprehendResponse.detect_sentiment = detect_sentiment  # type: ignore[method-assign]
    ComprehendResponse.batch_detect_dominant_language = batch_detect_dominant_language  # type: ignore[attr-defined]

    def undo() -> None:
        del _stand_ins[next(index for index, installed in enumerate(_stand_ins) if installed is stand_in)]
        if not _stand_ins:
            del ComprehendResponse.batch_detect_sentiment  # type: ignore[attr-defined]
            del ComprehendResponse.batch_detect_dominant_language  # type: ignore[attr-defined]
            ComprehendResponse.detect_sentiment = _moto_detect_sentiment  # type: ignore[method-assign]

    return undo
