"""The local tools a newcomer meets (issue 12): the client's errors and options, `make local`'s
lines, `python -m local inspect`, and the batch record's status after its execution ends."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import threading
import time

import pytest

from local.client import BatchFailed, Client, ServiceUnreachable, load_texts
from local.comprehend import StandIn
from local.console import Console, drain_powertools_metrics
from local.inspect import Inspector
from local.server import LocalService, free_port
from local.snowflake import snowflake_headers
from local.template import ROOT
from sentiment_service.storage import STATUS_ENDED, ResultsTable
from tests.helpers import ROW_TEXT_MARKER, row_text


def run_local(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "local", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)


# -- the client ------------------------------------------------------------------------------


def test_the_client_says_at_once_that_a_service_that_is_not_running_cannot_be_reached(tmp_path):
    reviews = tmp_path / "reviews.csv"
    reviews.write_text("review\nI am happy\n", encoding="utf-8")
    finished = run_local("client", str(reviews), "--url", f"http://127.0.0.1:{free_port()}/sentiment", timeout=20)
    assert finished.returncode == 1
    assert "cannot reach" in finished.stderr and "make local" in finished.stderr
    assert "Traceback" not in finished.stderr


def test_the_client_gives_up_on_a_service_that_stops_answering_after_its_bounded_wait():
    client = Client(f"http://127.0.0.1:{free_port()}/sentiment", unreachable_after_s=0.5)
    client._answered = True  # it answered once, then went away: retried, but not for Snowflake's 10 minutes
    with pytest.raises(ServiceUnreachable, match="cannot reach"):
        client.run(["I am happy"], batch_rows=1, parallel=1)


def test_a_csv_that_is_not_utf_8_is_one_line_that_names_the_encoding_option(tmp_path):
    reviews = tmp_path / "latin.csv"
    reviews.write_bytes("review\nCafé très décevant\n".encode("cp1252"))
    finished = run_local("client", str(reviews), "--url", f"http://127.0.0.1:{free_port()}/sentiment")
    assert finished.returncode == 1
    assert finished.stderr.strip().count("\n") == 0, finished.stderr
    assert "--encoding" in finished.stderr and "Traceback" not in finished.stderr
    assert load_texts(reviews, encoding="cp1252") == ["Café très décevant"]


def test_tsv_files_and_other_delimiters(tmp_path):
    tsv = tmp_path / "reviews.tsv"
    tsv.write_text("id\treview\n1\tGreat, really great\n2\t\n", encoding="utf-8")
    assert load_texts(tsv, "review") == ["Great, really great", None]
    semicolons = tmp_path / "reviews.txt"
    semicolons.write_text("review;stars\nGood, not great;3\n", encoding="utf-8")
    assert load_texts(semicolons, delimiter=";") == ["Good, not great"]
    tabs = tmp_path / "reviews.csv"
    tabs.write_text("review\tstars\nFine, I guess\t3\n", encoding="utf-8")
    assert load_texts(tabs, delimiter="\\t") == ["Fine, I guess"]


# -- make local's lines ----------------------------------------------------------------------------

EMF = json.dumps(
    {
        "_aws": {
            "Timestamp": 1,
            "CloudWatchMetrics": [{"Namespace": "SnowflakeSentiment", "Dimensions": [["service"]], "Metrics": [{"Name": "RowsAccepted", "Unit": "Count"}]}],
        },
        "service": "snowflake-sentiment",
        "RowsAccepted": [100.0, 20.0],
    }
)
LOG_RECORD = json.dumps(
    {
        "level": "WARNING",
        "location": "respond:69",
        "message": "AWS call failed",
        "timestamp": "2026-11-25",
        "service": "snowflake-sentiment",
        "status": 500,
        "code": "AccessDeniedException",
        "correlation_id": "q:1:0:0:0",
        "exception": "Traceback (most recent call last):\n ...",
    }
)


def test_handler_output_becomes_short_lines_and_metrics_a_sum():
    drain_powertools_metrics()  # what earlier tests' handlers left in Powertools' buffer
    out = io.StringIO()
    console = Console(out)
    with console.capture():
        print(EMF)
        print(LOG_RECORD)
        print(json.dumps({"level": "INFO", "message": "batch accepted", "rows": 3}))
    lines = out.getvalue().splitlines()
    assert lines == ["log WARNING AWS call failed status=500 code=AccessDeniedException correlation_id=q:1:0:0:0"]
    assert console.metrics_line() == "metrics RowsAccepted=120"
    assert console.metrics_line() is None


def test_the_handlers_log_records_become_short_lines():
    from sentiment_service.observability import logger

    out = io.StringIO()
    logger.set_correlation_id("q:1:0:0:0")
    with Console(out).capture():
        logger.warning("AWS call failed", extra={"status": 500, "code": "AccessDeniedException"})
        logger.info("batch accepted", extra={"rows": 3})
    assert out.getvalue().splitlines() == ["log WARNING AWS call failed correlation_id=q:1:0:0:0 status=500 code=AccessDeniedException"]


def test_verbose_shows_the_records_as_they_are():
    out = io.StringIO()
    console = Console(out, verbose=True)
    with console.capture():
        print(LOG_RECORD)
    assert json.loads(out.getvalue()) == json.loads(LOG_RECORD)


def test_lines_from_many_threads_never_run_together():
    out = io.StringIO()
    console = Console(out)
    said = [f"execution batch-{thread}-{line} SUCCEEDED" for thread in range(8) for line in range(200)]
    threads = [
        threading.Thread(target=lambda t=thread: [console.say(line) for line in said if line.startswith(f"execution batch-{t}-")]) for thread in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(out.getvalue().splitlines()) == sorted(said)


def test_make_local_prints_a_failed_batch_in_one_line_without_row_text_or_json(capfd):
    lines: list[str] = []
    console = Console()
    console.say = lines.append  # type: ignore[method-assign]
    service = LocalService(port=0, aws_port=0, say=lines.append, stand_in=StandIn(fail_with="AccessDeniedException"))
    service.start()
    service.console = console
    try:
        with console.capture():
            text = row_text(0, "the customer's own words")
            client = Client(f"{service.url}/sentiment", timeout_s=60)
            with pytest.raises(BatchFailed):
                client.run([text], batch_rows=1, parallel=1)
            deadline = time.monotonic() + 10
            while not any(" FAILED" in line for line in lines) and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        service.stop()
    failed = [line for line in lines if line.startswith("execution ") and " FAILED" in line]
    assert len(failed) == 1, lines
    assert re.search(r"FAILED in [0-9.]+s: \w+: .+", failed[0]), failed[0]
    for line in lines:
        assert "\n" not in line and "{" not in line, line
        assert ROW_TEXT_MARKER not in line
    assert any(re.fullmatch(r"POST /sentiment batch=\S+ -> 202 \d+B \d+ms", line) for line in lines), lines
    assert "{" not in capfd.readouterr().out, "nothing raw reaches the terminal around the console"


# -- inspect and the batch record --------------------------------------------------------------------


@pytest.fixture
def served():
    service = LocalService(port=0, aws_port=0, say=lambda line: None)
    service.start()
    yield service
    service.stop()


def test_inspect_shows_the_path_the_items_and_no_row_text_unless_asked(served):
    text = row_text(0, "a review nobody else may read")
    client = Client(f"{served.url}/sentiment")
    client.run([text, None, "I am happy"], batch_rows=3, parallel=1, query_id="q-inspect")
    (batch_id,), (name,) = client.batch_ids, client.executions
    shown: list[str] = []
    assert Inspector(served.aws_url, show=shown.append).run(batch_id) == 0
    output = "\n".join(shown)
    assert f"Execution {name}" in output and "SUCCEEDED" in output
    assert re.search(r"PlanChunks\s+Task", output) and re.search(r"AssembleResults\s+Task", output)
    assert "status ENDED" in output
    assert "3 answer rows 0-2" in output and "NULL=1" in output
    assert ROW_TEXT_MARKER not in output
    by_name: list[str] = []
    Inspector(served.aws_url, show=by_name.append).run(name)

    def without_expiry(lines: list[str]) -> list[str]:
        return [re.sub(r"expires in \d+s", "", line) for line in lines]

    assert without_expiry(by_name) == without_expiry(shown)
    with_text: list[str] = []
    Inspector(served.aws_url, show=with_text.append).run(batch_id, show_text=True)
    assert text in "\n".join(with_text)


def test_a_batch_record_stays_ended_when_its_post_comes_again_after_the_execution_ended(snowflake, stack):
    headers = snowflake_headers()
    assert snowflake.run(["I am happy", "hello world"], headers).status == 200
    table = ResultsTable(stack.client("dynamodb"), stack.table_name, 3600)
    batch_id = headers["sf-external-function-query-batch-id"]
    assert table.get_batch(batch_id).status == STATUS_ENDED
    assert snowflake.post(["I am happy", "hello world"], headers).status == 202
    assert table.get_batch(batch_id).status == STATUS_ENDED


def test_an_execution_that_ends_before_its_post_marks_it_started_stays_ended(stack):
    table = ResultsTable(stack.client("dynamodb"), stack.table_name, 3600)
    assert table.create_batch(table.new_record("q:1:0:0:0", "execution", "q", "f" * 64, 1, 1, table.new_expiry()))
    table.mark_ended("q:1:0:0:0")
    table.mark_started("q:1:0:0:0", time.time())
    assert table.get_batch("q:1:0:0:0").status == STATUS_ENDED


def test_make_snowflake_sql_prints_the_deployed_stacks_output(capsys):
    from unittest import mock

    from local.__main__ import main

    stack = {
        "Outputs": [
            {"OutputKey": "SentimentUrl", "OutputValue": "u"},
            {"OutputKey": "SnowflakeSql", "OutputValue": "create or replace api integration sentiment_api ..."},
        ]
    }
    client = mock.Mock(**{"describe_stacks.return_value": {"Stacks": [stack]}})
    with mock.patch("boto3.client", return_value=client) as factory:
        assert main(["sql", "--stack", "prod-sentiment", "--region", "eu-west-1"]) == 0
    factory.assert_called_once_with("cloudformation", region_name="eu-west-1")
    client.describe_stacks.assert_called_once_with(StackName="prod-sentiment")
    assert capsys.readouterr().out.strip() == "create or replace api integration sentiment_api ..."
