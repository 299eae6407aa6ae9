"""prediction log: covering index for traffic and latency aggregation

Monitoring reads status, latency and time for every logged prediction in a window;
this index lets those passes skip the wide JSON columns.

Revision ID: 0003
Revises: 0002
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0003"
down_revision: Union[str, None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index("ix_prediction_log_traffic", "prediction_log",
                    ["endpoint", "ts", "status", "latency_ms"])


def downgrade() -> None:
    op.drop_index("ix_prediction_log_traffic", table_name="prediction_log")
