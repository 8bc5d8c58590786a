"""The deployment-wide governor of Comprehend requests: every call waits for its turn.

Comprehend's request quota is shared by every batch in flight (and every other caller in the
account and region). Batches that each retry on their own keep the quota saturated with
refused requests and finish late together, or fail when their retries run out. Instead, each
call reserves a slot first, spaced 1/R apart deployment-wide (R = ComprehendRequestsPerSecond),
and is sent at its slot: throttling becomes waiting, and waiting never exhausts a budget.

    pk = quota#comprehend, sk =
      slots     tat: the theoretical arrival time (GCRA), the earliest time the next call's slot
                may start, epoch seconds; no TTL, a single item per deployment
      batches   tat: the same for whole batches: when the next batch's block of calls may start

Calls are paced per call, but served by batch: when a batch is planned it books a block of
(its calls / R) seconds after the blocks booked before it, and its Map starts at the block's
start. So batches are served in the order they were planned, as admission assumes: per-call
slots only arbitrate between the few batches whose blocks overlap, and a batch admitted later
never pushes back an earlier one (without blocks, 4,000-row batches sharing the quota with a
stream of 500-row ones ran past the window).

A reservation is one conditional write while the quota is idle (SET tat = now + 1/R when
tat <= now) and one atomic ADD when calls queue (tat += 1/R, the slot being the old tat), so
concurrent callers never contend and get their slots in the order they asked: an earlier
caller is never pushed back by later ones.

How a caller waits is a matter of price. A sleeping 256 MB Lambda costs $0.0000033 a second;
handing the wait to a Step Functions Wait state costs about three state transitions ($0.000075),
the price of ~22 s of sleep, and holds no Lambda concurrency. So a caller sleeps in the
function up to `sleep_limit_seconds` and hands longer waits back to Step Functions, with its
slot kept.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Unpack

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_comprehend.type_defs import (
        BatchDetectDominantLanguageRequestTypeDef,
        BatchDetectDominantLanguageResponseTypeDef,
        BatchDetectSentimentRequestTypeDef,
        BatchDetectSentimentResponseTypeDef,
    )
    from mypy_boto3_dynamodb import DynamoDBClient

    from .comprehend import ComprehendCalls

QUOTA_KEY = {"pk": {"S": "quota#comprehend"}, "sk": {"S": "slots"}}
BATCHES_KEY = {"pk": {"S": "quota#comprehend"}, "sk": {"S": "batches"}}

SLEEP_BREAK_EVEN_SECONDS = 20.0
"""Waits shorter than this are cheaper slept in the function than in a Wait state."""

SLEEPING_CONCURRENCY = 200
"""Lambdas that may sleep for their turn at once; at high rates the sleep limit shrinks so the
account's Lambda concurrency (1,000 by default, shared) is not spent on waiting."""


@dataclass(frozen=True)
class Governor:
    client: DynamoDBClient
    table_name: str
    requests_per_second: float
    clock: Callable[[], float] = time.time

    @property
    def interval(self) -> float:
        return 1.0 / self.requests_per_second

    @property
    def sleep_limit_seconds(self) -> float:
        """The longest wait a caller sleeps through in the function."""
        return min(SLEEP_BREAK_EVEN_SECONDS, SLEEPING_CONCURRENCY / self.requests_per_second)

    def reserve(self) -> float:
        """Reserve the next free slot for one call; returns when it starts (epoch seconds, maybe now)."""
        return self._book(QUOTA_KEY, self.interval)

    def reserve_block(self, calls: int) -> float:
        """Book a batch's block of `calls` slots after the blocks booked before it; returns its start."""
        return self._book(BATCHES_KEY, calls * self.interval)

    def _book(self, key: dict[str, Any], span: float) -> float:
        now = self.clock()
        span = _milliseconds_up(span)
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=key,
                UpdateExpression="SET tat = :next",
                ConditionExpression="attribute_not_exists(tat) OR tat <= :now",
                ExpressionAttributeValues={":next": _number(_milliseconds_up(now + span)), ":now": _number(now)},
            )
            return now
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        response = self.client.update_item(
            TableName=self.table_name,
            Key=key,
            UpdateExpression="ADD tat :span",
            ExpressionAttributeValues={":span": _number(span)},
            ReturnValues="UPDATED_NEW",
        )
        return float(response["Attributes"]["tat"]["N"]) - span


class TurnLater(Exception):
    """The reserved slot is further away than the function should sleep: Step Functions waits."""

    def __init__(self, slot: float, wait_seconds: float):
        super().__init__(f"Next Comprehend slot in {wait_seconds:.0f} s.")
        self.slot = slot
        self.wait_seconds = wait_seconds


@dataclass
class Turns:
    """One function's use of the governor: take a slot before each call, wait for it, count the wait.

    `held` is a slot reserved by an earlier invocation that handed its wait to Step Functions:
    it is used first, so a Wait state never costs the caller its place.
    """

    governor: Governor | None
    sleep: Callable[[float], None] = time.sleep
    held: float | None = None
    may_hand_back: bool = True
    slept_seconds: float = 0.0

    def wait_for_turn(self) -> None:
        if self.governor is None:
            return
        slot, self.held = (self.held, None) if self.held else (self.governor.reserve(), None)
        wait = slot - self.governor.clock()
        if wait > self.governor.sleep_limit_seconds and self.may_hand_back:
            raise TurnLater(slot, wait)
        if wait > 0:
            self.sleep(wait)
            self.slept_seconds += wait


def _number(value: float) -> dict[str, Any]:
    return {"N": f"{value:.3f}"}


def _milliseconds_up(value: float) -> float:
    """Slots are kept to the millisecond, rounded up, so no two are ever closer than the rate allows."""
    return math.ceil(value * 1000) / 1000


class GovernedClient:
    """A Comprehend client whose every request first waits for its turn, retries included."""

    def __init__(self, client: ComprehendCalls, turns: Turns):
        self.client = client
        self.turns = turns

    def batch_detect_sentiment(self, **request: Unpack[BatchDetectSentimentRequestTypeDef]) -> BatchDetectSentimentResponseTypeDef:
        self.turns.wait_for_turn()
        return self.client.batch_detect_sentiment(**request)

    def batch_detect_dominant_language(self, **request: Unpack[BatchDetectDominantLanguageRequestTypeDef]) -> BatchDetectDominantLanguageResponseTypeDef:
        self.turns.wait_for_turn()
        return self.client.batch_detect_dominant_language(**request)
