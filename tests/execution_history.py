"""The most events one execution of the state machine can record, computed from its ASL.

Step Functions fails an execution whose history reaches 25,000 events; tests/template/test_statemachine.py
holds the bound for the largest batch, and the offline tests count moto's real history against it.
"""

import json

from functions.analyze_chunks.app import MAX_WAITS_HANDED_BACK
from local.template import ROOT

DEFINITION = json.loads((ROOT / "statemachine" / "sentiment.asl.json").read_text())
HISTORY_LIMIT = 25_000

# Events Step Functions records:
# a Task: Entered, Scheduled, Started, Succeeded, Exited; each retry adds Failed, Scheduled, Started.
TASK_EVENTS, RETRY_EVENTS = 5, 3
PASS_EVENTS, MAP_EVENTS, ITERATION_EVENTS, EXECUTION_EVENTS = 2, 4, 2, 2
"""Pass, Choice, Wait and Succeed states record Entered and Exited, like PASS_EVENTS."""
ITERATION_ROUNDS = 1 + MAX_WAITS_HANDED_BACK
"""Times a work item enters AnalyzeChunk: once, and once after each Wait state it is granted."""


def retries(state: dict) -> int:
    return sum(retrier["MaxAttempts"] for retrier in state.get("Retry", []))


def task_events(state: dict) -> int:
    return TASK_EVENTS + RETRY_EVENTS * retries(state)


def history_events_bound(definition: dict, iterations: int) -> int:
    """Most events one execution can record with `iterations` Map iterations, every retry spent."""
    total = EXECUTION_EVENTS
    for state in definition["States"].values():
        if state["Type"] == "Task":
            total += task_events(state)
        elif state["Type"] in ("Pass", "Choice", "Wait"):
            total += PASS_EVENTS
        elif state["Type"] == "Fail":
            total += 1
        elif state["Type"] == "Map":
            inner = state["ItemProcessor"]["States"]
            entries = {"Task": ITERATION_ROUNDS, "Choice": ITERATION_ROUNDS, "Wait": ITERATION_ROUNDS - 1}
            per_iteration = ITERATION_EVENTS + sum(entries.get(s["Type"], 1) * (task_events(s) if s["Type"] == "Task" else PASS_EVENTS) for s in inner.values())
            total += MAP_EVENTS + iterations * per_iteration
    return total
