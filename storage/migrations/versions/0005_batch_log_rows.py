"""prediction log: one row per request; feedback points at its log row

A request of many rows was logged as one row per prediction, which cost the service
more CPU than the predictions themselves on 1,000-row requests. Now a request is one
row (``n_rows`` predictions, stored column-wise); feedback keeps the id the client sent
and records the log row it belongs to (``log_request_id``) and its place in it
(``row_index``). Rows logged before this migration are single predictions: their
feedback points at the row with the same request id.

Revision ID: 0005
Revises: 0004
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: Union[str, None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("prediction_log") as batch:
        batch.add_column(sa.Column("n_rows", sa.Integer(), nullable=False, server_default="1"))
    op.drop_index("ix_prediction_log_traffic", table_name="prediction_log")
    op.create_index("ix_prediction_log_traffic", "prediction_log",
                    ["endpoint", "ts", "status", "latency_ms", "n_rows"])
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("log_request_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("row_index", sa.Integer(), nullable=True))
    op.execute("UPDATE feedback SET log_request_id = request_id")
    op.create_index("ix_feedback_log_request_id", "feedback", ["log_request_id"])


def downgrade() -> None:
    op.drop_index("ix_feedback_log_request_id", table_name="feedback")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("row_index")
        batch.drop_column("log_request_id")
    op.drop_index("ix_prediction_log_traffic", table_name="prediction_log")
    op.create_index("ix_prediction_log_traffic", "prediction_log",
                    ["endpoint", "ts", "status", "latency_ms"])
    with op.batch_alter_table("prediction_log") as batch:
        batch.drop_column("n_rows")
