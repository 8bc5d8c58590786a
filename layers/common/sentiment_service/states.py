"""The input of each Lambda state of statemachine/sentiment.asl.json: one frozen dataclass a state.

Each mirrors its state's Parameters in the ASL: a field a key, the key being the field's name in
camelCase (`batch_id` reads `batchId`), so the handlers read typed fields, not dict keys.
tests/template/test_state_inputs.py holds every dataclass's keys against the ASL's, so the two cannot
drift apart. A missing or ill-typed key fails the state with StateInputInvalid, which names the
key and never its value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any, ClassVar, Self, get_args, get_origin, get_type_hints


class StateInputInvalid(Exception):
    """A state's input lacks a key its dataclass reads, or holds a value of another type: the ASL and the code disagree."""


def event_key(field_name: str) -> str:
    """The ASL's key of a field: `first_chunk` -> `firstChunk`."""
    first, *rest = field_name.split("_")
    return first + "".join(word.capitalize() for word in rest)


@dataclass(frozen=True)
class StateInput:
    state: ClassVar[str]
    """The ASL state whose Parameters this input mirrors; error messages name it."""

    @classmethod
    def keys(cls) -> set[str]:
        return {event_key(spec.name) for spec in fields(cls)}

    @classmethod
    def from_event(cls, event: Any) -> Self:
        return cls._read(event, cls.state, "")

    @classmethod
    def _read(cls, event: Any, state: str, path: str) -> Self:
        if not isinstance(event, Mapping):
            raise StateInputInvalid(f"{state}'s input {path.rstrip('.') or 'event'} is not a JSON object.")
        hints = get_type_hints(cls)
        values: dict[str, Any] = {}
        for spec in fields(cls):
            key = event_key(spec.name)
            if key in event:
                values[spec.name] = typed(event[key], hints[spec.name], state, f"{path}{key}")
            elif spec.default is MISSING:
                raise StateInputInvalid(f"{state}'s input has no {path}{key}.")
        return cls(**values)


def typed(value: Any, hint: Any, state: str, key: str) -> Any:
    """`value` as the field's type (str, int, float, or a tuple of a nested input); JSON's true and false are no numbers."""
    if hint is str and isinstance(value, str):
        return value
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if get_origin(hint) is tuple and isinstance(value, list):
        item = get_args(hint)[0]
        return tuple(item._read(entry, state, f"{key}[{index}].") for index, entry in enumerate(value))
    kind = {str: "a string", int: "an integer", float: "a number"}.get(hint, "a list")
    raise StateInputInvalid(f"{state}'s input {key} is not {kind}.")


@dataclass(frozen=True)
class PlanChunksInput(StateInput):
    """PlanChunks: the staged batch, by reference (rows stay in DynamoDB)."""

    state: ClassVar[str] = "PlanChunks"
    batch_id: str
    staging_id: str
    input_pages: int
    language: str
    """The function's language for rows that name none (LanguageCode, or the request's header)."""


@dataclass(frozen=True)
class AssembleResultsInput(PlanChunksInput):
    """AssembleResults reads what PlanChunks read: it rebuilds the plan from the staged rows."""

    state: ClassVar[str] = "AssembleResults"


@dataclass(frozen=True)
class AnalyzeChunkInput(StateInput):
    """AnalyzeChunk, an iteration of the Map: one work item's run of chunks, and its turn so far."""

    state: ClassVar[str] = "AnalyzeChunk"
    batch_id: str
    first_chunk: int
    chunk_count: int
    slot: float = 0.0
    """The governor's slot an earlier attempt kept for this item; 0 for none."""
    waits: int = 0
    """Wait states this item was handed so far."""


@dataclass(frozen=True)
class PooledChunkOfBatch(StateInput):
    """One of PlanChunks' pooledChunks: a batch's last, partly filled chunk of one language."""

    state: ClassVar[str] = "AnalyzePooledChunk"
    chunk: int
    language: str


@dataclass(frozen=True)
class AnalyzePooledChunkInput(StateInput):
    """AnalyzePooledChunk: the batch's pooled chunks, as PlanChunks returned them."""

    state: ClassVar[str] = "AnalyzePooledChunk"
    batch_id: str
    pooled_chunks: tuple[PooledChunkOfBatch, ...]
