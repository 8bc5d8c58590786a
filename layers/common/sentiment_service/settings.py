"""Configuration from the function's environment (template.yaml sets it) and AWS clients.

Read at call time, not import time, so tests and the local mode can point the same code
at their own table and state machine.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from botocore.config import Config

from .admission import Admission
from .cache import ResultCache
from .governor import Governor
from .storage import ResultsTable
from .workflow import Workflow

if TYPE_CHECKING:
    from mypy_boto3_comprehend import ComprehendClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_stepfunctions import SFNClient


@dataclass(frozen=True)
class Settings:
    table_name: str
    state_machine_arn: str
    language_code: str
    retention_seconds: int
    comprehend_requests_per_second: float
    """The governor's rate (ComprehendRequestsPerSecond); 0 leaves calls ungoverned."""
    admission_window_seconds: float
    """AdmissionWindowSeconds; 0 admits every batch."""
    language_confidence_threshold: float = 0.0
    """LanguageConfidenceThreshold: an `auto` row whose detection scores below it gets a row error."""
    result_cache_days: float = 0.0
    """ResultCacheDays: how long the result cache keeps a value; 0 turns the cache off."""
    result_cache_key: str = ""
    """The Secrets Manager secret (ARN) holding the cache's HMAC key."""
    result_cache_table: str = ""


def settings() -> Settings:
    return Settings(
        table_name=os.environ["RESULTS_TABLE"],
        state_machine_arn=os.environ.get("STATE_MACHINE_ARN", ""),
        language_code=os.environ.get("LANGUAGE_CODE", "en"),
        retention_seconds=int(float(os.environ.get("RETENTION_HOURS", "24")) * 3600),
        comprehend_requests_per_second=float(os.environ.get("COMPREHEND_REQUESTS_PER_SECOND", "0")),
        admission_window_seconds=float(os.environ.get("ADMISSION_WINDOW_SECONDS", "0")),
        language_confidence_threshold=float(os.environ.get("LANGUAGE_CONFIDENCE_THRESHOLD", "0")),
        result_cache_days=float(os.environ.get("RESULT_CACHE_DAYS", "0")),
        result_cache_key=os.environ.get("RESULT_CACHE_KEY", ""),
        result_cache_table=os.environ.get("RESULT_CACHE_TABLE", ""),
    )


_API_CALL = Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard", "max_attempts": 3})
"""The API handlers answer within API Gateway's 29 s: short timeouts, few retries."""

_WORKER_CALL = Config(connect_timeout=5, read_timeout=30, retries={"mode": "standard", "max_attempts": 4})
"""Workflow functions' DynamoDB calls: the SDK's standard retries before Step Functions retries."""

_COMPREHEND_CALL = Config(connect_timeout=5, read_timeout=30, retries={"mode": "standard", "total_max_attempts": 1})
"""Comprehend calls retry in comprehend.detect_sentiment, with waits sized to its per-second quota."""


_clients = threading.local()


@overload
def client(service: Literal["dynamodb"], purpose: str = "api") -> DynamoDBClient: ...
@overload
def client(service: Literal["stepfunctions"], purpose: str = "api") -> SFNClient: ...
@overload
def client(service: Literal["comprehend"], purpose: str = "api") -> ComprehendClient: ...
@overload
def client(service: Literal["secretsmanager"], purpose: str = "api") -> SecretsManagerClient: ...
def client(service: str, purpose: str = "api") -> Any:
    """A client per thread: one per Lambda container in AWS, one per emulated container offline (local/lambda_seam.py)."""
    cache = _clients.__dict__.setdefault("cache", {})
    key = (service, purpose)
    if key not in cache:
        config = {"worker": _WORKER_CALL, "comprehend": _COMPREHEND_CALL}.get(purpose, _API_CALL)
        cache[key] = boto3.client(service, config=config)  # type: ignore[call-overload]  # the overloads above type each service
    return cache[key]


@contextmanager
def container_clients(cache: dict[str, Any]) -> Iterator[None]:
    """Use `cache` as the calling thread's clients meanwhile: offline, one emulated Lambda container's."""
    previous = _clients.__dict__.get("cache")
    _clients.cache = cache
    try:
        yield
    finally:
        if previous is None:
            _clients.__dict__.pop("cache", None)
        else:
            _clients.cache = previous


def reset_clients() -> None:
    """Forget the calling thread's clients, so the next ones read the environment afresh."""
    _clients.__dict__.pop("cache", None)


def results_table(purpose: str = "api") -> ResultsTable:
    """The results table of this deployment, through this thread's DynamoDB client."""
    config = settings()
    return ResultsTable(client("dynamodb", purpose), config.table_name, config.retention_seconds)


def workflow() -> Workflow:
    """The state machine of this deployment, through this thread's Step Functions client."""
    return Workflow(client("stepfunctions"), settings().state_machine_arn)


def governor() -> Governor | None:
    """This deployment's governor of Comprehend requests, through this thread's DynamoDB client."""
    config = settings()
    if config.comprehend_requests_per_second <= 0:
        return None
    return Governor(client("dynamodb", "worker"), config.table_name, config.comprehend_requests_per_second)


SECRET_MAX_AGE_SECONDS = 3600
"""The cache key is read once an hour per container (Powertools Parameters keeps it meanwhile)."""


def result_cache(purpose: str = "worker") -> ResultCache | None:
    """This deployment's result cache, or None when ResultCacheDays is 0."""
    config = settings()
    if config.result_cache_days <= 0 or not config.result_cache_key or not config.result_cache_table:
        return None
    cache = _clients.__dict__.setdefault("cache", {})
    if ("secrets", purpose) not in cache:
        cache[("secrets", purpose)] = SecretsProvider(boto3_client=client("secretsmanager", purpose))
    key = cache[("secrets", purpose)].get(config.result_cache_key, max_age=SECRET_MAX_AGE_SECONDS)
    return ResultCache(client("dynamodb", purpose), config.result_cache_table, str(key).encode("utf-8"), config.result_cache_days)


def admission_control(purpose: str = "api") -> Admission | None:
    """This deployment's admission control of batches, or None when it admits everything."""
    config = settings()
    if config.comprehend_requests_per_second <= 0 or config.admission_window_seconds <= 0:
        return None
    return Admission(client("dynamodb", purpose), config.table_name, config.comprehend_requests_per_second, config.admission_window_seconds)
