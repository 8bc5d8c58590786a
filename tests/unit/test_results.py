"""Assembling the answer: every row, its own row number, the input's order."""

import pytest

from sentiment_service.chunking import plan_batch
from sentiment_service.results import ResultsIncomplete, assemble_rows


def value(label):
    return {"Sentiment": label, "SentimentScore": {"Positive": 0.1, "Negative": 0.2, "Neutral": 0.3, "Mixed": 0.4}}


def test_rows_come_back_in_input_order_with_shared_values():
    error = {"Error": {"Code": "UnsupportedValue", "Message": "m"}}
    plan = plan_batch(["b", None, "a", "b", error], "en")
    rows = assemble_rows([7, 3, 5, 1, 9], plan, {0: [value("B"), value("A")]})
    assert rows == [[7, value("B")], [3, None], [5, value("A")], [1, value("B")], [9, error]]


def test_a_missing_chunk_fails_instead_of_dropping_rows():
    plan = plan_batch([f"t{i}" for i in range(30)], "en")
    with pytest.raises(ResultsIncomplete, match=r"^1 of 2 chunks of the batch have no complete analysis\.$"):
        assemble_rows(list(range(30)), plan, {0: [value("X")] * 25})


def test_a_short_chunk_fails_instead_of_dropping_rows():
    plan = plan_batch(["a", "b"], "en")
    with pytest.raises(ResultsIncomplete):
        assemble_rows([0, 1], plan, {0: [value("X")]})
