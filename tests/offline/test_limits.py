"""Each limit at and just above it: what is accepted end to end, and what the user sees beyond."""

from __future__ import annotations

import json
import random

import pytest

from local.snowflake import snowflake_headers
from sentiment_service.chunking import MAX_WORK_ITEMS, normalize_argument, plan_batch
from sentiment_service.comprehend import MAX_ERROR_CODE, MAX_ERROR_MESSAGE, error_value
from sentiment_service.protocol import MAX_ANSWER_BYTES, MAX_ROW_ANSWER_BYTES
from sentiment_service.storage import pack, paginate_rows
from tests import execution_history
from tests.helpers import row_text, stored_items

pytestmark = pytest.mark.usefixtures("no_row_text_leaks")

DYNAMODB_ITEM_LIMIT = 400 * 1024
LARGEST_BATCH = 30_000
"""The rows a batch may have, as the README tells Snowflake users (protocol.MAX_BATCH_ROWS)."""
COMPREHEND_DOCUMENT_BYTES = 5000
COMPREHEND_DOCUMENTS_PER_CALL = 25
SNOWFLAKE_ANSWER_LIMIT = 10 * 1000 * 1000
LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024
LONGEST_SCORE = 1.2345678901234567e-05
"""The longest repr a score in [0, 1] can have: 17 significant digits and an exponent."""


def widest_sentiment(text: str) -> dict:
    """A Comprehend answer whose JSON is as long as any can be."""
    return {"Sentiment": "POSITIVE", "SentimentScore": dict.fromkeys(("Positive", "Negative", "Neutral", "Mixed"), LONGEST_SCORE)}


def row_answer_bytes(value) -> int:
    return len(json.dumps([LARGEST_BATCH - 1, value], separators=(",", ":"), ensure_ascii=False).encode()) + 1


def test_no_row_answer_is_wider_than_its_bound():
    widest_error = error_value({"ErrorCode": '\u00e9"\\' * 100, "ErrorMessage": '\u2028"\\\x01' * 200})
    assert len(widest_error["Error"]["Code"]) == MAX_ERROR_CODE and len(widest_error["Error"]["Message"]) == MAX_ERROR_MESSAGE
    unsupported = normalize_argument({"nested": ["x" * 1000]})
    for value in (widest_sentiment("x"), widest_error, unsupported, None):
        assert row_answer_bytes(value) <= MAX_ROW_ANSWER_BYTES, value
    assert MAX_ANSWER_BYTES <= LAMBDA_RESPONSE_LIMIT - 1024 and MAX_ANSWER_BYTES < SNOWFLAKE_ANSWER_LIMIT


def test_the_largest_batch_is_answered_in_full_even_uncompressed(snowflake, stand_in):
    stand_in.analyse = widest_sentiment
    texts = [row_text(index % 1500, "fine") for index in range(LARGEST_BATCH)]
    headers = {key: value for key, value in snowflake_headers().items() if key != "Accept-Encoding"}
    assert snowflake.post(texts, headers).status == 202
    outcome = snowflake.wait(headers, timeout_s=300)
    assert outcome.status == 200
    assert [row for row, _ in outcome.body["data"]] == list(range(LARGEST_BATCH))
    answer_bytes = len(json.dumps(outcome.body, separators=(",", ":")).encode())
    assert answer_bytes <= MAX_ANSWER_BYTES
    print(f"\nlargest batch: {LARGEST_BATCH} rows, widest answer {answer_bytes:,} bytes uncompressed")


def test_one_row_more_is_refused_before_anything_is_stored(snowflake, stack):
    outcome = snowflake.post([row_text(index) for index in range(LARGEST_BATCH + 1)])
    assert outcome.status == 413 and "MAX_BATCH_ROWS = 5000" in outcome.body["message"]
    assert stack.executions() == [] and stored_items(stack) == 0


def test_a_body_just_under_lambdas_6_mb_is_accepted_and_just_over_is_413(snowflake, stack):
    def body_of(rows: int) -> str:
        return json.dumps({"data": [[number, row_text(number, "y" * 4950)] for number in range(rows)]})

    fits = body_of(1240)
    too_big = body_of(1275)
    assert len(fits) < 6 * 1024 * 1024 - 8 * 1024 < len(too_big)
    headers = snowflake_headers()
    assert snowflake.post(headers=headers, body=fits).status == 202
    beyond = snowflake.post(headers=snowflake_headers(), body=too_big)
    assert beyond.status == 413 and beyond.body == {"message": "Request Too Long"}
    assert snowflake.wait(headers, timeout_s=300).status == 200
    assert len(stack.executions()) == 1


def test_the_history_bound_holds_for_the_largest_batch():
    plan = plan_batch([f"text {index}" for index in range(LARGEST_BATCH)], "en")
    assert len(plan.chunks) == 1200
    assert len(plan.work_items) <= MAX_WORK_ITEMS
    assert execution_history.history_events_bound(execution_history.DEFINITION, len(plan.work_items)) < execution_history.HISTORY_LIMIT
    more_chunks = plan_batch([f"text {index}" for index in range(LARGEST_BATCH * 4)], "en")
    assert len(more_chunks.work_items) <= MAX_WORK_ITEMS


@pytest.mark.parametrize("alphabet", ['\x01\x02\x1f"\\', "".join(map(chr, range(0x4E00, 0x9FFF))), "😀🙂👍"])
def test_no_dynamodb_item_reaches_400_kb(alphabet):
    generator = random.Random(3)

    def worst_text() -> str:
        return normalize_argument("".join(generator.choice(alphabet) for _ in range(COMPREHEND_DOCUMENT_BYTES)))

    chunk = [worst_text() for _ in range(COMPREHEND_DOCUMENTS_PER_CALL)]
    assert len(pack(chunk)) + 200 < DYNAMODB_ITEM_LIMIT
    for page in paginate_rows([[number, worst_text()] for number in range(300)]):
        assert len(pack(page)) + 200 < DYNAMODB_ITEM_LIMIT
    widest = [[number, widest_sentiment("")] for number in range(LARGEST_BATCH)]
    for page in paginate_rows(widest):
        assert len(pack(page)) + 200 < DYNAMODB_ITEM_LIMIT


def test_an_answer_lambda_cannot_return_is_a_clear_500_not_a_502(snowflake, stand_in):
    """Lambda's 6 MB counts the response as its runtime serializes it, every quote of the body
    escaped; long row numbers can take an answer under 6,000,000 bytes past it."""
    value = {"Sentiment": "NEUTRAL", "SentimentScore": {"Positive": 0.25, "Negative": 0.25, "Neutral": 0.25, "Mixed": 0.25}}
    stand_in.analyse = lambda text: value
    rows = 25_000
    digits = 238 - len(json.dumps(value, separators=(",", ":"))) - 4
    numbers = [10 ** (digits - 1) + index for index in range(rows)]
    body = json.dumps({"data": [[number, value] for number in numbers]}, separators=(",", ":"))
    assert len(body) <= 6_000_000 < LAMBDA_RESPONSE_LIMIT < len(json.dumps({"statusCode": 200, "body": body}))
    headers = {key: value for key, value in snowflake_headers().items() if key != "Accept-Encoding"}
    request = json.dumps({"data": [[number, row_text(0, "fine")] for number in numbers]})
    assert snowflake.post(headers=headers, body=request).status == 202
    outcome = snowflake.wait(headers, timeout_s=300)
    assert outcome.status == 500 and "MAX_BATCH_ROWS" in outcome.body["message"]


@pytest.mark.parametrize("extra", [0, 1], ids=["exactly the bound", "one byte more"])
def test_a_gzip_body_inflating_to_the_bound_is_read_and_one_byte_more_is_413(extra):
    import gzip

    from sentiment_service import protocol

    bound = protocol.MAX_DECOMPRESSED_BODY_BYTES
    assert bound == 6 * 1024 * 1024, "Lambda's payload limit: API Gateway inflates larger gzip bodies into requests Lambda refuses"
    opening, closing = b'{"data": [[0, "', b'"]]}'
    inflated = opening + b"x" * (bound + extra - len(opening) - len(closing)) + closing
    assert len(inflated) == bound + extra
    body = gzip.compress(inflated, 1)
    if extra:
        with pytest.raises(protocol.RequestRejected) as refused:
            protocol.decode_body(body, is_base64=False)
        assert (refused.value.status, refused.value.message) == (413, "Request body expands to more than 6 MB; lower MAX_BATCH_ROWS on the external function.")
    else:
        assert protocol.decode_body(body, is_base64=False) == inflated
