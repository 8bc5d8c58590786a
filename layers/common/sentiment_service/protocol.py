"""The Snowflake external-function protocol: what a request must hold and how we answer.

Snowflake shows the status code and body of any non-2xx answer to the user, so every
rejection carries a short JSON message that says what to fix. Messages never quote row
text: it is customer data.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .chunking import SUPPORTED_LANGUAGES, canonical_language

BATCH_ID_HEADER = "sf-external-function-query-batch-id"
QUERY_ID_HEADER = "sf-external-function-current-query-id"
LANGUAGE_HEADER = "sf-custom-language"
"""The function's language: `HEADERS = ('language' = 'fr')` in CREATE EXTERNAL FUNCTION."""

MAX_HEADER_ID_BYTES = 512
"""Batch and query ids, in UTF-8 bytes: Snowflake's are about 50 ASCII characters. The bound keeps
every DynamoDB key built from a batch id far below the key limits (storage.py)."""
MAX_BATCH_ROWS = 30_000
"""Rows per batch. Every row's answer takes at most MAX_ROW_ANSWER_BYTES, so the largest answer
fits Lambda's 6 MB response uncompressed, JSON escaping included, and Snowflake's 10 MB. Row
numbers have no bound of their own, so the answer is also measured as Lambda returns it (api.py)."""
MAX_ROW_ANSWER_BYTES = 200
MAX_ANSWER_BYTES = MAX_BATCH_ROWS * MAX_ROW_ANSWER_BYTES
LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024
"""Lambda's synchronous request and response payload limit."""
MAX_DECOMPRESSED_BODY_BYTES = LAMBDA_PAYLOAD_BYTES
"""API Gateway inflates a gzip request before it invokes the function, so no batch larger than
Lambda's payload limit reaches us; a body that arrives still compressed is held to the same bound."""
MAX_JSON_VALUES = 16 * MAX_BATCH_ROWS
"""Values (arrays, objects, strings, numbers, literals) a body may hold: a row is 3 or 4. Counted
before parsing, so a small body of many tiny arrays cannot make json.loads build gigabytes."""
MAX_JSON_DEPTH = 64
"""Nesting a body may have: a row of text is 3 deep. Deeper bodies would exhaust the parser's recursion."""


class RequestRejected(Exception):
    """A request Snowflake must not retry: it is answered with `status` and `message`."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class BatchRequest:
    """One Snowflake batch: its ids, its rows as (row number, text) or (row number, text, language)
    tuples, and the function's language header (a supported code or `auto`), if it has one."""

    batch_id: str
    query_id: str
    rows: list[tuple[Any, ...]]
    language: str | None = None

    @property
    def fingerprint(self) -> str:
        """A digest of the rows (and the function's language), to tell a retried POST from a different body."""
        canonical = json.dumps(self.rows if self.language is None else [self.language, self.rows], separators=(",", ":"), ensure_ascii=True, sort_keys=True)
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


def parse_header_id(headers: Mapping[str, str] | None, name: str, *, required: bool) -> str:
    """A Snowflake id header: present when required, at most MAX_HEADER_ID_BYTES of UTF-8, no control characters."""
    value = header(headers, name)
    if value is None or not value.strip():
        if required:
            raise RequestRejected(400, f"Missing header {name}: call this service through a Snowflake external function.")
        return ""
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise RequestRejected(400, f"Header {name} is not valid UTF-8.") from None
    if size > MAX_HEADER_ID_BYTES:
        raise RequestRejected(400, f"Header {name} is longer than {MAX_HEADER_ID_BYTES} bytes.")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise RequestRejected(400, f"Header {name} contains control characters.")
    return value


def parse_batch_id(headers: Mapping[str, str] | None) -> str:
    return parse_header_id(headers, BATCH_ID_HEADER, required=True)


def decode_body(body: str | bytes | None, *, is_base64: bool) -> bytes:
    """The raw request bytes, whether API Gateway passed them plain or base64-encoded, inflated or not.

    API Gateway inflates a gzip body itself and passes it on as text, yet keeps the
    `Content-Encoding: gzip` header; so the body's own bytes, not that header, say whether it
    is still compressed (JSON text never starts with gzip's magic bytes).
    """
    if body is None or body == "":
        raise RequestRejected(400, 'Empty request body: expected {"data": [[row_number, text], ...]}.')
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if is_base64:
        try:
            raw = base64.b64decode(raw, validate=True)
        except ValueError:
            raise RequestRejected(400, "Request body is marked base64-encoded but is not valid base64.") from None
    if raw[:2] == GZIP_MAGIC:
        raw = _gunzip(raw)
    return raw


GZIP_MAGIC = b"\x1f\x8b"


def _gunzip(raw: bytes) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(raw, MAX_DECOMPRESSED_BODY_BYTES + 1)
    except zlib.error:
        raise RequestRejected(400, "Request body starts like gzip but is not valid gzip data.") from None
    if len(out) > MAX_DECOMPRESSED_BODY_BYTES:
        raise RequestRejected(
            413, f"Request body expands to more than {MAX_DECOMPRESSED_BODY_BYTES // 2**20} MB; lower MAX_BATCH_ROWS on the external function."
        )
    return out


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = bytes(byte for byte in range(256) if byte not in b"[]{}")


def check_json_shape(raw: bytes) -> None:
    """Refuse, before parsing, a body whose values or nesting no Snowflake batch has.

    json.loads materialises every value and recurses per level; both are bounded here on the
    bytes, with strings blanked out so their contents count for nothing.
    """
    skeleton = _JSON_STRING.sub(b'""', raw)
    opened = skeleton.count(b"[") + skeleton.count(b"{")
    values = 1 + opened + skeleton.count(b",") + skeleton.count(b":")
    if values > MAX_JSON_VALUES:
        raise RequestRejected(413, f"Request body holds more than {MAX_JSON_VALUES} JSON values; lower MAX_BATCH_ROWS on the external function.")
    brackets = skeleton.translate(None, _NOT_BRACKET)
    if len(brackets) > 2 * opened:
        raise RequestRejected(400, _NOT_JSON)
    depth = 0
    for byte in brackets:
        depth += 1 if byte in b"[{" else -1
        if depth > MAX_JSON_DEPTH:
            raise RequestRejected(400, f"Request body is nested more than {MAX_JSON_DEPTH} levels deep.")


_NOT_JSON = 'Request body is not valid JSON: expected {"data": [[row_number, text], ...]}.'


def parse_rows(raw: bytes) -> list[tuple[Any, ...]]:
    """Validate Snowflake's `{"data": [[row_number, text], ...]}` (or `[row_number, text, language]`
    for sentiment(text, language)) and return its rows in order."""
    check_json_shape(raw)
    try:
        document = json.loads(raw, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise RequestRejected(400, _NOT_JSON) from None
    if not isinstance(document, dict) or "data" not in document:
        raise RequestRejected(400, 'Request body must be a JSON object with a "data" array.')
    data = document["data"]
    if not isinstance(data, list):
        raise RequestRejected(400, '"data" must be an array of rows.')
    if len(data) > MAX_BATCH_ROWS:
        raise RequestRejected(
            413,
            f"A batch of {len(data)} rows is more than this service answers at once ({MAX_BATCH_ROWS}); set MAX_BATCH_ROWS = 5000 on the external function.",
        )
    rows: list[tuple[Any, ...]] = []
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
        if len(row) not in (2, 3):
            raise RequestRejected(400, f"Row {number} has {len(row) - 1} arguments; sentiment takes (text) or (text, language).")
        seen.add(number)
        rows.append(tuple(row))
    return rows


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_batch_request(headers: Mapping[str, str] | None, body: str | bytes | None, *, is_base64: bool) -> BatchRequest:
    """Everything the POST handler needs from an API Gateway request, or a RequestRejected."""
    batch_id = parse_batch_id(headers)
    query_id = parse_header_id(headers, QUERY_ID_HEADER, required=False)
    language = parse_language_header(headers)
    rows = parse_rows(decode_body(body, is_base64=is_base64))
    return BatchRequest(batch_id=batch_id, query_id=query_id, rows=rows, language=language)


def parse_language_header(headers: Mapping[str, str] | None) -> str | None:
    """The function's language, or None for the deployment's; anything else is a mistake in the function's definition."""
    value = header(headers, LANGUAGE_HEADER)
    if value is None:
        return None
    language = canonical_language(value)
    if language is None:
        raise RequestRejected(
            400,
            f"The function's language header ({LANGUAGE_HEADER}) must be one of {', '.join(SUPPORTED_LANGUAGES)} or auto; "
            "fix HEADERS in CREATE EXTERNAL FUNCTION.",
        )
    return language


@dataclass(frozen=True)
class Answer:
    """An HTTP answer to Snowflake: 202 (ask again), 200 (rows), or an error it shows the user."""

    status: int
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)

    @cached_property
    def text(self) -> str:
        """The JSON body, serialized once however often it is measured and sent."""
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False)


def rejection(status: int, message: str, **extra: Any) -> Answer:
    return Answer(status, {"message": message, **extra})
