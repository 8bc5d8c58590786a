"""python -m local serve | demo | client FILE: the service offline, and a Snowflake-like client."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the API on PORT (3000) and emulated AWS on AWS_PORT (5055)")
    serve.add_argument("--port", type=int)
    serve.add_argument("--aws-port", type=int)
    serve.add_argument(
        "--verbose", action="store_true", help="print the handlers' log records and metrics as they are, and failures' stack traces (LOCAL_VERBOSE=1)"
    )
    serve.add_argument("--host", help="address both ports listen on (HOST; default 127.0.0.1); 0.0.0.0 for sam local start-api's containers")
    demo = commands.add_parser("demo", help="start the local stack, run one Snowflake batch, print its sentiment")
    demo.add_argument("--url", help="run the batch against this external function URL instead of a stack of its own")
    client = commands.add_parser("client", help="send a CSV or JSON file of texts as Snowflake batches")
    client.add_argument("file", type=Path)
    client.add_argument(
        "--url", default=f"http://127.0.0.1:{os.environ.get('PORT', '3000')}/sentiment", help="the external function URL (default: make local's, on PORT)"
    )
    client.add_argument("--column", help="CSV column or JSON key holding the text (default: the first column)")
    client.add_argument("--encoding", default="utf-8", help="the file's text encoding (default: utf-8), e.g. cp1252, latin-1, utf-16")
    client.add_argument("--delimiter", help="CSV delimiter, one character or \\t for tabs (default: a tab for .tsv files, else a comma)")
    client.add_argument("--batch-rows", type=int, default=1000, help="rows per batch, like MAX_BATCH_ROWS")
    client.add_argument("--parallel", type=int, default=4, help="batches in flight at once")
    client.add_argument("--sigv4", metavar="REGION", help="sign requests with your AWS credentials for a deployed stack in REGION")
    client.add_argument("--no-gzip", action="store_true", help="send plain JSON bodies")
    client.add_argument("--out", type=Path, help="save results as .csv or .json instead of printing a table")
    inspect = commands.add_parser(
        "inspect", help="show a batch of a running make local as the Step Functions console would: path, timings, retries, stored items"
    )
    inspect.add_argument("batch", help="a batch id (sf-external-function-query-batch-id, with colons) or an execution name")
    inspect.add_argument("--aws-url", help="the emulated AWS endpoint (default: http://127.0.0.1:AWS_PORT, 5055)")
    inspect.add_argument("--show-text", action="store_true", help="also print the batch's row texts (customer data: off by default)")
    sql = commands.add_parser("sql", help="print the Snowflake SQL (stack output SnowflakeSql) of a deployed stack")
    sql.add_argument("--stack", default="snowflake-sentiment")
    sql.add_argument("--region", help="the stack's region (default: your AWS configuration)")
    args = parser.parse_args(argv)

    if args.command == "serve":
        from .server import serve as run

        run(args.port, args.aws_port, args.host, args.verbose)
        return 0
    if args.command == "sql":
        import boto3

        (stack,) = boto3.client("cloudformation", region_name=args.region).describe_stacks(StackName=args.stack)["Stacks"]
        print(next(output["OutputValue"] for output in stack["Outputs"] if output["OutputKey"] == "SnowflakeSql"))
        return 0
    if args.command == "inspect":
        from .inspect import main as inspect_batch

        return inspect_batch(args.batch, args.aws_url, args.show_text)
    if args.command == "demo":
        from .demo import main as demo

        return demo(args.url)
    from .client import BatchFailed, Client, format_table, load_texts, progress_printer, save

    texts = load_texts(args.file, args.column, args.encoding, args.delimiter)
    try:
        values = Client(args.url, args.sigv4, not args.no_gzip).run(texts, args.batch_rows, args.parallel, progress_printer())
    except BatchFailed as failure:
        print(f"\n{failure}", file=sys.stderr)
        return 1
    print(file=sys.stderr)
    if args.out:
        save(args.out, texts, values)
        print(f"{len(values)} rows written to {args.out}", file=sys.stderr)
    else:
        print(format_table(texts, values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
