"""`make local`: the service over HTTP on one machine, as `sam local start-api` would serve it.

- http://127.0.0.1:3000 (PORT): the template's API routes, through local.apigateway. Requests
  become REST API proxy events, responses go back with their status, headers and body,
  gzip-compressed above the API's MinimumCompressionSize when the client accepts gzip, as API
  Gateway does.
- http://127.0.0.1:5055 (AWS_PORT): the emulated AWS endpoint, for
  `aws --endpoint-url http://127.0.0.1:5055 stepfunctions get-execution-history ...`.

One line is printed per request and per execution status change; row text never.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from moto.server import ThreadedMotoServer

from . import apigateway, lambda_seam
from .comprehend import StandIn
from .console import Console
from .inspect import LOCAL_AWS_CREDENTIALS
from .moto_patches import DynamoListener
from .stack import OfflineStack
from .template import FunctionSpec, parameter_overrides

HOST = "127.0.0.1"
ALL_INTERFACES = ("0.0.0.0", "::")
"""Addresses that listen on every interface; clients on this machine still connect through loopback."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class LocalService:
    """The offline stack plus its two HTTP faces and an execution watcher."""

    def __init__(
        self,
        port: int = 3000,
        aws_port: int = 5055,
        stand_in: StandIn | None = None,
        say: Callable[[str], None] = print,
        parameters: dict[str, str] | None = None,
        host: str = HOST,
        lambda_listener: Callable[[str, dict, bool, float], None] | None = None,
        dynamodb_listener: DynamoListener | None = None,
    ):
        """`parameters` override the template's; `lambda_listener(function, event, errored, seconds)` hears
        every invocation and `dynamodb_listener(action, request, response)` every DynamoDB call that
        succeeded once the stack is deployed (the benchmark meters them)."""
        self.host = host
        """The address both HTTP faces listen on: 0.0.0.0 lets `sam local start-api`'s containers reach the emulated AWS."""
        self.port = port
        self.aws_port = aws_port
        self.say = say
        self.lambda_listener = lambda_listener
        self.dynamodb_listener = dynamodb_listener
        stand_in = stand_in or StandIn.from_environment()
        self.stack = OfflineStack(stand_in, parameters=parameters, environment={"POWERTOOLS_LOG_LEVEL": "WARNING"})
        self._stopping = threading.Event()
        self._function_locks: dict[str, threading.Lock] = {}
        self.console: Console | None = None
        """Set by `make local`: metrics are summed up in one line when an execution ends."""

    def start(self) -> None:
        if self.aws_port == 0:
            self.aws_port = free_port()
        self.stack.start()
        if self.lambda_listener:
            lambda_seam.on_invoke(self.lambda_listener)
        self.stack.dynamodb_listener = self.dynamodb_listener
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.aws = ThreadedMotoServer(ip_address=self.host, port=self.aws_port, verbose=False)
        self.aws.start()
        self.http = ThreadingHTTPServer((self.host, self.port), self._handler_class())
        self.http.daemon_threads = True
        self.port = self.http.server_address[1]
        threading.Thread(target=self.http.serve_forever, name="api", daemon=True).start()
        self._watcher = threading.Thread(target=self._watch_executions, name="watcher", daemon=True)
        self._watcher.start()

    def stop(self, drain_s: float = 5) -> None:
        self._stopping.set()
        self.http.shutdown()
        self.http.server_close()
        self.aws.stop()
        self.stack.stop(drain_s=drain_s)

    @property
    def local_host(self) -> str:
        """The address a client on this machine connects to."""
        return HOST if self.host in ALL_INTERFACES else self.host

    @property
    def url(self) -> str:
        return f"http://{self.local_host}:{self.port}"

    @property
    def aws_url(self) -> str:
        return f"http://{self.local_host}:{self.aws_port}"

    # -- what callers read: the deployment, the executions, the stand-in --------------------

    @property
    def stand_in(self) -> StandIn:
        return self.stack.stand_in

    @property
    def state_machine_arn(self) -> str:
        return self.stack.state_machine_arn

    def functions(self) -> list[FunctionSpec]:
        """The template's functions as deployed (parameters applied)."""
        return self.stack.template.functions()

    def executions(self) -> list[dict]:
        return self.stack.executions()

    def history(self, execution_arn: str) -> list[dict]:
        return self.stack.history(execution_arn)

    # -- the API's HTTP face ---------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        """One HTTP request through API Gateway's proxy integration to the route's handler."""
        path, query = apigateway.resource_path(target)
        route = self.stack.route(method, path)
        lock = self._function_locks.setdefault(route.function if route else "", threading.Lock())
        with lock:
            response = self.stack.request(method, path, headers, apigateway.request_body(headers, body), query)
        return apigateway.api_response_bytes(response, apigateway.accepts_gzip(headers), self.stack.api.minimum_compression)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                started = time.perf_counter()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, raw = service.handle(self.command, self.path, dict(self.headers.items()), body)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(raw)
                batch = self.headers.get("sf-external-function-query-batch-id", "-")
                service.say(f"{self.command:4} {self.path} batch={batch} -> {status} {len(raw)}B {1000 * (time.perf_counter() - started):.0f}ms")

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

            def log_message(self, format: str, *args: object) -> None:
                """Requests are reported by _serve, one line each."""

        return Handler

    def _watch_executions(self) -> None:
        seen: dict[str, str] = {}
        sfn = self.stack.client("stepfunctions")
        while not self._stopping.wait(0.2):
            try:
                executions = sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]
            except Exception:  # noqa: BLE001, S112 - the watcher only reports; the stack may be stopping, and the next tick looks again
                continue
            for execution in executions:
                if seen.get(execution["name"]) != execution["status"]:
                    seen[execution["name"]] = execution["status"]
                    self.say(status_line(sfn, execution, self.console.verbose if self.console else False))
                    metrics = self.console.metrics_line() if self.console and execution["status"] != "RUNNING" else None
                    if metrics:
                        self.say(metrics)


def status_line(sfn: Any, execution: dict, verbose: bool = False) -> str:
    """`execution NAME STATUS`, with its time once it ended, and a failure's error and message in
    the same line (the stack trace after it only when verbose): what the console's graph would show."""
    line = f"execution {execution['name']} {execution['status']}"
    if execution.get("stopDate"):
        line += f" in {(execution['stopDate'] - execution['startDate']).total_seconds():.1f}s"
    if execution["status"] not in ("FAILED", "TIMED_OUT", "ABORTED"):
        return line
    try:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
    except Exception:  # noqa: BLE001 - the watcher only reports
        return line
    error, cause = described.get("error", ""), described.get("cause", "")
    try:
        report = json.loads(cause)
    except ValueError:
        report = None
    message = report.get("errorMessage", "") if isinstance(report, dict) else cause
    line += f": {error}: {' '.join(str(message).split())}" if error or message else ""
    if verbose and isinstance(report, dict) and report.get("stackTrace"):
        line += "\n" + "".join(report["stackTrace"]).rstrip()
    return line


def serve(port: int | None = None, aws_port: int | None = None, host: str | None = None, verbose: bool = False) -> None:
    overrides = parameter_overrides(os.environ.get("PARAMETER_OVERRIDES", ""))
    service = LocalService(
        int(port or os.environ.get("PORT", "3000")),
        int(aws_port or os.environ.get("AWS_PORT", "5055")),
        parameters=overrides,
        host=host or os.environ.get("HOST") or HOST,
    )
    service.start()
    console = Console(verbose=verbose or os.environ.get("LOCAL_VERBOSE", "") not in ("", "0"))
    service.say, service.console = console.say, console
    service.say(f"Listening on {service.host} (HOST): API port {service.port}, emulated AWS port {service.aws_port}")
    service.say(f"Snowflake sentiment service on {service.url}/sentiment (POST and GET)")
    service.say(
        f"Emulated AWS on {service.aws_url}: .venv/bin/python -m local inspect <batch id>"
        f"{'' if service.aws_port == 5055 else f' --aws-url {service.aws_url}'}, "
        f"or {LOCAL_AWS_CREDENTIALS} aws --endpoint-url {service.aws_url} stepfunctions list-executions --state-machine-arn {service.state_machine_arn}"
    )
    service.say("Ctrl-C stops.")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with console.capture():
        try:
            while not stop.wait(0.5):
                pass
            service.say("stopping")
        finally:
            service.stop()
            service.say("stopped")
