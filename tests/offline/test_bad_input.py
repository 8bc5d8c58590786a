"""The bad-input catalogue: every kind gets a 4xx with a short JSON message (or a documented
success), and nothing is started, nothing stored, nothing logged that holds row text."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from local.snowflake import BATCH_ID_HEADER, snowflake_headers
from sentiment_service.protocol import MAX_BATCH_ROWS, MAX_DECOMPRESSED_BODY_BYTES
from tests.helpers import ROW_TEXT_MARKER, row_text, stored_items

pytestmark = pytest.mark.usefixtures("no_row_text_leaks")

TEXT = json.dumps(row_text(0))
ROWS_JSON = f"[[0, {TEXT}], [1, {json.dumps(row_text(1))}]]"


def headers_with(**changes: str | None) -> dict:
    headers = snowflake_headers()
    for name, value in changes.items():
        key = name.replace("_", "-")
        if value is None:
            headers.pop(key, None)
        else:
            headers[key] = value
    return headers


def gzip_bomb() -> bytes:
    return gzip.compress(b'{"data": [[0, "' + b"A" * (MAX_DECOMPRESSED_BODY_BYTES + 1024) + b'"]]}')


def nested(levels: int) -> str:
    return '{"data": [[0, ' + "[" * levels + "]" * levels + "]]}"


def tiny_arrays(count: int) -> str:
    """Few bytes, many values: what json.loads would turn into one list per `[]`."""
    return '{"ignored": [' + "[]," * count + '[]], "data": ' + ROWS_JSON + "}"


NON_ASCII_ID = "q:" + "\u20ac" * 340 + ":0"
"""344 characters, within the old 512-character bound, but 1,024 bytes of UTF-8."""


REJECTED = [
    ("malformed JSON", {}, '{"data": [[0, ' + TEXT, 400, "not valid JSON"),
    ("top-level array", {}, ROWS_JSON, 400, '"data" array'),
    ("top-level string", {}, TEXT, 400, '"data" array'),
    ("top-level null", {}, "null", 400, '"data" array'),
    ("no data key", {}, '{"rows": ' + ROWS_JSON + "}", 400, '"data" array'),
    ("data is an object", {}, '{"data": {"0": ' + TEXT + "}}", 400, "array of rows"),
    ("data is a string", {}, '{"data": ' + TEXT + "}", 400, "array of rows"),
    ("row is a string", {}, '{"data": [' + TEXT + "]}", 400, "not an array"),
    ("row is empty", {}, '{"data": [[]]}', 400, "not an array"),
    ("row number missing", {}, '{"data": [[' + TEXT + "]]}", 400, "not an integer"),
    ("row number is a string", {}, '{"data": [["0", ' + TEXT + "]]}", 400, "not an integer"),
    ("row number is a float", {}, '{"data": [[0.5, ' + TEXT + "]]}", 400, "not an integer"),
    ("row number is a boolean", {}, '{"data": [[true, ' + TEXT + "]]}", 400, "not an integer"),
    ("row number is null", {}, '{"data": [[null, ' + TEXT + "]]}", 400, "not an integer"),
    ("negative row number", {}, '{"data": [[-1, ' + TEXT + "]]}", 400, "negative"),
    ("duplicated row numbers", {}, '{"data": [[0, ' + TEXT + "], [0, " + TEXT + "]]}", 400, "more than once"),
    ("row without its argument", {}, '{"data": [[0]]}', 400, "takes (text) or (text, language)"),
    ("row with an extra argument", {}, '{"data": [[0, ' + TEXT + ", " + TEXT + ", " + TEXT + "]]}", 400, "takes (text) or (text, language)"),
    ("language header Comprehend does not read", {"sf-custom-language": "klingon"}, '{"data": [[0, ' + TEXT + "]]}", 400, "language header"),
    ("NaN is not JSON", {}, '{"data": [[0, NaN]]}', 400, "not valid JSON"),
    ("body is not UTF-8", {}, b'{"data": [[0, "\xff\xfe ROWTEXT0"]]}', 400, "not valid JSON"),
    ("empty body", {}, "", 400, "Empty request body"),
    ("missing batch id", {"sf_external_function_query_batch_id": None}, '{"data": ' + ROWS_JSON + "}", 400, BATCH_ID_HEADER),
    ("empty batch id", {"sf_external_function_query_batch_id": ""}, '{"data": ' + ROWS_JSON + "}", 400, BATCH_ID_HEADER),
    ("blank batch id", {"sf_external_function_query_batch_id": "   "}, '{"data": ' + ROWS_JSON + "}", 400, BATCH_ID_HEADER),
    ("oversized batch id", {"sf_external_function_query_batch_id": "q:" * 300}, '{"data": ' + ROWS_JSON + "}", 400, "longer than"),
    ("batch id with a control character", {"sf_external_function_query_batch_id": "q:1\x07:0"}, '{"data": ' + ROWS_JSON + "}", 400, "control characters"),
    ("non-ASCII batch id over 512 bytes", {"sf_external_function_query_batch_id": NON_ASCII_ID}, '{"data": ' + ROWS_JSON + "}", 400, "longer than 512 bytes"),
    ("oversized query id", {"sf_external_function_current_query_id": "q" * 513}, '{"data": ' + ROWS_JSON + "}", 400, "longer than 512 bytes"),
    ("query id with a control character", {"sf_external_function_current_query_id": "q\x00"}, '{"data": ' + ROWS_JSON + "}", 400, "control characters"),
    ("2,000 nested arrays", {}, nested(2_000), 400, "nested more than"),
    ("100,000 nested arrays", {}, nested(100_000), 400, "nested more than"),
    ("millions of tiny arrays under an ignored key", {}, tiny_arrays(1_900_000), 413, "JSON values"),
    ("the same, gzipped", {"Content_Encoding": "gzip"}, gzip.compress(tiny_arrays(1_900_000).encode()), 413, "JSON values"),
    ("says gzip but is plain: API Gateway refuses it", {"Content_Encoding": "gzip"}, '{"data": ' + ROWS_JSON + "}", 415, "Unsupported Media Type"),
    ("gzip bomb: API Gateway inflates it past Lambda's 6 MB", {"Content_Encoding": "gzip"}, gzip_bomb(), 413, "Request Too Long"),
    (
        "more rows than an answer can hold",
        {},
        json.dumps({"data": [[number, row_text(number)] for number in range(MAX_BATCH_ROWS + 1)]}),
        413,
        "MAX_BATCH_ROWS",
    ),
    ("body over Lambda's 6 MB", {}, json.dumps({"data": [[number, row_text(number, "x" * 4900)] for number in range(1300)]}), 413, "Request Too Long"),
]


@pytest.mark.parametrize("kind, changes, body, status, fragment", REJECTED, ids=[case[0] for case in REJECTED])
def test_bad_input_is_rejected_and_leaves_nothing(snowflake, stack, kind, changes, body, status, fragment):
    outcome = snowflake.post(headers=headers_with(**changes), body=body)
    assert outcome.status == status
    assert set(outcome.body) == {"message"}
    assert fragment in outcome.body["message"]
    assert len(outcome.body["message"]) <= 200
    assert ROW_TEXT_MARKER not in outcome.body["message"]
    assert stack.executions() == []
    assert stored_items(stack) == 0


def test_base64_body_that_is_not_base64_is_rejected(snowflake, stack):
    from local.apigateway import proxy_event

    handler, context = stack.function("StartBatchFunction")
    event = proxy_event("POST", "/sentiment", snowflake_headers(), "ROWTEXT0 not base64 %%%")
    event["isBase64Encoded"] = True
    response = handler(event, context.fresh())
    assert response["statusCode"] == 400 and "not valid base64" in json.loads(response["body"])["message"]
    assert stored_items(stack) == 0


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_wrong_methods_are_refused_by_the_api(snowflake, stack, method):
    outcome = snowflake.request(method, snowflake_headers(), '{"data": ' + ROWS_JSON + "}")
    assert outcome.status == 403 and outcome.body == {"message": "Missing Authentication Token"}
    assert stored_items(stack) == 0


def test_get_without_a_batch_id_is_400(snowflake):
    outcome = snowflake.get(headers_with(sf_external_function_query_batch_id=None))
    assert outcome.status == 400 and BATCH_ID_HEADER in outcome.body["message"]


def test_same_batch_id_with_a_different_body_is_409_and_the_first_batch_is_intact(snowflake, stack):
    headers = snowflake_headers()
    assert snowflake.post([row_text(0), row_text(1, "awful")], headers).status == 202
    conflict = snowflake.post([row_text(0, "something else")], headers)
    assert conflict.status == 409
    outcome = snowflake.wait(headers)
    assert outcome.status == 200
    assert [row for row, _ in outcome.body["data"]] == [0, 1]
    assert outcome.body["data"][1][1]["Sentiment"] == "NEGATIVE"
    assert len(stack.executions()) == 1


# Documented successes: odd but valid requests are answered in full.


def test_out_of_order_row_numbers_are_answered_in_the_inputs_order(snowflake):
    headers = snowflake_headers()
    body = json.dumps({"data": [[3, row_text(3)], [0, None], [7, row_text(7, "awful")], [1, row_text(3)]]})
    assert snowflake.post(headers=headers, body=body).status == 202
    outcome = snowflake.wait(headers)
    assert [row for row, _ in outcome.body["data"]] == [3, 0, 7, 1]
    assert outcome.body["data"][0][1] == outcome.body["data"][3][1]


def test_an_empty_batch_is_answered_at_once(snowflake, stack):
    outcome = snowflake.post(body='{"data": []}')
    assert (outcome.status, outcome.body) == (200, {"data": []})
    assert stack.executions() == [] and stored_items(stack) == 0


def test_a_batch_with_nothing_to_analyse_is_answered_at_once(snowflake, stack, stand_in):
    outcome = snowflake.post(body='{"data": [[0, null], [1, ""], [2, "  "], [3, 17], [4, {"a": "ROWTEXT"}]]}')
    assert outcome.status == 200
    assert [value for _, value in outcome.body["data"][:3]] == [None, None, None]
    assert outcome.body["data"][3][1]["Error"]["Code"] == "UnsupportedValue"
    assert stack.executions() == [] and stored_items(stack) == 0 and stand_in.calls == 0


def test_a_gzip_encoded_body_is_accepted(snowflake):
    headers = {**snowflake_headers(), "Content-Encoding": "gzip"}
    body = gzip.compress(json.dumps({"data": [[0, row_text(0)], [1, None]]}).encode())
    assert snowflake.post(headers=headers, body=body).status == 202
    outcome = snowflake.wait(headers)
    assert outcome.status == 200 and outcome.body["data"][1] == [1, None]


def test_a_base64_gzip_body_without_content_encoding_is_recognised(snowflake):
    headers = snowflake_headers()
    body = gzip.compress(json.dumps({"data": [[0, row_text(0)]]}).encode())
    assert snowflake.post(headers=headers, body=body).status == 202
    assert snowflake.wait(headers).status == 200


def test_huge_row_numbers_are_echoed_exactly(snowflake):
    headers = snowflake_headers()
    body = json.dumps({"data": [[2**62, row_text(0)], [0, row_text(1)]]})
    assert snowflake.post(headers=headers, body=body).status == 202
    assert [row for row, _ in snowflake.wait(headers).body["data"]] == [2**62, 0]


def test_base64_encoded_bodies_from_sam_generate_event(snowflake):
    headers = snowflake_headers()
    body = base64.b64encode(json.dumps({"data": [[0, row_text(0)]]}).encode()).decode()
    from local.apigateway import proxy_event

    event = proxy_event("POST", "/sentiment", headers, body)
    event["isBase64Encoded"] = True
    handler, context = snowflake.stack.function("StartBatchFunction")
    assert handler(event, context.fresh())["statusCode"] == 202
    assert snowflake.wait(headers).status == 200
