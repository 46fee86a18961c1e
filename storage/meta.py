"""Workspace key/value facts stored in the database."""

from __future__ import annotations

from storage.database import Database
from storage.models import SettingRow


def get_fact(db: Database, key: str) -> str | None:
    with db.session_scope() as session:
        row = session.get(SettingRow, key)
        return row.value if row else None


def set_fact(db: Database, key: str, value: str) -> None:
    with db.session_scope() as session:
        session.merge(SettingRow(key=key, value=value))
