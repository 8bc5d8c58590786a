"""Pages keep every DynamoDB item far below its 400 KB limit, whatever the rows hold."""

import random

import pytest

from sentiment_service.storage import MAX_PAGE_BYTES, ResultsTable, StorageThrottled, pack, paginate_rows, unpack

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


class UnprocessingDynamoDB:
    """BatchWriteItem leaving the last item of each call unprocessed for `rounds` calls, as a throttled table does."""

    def __init__(self, rounds: int):
        self.rounds = rounds
        self.calls: list[int] = []
        self.written: list[str] = []

    def batch_write_item(self, RequestItems):
        ((table, requests),) = RequestItems.items()
        self.calls.append(len(requests))
        left = requests[-1:] if self.rounds else []
        self.rounds -= bool(left)
        self.written += [request["PutRequest"]["Item"]["sk"]["S"] for request in requests[: len(requests) - len(left)]]
        return {"UnprocessedItems": {table: left}} if left else {"UnprocessedItems": {}}


def items(count: int) -> list[dict]:
    return [{"pk": {"S": "batch:1"}, "sk": {"S": f"chunk#{index:06d}"}} for index in range(count)]


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """The waits between resends, each its full-jitter bound."""
    from sentiment_service import errors, storage

    waits: list[float] = []

    def full_jitter(low: float, high: float) -> float:
        assert low == 0, "full jitter: any wait from none up to the bound"
        return high

    monkeypatch.setattr(errors.random, "uniform", full_jitter)
    monkeypatch.setattr(storage.time, "sleep", waits.append)
    return waits


def test_writes_go_25_items_a_call_and_unprocessed_items_are_resent_with_growing_waits(sleeps):
    dynamodb = UnprocessingDynamoDB(rounds=3)
    ResultsTable(dynamodb, "results", 3600)._put_all(items(60))
    assert dynamodb.calls == [25, 1, 1, 1, 25, 10]
    assert sorted(dynamodb.written) == [item["sk"]["S"] for item in items(60)]
    assert sleeps == [0.1, 0.2, 0.4]


def test_items_left_unprocessed_after_8_resends_are_a_throttle_step_functions_retries(sleeps):
    dynamodb = UnprocessingDynamoDB(rounds=1000)
    with pytest.raises(StorageThrottled, match=r"^DynamoDB left items unprocessed after 8 attempts\.$"):
        ResultsTable(dynamodb, "results", 3600)._put_all(items(3))
    assert dynamodb.calls == [3] + [1] * 8
    assert sleeps == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0, 2.0]


class PagedQuery:
    """Query answering in pages, as DynamoDB does past 1 MB."""

    def __init__(self, pages: list[list[dict]]):
        self.pages, self.requests = pages, []

    def query(self, **request):
        self.requests.append(dict(request))
        page = self.pages[len(self.requests) - 1]
        last = len(self.requests) == len(self.pages)
        return {"Items": page} if last else {"Items": page, "LastEvaluatedKey": {"sk": page[-1]["sk"]}}


def result_page(page: int, rows: list, expires_at: float) -> dict:
    return {"pk": {"S": "batch:1"}, "sk": {"S": f"result#{page:05d}"}, "data": {"B": pack(rows)}, "expiresAt": {"N": str(int(expires_at))}}


def test_reads_follow_every_page_and_skip_items_ttl_has_not_deleted_yet():
    import time

    live, gone = time.time() + 3600, time.time() - 1
    dynamodb = PagedQuery([[result_page(0, [[0, "a"]], live), result_page(1, [[1, "stale"]], gone)], [result_page(2, [[2, "b"]], live)]])
    assert ResultsTable(dynamodb, "results", 3600).read_results("batch:1") == [[0, "a"], [2, "b"]]
    first, second = dynamodb.requests
    assert first == {
        "TableName": "results",
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":pk": {"S": "batch:1"}, ":prefix": {"S": "result#"}},
        "ConsistentRead": True,
    }
    assert second == {**first, "ExclusiveStartKey": {"sk": {"S": "result#00001"}}}


def test_asking_which_chunks_are_analysed_reads_keys_only_over_the_range():
    import time

    item = {"pk": {"S": "batch:1"}, "sk": {"S": "analysis#000004"}, "expiresAt": {"N": str(int(time.time()) + 60)}}
    dynamodb = PagedQuery([[item]])
    assert ResultsTable(dynamodb, "results", 3600).analysed_chunks("batch:1", 3, 2) == {4}
    (request,) = dynamodb.requests
    assert request["KeyConditionExpression"] == "pk = :pk AND sk BETWEEN :first AND :last"
    assert request["ExpressionAttributeValues"] == {":pk": {"S": "batch:1"}, ":first": {"S": "analysis#000003"}, ":last": {"S": "analysis#000004"}}
    assert request["ProjectionExpression"] == "sk, expiresAt" and request["ConsistentRead"] is True
