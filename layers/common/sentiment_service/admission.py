"""Admission control: a batch is accepted only if it can be answered within the window.

Snowflake gives every batch 10 minutes and aborts the whole query when one is late. The
governor spends Comprehend's quota at R requests a second, so admitted work of C calls is done
within C / R seconds; a POST whose calls, added to the calls already admitted and not yet
released, would not be done within AdmissionWindowSeconds is answered 429 at once. Snowflake
then slows down and retries the batch later, with the same batch id. A lone batch larger than
the window is admitted when nothing else is, so every batch can make progress.

    pk = admission#comprehend, sk =
      head               version, bumped by every admission, so two POSTs never both take the
                         last room (their TransactWriteItems conflict and one reads again)
      batch#<batch id>   calls, admittedAt, expiresAt: the batch's claim on the window, from
                         the POST that admits it until it is released or its lease lapses

An entry is released (deleted) however its batch ends: AssembleResults when it succeeds, the
workflow's failure path (ReleaseAdmission) when a state fails, and a GET that finds the
execution closed (TIMED_OUT, ABORTED, a crash). What none of them releases, a POST that crashed
before StartExecution or a query Snowflake cancelled, lapses with its lease: an entry counts
only while expiresAt is ahead, and the lease outlives any execution (900 s) by a margin.
Entries hold ids and counts, never text.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PARTITION = "admission#comprehend"
HEAD_KEY = {"pk": {"S": PARTITION}, "sk": {"S": "head"}}
ENTRY_PREFIX = "batch#"

LEASE_SECONDS = 960
"""An admitted batch's claim outlives its execution (TimeoutSeconds 900) by a minute."""

MAX_RETRY_AFTER_SECONDS = 60
ATTEMPTS = 5


def entry_key(batch_id: str) -> dict[str, Any]:
    return {"pk": {"S": PARTITION}, "sk": {"S": f"{ENTRY_PREFIX}{batch_id}"}}


@dataclass(frozen=True)
class Decision:
    admitted: bool
    retry_after_seconds: int = 0
    admitted_calls: int = 0
    """Calls admitted before this decision, this batch's excluded."""


class AdmissionContended(Exception):
    """Admissions kept racing for the window; the POST is answered 429 and retried."""


@dataclass(frozen=True)
class Admission:
    client: DynamoDBClient
    table_name: str
    requests_per_second: float
    window_seconds: float
    clock: Callable[[], float] = time.time

    @property
    def capacity_calls(self) -> float:
        """The Comprehend calls the governor makes within the window."""
        return self.requests_per_second * self.window_seconds

    def admit(self, batch_id: str, calls: int) -> Decision:
        """Admit the batch's `calls` unless the window is full; an admitted batch asking again stays admitted."""
        for _ in range(ATTEMPTS):
            now = self.clock()
            version, admitted, own = self._read(batch_id, now)
            if own:
                return Decision(True, admitted_calls=admitted)
            if admitted and admitted + calls > self.capacity_calls:
                excess = admitted + calls - self.capacity_calls
                return Decision(False, min(MAX_RETRY_AFTER_SECONDS, max(1, math.ceil(excess / self.requests_per_second))), admitted)
            if self._claim(batch_id, calls, version, now):
                return Decision(True, admitted_calls=admitted)
        raise AdmissionContended("Admissions kept racing for the window.")

    def release(self, batch_id: str) -> None:
        """Give the batch's claim back; releasing twice, or a batch never admitted, changes nothing."""
        self.client.delete_item(TableName=self.table_name, Key=entry_key(batch_id))

    def admitted_calls(self) -> int:
        return self._read(None, self.clock())[1]

    def _read(self, batch_id: str | None, now: float) -> tuple[int, int, bool]:
        """The head's version, the calls of live entries other than `batch_id`'s, and whether it has one."""
        version, admitted, own = 0, 0, False
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": PARTITION}},
            "ConsistentRead": True,
        }
        while True:
            response = self.client.query(**request)
            for item in response.get("Items", []):
                if item["sk"]["S"] == "head":
                    version = int(item["version"]["N"])
                elif float(item["expiresAt"]["N"]) > now:
                    if batch_id is not None and item["sk"]["S"] == f"{ENTRY_PREFIX}{batch_id}":
                        own = True
                    else:
                        admitted += int(item["calls"]["N"])
            if "LastEvaluatedKey" not in response:
                return version, admitted, own
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _claim(self, batch_id: str, calls: int, version: int, now: float) -> bool:
        head_unchanged = "attribute_not_exists(version) OR version = :seen"
        entry_free = "attribute_not_exists(sk) OR expiresAt <= :now"
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table_name,
                            "Key": HEAD_KEY,
                            "UpdateExpression": "SET version = :next",
                            "ConditionExpression": head_unchanged,
                            "ExpressionAttributeValues": {":seen": {"N": str(version)}, ":next": {"N": str(version + 1)}},
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": {
                                **entry_key(batch_id),
                                "calls": {"N": str(calls)},
                                "admittedAt": {"N": f"{now:.3f}"},
                                "expiresAt": {"N": str(int(now) + LEASE_SECONDS)},
                            },
                            "ConditionExpression": entry_free,
                            "ExpressionAttributeValues": {":now": {"N": f"{now:.3f}"}},
                        }
                    },
                ]
            )
        except ClientError as error:
            if error.response["Error"]["Code"] in ("TransactionCanceledException", "TransactionConflictException"):
                return False
            raise
        return True
