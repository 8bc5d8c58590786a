"""What tests share besides fixtures: the Snowflake driver, row text with its leak marker, AWS errors, a clock.

Fixtures live in tests/conftest.py; test modules import these by name (`from tests.helpers import row_text`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from local.apigateway import response_headers, response_json
from local.snowflake import batch_body, poll, snowflake_headers
from local.stack import OfflineStack
from local.template import Template


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
        outcome = Outcome(response["statusCode"], response_json(response), polls, response_headers(response))
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


def stored_items(stack: OfflineStack) -> int:
    return stack.client("dynamodb").scan(TableName=stack.table_name, Select="COUNT")["Count"]


class FakeClock:
    """A clock a test moves by hand: `clock.now += 10`."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


ROLE = "arn:aws:iam::111122223333:role/snowflake-api"
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "111122223333", "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "stack"}


def template(**parameters: str) -> Template:
    return Template(parameter_overrides={"SnowflakeRoleArn": ROLE, **parameters})


def resolved(value, source: Template | None = None):
    source = source or template()
    return source.resolve(value, lambda logical_id, attribute: PSEUDO.get(logical_id, f"<{logical_id}{'.' + attribute if attribute else ''}>"))


def resource(name: str, source: Template | None = None) -> dict:
    source = source or template()
    return resolved(source.resources[name], source)


def statements(name: str) -> list[dict]:
    policies = resource(name)["Properties"]["Policies"]
    return [statement for policy in policies for statement in policy["Statement"]]


def grants(name: str) -> dict[str, set[str]]:
    """A role's grants in the template as deployed: action -> resources it is allowed on."""
    allowed: dict[str, set[str]] = {}
    for statement in statements(name):
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for action in actions:
            allowed.setdefault(action, set()).update(targets)
    return allowed
