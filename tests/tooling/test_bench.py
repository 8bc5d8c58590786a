"""The benchmark's own arithmetic and its report: a figure that is computed wrongly is worse than none."""

from __future__ import annotations

import json

from bench import prices
from bench.run import FIELDS, Meter, Run, figures, grown, item_bytes, language_batches, main, project_seed
from local.comprehend import StandIn
from local.snowflake import batch_body
from sentiment_service.chunking import SUPPORTED_LANGUAGES

REQUIRED = [
    "comprehend_calls_per_1000_rows",
    "comprehend_units_per_1000_rows",
    "transitions_per_1000_rows",
    "e2e_seconds",
    "floor_seconds",
    "usd_per_million_rows",
    "completed",
]


def test_item_size_counts_names_and_values_like_dynamodb():
    assert item_bytes({"pk": {"S": "abc"}}) == 2 + 3
    assert item_bytes({"n": {"N": "12345"}}) == 1 + 3
    assert item_bytes({"b": {"B": "QUJD"}}) == 1 + 3


def test_capacity_units_round_up_per_item():
    meter = Meter()
    meter.on_dynamodb(
        "BatchWriteItem", {"RequestItems": {"t": [{"PutRequest": {"Item": {"d": {"S": "x" * 1500}}}}, {"PutRequest": {"Item": {"d": {"S": "x"}}}}]}}, {}
    )
    meter.on_dynamodb("Query", {}, {"Items": [{"d": {"S": "x" * 5000}}]})
    meter.on_dynamodb("GetItem", {}, {})
    assert (meter.write_units, meter.read_units) == (3, 2 + 1)


def test_the_seed_is_projected_as_failing_where_its_single_item_outgrows_dynamodb():
    texts = [[f"text {row}" for row in range(5000)]]
    run = Run("baseline", 5000, 1, False, "not finished within the benchmark's budget of 30 s", 30.0, texts, Meter(), StandIn())
    project_seed(run, latency_ms=100, quota_rps=5)
    assert not run.completed and "400 KB" in run.reason and run.projected
    small = Run("baseline", 100, 1, False, "not finished within the benchmark's budget of 30 s", 30.0, [texts[0][:100]], Meter(), StandIn())
    project_seed(small, latency_ms=100, quota_rps=5)
    assert small.completed and small.seconds == 20.0


def test_cost_per_million_rows_follows_units_and_prices():
    stand_in = StandIn()
    stand_in.answered, stand_in.units = 4, 300
    run = Run("ours", 100, 1, True, "", 2.0, [["x"] * 100], Meter(), stand_in, transitions=10)
    result = figures(run, quota_rps=5)
    assert result["usd_per_million_rows"]["comprehend"] == round(300 * 0.0001 * 1_000_000 / 100, 2)
    assert result["usd_per_million_rows"]["step_functions"] == round(10 * 0.025 / 1000 * 1_000_000 / 100, 2)
    assert result["floor_seconds"] == 0.8 and result["e2e_to_floor"] == 2.5


def test_a_small_benchmark_writes_every_documented_field(tmp_path):
    small = ["--over-window", "30x3", "--cache-workload", "30x2", "--mixed-languages", "24x2"]
    assert main(["--workloads", "40x2", *small, "--quota-rps", "50", "--latency-ms", "5", "--baseline-budget-s", "10", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "latest.json").read_text())
    scenarios = {entry.get("scenario") for entry in report["workloads"]}
    assert {"cold", "rerun", "incremental", "languages_given", "languages_auto"} <= scenarios
    (rerun,) = [entry for entry in report["workloads"] if entry.get("scenario") == "rerun"]
    assert rerun["comprehend_calls"] == 0 and rerun["comprehend_calls_to_cold"] == 0.0
    for entry in report["workloads"]:
        metered = (entry["dynamodb_read_units_per_1000_rows"], entry["dynamodb_write_units_per_1000_rows"])
        assert min(metered) > 0, f"{entry.get('scenario', entry['rows_per_batch'])}: each workload meters its own DynamoDB use"
    assert "The result cache" in (tmp_path / "summary.md").read_text() and "Mixed languages" in (tmp_path / "summary.md").read_text()
    (over,) = [entry for entry in report["workloads"] if entry.get("scenario") == "over_window"]
    assert over["snowflake"]["answered_correctly"] == 3 and over["concurrent_batches"] == 3
    assert {"describe_execution_calls_per_batch", "describe_execution_peak_per_second", "throttled_requests_per_call", "state_machine_retries"} <= set(over)
    assert "Over the window" in (tmp_path / "summary.md").read_text()
    for design in ("ours", "baseline"):
        for name in REQUIRED:
            assert name in report[design], (design, name)
    assert set(report["ours"]["usd_per_million_rows"]) == {"comprehend", "step_functions", "lambda", "dynamodb", "api_gateway"}
    assert report["ours"]["completed"] and report["ours"]["transitions_per_1000_rows"] > 0
    assert report["baseline"]["comprehend_calls_per_1000_rows"] > report["ours"]["comprehend_calls_per_1000_rows"]
    assert set(FIELDS) >= set(REQUIRED)
    assert (tmp_path / "summary.md").read_text().count("| 40 x 2 |") == 2
    assert (tmp_path / "time_vs_rows.png").stat().st_size > 1000 and (tmp_path / "cost_by_service.png").stat().st_size > 1000


def test_detection_is_billed_with_sentiment_and_reported_apart():
    stand_in = StandIn()
    stand_in.answered, stand_in.units, stand_in.detection_units = 8, 300, 300
    run = Run("ours", 100, 1, True, "", 2.0, [[("x", "auto")] * 100], Meter(), stand_in)
    result = figures(run, quota_rps=5)
    assert result["comprehend_units_per_1000_rows"] == 6000.0 and result["detection_units_per_1000_rows"] == 3000.0
    assert result["unique_non_null_rows"] == 1, "a (text, language) row counts as its text"


def test_the_mixed_language_workload_gives_every_row_a_language_or_auto():
    given, auto = language_batches(2, 30, True), language_batches(2, 30, False)
    assert {language for batch in given for _, language in batch} <= set(SUPPORTED_LANGUAGES)
    assert {language for batch in auto for _, language in batch} == {"auto"}
    assert [text for batch in given for text, _ in batch] == [text for batch in auto for text, _ in batch]
    assert json.loads(batch_body(given[0][:1]))["data"] == [[0, given[0][0][0], given[0][0][1]]]


def test_the_grown_table_adds_new_texts_in_proportion_to_each_batchs_distinct_texts():
    batches = [[f"text {index % 50}" for index in range(100)], [f"other {index}" for index in range(40)]]
    bigger = grown(batches, 0.1)
    assert [len(batch) - len(old) for batch, old in zip(bigger, batches, strict=True)] == [5, 4]
    added = [text for batch, old in zip(bigger, batches, strict=True) for text in batch[len(old) :]]
    assert len(set(added)) == len(added) and not set(added) & {text for batch in batches for text in batch}
    assert all(isinstance(text, str) and text.strip() for text in added)


def test_cortex_is_priced_per_token_of_every_row():
    assert prices.cortex_ai_sentiment_usd_per_million_rows(400.0) == round(
        100 * prices.CORTEX_AI_SENTIMENT_CREDITS_PER_MILLION_TOKENS * prices.USD_PER_SNOWFLAKE_CREDIT, 2
    )
