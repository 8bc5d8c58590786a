"""The governor of Comprehend requests: one slot per call, spaced deployment-wide, first come first served."""

from __future__ import annotations

import itertools
import threading

import pytest

from local.snowflake import snowflake_headers
from sentiment_service.governor import SLEEP_BREAK_EVEN_SECONDS, Governor, TurnLater, Turns
from tests.helpers import row_text


@pytest.fixture
def governor(stack, clock) -> Governor:
    return Governor(stack.client("dynamodb"), stack.table_name, 4.0, clock)


def test_an_idle_quota_gives_a_slot_now_and_a_busy_one_the_next_free_slot(governor, clock):
    assert governor.reserve() == clock.now
    assert [governor.reserve() for _ in range(3)] == pytest.approx([clock.now + 0.25, clock.now + 0.5, clock.now + 0.75], abs=0.001)
    clock.now += 10
    assert governor.reserve() == clock.now, "slots not taken in the past are not owed to anyone"


def test_slots_are_granted_in_the_order_they_are_asked_for_so_no_caller_is_pushed_back(governor):
    earlier = [governor.reserve() for _ in range(5)]
    later = [governor.reserve() for _ in range(5)]
    assert earlier == sorted(earlier) and max(earlier) < min(later)


def test_concurrent_callers_never_share_a_slot_and_never_come_closer_than_the_rate(governor):
    slots: list[float] = []
    lock = threading.Lock()

    def caller() -> None:
        for _ in range(10):
            slot = governor.reserve()
            with lock:
                slots.append(slot)

    threads = [threading.Thread(target=caller) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    slots.sort()
    assert len(slots) == 60
    assert all(later - earlier >= governor.interval - 1e-6 for earlier, later in itertools.pairwise(slots))


def test_a_turn_near_enough_is_slept_through_and_a_far_one_handed_to_step_functions(governor, clock):
    slept: list[float] = []
    turns = Turns(governor, sleep=slept.append)
    for _ in range(int(SLEEP_BREAK_EVEN_SECONDS * governor.requests_per_second)):
        turns.wait_for_turn()
    assert slept and max(slept) <= SLEEP_BREAK_EVEN_SECONDS and turns.slept_seconds == pytest.approx(sum(slept))
    governor.reserve()
    with pytest.raises(TurnLater) as later:
        Turns(governor, sleep=slept.append).wait_for_turn()
    assert later.value.wait_seconds > governor.sleep_limit_seconds
    kept = Turns(governor, sleep=slept.append, held=later.value.slot)
    clock.now = later.value.slot - 0.5
    kept.wait_for_turn()
    assert slept[-1] == pytest.approx(0.5, abs=0.01), "the kept slot is used, not a new one at the back of the queue"


def test_a_caller_that_may_not_hand_back_sleeps_however_long(governor):
    slept: list[float] = []
    for _ in range(200):
        governor.reserve()
    Turns(governor, sleep=slept.append, may_hand_back=False).wait_for_turn()
    assert slept == [pytest.approx(50.0, abs=0.01)]


def test_at_high_rates_fewer_lambdas_sleep_for_their_turn(stack):
    assert Governor(None, "", 10.0).sleep_limit_seconds == SLEEP_BREAK_EVEN_SECONDS
    assert Governor(None, "", 100.0).sleep_limit_seconds == 2.0


@pytest.fixture
def stand_in(stand_in):
    stand_in.quota_rps = 5.0
    stand_in.latency_s = 0.05
    return stand_in


def test_concurrent_batches_at_the_quota_succeed_without_step_functions_retries(snowflake, stack, stand_in):
    """The offline stack is one account: the governor runs at the stand-in's quota (5 requests/s)."""
    results: dict[int, int] = {}

    def batch(number: int) -> None:
        headers = snowflake_headers()
        results[number] = snowflake.run([row_text(index, f"batch {number} review {index}") for index in range(60)], headers, timeout_s=300).status

    threads = [threading.Thread(target=batch, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == dict.fromkeys(range(4), 200)
    failed_tasks = [
        event
        for execution in stack.executions()
        for event in stack.history(execution["executionArn"])
        if event["type"] in ("TaskFailed", "LambdaFunctionFailed")
    ]
    assert failed_tasks == [], "throttling became waiting, not a retried failure"
    assert stand_in.throttled <= 0.2 * stand_in.answered
