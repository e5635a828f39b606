"""Initial schema: models, versions, datasets, aliases and the append-only ledger.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from govml.store.schema import UTCDateTime

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("risk_tier", sa.String(20), nullable=False),
        sa.Column("intended_use", sa.Text, nullable=False, server_default=""),
        sa.Column("out_of_scope_use", sa.Text, nullable=False, server_default=""),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.CheckConstraint(
            "risk_tier IN ('minimal', 'limited', 'high', 'unacceptable')",
            name=op.f("ck_models_risk_tier"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_models")),
        sa.UniqueConstraint("name", name=op.f("uq_models_name")),
    )
    op.create_table(
        "model_tags",
        sa.Column("model_id", sa.Integer, nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_model_tags_model_id_models")
        ),
        sa.PrimaryKeyConstraint("model_id", "key", name=op.f("pk_model_tags")),
    )
    op.create_table(
        "datasets",
        sa.Column("digest", sa.String(71), nullable=False),
        sa.Column("row_count", sa.BigInteger, nullable=False),
        sa.Column("column_count", sa.Integer, nullable=False),
        sa.Column("fingerprint", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_datasets")),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_id", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("artifact_digest", sa.String(71), nullable=False),
        sa.Column("artifact_size", sa.BigInteger, nullable=False),
        sa.Column("flavor", sa.String(50), nullable=False),
        sa.Column("flavor_options", sa.JSON, nullable=False),
        sa.Column("signature", sa.JSON, nullable=True),
        sa.Column("code", sa.JSON, nullable=False),
        sa.Column("environment", sa.JSON, nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("mlflow_run_id", sa.String(64), nullable=True),
        sa.Column("registrant", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_model_versions_model_id_models")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("model_id", "version", name=op.f("uq_model_versions_model_id_version")),
    )
    op.create_table(
        "version_datasets",
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("dataset_digest", sa.String(71), nullable=False),
        sa.CheckConstraint(
            "role IN ('train', 'validation')", name=op.f("ck_version_datasets_role")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_version_datasets_version_id_model_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["dataset_digest"],
            ["datasets.digest"],
            name=op.f("fk_version_datasets_dataset_digest_datasets"),
        ),
        sa.PrimaryKeyConstraint("version_id", "role", name=op.f("pk_version_datasets")),
    )
    op.create_table(
        "model_aliases",
        sa.Column("model_id", sa.Integer, nullable=False),
        sa.Column("alias", sa.String(50), nullable=False),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_model_aliases_model_id_models")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_model_aliases_version_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("model_id", "alias", name=op.f("pk_model_aliases")),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("seq", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("time", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("entry", sa.Text, nullable=False),
        sa.Column("leaf_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ledger_entries")),
    )
    op.create_index("ix_ledger_entries_subject", "ledger_entries", ["subject"])
    op.create_table(
        "ledger_checkpoints",
        sa.Column("tree_size", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.String(64), nullable=False),
        sa.Column("frontier", sa.JSON, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("signed_note", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_ledger_checkpoints")),
    )
    _create_append_only_triggers()


# Frozen here: later migrations add their own append-only tables.
APPEND_ONLY_TABLES = (
    "ledger_entries",
    "ledger_checkpoints",
    "model_versions",
    "version_datasets",
    "datasets",
)


def _create_append_only_triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in APPEND_ONLY_TABLES:
            for event in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'govml: {table} is append-only'); END"
                )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION govml_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'govml: % is append-only', TG_TABLE_NAME "
            "USING ERRCODE = 'restrict_violation'; END $$"
        )
        for table in APPEND_ONLY_TABLES:
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
    raise NotImplementedError("the initial schema is not downgraded: the ledger is append-only")
