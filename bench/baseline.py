"""The seed design, re-implemented faithfully for comparison; it lives only in the benchmark.

Snowflake's sample asynchronous remote service (shared/seeds/snowflake-aws-async-sample.txt):
one Lambda serves POST, processing and GET; POST writes an IN_PROGRESS item and invokes
itself asynchronously; processing calls DetectSentiment once per row, sequentially, with
the SDK's default client, and writes every result into ONE DynamoDB item; GET reads it.

Two changes let it run at all on realistic data, and favour it: NULL and blank rows get
null without a call (the sample would pass None to boto3 and crash), and texts are cut to
Comprehend's 5,000-byte limit (the sample would fail the call). Its processing Lambda is
given Lambda's maximum timeout, 900 s (the sample does not say; the default of 3 s would
fail almost every batch).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import boto3

from sentiment_service.chunking import truncate_utf8

TABLE_NAME = "Jobs"
IN_PROGRESS_STATUS = "IN_PROGRESS"
SUCCESS_STATUS = "SUCCESS"
LAMBDA_TIMEOUT_S = 900
MEMORY_MB = 128
"""The sample's function uses Lambda's default memory."""


class SeedDesign:
    """One Lambda function, as in the sample, run in-process on the offline stack's AWS."""

    def __init__(self, session: boto3.session.Session, report: Any):
        self.session = session
        self.report = report
        """report(function_name, seconds, errored): Lambda metering."""
        self.failures: dict[str, str] = {}
        self.stop = threading.Event()
        self.workers: list[threading.Thread] = []
        session.client("dynamodb").create_table(
            TableName=TABLE_NAME,
            KeySchema=[{"AttributeName": "batch_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "batch_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

    def lambda_handler(self, event: dict) -> dict:
        started = time.perf_counter()
        try:
            if event["httpMethod"] == "POST":
                return self.initiate(event)
            return self.poll(event)
        finally:
            self.report("SeedFunction", time.perf_counter() - started, False)

    def initiate(self, event: dict) -> dict:
        batch_id = event["headers"]["sf-external-function-query-batch-id"]
        data = json.loads(event["body"])["data"]
        self.write_to_storage(batch_id, IN_PROGRESS_STATUS, "NULL")
        worker = threading.Thread(target=self.process_async, args=(batch_id, data), daemon=True)
        self.workers.append(worker)
        worker.start()
        return {"statusCode": 202}

    def process_async(self, batch_id: str, data: list) -> None:
        """InvocationType='Event': Lambda runs the processing on its own; failures are only logged."""
        started = time.perf_counter()
        errored = False
        try:
            self.process_data(batch_id, data, started)
        except Exception as error:  # noqa: BLE001 - the async invocation fails as a whole
            errored = True
            self.failures[batch_id] = f"{type(error).__name__}: {str(error)[:160]}"
        finally:
            self.report("SeedFunction", time.perf_counter() - started, errored)

    def process_data(self, batch_id: str, data: list, started: float) -> None:
        comprehend = self.session.client("comprehend")
        ret = []
        for i in range(len(data)):
            if self.stop.is_set():
                raise TimeoutError("stopped by the benchmark's time budget")
            if time.perf_counter() - started > LAMBDA_TIMEOUT_S:
                raise TimeoutError(f"Task timed out after {LAMBDA_TIMEOUT_S} seconds")
            text = data[i][1]
            if text is None or not str(text).strip():
                ret.append([i, None])
                continue
            sentiment_response = comprehend.detect_sentiment(Text=truncate_utf8(text), LanguageCode="en")
            ret.append([i, json.dumps(sentiment_response["SentimentScore"])])
        self.write_to_storage(batch_id, SUCCESS_STATUS, ret)

    def poll(self, event: dict) -> dict:
        batch_id = event["headers"]["sf-external-function-query-batch-id"]
        item = self.session.client("dynamodb").get_item(TableName=TABLE_NAME, Key={"batch_id": {"S": batch_id}}, ConsistentRead=True).get("Item")
        if item is None:
            return {"statusCode": 500, "body": "Error in poll: Unknown item status."}
        status = item["status"]["S"]
        if status == SUCCESS_STATUS:
            data = [[int(row["L"][0]["N"]), None if "NULL" in row["L"][1] else row["L"][1]["S"]] for row in item["data"]["L"]]
            return {"statusCode": 200, "body": json.dumps({"data": data})}
        if batch_id in self.failures:
            return {"statusCode": 500, "body": f"Error in process: {self.failures[batch_id]}"}
        return {"statusCode": 202, "body": "{}"}

    def write_to_storage(self, batch_id: str, status: str, data: Any) -> None:
        rows = {"S": data} if isinstance(data, str) else {"L": [{"L": [{"N": str(i)}, {"NULL": True} if value is None else {"S": value}]} for i, value in data]}
        self.session.client("dynamodb").put_item(
            TableName=TABLE_NAME,
            Item={"batch_id": {"S": batch_id}, "status": {"S": status}, "data": rows, "timestamp": {"S": f"{time.time()}"}},
        )
