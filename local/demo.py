"""`make demo`: the whole service on this machine, one Snowflake batch, a table of sentiment."""

from __future__ import annotations

import os
import sys
import time

from sentiment_service.workflow import execution_arn

from .client import BatchFailed, Client, format_table
from .inspect import LOCAL_AWS_CREDENTIALS
from .server import LocalService
from .snowflake import QUERY_ID_HEADER, snowflake_headers
from .stack import STATE_MACHINE_ARN

LONG_REVIEW = " ".join(["The battery lasts all day and the screen is gorgeous, but the speakers are tinny."] * 80)

TEXTS = [
    "hello world",
    "I am happy",
    "Absolutely love this blender. Smoothies in seconds, easy to clean, worth every penny!",
    "Terrible customer service. I waited three weeks and the refund never arrived.",
    "The hotel room was spotless and the staff were lovely, but the breakfast was awful.",
    "It's fine. Does what it says, nothing more.",
    "Worst purchase of my life. Broke after two days.",
    "The delivery was late but the product itself is great.",
    "¡Me encanta este producto! Funciona perfectamente y llegó muy rápido.",
    "Ce restaurant était décevant, le service très lent.",
    None,
    "",
    "   ",
    LONG_REVIEW,
    "I am happy",
    "🙂 Great value, would buy again 👍",
]


LANGUAGES = {8: "auto", 9: "auto"}
"""The batch is sentiment(text, language): the Spanish and French reviews say `auto` and are detected and
analysed in their own language; the other rows' NULL language means the function's (English)."""
ROWS = [(text, LANGUAGES.get(row)) for row, text in enumerate(TEXTS)]


def main(url: str | None = None) -> int:
    """Run the demo batch on a stack of its own, or against a running `make local` (or deployment) at `url`."""
    started = time.monotonic()
    service = None
    if url is None:
        service = LocalService(port=0, aws_port=0, say=lambda line: None)
        service.start()
        url = f"{service.url}/sentiment"
        print(f"Local stack up in {time.monotonic() - started:.1f}s: API {url}, emulated AWS {service.aws_url}")
    try:
        query_id = snowflake_headers()[QUERY_ID_HEADER]
        print(
            f"Sending {len(TEXTS)} rows as one Snowflake batch of sentiment(text, language) (query {query_id}, headers from events/post.json), "
            "polling like Snowflake...\n"
        )
        client = Client(url)
        try:
            values = client.run(ROWS, batch_rows=len(ROWS), parallel=1, query_id=query_id)
        except BatchFailed as failure:
            print(failure, file=sys.stderr)
            return 1
        print(format_table(TEXTS, values))
        name = client.executions[0]
        print(f"\nExecution {name}")
        if service is not None:
            (execution,) = service.executions()
            history = service.history(execution["executionArn"])
            states = [event["stateEnteredEventDetails"]["name"] for event in history if "stateEnteredEventDetails" in event]
            print(f"  {execution['status']}, {len(history)} history events, states {' -> '.join(dict.fromkeys(states))}")
            stand_in = service.stand_in
            print(
                f"  Comprehend calls: {stand_in.calls} ({len(stand_in.detection_documents)} texts to detect in one BatchDetectDominantLanguage call) "
                f"for {sum(isinstance(text, str) and bool(text.strip()) for text in TEXTS)} non-blank rows (NULLs, blanks and duplicates are not sent)"
            )
            print("\nTo inspect it as in the Step Functions console, run `make local` in one terminal and in another:")
            print(f"  .venv/bin/python -m local demo --url http://127.0.0.1:{os.environ.get('PORT', '3000')}/sentiment")
            print("and then:")
        else:
            print("Inspect it with:")
        aws_port = os.environ.get("AWS_PORT", "5055")
        print(f"  .venv/bin/python -m local inspect {client.batch_ids[0]}" + (f" --aws-url http://127.0.0.1:{aws_port}" if aws_port != "5055" else ""))
        print(
            f"  {LOCAL_AWS_CREDENTIALS} aws --endpoint-url http://127.0.0.1:{aws_port} stepfunctions get-execution-history --execution-arn "
            f"{execution_arn(STATE_MACHINE_ARN, name)}"
        )
        print(f"Done in {time.monotonic() - started:.1f}s.")
        return 0
    finally:
        if service is not None:
            service.stop()


if __name__ == "__main__":
    sys.exit(main())
