"""Fixtures: the offline stack (template.yaml on moto, handlers in-process) and a Snowflake driver."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator

import pytest

from local.comprehend import StandIn
from local.snowflake import batch_body, poll, snowflake_headers
from local.stack import OfflineStack, response_json


@dataclass
class Outcome:
    status: int
    body: Any
    polls: int
    headers: dict


class Snowflake:
    """Posts batches and polls them the way Snowflake does, against an offline stack."""

    def __init__(self, stack: OfflineStack):
        self.stack = stack

    def post(self, texts: list[Any] | None = None, headers: dict | None = None, body: str | bytes | None = None) -> Outcome:
        response = self.stack.request("POST", headers=headers or snowflake_headers(), body=body if body is not None else batch_body(texts or []))
        return Outcome(response["statusCode"], response_json(response), 0, response.get("headers") or {})

    def get(self, headers: dict) -> Outcome:
        response = self.stack.request("GET", headers=headers)
        return Outcome(response["statusCode"], response_json(response), 1, response.get("headers") or {})

    def wait(self, headers: dict, timeout_s: float = 120.0) -> Outcome:
        response, polls = poll(lambda: self.stack.request("GET", headers=headers), timeout_s)
        return Outcome(response["statusCode"], response_json(response), polls, response.get("headers") or {})

    def run(self, texts: list[Any], headers: dict | None = None, timeout_s: float = 120.0) -> Outcome:
        headers = headers or snowflake_headers()
        accepted = self.post(texts, headers)
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
