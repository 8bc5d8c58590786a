"""What the workflow's Lambda tasks share: AWS failures under names Step Functions can retry."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from .errors import Kind, error_code, kind_of
from .storage import StorageThrottled, StorageUnavailable


@contextmanager
def retryable_storage_errors() -> Iterator[None]:
    """Raise DynamoDB throttling and outages as StorageThrottled / StorageUnavailable.

    Any other error (a missing table, a denied permission) stays as it is and fails the
    batch: retrying cannot mend it.
    """
    try:
        yield
    except (ClientError, BotoCoreError) as error:
        kind = kind_of(error)
        if kind is Kind.THROTTLED:
            raise StorageThrottled(f"DynamoDB throttled the results table ({error_code(error)}).") from None
        if kind is Kind.TRANSIENT:
            raise StorageUnavailable(f"Could not use DynamoDB ({error_code(error)}).") from None
        raise
