"""Alembic environment: runs on the engine Workbench hands over, with our prefixed version table."""

from alembic import context

import storage.models_sweeps  # noqa: F401  (registers the sweep tables)
from storage.database import VERSION_TABLE
from storage.models import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
