"""Batches share Comprehend calls for their last, partly filled chunks.

On its own a batch of N unique texts needs ceil(N / 25) calls, and its last call usually
carries fewer than 25 documents: one call in every 30 of a 1,000-row batch, one in 4 of a
100-row one, spent on the quota for nothing. Snowflake sends a query's batches at once, so
each batch puts that last chunk in a pool (ids and a count; its texts stay in the batch's
own items) and the first batch to reach its AnalyzePooledChunk state sends every waiting
chunk together, 25 documents a call, storing each batch's values exactly where that batch
reads them. A batch never waits for others to arrive: pooling only uses what is waiting.

Every entry is claimed before its texts are sent, so a chunk is sent once; a claim lapses
after CLAIM_SECONDS so a claimer that died cannot hold a batch back for long. A claim belongs
to one invocation, not to its batch: a retry of AnalyzePooledChunk that starts while the
timed-out attempt still runs waits for its values instead of sending the same texts again.
Values are stored only if none are yet, so a late or repeated call never overwrites an answer.

The pool's items, in the results table (storage.py owns the batches' own items):

    pk = pool#<language>, sk =
      pooled#<batch id>#NNNNNN   a batch's last chunk: batchId, chunk, documents, expiresAt
                                 (the execution's lifetime), never text, and while a call holds it
                                   claimedBy      the holding invocation: <batch id>#<uuid>
                                   claimedUntil   when the claim lapses, epoch seconds
                                 waiting (no claim, or a lapsed one) -> claimed -> deleted once its
                                 values are stored or its batch's rows are gone; a call that stops
                                 early releases its claims, and the entry is waiting again

No batch item's sort key starts with `pooled#`, so even a batch id equal to a pool's key
cannot mix the two.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

from .cache import ResultCache
from .chunking import MAX_DOCUMENTS_PER_CHUNK
from .comprehend import ComprehendCalls, ComprehendContractError, ComprehendRejected, ComprehendThrottled, ComprehendUnavailable, detect_sentiment
from .storage import ResultsTable, StagedBatchMissing, item_key, moment

POOL_LIFETIME_SECONDS = 900
"""An entry outlives no execution: 900 s is the state machine's TimeoutSeconds."""

CLAIM_SECONDS = 120
"""How long a claim holds an entry for one call."""

CALL_RESERVE_SECONDS = 45
"""No call starts later than this before the claims lapse: one call's in-function retries
(5 s) and read timeout (30 s), with a margin."""

MAX_POOLED_DOCUMENTS = 250
"""At most 10 calls for one batch's state, so a flush stays well inside its claims."""

MAX_ENTRIES_READ = 100

WAIT_SECONDS = 15
"""How long a batch whose chunk another call holds waits in the function before Step
Functions' retries take over (a second waiting here costs far less than a transition)."""


POOL = "pool#"
POOLED = "pooled#"

ENTRY_EXISTS = "attribute_exists(sk)"
UNCLAIMED = "attribute_not_exists(claimedBy)"
CLAIMED_BY_OWNER = "claimedBy = :owner"
CLAIM_LAPSED = "claimedUntil <= :now"
CLAIMABLE = f"{ENTRY_EXISTS} AND ({UNCLAIMED} OR {CLAIMED_BY_OWNER} OR {CLAIM_LAPSED})"
"""An entry may be claimed while it exists and nobody else holds it: PooledChunk.claimable_by."""


def pool_key(language: str) -> str:
    return f"{POOL}{language}"


def pooled_key(language: str, batch_id: str, chunk: int) -> dict[str, Any]:
    return item_key(pool_key(language), f"{POOLED}{batch_id}#{chunk:06d}")


@dataclass(frozen=True)
class PooledChunk:
    """A batch's last chunk in the pool, and who holds it for a call until when."""

    batch_id: str
    chunk: int
    documents: int
    claimed_by: str | None = None
    claimed_until: float = 0.0

    def claimable_by(self, owner: str, now: float) -> bool:
        """CLAIMABLE, checked first so a held entry costs no failed write."""
        return self.claimed_by is None or self.claimed_by == owner or self.claimed_until <= now

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> PooledChunk:
        return cls(
            item["batchId"]["S"],
            int(item["chunk"]["N"]),
            int(item["documents"]["N"]),
            item.get("claimedBy", {}).get("S"),
            float(item.get("claimedUntil", {"N": "0"})["N"]),
        )


class Pool:
    """One language's pool of last chunks, kept in the results table."""

    def __init__(self, table: ResultsTable, language: str):
        self.table = table
        self.language = language

    def add(self, batch_id: str, chunk: int, documents: int, lifetime_seconds: int = POOL_LIFETIME_SECONDS) -> None:
        """Put a batch's last chunk in the pool; a retried call leaves an existing entry (and its claim) alone."""
        item = {
            **self._key(batch_id, chunk),
            "batchId": {"S": batch_id},
            "chunk": {"N": str(chunk)},
            "documents": {"N": str(documents)},
            "expiresAt": {"N": str(int(time.time()) + lifetime_seconds)},
        }
        self.table.put_new(item)

    def entry(self, batch_id: str, chunk: int) -> PooledChunk | None:
        item = self.table.client.get_item(TableName=self.table.name, Key=self._key(batch_id, chunk), ConsistentRead=True).get("Item")
        return PooledChunk.from_item(item) if item and int(item["expiresAt"]["N"]) > time.time() else None

    def entries(self, limit: int) -> list[PooledChunk]:
        """Up to `limit` live entries, claimed ones included."""
        entries = []
        for item in self.table.query_prefix(pool_key(self.language), POOLED):
            entries.append(PooledChunk.from_item(item))
            if len(entries) == limit:
                break
        return entries

    def claim(self, entry: PooledChunk, owner: str, now: float, until: float) -> bool:
        """Hold an entry for `owner`'s call until `until`; False when someone else holds it or it is gone."""
        return self.table.write_if(
            self.table.client.update_item,
            Key=self._key(entry.batch_id, entry.chunk),
            UpdateExpression="SET claimedBy = :owner, claimedUntil = :until",
            ConditionExpression=CLAIMABLE,
            ExpressionAttributeValues={":owner": {"S": owner}, ":until": {"N": f"{until:.3f}"}, ":now": moment(now)},
        )

    def release(self, entry: PooledChunk, owner: str) -> None:
        """Give an entry back to the pool if `owner` still holds it."""
        self.table.write_if(
            self.table.client.update_item,
            Key=self._key(entry.batch_id, entry.chunk),
            UpdateExpression="REMOVE claimedBy, claimedUntil",
            ConditionExpression=CLAIMED_BY_OWNER,
            ExpressionAttributeValues={":owner": {"S": owner}},
        )

    def remove(self, entry: PooledChunk) -> None:
        self.table.client.delete_item(TableName=self.table.name, Key=self._key(entry.batch_id, entry.chunk))

    def _key(self, batch_id: str, chunk: int) -> dict[str, Any]:
        return pooled_key(self.language, batch_id, chunk)


class PooledChunkInFlight(Exception):
    """Another call (another batch's, or an earlier attempt of this batch's) holds this batch's last chunk.

    Step Functions retries until its values are stored or the claim lapses.
    """


@dataclass
class Settled:
    """What settling one batch's pooled chunk took."""

    calls: int = 0
    documents: int = 0
    chunks_stored: int = 0
    """Pooled chunks whose values this call stored: the batch's own and other batches'."""

    def as_dict(self) -> dict[str, int]:
        return {"comprehendCalls": self.calls, "documentsAnalysed": self.documents, "pooledChunksStored": self.chunks_stored}

    def add(self, other: Settled) -> None:
        self.calls += other.calls
        self.documents += other.documents
        self.chunks_stored += other.chunks_stored


def settle_pooled_chunk(
    batch_id: str,
    chunk: int,
    language: str,
    table: ResultsTable,
    comprehend: ComprehendCalls,
    *,
    on_throttle: Callable[[], None] = lambda: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    cache: ResultCache | None = None,
) -> Settled:
    """Make sure the batch's pooled chunk has values: already stored, stored now together with
    other waiting chunks, or, while another invocation's call holds it, PooledChunkInFlight."""
    if table.is_analysed(batch_id, chunk):
        return Settled()
    pool = Pool(table, language)
    call = SharedCall(pool, comprehend, owner=f"{batch_id}#{uuid4().hex}", claimed_at=clock(), on_throttle=on_throttle, sleep=sleep, clock=clock, cache=cache)
    own = pool.entry(batch_id, chunk)
    if own is None:
        if table.is_analysed(batch_id, chunk):
            return Settled()
        own = PooledChunk(batch_id, chunk, MAX_DOCUMENTS_PER_CHUNK)
    elif not pool.claim(own, call.owner, call.claimed_at, call.claimed_until):
        return wait_for_values(batch_id, chunk, table, sleep, clock)
    call.claimed.append(own)
    call.claim_waiting()
    try:
        return call.analyse()
    finally:
        call.release_unfinished()


def wait_for_values(batch_id: str, chunk: int, table: ResultsTable, sleep: Callable[[float], None], clock: Callable[[], float]) -> Settled:
    deadline = clock() + WAIT_SECONDS
    while clock() < deadline:
        sleep(0.5)
        if table.is_analysed(batch_id, chunk):
            return Settled()
    raise PooledChunkInFlight("Another Comprehend call holds this batch's last chunk; waiting for it.")


@dataclass
class SharedCall:
    """One invocation's call for pooled chunks: the chunks it holds (its own batch's first), which
    of them are finished (values stored, or gone), and what the call took."""

    pool: Pool
    comprehend: ComprehendCalls
    owner: str
    claimed_at: float
    on_throttle: Callable[[], None]
    sleep: Callable[[float], None]
    clock: Callable[[], float]
    cache: ResultCache | None = None
    claimed: list[PooledChunk] = field(default_factory=list)
    finished: set[tuple[str, int]] = field(default_factory=set)
    settled: Settled = field(default_factory=Settled)

    @property
    def table(self) -> ResultsTable:
        return self.pool.table

    @property
    def claimed_until(self) -> float:
        return self.claimed_at + CLAIM_SECONDS

    def claim_waiting(self) -> None:
        """Claim other batches' waiting chunks, up to MAX_POOLED_DOCUMENTS in all."""
        own = self.claimed[0]
        documents = own.documents
        for entry in self.pool.entries(MAX_ENTRIES_READ):
            if (
                (entry.batch_id, entry.chunk) == (own.batch_id, own.chunk)
                or documents + entry.documents > MAX_POOLED_DOCUMENTS
                or not entry.claimable_by(self.owner, self.claimed_at)
            ):
                continue
            if self.pool.claim(entry, self.owner, self.claimed_at, self.claimed_until):
                self.claimed.append(entry)
                documents += entry.documents

    def release_unfinished(self) -> None:
        for entry in self.claimed:
            if (entry.batch_id, entry.chunk) not in self.finished:
                self.pool.release(entry, self.owner)

    def analyse(self) -> Settled:
        """Send the claimed chunks' unique texts 25 a call and store each chunk's values as soon as
        all of them are known (texts the result cache knows are not sent). The own chunk, first, is
        complete after the first call; once it is
        stored, a failing call or lapsing claims end the call and the rest go back to the pool."""
        own = self.claimed[0]
        deadline = self.claimed_until - CALL_RESERVE_SECONDS
        parts: list[tuple[PooledChunk, list[int]]] = []
        index_of: dict[str, int] = {}
        for entry in self.claimed:
            try:
                texts = self.table.read_chunk(entry.batch_id, entry.chunk).texts
            except StagedBatchMissing:
                if entry is own:
                    raise
                self.pool.remove(entry)
                self.finished.add((entry.batch_id, entry.chunk))
                continue
            parts.append((entry, [index_of.setdefault(text, len(index_of)) for text in texts]))
        unique = list(index_of)
        values: list[Any] = [None] * len(unique)
        language = self.pool.language
        for position, value in (self.cache.lookup([(language, text) for text in unique]) if self.cache else {}).items():
            values[position] = value
        self._store_known(parts, values)
        missing = [position for position, value in enumerate(values) if value is None]
        for start in range(0, len(missing), MAX_DOCUMENTS_PER_CHUNK):
            if start and self.clock() > deadline:
                break
            sent = missing[start : start + MAX_DOCUMENTS_PER_CHUNK]
            try:
                answered = self._detect([unique[position] for position in sent])
            except (ComprehendThrottled, ComprehendUnavailable, ComprehendRejected, ComprehendContractError) as failure:
                if start:
                    break
                if isinstance(failure, (ComprehendRejected, ComprehendContractError)) and len(parts) > 1:
                    return self._analyse_alone(parts[0][0], [unique[position] for position in parts[0][1]])
                raise
            for position, value in zip(sent, answered, strict=True):
                values[position] = value
            if self.cache is not None:
                self.cache.store(((language, unique[position]), value) for position, value in zip(sent, answered, strict=True))
            self._store_known(parts, values)
        return self.settled

    def _store_known(self, parts: list[tuple[PooledChunk, list[int]]], values: list[Any]) -> None:
        """Store every claimed chunk whose values are all known now."""
        for entry, positions in parts:
            if (entry.batch_id, entry.chunk) not in self.finished and all(values[position] is not None for position in positions):
                self._store(entry, [values[position] for position in positions])

    def _analyse_alone(self, own: PooledChunk, texts: list[str]) -> Settled:
        """Comprehend refused a shared call (or answered it incompletely): send the own chunk alone,
        so a text Comprehend refuses fails only the batch it belongs to; the others go back to the pool."""
        self._store(own, self._detect(texts))
        return self.settled

    def _detect(self, texts: list[str]) -> list[dict[str, Any]]:
        values = detect_sentiment(self.comprehend, texts, self.pool.language, on_throttle=self.on_throttle, sleep=self.sleep)
        self.settled.calls += 1
        self.settled.documents += len(texts)
        return values

    def _store(self, entry: PooledChunk, values: list[Any]) -> None:
        if self.table.put_analysis(entry.batch_id, entry.chunk, values):
            self.table.add_chunks_done(entry.batch_id, 1)
            self.settled.chunks_stored += 1
        self.pool.remove(entry)
        self.finished.add((entry.batch_id, entry.chunk))
