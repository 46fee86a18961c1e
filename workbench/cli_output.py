"""How the headless commands print: Rich tables for people, JSON for scripts."""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import datetime
from typing import Any

from storage.records import DatasetSummary, DatasetVersionRecord, ValidationResult

STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "red"}


def jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, DatasetVersionRecord):
            data["label"] = value.label
            data["ref"] = value.ref
        if isinstance(value, ValidationResult):
            data["status"] = value.status
        return data
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def print_json(value: Any) -> None:
    json.dump(jsonable(value), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 160  # pipes and captures get a wide table, not 80
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=width)


def print_datasets(summaries: list[DatasetSummary]) -> None:
    from rich.table import Table

    if not summaries:
        console().print("no datasets yet: add one with `workbench data add PATH`")
        return
    table = Table(title="datasets", title_justify="left")
    for column in ("name", "versions", "latest", "rows", "cols", "target", "sha256", "validation"):
        table.add_column(
            column, justify="right" if column in ("versions", "rows", "cols") else "left"
        )
    for summary in summaries:
        latest = summary.latest
        if latest is None:
            table.add_row(summary.name, "0", "-", "-", "-", "-", "-", "-")
            continue
        status = latest.validation.status
        table.add_row(
            summary.name,
            str(summary.version_count),
            latest.label,
            f"{latest.row_count:,}",
            str(latest.column_count),
            latest.target or "-",
            latest.sha256[:12],
            f"[{STATUS_STYLE[status]}]{status}[/]",
        )
    console().print(table)


def print_version(version: DatasetVersionRecord, versions: list[DatasetVersionRecord]) -> None:
    from rich.table import Table

    out = console()
    out.print(f"[bold]{version.ref}[/]  sha256 {version.sha256}")
    kept = "by reference" if version.is_reference else f"frozen copy {version.stored_path}"
    out.print(
        f"{version.row_count:,} rows × {version.column_count} columns · {version.file_format} · "
        f"{version.size_bytes:,} bytes · source {version.source_path} · {kept}"
    )
    out.print(f"target: {version.target or '-'} · registered {version.created_at:%Y-%m-%d %H:%M}")
    out.print("versions: " + ", ".join(f"{v.label} ({v.sha256[:8]})" for v in versions))
    schema = Table(title="schema and profile", title_justify="left")
    for column in (
        "column",
        "type",
        "nullable",
        "distinct",
        "missing %",
        "min",
        "max",
        "mean",
        "std",
    ):
        schema.add_column(column, justify="left" if column in ("column", "type") else "right")
    schema.columns[0].no_wrap = True
    for column in version.schema:
        profile = version.profile.column(column.name)
        schema.add_row(
            column.name,
            column.logical_type,
            "yes" if column.nullable else "no",
            f"{column.cardinality:,}",
            f"{profile.missing_pct:.1f}" if profile else "-",
            _short(profile.min) if profile else "-",
            _short(profile.max) if profile else "-",
            _short(profile.mean) if profile else "-",
            _short(profile.std) if profile else "-",
        )
    out.print(schema)
    print_validation(version.validation, f"validation of {version.ref}")


def print_validation(result: ValidationResult, title: str) -> None:
    from rich.table import Table

    against = f" against {result.against}" if result.against else ""
    table = Table(title=f"{title}{against}: {result.status}", title_justify="left")
    for column in ("status", "check", "column", "reason"):
        table.add_column(column)
    for check in result.checks:
        style = STATUS_STYLE[check.status]
        table.add_row(f"[{style}]{check.status}[/]", check.check, check.column or "", check.reason)
    console().print(table)


def _short(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
