"""A dataset version that sweeps trained on cannot be deleted (it was silently detached).

The sweep's foreign key to its dataset version changes from ON DELETE SET NULL to RESTRICT,
so the database itself refuses a delete that would orphan sweeps and their runs; a forced
removal detaches them explicitly first. SQLite rebuilds the table (batch mode), with
foreign keys off for the rebuild (see env.py) so dropping the old table cascades nowhere.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

CONSTRAINT = "fk_wb_sweep_dataset_version"
# SQLite's reflected foreign keys have no names; this convention gives the old one a name
# batch mode can drop.
NAMING = {"fk": "fk_%(table_name)s_%(column_0_name)s"}


def _replace_foreign_key(ondelete: str) -> None:
    inspector = sa.inspect(op.get_bind())
    existing = next(
        fk
        for fk in inspector.get_foreign_keys("wb_sweep")
        if fk["constrained_columns"] == ["dataset_version_id"]
    )
    with op.batch_alter_table("wb_sweep", naming_convention=NAMING) as batch:
        batch.drop_constraint(
            existing["name"] or "fk_wb_sweep_dataset_version_id", type_="foreignkey"
        )
        batch.create_foreign_key(
            CONSTRAINT, "wb_dataset_version", ["dataset_version_id"], ["id"], ondelete=ondelete
        )


def upgrade() -> None:
    _replace_foreign_key("RESTRICT")


def downgrade() -> None:
    _replace_foreign_key("SET NULL")
