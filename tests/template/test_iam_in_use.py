"""Every AWS action a function performs offline is one its policy in template.yaml grants.

The offline stack enforces no IAM, so a permission the code needs but the template lacks would
only show in AWS, as a batch failing AccessDenied; this test records each function's DynamoDB
calls while batches succeed, share a pooled call, fail, and are polled after they end.
"""

from __future__ import annotations

import threading
import time
from unittest import mock

from local import lambda_seam
from local.snowflake import snowflake_headers
from sentiment_service.workflow import ExecutionState, Workflow
from tests.helpers import grants, row_text

STATE_MACHINE = "SentimentStateMachine"
TRANSACTION_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
"""IAM authorizes a transaction by the actions inside it (DynamoDB's "Using IAM with transactions")."""


def test_every_dynamodb_action_a_function_performs_is_granted_to_it(snowflake, stack, stand_in):
    used: dict[str, set[str]] = {}
    lock = threading.Lock()

    def record(action: str, request: dict, response: dict) -> None:
        actions = {TRANSACTION_ACTIONS[kind] for item in request.get("TransactItems", []) for kind in item} if action == "TransactWriteItems" else {action}
        with lock:
            used.setdefault(lambda_seam.running_function() or STATE_MACHINE, set()).update(f"dynamodb:{name}" for name in actions)

    stack.dynamodb_listener = record
    for number in range(3):
        assert snowflake.run([row_text(index, f"batch {number} text {index}") for index in range(40)]).status == 200
    stand_in.fail_with = "AccessDeniedException"
    assert snowflake.run([row_text(0, "refused")]).status == 500
    headers = snowflake_headers()
    with mock.patch.object(Workflow, "start"):
        assert snowflake.post([row_text(0, "never started")], headers).status == 202
    later = time.time() + 60
    with mock.patch.object(Workflow, "describe", return_value=ExecutionState("ABORTED", None, None, None)), mock.patch("time.time", lambda: later):
        assert snowflake.get(headers).status == 500

    functions = {
        "StartBatchFunction",
        "PollBatchFunction",
        "PlanChunksFunction",
        "AnalyzeChunksFunction",
        "AnalyzePooledChunksFunction",
        "AssembleResultsFunction",
        STATE_MACHINE,
    }
    assert set(used) == functions
    for function, actions in used.items():
        assert actions <= set(grants(function)), f"{function} uses {sorted(actions - set(grants(function)))} without a grant"
