"""What reaches Comprehend: Comprehend's limits, each text once, nothing for NULL or blank rows."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentiment_service.chunking import group_chunks, normalize_argument, plan_batch, truncate_utf8

COMPREHEND_DOCUMENT_BYTES = 5000
COMPREHEND_DOCUMENTS_PER_CALL = 25
"""BatchDetectSentiment's documented limits, which the constants under test must keep."""


def test_short_text_is_kept_whole():
    assert truncate_utf8("héllo") == "héllo"


@pytest.mark.parametrize("char", ["a", "é", "€", "😀"])
def test_long_text_is_cut_between_characters(char):
    text = char * 6000
    cut = truncate_utf8(text)
    assert len(cut.encode("utf-8")) <= COMPREHEND_DOCUMENT_BYTES
    assert text.startswith(cut)
    assert len(cut.encode("utf-8")) > COMPREHEND_DOCUMENT_BYTES - len(char.encode("utf-8"))


def test_a_text_of_exactly_5000_bytes_is_kept_whole():
    assert truncate_utf8("é" * 2500) == "é" * 2500
    assert normalize_argument("x" * 5001) == "x" * 5000


@given(st.text(min_size=0, max_size=3000))
def test_truncation_is_valid_utf8_prefix_within_limit(text):
    cut = truncate_utf8(text.replace("\ud800", ""), 1000)
    assert len(cut.encode("utf-8")) <= 1000
    assert text.replace("\ud800", "").startswith(cut)


@pytest.mark.parametrize("value", [None, "", " ", "\t\n", "\u3000"])
def test_null_and_blank_rows_have_no_document(value):
    assert normalize_argument(value) is None


@pytest.mark.parametrize("value, kind", [(3, "number"), (2.5, "number"), (True, "boolean"), ({"a": 1}, "object"), ([1], "array")])
def test_non_text_rows_get_a_row_error(value, kind):
    assert normalize_argument(value) == {"Error": {"Code": "UnsupportedValue", "Message": f"sentiment takes text; this row holds a JSON {kind}."}}


def test_lone_surrogates_become_replacement_characters():
    assert normalize_argument("ok \ud83d end") == "ok \ufffd end"
    assert normalize_argument("ok \ud83d end").encode("utf-8")


def test_identical_texts_are_one_document():
    plan = plan_batch(["good", "bad", "good", None, "good"], "en")
    assert plan.documents == [("en", "good"), ("en", "bad")]
    assert plan.row_documents == [0, 1, 0, None, 0]


def test_texts_equal_after_truncation_share_a_document():
    a, b = "x" * 6000 + "a", "x" * 6000 + "b"
    plan = plan_batch([normalize_argument(a), normalize_argument(b)], "en")
    assert len(plan.documents) == 1


def test_chunks_hold_at_most_25_documents_and_cover_each_once():
    plan = plan_batch([f"text {i}" for i in range(1001)], "en")
    assert all(1 <= len(chunk) <= COMPREHEND_DOCUMENTS_PER_CALL for chunk in plan.chunks)
    assert sorted(index for chunk in plan.chunks for index in chunk) == list(range(1001))
    assert len(plan.chunks) == 41


def test_a_batch_of_only_nulls_makes_no_chunks():
    plan = plan_batch([None, None], "en")
    assert plan.chunks == [] and plan.work_items == []


def test_unsupported_language_is_refused():
    with pytest.raises(ValueError):
        plan_batch(["x"], "xx")


@given(st.integers(min_value=0, max_value=30_000), st.integers(min_value=1, max_value=600))
def test_work_items_cover_every_chunk_once_within_the_cap(chunks, cap):
    items = group_chunks(chunks, cap)
    assert len(items) <= cap
    covered = [chunk for item in items for chunk in range(item.first_chunk, item.first_chunk + item.chunk_count)]
    assert covered == list(range(chunks))
    assert all(item.chunk_count >= 1 for item in items)


@pytest.mark.parametrize("documents, pooled, mapped", [(1, 0, 0), (24, 0, 0), (25, None, 1), (26, 1, 1), (1001, 40, 40), (1000, None, 40)])
def test_only_a_partly_filled_last_chunk_is_pooled_and_left_out_of_the_map(documents, pooled, mapped):
    plan = plan_batch([f"text {i}" for i in range(documents)], "en")
    assert plan.pooled_chunks == ([] if pooled is None else [pooled])
    assert sum(item.chunk_count for item in plan.work_items) == mapped
    covered = {chunk for item in plan.work_items for chunk in range(item.first_chunk, item.first_chunk + item.chunk_count)}
    assert covered | ({pooled} if pooled is not None else set()) == set(range(len(plan.chunks)))
