"""Alembic environment: runs on the engine Workbench hands over, with our prefixed version table."""

from alembic import context

import storage.models_monitoring  # (registers the drift, alert and retraining tables)
import storage.models_registry  # (registers the registry tables)
import storage.models_serving  # (registers the image build and deployment tables)
import storage.models_sweeps  # noqa: F401  (registers the sweep tables)
from storage.database import VERSION_TABLE
from storage.models import Base

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:  # outside any transaction, or SQLite ignores it: a batch-mode table rebuild
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # must not fire ON DELETE
        connection.commit()
    with connection.begin():
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            version_table=VERSION_TABLE,
            render_as_batch=sqlite,
        )
        with context.begin_transaction():
            context.run_migrations()
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()
