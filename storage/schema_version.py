"""The schema revision this Workbench needs and the table Alembic keeps it in: plain
constants, so code that must not load SQLAlchemy (the TUI's first look) can check them."""

VERSION_TABLE = "wb_alembic_version"  # TABLE_PREFIX + "alembic_version"
HEAD_REVISION = "0009"  # tests check this against the newest Alembic migration
