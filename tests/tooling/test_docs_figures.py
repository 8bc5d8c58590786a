"""The docs quote the last `make bench` run: each quoted figure is rebuilt here from
bench/results/latest.json, so a re-run that changes a figure fails until the sentence quoting it
is updated. And every relative link of the README and docs/ leads to a file and heading that exist.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from bench.run import OVER_WINDOW
from local.template import ROOT

DOCS = ROOT / "docs"
LATEST = ROOT / "bench" / "results" / "latest.json"


def prose(path: Path) -> str:
    """The file's text with every run of whitespace one space: quoted sentences wrap anywhere."""
    return re.sub(r"\s+", " ", path.read_text(encoding="utf-8"))


def last_run() -> dict:
    return json.loads(LATEST.read_text(encoding="utf-8"))


def workload(report: dict, rows_per_batch: int, concurrent_batches: int, scenario: str | None = None) -> dict:
    """Our design's entry for one workload of the last run."""
    (entry,) = [
        entry
        for entry in report["workloads"]
        if entry["design"] == "ours"
        and entry["rows_per_batch"] == rows_per_batch
        and entry["concurrent_batches"] == concurrent_batches
        and entry.get("scenario") == scenario
    ]
    return entry


def none_or(count: int) -> str:
    return "none" if count == 0 else str(count)


def sixteen_batches_quotes(report: dict) -> list[str]:
    """What docs/benchmark.md says of 16 concurrent batches of 1,000 rows."""
    ours = workload(report, 1000, 16)
    comprehend = ours["usd_per_million_rows"]["comprehend"]
    orchestration = ours["usd_per_million_rows_total"] - comprehend
    retries = "no Step Functions retry" if ours["state_machine_retries"] == 0 else f"{ours['state_machine_retries']} Step Functions retries"
    unique = ours["unique_non_null_rows"]
    return [
        f"({report['settings']['bench_seconds'] / 60:.0f} minutes,",
        f"{ours['comprehend_calls']} Comprehend calls for {unique:,} unique texts",
        f"{ours['e2e_seconds']:.1f} s = {ours['e2e_to_floor']:.2f}x the quota floor, {ours['throttles']} throttled requests and {retries}",
        f"orchestration about ${orchestration:.2f} per million rows = {orchestration / comprehend:.1%} of Comprehend's",
        f"Comprehend is {comprehend / ours['usd_per_million_rows_total']:.0%} of the cost",
        f"ours sends {ours['comprehend_calls_per_1000_rows']:.1f} calls per 1,000 rows",
        f"ours makes {ours['comprehend_calls']} calls for {unique:,} unique texts: exactly ceil({unique:,} / 25)",
        f"({ours['comprehend_calls_per_1000_unique_rows']:.2f} per 1,000;",
    ]


def over_window_quotes(report: dict) -> list[str]:
    """What docs/benchmark.md says of the query over the admission window, and of the model's match with it."""
    over = workload(report, OVER_WINDOW["rows"], OVER_WINDOW["batches"], "over_window")
    snowflake = over["snowflake"]
    answered = (
        f"all {snowflake['batches']}"
        if snowflake["answered_correctly"] == snowflake["batches"]
        else f"{snowflake['answered_correctly']} of {snowflake['batches']}"
    )
    accepted, first_post = snowflake["accepted_to_answered_s"], snowflake["first_post_to_answered_s"]
    return [
        (
            f"(`{over['rows_per_batch']} x {over['concurrent_batches']}`: {over['concurrent_batches']} batches of {over['rows_per_batch']} unique texts "
            f"at {report['settings']['comprehend_quota_rps']:g} requests/s, Snowflake's 10 minutes scaled to {OVER_WINDOW['window_s']:g} s, "
            f"`AdmissionWindowSeconds` {OVER_WINDOW['admission_window_s']},"
        ),
        f"{answered} answered, {none_or(snowflake['late_after_accepted'])} late after its accepted POST",
        f"(accepted→answered median {accepted['median']:.1f} s, max {accepted['max']:.1f} s)",
        f"after its first POST (max {first_post['max']:.1f} s; the {over['comprehend_calls']} calls alone need {over['floor_seconds']:g} s)",
        (
            f"{snowflake['post_429s']} POST 429s, {over['throttled_requests_per_call']} throttled requests per call, "
            f"{over['describe_execution_calls_per_batch']} `DescribeExecution` calls per batch (peak {over['describe_execution_peak_per_second']} a second)"
        ),
        (
            f"({snowflake['answered_correctly']} answered, {snowflake['late_after_accepted']} late after accepted, "
            f"{snowflake['late_after_first_post']} late after the first POST, "
            f"{snowflake['post_429s']} POST 429s)"
        ),
        f"against {first_post['max']:.1f})",
        f"against {accepted['min']:.1f} s)",
    ]


def largest_batch_quote(report: dict) -> str:
    profile = report["handler_profile_largest_batch"]
    post, get = profile["post"], profile["get"]
    return (
        f"Largest batch ({profile['rows']:,} rows, {profile['request_bytes'] / 1e6:.1f} MB): POST handler {post['handler_ms']:.0f} ms, "
        f"{post['peak_python_mb']} MB peak Python memory; final GET {get['handler_ms']:.0f} ms, {get['peak_python_mb']} MB."
    )


def test_the_benchmark_doc_quotes_the_last_run():
    report = last_run()
    text = prose(DOCS / "benchmark.md")
    expected = [*sixteen_batches_quotes(report), *over_window_quotes(report), largest_batch_quote(report)]
    assert [quote for quote in expected if quote not in text] == [], "docs/benchmark.md quotes figures that are not the last run's (bench/results/latest.json)"


def test_what_the_benchmark_doc_claims_of_the_last_run_holds():
    """The words around the figures: the floor is reached, and no batch is later than twice the window."""
    report = last_run()
    ours = workload(report, 1000, 16)
    over = workload(report, OVER_WINDOW["rows"], OVER_WINDOW["batches"], "over_window")
    text = prose(DOCS / "benchmark.md")
    assert "none later than twice the window after its first POST" in text
    assert over["snowflake"]["first_post_to_answered_s"]["max"] <= 2 * OVER_WINDOW["window_s"]
    assert ours["comprehend_calls"] == ours["comprehend_calls_floor"] == math.ceil(ours["unique_non_null_rows"] / 25)


def test_the_operators_doc_quotes_the_last_runs_cost():
    ours = workload(last_run(), 1000, 16)
    total = ours["usd_per_million_rows_total"]
    quote = f"about ${total:.0f} per million rows at list prices, {ours['usd_per_million_rows']['comprehend'] / total:.0%} of it Comprehend"
    assert quote in prose(DOCS / "operators.md")


def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces as dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {github_anchor(heading) for heading in re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), flags=re.M)}


DOCUMENTS = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(document):
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", document.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (document.parent / file_part).resolve() if file_part else document
        if not linked.exists() or (anchor and anchor not in anchors(linked)):
            broken.append(target)
    assert broken == []


def test_the_readme_links_every_doc():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert sorted(DOCS.glob("*.md")) and [path.name for path in sorted(DOCS.glob("*.md")) if f"](docs/{path.name})" not in readme] == []
