"""The results table: one partition per batch, every item expiring with the batch.

    pk = batch id, sk =
      meta               the batch record: ids, counts, progress (chunksDone of chunksTotal, and
                         documentsCached: answered by the result cache), expiry, and
                           status          STAGED (rows stored) -> STARTED (execution started)
                                           -> ENDED (AssembleResults stored the answer, or the
                                              workflow's failure path, MarkBatchEnded, ran)
                           turnAt          when the batch's block of Comprehend calls starts (governor.py)
                           describedAt     when a GET last asked DescribeExecution (functions/poll_batch)
                           executionStatus the execution's closing status, once a GET saw it,
                           failure         and for a failed one the sentence Snowflake shows
      input#F#NNNNN      staged rows (F: the body's fingerprint), compressed JSON pages of [row_number, value]
      chunk#NNNNNN       the texts one Comprehend call sends, and its language (`auto`: a
                         BatchDetectDominantLanguage call for the rows to detect)
      analysis#NNNNNN    that call's values, by position in the chunk (detections: LanguageCode, Score)
      hit#NNNNN          values the result cache answered (cache.py), compressed JSON pages of
                         [document, value]: the plan leaves those documents out of every chunk
      result#NNNNN       the answer, compressed JSON pages of [row_number, value]

The pool of last chunks shares this table under its own partitions (pool.py lists its items);
no batch item's sort key starts with `pooled#`, so even a batch id equal to a pool's key
cannot mix the two. Batch ids are at most 512 bytes (protocol.MAX_HEADER_ID_BYTES), so every
key stays below DynamoDB's limits (2,048 bytes for pk, 1,024 for sk).

Every item of a batch expires when its batch record does: writers copy the record's expiresAt.
So once a batch id can be posted again (its record has expired), nothing of the earlier batch
is left to be read as the new one's.
Rows never travel through Step Functions: its payloads are capped at 256 KiB and its
history is visible to operators. Pages keep every item far below DynamoDB's 400 KB, and
GET reads the answer with one paginated, strongly consistent Query over `result#`.
Items expire through TTL; since TTL deletes lazily, readers ignore expired items.
"""

from __future__ import annotations

import json
import math
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .errors import backoff_seconds

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import WriteRequestOutputTypeDef, WriteRequestTypeDef

    WriteRequests = Sequence[WriteRequestTypeDef | WriteRequestOutputTypeDef]
    """BatchWriteItem's requests for one table: those sent, or those it left unprocessed."""

META = "meta"
INPUT = "input#"
CHUNK = "chunk#"
ANALYSIS = "analysis#"
RESULT = "result#"
HIT = "hit#"

MAX_PAGE_BYTES = 300_000
"""Uncompressed JSON per page; compressed it stays well below DynamoDB's 400 KB item limit."""

STATUS_STAGED = "STAGED"
STATUS_STARTED = "STARTED"
STATUS_ENDED = "ENDED"

RECORD_EXISTS = "attribute_exists(pk)"
"""The clause of every update of a batch record after its POST: another batch's, or an expired
one's, may be gone, and an update must not create a stray record."""
RECORD_GONE = "The batch record is gone (expired or never written); the batch cannot be completed."


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
class StoredChunk:
    """One Comprehend call's documents as stored for the workers: its language and texts."""

    language: str
    texts: list[str]


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
    documents_cached: int = 0
    described_at: float = 0.0
    turn_at: float | None = None
    execution_status: str | None = None
    failure: str | None = None

    def is_expired(self, now: float) -> bool:
        return self.expires_at <= now

    @property
    def staging_id(self) -> str:
        return staging_id(self.fingerprint)


class ResultsTable:
    """Typed access to the results table through the low-level client (thread-safe, no Decimals)."""

    def __init__(self, client: DynamoDBClient, table_name: str, retention_seconds: int):
        self.client = client
        self.name = table_name
        self.retention_seconds = retention_seconds
        self._expiry_of: dict[str, int | None] = {}

    def new_expiry(self) -> int:
        """When a batch posted now expires, with every item it will ever have."""
        return int(time.time()) + self.retention_seconds

    def batch_expiry(self, batch_id: str) -> int | None:
        """The live batch record's expiresAt, read once per table object; None when it is gone."""
        if batch_id not in self._expiry_of:
            record = self.get_batch(batch_id)
            self._expiry_of[batch_id] = record.expires_at if record else None
        return self._expiry_of[batch_id]

    # -- the batch record -------------------------------------------------------------

    def get_batch(self, batch_id: str, *, expired_too: bool = False) -> BatchRecord | None:
        """The live batch record, or None if it was never written or has expired (or is deleted,
        with `expired_too`: TTL deletes lazily, so an expired record usually still tells so)."""
        item = self.client.get_item(TableName=self.name, Key=item_key(batch_id, META), ConsistentRead=True).get("Item")
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
            described_at=float(item.get("describedAt", {"N": "0"})["N"]),
            turn_at=float(item["turnAt"]["N"]) if "turnAt" in item else None,
            documents_cached=int(item.get("documentsCached", {"N": "0"})["N"]),
            execution_status=item.get("executionStatus", {}).get("S"),
            failure=item.get("failure", {}).get("S"),
        )
        return record if expired_too or not record.is_expired(time.time()) else None

    def create_batch(self, record: BatchRecord) -> bool:
        """Write the batch record unless a live one exists; False when another request won."""
        item = {
            **item_key(record.batch_id, META),
            "executionName": {"S": record.execution_name},
            "queryId": {"S": record.query_id},
            "fingerprint": {"S": record.fingerprint},
            "rowCount": {"N": str(record.row_count)},
            "inputPages": {"N": str(record.input_pages)},
            "status": {"S": record.status},
            "expiresAt": {"N": str(record.expires_at)},
        }
        return self.put_new(item)

    def new_record(self, batch_id: str, execution_name: str, query_id: str, fingerprint: str, row_count: int, input_pages: int, expires_at: int) -> BatchRecord:
        return BatchRecord(batch_id, execution_name, query_id, fingerprint, row_count, input_pages, STATUS_STAGED, expires_at)

    def mark_started(self, batch_id: str, now: float) -> None:
        """The execution is started; its first DescribeExecution is due a poll period from now.
        Only a STAGED record moves: an execution can end (ENDED) before its POST gets here, and a
        repeated POST of an ended batch must not take its record back to STARTED."""
        self._update_record(
            batch_id,
            "SET #status = :started, describedAt = :now",
            {":started": {"S": STATUS_STARTED}, ":now": moment(now), ":staged": {"S": STATUS_STAGED}},
            condition="#status = :staged",
            names={"#status": "status"},
        )

    def keep_turn(self, batch_id: str, turn_at: float) -> float:
        """Record when the batch's block starts, once: a retried PlanChunks gets the first booking."""
        if self._update_record(batch_id, "SET turnAt = :turn", {":turn": moment(turn_at)}, condition="attribute_not_exists(turnAt)"):
            return turn_at
        record = self.get_batch(batch_id)
        if record is None or record.turn_at is None:
            raise StagedBatchMissing(RECORD_GONE)
        return record.turn_at

    def mark_ended(self, batch_id: str) -> None:
        """The workflow has ended: the next GET confirms with DescribeExecution at once."""
        self._update_record(batch_id, "SET #status = :ended", {":ended": {"S": STATUS_ENDED}}, names={"#status": "status"})

    def claim_describe(self, batch_id: str, last: float, now: float) -> bool:
        """Take the turn to call DescribeExecution; False when another GET took it since `last`."""
        return self._update_record(
            batch_id,
            "SET describedAt = :now",
            {":now": moment(now), ":last": {"N": f"{last:.3f}"}},
            condition="attribute_not_exists(describedAt) OR describedAt = :last",
        )

    def reopen(self, batch_id: str) -> None:
        """The failed execution runs again (a redrive): forget its end until it ends anew."""
        self._update_record(
            batch_id, "SET #status = :started REMOVE executionStatus, failure", {":started": {"S": STATUS_STARTED}}, names={"#status": "status"}
        )

    def record_closed(self, batch_id: str, execution_status: str, failure: str | None) -> None:
        """Keep the execution's closing status, so later GETs answer without DescribeExecution."""
        values = {":status": {"S": execution_status}, **({":failure": {"S": failure}} if failure else {})}
        self._update_record(batch_id, "SET executionStatus = :status" + (", failure = :failure" if failure else ""), values)

    def set_chunks_total(self, batch_id: str, chunks_total: int, documents_cached: int = 0) -> None:
        """The batch's calls to make, and the documents the result cache answered (the 202 shows both)."""
        self.client.update_item(
            TableName=self.name,
            Key=item_key(batch_id, META),
            UpdateExpression="SET chunksTotal = :total, documentsCached = :cached",
            ExpressionAttributeValues={":total": {"N": str(chunks_total)}, ":cached": {"N": str(documents_cached)}},
        )

    def add_chunks_done(self, batch_id: str, count: int) -> None:
        """Count progress on a live batch record; never create one (another batch's may be gone)."""
        self._update_record(batch_id, "ADD chunksDone :count", {":count": {"N": str(count)}})

    # -- pages and chunks -------------------------------------------------------------

    def stage_input(self, batch_id: str, staging_id: str, rows: list[list[Any]], expires_at: int) -> int:
        """Write the staged rows as pages, before the batch record that will expire with them; returns the page count."""
        pages = paginate_rows(rows)
        self._put_all(self._page_item(batch_id, input_key(staging_id, index), page, expires_at) for index, page in enumerate(pages))
        return len(pages)

    def read_input(self, batch_id: str, staging_id: str, expected_pages: int) -> list[list[Any]]:
        pages = [unpack(item["data"]["B"]) for item in self.query_prefix(batch_id, input_prefix(staging_id))]
        if len(pages) != expected_pages:
            raise StagedBatchMissing(f"The batch's staged rows are incomplete ({len(pages)} of {expected_pages} pages); they may have expired.")
        return [row for page in pages for row in page]

    def put_chunks(self, batch_id: str, chunks: Iterable[tuple[int, StoredChunk]]) -> None:
        expires_at = self._live_expiry(batch_id)
        self._put_all({**self._page_item(batch_id, chunk_key(index), chunk.texts, expires_at), "language": {"S": chunk.language}} for index, chunk in chunks)

    def read_chunks(self, batch_id: str, first: int, count: int) -> dict[int, StoredChunk]:
        chunks = {
            int(item["sk"]["S"][len(CHUNK) :]): StoredChunk(item["language"]["S"], unpack(item["data"]["B"]))
            for item in self._query_range(batch_id, chunk_key(first), chunk_key(first + count - 1))
        }
        if len(chunks) != count:
            raise StagedBatchMissing(f"Chunks {first} to {first + count - 1} of the batch are incomplete; they may have expired.")
        return chunks

    def put_analysis(self, batch_id: str, chunk: int, values: list[dict[str, Any]]) -> bool:
        """Store a chunk's values once; False when they were already stored (a racing or retried
        call) or the batch is gone, so nobody could read them."""
        expires_at = self.batch_expiry(batch_id)
        if expires_at is None:
            return False
        return self.put_new(self._page_item(batch_id, analysis_key(chunk), values, expires_at))

    def read_chunk(self, batch_id: str, chunk: int) -> StoredChunk:
        return self.read_chunks(batch_id, chunk, 1)[chunk]

    def is_analysed(self, batch_id: str, chunk: int) -> bool:
        return bool(self.analysed_chunks(batch_id, chunk, 1))

    def analysed_chunks(self, batch_id: str, first: int, count: int) -> set[int]:
        return {
            int(item["sk"]["S"][len(ANALYSIS) :]) for item in self._query_range(batch_id, analysis_key(first), analysis_key(first + count - 1), keys_only=True)
        }

    def read_analysis(self, batch_id: str, first: int = 0, count: int | None = None) -> dict[int, list[dict[str, Any]]]:
        """Stored values by chunk: every chunk's, or those of chunks first .. first + count - 1."""
        items = (
            self.query_prefix(batch_id, ANALYSIS)
            if count is None
            else self._query_range(batch_id, analysis_key(first), analysis_key(first + count - 1))
            if count
            else iter(())
        )
        return {int(item["sk"]["S"][len(ANALYSIS) :]): unpack(item["data"]["B"]) for item in items}

    def put_hits(self, batch_id: str, hits: dict[int, Any]) -> None:
        expires_at = self._live_expiry(batch_id)
        self._put_all(
            self._page_item(batch_id, f"{HIT}{index:05d}", page, expires_at)
            for index, page in enumerate(paginate_rows([[document, value] for document, value in sorted(hits.items())]))
        )

    def read_hits(self, batch_id: str) -> dict[int, Any]:
        return {document: value for item in self.query_prefix(batch_id, HIT) for document, value in unpack(item["data"]["B"])}

    def put_results(self, batch_id: str, rows: list[list[Any]]) -> int:
        pages = paginate_rows(rows)
        expires_at = self._live_expiry(batch_id)
        self._put_all({**self._page_item(batch_id, result_key(index), page, expires_at), "rows": {"N": str(len(page))}} for index, page in enumerate(pages))
        return len(pages)

    def read_results(self, batch_id: str) -> list[list[Any]]:
        """The answer's rows in order; empty when the results have expired."""
        return [row for item in self.query_prefix(batch_id, RESULT) for row in unpack(item["data"]["B"])]

    # -- plumbing ---------------------------------------------------------------------

    def _update_record(self, batch_id: str, update: str, values: dict[str, Any], *, condition: str | None = None, names: dict[str, Any] | None = None) -> bool:
        """Update the batch record only while it exists (never create a stray one), and only if
        `condition` holds too; False when either does not."""
        request: dict[str, Any] = {
            "Key": item_key(batch_id, META),
            "UpdateExpression": update,
            "ConditionExpression": RECORD_EXISTS if condition is None else f"{RECORD_EXISTS} AND ({condition})",
            "ExpressionAttributeValues": values,
        }
        if names:
            request["ExpressionAttributeNames"] = names
        return self.write_if(self.client.update_item, **request)

    def _live_expiry(self, batch_id: str) -> int:
        expires_at = self.batch_expiry(batch_id)
        if expires_at is None:
            raise StagedBatchMissing(RECORD_GONE)
        return expires_at

    def _page_item(self, batch_id: str, sort_key: str, value: Any, expires_at: int) -> dict[str, Any]:
        return {**item_key(batch_id, sort_key), "data": {"B": pack(value)}, "expiresAt": {"N": str(expires_at)}}

    def query_prefix(self, partition: str, prefix: str) -> Iterator[dict[str, Any]]:
        return self._query(partition, "pk = :pk AND begins_with(sk, :prefix)", {":prefix": {"S": prefix}})

    def _query_range(self, partition: str, first: str, last: str, keys_only: bool = False) -> Iterator[dict[str, Any]]:
        return self._query(partition, "pk = :pk AND sk BETWEEN :first AND :last", {":first": {"S": first}, ":last": {"S": last}}, keys_only)

    def _query(self, partition: str, condition: str, values: dict[str, Any], keys_only: bool = False) -> Iterator[dict[str, Any]]:
        now = time.time()
        request: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": {":pk": {"S": partition}, **values},
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

    def put_new(self, item: dict[str, Any]) -> bool:
        """PutItem unless a live item has the key; False when one has."""
        return self.write_if(
            self.client.put_item,
            Item=item,
            ConditionExpression="attribute_not_exists(sk) OR expiresAt <= :now",
            ExpressionAttributeValues={":now": {"N": str(int(time.time()))}},
        )

    def write_if(self, write: Callable[..., Any], **request: Any) -> bool:
        """A conditional write; False, not an error, when its condition does not hold."""
        try:
            write(TableName=self.name, **request)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _put_all(self, items: Iterable[dict[str, Any]]) -> None:
        """BatchWriteItem in groups of 25, resending unprocessed items with backoff and jitter."""
        pending = list(items)
        for start in range(0, len(pending), 25):
            requests: WriteRequests = [{"PutRequest": {"Item": item}} for item in pending[start : start + 25]]
            attempt = 0
            while requests:
                response = self.client.batch_write_item(RequestItems={self.name: requests})
                requests = response.get("UnprocessedItems", {}).get(self.name, [])
                if requests:
                    attempt += 1
                    if attempt > 8:
                        raise StorageThrottled("DynamoDB left items unprocessed after 8 attempts.")
                    time.sleep(backoff_seconds(attempt, 0.05, 2.0))


def moment(seconds: float) -> dict[str, Any]:
    """A time to the millisecond, truncated: never later than the moment it records."""
    return {"N": f"{math.floor(seconds * 1000) / 1000:.3f}"}


def item_key(partition: str, sort_key: str) -> dict[str, Any]:
    return {"pk": {"S": partition}, "sk": {"S": sort_key}}
