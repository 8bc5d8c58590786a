"""From Snowflake rows to Comprehend calls: what is sent, once, and in which chunk.

Comprehend bills every document and its request quota is the service's speed limit, so a
row is sent only when it has something to analyse, and identical texts of a batch only
once. A chunk is one BatchDetectSentiment call: at most 25 documents of one language,
each at most 5,000 bytes of UTF-8. A work item is a run of chunks handled by one Map
iteration; their number is capped so the execution history stays under its limit. A
batch's last chunk, when it holds fewer than 25 documents, is not a work item: it is pooled
with other batches' last chunks (pool.py), so their documents share full calls.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Union

MAX_DOCUMENTS_PER_CHUNK = 25
MAX_DOCUMENT_BYTES = 5000
MAX_WORK_ITEMS = 300
"""Map iterations per execution; see `history_events_bound` in tests/test_statemachine.py."""

SUPPORTED_LANGUAGES = ("en", "es", "fr", "de", "it", "pt", "ar", "hi", "ja", "ko", "zh", "zh-TW")

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

RowValue = Union[str, None, dict]
"""A staged row argument: text to analyse, None (no sentiment), or a ready row error."""


def truncate_utf8(text: str, max_bytes: int = MAX_DOCUMENT_BYTES) -> str:
    """The longest prefix of `text` whose UTF-8 form fits `max_bytes`, cut between characters."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", errors="ignore")


def unsupported_value_error(value: Any) -> dict:
    kind = {bool: "boolean", int: "number", float: "number", list: "array", dict: "object"}.get(type(value), type(value).__name__)
    return {"Error": {"Code": "UnsupportedValue", "Message": f"sentiment takes text; this row holds a JSON {kind}."}}


def normalize_argument(value: Any) -> RowValue:
    """What of a row's argument is analysed.

    NULL and blank text have no sentiment (None). Lone surrogates, which JSON can carry but
    UTF-8 cannot, become U+FFFD. Text beyond Comprehend's 5,000-byte document limit is cut
    on a character boundary, so identical prefixes share one analysis. A number, boolean,
    array or object gets a row error: the external function is declared over text.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        return unsupported_value_error(value)
    if not value.strip():
        return None
    return truncate_utf8(_LONE_SURROGATE.sub("\ufffd", value))


@dataclass(frozen=True)
class WorkItem:
    first_chunk: int
    chunk_count: int

    def as_dict(self) -> dict[str, int]:
        return {"firstChunk": self.first_chunk, "chunkCount": self.chunk_count}


@dataclass(frozen=True)
class BatchPlan:
    """The batch's unique documents, the document each row reads, and the calls to make."""

    language: str
    documents: list[str]
    row_documents: list[int | None | dict]
    """Per staged row, in order: its document index, None, or a ready row error."""
    chunks: list[list[int]]
    """Per chunk, the document indexes it sends, in TextList order."""
    work_items: list[WorkItem]
    """The Map's iterations: every chunk but the pooled one."""
    pooled_chunk: int | None
    """The last chunk when it is partly filled: it shares calls with other batches'."""

    def chunk_texts(self, chunk_index: int) -> list[str]:
        return [self.documents[document] for document in self.chunks[chunk_index]]


def plan_batch(values: list[RowValue], language: str, max_work_items: int = MAX_WORK_ITEMS) -> BatchPlan:
    """Deterministic: the same staged values always give the same plan, so every state can rebuild it."""
    if language not in SUPPORTED_LANGUAGES:
        raise ValueError(f"Comprehend does not analyse sentiment in language {language!r}")
    document_of: dict[str, int] = {}
    documents: list[str] = []
    row_documents: list[int | None | dict] = []
    for value in values:
        if isinstance(value, str):
            index = document_of.get(value)
            if index is None:
                index = document_of[value] = len(documents)
                documents.append(value)
            row_documents.append(index)
        else:
            row_documents.append(value)
    chunks = [list(range(start, min(start + MAX_DOCUMENTS_PER_CHUNK, len(documents)))) for start in range(0, len(documents), MAX_DOCUMENTS_PER_CHUNK)]
    pooled = len(chunks) - 1 if chunks and len(chunks[-1]) < MAX_DOCUMENTS_PER_CHUNK else None
    mapped = len(chunks) if pooled is None else pooled
    return BatchPlan(language, documents, row_documents, chunks, group_chunks(mapped, max_work_items), pooled)


def group_chunks(chunk_count: int, max_work_items: int = MAX_WORK_ITEMS) -> list[WorkItem]:
    """Spread chunks over at most `max_work_items` contiguous runs of near-equal length."""
    if chunk_count == 0:
        return []
    items = min(chunk_count, max_work_items)
    per_item = math.ceil(chunk_count / items)
    return [WorkItem(first, min(per_item, chunk_count - first)) for first in range(0, chunk_count, per_item)]
