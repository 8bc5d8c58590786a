"""Configuration from the function's environment (template.yaml sets it) and AWS clients.

Read at call time, not import time, so tests and the local mode can point the same code
at their own table and state machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config


@dataclass(frozen=True)
class Settings:
    table_name: str
    state_machine_arn: str
    language_code: str
    retention_seconds: int


def settings() -> Settings:
    return Settings(
        table_name=os.environ["RESULTS_TABLE"],
        state_machine_arn=os.environ.get("STATE_MACHINE_ARN", ""),
        language_code=os.environ.get("LANGUAGE_CODE", "en"),
        retention_seconds=int(float(os.environ.get("RETENTION_HOURS", "24")) * 3600),
    )


_API_CALL = Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard", "max_attempts": 3})
"""The API handlers answer within API Gateway's 29 s: short timeouts, few retries."""

_WORKER_CALL = Config(connect_timeout=5, read_timeout=30, retries={"mode": "adaptive", "max_attempts": 4}, max_pool_connections=16)
"""Workflow functions: adaptive retries pace calls to Comprehend's quota before Step Functions retries."""


@lru_cache(maxsize=None)
def client(service: str, purpose: str = "api") -> Any:
    return boto3.client(service, config=_WORKER_CALL if purpose == "worker" else _API_CALL)
