"""`workbench alerts …` and `workbench retrain …`: alert rules and the alerts they raised,
retraining policies and jobs, headless — thin calls into pipelines/alerts and
pipelines/retrain.

`retrain` takes either a deployment (start a job) or a verb (ls, show, policy) as its
first word, as `workbench deploy` does."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.inert import inert
from storage.errors import WorkbenchError
from storage.handle import Workspace, open_workspace
from workbench.cli_output import console, print_json, print_rows, shown

if TYPE_CHECKING:
    import pandas as pd

    from storage.records import RetrainJobRecord

RETRAIN_VERBS = ("ls", "show", "stop", "policy")
KINDS = ("dataset_drift", "column_drift", "performance_below", "error_rate_above", "unseen_columns")


def add_parsers(commands: Any) -> None:
    alerts = commands.add_parser("alerts", help="alert rules per deployment and the alerts raised")
    verbs = alerts.add_subparsers(dest="verb", metavar="VERB", required=True)
    ls = verbs.add_parser("ls", help="alerts raised, newest first")
    ls.add_argument("--deployment", metavar="NAME")
    ls.add_argument("--limit", type=int, default=100)
    ls.add_argument("--json", action="store_true")
    rule = verbs.add_parser("rule", help="add, list or remove alert rules").add_subparsers(
        dest="rule_verb", metavar="VERB", required=True
    )
    add = rule.add_parser("add", help="a rule on a deployment")
    add.add_argument("deployment", metavar="DEPLOYMENT")
    add.add_argument("--kind", required=True, choices=KINDS)
    add.add_argument("--column", help="column_drift: the column")
    add.add_argument("--metric", help="performance_below: accuracy, f1, roc_auc, rmse, …")
    add.add_argument("--bound", type=float, help="performance_below, error_rate_above")
    add.add_argument("--source", default="real", help="performance_below: real or estimated")
    add.add_argument(
        "--command", dest="user_command", metavar="CMD", help="run this shell command on each alert"
    )
    add.add_argument("--json", action="store_true")
    rule_ls = rule.add_parser("ls", help="rules")
    rule_ls.add_argument("--deployment", metavar="NAME")
    rule_ls.add_argument("--json", action="store_true")
    rule.add_parser("rm", help="remove a rule").add_argument("rule_id", type=int, metavar="RULE")
    for verb in ("enable", "disable"):
        toggle = rule.add_parser(verb, help=f"{verb} a rule")
        toggle.add_argument("rule_id", type=int, metavar="RULE")

    retrain = commands.add_parser(
        "retrain",
        help="retrain a deployment's model; ls; show|stop JOB; policy DEPLOYMENT --on TRIGGER",
        description="`workbench retrain DEPLOYMENT [--wait]` retrains the deployment's model "
        "and registers the challenger if it beats the champion by the margin; `workbench "
        "retrain policy DEPLOYMENT --on drift:K|performance:METRIC<BOUND|manual` says when "
        "the monitoring loop does it; `workbench retrain ls` lists jobs, `show JOB` their steps.",
    )
    retrain.add_argument("target", metavar="DEPLOYMENT|VERB")
    retrain.add_argument("name_arg", nargs="?", metavar="NAME")
    retrain.add_argument("--wait", action="store_true", help="follow the job until it ends")
    retrain.add_argument("--trials", type=int, help="a short sweep of N trials (default: refit)")
    retrain.add_argument("--margin", type=float, help="how much better the challenger must be")
    retrain.add_argument(
        "--append-labels",
        nargs="?",
        const="",
        metavar="FILE",
        help="append labelled production records (CSV/Parquet with the target) as a new version",
    )
    retrain.add_argument("--canary", action="store_true", help="start a winner as a canary")
    retrain.add_argument("--share", type=float, help="the canary's share of requests")
    retrain.add_argument("--on", metavar="TRIGGER", help="policy: drift:K, performance:M<B, manual")
    retrain.add_argument("--source", default="real", help="policy: real or estimated metric")
    retrain.add_argument("--deployment", metavar="NAME", help="ls: one deployment's jobs")
    retrain.add_argument("--json", action="store_true")
    worker = commands.add_parser("retrain-worker", help=argparse.SUPPRESS)
    worker.add_argument("job_id", type=int)
    commands._choices_actions = [a for a in commands._choices_actions if a.dest != "retrain-worker"]


def run_loop_command(args: argparse.Namespace, root: Path) -> int:
    ws = open_workspace(root, database_url=args.database_url)
    try:
        if args.command == "alerts":
            return _alerts(args, ws)
        if args.command == "retrain-worker":
            from pipelines.retrain.jobs import run_job

            return 0 if run_job(ws, args.job_id).status != "failed" else 1
        return _retrain(args, ws)
    finally:
        ws.close()


# --- alerts ------------------------------------------------------------------------------


def _alerts(args: argparse.Namespace, ws: Workspace) -> int:
    from pipelines.alerts import rules
    from pipelines.alerts.commands import describe_outcome
    from pipelines.alerts.evaluate import list_alerts

    if args.verb == "ls":
        alerts = list_alerts(ws, args.deployment, limit=max(1, args.limit))
        if args.json:
            print_json(alerts)
            return 0
        rows = [
            (
                a.id,
                a.deployment,
                a.raised_at.strftime("%Y-%m-%d %H:%M:%S"),
                a.kind,
                a.message,
                describe_outcome(a.command_status, a.command_exit),
            )
            for a in alerts
        ]
        print_rows("Alerts", ("alert", "deployment", "raised", "kind", "message", "command"), rows)
        return 0
    if args.rule_verb == "add":
        rule = rules.add_rule(
            ws,
            args.deployment,
            args.kind,
            column=args.column,
            metric=args.metric,
            bound=args.bound,
            source=args.source,
            command=args.user_command,
        )
        if args.json:
            print_json(rule)
        else:
            when = shown(rules.describe(rule))
            console(stderr=True).print(
                f"rule {rule.id} on {shown(rule.deployment)}: alert when {when}"
            )
        return 0
    if args.rule_verb == "rm":
        removed = rules.remove_rule(ws, args.rule_id)
        console(stderr=True).print(f"removed rule {removed.id} ({shown(rules.describe(removed))})")
        return 0
    if args.rule_verb in ("enable", "disable"):
        changed = rules.set_enabled(ws, args.rule_id, args.rule_verb == "enable")
        console(stderr=True).print(f"rule {changed.id} {args.rule_verb}d")
        return 0
    found = rules.list_rules(ws, args.deployment)
    if args.json:
        print_json(found)
        return 0
    table = [(r.id, r.deployment, rules.describe(r), _state(r), r.command or "") for r in found]
    print_rows("Alert rules", ("rule", "deployment", "alert when", "state", "command"), table)
    return 0


# --- retraining --------------------------------------------------------------------------


def _retrain(args: argparse.Namespace, ws: Workspace) -> int:
    from pipelines.retrain import jobs

    if args.target == "ls":
        found = jobs.list_jobs(ws, args.deployment)
        if args.json:
            print_json(found)
            return 0
        rows = [
            (
                j.id,
                j.deployment,
                j.created_at.strftime("%Y-%m-%d %H:%M"),
                j.status,
                j.champion_ref,
                j.challenger_ref or "",
                _scores(j),
                j.error or j.reason,
            )
            for j in found
        ]
        columns = ("job", "deployment", "started", "status", "champion", "challenger", "scores")
        print_rows("Retraining jobs", (*columns, "note"), rows)
        return 0
    if args.target == "show":
        job = jobs.get_job(ws, _job_id(args.name_arg))
        if args.json:
            print_json(job)
            return 0
        _print_steps(job)
        return 0 if job.status != "failed" else 1
    if args.target == "stop":
        stopped = jobs.stop_job(ws, _job_id(args.name_arg))
        console(stderr=True).print(f"stopped retraining job {stopped.id}")
        return 0
    if args.target == "policy":
        return _policy(args, ws)
    _finite("--margin", args.margin)
    _finite("--share", args.share)
    labels = None
    if args.append_labels is not None:
        if not args.append_labels:
            raise WorkbenchError(
                "--append-labels needs the file of labelled production records "
                "(CSV or Parquet with the target column)"
            )
        labels = _read_labels(Path(args.append_labels))
    job = jobs.start_retrain(
        ws,
        args.target,
        trials=args.trials,
        margin=args.margin,
        canary=True if args.canary else None,
        canary_share=args.share,
        labels=labels,
    )
    out = console(stderr=True)
    out.print(f"retraining {shown(job.deployment)} (job {job.id}, log {shown(job.log_path)})")
    if not args.wait:
        print(job.id)
        return 0
    done = jobs.follow_job(ws, job.id, lambda line: out.print(f"[dim]{shown(line)}[/dim]"))
    if args.json:
        print_json(done)
    if done.status == "failed":
        out.print(f"workbench: error: retraining job {done.id} failed: {shown(done.error)}")
        return 1
    verdict = f"registered {done.challenger_ref}" if done.status == "registered" else "kept"
    out.print(f"job {done.id}: {shown(verdict)} ({_scores(done)})")
    return 0


def _policy(args: argparse.Namespace, ws: Workspace) -> int:
    from pipelines.retrain import policy

    if not args.name_arg:
        raise WorkbenchError("retrain policy: name the deployment (see `workbench deploy ls`)")
    if args.on is None:
        found = policy.get_policy(ws, args.name_arg)
        if args.json:
            print_json(found)
        elif found is None:
            print(f"{inert(args.name_arg)}: no retraining policy (set one with --on)")
        else:
            print(f"{inert(args.name_arg)}: retrain on {policy.describe(found)}")
        return 0
    _finite("--margin", args.margin)
    _finite("--share", args.share)
    record = policy.set_policy(
        ws,
        args.name_arg,
        args.on,
        source=args.source,
        margin=policy.DEFAULT_MARGIN if args.margin is None else args.margin,
        append_labels=args.append_labels is not None,
        trials=args.trials,
        canary=args.canary,
        canary_share=policy.DEFAULT_SHARE if args.share is None else args.share,
    )
    if args.json:
        print_json(record)
    else:
        console(stderr=True).print(
            f"{shown(record.deployment)}: retrain on {shown(policy.describe(record))}, "
            f"margin {record.margin:g}"
        )
    return 0


def _state(rule: Any) -> str:
    return "disabled" if not rule.enabled else "firing" if rule.firing else "clear"


def _print_steps(job: RetrainJobRecord) -> None:
    print(inert(f"job {job.id} on {job.deployment}: {job.status} ({job.reason})"))
    for step in job.steps:
        print(f"  {step['name']:<9} {step['status']:<8} {inert(str(step.get('detail', '')))}")
    if job.error:
        print(f"  error: {inert(job.error)}")
    print(f"  log: {inert(job.log_path)}")


def _scores(job: RetrainJobRecord) -> str:
    if job.challenger_score is None or job.champion_score is None:
        return ""
    return f"{job.challenger_score:.4g} vs {job.champion_score:.4g}"


def _job_id(text: str | None) -> int:
    if not text or not text.isdigit():
        raise WorkbenchError("name the retraining job by its number (see `workbench retrain ls`)")
    return int(text)


def _finite(option: str, value: float | None) -> None:
    if value is not None and not math.isfinite(value):
        raise WorkbenchError(f"{option} must be a finite number, not {value}")


def _read_labels(path: Path) -> pd.DataFrame:
    import pandas as pd

    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except FileNotFoundError:
        raise WorkbenchError(f"{path}: no such file") from None
    except Exception as exc:  # pandas' and pyarrow's errors are not one line
        line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WorkbenchError(f"{path}: cannot read the labelled records ({line})") from None
