"""bench/model.py: the discrete-event model of a Snowflake query, before and after issue 11.

Small queries only (each runs in well under a second); they check what the grid's figures rest on.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_right
from dataclasses import replace

import pytest

from bench import model
from bench.model import OVER_WINDOW, Scenario, Simulation, calibrate, simulate

SMALL = Scenario(rows=20_000, concurrency=16, batch_rows=1000, quota_rps=10.0, window_s=600.0, admission_window_s=540.0, stop_at_failure=False)


def run(scenario: Scenario) -> tuple[Simulation, dict]:
    simulation = Simulation(scenario)
    return simulation, simulation.run()


def most_in_one_second(times: list[float]) -> int:
    """The most of `times` in any window (t - 1, t]: Comprehend's quota, as the stand-in counts it."""
    ordered = sorted(times)
    return max((index + 1 - bisect_right(ordered, at - 1.0 + model.EPSILON) for index, at in enumerate(ordered)), default=0)


@pytest.mark.parametrize("design", ["before", "after"])
@pytest.mark.parametrize("quota", [2.0, 10.0])
def test_every_batch_is_answered_or_failed_exactly_once(design, quota):
    simulation, result = run(replace(SMALL, design=design, quota_rps=quota, rows=20_500))
    records = simulation.query.records
    assert [batch.rows for batch in simulation.batches] == [1000] * 20 + [500]
    assert all(record.outcome in ("answered", "failed") for record in records)
    assert result["answered"] + result["failed"] == len(records) == 21
    for batch, record in zip(simulation.batches, records, strict=True):
        assert batch.answered_200 == (record.outcome == "answered")
        if record.outcome == "answered":
            assert batch.state == "SUCCEEDED" and batch.calls_done == batch.calls == math.ceil(batch.rows / 25), "every chunk analysed exactly once"
        else:
            assert batch.state in ("FAILED", "TIMED_OUT") and batch.calls_done <= batch.calls
    assert result["comprehend_calls"] == sum(batch.calls_done for batch in simulation.batches)
    assert sum(batch.rows for batch, record in zip(simulation.batches, records, strict=True) if record.outcome == "answered") == result["rows_answered"]


def test_a_failed_batch_ends_the_query_when_snowflake_aborts():
    simulation, result = run(replace(OVER_WINDOW, design="before", stop_at_failure=True, seed=2))
    outcomes = [record.outcome for record in simulation.query.records]
    assert result["failed"] == 1 and result["fate"].startswith("aborted: a batch failed")
    assert "aborted" in outcomes and outcomes.count("answered") + 1 + outcomes.count("aborted") == len(outcomes)


@pytest.mark.parametrize(
    "scenario",
    [
        replace(SMALL, design="after", rows=40_000, concurrency=32, record_calls=True),
        replace(SMALL, design="after", rows=40_000, concurrency=32, record_calls=True, quota_rps=37.0, call_latency_s=(0.01, 0.02)),
        replace(OVER_WINDOW, design="after", record_calls=True),
    ],
    ids=["R=10", "R=37 fast calls", "over-window"],
)
def test_the_governor_never_sends_more_than_r_calls_in_a_second(scenario):
    simulation, result = run(scenario)
    assert simulation.exact, "one call per work item, quota not shared: calls at their slots"
    assert len(simulation.call_times) == result["comprehend_calls"] == result["comprehend_calls_expected"]
    assert most_in_one_second(simulation.call_times) <= scenario.quota_rps
    assert most_in_one_second(simulation.call_times) >= scenario.quota_rps - 1, "the quota is used, not just respected"
    assert result["throttled_requests"] == 0 and result["failed"] == 0


def test_the_check_of_a_second_counts_like_the_quota():
    assert most_in_one_second([0.0, 0.5, 0.99, 1.0, 1.5]) == 3
    assert most_in_one_second([0.0, 1.0, 2.0]) == 1


def test_the_governor_spaces_work_items_of_several_chunks():
    scenario = replace(SMALL, design="after", rows=8000, concurrency=8, max_work_items=4, quota_rps=4.0, call_latency_s=(0.1, 0.2), record_calls=True)
    simulation, result = run(scenario)
    assert not simulation.exact and max(k for batch in simulation.batches for k in batch.items) == 10
    assert result["throttled_requests"] == 0 and most_in_one_second(simulation.call_times) <= 4
    assert result["answered"] == 8


def test_throttling_by_other_callers_is_absorbed_not_failed():
    scenario = replace(SMALL, design="after", other_callers_rps=4.0, record_calls=True)
    simulation, result = run(scenario)
    assert not simulation.exact
    assert result["throttled_requests"] > 0 and result["failed"] == 0 and result["answered"] == len(simulation.batches)
    assert result["step_functions_retries"] == 0
    assert result["comprehend_calls"] == result["comprehend_calls_expected"]
    before = simulate(replace(scenario, design="before"))
    assert before["throttled_requests"] > 0


@pytest.mark.parametrize(
    "scenario", [OVER_WINDOW, replace(SMALL, rows=100_000, concurrency=64, batch_rows=2000, admission_window_s=120.0)], ids=["over-window", "R=10, W=120 s"]
)
def test_admission_keeps_each_batch_within_the_admission_window(scenario):
    simulation, result = run(replace(scenario, design="after"))
    assert result["post_429s"] > 0, "the window is what holds batches back"
    latency = scenario.call_latency_s[1]
    rows = max(batch.rows for batch in simulation.batches)
    orchestration = model.service_time("plan_s", rows) + model.service_time("pooled_s", rows) + model.service_time("assemble_s", rows)
    longest = max(batch.ended - batch.started for batch in simulation.batches)
    assert longest <= scenario.admission_window_s + latency + orchestration
    assert longest >= 0.8 * scenario.admission_window_s, "the window is filled"
    # Snowflake learns it at its next poll, at most poll_max_s later, after the POST handler.
    seen = result["accepted_to_answered_s"]["max"]
    assert seen <= scenario.admission_window_s + latency + orchestration + scenario.poll_max_s + model.service_time("post_s", rows)
    assert result["late_after_accepted"] == 0


def test_the_before_design_fails_the_over_window_workload():
    result = simulate(replace(OVER_WINDOW, design="before"))
    assert result["late_after_accepted"] > 0 and result["late_after_first_post"] >= result["late_after_accepted"]
    assert result["throttled_requests"] > 0 and result["step_functions_retries"] > 0
    assert result["post_429s"] == 0, "before, every POST is accepted"
    assert result["aborted"]
    after = simulate(replace(OVER_WINDOW, design="after"))
    assert after["late_after_accepted"] == 0 and after["failed"] == 0 and after["throttled_requests"] == 0
    assert after["answered"] == after["batches"] == 24


def test_describe_execution_is_called_at_most_once_per_batch_per_15_seconds():
    simulation, result = run(replace(OVER_WINDOW, design="after"))
    longest = 0
    for batch, record in zip(simulation.batches, simulation.query.records, strict=True):
        duration = record.answered - record.accepted
        assert batch.describes <= math.ceil(duration / 15) + 1
        longest = max(longest, batch.describes)
    assert longest >= 2, "batches ran long enough to be described"
    # An ended batch is answered only once a describe has seen its execution closed.
    assert all(batch.last_describe >= batch.ended for batch in simulation.batches)
    before = simulate(replace(OVER_WINDOW, design="before"))
    assert before["describe_execution_calls_per_batch"] > 5 * result["describe_execution_calls_per_batch"], "before, every GET describes"


def test_describe_execution_over_its_quota_answers_429_before_and_waits_after():
    scenario = replace(SMALL, rows=600_000, concurrency=300, batch_rows=2000, quota_rps=100.0, stop_at_failure=False)
    before, after = simulate(replace(scenario, design="before")), simulate(replace(scenario, design="after"))
    assert before["get_429s"] > 0 and before["describe_execution_refused"] == before["get_429s"]
    assert after["get_429s"] == 0
    for result in (before, after):
        assert result["describe_execution_peak_per_second"] <= 300 + 15


def test_snowflake_scales_back_when_admission_answers_429():
    result = simulate(replace(SMALL, design="after", rows=200_000, concurrency=64, batch_rows=4000, admission_window_s=60.0))
    assert result["post_429s"] > 0 and result["concurrency_limit_min"] < 64
    assert result["answered"] == result["batches"] == 50


def test_the_model_is_deterministic_for_a_seed():
    first, second = simulate(replace(OVER_WINDOW, design="before")), simulate(replace(OVER_WINDOW, design="before"))
    first.pop("model_seconds"), second.pop("model_seconds")
    assert first == second
    assert simulate(replace(OVER_WINDOW, design="before", seed=5))["throttled_requests"] != first["throttled_requests"]


def test_billable_units_follow_the_bench_corpus_lengths():
    assert model.units_per_document() == pytest.approx(4.0, abs=0.1), "bench/corpus.py's texts: about 4 units each"
    assert model.units_per_document(150) == pytest.approx(3.2, abs=0.1)
    assert model.units_per_document(50) == pytest.approx(3.0, abs=0.02)
    assert model.units_per_document(1000) > 10


def test_cost_follows_prices_and_counts():
    simulation, result = run(replace(SMALL, design="after", rows=2000, concurrency=2))
    assert result["usd"]["comprehend"] == pytest.approx(2000 * model.units_per_document() * model.prices.COMPREHEND_PER_UNIT, abs=0.01)
    assert result["usd"]["step_functions"] == pytest.approx(simulation.transitions * model.prices.STEP_FUNCTIONS_PER_TRANSITION, abs=0.01)
    # Two batches of 40 one-chunk work items, as the ASL has them: ApplySettings, PlanChunks, TurnOfBatch,
    # the Map, LanguagesDetected, AnalyzePooledChunk, AssembleResults (7 each), AnalyzeChunk, TurnLater, ChunksDone (3 per
    # work item), and WaitForBatchTurn for the second batch, planned with the first: its block starts
    # 40 calls / 9.5 per s later.
    assert result["batch_waits"] == 1 and result["turn_waits"] == 0
    assert simulation.transitions == 2 * (7 + 3 * 40) + 1
    assert result["usd_per_million_rows_total"] == pytest.approx(sum(result["usd"].values()) * 500, rel=0.01)


def test_a_waiting_call_is_refused_more_the_longer_it_waits():
    times = model.retry_times(0.0)
    assert model.throttled_attempts(times, 0.0) == 1
    assert model.throttled_attempts(times, 0.03) == 2
    counts = [model.throttled_attempts(times, waited / 10) for waited in range(51)]
    assert counts == sorted(counts) and counts[-1] == 1 + len(times) == 14
    assert model.throttled_attempts(model.retry_times(0.1), 5.0) < counts[-1]


def test_long_waits_go_to_wait_states_holding_no_lambda():
    scenario = replace(SMALL, design="after", rows=200_000, concurrency=64, batch_rows=500, quota_rps=10.0)
    simulation, result = run(scenario)
    # With blocks a batch waits for its turn in WaitForBatchTurn, before its Map starts: per-call
    # waits stay within what a function sleeps, and only the batches being served hold Lambdas.
    assert result["batch_waits"] > 0 and result["turn_waits"] == 0
    assert result["lambda_peak"] <= 2 * scenario.map_concurrency
    # Without blocks every running batch's work items wait for their calls' slots: the long waits
    # go to WaitForTurn, at most once per work item.
    unblocked, result = run(replace(scenario, batch_blocks=False))
    assert 0 < result["turn_waits"] <= sum(len(batch.items) for batch in unblocked.batches)
    assert result["batch_waits"] == 0 and result["lambda_peak"] <= 64 * 4
    several = replace(scenario, batch_blocks=False, batch_rows=1000, max_work_items=4, rows=100_000)
    simulation, result = run(several)
    assert max(k for batch in simulation.batches for k in batch.items) == 10
    assert 0 < result["turn_waits"] <= sum(len(batch.items) for batch in simulation.batches), "once per work item, however many chunks it has"
    assert result["answered"] == len(simulation.batches)


def test_batches_are_served_in_the_order_they_were_planned():
    scenario = replace(SMALL, design="after", rows=60_000, concurrency=16, batch_rows=1000, quota_rps=10.0)
    simulation, result = run(scenario)
    assert result["answered"] == 60 and result["batch_waits"] > 0
    batches = sorted(simulation.batches, key=lambda batch: batch.planned)
    for earlier, later in itertools.pairwise(batches):
        # Blocks follow each other at R_gov, in the order PlanChunks booked them...
        assert later.block_start >= earlier.block_start + earlier.calls / scenario.governor - model.EPSILON
        # ...each Map starts at its block's start, less the fraction of a second plan_chunks rounds off...
        assert later.block_start - 1 < later.map_started <= later.block_start + model.EPSILON
        # ...and equal batches finish in that order.
        assert later.ended > earlier.ended
    first = batches[0]
    assert first.ended - first.planned < 2 * first.calls / scenario.governor, "the first batch planned is served alone"
    # Without blocks the governor serves the 16 running batches round-robin: the first batch planned
    # is held back by every batch planned after it.
    unblocked, _ = run(replace(scenario, batch_blocks=False))
    first_unblocked = min(unblocked.batches, key=lambda batch: batch.planned)
    assert first_unblocked.ended - first_unblocked.planned > 10 * (first.ended - first.planned)


def test_mixed_batch_sizes_are_answered_within_the_window_once_served_in_order():
    """One 4,000-row batch for every seven of 500 at C = 64, R = 10 (the grid's mixed query): without
    blocks the big batches, sharing the quota round-robin with a stream of small ones, ran past the
    window and the 900-s timeout; with blocks none is late."""
    scenario = Scenario(rows=1_000_000, concurrency=64, batch_mix=model.MIXED_BATCHES, quota_rps=10.0)
    result = simulate(scenario)
    assert result["fate"] == "completes" and result["answered"] == result["batches"] == len(scenario.batch_sizes()) == 1065
    assert result["failed"] == 0 and result["late_after_accepted"] == 0 and result["late_after_first_post"] == 0
    assert result["accepted_to_answered_s"]["max"] < scenario.window_s
    unblocked = simulate(replace(scenario, batch_blocks=False))
    assert unblocked["aborted"] and unblocked["late_after_accepted"] > 0


def test_the_governor_runs_at_95_percent_of_the_quota():
    scenario = replace(SMALL, design="after", record_calls=True)
    assert scenario.governor == pytest.approx(9.5) and replace(scenario, governor_rps=7.0).governor == 7.0
    simulation, result = run(scenario)
    assert simulation.capacity_calls == pytest.approx(9.5 * scenario.admission_window_s), "admission counts at ComprehendRequestsPerSecond"
    calls = sorted(simulation.call_times)
    assert calls[-1] - calls[0] >= (len(calls) - 1) / 9.5 - model.EPSILON, "no faster than R_gov"
    assert result["seconds"] >= result["comprehend_calls"] / 9.5
    assert scenario.sleep_limit_s == 20.0 and replace(scenario, quota_rps=1000.0).sleep_limit_s == pytest.approx(200 / 950)


def test_retry_after_is_at_most_a_minute():
    simulation = Simulation(replace(SMALL, design="after"))
    simulation.admitted_calls = simulation.capacity_calls * 10
    status, retry_after, _ = simulation.post(simulation.batches[0], 0.0)
    assert status == 429 and retry_after == 60
    simulation.admitted_calls = simulation.capacity_calls
    assert simulation.post(simulation.batches[1], 0.0)[:2] == (429, float(math.ceil(40 / 9.5)))


def test_calibrate_reports_the_benchs_fields_for_both_designs():
    figures = calibrate()
    assert set(figures) == {"before", "after"}
    for design in figures.values():
        assert set(model.CALIBRATION_FIELDS) <= set(design)
        assert set(design["accepted_to_answered_s"]) == {"min", "median", "p95", "max"}
    assert figures["after"]["answered_correctly"] == 24 and figures["after"]["post_429s"] > 0
    assert figures["before"]["late_after_accepted"] > 0
    # The offline run's transitions (bench/results/summary.md) are the ASL's, counted as the model counts them.
    assert figures["after"]["transitions_per_batch"] == pytest.approx(model.MEASURED_OVER_WINDOW["transitions_per_batch"], abs=0.5)
    section = "\n".join(model.calibration_markdown(figures))
    assert "| late after accepted | 0 | 0 |" in section and f"| post 429s | {model.MEASURED_OVER_WINDOW['post_429s']} |" in section


def test_the_report_shows_aborted_and_completed_queries():
    results = [simulate(replace(OVER_WINDOW, design=design, stop_at_failure=True, seed=2)) for design in ("before", "after")]
    text = model.markdown(results, 0.1)
    assert "aborted: a batch failed" in text and "spent" in text
    assert text.count("| 12,000 | 24 | 500 | 5 |") == 6
    assert "## Assumptions" in text and "sliding 1-s window" in text
