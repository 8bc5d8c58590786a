"""The state machine definition: its retries, its error names, and its history bound."""

import json
from pathlib import Path

from sentiment_service import comprehend, pool, storage
from sentiment_service.chunking import MAX_WORK_ITEMS

ROOT = Path(__file__).resolve().parent.parent
DEFINITION = json.loads((ROOT / "statemachine" / "sentiment.asl.json").read_text())
HISTORY_LIMIT = 25_000

# Events Step Functions records (counted in moto's history by tests/test_end_to_end.py):
# a Task: Entered, Scheduled, Started, Succeeded, Exited; each retry adds Failed, Scheduled, Started.
TASK_EVENTS, RETRY_EVENTS = 5, 3
PASS_EVENTS, MAP_EVENTS, ITERATION_EVENTS, EXECUTION_EVENTS = 2, 4, 2, 2


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
        elif state["Type"] == "Pass":
            total += PASS_EVENTS
        elif state["Type"] == "Fail":
            total += 1
        elif state["Type"] == "Map":
            inner = state["ItemProcessor"]["States"]
            per_iteration = ITERATION_EVENTS + sum(task_events(s) if s["Type"] == "Task" else PASS_EVENTS for s in inner.values())
            total += MAP_EVENTS + iterations * per_iteration
    return total


def all_states(states: dict):
    for name, state in states.items():
        yield name, state
        if state["Type"] == "Map":
            yield from all_states(state["ItemProcessor"]["States"])


def test_history_stays_under_the_limit_for_the_largest_batch():
    bound = history_events_bound(DEFINITION, MAX_WORK_ITEMS)
    assert bound < HISTORY_LIMIT, f"{bound} events possible with {MAX_WORK_ITEMS} work items"


def test_the_bound_counts_retries():
    assert history_events_bound(DEFINITION, MAX_WORK_ITEMS) > history_events_bound(DEFINITION, MAX_WORK_ITEMS - 1) >= 30 * (MAX_WORK_ITEMS - 1)


def test_every_retry_backs_off_exponentially_with_full_jitter():
    retriers = [retrier for _, state in all_states(DEFINITION["States"]) for retrier in state.get("Retry", [])]
    assert retriers
    for retrier in retriers:
        assert retrier["JitterStrategy"] == "FULL"
        assert retrier["BackoffRate"] > 1
        assert retrier["MaxDelaySeconds"] >= retrier["IntervalSeconds"]


def test_retried_error_names_are_exceptions_the_functions_raise():
    ours = {name for module in (comprehend, storage, pool) for name, value in vars(module).items() if isinstance(value, type) and issubclass(value, Exception)}
    named = {error for _, state in all_states(DEFINITION["States"]) for retrier in state.get("Retry", []) for error in retrier["ErrorEquals"]}
    custom = {error for error in named if not error.startswith(("States.", "Lambda."))}
    assert custom <= ours, custom - ours
    assert {"ComprehendThrottled", "ComprehendUnavailable", "StorageThrottled"} <= custom


def test_permanent_comprehend_errors_are_not_retried():
    named = {error for _, state in all_states(DEFINITION["States"]) for retrier in state.get("Retry", []) for error in retrier["ErrorEquals"]}
    assert not named & {"ComprehendRejected", "ComprehendContractError", "States.ALL", "States.TaskFailed"}


def test_every_failure_path_ends_in_the_named_fail_state():
    for name, state in DEFINITION["States"].items():
        if state["Type"] in ("Task", "Map"):
            assert [catch["Next"] for catch in state["Catch"]] == ["BatchFailed"], name
    assert DEFINITION["States"]["BatchFailed"]["Type"] == "Fail"
