"""`make local` over real HTTP on loopback: Snowflake's loop, gzip, retries, the client, the demo."""

from __future__ import annotations

import csv
import gzip
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from local.client import Client, load_texts, save
from local.comprehend import StandIn
from local.server import LocalService
from local.snowflake import batch_body, snowflake_headers
from local.snowflake import poll as snowflake_poll


@pytest.fixture
def service() -> Iterator[LocalService]:
    running = LocalService(port=0, aws_port=0, stand_in=StandIn(), say=lambda line: None)
    running.start()
    yield running
    running.stop()


def http(service: LocalService, method: str, headers: dict, body: bytes | None = None) -> tuple[int, dict, bytes]:
    """Status, headers and the body as a client reads it (gunzipped when the answer says gzip)."""
    request = urllib.request.Request(f"{service.url}/sentiment", data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, answer_headers, raw = response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        status, answer_headers, raw = error.code, dict(error.headers.items()), error.read()
    if answer_headers.get("Content-Encoding") == "gzip":
        raw = gzip.decompress(raw)
    return status, answer_headers, raw


def wire_headers(batch_id: str | None = None) -> dict:
    return {key: value for key, value in snowflake_headers(batch_id).items() if key.lower() not in ("host", "content-length")}


def poll(service: LocalService, headers: dict) -> tuple[int, dict, bytes]:
    """Snowflake's GET loop over HTTP; status, headers and body of the answer that ended it."""

    def get() -> tuple[int, tuple[dict, bytes]]:
        status, response_headers, body = http(service, "GET", headers)
        return status, (response_headers, body)

    status, (response_headers, body), _ = snowflake_poll(get, time.monotonic() + 20, first_wait_s=0.05, max_wait_s=0.2)
    assert status != 202, "batch never finished"
    return status, response_headers, body


def test_snowflake_post_and_get_over_http(service):
    headers = wire_headers()
    status, _, body = http(service, "POST", headers, batch_body(["hello world", "I am happy"]).encode())
    assert status == 202 and json.loads(body)["status"] == "ACCEPTED"
    status, response_headers, body = poll(service, headers)
    assert status == 200
    assert "Content-Encoding" not in response_headers, "API Gateway compresses only answers of MinimumCompressionSize or more"
    rows = json.loads(body)["data"]
    assert [row for row, _ in rows] == [0, 1]
    assert rows[1][1]["Sentiment"] == "POSITIVE"


def test_gzip_request_body_like_snowflake_compression_auto(service):
    headers = {**wire_headers(), "Content-Encoding": "gzip"}
    status, _, _ = http(service, "POST", headers, gzip.compress(batch_body(["good", None]).encode()))
    assert status == 202
    status, _, body = poll(service, {key: value for key, value in headers.items() if key != "Content-Encoding"})
    assert status == 200 and json.loads(body)["data"][1] == [1, None]


def test_plain_answer_without_accept_encoding(service):
    headers = {key: value for key, value in wire_headers().items() if key != "Accept-Encoding"}
    http(service, "POST", headers, batch_body(["fine"]).encode())
    status, response_headers, body = poll(service, headers)
    assert status == 200 and "Content-Encoding" not in response_headers
    assert json.loads(body)["data"][0][0] == 0


def test_api_gateway_compresses_large_plain_answers_only():
    from local.apigateway import api_response_bytes

    large = {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "x" * 9000, "isBase64Encoded": False}
    small = {**large, "body": "x" * 100}
    assert api_response_bytes(large, True, 8192)[1]["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in api_response_bytes(small, True, 8192)[1]
    assert "Content-Encoding" not in api_response_bytes(large, False, 8192)[1]


def test_repeated_post_is_accepted_once(service):
    headers = wire_headers()
    body = batch_body(["I am happy"]).encode()
    assert [http(service, "POST", headers, body)[0] for _ in range(3)] == [202, 202, 202]
    assert poll(service, headers)[0] == 200
    assert http(service, "POST", headers, body)[0] == 202
    assert len(service.executions()) == 1
    assert service.stand_in.calls == 1


def test_unknown_batch_and_bad_requests(service):
    status, _, body = http(service, "GET", wire_headers())
    assert status == 404 and "never posted" in json.loads(body)["message"]
    status, _, body = http(service, "POST", wire_headers(), b'{"data": "nope"}')
    assert status == 400 and "array of rows" in json.loads(body)["message"]
    status, _, _ = http(service, "DELETE", wire_headers())
    assert status == 403


def test_the_emulated_aws_endpoint_shows_executions(service):
    import boto3

    headers = wire_headers()
    http(service, "POST", headers, batch_body(["great"]).encode())
    poll(service, headers)
    sfn = boto3.client("stepfunctions", endpoint_url=service.aws_url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    (execution,) = sfn.list_executions(stateMachineArn=service.state_machine_arn)["executions"]
    assert execution["status"] == "SUCCEEDED"
    events = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
    assert events[-1]["type"] == "ExecutionSucceeded"


def test_client_sends_batches_with_progress_and_saves_results(service, tmp_path):
    texts = [f"review {i} is {'great' if i % 3 else 'awful'}" if i % 10 else None for i in range(2500)]
    lines: list[str] = []
    values = Client(f"{service.url}/sentiment").run(texts, batch_rows=1000, parallel=2, show=lines.append)
    assert len(values) == 2500
    assert lines[-1] == "2500/2500 rows done (3 batches)"
    assert values[0] is None and values[3]["Sentiment"] == "NEGATIVE" and values[2]["Sentiment"] == "POSITIVE"
    out = tmp_path / "results.csv"
    save(out, texts, values)
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 2500 and rows[2]["sentiment"] == "POSITIVE" and rows[0]["sentiment"] == ""


def test_client_reads_csv_and_json(tmp_path):
    (tmp_path / "r.csv").write_text("id,review\n1,good\n2,\n")
    (tmp_path / "r.json").write_text(json.dumps([{"review": "good"}, {"review": None}]))
    assert load_texts(tmp_path / "r.csv", "review") == ["good", None]
    assert load_texts(tmp_path / "r.json", "review") == ["good", None]


def test_command_line_client_prints_a_table(service, capsys):
    from local.__main__ import main

    assert main(["client", "examples/reviews.csv", "--column", "review", "--url", f"{service.url}/sentiment"]) == 0
    out = capsys.readouterr()
    assert "10/10 rows done (1 batches)" in out.err
    assert "Terrible customer service" in out.out and "NEGATIVE" in out.out


def test_demo_prints_every_row_with_sentiment(capsys):
    from local.demo import TEXTS, main

    assert main() == 0
    out = capsys.readouterr().out
    table = out.split("scores\n", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    assert len(table) == len(TEXTS)
    assert "POSITIVE" in table[1] and "NULL" in table[10]
    assert "get-execution-history --execution-arn arn:aws:states:" in out


def test_sigv4_signs_for_execute_api_with_the_callers_credentials(monkeypatch):
    from local.client import _signer

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    signed = _signer("eu-west-1")("POST", "https://abc.execute-api.eu-west-1.amazonaws.com/v1/sentiment", {"sf-external-function-query-batch-id": "q:1"}, b"{}")
    assert signed["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in signed["Authorization"]
    assert "sf-external-function-query-batch-id" in signed["Authorization"]
