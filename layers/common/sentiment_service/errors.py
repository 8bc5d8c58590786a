"""AWS errors by what they mean for a batch: throttled, passing, or a misconfiguration.

One classification serves the API (429 and 503, which Snowflake retries, or a 500 that names
what is misconfigured), the workflow's functions (names Step Functions retries, or errors that
fail the batch at once) and the Comprehend client. A misconfiguration (a missing table, a
denied permission, no credentials) is never answered as an outage: retrying cannot mend it.
"""

from __future__ import annotations

import random
from enum import Enum

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError, PartialCredentialsError


class Kind(Enum):
    THROTTLED = "throttled"
    TRANSIENT = "transient"
    MISCONFIGURED = "misconfigured"
    REJECTED = "rejected"
    """The request itself was refused for a reason of its own (validation, a condition)."""


THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "TooManyRequestsException",
        "Throttling",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "SlowDown",
    }
)
TRANSIENT_CODES = frozenset(
    {
        "InternalServerException",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
MISCONFIGURATION_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "ResourceNotFoundException",
        "StateMachineDoesNotExist",
        "InvalidArn",
        "KMSAccessDeniedException",
        "KMSDisabledException",
        "KMSNotFoundException",
        "KMSInvalidStateException",
    }
)
_MISCONFIGURED_LOCALLY = (NoCredentialsError, PartialCredentialsError, NoRegionError)


def error_code(error: BaseException) -> str:
    """AWS's error code of a ClientError, or the exception's class name."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "Unknown"))
    return type(error).__name__


def kind_of(error: BaseException) -> Kind:
    if isinstance(error, _MISCONFIGURED_LOCALLY):
        return Kind.MISCONFIGURED
    if isinstance(error, BotoCoreError):
        return Kind.TRANSIENT
    code = error_code(error)
    if code in THROTTLING_CODES:
        return Kind.THROTTLED
    if code in MISCONFIGURATION_CODES:
        return Kind.MISCONFIGURED
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) if isinstance(error, ClientError) else 0
    if code in TRANSIENT_CODES or status >= 500:
        return Kind.TRANSIENT
    return Kind.REJECTED


def operation_of(error: BaseException) -> str:
    """The AWS operation that failed (e.g. PutItem), for messages an operator can act on."""
    return str(getattr(error, "operation_name", "") or "an AWS call")


def backoff_seconds(attempt: int, base: float, cap: float) -> float:
    """A retry's wait with full jitter (AWS's advice), so that throttled callers spread out."""
    return random.uniform(0, min(cap, base * 2 ** min(attempt, 30)))  # noqa: S311 - jitter, not a secret
