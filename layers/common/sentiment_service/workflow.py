"""The batch's Step Functions execution: its name, how it starts, and what its status means.

STANDARD executions are the only kind DescribeExecution can see and the only kind whose
StartExecution is idempotent by name, which is what makes Snowflake's retried POSTs safe.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

MAX_EXECUTION_NAME = 80
_DIGEST_LENGTH = 20
_ILLEGAL = re.compile(r"[^0-9A-Za-z_-]")

IN_PROGRESS = frozenset({"RUNNING", "PENDING_REDRIVE"})
FAILED = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})
SUCCEEDED = "SUCCEEDED"


def execution_name(batch_id: str, staging_id: str) -> str:
    """A legal, readable, collision-resistant execution name for a Snowflake batch and its rows.

    The batch id's CloudWatch-safe characters are kept (others, like `:`, become `_`), and a
    digest of the exact batch id and of the rows' staging id follows, so two ids that read
    alike never share an execution: `01b02bdf-...-27d60056b5a6_1_1_0_0-<80 bits of SHA-256>`.
    Snowflake's retries of a POST carry the same rows, so they name the same execution; a batch
    id posted again with other rows after the first batch expired gets an execution of its own
    (names stay reserved for 90 days).
    """
    digest = hashlib.sha256(f"{batch_id}\n{staging_id}".encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST_LENGTH]
    readable = _ILLEGAL.sub("_", batch_id)[: MAX_EXECUTION_NAME - _DIGEST_LENGTH - 1]
    return f"{readable}-{digest}"


def execution_arn(state_machine_arn: str, name: str) -> str:
    """arn:...:stateMachine:NAME -> arn:...:execution:NAME:EXECUTION."""
    prefix, machine = state_machine_arn.rsplit(":stateMachine:", 1)
    return f"{prefix}:execution:{machine}:{name}"


@dataclass(frozen=True)
class ExecutionState:
    status: str
    output: dict[str, Any] | None
    error: str | None
    cause: str | None


class Workflow:
    def __init__(self, client: SFNClient, state_machine_arn: str):
        self.client = client
        self.state_machine_arn = state_machine_arn

    def start(self, name: str, execution_input: dict[str, Any]) -> None:
        """Start the batch's execution; a repeat for a running or finished one changes nothing."""
        try:
            self.client.start_execution(stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(execution_input, sort_keys=True))
        except ClientError as error:
            if error.response["Error"]["Code"] != "ExecutionAlreadyExists":
                raise

    def describe(self, name: str) -> ExecutionState | None:
        """The execution's state, or None while DescribeExecution cannot see it (yet)."""
        try:
            response = self.client.describe_execution(executionArn=execution_arn(self.state_machine_arn, name))
        except ClientError as error:
            if error.response["Error"]["Code"] == "ExecutionDoesNotExist":
                return None
            raise
        output = response.get("output")
        return ExecutionState(
            status=response["status"],
            output=json.loads(output) if output else None,
            error=response.get("error"),
            cause=response.get("cause"),
        )


def failure_message(state: ExecutionState) -> str:
    """One sentence for Snowflake from an execution's Error and Cause.

    A Lambda task's Cause is its JSON error report; only its errorMessage, which our
    functions write as one sentence without row text, is shown.
    """
    cause = state.cause or ""
    try:
        report = json.loads(cause)
    except ValueError:
        report = None
    if isinstance(report, dict) and isinstance(report.get("errorMessage"), str):
        cause = report["errorMessage"]
    error = state.error or state.status
    detail = cause.strip() or "no cause was recorded"
    return f"Sentiment batch {state.status.lower().replace('_', ' ')}: {error}: {detail[:400]}"
