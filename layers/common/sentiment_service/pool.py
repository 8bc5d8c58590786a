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
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable
from uuid import uuid4

from .chunking import MAX_DOCUMENTS_PER_CHUNK
from .comprehend import ComprehendContractError, ComprehendRejected, ComprehendThrottled, ComprehendUnavailable, detect_sentiment
from .storage import PooledChunk, ResultsTable, StagedBatchMissing

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


class PooledChunkInFlight(Exception):
    """Another call (another batch's, or an earlier attempt of this batch's) holds this batch's last chunk; Step Functions retries until its values are stored or the claim lapses."""


@dataclass
class Settled:
    """What settling one batch's pooled chunk took."""

    calls: int = 0
    documents: int = 0
    chunks_stored: int = 0
    """Pooled chunks whose values this call stored: the batch's own and other batches'."""

    def as_dict(self) -> dict[str, int]:
        return {"comprehendCalls": self.calls, "documentsAnalysed": self.documents, "pooledChunksStored": self.chunks_stored}


def settle_pooled_chunk(
    batch_id: str,
    chunk: int,
    language: str,
    table: ResultsTable,
    comprehend: Any,
    *,
    on_throttle: Callable[[], None] = lambda: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> Settled:
    """Make sure the batch's pooled chunk has values: already stored, stored now together with
    other waiting chunks, or, while another invocation's call holds it, PooledChunkInFlight."""
    if table.is_analysed(batch_id, chunk):
        return Settled()
    owner = f"{batch_id}#{uuid4().hex}"
    claimed_at = clock()
    until = claimed_at + CLAIM_SECONDS
    own = table.pooled_chunk(language, batch_id, chunk)
    if own is None:
        if table.is_analysed(batch_id, chunk):
            return Settled()
        own = PooledChunk(batch_id, chunk, MAX_DOCUMENTS_PER_CHUNK)
    elif not table.claim_pooled_chunk(language, own, owner, claimed_at, until):
        return wait_for_values(batch_id, chunk, table, sleep, clock)
    claimed = [own]
    documents = own.documents
    for entry in table.pooled_chunks(language, MAX_ENTRIES_READ):
        if (entry.batch_id, entry.chunk) == (batch_id, chunk) or documents + entry.documents > MAX_POOLED_DOCUMENTS or not entry.claimable_by(owner, claimed_at):
            continue
        if table.claim_pooled_chunk(language, entry, owner, claimed_at, until):
            claimed.append(entry)
            documents += entry.documents
    finished: set[tuple[str, int]] = set()
    try:
        return analyse_claimed(claimed, language, table, comprehend, finished, deadline=until - CALL_RESERVE_SECONDS, on_throttle=on_throttle, sleep=sleep, clock=clock)
    finally:
        for entry in claimed:
            if (entry.batch_id, entry.chunk) not in finished:
                table.release_pooled_chunk(language, entry, owner)


def wait_for_values(batch_id: str, chunk: int, table: ResultsTable, sleep: Callable[[float], None], clock: Callable[[], float]) -> Settled:
    deadline = clock() + WAIT_SECONDS
    while clock() < deadline:
        sleep(0.5)
        if table.is_analysed(batch_id, chunk):
            return Settled()
    raise PooledChunkInFlight("Another Comprehend call holds this batch's last chunk; waiting for it.")


def analyse_claimed(
    claimed: list[PooledChunk],
    language: str,
    table: ResultsTable,
    comprehend: Any,
    finished: set[tuple[str, int]],
    *,
    deadline: float,
    on_throttle: Callable[[], None],
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> Settled:
    """Send the claimed chunks' unique texts 25 a call and store each chunk's values as soon as
    all of them are known. The own chunk, first, is complete after the first call; once it is
    stored, a failing call or lapsing claims end the flush and the rest go back to the pool."""
    own, settled = claimed[0], Settled()
    parts: list[tuple[PooledChunk, list[int]]] = []
    index_of: dict[str, int] = {}
    for entry in claimed:
        try:
            texts = table.read_chunk(entry.batch_id, entry.chunk)
        except StagedBatchMissing:
            if entry is own:
                raise
            table.remove_pooled_chunk(language, entry)
            finished.add((entry.batch_id, entry.chunk))
            continue
        parts.append((entry, [index_of.setdefault(text, len(index_of)) for text in texts]))
    unique = list(index_of)
    values: list[Any] = [None] * len(unique)
    for start in range(0, len(unique), MAX_DOCUMENTS_PER_CHUNK):
        if start and clock() > deadline:
            break
        sent = unique[start : start + MAX_DOCUMENTS_PER_CHUNK]
        try:
            values[start : start + len(sent)] = detect_sentiment(comprehend, sent, language, on_throttle=on_throttle, sleep=sleep)
        except (ComprehendThrottled, ComprehendUnavailable, ComprehendRejected, ComprehendContractError) as failure:
            if start:
                break
            if isinstance(failure, (ComprehendRejected, ComprehendContractError)) and len(parts) > 1:
                return analyse_alone(parts[0], [unique[position] for position in parts[0][1]], language, table, comprehend, finished, settled, on_throttle, sleep)
            raise
        settled.calls += 1
        settled.documents += len(sent)
        known = start + len(sent)
        for entry, positions in parts:
            if (entry.batch_id, entry.chunk) not in finished and max(positions) < known:
                store(entry, [values[position] for position in positions], language, table, finished, settled)
    return settled


def analyse_alone(part: tuple[PooledChunk, list[int]], texts: list[str], language: str, table: ResultsTable, comprehend: Any, finished: set, settled: Settled, on_throttle: Callable[[], None], sleep: Callable[[float], None]) -> Settled:
    """Comprehend refused a shared call (or answered it incompletely): send the own chunk alone,
    so a text Comprehend refuses fails only the batch it belongs to; the others go back to the pool."""
    values = detect_sentiment(comprehend, texts, language, on_throttle=on_throttle, sleep=sleep)
    settled.calls += 1
    settled.documents += len(texts)
    store(part[0], values, language, table, finished, settled)
    return settled


def store(entry: PooledChunk, values: list[Any], language: str, table: ResultsTable, finished: set, settled: Settled) -> None:
    if table.put_analysis(entry.batch_id, entry.chunk, values):
        table.add_chunks_done(entry.batch_id, 1)
        settled.chunks_stored += 1
    table.remove_pooled_chunk(language, entry)
    finished.add((entry.batch_id, entry.chunk))
