"""`sam local start-api --env-vars events/env.json` against `make local`, as far as it runs without Docker.

The container's environment is computed by the pinned SAM CLI itself (the call `sam local` makes for
every container), so a variable SAM would drop or rename fails here. The handlers then run in-process
with exactly that environment; the host name host.docker.internal resolves to 127.0.0.1, as Docker's
host-gateway would make it, so every AWS call crosses HTTP to make local's emulated AWS. That endpoint
listens on a free port, not 5055: the test rewrites only the port of the file's AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest
from samcli.commands.local.lib.local_lambda import LocalLambdaRunner
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

from local import lambda_seam
from local.apigateway import SNOWFLAKE_ROLE_ARN, response_json
from local.comprehend import StandIn
from local.server import LocalService
from local.template import ROOT, TEMPLATE, Template
from sentiment_service.settings import container_clients

EVENTS = ROOT / "events"
CONTAINER_HOST = "host.docker.internal"
SAM_USER = {"AWS_ACCESS_KEY_ID": "AKIASAMUSEREXAMPLE", "AWS_SECRET_ACCESS_KEY": "sam-user-secret", "AWS_REGION": "us-east-1"}
"""The credentials and region of whoever runs `sam local start-api --region us-east-1`; SAM hands them to every container."""


def env_file() -> dict[str, dict[str, str]]:
    return json.loads((EVENTS / "env.json").read_text(encoding="utf-8"))


def event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def test_env_file_names_every_function_with_exactly_its_template_variables():
    declared = {spec.logical_id: sorted(spec.environment) for spec in Template().functions() if spec.environment}
    assert declared, "template.yaml declares no function environment"
    assert {function: sorted(variables) for function, variables in env_file().items()} == declared


def sam_container_environment(function: str, env_vars: dict) -> dict[str, str]:
    """What SAM CLI sets in `function`'s container: its own AWS_* variables (the caller's credentials and
    region) and the template's variables, each overridden by the env-vars file. Only the template's
    variables can be overridden; SAM drops every other name in the file."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_CONFIG_FILE", str(ROOT / "no-such-aws-config"))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(ROOT / "no-such-aws-credentials"))
        for name, value in SAM_USER.items():
            patch.setenv(name, value)
        stacks, _ = SamLocalStackProvider.get_stacks(str(TEMPLATE), parameter_overrides={"SnowflakeRoleArn": SNOWFLAKE_ROLE_ARN})
        functions = SamFunctionProvider(stacks)
        runner = LocalLambdaRunner(
            local_runtime=None, function_provider=functions, cwd=str(ROOT), real_path=str(ROOT), aws_region=SAM_USER["AWS_REGION"], env_vars_values=env_vars
        )
        return runner._make_env_vars(functions.get(function)).resolve()


@contextmanager
def docker_host_gateway(looked_up: list[str]) -> Iterator[None]:
    """host.docker.internal is this machine, as `--add-host host.docker.internal:host-gateway` makes it;
    any other name (a real AWS endpoint) does not resolve, so nothing leaves the machine."""
    original = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        looked_up.append(host)
        if host not in (CONTAINER_HOST, "127.0.0.1", "localhost"):
            raise socket.gaierror(socket.EAI_NONAME, f"{host} is not make local")
        return original("127.0.0.1", *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.getaddrinfo = original


@contextmanager
def exactly(environment: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(environment)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class Container:
    """One function's container under `sam local start-api`: its handler, its environment, its own AWS clients."""

    def __init__(self, service: LocalService, function: str, environment: dict[str, str]):
        (spec,) = [spec for spec in service.functions() if spec.logical_id == function]
        self.handler = lambda_seam.load_handler(spec.module, spec.handler)
        self.context = lambda_seam.LambdaContext(function, spec.memory_mb, f"arn:aws:lambda:us-east-1:123456789012:function:{function}", spec.timeout_s)
        self.environment = environment
        self.clients: dict = {}

    def invoke(self, request: dict) -> dict:
        with exactly(self.environment), container_clients(self.clients):
            return self.handler(request, self.context.fresh())


@pytest.fixture(scope="module")
def service() -> Iterator[LocalService]:
    running = LocalService(port=0, aws_port=0, stand_in=StandIn(), say=lambda line: None)
    running.start()
    yield running
    running.stop()


def on_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=f"{parts.hostname}:{port}").geturl()


def test_env_file_holds_the_values_make_local_runs_its_handlers_with(service):
    for function, variables in env_file().items():
        expected = {name: os.environ[name] for name in variables if name != "AWS_ENDPOINT_URL"}
        assert {name: value for name, value in variables.items() if name != "AWS_ENDPOINT_URL"} == expected, function
        assert urlsplit(variables["AWS_ENDPOINT_URL"])[:2] == ("http", f"{CONTAINER_HOST}:5055"), "the container's path to make local's AWS_PORT"


def test_sam_local_handlers_answer_the_sample_events_against_make_local(service):
    env_vars = {
        function: {**variables, "AWS_ENDPOINT_URL": on_port(variables["AWS_ENDPOINT_URL"], service.aws_port)} for function, variables in env_file().items()
    }
    start = Container(service, "StartBatchFunction", sam_container_environment("StartBatchFunction", env_vars))
    poll = Container(service, "PollBatchFunction", sam_container_environment("PollBatchFunction", env_vars))
    assert (
        start.environment["RESULTS_TABLE"] == "sentiment-results" and start.environment.get("AWS_ENDPOINT_URL") == f"http://{CONTAINER_HOST}:{service.aws_port}"
    )
    assert start.environment["STATE_MACHINE_ARN"] == service.state_machine_arn

    looked_up: list[str] = []
    with docker_host_gateway(looked_up):
        accepted = start.invoke(event("post.json"))
        assert accepted["statusCode"] == 202, response_json(accepted)
        deadline = time.monotonic() + 15
        answer = poll.invoke(event("get.json"))
        while answer["statusCode"] == 202 and time.monotonic() < deadline:
            time.sleep(0.1)
            answer = poll.invoke(event("get.json"))

    assert answer["statusCode"] == 200, response_json(answer)
    rows = response_json(answer)["data"]
    assert [row for row, _ in rows] == [0, 1]
    assert rows[1][1]["Sentiment"] == "POSITIVE"
    assert set(looked_up) == {CONTAINER_HOST}, "the handlers reached AWS through the container's host name, and only there"
    assert [execution["status"] for execution in service.executions()] == ["SUCCEEDED"], "make local's state machine ran the batch"
