"""A Snowflake-like client: send a file of texts as Snowflake batches and collect every row's value.

Works against `make local` and against a deployed stack (`--sigv4` signs each request with
your AWS credentials, as Snowflake's API integration does with its role). Requests carry
the headers of events/post.json, bodies are gzipped like Snowflake's COMPRESSION = AUTO, and
each batch goes through Snowflake's loop (local/snowflake.run_batch).
"""

from __future__ import annotations

import csv
import gzip
import http.client
import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from threading import Lock
from typing import Any

from .snowflake import BATCH_ID_HEADER, batch_body, run_batch, snowflake_headers

TRANSPORT_HEADERS = {
    "host",
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "x-forwarded-for",
    "x-forwarded-port",
    "x-forwarded-proto",
    "content-length",
}


CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 60.0
UNREACHABLE_AFTER_S = 10.0
"""How long the client keeps retrying a service it cannot connect to, since it last got any answer:
Snowflake would retry for its whole 10 minutes, a person at a terminal wants to know at once."""


class BatchFailed(Exception):
    """The service answered a batch with an error; its status and message, as Snowflake would show them."""


class ServiceUnreachable(BatchFailed):
    """No connection to the service for UNREACHABLE_AFTER_S: it is not running, or the URL is wrong."""


def delimiter_of(path: Path, delimiter: str | None) -> str:
    """The CSV delimiter: as given (`\\t` or `tab` for a tab), else a tab for .tsv files, else a comma."""
    if delimiter is None:
        return "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    value = {"tab": "\t", "\\t": "\t"}.get(delimiter.lower(), delimiter)
    if len(value) != 1:
        raise SystemExit(f"--delimiter must be one character (or \\t), not {delimiter!r}")
    return value


def load_texts(path: Path, column: str | None = None, encoding: str = "utf-8", delimiter: str | None = None) -> list[Any]:
    """Texts from a CSV or TSV (a column by name, else the first; empty cells are NULL) or a JSON list."""
    try:
        if path.suffix.lower() == ".json":
            document = json.loads(path.read_text(encoding=encoding))
            items = document["data"] if isinstance(document, dict) else document
            return [item.get(column) if column and isinstance(item, dict) else item for item in items]
        with path.open(newline="", encoding=encoding) as handle:
            reader = csv.DictReader(handle, delimiter=delimiter_of(path, delimiter))
            name = column or (reader.fieldnames or [""])[0]
            if reader.fieldnames is None or name not in reader.fieldnames:
                raise SystemExit(f"{path}: no column {name!r} (columns: {reader.fieldnames})")
            return [row[name] if row[name] != "" else None for row in reader]
    except UnicodeDecodeError as error:
        raise SystemExit(
            f"{path}: not {encoding} text (byte 0x{error.object[error.start]:02x} at offset {error.start}); name its encoding, e.g. --encoding "
            "cp1252 or --encoding latin-1"
        ) from None
    except LookupError:
        raise SystemExit(f"--encoding {encoding!r}: no such encoding (e.g. utf-8, cp1252, latin-1, utf-16)") from None


@dataclass
class Progress:
    total_rows: int
    show: Callable[[str], None]
    done_rows: int = 0
    batches_done: int = 0
    _lock: Lock = field(default_factory=Lock)

    def batch_done(self, rows: int) -> None:
        with self._lock:
            self.done_rows += rows
            self.batches_done += 1
            self.show(f"{self.done_rows}/{self.total_rows} rows done ({self.batches_done} batches)")


class Client:
    def __init__(
        self, url: str, sigv4_region: str | None = None, gzip_bodies: bool = True, timeout_s: float = 600.0, unreachable_after_s: float = UNREACHABLE_AFTER_S
    ):
        self.url = url
        self.gzip_bodies = gzip_bodies
        self.timeout_s = timeout_s
        self.unreachable_after_s = unreachable_after_s
        self._last_answer = time.monotonic()
        self._answered = False
        self._opener = urllib.request.build_opener(_ConnectTimeoutHTTP, _ConnectTimeoutHTTPS)
        self.signer = _signer(sigv4_region) if sigv4_region else None
        self.executions: list[str] = []
        """Execution names from the POSTs' 202 answers, for the debugging commands."""
        self.batch_ids: list[str] = []
        """The batch ids of those POSTs, in the same order."""

    def request(self, method: str, headers: dict[str, str], body: bytes | None = None) -> tuple[int, Any]:
        headers = dict(headers)
        if body is not None and self.gzip_bodies:
            body = gzip.compress(body, mtime=0)
            headers["Content-Encoding"] = "gzip"
        if self.signer:
            headers = self.signer(method, self.url, headers, body)
        request = urllib.request.Request(self.url, data=body, method=method, headers=headers)
        try:
            with self._opener.open(request, timeout=READ_TIMEOUT_S) as response:
                return response.status, _read_json(response.read(), response.headers.get("Content-Encoding"))
        except urllib.error.HTTPError as error:
            return error.code, _read_json(error.read(), error.headers.get("Content-Encoding"))

    def exchange(self, method: str, headers: dict[str, str], body: bytes | None) -> tuple[int, Any]:
        try:
            status, answer = self.request(method, headers, body)
        except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as error:
            reason = getattr(error, "reason", error)
            if not self._answered and isinstance(reason, ConnectionRefusedError):
                raise ServiceUnreachable(f"cannot reach {self.url} (connection refused): is `make local` running, and is the URL right?") from None
            if time.monotonic() - self._last_answer >= self.unreachable_after_s:
                raise ServiceUnreachable(
                    f"cannot reach {self.url} ({reason}) for {self.unreachable_after_s:.0f} s: is `make local` running, and is the URL right?"
                ) from None
            return 599, {"message": str(reason)}
        self._last_answer, self._answered = time.monotonic(), True
        if method == "POST" and status == 202 and isinstance(answer, dict) and isinstance(answer.get("execution"), str):
            self.executions.append(answer["execution"])
            self.batch_ids.append(headers[BATCH_ID_HEADER])
        return status, answer

    def run_batch(self, texts: list[Any], query_id: str, number: int) -> list[Any]:
        """One Snowflake batch: POST until accepted, then GET until answered; its values in row order."""
        headers = {key: value for key, value in snowflake_headers(f"{query_id}:1:{number}:0:0", query_id).items() if key.lower() not in TRANSPORT_HEADERS}
        status, answer = run_batch(self.exchange, headers, batch_body(texts).encode("utf-8"), time.monotonic() + self.timeout_s)
        if status == 202:
            raise BatchFailed(f"batch {headers[BATCH_ID_HEADER]}: not answered within {self.timeout_s:.0f} s (Snowflake gives up after 10 minutes)")
        if status != 200:
            raise BatchFailed(f"batch {headers[BATCH_ID_HEADER]}: answered {status}: {answer}")
        rows = answer["data"]
        if [row for row, _ in rows] != list(range(len(texts))):
            raise BatchFailed(f"batch {headers[BATCH_ID_HEADER]}: rows missing or out of order")
        return [value for _, value in rows]

    def run(
        self, texts: list[Any], batch_rows: int = 1000, parallel: int = 4, show: Callable[[str], None] | None = None, query_id: str | None = None
    ) -> list[Any]:
        """Every text's value, sending `batch_rows` rows per batch, `parallel` batches at once."""
        query_id = query_id or str(uuid.uuid4())
        progress = Progress(len(texts), show or (lambda line: None))
        batches = [texts[start : start + batch_rows] for start in range(0, len(texts), batch_rows)]

        def one(item: tuple[int, list[Any]]) -> list[Any]:
            number, batch = item
            values = self.run_batch(batch, query_id, number)
            progress.batch_done(len(batch))
            return values

        with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
            return [value for values in pool.map(one, enumerate(batches)) for value in values]


class _ConnectTimeoutHTTP(urllib.request.HTTPHandler):
    """Connects within CONNECT_TIMEOUT_S, then waits up to the request's timeout for the answer."""

    def http_open(self, request: urllib.request.Request) -> Any:
        return self.do_open(_connect_timeout(http.client.HTTPConnection), request)


class _ConnectTimeoutHTTPS(urllib.request.HTTPSHandler):
    def https_open(self, request: urllib.request.Request) -> Any:
        return self.do_open(_connect_timeout(http.client.HTTPSConnection), request, context=self._context)


def _connect_timeout(base: type) -> type:
    class Connection(base):  # type: ignore[misc, valid-type]
        def connect(self) -> None:
            read_timeout, self.timeout = self.timeout, CONNECT_TIMEOUT_S
            try:
                super().connect()
            finally:
                self.timeout = read_timeout
            self.sock.settimeout(read_timeout)

    return Connection


def _read_json(raw: bytes, encoding: str | None) -> Any:
    if encoding == "gzip":
        raw = gzip.decompress(raw)
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", "replace")[:200]


def _signer(region: str) -> Callable[[str, str, dict[str, str], bytes | None], dict[str, str]]:
    """SigV4 for execute-api with the caller's AWS credentials (profile, environment or role)."""
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = boto3.session.Session().get_credentials()
    if credentials is None:
        raise SystemExit("--sigv4 needs AWS credentials (environment, profile or role)")

    def sign(method: str, url: str, headers: dict[str, str], body: bytes | None) -> dict[str, str]:
        request = AWSRequest(method=method, url=url, data=body, headers=headers)
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
        return dict(request.headers.items())

    return sign


def summarize(value: Any) -> tuple[str, str]:
    """(sentiment, scores) of a row value, for a table a person reads."""
    if value is None:
        return "NULL", ""
    if "Error" in value:
        return "ERROR", f"{value['Error']['Code']}: {value['Error']['Message']}"
    scores = value["SentimentScore"]
    read_as = f"  (detected {value['LanguageCode']})" if "LanguageCode" in value else ""
    return value["Sentiment"], " ".join(f"{name[:3].lower()}={scores[name]:.2f}" for name in ("Positive", "Negative", "Neutral", "Mixed")) + read_as


def format_table(texts: list[Any], values: list[Any], width: int = 48) -> str:
    lines = [f"{'row':>4}  {'text':<{width}}  {'sentiment':<9}  scores", f"{'-' * 4}  {'-' * width}  {'-' * 9}  {'-' * 38}"]
    for row, (text, value) in enumerate(zip(texts, values, strict=True)):
        shown = "NULL" if text is None else json.dumps(text, ensure_ascii=False)[1:-1]
        shown = shown if len(shown) <= width else shown[: width - 1] + "…"
        sentiment, scores = summarize(value)
        lines.append(f"{row:>4}  {shown:<{width}}  {sentiment:<9}  {scores}")
    return "\n".join(lines)


def save(path: Path, texts: list[Any], values: list[Any]) -> None:
    if path.suffix.lower() == ".json":
        path.write_text(
            json.dumps(
                [{"row": row, "text": text, "value": value} for row, (text, value) in enumerate(zip(texts, values, strict=True))], ensure_ascii=False, indent=1
            ),
            encoding="utf-8",
        )
        return
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "text", "sentiment", "positive", "negative", "neutral", "mixed", "error"])
        for row, (text, value) in enumerate(zip(texts, values, strict=True)):
            scores = (value or {}).get("SentimentScore", {})
            error = (value or {}).get("Error")
            writer.writerow(
                [
                    row,
                    text,
                    (value or {}).get("Sentiment", ""),
                    *(scores.get(name, "") for name in ("Positive", "Negative", "Neutral", "Mixed")),
                    f"{error['Code']}: {error['Message']}" if error else "",
                ]
            )


def progress_printer(stream: Any = None) -> Callable[[str], None]:
    stream = stream or sys.stderr
    interactive = stream.isatty()

    def show(line: str) -> None:
        stream.write(("\r" + line) if interactive else line + "\n")
        stream.flush()

    return show
