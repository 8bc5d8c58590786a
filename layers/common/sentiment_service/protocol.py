"""The Snowflake external-function protocol: what a request must hold and how we answer.

Snowflake shows the status code and body of any non-2xx answer to the user, so every
rejection carries a short JSON message that says what to fix. Messages never quote row
text: it is customer data.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Mapping

BATCH_ID_HEADER = "sf-external-function-query-batch-id"
QUERY_ID_HEADER = "sf-external-function-current-query-id"

MAX_BATCH_ID_LENGTH = 512
MAX_BATCH_ROWS = 30_000
"""Rows per batch. Every row's answer takes at most MAX_ROW_ANSWER_BYTES, so the largest
answer (6,000,000 bytes) fits Lambda's 6 MB response uncompressed and Snowflake's 10 MB."""
MAX_ROW_ANSWER_BYTES = 200
MAX_ANSWER_BYTES = MAX_BATCH_ROWS * MAX_ROW_ANSWER_BYTES
MAX_DECOMPRESSED_BODY_BYTES = 64 * 1024 * 1024
"""A gzip body may expand a lot; refuse before it exhausts the function's memory."""


class RequestRejected(Exception):
    """A request Snowflake must not retry: it is answered with `status` and `message`."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class BatchRequest:
    """One Snowflake batch: its ids and its rows as (row number, argument) pairs."""

    batch_id: str
    query_id: str
    rows: list[tuple[int, Any]]

    @property
    def fingerprint(self) -> str:
        """A digest of the rows, to tell a retried POST from a different body."""
        canonical = json.dumps(self.rows, separators=(",", ":"), ensure_ascii=True, sort_keys=True)
        return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """Header lookup that ignores case, as HTTP requires and API Gateway does not."""
    if not headers:
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def parse_batch_id(headers: Mapping[str, str] | None) -> str:
    batch_id = header(headers, BATCH_ID_HEADER)
    if batch_id is None or not batch_id.strip():
        raise RequestRejected(400, f"Missing header {BATCH_ID_HEADER}: call this service through a Snowflake external function.")
    if len(batch_id) > MAX_BATCH_ID_LENGTH:
        raise RequestRejected(400, f"Header {BATCH_ID_HEADER} is longer than {MAX_BATCH_ID_LENGTH} characters.")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in batch_id):
        raise RequestRejected(400, f"Header {BATCH_ID_HEADER} contains control characters.")
    return batch_id


def decode_body(body: str | bytes | None, *, is_base64: bool, content_encoding: str | None) -> bytes:
    """The raw request bytes, whether API Gateway passed them base64-encoded, gzipped or plain."""
    if body is None or body == "":
        raise RequestRejected(400, 'Empty request body: expected {"data": [[row_number, text], ...]}.')
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if is_base64:
        try:
            raw = base64.b64decode(raw, validate=True)
        except ValueError:
            raise RequestRejected(400, "Request body is marked base64-encoded but is not valid base64.") from None
    gzipped = raw[:2] == b"\x1f\x8b"
    if gzipped or (content_encoding or "").strip().lower() == "gzip":
        raw = _gunzip(raw)
    return raw


def _gunzip(raw: bytes) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(raw, MAX_DECOMPRESSED_BODY_BYTES + 1)
    except zlib.error:
        raise RequestRejected(400, "Request body says gzip but is not valid gzip data.") from None
    if len(out) > MAX_DECOMPRESSED_BODY_BYTES or inflater.unconsumed_tail:
        raise RequestRejected(413, f"Request body expands to more than {MAX_DECOMPRESSED_BODY_BYTES // 2**20} MB; lower MAX_BATCH_ROWS on the external function.")
    return out


def parse_rows(raw: bytes) -> list[tuple[int, Any]]:
    """Validate Snowflake's `{"data": [[row_number, argument], ...]}` and return its rows in order."""
    try:
        document = json.loads(raw, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError):
        raise RequestRejected(400, 'Request body is not valid JSON: expected {"data": [[row_number, text], ...]}.') from None
    if not isinstance(document, dict) or "data" not in document:
        raise RequestRejected(400, 'Request body must be a JSON object with a "data" array.')
    data = document["data"]
    if not isinstance(data, list):
        raise RequestRejected(400, '"data" must be an array of rows.')
    if len(data) > MAX_BATCH_ROWS:
        raise RequestRejected(413, f"A batch of {len(data)} rows is more than this service answers at once ({MAX_BATCH_ROWS}); set MAX_BATCH_ROWS = 5000 on the external function.")
    rows: list[tuple[int, Any]] = []
    seen: set[int] = set()
    for position, row in enumerate(data):
        if not isinstance(row, list) or not row:
            raise RequestRejected(400, f"Row {position} of data is not an array [row_number, text].")
        number = row[0]
        if isinstance(number, bool) or not isinstance(number, int):
            raise RequestRejected(400, f"Row {position} of data has a row number that is not an integer.")
        if number < 0:
            raise RequestRejected(400, f"Row {position} of data has a negative row number.")
        if number in seen:
            raise RequestRejected(400, f"Row number {number} appears more than once in the batch.")
        if len(row) != 2:
            raise RequestRejected(400, f"Row {number} has {len(row) - 1} arguments; sentiment(text) takes exactly one.")
        seen.add(number)
        rows.append((number, row[1]))
    return rows


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_batch_request(headers: Mapping[str, str] | None, body: str | bytes | None, *, is_base64: bool) -> BatchRequest:
    """Everything the POST handler needs from an API Gateway request, or a RequestRejected."""
    batch_id = parse_batch_id(headers)
    raw = decode_body(body, is_base64=is_base64, content_encoding=header(headers, "content-encoding"))
    rows = parse_rows(raw)
    return BatchRequest(batch_id=batch_id, query_id=header(headers, QUERY_ID_HEADER) or "", rows=rows)



@dataclass(frozen=True)
class Answer:
    """An HTTP answer to Snowflake: 202 (ask again), 200 (rows), or an error it shows the user."""

    status: int
    body: dict

    @cached_property
    def text(self) -> str:
        """The JSON body, serialized once however often it is measured and sent."""
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False)


def rejection(status: int, message: str, **extra: Any) -> Answer:
    return Answer(status, {"message": message, **extra})
