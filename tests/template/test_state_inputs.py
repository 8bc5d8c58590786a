"""Each Lambda state's input dataclass (sentiment_service/states.py) reads exactly the keys the ASL
passes that state, and the function the template wires to the state refuses an input that lacks one."""

from __future__ import annotations

import copy
import json
from dataclasses import MISSING, fields
from typing import Any

import pytest

from local.template import ROOT, Template
from sentiment_service.states import (
    AnalyzeChunkInput,
    AnalyzePooledChunkInput,
    AssembleResultsInput,
    PlanChunksInput,
    PooledChunkOfBatch,
    StateInput,
    StateInputInvalid,
    event_key,
)
from tests.helpers import ROW_TEXT_MARKER, row_text

DEFINITIONS = {path.name: json.loads(path.read_text(encoding="utf-8")) for path in sorted((ROOT / "statemachine").glob("*.asl.json"))}
INPUTS: dict[str, type[StateInput]] = {
    "PlanChunks": PlanChunksInput,
    "AnalyzeChunk": AnalyzeChunkInput,
    "AnalyzePooledChunk": AnalyzePooledChunkInput,
    "AssembleResults": AssembleResultsInput,
}
VALID = {
    "batchId": "batch:1",
    "stagingId": "staging",
    "inputPages": 1,
    "language": "en",
    "firstChunk": 0,
    "chunkCount": 1,
    "slot": 0,
    "waits": 0,
    "pooledChunks": [],
}
"""A well-typed value for every key the ASL passes a Lambda state."""


def lambda_states(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every Task state that invokes one of the template's functions (`${...FunctionArn}`), the Map's inner states included."""
    found = {}
    for name, state in states.items():
        if state["Type"] == "Task" and state["Resource"].startswith("${") and state["Resource"].endswith("FunctionArn}"):
            found[name] = state
        for inner in [state.get("ItemProcessor", state.get("Iterator")), *state.get("Branches", [])]:
            if inner:
                found.update(lambda_states(inner["States"]))
    return found


def passed_keys(state: dict[str, Any]) -> set[str]:
    return {key.removesuffix(".$") for key in state["Parameters"]}


def drift(definition: dict[str, Any]) -> dict[str, tuple[set[str], set[str]]]:
    """By state: (keys the ASL passes that its dataclass does not read, keys the dataclass reads that the ASL does not pass)."""
    states = lambda_states(definition["States"])
    mismatches = {name: (set(), set()) for name in states.keys() ^ INPUTS.keys()}
    for name in states.keys() & INPUTS.keys():
        passed, read = passed_keys(states[name]), INPUTS[name].keys()
        if passed != read:
            mismatches[name] = (passed - read, read - passed)
    return mismatches


@pytest.mark.parametrize("name", sorted(DEFINITIONS))
def test_every_lambda_state_has_a_dataclass_reading_exactly_the_keys_the_asl_passes(name):
    assert drift(DEFINITIONS[name]) == {}


def test_the_check_catches_a_key_added_to_or_dropped_from_the_asl_and_a_lambda_state_without_a_dataclass():
    definition = copy.deepcopy(DEFINITIONS["sentiment.asl.json"])
    definition["States"]["PlanChunks"]["Parameters"]["rowCount.$"] = "$.rowCount"
    del definition["States"]["AnalyzeChunks"]["ItemProcessor"]["States"]["AnalyzeChunk"]["Parameters"]["waits.$"]
    definition["States"]["CountRows"] = {"Type": "Task", "Resource": "${CountRowsFunctionArn}", "Parameters": {}, "End": True}
    assert drift(definition) == {"PlanChunks": ({"rowCount"}, set()), "AnalyzeChunk": (set(), {"waits"}), "CountRows": (set(), set())}


def wired_functions() -> dict[str, str]:
    """ASL state -> the logical id of the function its Resource is substituted with in template.yaml."""
    _, machine = Template().state_machine()
    substitutions = machine["DefinitionSubstitutions"]
    states = lambda_states(DEFINITIONS[machine["DefinitionUri"].rsplit("/", 1)[-1]]["States"])
    return {name: substitutions[state["Resource"][2:-1]]["Fn::GetAtt"][0] for name, state in states.items()}


@pytest.mark.parametrize("state", sorted(INPUTS))
def test_each_states_function_refuses_an_input_without_a_key_it_needs_naming_the_key(stack, state):
    handler, context = stack.function(wired_functions()[state])
    required = [event_key(spec.name) for spec in fields(INPUTS[state]) if spec.default is MISSING]
    for missing in required:
        event = {key: VALID[key] for key in required if key != missing}
        with pytest.raises(StateInputInvalid, match=f"^{state}'s input has no {missing}\\.$"):
            handler(event, context.fresh())


@pytest.mark.parametrize(
    "event, message",
    [
        ({**VALID, "inputPages": row_text(0)}, "PlanChunks's input inputPages is not an integer."),
        ({**VALID, "inputPages": True}, "PlanChunks's input inputPages is not an integer."),
        ({**VALID, "language": 1}, "PlanChunks's input language is not a string."),
        (row_text(0), "PlanChunks's input event is not a JSON object."),
    ],
)
def test_an_ill_typed_key_is_named_and_its_value_is_not(event, message):
    with pytest.raises(StateInputInvalid) as refused:
        PlanChunksInput.from_event(event)
    assert str(refused.value) == message
    assert ROW_TEXT_MARKER not in str(refused.value)


def test_pooled_chunks_are_read_as_typed_entries_and_a_bad_entry_is_named_by_its_place():
    event = {"batchId": "batch:1", "pooledChunks": [{"chunk": 3, "language": "en"}, {"chunk": 7, "language": "fr"}]}
    assert AnalyzePooledChunkInput.from_event(event) == AnalyzePooledChunkInput("batch:1", (PooledChunkOfBatch(3, "en"), PooledChunkOfBatch(7, "fr")))
    with pytest.raises(StateInputInvalid, match=r"^AnalyzePooledChunk's input has no pooledChunks\[1\]\.language\.$"):
        AnalyzePooledChunkInput.from_event({"batchId": "batch:1", "pooledChunks": [{"chunk": 3, "language": "en"}, {"chunk": 7}]})
    with pytest.raises(StateInputInvalid, match=r"^AnalyzePooledChunk's input pooledChunks\[0\] is not a JSON object\.$"):
        AnalyzePooledChunkInput.from_event({"batchId": "batch:1", "pooledChunks": [row_text(0)]})
    with pytest.raises(StateInputInvalid, match=r"^AnalyzePooledChunk's input pooledChunks is not a list\.$"):
        AnalyzePooledChunkInput.from_event({"batchId": "batch:1", "pooledChunks": row_text(0)})


def test_a_work_items_turn_so_far_defaults_to_none_kept_and_none_waited():
    assert AnalyzeChunkInput.from_event({"batchId": "batch:1", "firstChunk": 2, "chunkCount": 3}) == AnalyzeChunkInput("batch:1", 2, 3, 0.0, 0)
    assert AnalyzeChunkInput.from_event({"batchId": "batch:1", "firstChunk": 2, "chunkCount": 3, "slot": 17, "waits": 1}).slot == 17.0
