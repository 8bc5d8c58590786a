"""The results table: one partition per batch, every item expiring with the batch.

    pk = batch id, sk =
      meta               the batch record: ids, counts, status, progress, expiry
      input#F#NNNNN      staged rows (F: the body's fingerprint), compressed JSON pages of [row_number, value]
      chunk#NNNNNN       the texts one Comprehend call sends
      analysis#NNNNNN    that call's values, by position in the chunk
      result#NNNNN       the answer, compressed JSON pages of [row_number, value]

Rows never travel through Step Functions: its payloads are capped at 256 KiB and its
history is visible to operators. Pages keep every item far below DynamoDB's 400 KB, and
GET reads the answer with one paginated, strongly consistent Query over `result#`.
Items expire through TTL; since TTL deletes lazily, readers ignore expired items.
"""

from __future__ import annotations

import json
import random
import time
import zlib
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from botocore.exceptions import ClientError

META = "meta"
INPUT = "input#"
CHUNK = "chunk#"
ANALYSIS = "analysis#"
RESULT = "result#"

MAX_PAGE_BYTES = 300_000
"""Uncompressed JSON per page; compressed it stays well below DynamoDB's 400 KB item limit."""

STATUS_STAGED = "STAGED"
STATUS_STARTED = "STARTED"


class StagedBatchMissing(Exception):
    """The batch's staged data is gone (expired or never written): it cannot be completed."""


class StorageThrottled(Exception):
    """DynamoDB kept throttling; the caller (Step Functions or Snowflake) retries later."""


class StorageUnavailable(Exception):
    """DynamoDB failed in a way that may pass; Step Functions retries the state."""


def staging_id(fingerprint: str) -> str:
    """Where a body's staged pages live: its fingerprint's first 64 bits."""
    return fingerprint[:16]


def input_prefix(staging_id: str) -> str:
    """Staged pages are keyed by the body's fingerprint, so a conflicting POST never overwrites them."""
    return f"{INPUT}{staging_id}#"


def input_key(staging_id: str, page: int) -> str:
    return f"{input_prefix(staging_id)}{page:05d}"


def chunk_key(chunk: int) -> str:
    return f"{CHUNK}{chunk:06d}"


def analysis_key(chunk: int) -> str:
    return f"{ANALYSIS}{chunk:06d}"


def result_key(page: int) -> str:
    return f"{RESULT}{page:05d}"


def pack(value: Any) -> bytes:
    return zlib.compress(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"), 6)


def unpack(blob: bytes) -> Any:
    return json.loads(zlib.decompress(blob))


def paginate_rows(rows: list[list[Any]], max_page_bytes: int = MAX_PAGE_BYTES) -> list[list[list[Any]]]:
    """Split rows into pages whose JSON stays under `max_page_bytes`; never an empty page."""
    pages: list[list[list[Any]]] = []
    page: list[list[Any]] = []
    size = 0
    for row in rows:
        row_size = len(json.dumps(row, separators=(",", ":"), ensure_ascii=False).encode("utf-8")) + 1
        if page and size + row_size > max_page_bytes:
            pages.append(page)
            page, size = [], 0
        page.append(row)
        size += row_size
    if page:
        pages.append(page)
    return pages


@dataclass(frozen=True)
class BatchRecord:
    batch_id: str
    execution_name: str
    query_id: str
    fingerprint: str
    row_count: int
    input_pages: int
    status: str
    expires_at: int
    chunks_total: int | None = None
    chunks_done: int = 0

    def is_expired(self, now: float) -> bool:
        return self.expires_at <= now

    @property
    def staging_id(self) -> str:
        return staging_id(self.fingerprint)


class ResultsTable:
    """Typed access to the results table through the low-level client (thread-safe, no Decimals)."""

    def __init__(self, client: Any, table_name: str, retention_seconds: int):
        self.client = client
        self.name = table_name
        self.retention_seconds = retention_seconds

    def _expiry(self) -> int:
        return int(time.time()) + self.retention_seconds

    # -- the batch record -------------------------------------------------------------

    def get_batch(self, batch_id: str) -> BatchRecord | None:
        """The live batch record, or None if it was never written or has expired."""
        item = self.client.get_item(TableName=self.name, Key=_key(batch_id, META), ConsistentRead=True).get("Item")
        if item is None:
            return None
        record = BatchRecord(
            batch_id=batch_id,
            execution_name=item["executionName"]["S"],
            query_id=item["queryId"]["S"],
            fingerprint=item["fingerprint"]["S"],
            row_count=int(item["rowCount"]["N"]),
            input_pages=int(item["inputPages"]["N"]),
            status=item["status"]["S"],
            expires_at=int(item["expiresAt"]["N"]),
            chunks_total=int(item["chunksTotal"]["N"]) if "chunksTotal" in item else None,
            chunks_done=int(item.get("chunksDone", {"N": "0"})["N"]),
        )
        return None if record.is_expired(time.time()) else record

    def create_batch(self, record: BatchRecord) -> bool:
        """Write the batch record unless a live one exists; False when another request won."""
        item = {
            **_key(record.batch_id, META),
            "executionName": {"S": record.execution_name},
            "queryId": {"S": record.query_id},
            "fingerprint": {"S": record.fingerprint},
            "rowCount": {"N": str(record.row_count)},
            "inputPages": {"N": str(record.input_pages)},
            "status": {"S": record.status},
            "expiresAt": {"N": str(record.expires_at)},
        }
        try:
            self.client.put_item(
                TableName=self.name,
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR expiresAt <= :now",
                ExpressionAttributeValues={":now": {"N": str(int(time.time()))}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def new_record(self, batch_id: str, execution_name: str, query_id: str, fingerprint: str, row_count: int, input_pages: int) -> BatchRecord:
        return BatchRecord(batch_id, execution_name, query_id, fingerprint, row_count, input_pages, STATUS_STAGED, self._expiry())

    def mark_started(self, batch_id: str) -> None:
        self.client.update_item(
            TableName=self.name,
            Key=_key(batch_id, META),
            UpdateExpression="SET #status = :started",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":started": {"S": STATUS_STARTED}},
        )

    def set_chunks_total(self, batch_id: str, chunks_total: int) -> None:
        self.client.update_item(
            TableName=self.name,
            Key=_key(batch_id, META),
            UpdateExpression="SET chunksTotal = :total",
            ExpressionAttributeValues={":total": {"N": str(chunks_total)}},
        )

    def add_chunks_done(self, batch_id: str, count: int) -> None:
        self.client.update_item(
            TableName=self.name,
            Key=_key(batch_id, META),
            UpdateExpression="ADD chunksDone :count",
            ExpressionAttributeValues={":count": {"N": str(count)}},
        )

    # -- pages and chunks -------------------------------------------------------------

    def stage_input(self, batch_id: str, staging_id: str, rows: list[list[Any]]) -> int:
        """Write the staged rows as pages; returns the page count."""
        pages = paginate_rows(rows)
        self._put_all(self._page_item(batch_id, input_key(staging_id, index), page) for index, page in enumerate(pages))
        return len(pages)

    def read_input(self, batch_id: str, staging_id: str, expected_pages: int) -> list[list[Any]]:
        pages = [unpack(item["data"]["B"]) for item in self._query_prefix(batch_id, input_prefix(staging_id))]
        if len(pages) != expected_pages:
            raise StagedBatchMissing(f"The batch's staged rows are incomplete ({len(pages)} of {expected_pages} pages); they may have expired.")
        return [row for page in pages for row in page]

    def put_chunks(self, batch_id: str, chunk_texts: Iterable[tuple[int, list[str]]]) -> None:
        self._put_all(self._page_item(batch_id, chunk_key(index), texts) for index, texts in chunk_texts)

    def read_chunks(self, batch_id: str, first: int, count: int) -> dict[int, list[str]]:
        chunks = {int(item["sk"]["S"][len(CHUNK):]): unpack(item["data"]["B"]) for item in self._query_range(batch_id, chunk_key(first), chunk_key(first + count - 1))}
        if len(chunks) != count:
            raise StagedBatchMissing(f"Chunks {first} to {first + count - 1} of the batch are incomplete; they may have expired.")
        return chunks

    def put_analysis(self, batch_id: str, chunk: int, values: list[dict]) -> None:
        self.client.put_item(TableName=self.name, Item=self._page_item(batch_id, analysis_key(chunk), values))

    def analysed_chunks(self, batch_id: str, first: int, count: int) -> set[int]:
        return {int(item["sk"]["S"][len(ANALYSIS):]) for item in self._query_range(batch_id, analysis_key(first), analysis_key(first + count - 1), keys_only=True)}

    def read_analysis(self, batch_id: str) -> dict[int, list[dict]]:
        return {int(item["sk"]["S"][len(ANALYSIS):]): unpack(item["data"]["B"]) for item in self._query_prefix(batch_id, ANALYSIS)}

    def put_results(self, batch_id: str, rows: list[list[Any]]) -> int:
        pages = paginate_rows(rows)
        self._put_all({**self._page_item(batch_id, result_key(index), page), "rows": {"N": str(len(page))}} for index, page in enumerate(pages))
        return len(pages)

    def read_results(self, batch_id: str) -> list[list[Any]]:
        """The answer's rows in order; empty when the results have expired."""
        return [row for item in self._query_prefix(batch_id, RESULT) for row in unpack(item["data"]["B"])]

    # -- plumbing ---------------------------------------------------------------------

    def _page_item(self, batch_id: str, sort_key: str, value: Any) -> dict:
        return {**_key(batch_id, sort_key), "data": {"B": pack(value)}, "expiresAt": {"N": str(self._expiry())}}

    def _query_prefix(self, batch_id: str, prefix: str) -> Iterator[dict]:
        return self._query(batch_id, "pk = :pk AND begins_with(sk, :prefix)", {":prefix": {"S": prefix}})

    def _query_range(self, batch_id: str, first: str, last: str, keys_only: bool = False) -> Iterator[dict]:
        return self._query(batch_id, "pk = :pk AND sk BETWEEN :first AND :last", {":first": {"S": first}, ":last": {"S": last}}, keys_only)

    def _query(self, batch_id: str, condition: str, values: dict, keys_only: bool = False) -> Iterator[dict]:
        now = time.time()
        request: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": {":pk": {"S": batch_id}, **values},
            "ConsistentRead": True,
        }
        if keys_only:
            request["ProjectionExpression"] = "sk, expiresAt"
        while True:
            response = self.client.query(**request)
            for item in response.get("Items", []):
                if int(item["expiresAt"]["N"]) > now:
                    yield item
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _put_all(self, items: Iterable[dict]) -> None:
        """BatchWriteItem in groups of 25, resending unprocessed items with backoff and jitter."""
        pending = list(items)
        for start in range(0, len(pending), 25):
            requests = [{"PutRequest": {"Item": item}} for item in pending[start : start + 25]]
            attempt = 0
            while requests:
                response = self.client.batch_write_item(RequestItems={self.name: requests})
                requests = response.get("UnprocessedItems", {}).get(self.name, [])
                if requests:
                    attempt += 1
                    if attempt > 8:
                        raise StorageThrottled("DynamoDB left items unprocessed after 8 attempts.")
                    time.sleep(random.uniform(0, min(2.0, 0.05 * 2**attempt)))


def _key(batch_id: str, sort_key: str) -> dict:
    return {"pk": {"S": batch_id}, "sk": {"S": sort_key}}
