"""PostgreSQL: a schema for Optuna's tables

On a PostgreSQL store, Optuna's RDB storage (the AutoML trials) lives in the same
database under the schema ``optuna`` (``Settings.optuna_storage`` sets its
``search_path``), so its tables and its own ``alembic_version`` never meet ours.
Nothing to do on SQLite, where Optuna has its own file.

Revision ID: 0004
Revises: 0003
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0004"
down_revision: Union[str, None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

SCHEMA = "optuna"  # studio.settings.OPTUNA_SCHEMA


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")


def downgrade() -> None:
    pass  # the search history is kept; drop the schema by hand if it is no longer wanted
