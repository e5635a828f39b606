"""Production monitoring: runs, their time series and their actions (all append-only).

Revision ID: 0008_monitoring
Revises: 0007_model_documents
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from govml.store.schema import UTCDateTime

revision = "0008_monitoring"
down_revision = "0007_model_documents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitoring_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_id", sa.Integer, nullable=False),
        sa.Column("window_start", UTCDateTime, nullable=False),
        sa.Column("window_end", UTCDateTime, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("digest", sa.String(71), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_monitoring_runs_model_id_models")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_runs")),
    )
    op.create_index(
        "ix_monitoring_runs_model_id_window_end", "monitoring_runs", ["model_id", "window_end"]
    )
    op.create_table(
        "monitoring_points",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("model_id", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("check", sa.String(300), nullable=False),
        sa.Column("category", sa.String(30), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("window_start", UTCDateTime, nullable=False),
        sa.Column("window_end", UTCDateTime, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["monitoring_runs.id"],
            name=op.f("fk_monitoring_points_run_id_monitoring_runs"),
        ),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_monitoring_points_model_id_models")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_points")),
    )
    op.create_index(
        "ix_monitoring_points_model_id_check_window_end",
        "monitoring_points",
        ["model_id", "check", "window_end"],
    )
    op.create_table(
        "monitoring_actions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("model_id", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("dedupe", sa.String(300), nullable=True),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["monitoring_runs.id"],
            name=op.f("fk_monitoring_actions_run_id_monitoring_runs"),
        ),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_monitoring_actions_model_id_models")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_actions")),
        sa.UniqueConstraint(
            "model_id", "dedupe", name=op.f("uq_monitoring_actions_model_id_dedupe")
        ),
    )
    op.create_index("ix_monitoring_actions_run_id", "monitoring_actions", ["run_id"])
    for table in ("monitoring_runs", "monitoring_points", "monitoring_actions"):
        _append_only(table)


def _append_only(table: str) -> None:
    # The same triggers as the other append-only tables (same names and message).
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'govml: {table} is append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION govml_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION govml_append_only()"
        )
    else:
        raise NotImplementedError(f"append-only triggers are not defined for {dialect}")


def downgrade() -> None:
    raise NotImplementedError("monitoring records are not downgraded: ledger entries refer to them")
