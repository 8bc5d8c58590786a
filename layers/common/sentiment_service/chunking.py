"""From Snowflake rows to Comprehend calls: what is sent, once, and in which chunk.

Comprehend bills every document and its request quota is the service's speed limit, so a
row is sent only when it has something to analyse, and identical texts of a batch only
once. A chunk is one BatchDetectSentiment call: at most 25 documents of one language,
each at most 5,000 bytes of UTF-8. A work item is a run of chunks handled by one Map
iteration; their number is capped so the execution history stays under its limit. A
language's last chunk, when it holds fewer than 25 documents, is not a work item: it is pooled
with other batches' last chunks of that language (pool.py), so their documents share full calls.

A row is analysed in its own language: the row's language argument, else the function's
(the `language` header), else the deployment's LanguageCode. `auto` rows are detected first:
their unique texts go to BatchDetectDominantLanguage in detection chunks (language AUTO),
and the batch is planned again once every detection is stored. Identical texts in different
languages are different documents.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

MAX_DOCUMENTS_PER_CHUNK = 25
MAX_DOCUMENT_BYTES = 5000
MAX_WORK_ITEMS = 300
"""Map iterations per execution; see `history_events_bound` in tests/template/test_statemachine.py."""

SUPPORTED_LANGUAGES = ("en", "es", "fr", "de", "it", "pt", "ar", "hi", "ja", "ko", "zh", "zh-TW")
AUTO = "auto"
"""Detect the row's language with BatchDetectDominantLanguage, then analyse it in that language."""
_LANGUAGE_BY_LOWER = {code.lower(): code for code in (*SUPPORTED_LANGUAGES, AUTO)}
MAX_LANGUAGE_SHOWN = 16

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

RowValue = str | dict[str, Any] | None
"""A staged row argument: text to analyse, None (no sentiment), or a ready row error."""


def truncate_utf8(text: str, max_bytes: int = MAX_DOCUMENT_BYTES) -> str:
    """The longest prefix of `text` whose UTF-8 form fits `max_bytes`, cut between characters."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", errors="ignore")


def unsupported_value_error(value: Any) -> dict[str, Any]:
    kind = {bool: "boolean", int: "number", float: "number", list: "array", dict: "object"}.get(type(value), type(value).__name__)
    return {"Error": {"Code": "UnsupportedValue", "Message": f"sentiment takes text; this row holds a JSON {kind}."}}


def canonical_language(code: Any) -> str | None:
    """A supported language code or `auto`, matched without regard to case; None for anything else."""
    return _LANGUAGE_BY_LOWER.get(code.strip().lower()) if isinstance(code, str) else None


def row_language(argument: Any, default: str) -> str | dict[str, Any]:
    """The language a row's second argument asks for: NULL or blank means the function's default;
    a code Comprehend does not read is that row's error, and the rest of the batch goes on."""
    if argument is None or (isinstance(argument, str) and not argument.strip()):
        return default
    language = canonical_language(argument)
    if language is not None:
        return language
    shown = str(argument)[:MAX_LANGUAGE_SHOWN] if isinstance(argument, str) else f"a JSON {type(argument).__name__}"
    return {
        "Error": {
            "Code": "UnsupportedLanguage",
            "Message": f"Comprehend does not analyse sentiment in language {shown!r}; use one of {', '.join(SUPPORTED_LANGUAGES)} or auto.",
        }
    }


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
class Detection:
    """BatchDetectDominantLanguage's best answer for one text."""

    language: str
    score: float


def detection_error(value: dict[str, Any], threshold: float) -> dict[str, Any] | None:
    """The row error an auto row gets from its detection, or None when it is analysed in the detected language."""
    if "Error" in value:
        return value
    language, score = value["LanguageCode"], float(value["Score"])
    if language not in SUPPORTED_LANGUAGES:
        return {
            "Error": {
                "Code": "UnsupportedLanguage",
                "Message": f"Comprehend detected language {language[:MAX_LANGUAGE_SHOWN]!r}, in which it does not analyse sentiment.",
            }
        }
    if score < threshold:
        return {
            "Error": {
                "Code": "LanguageUncertain",
                "Message": f"Comprehend could not tell the language: {language!r} at {score:.2f}, below the threshold {threshold:.2f}.",
            }
        }
    return None


@dataclass(frozen=True)
class BatchPlan:
    """The batch's unique documents, the document each row reads, and the calls to make.

    Chunks are numbered detection chunks first (language AUTO), then full sentiment chunks of every
    language, then each language's last, partly filled chunk, which is pooled. While `detecting`,
    the plan holds the detection chunks only."""

    documents: list[tuple[str, str]]
    """(language, text) of every unique document; language AUTO for texts to detect."""
    row_documents: list[int | dict[str, Any] | None]
    """Per staged row, in order: its document index, None, or a ready row error."""
    chunks: list[list[int]]
    """Per chunk, the document indexes it sends, in TextList order."""
    chunk_languages: list[str]
    work_items: list[WorkItem]
    """The Map's iterations: the detection chunks while detecting, then the sentiment chunks not pooled."""
    pooled_chunks: list[int]
    """Each language's last chunk when it is partly filled: it shares calls with other batches'."""
    detecting: bool = False
    detected_rows: frozenset[int] = frozenset()
    """Rows (by position) whose language was detected: their values say which one."""
    cached_values: dict[int, Any] = field(default_factory=dict)
    """Documents the result cache answered (cache.py): in no chunk."""

    @property
    def detection_documents(self) -> int:
        """The texts to detect: the first documents, in the detection chunks."""
        return sum(len(self.chunks[index]) for index in range(self.detection_chunks))

    @property
    def sentiment_documents(self) -> range:
        """The indexes of the documents whose sentiment the batch needs (after the texts to detect)."""
        return range(self.detection_documents, len(self.documents))

    @property
    def detection_chunks(self) -> int:
        return sum(language == AUTO for language in self.chunk_languages)

    def chunk_texts(self, chunk_index: int) -> list[str]:
        return [self.documents[document][1] for document in self.chunks[chunk_index]]


def staged_languages(rows: list[list[Any]], default: str) -> list[str]:
    """Staged rows are [row_number, value] (in the function's language) or [row_number, value, language]."""
    return [row[2] if len(row) > 2 else default for row in rows]


def plan_batch(
    values: list[RowValue],
    languages: str | list[str],
    detections: dict[int, list[dict[str, Any]]] | None = None,
    threshold: float = 0.0,
    max_work_items: int = MAX_WORK_ITEMS,
    cached: dict[int, Any] | None = None,
) -> BatchPlan:
    """Deterministic: the same staged rows, detections and cache hits always give the same plan, so
    every state can rebuild it.

    `languages` is one language for every row or each row's (a supported code or AUTO);
    `detections` are the stored values of the detection chunks (by chunk number): without all of
    them, the plan is the detection chunks alone. `cached` are the values the result cache had
    for some documents (by document index): those are sent in no chunk."""
    rows = list(zip(values, [languages] * len(values) if isinstance(languages, str) else languages, strict=True))
    if isinstance(languages, str) and languages != AUTO and languages not in SUPPORTED_LANGUAGES:
        raise ValueError(f"Comprehend does not analyse sentiment in language {languages!r}")
    for _, language in rows:
        if language != AUTO and language not in SUPPORTED_LANGUAGES:
            raise ValueError(f"Comprehend does not analyse sentiment in language {language!r}")
    to_detect: dict[str, int] = {}
    for value, language in rows:
        if language == AUTO and isinstance(value, str) and value not in to_detect:
            to_detect[value] = len(to_detect)
    detect_texts = list(to_detect)
    detection_chunks = [
        list(range(start, min(start + MAX_DOCUMENTS_PER_CHUNK, len(detect_texts)))) for start in range(0, len(detect_texts), MAX_DOCUMENTS_PER_CHUNK)
    ]
    items_cap = max_work_items // 2 if detection_chunks else max_work_items
    detected: list[dict[str, Any]] = [value for index in range(len(detection_chunks)) for value in (detections or {}).get(index, [])]
    if len(detected) != len(detect_texts):
        return BatchPlan(
            [(AUTO, text) for text in detect_texts],
            [],
            detection_chunks,
            [AUTO] * len(detection_chunks),
            group_chunks(len(detection_chunks), items_cap),
            [],
            detecting=True,
        )
    documents: list[tuple[str, str]] = []
    document_of: dict[tuple[str, str], int] = {}
    by_language: dict[str, list[int]] = {}
    row_documents: list[int | dict[str, Any] | None] = []
    detected_rows = set()
    for position, (value, row_language) in enumerate(rows):
        if not isinstance(value, str):
            row_documents.append(value)
            continue
        language = row_language
        if language == AUTO:
            detection = detected[to_detect[value]]
            error = detection_error(detection, threshold)
            if error is not None:
                row_documents.append(error)
                continue
            language = detection["LanguageCode"]
            detected_rows.add(position)
        key = (language, value)
        index = document_of.get(key)
        if index is None:
            index = document_of[key] = len(documents)
            documents.append(key)
            by_language.setdefault(language, []).append(index)
        row_documents.append(index)
    full: list[tuple[str, list[int]]] = []
    partial: list[tuple[str, list[int]]] = []
    hits = {index - len(detect_texts): value for index, value in (cached or {}).items()}
    for language, all_indexes in by_language.items():
        indexes = [index for index in all_indexes if index not in hits]
        for start in range(0, len(indexes), MAX_DOCUMENTS_PER_CHUNK):
            chunk = indexes[start : start + MAX_DOCUMENTS_PER_CHUNK]
            (full if len(chunk) == MAX_DOCUMENTS_PER_CHUNK else partial).append((language, chunk))
    detecting_offset = len(detection_chunks)
    all_documents = [(AUTO, text) for text in detect_texts] + documents
    shifted = [(language, [index + len(detect_texts) for index in chunk]) for language, chunk in full + partial]
    chunks = detection_chunks + [chunk for _, chunk in shifted]
    languages = [AUTO] * detecting_offset + [language for language, _ in shifted]
    work = [WorkItem(item.first_chunk + detecting_offset, item.chunk_count) for item in group_chunks(len(full), items_cap)]
    pooled = list(range(detecting_offset + len(full), len(chunks)))
    row_documents = [source + len(detect_texts) if isinstance(source, int) else source for source in row_documents]
    return BatchPlan(all_documents, row_documents, chunks, languages, work, pooled, detected_rows=frozenset(detected_rows), cached_values=dict(cached or {}))


def estimated_calls(values: list[RowValue], languages: str | list[str]) -> int:
    """The Comprehend calls a batch makes on its own, before its detections are known: its texts in
    each language, 25 a call, and for `auto` texts a detection call and a sentiment call per 25
    (as if they were all in one language)."""
    per_language: dict[str, set[str]] = {}
    for value, language in zip(values, [languages] * len(values) if isinstance(languages, str) else languages, strict=True):
        if isinstance(value, str):
            per_language.setdefault(language, set()).add(value)
    calls = sum(math.ceil(len(texts) / MAX_DOCUMENTS_PER_CHUNK) for texts in per_language.values())
    return calls + math.ceil(len(per_language.get(AUTO, ())) / MAX_DOCUMENTS_PER_CHUNK)


def group_chunks(chunk_count: int, max_work_items: int = MAX_WORK_ITEMS) -> list[WorkItem]:
    """Spread chunks over at most `max_work_items` contiguous runs of near-equal length."""
    if chunk_count == 0:
        return []
    items = min(chunk_count, max_work_items)
    per_item = math.ceil(chunk_count / items)
    return [WorkItem(first, min(per_item, chunk_count - first)) for first in range(0, chunk_count, per_item)]
