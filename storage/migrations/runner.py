"""Alembic, driven from code: no alembic.ini to ship or to find."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

SCRIPT_LOCATION = "storage:migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["engine"] = engine
    return config


def _scripts() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return ScriptDirectory.from_config(config)


def head_revision() -> str:
    """The newest migration, read from the scripts themselves."""
    return _scripts().get_current_head() or ""


def known_revisions() -> set[str]:
    """Every revision this Workbench has a migration for; any other was made by a newer one."""
    return {script.revision for script in _scripts().walk_revisions()}


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)
