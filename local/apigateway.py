"""API Gateway, offline: the template's REST API in front of its Lambda proxy integrations.

What it emulates, for the OfflineStack (`RestApi.request`, a proxy response as a dict) and for
`make local`'s HTTP face (the helpers that turn bytes into a request and a response into bytes):
- the routes: a method and path the template declares no route for is a 403 "Missing
  Authentication Token", as from a REST API with IAM authorization;
- the stage prefix: clients call /v1/sentiment, the function sees /sentiment;
- REST API Lambda proxy events (`proxy_event`), binary bodies base64-encoded;
- compressed requests: a gzip or deflate body is inflated before the function sees it, and
  one that is not what its Content-Encoding says is a 415;
- compressed responses: gzip above the API's MinimumCompressionSize when the client accepts it;
- an isBase64Encoded response is passed on as text when the API has no BinaryMediaTypes.

The limits it enforces: Lambda's synchronous payload limits, a 413 "Request Too Long" for a
request event above 6 MiB (inflating stops just past it) and a 502 "Internal server error"
for a function response above 6 MiB + 100 bytes.
"""

from __future__ import annotations

import base64
import gzip
import json
import uuid
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sentiment_service.protocol import header

from .template import Route

ACCOUNT = "123456789012"
"""The offline account the API is deployed in."""
SNOWFLAKE_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/snowflake-sentiment"
"""The role Snowflake's API integration assumes: the caller every proxy event names."""
STAGE = "v1"
"""The template's StageName."""

LAMBDA_REQUEST_LIMIT = 6 * 1024 * 1024
LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024 + 100
"""Lambda's synchronous payload limits in bytes; API Gateway answers 413 to a request event
above the first and 502 to a response above the second."""

ProxyIntegration = Callable[[str, dict], dict]
"""(function name, proxy event) -> the function's proxy response."""


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str


def gateway_answer(status: int, message: str) -> dict:
    """An answer API Gateway gives itself, before or after the function."""
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps({"message": message}), "isBase64Encoded": False}


class RestApi:
    """The template's routes, each to its function through a Lambda proxy integration."""

    def __init__(self, routes: Iterable[Route], integration: ProxyIntegration, binary_media_types: Any = None, minimum_compression: int | None = None):
        self._routes = {(route.method, route.path): route for route in routes}
        self._integration = integration
        self.binary_media_types = binary_media_types
        self.minimum_compression = minimum_compression
        """The API's MinimumCompressionSize: answers of at least this many bytes are gzipped for a client that accepts it."""

    def route(self, method: str, path: str) -> Route | None:
        """The route for a request, as API Gateway would match it."""
        return self._routes.get((method.upper(), path))

    def request(
        self, method: str, path: str = "/sentiment", headers: dict[str, str] | None = None, body: str | bytes | None = None, query: dict[str, str] | None = None
    ) -> dict:
        """What API Gateway's Lambda proxy integration would answer: statusCode, headers, body."""
        route = self.route(method, path)
        if route is None:
            return gateway_answer(403, "Missing Authentication Token")
        body = inflate_request(headers or {}, body)
        if isinstance(body, Refusal):
            return gateway_answer(body.status, body.message)
        event = proxy_event(method.upper(), path, headers or {}, body, query)
        if len(json.dumps(event).encode("utf-8")) > LAMBDA_REQUEST_LIMIT:
            return gateway_answer(413, "Request Too Long")
        response = self._integration(route.function, event)
        if len(json.dumps(response).encode("utf-8")) > LAMBDA_RESPONSE_LIMIT:
            return gateway_answer(502, "Internal server error")
        if response.get("isBase64Encoded") and not self.binary_media_types:
            response = {**response, "isBase64Encoded": False}
        return response


def inflate_request(headers: dict[str, str], body: str | bytes | None) -> str | bytes | Refusal | None:
    """What API Gateway hands a proxy integration for a compressed request body.

    A REST API inflates a body whose Content-Encoding is gzip or deflate before it invokes the
    function, passes it on as text (the API has no BinaryMediaTypes) and keeps the
    Content-Encoding header; a body that is not what its header says is a 415. Inflating stops
    just past Lambda's request limit: such an event could never be delivered.
    """
    encoding = (header(headers, "content-encoding") or "").strip().lower()
    if encoding not in ("gzip", "deflate") or not body:
        return body
    raw = body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
    try:
        inflated = inflater.decompress(raw, LAMBDA_REQUEST_LIMIT + 1)
    except zlib.error:
        return Refusal(415, "Unsupported Media Type")
    if len(inflated) > LAMBDA_REQUEST_LIMIT:
        return Refusal(413, "Request Too Long")
    if not inflater.eof:
        return Refusal(415, "Unsupported Media Type")
    try:
        return inflated.decode("utf-8")
    except UnicodeDecodeError:
        return inflated


def proxy_event(method: str, path: str, headers: dict[str, str], body: str | bytes | None, query: dict[str, str] | None = None) -> dict:
    """A REST API Lambda proxy event as API Gateway builds it; binary bodies arrive base64-encoded."""
    is_base64 = isinstance(body, bytes)
    text = base64.b64encode(body).decode("ascii") if is_base64 else body
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": dict(headers),
        "multiValueHeaders": {key: [value] for key, value in headers.items()},
        "queryStringParameters": dict(query) if query else None,
        "multiValueQueryStringParameters": {key: [value] for key, value in query.items()} if query else None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": f"/{STAGE}{path}",
            "stage": STAGE,
            "requestId": str(uuid.uuid4()),
            "accountId": ACCOUNT,
            "identity": {"sourceIp": "127.0.0.1", "userArn": SNOWFLAKE_ROLE_ARN},
        },
        "body": text,
        "isBase64Encoded": is_base64,
    }


def response_headers(response: dict) -> dict[str, str]:
    """A proxy response's headers as a client receives them: multiValueHeaders' last values, then headers."""
    headers = {key: values[-1] for key, values in (response.get("multiValueHeaders") or {}).items()}
    headers.update(response.get("headers") or {})
    return headers


def response_body(response: dict) -> bytes:
    """A proxy response's body bytes, base64 undone."""
    body = response.get("body") or ""
    return base64.b64decode(body) if response.get("isBase64Encoded") else body.encode("utf-8")


def response_json(response: dict) -> Any:
    """The JSON body of a proxy response, undoing base64 and gzip as a client would."""
    raw = response_body(response)
    if header(response_headers(response), "content-encoding") == "gzip":
        raw = gzip.decompress(raw)
    return json.loads(raw) if raw else None


# -- make local's HTTP face ---------------------------------------------------------------


def resource_path(target: str) -> tuple[str, dict[str, str] | None]:
    """An HTTP request target's path without the stage prefix, and its query parameters."""
    parts = urlsplit(target)
    return parts.path.removeprefix(f"/{STAGE}") or "/", dict(parse_qsl(parts.query)) or None


def request_body(headers: dict[str, str], body: bytes) -> str | bytes | None:
    """A request's body as the proxy event carries it: text, or bytes when compressed or not UTF-8."""
    if not body:
        return None
    if header(headers, "content-encoding") is not None:
        return body
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body


def accepts_gzip(headers: dict[str, str]) -> bool:
    return "gzip" in (header(headers, "accept-encoding") or "")


def api_response_bytes(response: dict, accepts_gzip: bool, minimum_compression: int | None) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body bytes of a proxy response, compressed as API Gateway would."""
    headers = response_headers(response)
    raw = response_body(response)
    if accepts_gzip and header(headers, "content-encoding") is None and minimum_compression is not None and len(raw) >= minimum_compression:
        raw = gzip.compress(raw, mtime=0)
        headers["Content-Encoding"] = "gzip"
    headers["Content-Length"] = str(len(raw))
    return int(response["statusCode"]), headers, raw
