"""`workbench simulate DEPLOYMENT --scenario … --rate R --labels-after S`: real requests to a
local deployment, drawn from its model's held-out rows with a controlled shift, and their
true labels sent later, so a drift panel has something to watch. The sending loop is
`pipelines.monitoring.simulate.simulate`; this module finds the data and shows progress."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

SCENARIO_CHOICES = ("none", "gradual", "sudden", "new-column")  # simulate.SCENARIOS
PLAIN_PROGRESS_EVERY_S = 5.0


def add_parsers(commands: Any) -> None:
    simulate = commands.add_parser(
        "simulate",
        help="send simulated traffic (held-out rows, a controlled shift, delayed labels) "
        "to a local deployment",
    )
    simulate.add_argument("deployment", metavar="DEPLOYMENT")
    simulate.add_argument("--scenario", choices=SCENARIO_CHOICES, default="none",
                          help="gradual/sudden shift a few numeric columns; new-column adds "
                          "one the model never saw (default: none)")  # fmt: skip
    simulate.add_argument("--shift", choices=("offset", "select"), default="offset",
                          help="offset: move the columns' values (labels stay: covariate and "
                          "concept shift); select: draw more rows ranking high on them "
                          "(labels follow: covariate shift only) (default: offset)")  # fmt: skip
    simulate.add_argument("--rate", type=float, default=10.0, metavar="R",
                          help="requests per second (default: 10)")  # fmt: skip
    simulate.add_argument("--labels-after", type=float, default=5.0, metavar="S",
                          help="send each true label S seconds after its prediction "
                          "(default: 5)")  # fmt: skip
    simulate.add_argument("--no-labels", action="store_true", help="send no labels")
    simulate.add_argument("--count", type=int, metavar="N",
                          help="requests to send (default: 500, or as many as --duration "
                          "allows)")  # fmt: skip
    simulate.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    simulate.add_argument("--seed", type=int, default=0, metavar="K")
    simulate.add_argument("--json", action="store_true", help="the summary as JSON")


def run_simulate_command(args: argparse.Namespace, root: Path) -> int:
    from pipelines.monitoring.simulate import check_loopback, simulate
    from pipelines.monitoring.traffic_data import deployment_traffic
    from storage.handle import open_workspace

    ws = open_workspace(root, database_url=args.database_url)
    try:
        source = deployment_traffic(ws, args.deployment)
    finally:
        ws.close()
    check_loopback(source.url)
    summary = simulate(
        source.url,
        source.rows,
        source.labels,
        scenario=args.scenario,
        rate=args.rate,
        labels_after_s=None if args.no_labels else args.labels_after,
        count=args.count,
        duration_s=args.duration,
        token=source.token,
        seed=args.seed,
        shift=args.shift,
        on_progress=_progress(args.count),
    )
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    if args.json:
        from dataclasses import asdict

        from workbench.cli_output import print_json

        print_json({**asdict(summary), "request_ids": len(summary.request_ids)})
        return 0
    shifted = ""
    if summary.shifted_columns:
        how = f" ({summary.shift})" if summary.scenario in ("gradual", "sudden") else ""
        shifted = f", shifted{how}: {', '.join(summary.shifted_columns)}"
    print(
        f"{args.deployment}: {summary.sent} requests in {summary.duration_s:.1f} s "
        f"({summary.answered} answered, {summary.refused} refused), {summary.labels_sent} "
        f"labels sent; scenario {summary.scenario}{shifted}; rows from "
        f"{source.dataset_version} ({source.model_ref})"
    )
    return 0


def _progress(count: int | None) -> Any:
    """One progress line on stderr: rewritten in place on a terminal, every few seconds
    otherwise."""
    terminal = sys.stderr.isatty()
    last = [0.0]

    def show(progress: Any) -> None:
        line = progress.line(count)
        if terminal:
            sys.stderr.write(f"\r\x1b[2K{line}")
        elif time.monotonic() - last[0] >= PLAIN_PROGRESS_EVERY_S:
            last[0] = time.monotonic()
            sys.stderr.write(f"{line}\n")
        sys.stderr.flush()

    return show
