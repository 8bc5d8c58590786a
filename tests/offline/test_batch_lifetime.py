"""A batch's items live and die together, and an answer is always the values of its own POST."""

from __future__ import annotations

import pytest

from local.snowflake import snowflake_headers
from sentiment_service import storage
from sentiment_service.chunking import SUPPORTED_LANGUAGES
from sentiment_service.pool import pooled_key
from sentiment_service.protocol import MAX_HEADER_ID_BYTES
from sentiment_service.settings import settings
from tests.helpers import row_text

pytestmark = pytest.mark.usefixtures("no_row_text_leaks")

DYNAMODB_PARTITION_KEY_BYTES = 2048
DYNAMODB_SORT_KEY_BYTES = 1024
MAX_CHUNK = 10**6 - 1


def items_of(stack, partition: str) -> list[dict]:
    return stack.client("dynamodb").query(TableName=stack.table_name, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": partition}})[
        "Items"
    ]


def test_every_item_of_a_batch_expires_with_its_record(snowflake, stack, stand_in):
    stand_in.latency_s = 1.1
    headers = snowflake_headers()
    texts = [row_text(index, f"review {index}") for index in range(60)]
    assert snowflake.run(texts, headers).status == 200
    items = items_of(stack, headers["sf-external-function-query-batch-id"])
    (record,) = [item for item in items if item["sk"]["S"] == storage.META]
    kinds = {item["sk"]["S"].split("#")[0] for item in items}
    assert kinds == {"meta", "input", "chunk", "analysis", "result"}
    assert {item["expiresAt"]["N"] for item in items} == {record["expiresAt"]["N"]}


def test_a_batch_id_posted_again_after_expiry_is_answered_with_its_own_rows(snowflake, stack, monkeypatch):
    headers = snowflake_headers()
    first = snowflake.run([row_text(index, "I love it, wonderful") for index in range(30)], headers)
    assert {value["Sentiment"] for _, value in first.body["data"]} == {"POSITIVE"}
    real, offset = storage.time.time, settings().retention_seconds + 1
    monkeypatch.setattr(storage.time, "time", lambda: real() + offset)
    second = snowflake.run([row_text(index, "I hate it, awful") for index in range(30)], headers)
    assert second.status == 200
    assert {value["Sentiment"] for _, value in second.body["data"]} == {"NEGATIVE"}
    assert len(stack.executions()) == 2


@pytest.mark.parametrize("character", ["a", "\u00e9", "\u20ac", "\U0001f600"])
def test_every_key_fits_dynamodb_for_the_longest_batch_id(character):
    batch_id = character * (MAX_HEADER_ID_BYTES // len(character.encode()))
    assert len(batch_id.encode()) <= MAX_HEADER_ID_BYTES
    sort_keys = [
        storage.META,
        storage.input_key("f" * 16, 99_999),
        storage.chunk_key(MAX_CHUNK),
        storage.analysis_key(MAX_CHUNK),
        storage.result_key(99_999),
    ]
    for sort_key in sort_keys:
        assert len(storage.item_key(batch_id, sort_key)["pk"]["S"].encode()) <= DYNAMODB_PARTITION_KEY_BYTES
        assert len(sort_key.encode()) <= DYNAMODB_SORT_KEY_BYTES
    for language in SUPPORTED_LANGUAGES:
        key = pooled_key(language, batch_id, MAX_CHUNK)
        assert len(key["pk"]["S"].encode()) <= DYNAMODB_PARTITION_KEY_BYTES
        assert len(key["sk"]["S"].encode()) <= DYNAMODB_SORT_KEY_BYTES


def test_the_longest_non_ascii_batch_id_is_answered_in_full(snowflake):
    batch_id = "01b02bdf:" + "\u20ac" * ((MAX_HEADER_ID_BYTES - 9) // 3)
    headers = snowflake_headers(batch_id=batch_id)
    texts = [row_text(index, f"fine {index}") for index in range(30)]
    outcome = snowflake.run(texts, headers)
    assert outcome.status == 200 and [row for row, _ in outcome.body["data"]] == list(range(30))
