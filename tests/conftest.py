"""Fixtures for every tier: the offline stack (template.yaml on moto, handlers in-process), a
Snowflake driver on it, the row-text leak check and a clock a test moves by hand.

The tiers: tests/unit (plain functions, no emulated AWS; `make unit`), tests/offline (the whole
service on the offline stack), tests/template (template.yaml and the ASL, as written and against
what the code calls) and tests/tooling (make local, make demo, the benchmark, the docs, the pins).
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator

import pytest

from local.comprehend import StandIn
from local.stack import OfflineStack
from local.template import Template
from tests.helpers import ROW_TEXT_MARKER, FakeClock, Snowflake, history_text

for _name, _value in Template().globals["Environment"]["Variables"].items():
    if _name.startswith("POWERTOOLS_"):
        os.environ.setdefault(_name, str(_value))
"""Powertools reads its service name and metrics namespace when sentiment_service.observability is
first imported, which a test module may do before any offline stack sets the template's environment."""


@pytest.fixture
def stand_in() -> StandIn:
    return StandIn()


@pytest.fixture
def stack(stand_in: StandIn) -> Iterator[OfflineStack]:
    with OfflineStack(stand_in) as running:
        yield running


@pytest.fixture
def snowflake(stack: OfflineStack) -> Snowflake:
    return Snowflake(stack)


@pytest.fixture
def no_row_text_leaks(stack: OfflineStack, snowflake: Snowflake, capfd, caplog) -> Iterator[None]:
    """After the test: no row text in logs, execution history, execution input/output or error bodies.

    Powertools' handler keeps the stream it was created with, which pytest may since have
    swapped; a handler of our own with Powertools' formatter records exactly what it emits.
    """
    from sentiment_service.observability import logger

    emitted = io.StringIO()
    recorder = logging.StreamHandler(emitted)
    recorder.setFormatter(logger.registered_formatter)
    logger.addHandler(recorder)
    try:
        yield
    finally:
        logger.removeHandler(recorder)
    captured = capfd.readouterr()
    places = {
        "Powertools logs": emitted.getvalue(),
        "stdout": captured.out,
        "stderr": captured.err,
        "Python logging": caplog.text,
        "execution input, output, cause and history": history_text(stack),
        "error answers": json.dumps(snowflake.error_bodies, ensure_ascii=False),
    }
    for where, text in places.items():
        assert ROW_TEXT_MARKER not in text, f"row text leaked into {where}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
