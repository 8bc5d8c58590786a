"""Assembling Snowflake's answer: one value per input row, the input's row numbers, its order."""

from __future__ import annotations

from typing import Any

from .chunking import BatchPlan


class ResultsIncomplete(Exception):
    """Some analysed chunk is missing: answering now would drop rows, so the batch fails."""


def assemble_rows(row_numbers: list[int], plan: BatchPlan, analysis: dict[int, list[dict[str, Any]]]) -> list[list[Any]]:
    """[[row_number, value], ...] for every staged row, from the per-chunk Comprehend values; a row
    whose language was detected says which one."""
    missing = [index for index in range(len(plan.chunks)) if len(analysis.get(index, ())) != len(plan.chunks[index])]
    if missing:
        raise ResultsIncomplete(f"{len(missing)} of {len(plan.chunks)} chunks of the batch have no complete analysis.")
    document_values: list[Any] = [None] * len(plan.documents)
    for document, value in plan.cached_values.items():
        document_values[document] = value
    for chunk_index, documents in enumerate(plan.chunks):
        for position, document in enumerate(documents):
            document_values[document] = analysis[chunk_index][position]
    rows: list[list[Any]] = []
    for position, (number, source) in enumerate(zip(row_numbers, plan.row_documents, strict=True)):
        if not isinstance(source, int):
            rows.append([number, source])
            continue
        value = document_values[source]
        if position in plan.detected_rows and "Error" not in value:
            value = {**value, "LanguageCode": plan.documents[source][0]}
        rows.append([number, value])
    return rows
