"""Pages keep every DynamoDB item far below its 400 KB limit, whatever the rows hold."""

import random

from sentiment_service.storage import MAX_PAGE_BYTES, pack, paginate_rows, unpack

DYNAMODB_ITEM_LIMIT = 400 * 1024


def test_pages_round_trip_and_keep_order():
    rows = [[i, f"text {i} é😀"] for i in range(20_000)]
    pages = paginate_rows(rows)
    assert len(pages) > 1
    assert [row for page in pages for row in unpack(pack(page))] == rows


def test_incompressible_pages_stay_under_the_item_limit():
    generator = random.Random(1)
    rows = [[i, "".join(chr(generator.randint(0x4E00, 0x9FFF)) for _ in range(1666))] for i in range(400)]
    for page in paginate_rows(rows):
        assert len(pack(page)) + 200 < DYNAMODB_ITEM_LIMIT


def test_a_single_large_row_still_gets_a_page():
    rows = [[0, "x" * (MAX_PAGE_BYTES + 10)]]
    assert paginate_rows(rows) == [rows]
