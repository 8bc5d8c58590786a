"""The result cache: a text analysed once is never paid for again while its value is kept."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from local.comprehend import hashed_sentiment
from local.snowflake import snowflake_headers
from sentiment_service.cache import ResultCache, purge
from sentiment_service.pool import settle_pooled_chunk
from sentiment_service.storage import ResultsTable, staging_id, unpack
from tests.helpers import ROW_TEXT_MARKER, aws_error, row_text

pytestmark = pytest.mark.usefixtures("distinct_values")


@pytest.fixture
def distinct_values(stand_in) -> None:
    stand_in.analyse = hashed_sentiment


def texts(count: int, start: int = 0) -> list[str]:
    return [row_text(index, "the cached review") for index in range(start, start + count)]


def cache_items(stack) -> list[dict]:
    return stack.client("dynamodb").scan(TableName=stack.cache_table_name)["Items"]


def cache(stack, key: bytes = b"k" * 32, **options: Any) -> ResultCache:
    return ResultCache(options.pop("client", None) or stack.client("dynamodb"), stack.cache_table_name, key, options.pop("days", 1), **options)


@pytest.mark.usefixtures("no_row_text_leaks")
def test_a_query_run_again_under_new_batch_ids_calls_comprehend_for_nothing_and_gets_the_same_values(snowflake, stand_in):
    batch = texts(60)
    first = snowflake.run(batch)
    calls = stand_in.calls
    again = snowflake.run(batch)
    assert again.status == first.status == 200
    assert again.body == first.body, "a cached value is identical to a fresh one"
    assert stand_in.calls == calls


def test_hits_count_in_the_batchs_progress(snowflake, stack):
    snowflake.run(texts(30))
    headers = snowflake_headers()
    snowflake.post(texts(40), headers)
    assert snowflake.wait(headers).status == 200
    record = ResultsTable(stack.client("dynamodb"), stack.table_name, 3600).get_batch(headers["sf-external-function-query-batch-id"])
    assert (record.documents_cached, record.chunks_total) == (30, 1), "30 answered from the cache; the 10 new texts make one call"


def test_a_grown_table_pays_only_for_its_new_texts(snowflake, stand_in):
    snowflake.run(texts(100))
    stand_in.documents.clear()
    answer = snowflake.run(texts(105))
    assert answer.status == 200 and len(answer.body["data"]) == 105
    assert set(stand_in.documents) == set(texts(5, 100))


def test_what_is_stored_is_values_under_a_keyed_digest_never_text_nor_its_plain_hash(stack, snowflake):
    batch = texts(3)
    snowflake.run(batch)
    items = cache_items(stack)
    assert len(items) == 3
    plain_hashes = {hashlib.sha256(text.encode()).hexdigest() for text in batch}
    for item in items:
        assert ROW_TEXT_MARKER not in str(item) and not any(digest in item["pk"]["S"] for digest in plain_hashes)
        assert set(unpack(item["value"]["B"])) == {"Sentiment", "SentimentScore"}
        assert item["pk"]["S"].startswith("en#")


def test_per_row_errors_are_not_cached(snowflake, stand_in):
    refused = row_text(0, "refused")
    stand_in.document_error = lambda text: ("INTERNAL_SERVER_ERROR", "try later") if text == refused else None
    snowflake.run([refused, row_text(1)])
    stand_in.document_error = None
    answer = snowflake.run([refused, row_text(1)])
    assert "Sentiment" in answer.body["data"][0][1]
    assert stand_in.documents[refused] == 2 and stand_in.documents[row_text(1)] == 1


def test_identical_texts_in_two_languages_are_cached_apart(snowflake, stand_in):
    text = row_text(0)
    for language in ("en", "fr", "en"):
        headers = snowflake_headers()
        snowflake.post(headers=headers, body=json.dumps({"data": [[0, text, language]]}))
        assert snowflake.wait(headers).status == 200
    assert stand_in.documents[text] == 2


def test_ResultCacheDays_0_turns_it_off(snowflake, stand_in, monkeypatch, stack):
    monkeypatch.setenv("RESULT_CACHE_DAYS", "0")
    snowflake.run(texts(30))
    snowflake.run(texts(30))
    assert stand_in.documents[texts(1)[0]] == 2 and cache_items(stack) == []


def test_a_value_past_its_days_is_not_used(stack, clock):
    kept = cache(stack, clock=clock)
    kept.store([(("en", "a"), {"Sentiment": "POSITIVE"})])
    assert kept.lookup([("en", "a")]) == {0: {"Sentiment": "POSITIVE"}}
    clock.now += 86400 + 1
    assert kept.lookup([("en", "a")]) == {}


def test_a_different_key_finds_nothing(stack):
    cache(stack).store([(("en", "a"), {"Sentiment": "POSITIVE"})])
    assert cache(stack, b"j" * 32).lookup([("en", "a")]) == {}


class Flaky:
    """A DynamoDB client whose batch calls first leave keys or items unprocessed, or fail."""

    def __init__(self, real: Any, table: str, fail: Exception | None = None):
        self.real, self.table, self.fail, self.calls = real, table, fail, 0

    def batch_get_item(self, RequestItems: dict) -> dict:
        self.calls += 1
        if self.fail:
            raise self.fail
        keys = RequestItems[self.table]["Keys"]
        if self.calls == 1 and len(keys) > 1:
            answer = self.real.batch_get_item(RequestItems={self.table: {**RequestItems[self.table], "Keys": keys[:1]}})
            return {**answer, "UnprocessedKeys": {self.table: {**RequestItems[self.table], "Keys": keys[1:]}}}
        return self.real.batch_get_item(RequestItems=RequestItems)

    def batch_write_item(self, RequestItems: dict) -> dict:
        self.calls += 1
        if self.fail:
            raise self.fail
        requests = RequestItems[self.table]
        if self.calls == 1 and len(requests) > 1:
            self.real.batch_write_item(RequestItems={self.table: requests[:1]})
            return {"UnprocessedItems": {self.table: requests[1:]}}
        return self.real.batch_write_item(RequestItems=RequestItems)


def test_unprocessed_keys_and_items_are_sent_again(stack):
    documents = [("en", f"text {index}") for index in range(150)]
    writer = cache(stack, client=Flaky(stack.client("dynamodb"), stack.cache_table_name), sleep=lambda seconds: None)
    writer.store((document, {"Sentiment": "NEUTRAL", "n": index}) for index, document in enumerate(documents))
    assert writer.use.stored == 150
    reader = cache(stack, client=Flaky(stack.client("dynamodb"), stack.cache_table_name), sleep=lambda seconds: None)
    found = reader.lookup(documents)
    assert found == {index: {"Sentiment": "NEUTRAL", "n": index} for index in range(150)}


@pytest.mark.parametrize("failure", [aws_error("ProvisionedThroughputExceededException", "BatchGetItem"), aws_error("AccessDeniedException", "BatchGetItem")])
def test_a_failing_cache_is_a_miss_and_a_skipped_write_never_an_error(stack, failure):
    failing = cache(stack, client=Flaky(stack.client("dynamodb"), stack.cache_table_name, failure), sleep=lambda seconds: None)
    assert failing.lookup([("en", "a")]) == {}
    failing.store([(("en", "a"), {"Sentiment": "POSITIVE"})])
    assert failing.use.failures == 2 and failing.use.misses == 1


def test_a_batch_whose_cache_fails_is_answered_all_the_same(snowflake, stand_in, monkeypatch):
    failing = aws_error("InternalServerError", "BatchGetItem", 500)

    def refuse(self, **request):
        raise failing

    monkeypatch.setattr("botocore.client.BaseClient.batch_get_item", refuse, raising=False)
    monkeypatch.setattr("botocore.client.BaseClient.batch_write_item", refuse, raising=False)
    answer = snowflake.run(texts(30))
    assert answer.status == 200 and all("Sentiment" in value for _, value in answer.body["data"])


def test_a_pooled_text_that_reaches_the_cache_meanwhile_is_not_sent_again(stack, stand_in):
    from functions.plan_chunks.app import plan_chunks

    table = ResultsTable(stack.client("dynamodb"), stack.table_name, 3600)
    batch = texts(3)
    fingerprint = "f" * 64
    expires_at = table.new_expiry()
    pages = table.stage_input("batch:a", staging_id(fingerprint), [[number, text] for number, text in enumerate(batch)], expires_at)
    assert table.create_batch(table.new_record("batch:a", "execution-a", "query", fingerprint, 3, pages, expires_at))
    plan = plan_chunks("batch:a", staging_id(fingerprint), pages, "en", table)
    known = cache(stack)
    known.store([(("en", batch[0]), {"Sentiment": "POSITIVE", "SentimentScore": {}})])
    settle_pooled_chunk("batch:a", plan["pooledChunks"][0]["chunk"], "en", table, stack.client("comprehend"), cache=known)
    assert batch[0] not in stand_in.documents and set(stand_in.documents) == set(batch[1:])
    assert table.read_analysis("batch:a")[plan["pooledChunks"][0]["chunk"]][0] == {"Sentiment": "POSITIVE", "SentimentScore": {}}


def test_purge_deletes_everything_or_one_language(stack):
    cache(stack).store([(("en", "a"), {"Sentiment": "POSITIVE"}), (("fr", "a"), {"Sentiment": "NEGATIVE"}), (("fr", "b"), {"Sentiment": "NEUTRAL"})])
    assert purge(stack.client("dynamodb"), stack.cache_table_name, "fr") == 2
    assert len(cache_items(stack)) == 1
    assert purge(stack.client("dynamodb"), stack.cache_table_name) == 1 and cache_items(stack) == []
