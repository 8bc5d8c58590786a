"""Request parsing: what Snowflake sends is accepted in every encoding, anything else is a clear 4xx."""

import base64
import gzip
import json

import pytest

from sentiment_service.protocol import (
    BATCH_ID_HEADER,
    MAX_BATCH_ROWS,
    MAX_DECOMPRESSED_BODY_BYTES,
    MAX_HEADER_ID_BYTES,
    MAX_JSON_DEPTH,
    MAX_JSON_VALUES,
    RequestRejected,
    parse_batch_request,
)

HEADERS = {BATCH_ID_HEADER: "01b02bdf-0001-7b58-0003-27d60056b5a6:1:1:0:0", "sf-external-function-current-query-id": "01b02bdf-0001-7b58-0003-27d60056b5a6"}
BODY = json.dumps({"data": [[0, "hello world"], [1, "I am happy"], [2, None]]})


def rejected(headers=HEADERS, body=BODY, is_base64=False) -> RequestRejected:
    with pytest.raises(RequestRejected) as caught:
        parse_batch_request(headers, body, is_base64=is_base64)
    return caught.value


def test_plain_body_gives_rows_and_ids():
    request = parse_batch_request(HEADERS, BODY, is_base64=False)
    assert request.batch_id == HEADERS[BATCH_ID_HEADER]
    assert request.query_id == "01b02bdf-0001-7b58-0003-27d60056b5a6"
    assert request.rows == [(0, "hello world"), (1, "I am happy"), (2, None)]


def test_base64_and_gzip_bodies_give_the_same_rows():
    plain = parse_batch_request(HEADERS, BODY, is_base64=False)
    encoded = parse_batch_request(HEADERS, base64.b64encode(BODY.encode()).decode(), is_base64=True)
    zipped = parse_batch_request({**HEADERS, "Content-Encoding": "gzip"}, base64.b64encode(gzip.compress(BODY.encode())).decode(), is_base64=True)
    assert plain.rows == encoded.rows == zipped.rows
    assert plain.fingerprint == encoded.fingerprint == zipped.fingerprint


def test_an_empty_batch_is_valid():
    assert parse_batch_request(HEADERS, '{"data": []}', is_base64=False).rows == []


def test_more_rows_than_the_answer_limit_allows_get_413():
    body = json.dumps({"data": [[number, "x"] for number in range(MAX_BATCH_ROWS + 1)]})
    error = rejected(body=body)
    assert error.status == 413 and "MAX_BATCH_ROWS" in error.message
    assert len(parse_batch_request(HEADERS, json.dumps({"data": [[number, "x"] for number in range(MAX_BATCH_ROWS)]}), is_base64=False).rows) == MAX_BATCH_ROWS


def test_headers_are_case_insensitive():
    upper = {key.upper(): value for key, value in HEADERS.items()}
    assert parse_batch_request(upper, BODY, is_base64=False).batch_id == HEADERS[BATCH_ID_HEADER]


def test_fingerprint_tells_different_rows_apart():
    other = json.dumps({"data": [[0, "hello world"], [1, "I am sad"], [2, None]]})
    assert parse_batch_request(HEADERS, BODY, is_base64=False).fingerprint != parse_batch_request(HEADERS, other, is_base64=False).fingerprint


@pytest.mark.parametrize(
    "body, fragment",
    [
        ("{not json", "not valid JSON"),
        ('["data"]', '"data" array'),
        ('{"rows": []}', '"data" array'),
        ('{"data": {"0": "x"}}', "array of rows"),
        ('{"data": ["text"]}', "not an array"),
        ('{"data": [[]]}', "not an array"),
        ('{"data": [["0", "x"]]}', "not an integer"),
        ('{"data": [[1.5, "x"]]}', "not an integer"),
        ('{"data": [[true, "x"]]}', "not an integer"),
        ('{"data": [[-1, "x"]]}', "negative"),
        ('{"data": [[0, "x"], [0, "y"]]}', "more than once"),
        ('{"data": [[0]]}', "sentiment takes (text) or (text, language)"),
        ('{"data": [[0, "x", "en", "y"]]}', "sentiment takes (text) or (text, language)"),
        ('{"data": [[0, NaN]]}', "not valid JSON"),
        ("", "Empty request body"),
    ],
)
def test_malformed_bodies_get_400_with_a_message(body, fragment):
    error = rejected(body=body)
    assert error.status == 400
    assert fragment in error.message


@pytest.mark.parametrize("batch_id", [None, "", "   ", "a\nb", "x" * 513])
def test_missing_or_odd_batch_ids_get_400(batch_id):
    headers = {} if batch_id is None else {BATCH_ID_HEADER: batch_id}
    error = rejected(headers=headers)
    assert error.status == 400
    assert BATCH_ID_HEADER in error.message


def test_bad_base64_and_bad_gzip_get_400():
    assert rejected(body="%%%not-base64%%%", is_base64=True).status == 400
    assert rejected(body=base64.b64encode(gzip.compress(BODY.encode())[:-12]).decode(), is_base64=True).status == 400


def test_a_body_api_gateway_already_inflated_is_read_although_the_header_still_says_gzip():
    request = parse_batch_request({**HEADERS, "Content-Encoding": "gzip"}, BODY, is_base64=False)
    assert request.rows == parse_batch_request(HEADERS, BODY, is_base64=False).rows


@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH - 3, MAX_JSON_DEPTH - 2])
def test_nesting_is_accepted_up_to_its_bound_and_refused_beyond(levels):
    body = '{"data": [[0, ' + "[" * levels + "]" * levels + "]]}"
    if levels + 3 <= MAX_JSON_DEPTH:
        assert parse_batch_request(HEADERS, body, is_base64=False).rows == [(0, [] if levels == 1 else json.loads("[" * levels + "]" * levels))]
    else:
        error = rejected(body=body)
        assert error.status == 400 and "nested" in error.message


def test_values_are_counted_before_parsing_and_strings_count_once():
    punctuated = 'a, b: [c] {d} \\" e' * 20
    assert punctuated.count(",") * MAX_BATCH_ROWS > MAX_JSON_VALUES
    body = json.dumps({"data": [[number, punctuated] for number in range(MAX_BATCH_ROWS)]})
    assert len(parse_batch_request(HEADERS, body, is_base64=False).rows) == MAX_BATCH_ROWS
    error = rejected(body='{"x": [' + "[]," * MAX_JSON_VALUES + '[]], "data": []}')
    assert error.status == 413 and "JSON values" in error.message


@pytest.mark.parametrize("name", [BATCH_ID_HEADER, "sf-external-function-current-query-id"])
def test_ids_are_bounded_in_utf8_bytes(name):
    fits = "\u20ac" * (MAX_HEADER_ID_BYTES // 3) + "a" * (MAX_HEADER_ID_BYTES % 3)
    assert len(fits.encode()) == MAX_HEADER_ID_BYTES
    assert getattr(parse_batch_request({**HEADERS, name: fits}, BODY, is_base64=False), "batch_id" if name == BATCH_ID_HEADER else "query_id") == fits
    error = rejected(headers={**HEADERS, name: fits + "a"})
    assert error.status == 400 and "512 bytes" in error.message
    assert rejected(headers={**HEADERS, name: "q\ud800"}).status == 400


def test_a_gzip_bomb_gets_413_without_expanding_it_all():
    bomb = gzip.compress(b"[" * (MAX_DECOMPRESSED_BODY_BYTES + 10))
    error = rejected(headers={**HEADERS, "Content-Encoding": "gzip"}, body=base64.b64encode(bomb).decode(), is_base64=True)
    assert error.status == 413


def test_rejections_never_quote_row_text():
    secret = "my secret review text"
    for body in ({"data": [[0, secret, secret, secret]]}, {"data": [[0, secret], [0, secret]]}, {"data": [["x", secret]]}):
        assert secret not in rejected(body=json.dumps(body)).message
