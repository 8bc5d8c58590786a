"""Fixtures: the offline stack (template.yaml on moto, handlers in-process) and a Snowflake driver."""

from __future__ import annotations

import io
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.apigateway import response_json
from local.comprehend import StandIn
from local.snowflake import batch_body, poll, snowflake_headers
from local.stack import OfflineStack
from local.template import Template

for _name, _value in Template().globals["Environment"]["Variables"].items():
    if _name.startswith("POWERTOOLS_"):
        os.environ.setdefault(_name, str(_value))
"""Powertools reads its service name and metrics namespace when sentiment_service.observability is
first imported, which a test module may do before any offline stack sets the template's environment."""


@dataclass
class Outcome:
    status: int
    body: Any
    polls: int
    headers: dict


class Snowflake:
    """Posts batches and polls them the way Snowflake does, against an offline stack.

    Every answer that is not a 200 is kept: they are what a Snowflake user reads.
    """

    def __init__(self, stack: OfflineStack):
        self.stack = stack
        self.error_bodies: list[Any] = []

    def _outcome(self, response: dict, polls: int) -> Outcome:
        headers = {key: values[-1] for key, values in (response.get("multiValueHeaders") or {}).items()}
        outcome = Outcome(response["statusCode"], response_json(response), polls, {**headers, **(response.get("headers") or {})})
        if outcome.status != 200:
            self.error_bodies.append(outcome.body)
        return outcome

    def request(self, method: str, headers: dict, body: str | bytes | None = None) -> Outcome:
        return self._outcome(self.stack.request(method, headers=headers, body=body), 0)

    def post(self, texts: list[Any] | None = None, headers: dict | None = None, body: str | bytes | None = None) -> Outcome:
        return self.request("POST", headers or snowflake_headers(), body if body is not None else batch_body(texts or []))

    def get(self, headers: dict) -> Outcome:
        return self._outcome(self.stack.request("GET", headers=headers), 1)

    def wait(self, headers: dict, timeout_s: float = 120.0) -> Outcome:
        def get() -> tuple[int, dict]:
            response = self.stack.request("GET", headers=headers)
            return response["statusCode"], response

        _, response, polls = poll(get, time.monotonic() + timeout_s, first_wait_s=0.05, max_wait_s=2.0)
        return self._outcome(response, polls)

    def run(self, texts: list[Any], headers: dict | None = None, timeout_s: float = 120.0) -> Outcome:
        headers = headers or snowflake_headers()
        accepted = self.post(texts, headers)
        if accepted.status == 200:
            return accepted
        assert accepted.status == 202, accepted.body
        return self.wait(headers, timeout_s)


@pytest.fixture
def stand_in() -> StandIn:
    return StandIn()


@pytest.fixture
def stack(stand_in: StandIn) -> Iterator[OfflineStack]:
    with OfflineStack(stand_in) as running:
        yield running


@pytest.fixture
def snowflake(stack: OfflineStack) -> Snowflake:
    return Snowflake(stack)


def history_text(stack: OfflineStack) -> str:
    """Every execution's input, output and history events as one string, to search for row text."""
    sfn = stack.client("stepfunctions")
    parts = []
    for execution in stack.executions():
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        parts += [described.get("input", ""), described.get("output", ""), described.get("cause", "") or ""]
        parts += [json.dumps(event, default=str) for event in stack.history(execution["executionArn"])]
    return "\n".join(parts)


ROW_TEXT_MARKER = "ROWTEXT"
"""Every text of the hardening tests carries this marker, so a leak of row text is found anywhere."""


def aws_error(code: str, operation: str, status: int = 400) -> ClientError:
    """An AWS API error as botocore raises it: what a fault test makes a call fail with."""
    return ClientError({"Error": {"Code": code, "Message": f"{code} (test)"}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


def row_text(index: int, body: str = "I love this product") -> str:
    return f"{ROW_TEXT_MARKER}{index} {body}"


@pytest.fixture
def no_row_text_leaks(stack: OfflineStack, snowflake: Snowflake, capfd, caplog) -> Iterator[None]:
    """After the test: no row text in logs, execution history, execution input/output or error bodies.

    Powertools' handler keeps the stream it was created with, which pytest may since have
    swapped; a handler of our own with Powertools' formatter records exactly what it emits.
    """
    from sentiment_service.observability import logger

    emitted = io.StringIO()
    recorder = logging.StreamHandler(emitted)
    recorder.setFormatter(logger.registered_formatter)
    logger.addHandler(recorder)
    try:
        yield
    finally:
        logger.removeHandler(recorder)
    captured = capfd.readouterr()
    places = {
        "Powertools logs": emitted.getvalue(),
        "stdout": captured.out,
        "stderr": captured.err,
        "Python logging": caplog.text,
        "execution input, output, cause and history": history_text(stack),
        "error answers": json.dumps(snowflake.error_bodies, ensure_ascii=False),
    }
    for where, text in places.items():
        assert ROW_TEXT_MARKER not in text, f"row text leaked into {where}"


def stored_items(stack: OfflineStack) -> int:
    return stack.client("dynamodb").scan(TableName=stack.table_name, Select="COUNT")["Count"]


class FakeClock:
    """A clock a test moves by hand: `clock.now += 10`."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
