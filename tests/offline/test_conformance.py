"""Property: whatever Snowflake sends, the batch ends in 200 with exactly its row numbers, in order.

Half the batches are sentiment(text, language): each row's language is NULL, blank, a code
Comprehend reads (in any case), `auto`, or anything else.

Generated batches hold any Unicode (astral characters, lone surrogates sent as JSON escapes,
control characters), NULLs, numbers, booleans, objects, empty and 30 KB texts, heavy
duplication, and 0 to thousands of rows. Value null exactly for NULL and blank input; the
same text always gets the same value within a batch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, target
from hypothesis import strategies as st

from local.apigateway import LAMBDA_REQUEST_LIMIT
from local.snowflake import snowflake_headers
from local.stack import OfflineStack
from sentiment_service.chunking import AUTO, SUPPORTED_LANGUAGES, normalize_argument, row_language
from tests.helpers import Snowflake

EXAMPLES = int(os.environ.get("CONFORMANCE_EXAMPLES", "50"))

surrogates = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff", "\ud83d"])
characters = st.one_of(st.characters(), st.characters(min_codepoint=0x10000), st.characters(max_codepoint=0x1F), surrogates)
texts = st.one_of(
    st.text(characters, max_size=60),
    st.just(""),
    st.sampled_from([" ", "\t\n", "\u3000"]),
    st.builds(lambda unit, count: unit * count, st.text(characters, min_size=1, max_size=3), st.integers(10_000, 30_000)),
)
values = st.one_of(
    texts,
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.lists(st.integers(), max_size=3),
)


languages = st.one_of(
    st.none(),
    st.sampled_from(["", " "]),
    st.sampled_from([*SUPPORTED_LANGUAGES, AUTO]).flatmap(lambda code: st.sampled_from([code, code.upper()])),
    st.text(max_size=6),
    st.integers(),
)

EVENT_BUDGET = LAMBDA_REQUEST_LIMIT - 256 * 1024
"""A batch must reach the service to be answered: its proxy event stays under Lambda's 6 MB."""


@st.composite
def batches(draw: Any) -> list[Any]:
    """Rows drawn from a small pool of values, so duplicates are common; sizes up to thousands,
    cut where the request would no longer fit Lambda's payload limit."""
    pool = draw(st.lists(values, min_size=1, max_size=40))
    event_bytes = [len(json.dumps(json.dumps([2**63, value], ensure_ascii=True))) for value in pool]
    size = draw(st.one_of(st.integers(0, 40), st.integers(0, 3000)))
    picks = draw(st.lists(st.integers(0, len(pool) - 1), min_size=size, max_size=size))
    batch, used = [], 0
    for index in picks:
        used += event_bytes[index]
        if used > EVENT_BUDGET:
            break
        batch.append(pool[index])
    return batch


@pytest.fixture(scope="module")
def module_snowflake() -> Iterator[Snowflake]:
    with OfflineStack() as stack:
        yield Snowflake(stack)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(batch=batches(), row_languages=st.one_of(st.none(), st.lists(languages, min_size=1, max_size=6)))
def test_every_batch_ends_in_200_with_its_rows(module_snowflake: Snowflake, batch: list[Any], row_languages: list[Any] | None) -> None:
    target(float(len(batch)), label="rows")
    headers = snowflake_headers()
    language_of = [None if row_languages is None else row_languages[number % len(row_languages)] for number in range(len(batch))]
    data = [[number, value] if row_languages is None else [number, value, language_of[number]] for number, value in enumerate(batch)]
    body = json.dumps({"data": data}, ensure_ascii=True)
    accepted = module_snowflake.post(headers=headers, body=body)
    outcome = accepted if accepted.status == 200 else module_snowflake.wait(headers, timeout_s=300)
    assert accepted.status in (200, 202), accepted.body
    assert outcome.status == 200, outcome.body
    rows = outcome.body["data"]
    assert [row for row, _ in rows] == list(range(len(batch)))
    seen: dict[tuple[str, Any], Any] = {}
    for value, language, (_, answer) in zip(batch, language_of, rows, strict=True):
        normalized = normalize_argument(value)
        asked = row_language(language, "en")
        assert (answer is None) == (normalized is None)
        if normalized is None:
            continue
        if isinstance(asked, dict):
            assert answer["Error"]["Code"] == "UnsupportedLanguage", "a language Comprehend does not read is that row's error"
            continue
        if isinstance(value, str):
            assert seen.setdefault((value, asked), answer) == answer, "the same text in the same language got different values"
            if asked == AUTO:
                assert set(answer) == {"Sentiment", "SentimentScore", "LanguageCode"} or answer["Error"]["Code"] in ("UnsupportedLanguage", "LanguageUncertain")
            else:
                assert set(answer) == {"Sentiment", "SentimentScore"}
        else:
            assert answer["Error"]["Code"] == "UnsupportedValue"
