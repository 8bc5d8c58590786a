"""What the workflow's Lambda tasks share: AWS failures under names Step Functions can retry."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from botocore.exceptions import BotoCoreError, ClientError

from .comprehend import THROTTLING_CODES
from .storage import StorageThrottled, StorageUnavailable


@contextmanager
def retryable_storage_errors() -> Iterator[None]:
    """Raise DynamoDB throttling and outages as StorageThrottled / StorageUnavailable.

    Any other client error (a missing table, a denied permission) stays as it is and fails
    the batch: retrying cannot mend it.
    """
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "Unknown")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in THROTTLING_CODES:
            raise StorageThrottled(f"DynamoDB throttled the results table ({code}).") from None
        if status >= 500:
            raise StorageUnavailable(f"DynamoDB failed a call ({code}).") from None
        raise
    except BotoCoreError as error:
        raise StorageUnavailable(f"Could not reach DynamoDB ({type(error).__name__}).") from None
