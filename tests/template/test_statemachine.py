"""The state machine definition: its retries, its error names, and its history bound."""

import botocore.session

from functions.analyze_chunks.app import MAX_WAITS_HANDED_BACK
from sentiment_service import comprehend, governor, pool, storage
from sentiment_service.chunking import MAX_WORK_ITEMS
from tests.execution_history import DEFINITION, HISTORY_LIMIT, ITERATION_ROUNDS, history_events_bound


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
    ours = {
        name
        for module in (comprehend, storage, pool, governor)
        for name, value in vars(module).items()
        if isinstance(value, type) and issubclass(value, Exception)
    }
    named = {error for _, state in all_states(DEFINITION["States"]) for retrier in state.get("Retry", []) for error in retrier["ErrorEquals"]}
    integration = {error for error in named if error.startswith("DynamoDB.")}
    custom = {error for error in named if not error.startswith(("States.", "Lambda.", "DynamoDB."))}
    assert custom <= ours, custom - ours
    dynamodb = botocore.session.get_session().get_service_model("dynamodb")
    modelled = {f"DynamoDB.{name}" for name in dynamodb.shape_names if dynamodb.shape_for(name).metadata.get("exception")}
    assert integration <= modelled, f"Step Functions names a DynamoDB task's errors after the service's exceptions: {integration - modelled}"
    assert {"ComprehendThrottled", "ComprehendUnavailable", "StorageThrottled"} <= custom


def test_permanent_comprehend_errors_are_not_retried():
    named = {error for _, state in all_states(DEFINITION["States"]) for retrier in state.get("Retry", []) for error in retrier["ErrorEquals"]}
    assert not named & {"ComprehendRejected", "ComprehendContractError", "States.ALL", "States.TaskFailed"}


def test_every_failure_path_gives_back_the_admission_and_ends_in_the_named_fail_state():
    for name, state in DEFINITION["States"].items():
        if state["Type"] in ("Task", "Map") and name not in ("ReleaseAdmission", "MarkBatchEnded"):
            assert [catch["Next"] for catch in state["Catch"]] == ["ReleaseAdmission"], name
    release, mark = DEFINITION["States"]["ReleaseAdmission"], DEFINITION["States"]["MarkBatchEnded"]
    assert release["Next"] == "MarkBatchEnded" and [catch["Next"] for catch in release["Catch"]] == ["MarkBatchEnded"]
    assert mark["Next"] == "BatchFailed" and [catch["Next"] for catch in mark["Catch"]] == ["BatchFailed"]
    assert release["Catch"][0]["ResultPath"] is None and mark["Catch"][0]["ResultPath"] is None, "the batch's own failure is what Snowflake is shown"
    assert DEFINITION["States"]["BatchFailed"]["Type"] == "Fail"


def test_a_work_item_waits_for_its_turn_in_step_functions_at_most_the_bounded_times():
    inner = DEFINITION["States"]["AnalyzeChunks"]["ItemProcessor"]["States"]
    assert inner["WaitForTurn"]["Next"] == "AnalyzeChunk" and inner["AnalyzeChunk"]["Next"] == "TurnLater"
    assert [choice["Next"] for choice in inner["TurnLater"]["Choices"]] == ["WaitForTurn"]
    assert MAX_WAITS_HANDED_BACK == ITERATION_ROUNDS - 1 >= 1
