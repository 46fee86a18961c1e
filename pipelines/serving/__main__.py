"""`python -m pipelines.serving --bundle DIR --log-dir DIR [--host H] [--port P]`: serve a
model bundle with uvicorn. The token comes from WORKBENCH_SERVE_TOKEN, never from argv
(which every user of the machine can read in the process list). SIGTERM stops it cleanly:
uvicorn finishes the requests in flight, then the app writes its request log to the end."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TOKEN_VARIABLE = "WORKBENCH_SERVE_TOKEN"


def main(argv: Sequence[str] | None = None) -> int:
    from pipelines.serving.app import DEFAULT_MAX_BODY

    parser = argparse.ArgumentParser(prog="python -m pipelines.serving")
    parser.add_argument("--bundle", type=Path, required=True, help="the model bundle folder")
    parser.add_argument("--log-dir", type=Path, required=True, help="the request log folder")
    parser.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1 (loopback)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--max-body", type=int, default=DEFAULT_MAX_BODY, metavar="BYTES",
        help=f"largest request body accepted (default: {DEFAULT_MAX_BODY})",
    )  # fmt: skip
    parser.add_argument(
        "--log-batch-seconds", type=float, default=0.05, metavar="S",
        help="how long the request log gathers a batch before writing it (default: 0.05)",
    )  # fmt: skip
    parser.add_argument(
        "--challenger", type=Path, metavar="DIR",
        help="a canary: a second bundle answering --share of the requests",
    )  # fmt: skip
    parser.add_argument("--share", type=float, default=0.1, help="the challenger's share")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    if args.challenger is not None and not 0 < args.share < 1:
        parser.error("--share must be above 0 and below 1")
    if args.max_body < 1:
        parser.error("--max-body must be a positive number of bytes")
    if not 0 < args.log_batch_seconds <= 60:
        parser.error("--log-batch-seconds must be above 0 and at most 60")
    try:
        app = _app(args)
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"serving: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    import uvicorn

    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
    return 0


def _app(args: argparse.Namespace) -> Any:
    from pipelines.serving.app import create_app

    token = os.environ.get(TOKEN_VARIABLE) or None
    return create_app(
        args.bundle,
        log_dir=args.log_dir,
        max_body_bytes=args.max_body,
        token=token,
        log_batch_s=args.log_batch_seconds,
        challenger_dir=args.challenger,
        challenger_share=args.share,
    )


if __name__ == "__main__":
    sys.exit(main())
