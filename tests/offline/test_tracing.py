"""X-Ray keeps traces for 30 days, outside the table's retention and key: it records no answers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from sentiment_service import observability
from tests.helpers import row_text


class Subsegment:
    def __init__(self, recorded: list[tuple[str, Any]]):
        self.recorded = recorded

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        self.recorded.append((key, value))

    def put_annotation(self, key: str, value: Any) -> None:
        """Annotations hold the cold start flag and the service name only."""

    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None:
        self.recorded.append(("exception", str(exception)))


class RecordingProvider:
    """Stands in for the X-Ray SDK: keeps whatever the handlers' tracing would send."""

    def __init__(self) -> None:
        self.recorded: list[tuple[str, Any]] = []

    @contextlib.contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Iterator[Subsegment]:
        yield Subsegment(self.recorded)


@pytest.fixture
def traces(monkeypatch) -> RecordingProvider:
    provider = RecordingProvider()
    monkeypatch.setattr(observability.tracer, "provider", provider)
    return provider


def test_no_handler_records_its_answer_or_its_errors_in_traces(snowflake, stand_in, traces):
    texts = [row_text(index, f"I love number {index}") for index in range(40)]
    answered = snowflake.run(texts)
    assert answered.status == 200
    stand_in.fail_with = "AccessDeniedException"
    failed = snowflake.run([row_text(99, "refused")])
    assert failed.status == 500
    assert traces.recorded == []
