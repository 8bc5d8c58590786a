"""`python -m local inspect <batch id or execution name>`: one batch as the Step Functions console shows it.

Reads a running `make local`'s emulated AWS (AWS_PORT, 5055): the execution's path through the
states with their times, Lambda retries and the errors that caused them (throttles counted
apart), the batch record, and every stored item of the batch decoded (storage.unpack): counts,
keys and sentiments, and row text only with `--show-text`.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from sentiment_service import storage
from sentiment_service.workflow import execution_arn

from .stack import REGION, STATE_MACHINE_ARN

TABLE = "sentiment-results"
LOCAL_AWS_CREDENTIALS = "AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1"
"""Any credentials will do for the emulated AWS, but the aws CLI sends no request without some."""
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local", "region_name": REGION}


def default_aws_url() -> str:
    return f"http://127.0.0.1:{os.environ.get('AWS_PORT', '5055')}"


@dataclass
class StateVisit:
    """A state's entries in one execution: when first entered, how long it took in all, what failed."""

    name: str
    kind: str
    entered: datetime
    seconds: float = 0.0
    entries: int = 0
    lambda_calls: int = 0
    errors: Counter = field(default_factory=Counter)
    _open: datetime | None = None


def state_path(history: list[dict]) -> list[StateVisit]:
    """The states in the order first entered, with their times, Lambda invocations and failures."""
    visits: dict[str, StateVisit] = {}
    current: StateVisit | None = None
    for event in history:
        kind = event["type"]
        if "stateEnteredEventDetails" in event:
            name = event["stateEnteredEventDetails"]["name"]
            current = visits.setdefault(name, StateVisit(name, kind.removesuffix("StateEntered"), event["timestamp"]))
            current.entries += 1
            current._open = event["timestamp"]
        elif "stateExitedEventDetails" in event:
            visit = visits.get(event["stateExitedEventDetails"]["name"])
            if visit and visit._open:
                visit.seconds += (event["timestamp"] - visit._open).total_seconds()
                visit._open = None
        elif current is not None and kind == "LambdaFunctionScheduled":
            current.lambda_calls += 1
        elif current is not None and kind in ("LambdaFunctionFailed", "LambdaFunctionTimedOut", "TaskFailed", "ExecutionFailed"):
            details = next((value for key, value in event.items() if key.endswith("EventDetails")), {})
            current.errors[details.get("error") or kind] += 1
    return list(visits.values())


def is_throttle(error: str) -> bool:
    return "throttl" in error.lower()


class Inspector:
    def __init__(self, aws_url: str, table: str = TABLE, state_machine_arn: str = STATE_MACHINE_ARN, show: Callable[[str], None] = print):
        session = boto3.session.Session(**LOCAL_CREDENTIALS)
        config = Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30)
        self.sfn = session.client("stepfunctions", endpoint_url=aws_url, config=config)
        self.dynamodb = session.client("dynamodb", endpoint_url=aws_url, config=config)
        self.table = table
        self.state_machine_arn = state_machine_arn
        self.show = show

    def resolve(self, reference: str) -> tuple[str | None, str | None]:
        """(batch id, execution name) of a batch id (`query:1:…`, with colons) or an execution name."""
        try:
            described = self.sfn.describe_execution(executionArn=execution_arn(self.state_machine_arn, reference))
            return json.loads(described.get("input") or "{}").get("batchId"), reference
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("ExecutionDoesNotExist", "InvalidArn"):
                raise
        meta = self.dynamodb.get_item(TableName=self.table, Key=storage.item_key(reference, storage.META), ConsistentRead=True).get("Item")
        return (reference, meta["executionName"]["S"]) if meta else (None, None)

    def run(self, reference: str, show_text: bool = False) -> int:
        batch_id, name = self.resolve(reference)
        if batch_id is None and name is None:
            self.show(
                f"No batch or execution {reference!r} on this emulated AWS (a batch id has colons, e.g. <query id>:1:0:0:0; an execution name "
                "has `_` and a digest)."
            )
            return 1
        if name:
            self.execution(name)
        if batch_id:
            self.items(batch_id, show_text)
        return 0

    def execution(self, name: str) -> None:
        arn = execution_arn(self.state_machine_arn, name)
        described = self.sfn.describe_execution(executionArn=arn)
        paginator = self.sfn.get_paginator("get_execution_history")
        history = [event for page in paginator.paginate(executionArn=arn) for event in page["events"]]
        started = described["startDate"]
        took = f" in {(described['stopDate'] - started).total_seconds():.2f}s" if described.get("stopDate") else " (still running)"
        self.show(f"Execution {name}")
        self.show(f"  {described['status']}{took}, {len(history)} history events, started {started.isoformat(timespec='milliseconds')}")
        if described.get("error"):
            cause = described.get("cause") or ""
            with contextlib.suppress(ValueError, AttributeError):
                cause = json.loads(cause).get("errorMessage", cause)
            self.show(f"  failed: {described['error']}: {' '.join(str(cause).split())}")
        path = state_path(history)
        self.show("  path (as the console's graph; times from the execution history):")
        for visit in path:
            offset = (visit.entered - started).total_seconds()
            retries = max(0, visit.lambda_calls - visit.entries)
            notes = [f"{visit.entries} entries" if visit.entries > 1 else "", f"{visit.lambda_calls} Lambda calls, {retries} retried" if retries else ""]
            notes += [f"{count} x {error}" + (" (throttle)" if is_throttle(error) else "") for error, count in visit.errors.items()]
            note = "; ".join(note for note in notes if note)
            self.show(f"    +{offset:7.3f}s  {visit.name:<22} {visit.kind:<7} {visit.seconds:7.3f}s" + (f"  {note}" if note else ""))
        errors = Counter()
        for visit in path:
            errors.update(visit.errors)
        retried = sum(max(0, visit.lambda_calls - visit.entries) for visit in path)
        throttles = sum(count for error, count in errors.items() if is_throttle(error))
        self.show(f"  retries {retried}, throttles {throttles}, errors {sum(errors.values())}")
        self.show(f"  mermaid: flowchart LR; {' --> '.join(visit.name for visit in path)}")

    def items(self, batch_id: str, show_text: bool) -> None:
        items = self._query(batch_id)
        self.show(f"Batch {batch_id} (DynamoDB {self.table}, pk = the batch id): {len(items)} items")
        for item in items:
            key = item["sk"]["S"]
            expires = f"expires in {int(item['expiresAt']['N']) - int(datetime.now().timestamp())}s" if "expiresAt" in item else ""
            if key == storage.META:
                fields = {name: next(iter(value.values())) for name, value in item.items() if name not in ("pk", "sk", "fingerprint")}
                self.show(
                    f"  meta            status {fields.pop('status', '?')} ({storage.STATUS_STAGED} -> {storage.STATUS_STARTED} -> "
                    f"{storage.STATUS_ENDED}), {expires}"
                )
                self.show("                  " + ", ".join(f"{name} {value}" for name, value in sorted(fields.items()) if name != "expiresAt"))
                continue
            value = storage.unpack(item["data"]["B"]) if "data" in item else None
            extra = f", language {item['language']['S']}" if "language" in item else ""
            self.show(f"  {key:<15} {describe(key, value)}{extra}, {expires}")
            if show_text and key.startswith(storage.CHUNK):
                for text in value:
                    self.show(f"      {shortened(text)}")
            if show_text and key.startswith(storage.INPUT):
                for row in value:
                    self.show(f"      {row[0]:>5}  {shortened(row[1])}" + (f"  [{row[2]}]" if len(row) > 2 else ""))

    def _query(self, batch_id: str) -> list[dict]:
        """The batch's items in the order the workflow writes them: record, staged rows, chunks, values, answer."""
        paginator = self.dynamodb.get_paginator("query")
        pages = paginator.paginate(
            TableName=self.table, KeyConditionExpression="pk = :b", ExpressionAttributeValues={":b": {"S": batch_id}}, ConsistentRead=True
        )
        order = [storage.META, storage.INPUT, storage.CHUNK, storage.HIT, storage.ANALYSIS, storage.RESULT]
        return sorted(
            (item for page in pages for item in page["Items"]),
            key=lambda item: (next((index for index, prefix in enumerate(order) if item["sk"]["S"].startswith(prefix)), len(order)), item["sk"]["S"]),
        )


def describe(key: str, value: Any) -> str:
    """What a decoded item holds, in counts and sentiments: never its texts."""
    if key.startswith(storage.CHUNK):
        return f"{len(value)} texts for one Comprehend call"
    if key.startswith(storage.INPUT):
        numbers = [row[0] for row in value]
        kinds = Counter("NULL" if row[1] is None else "blank" if isinstance(row[1], str) and not row[1].strip() else "text" for row in value)
        return f"{len(value)} staged rows {min(numbers)}-{max(numbers)} ({', '.join(f'{count} {kind}' for kind, count in sorted(kinds.items()))})"
    if key.startswith(storage.ANALYSIS):
        return f"{len(value)} values: {outcomes(value)}"
    if key.startswith(storage.HIT):
        return f"{len(value)} values from the result cache: {outcomes([document_value for _, document_value in value])}"
    if key.startswith(storage.RESULT):
        return f"{len(value)} answer rows {value[0][0]}-{value[-1][0]}: {outcomes([row_value for _, row_value in value])}"
    return f"{type(value).__name__}"


def shortened(text: Any, width: int = 100) -> str:
    shown = json.dumps(text, ensure_ascii=False)
    return shown if len(shown) <= width else shown[: width - 1] + "…"


def outcomes(values: list[Any]) -> str:
    counts = Counter(
        "NULL"
        if value is None
        else value.get("Sentiment")
        or ("ERROR " + value["Error"]["Code"] if "Error" in value else f"detected {value['LanguageCode']}" if "LanguageCode" in value else "other")
        for value in values
    )
    return " ".join(f"{name}={count}" for name, count in counts.most_common())


def main(reference: str, aws_url: str | None = None, show_text: bool = False) -> int:
    return Inspector(aws_url or default_aws_url()).run(reference, show_text)
