"""The whole service in one process: template.yaml deployed onto moto, handlers in-process.

What is real: the state machine definition (DefinitionSubstitutions applied) run by moto's
Step Functions engine, every Lambda handler, the DynamoDB table as the template declares
it, the API routes and proxy events. What stands in: AWS itself (moto, changed only by
local.moto_patches), API Gateway (local.apigateway), Lambda's runtime (local.lambda_seam)
and Comprehend (local.comprehend).
"""

from __future__ import annotations

import io
import json
import os
import secrets
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from . import comprehend, lambda_seam, moto_patches
from .apigateway import ACCOUNT, SNOWFLAKE_ROLE_ARN, RestApi
from .moto_patches import DynamoFault, DynamoListener
from .template import TEMPLATE, Route, Template

REGION = "us-east-1"
STATE_MACHINE_NAME = "SentimentStateMachine"
STATE_MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{STATE_MACHINE_NAME}"

OFFLINE_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "offline",
    "AWS_SECRET_ACCESS_KEY": "offline",
    "AWS_SESSION_TOKEN": "offline",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
}
"""Lambda gives each concurrent invocation its own process; offline they are threads of one,
and Powertools Metrics' per-process buffer is not safe to flush from many at once."""


TABLE_NAMES = {"ResultsTable": "sentiment-results", "ResultCacheTable": "sentiment-result-cache"}
"""The tables' names offline (CloudFormation would generate them)."""

UNLIMITED_REQUESTS_PER_SECOND = 1000
"""The governor's rate offline when the stand-in has no quota: the template's largest."""

QUOTA_HEADROOM = 0.95
"""The share of the quota the governor spends, as docs/operators.md advises: calls leave a
little after their slots, and a quota counted per second refuses a call that arrives less late
than the one R slots before it. At the full quota 16 x 1,000 rows met 106 throttles (122.8 s);
at 95%, 43 (117.0 s); at 90%, fewer still but a floor 11% higher."""


def account_parameters(stand_in: comprehend.StandIn) -> dict[str, str]:
    """The offline stack behaves like one account with the stand-in's quota: the governor's rate
    is that quota less its headroom (unlimited when it has none) unless the caller says otherwise."""
    rate = stand_in.quota_rps * QUOTA_HEADROOM if stand_in.quota_rps else UNLIMITED_REQUESTS_PER_SECOND
    return {"ComprehendRequestsPerSecond": f"{rate:g}"}


def _placeholder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "# runs in-process; see local/lambda_seam.py\n")
    return buffer.getvalue()


class OfflineStack:
    """Start with `with OfflineStack() as stack:`; `stack.request(...)` is API Gateway."""

    def __init__(
        self,
        stand_in: comprehend.StandIn | None = None,
        parameters: dict[str, str] | None = None,
        template_path: Path = TEMPLATE,
        environment: dict[str, str] | None = None,
    ):
        self.stand_in = stand_in or comprehend.StandIn()
        self.template = Template(template_path, {"SnowflakeRoleArn": SNOWFLAKE_ROLE_ARN, **account_parameters(self.stand_in), **(parameters or {})})
        self.environment_overrides = environment or {}
        self.dynamodb_faults: DynamoFault | None = None
        """Set to fail DynamoDB calls, e.g. lambda action: "ProvisionedThroughputExceededException"."""
        self.dynamodb_listener: DynamoListener | None = None
        """Set to observe every DynamoDB call (the benchmark meters capacity units with it)."""
        self.physical: dict[str, str] = {}
        self.arns: dict[str, str] = {}
        self._undo: list[Any] = []

    # -- life cycle ---------------------------------------------------------------------

    def __enter__(self) -> OfflineStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        saved = {key: os.environ.get(key) for key in OFFLINE_ENVIRONMENT}
        os.environ.update(OFFLINE_ENVIRONMENT)
        self._undo.append(lambda: _restore_environment(saved))
        mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        mock.start()
        self._undo.append(mock.stop)
        self._undo.append(moto_patches.serialize_dynamodb(lambda: self.dynamodb_faults, lambda: self.dynamodb_listener))
        self._undo.append(moto_patches.serve_comprehend(self.stand_in))
        self._undo.append(lambda_seam.forget)
        self._undo.append(moto_patches.run_lambdas_in_process(lambda_seam.invoke_registered))
        self._undo.append(moto_patches.cache_engine_clients())
        self.session = boto3.session.Session(region_name=REGION)
        self._deploy()

    def stop(self, drain_s: float = 120.0) -> None:
        """Let running executions finish, then undo everything start() did.

        moto runs executions in threads that outlive the mock; one still running after the
        mock stops would find no in-process handlers and no emulated AWS.
        """
        if hasattr(self, "state_machine_arn"):
            deadline = time.monotonic() + drain_s
            while any(execution["status"] == "RUNNING" for execution in self.executions()) and time.monotonic() < deadline:
                time.sleep(0.05)
        while self._undo:
            self._undo.pop()()

    def client(self, service: str) -> Any:
        return self.session.client(service)

    # -- deployment -----------------------------------------------------------------------

    def _deploy(self) -> None:
        role = self.client("iam").create_role(RoleName="offline-stack", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))[
            "Role"
        ]["Arn"]
        dynamodb = self.client("dynamodb")
        for table_id, table in self.template.tables().items():
            self.physical[table_id] = TABLE_NAMES.get(table_id, table_id)
            dynamodb.create_table(
                TableName=self.physical[table_id],
                KeySchema=table["KeySchema"],
                AttributeDefinitions=table["AttributeDefinitions"],
                BillingMode=table["BillingMode"],
            )
            ttl = table["TimeToLiveSpecification"]
            dynamodb.update_time_to_live(TableName=self.physical[table_id], TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True})

        for secret_id in self.template.of_type("AWS::SecretsManager::Secret"):
            self.client("secretsmanager").create_secret(Name=secret_id, SecretString=secrets.token_urlsafe(48))
            self.physical[secret_id] = secret_id

        lambdas = self.client("lambda")
        specs = self.template.functions()
        for spec in specs:
            created = lambdas.create_function(
                FunctionName=spec.logical_id,
                Runtime="python3.12",
                Role=role,
                Handler=f"app.{spec.handler}",
                Code={"ZipFile": _placeholder_zip()},
                MemorySize=spec.memory_mb,
                Timeout=spec.timeout_s,
            )
            self.physical[spec.logical_id] = spec.logical_id
            self.arns[spec.logical_id] = created["FunctionArn"]

        machine_id, machine = self.template.state_machine()
        self.physical[machine_id] = STATE_MACHINE_NAME
        definition = self.template.state_machine_definition(self._resolve)
        self.state_machine_arn = self.client("stepfunctions").create_state_machine(
            name=self.physical[machine_id], definition=definition, roleArn=role, type=machine.get("Type", "STANDARD")
        )["stateMachineArn"]
        self.arns[machine_id] = self.state_machine_arn
        self.table_name = self.physical["ResultsTable"]
        self.cache_table_name = self.physical["ResultCacheTable"]

        environment: dict[str, str] = {}
        for spec in specs:
            for key, value in spec.environment.items():
                environment[key] = str(self.template.resolve(value, self._resolve))
        environment.update(self.environment_overrides)
        saved = {key: os.environ.get(key) for key in environment}
        os.environ.update(environment)
        self._undo.append(lambda: _restore_environment(saved))
        from sentiment_service.settings import reset_clients

        reset_clients()
        self.api = RestApi(
            self.template.routes(),
            self._invoke_through_api,
            binary_media_types=self.template.api_property("BinaryMediaTypes"),
            minimum_compression=self.template.api_property("MinimumCompressionSize"),
        )
        self._functions = {}
        for spec in specs:
            handler = lambda_seam.load_handler(spec.module, spec.handler)
            context = lambda_seam.LambdaContext(spec.logical_id, spec.memory_mb, self.arns[spec.logical_id], spec.timeout_s)
            lambda_seam.register(spec.logical_id, handler, context)
            self._functions[spec.logical_id] = (handler, context)

    def _resolve(self, logical_id: str, attribute: str | None) -> str:
        """Ref and GetAtt as CloudFormation would answer them for this offline deployment."""
        pseudo = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
        if logical_id in pseudo:
            return pseudo[logical_id]
        if attribute == "Arn":
            return self.arns[logical_id]
        if attribute == "Name":
            return self.physical[logical_id]
        if attribute is None:
            is_state_machine = self.template.resources[logical_id]["Type"] == "AWS::Serverless::StateMachine"
            return self.arns[logical_id] if is_state_machine else self.physical[logical_id]
        raise KeyError(f"cannot resolve {logical_id}.{attribute} offline")

    # -- the API ----------------------------------------------------------------------------

    def route(self, method: str, path: str) -> Route | None:
        """The template's API route for a request, as API Gateway would match it."""
        return self.api.route(method, path)

    def request(
        self, method: str, path: str = "/sentiment", headers: dict[str, str] | None = None, body: str | bytes | None = None, query: dict[str, str] | None = None
    ) -> dict:
        """What API Gateway's Lambda proxy integration would answer: statusCode, headers, body."""
        return self.api.request(method, path, headers, body, query)

    def function(self, logical_id: str) -> tuple[Callable[..., Any], lambda_seam.LambdaContext]:
        """A deployed function's handler and its context, to invoke it directly as Lambda would."""
        return self._functions[logical_id]

    def _invoke_through_api(self, function: str, event: dict) -> dict:
        """A synchronous proxy invocation: the handler's response, in one of the function's warm containers."""
        handler, context = self._functions[function]
        started = time.perf_counter()
        with lambda_seam.running(function):
            response = handler(event, context.fresh())
        lambda_seam.report(function, event, response.get("statusCode", 500) >= 500, time.perf_counter() - started)
        return response

    # -- what an operator would look at ------------------------------------------------------

    def executions(self) -> list[dict]:
        paginator = self.client("stepfunctions").get_paginator("list_executions")
        return [execution for page in paginator.paginate(stateMachineArn=self.state_machine_arn) for execution in page["executions"]]

    def history(self, execution_arn: str) -> list[dict]:
        paginator = self.client("stepfunctions").get_paginator("get_execution_history")
        return [event for page in paginator.paginate(executionArn=execution_arn) for event in page["events"]]


def _restore_environment(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
