"""Every language Comprehend reads: the function's language header, a language per row, and `auto`."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from local.snowflake import snowflake_headers
from sentiment_service.chunking import AUTO, SUPPORTED_LANGUAGES, estimated_calls, plan_batch
from sentiment_service.pool import POOL

SPANISH = "Me encanta este producto, funciona perfectamente y llegó muy rápido."
FRENCH = "Ce restaurant était décevant, le service était très lent et froid."
ENGLISH = "I love this blender, it makes smoothies in seconds and cleans up easily."
RUSSIAN = "Этот продукт мне очень понравился, работает отлично и быстро."


@pytest.fixture
def sent(stand_in) -> Counter:
    """(language, text) of every document sent to BatchDetectSentiment."""
    documents: Counter = Counter()
    analyse = stand_in.batch_detect_sentiment

    def recording(text_list: Any, language: Any) -> dict:
        answer = analyse(text_list, language)
        documents.update((language, text) for text in text_list)
        return answer

    stand_in.batch_detect_sentiment = recording
    return documents


def body(rows: list[list[Any]]) -> str:
    return json.dumps({"data": rows})


def values(outcome) -> list[Any]:
    assert outcome.status == 200, outcome.body
    return [value for _, value in outcome.body["data"]]


def run(snowflake, rows: list[list[Any]], headers: dict | None = None):
    headers = headers or snowflake_headers()
    accepted = snowflake.post(headers=headers, body=body(rows))
    assert accepted.status in (200, 202), accepted.body
    return accepted if accepted.status == 200 else snowflake.wait(headers)


def test_the_functions_language_header_overrides_the_deployments(snowflake, sent):
    headers = {**snowflake_headers(), "sf-custom-language": "FR"}
    answer = values(run(snowflake, [[0, FRENCH], [1, ENGLISH]], headers))
    assert set(sent) == {("fr", FRENCH), ("fr", ENGLISH)}
    assert all(set(value) == {"Sentiment", "SentimentScore"} for value in answer)


@pytest.mark.parametrize("language", ["xx", "english", "auto-detect", "e n"])
def test_a_language_header_comprehend_does_not_read_is_a_4xx_naming_the_language_header(snowflake, language):
    outcome = snowflake.post([ENGLISH], headers={**snowflake_headers(), "sf-custom-language": language})
    assert outcome.status == 400
    assert "language header" in outcome.body["message"] and "auto" in outcome.body["message"]


def test_each_row_is_analysed_in_its_own_language_and_identical_texts_in_two_languages_are_two_documents(snowflake, sent):
    rows = [[0, SPANISH, "es"], [1, ENGLISH, "en"], [2, ENGLISH, "de"], [3, FRENCH, None], [4, FRENCH, ""], [5, SPANISH, "ES"]]
    answer = values(run(snowflake, rows))
    assert sent == Counter({("es", SPANISH): 1, ("en", ENGLISH): 1, ("de", ENGLISH): 1, ("en", FRENCH): 1}), "NULL and empty mean the function's default"
    assert answer[0] == answer[5], "codes are read without regard to case"
    assert all("Sentiment" in value and "LanguageCode" not in value for value in answer)


def test_a_row_language_comprehend_does_not_read_is_that_rows_error_and_the_batch_goes_on(snowflake, sent):
    answer = values(run(snowflake, [[0, ENGLISH, "klingon"], [1, ENGLISH, "en"], [2, None, "klingon"], [3, ENGLISH, 7]]))
    assert answer[0]["Error"]["Code"] == "UnsupportedLanguage" and "'klingon'" in answer[0]["Error"]["Message"]
    assert answer[1]["Sentiment"] and answer[2] is None
    assert answer[3]["Error"]["Code"] == "UnsupportedLanguage"
    assert sent == Counter({("en", ENGLISH): 1})


def test_auto_detects_only_the_unique_texts_that_need_it_and_says_which_language_it_read(snowflake, stand_in, sent):
    rows = [[0, SPANISH, "auto"], [1, FRENCH, "auto"], [2, SPANISH, "AUTO"], [3, ENGLISH, "en"], [4, "   ", "auto"], [5, None, "auto"], [6, ENGLISH, "auto"]]
    answer = values(run(snowflake, rows))
    assert stand_in.detection_documents == Counter({SPANISH: 1, FRENCH: 1, ENGLISH: 1})
    assert [answer[index]["LanguageCode"] for index in (0, 1, 2, 6)] == ["es", "fr", "es", "en"]
    assert "LanguageCode" not in answer[3], "a row whose language was given says nothing more"
    assert answer[4] is None and answer[5] is None
    assert sent == Counter({("es", SPANISH): 1, ("fr", FRENCH): 1, ("en", ENGLISH): 1}), "the auto row shares its document with the row in English"


def test_auto_gives_a_row_error_for_a_language_sentiment_does_not_read_and_for_an_uncertain_detection(snowflake, stand_in, sent):
    unsure = "ok ok ok ok ok ok ok ok ok ok"
    detect = stand_in.detect
    stand_in.detect = lambda text: [{"LanguageCode": "en", "Score": 0.31}, {"LanguageCode": "nl", "Score": 0.3}] if text == unsure else detect(text)
    answer = values(run(snowflake, [[0, RUSSIAN, "auto"], [1, unsure, "auto"], [2, ENGLISH, "auto"]]))
    assert answer[0]["Error"]["Code"] == "UnsupportedLanguage" and "'ru'" in answer[0]["Error"]["Message"]
    assert answer[1]["Error"]["Code"] == "LanguageUncertain" and "0.31" in answer[1]["Error"]["Message"]
    assert answer[2]["LanguageCode"] == "en"
    assert sent == Counter({("en", ENGLISH): 1})


def test_auto_as_the_deployments_default(snowflake, stand_in, monkeypatch):
    monkeypatch.setenv("LANGUAGE_CODE", "auto")
    answer = values(run(snowflake, [[0, SPANISH], [1, ENGLISH]]))
    assert [value["LanguageCode"] for value in answer] == ["es", "en"]


def test_detection_calls_are_governed_and_counted_against_the_window(snowflake, stand_in):
    texts = [f"{ENGLISH} Review number {index}." for index in range(60)]
    assert estimated_calls(texts, AUTO) == 3 + 3, "a detection call and a sentiment call per 25 auto texts"
    answer = values(run(snowflake, [[index, text, "auto"] for index, text in enumerate(texts)]))
    assert all(value["LanguageCode"] == "en" for value in answer)
    assert sum(stand_in.detection_documents.values()) == 60 and stand_in.calls == 3 + 3


def test_each_languages_last_chunk_waits_in_its_own_pool(stack, snowflake, sent):
    rows = [[index, f"{SPANISH} {index}", "es"] for index in range(3)] + [[3 + index, f"{ENGLISH} {index}", "en"] for index in range(4)]
    values(run(snowflake, rows))
    pools = {item["pk"]["S"] for item in stack.client("dynamodb").scan(TableName=stack.table_name)["Items"] if item["pk"]["S"].startswith(POOL)}
    assert pools <= {f"{POOL}es", f"{POOL}en"}
    assert Counter(language for language, _ in sent) == Counter({"es": 3, "en": 4})


def test_a_plan_keeps_chunks_one_language_and_pools_each_languages_last_chunk():
    texts = [f"text {index}" for index in range(60)]
    plan = plan_batch(texts + texts, ["es"] * 60 + ["fr"] * 60)
    assert len(plan.documents) == 120
    assert all(len({plan.documents[document][0] for document in chunk}) == 1 for chunk in plan.chunks)
    assert [plan.chunk_languages[chunk] for chunk in plan.pooled_chunks] == ["es", "fr"]
    assert all(len(plan.chunks[chunk]) == 10 for chunk in plan.pooled_chunks)
    assert sum(item.chunk_count for item in plan.work_items) == 4


def test_a_plan_with_auto_rows_is_their_detection_first_then_sentiment_in_the_detected_languages():
    first = plan_batch(["hola", "hello", "hola"], [AUTO, "en", AUTO])
    assert first.detecting and first.chunk_languages == [AUTO] and first.chunks == [[0]]
    detections = {0: [{"LanguageCode": "es", "Score": 0.99}]}
    second = plan_batch(["hola", "hello", "hola"], [AUTO, "en", AUTO], detections, threshold=0.5)
    assert not second.detecting and second.detected_rows == {0, 2}
    assert second.chunk_languages[: second.detection_chunks] == [AUTO]
    assert sorted(second.documents[1:]) == [("en", "hello"), ("es", "hola")]
    assert set(SUPPORTED_LANGUAGES) >= set(second.chunk_languages[second.detection_chunks :])
