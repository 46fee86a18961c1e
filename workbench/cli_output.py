"""How the headless commands print: Rich tables for people, JSON for scripts.

Column names, values, paths and messages come from users' files, so what reaches the
terminal is made harmless twice over: `shown()` turns a value into literal text (control
characters as visible escapes, Rich markup such as `[red]` or `[link=…]` escaped) for the
tables and lines that hold user data, and the console itself renders every string inert,
so text that misses `shown()` still cannot move the cursor, recolour or retitle a terminal.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pipelines.inert import inert
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


def shown(value: object) -> str:
    """`value` as literal text for a Rich string: no escape sequences, no markup."""
    from rich.markup import escape

    return escape(inert(str(value)))


def _inert_lines(text: str) -> str:
    """Every control character made visible except the line breaks of our own messages."""
    return "\n".join(inert(line) for line in text.split("\n"))


@functools.cache
def _console_class() -> type:
    from rich.console import Console

    class InertConsole(Console):
        """A Rich console that renders no string raw, and lets `workbench.cli.main` end a
        command whose reader went away (`| head`), instead of exiting with status 1."""

        def render_str(self, text: str, **options: Any) -> Any:
            return super().render_str(_inert_lines(text), **options)

        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    return InertConsole


def console(stderr: bool = False) -> Any:
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 160  # pipes and captures get a wide table, not 80
    return _console_class()(
        stderr=stderr, highlight=False, emoji=False, soft_wrap=False, width=width
    )


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
            table.add_row(shown(summary.name), "0", "-", "-", "-", "-", "-", "-")
            continue
        status = latest.validation.status
        table.add_row(
            shown(summary.name),
            str(summary.version_count),
            latest.label,
            f"{latest.row_count:,}",
            str(latest.column_count),
            shown(latest.target or "-"),
            latest.sha256[:12],
            f"[{STATUS_STYLE[status]}]{status}[/]",
        )
    console().print(table)


def print_version(version: DatasetVersionRecord, versions: list[DatasetVersionRecord]) -> None:
    from rich.table import Table

    out = console()
    out.print(f"[bold]{shown(version.ref)}[/]  sha256 {version.sha256}")
    kept = "by reference" if version.is_reference else f"frozen copy {shown(version.stored_path)}"
    out.print(
        f"{version.row_count:,} rows × {version.column_count} columns · {version.file_format} · "
        f"{version.size_bytes:,} bytes · source {shown(version.source_path)} · {kept}"
    )
    out.print(
        f"target: {shown(version.target or '-')} · registered {version.created_at:%Y-%m-%d %H:%M}"
    )
    out.print("versions: " + ", ".join(f"{v.label} ({v.sha256[:8]})" for v in versions))
    schema = Table(title="schema and profile", title_justify="left")
    for heading in (
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
        schema.add_column(heading, justify="left" if heading in ("column", "type") else "right")
    schema.columns[0].no_wrap = True
    for column in version.schema:
        profile = version.profile.column(column.name)
        schema.add_row(
            shown(column.name),
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
    table = Table(title=f"{shown(title + against)}: {result.status}", title_justify="left")
    for column in ("status", "check", "column", "reason"):
        table.add_column(column)
    for check in result.checks:
        style = STATUS_STYLE[check.status]
        table.add_row(
            f"[{style}]{check.status}[/]",
            shown(check.check),
            shown(check.column or ""),
            shown(check.reason),
        )
    console().print(table)


def print_rows(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A page of a dataset's rows: names and values exactly as in the file, nothing styled."""
    from rich.table import Table

    table = Table(title=shown(title), title_justify="left")
    for column in columns:
        table.add_column(shown(column))
    for row in rows:
        table.add_row(*("" if v is None else shown(v) for v in row))
    console().print(table)


def _short(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return shown(value)
