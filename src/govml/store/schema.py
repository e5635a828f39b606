"""Tables of the metadata store (SQLAlchemy Core).

The Alembic migrations in ``migrations/versions`` create exactly these tables; a test checks
that the migrated database and this metadata agree. Immutable tables (versions, datasets,
ledger) are also protected by triggers created in the migrations.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

RISK_TIERS = ("minimal", "limited", "high", "unacceptable")
DATASET_ROLES = ("train", "validation")


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back as an aware UTC datetime."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert an aware datetime to UTC; refuse naive ones."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give a timezone")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime whatever the driver gave back."""
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

models = sa.Table(
    "models",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("risk_tier", sa.String(20), nullable=False),
    sa.Column("intended_use", sa.Text, nullable=False, server_default=""),
    sa.Column("out_of_scope_use", sa.Text, nullable=False, server_default=""),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    # The name's identity (NFKC, case-folded; `govml.domain.records.name_key`): unique, so
    # that "Credit" or a full-width "ｃｒｅｄｉｔ" is never a second model beside "credit".
    sa.Column("name_key", sa.String(200), nullable=False, server_default=""),
    sa.CheckConstraint(
        "risk_tier IN ('minimal', 'limited', 'high', 'unacceptable')", name="risk_tier"
    ),
    sa.Index("ix_models_name_key", "name_key", unique=True),
)

model_tags = sa.Table(
    "model_tags",
    metadata,
    sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

datasets = sa.Table(
    "datasets",
    metadata,
    sa.Column("digest", sa.String(71), primary_key=True),
    sa.Column("row_count", sa.BigInteger, nullable=False),
    sa.Column("column_count", sa.Integer, nullable=False),
    sa.Column("fingerprint", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
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
    sa.UniqueConstraint("model_id", "version"),
)

version_datasets = sa.Table(
    "version_datasets",
    metadata,
    sa.Column("version_id", sa.Integer, sa.ForeignKey("model_versions.id"), primary_key=True),
    sa.Column("role", sa.String(20), primary_key=True),
    sa.Column("dataset_digest", sa.String(71), sa.ForeignKey("datasets.digest"), nullable=False),
    sa.CheckConstraint("role IN ('train', 'validation')", name="role"),
)

# One version per alias per model: the primary key is the rule, not a convention.
model_aliases = sa.Table(
    "model_aliases",
    metadata,
    sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), primary_key=True),
    sa.Column("alias", sa.String(50), primary_key=True),
    sa.Column("version_id", sa.Integer, sa.ForeignKey("model_versions.id"), nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
)

# The leaf data of entry `seq` is exactly `entry` (canonical JSON, UTF-8); the other columns
# repeat some of its fields for querying and are checked against it on verification.
ledger_entries = sa.Table(
    "ledger_entries",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("time", sa.String(40), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("subject", sa.String(500), nullable=False),
    sa.Column("entry", sa.Text, nullable=False),
    sa.Column("leaf_hash", sa.String(64), nullable=False),
    sa.Index("ix_ledger_entries_subject", "subject"),
    sa.Index("ix_ledger_entries_action_seq", "action", "seq"),
)

# A tree head after each write transaction: size, RFC 6962 root and the frontier (roots of the
# perfect subtrees) so the next append costs O(log n). `govml audit checkpoint` fills in the
# signed note (C2SP checkpoint) of the latest tree head: the only update the trigger allows, once.
_SIGNED = sa.text("signed_note IS NOT NULL")
ledger_checkpoints = sa.Table(
    "ledger_checkpoints",
    metadata,
    sa.Column("tree_size", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("root_hash", sa.String(64), nullable=False),
    sa.Column("frontier", sa.JSON, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("signed_note", sa.Text, nullable=True),
    sa.Index(
        "ix_ledger_checkpoints_signed",
        "tree_size",
        sqlite_where=_SIGNED,
        postgresql_where=_SIGNED,
    ),
)

APPEND_ONLY_TABLES = (
    "ledger_entries",
    "ledger_checkpoints",
    "model_versions",
    "version_datasets",
    "datasets",
)

# Policies: every applied version, immutable (append-only triggers), as the canonical JSON its
# digest covers and the YAML text it was read from. `policy_tiers` says which version is in
# force for each risk tier: the primary key makes it one policy per tier at a time.
policies = sa.Table(
    "policies",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("digest", sa.String(71), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("source_name", sa.String(500), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.UniqueConstraint("name", "version"),
)

policy_tiers = sa.Table(
    "policy_tiers",
    metadata,
    sa.Column("tier", sa.String(20), primary_key=True),
    sa.Column("policy_id", sa.Integer, sa.ForeignKey("policies.id"), nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
    sa.CheckConstraint("tier IN ('minimal', 'limited', 'high', 'unacceptable')", name="tier"),
)


# Evaluations: one row per `govml evaluate` run, immutable (append-only triggers). The
# document is the canonical JSON (RFC 8785) of the whole result; its digest is in the
# `evaluation.recorded` ledger entry. A run on predictions made elsewhere has no model.
evaluations = sa.Table(
    "evaluations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=True),
    sa.Column("version", sa.Integer, nullable=True),
    sa.Column("label", sa.String(200), nullable=True),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("policy_name", sa.String(200), nullable=False),
    sa.Column("policy_digest", sa.String(71), nullable=False),
    sa.Column("data_digest", sa.String(71), nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("document_digest", sa.String(71), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.CheckConstraint("status IN ('pass', 'warn', 'fail')", name="status"),
    sa.Index("ix_evaluations_model_version", "model_id", "version"),
)


# People: a user's roles and status change (replayed from the ledger by `audit verify`);
# tokens are stored only as SHA-256 hashes, looked up by their public id. `name_key` is the
# identity of the name (unique: "Rita" is not a second "rita"); `roles_granted_at` maps each
# role held to when it was granted (ISO 8601), which decides the versions it may approve.
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("roles", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("disabled_at", UTCDateTime, nullable=True),
    sa.Column("name_key", sa.String(200), nullable=False, server_default=""),
    sa.Column("roles_granted_at", sa.JSON, nullable=False, server_default="{}"),
    sa.Index("ix_users_name_key", "name_key", unique=True),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=True),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
)

# Decisions on versions and moves of aliases: immutable (append-only triggers); the current
# holder of each alias is `model_aliases`, whose primary key allows one version per alias.
# A decision records the evidence it was given on: the version's latest evaluation under the
# policy then in force, and that policy's digest (NULL for decisions older than revision 0009).
approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("decision", sa.String(10), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("evaluation_id", sa.Integer, nullable=True),
    sa.Column("policy_digest", sa.String(71), nullable=True),
    sa.CheckConstraint("decision IN ('approve', 'reject')", name="decision"),
    sa.Index("ix_approvals_model_id_version", "model_id", "version"),
)

alias_events = sa.Table(
    "alias_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
    sa.Column("alias", sa.String(50), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("previous", sa.Integer, nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("evaluation_id", sa.Integer, nullable=True),
    sa.Column("policy_digest", sa.String(71), nullable=True),
    sa.Column("approvals", sa.JSON, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("action IN ('promote', 'rollback')", name="action"),
    sa.Index("ix_alias_events_model_id_alias", "model_id", "alias"),
)

# The challenger set-up of each model's gateway (current state; its history is the ledger's
# `serving.configured` entries, which `audit verify` replays).
serving_configs = sa.Table(
    "serving_configs",
    metadata,
    sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), primary_key=True),
    sa.Column("mode", sa.String(10), nullable=False),
    sa.Column("share", sa.Float, nullable=True),
    sa.Column("key", sa.String(200), nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
    sa.CheckConstraint("mode IN ('off', 'shadow', 'canary')", name="mode"),
)

# Every revision of a model card's editable fields (intended use, limitations, ...): the whole
# set after each change, immutable (append-only triggers); each revision has its
# `model.card_updated` ledger entry, which `verify_card_records` replays.
model_card_revisions = sa.Table(
    "model_card_revisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("fields", sa.JSON, nullable=False),
    sa.Column("changed", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.UniqueConstraint("model_id", "revision"),
)

# Production monitoring, all append-only: one row per `govml monitor` run (its canonical
# document, covered by the run's `monitoring.run` ledger entry), the time series of its
# checks (one point per version and check), and every alert and action it took, each with
# its own `monitoring.*` ledger entry. `dedupe` makes an action happen once: a rollback once
# per promotion, a notification once per window; NULL for attempts that may be repeated.
monitoring_runs = sa.Table(
    "monitoring_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
    sa.Column("window_start", UTCDateTime, nullable=False),
    sa.Column("window_end", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("digest", sa.String(71), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_monitoring_runs_model_id_window_end", "model_id", "window_end"),
)

monitoring_points = sa.Table(
    "monitoring_points",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("monitoring_runs.id"), nullable=False),
    sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("check", sa.String(300), nullable=False),
    sa.Column("category", sa.String(30), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("window_start", UTCDateTime, nullable=False),
    sa.Column("window_end", UTCDateTime, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_monitoring_points_model_id_check_window_end", "model_id", "check", "window_end"),
)

monitoring_actions = sa.Table(
    "monitoring_actions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("monitoring_runs.id"), nullable=False),
    sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("dedupe", sa.String(300), nullable=True),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("model_id", "dedupe"),
    sa.Index("ix_monitoring_actions_run_id", "run_id"),
)

# Keys of the serving gateway: scoped credentials of one model (predict, feedback,
# correct_labels, metrics), stored only as the SHA-256 of the key and looked up by its public
# id. Every key expires. Each issue and revocation is a `gateway_key.*` ledger entry, which
# `audit verify` replays against this table.
gateway_keys = sa.Table(
    "gateway_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
    sa.Column("revoked_by", sa.String(200), nullable=True),
    sa.Index("ix_gateway_keys_model_id", "model_id"),
)

# The review queue (EU AI Act Art. 14): a record the gateway referred to a person instead of
# answering, or a decision a reviewer overrode. Only the request id, record position, score,
# model decision and a digest of the inputs are kept (the inputs stay in the prediction log).
# Each referral and each decision is a `referral.*` ledger entry, which `audit verify` replays.
referrals = sa.Table(
    "referrals",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("request_id", sa.String(128), nullable=False),
    sa.Column("record", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("reasons", sa.JSON, nullable=False),
    sa.Column("score", sa.Float, nullable=True),
    sa.Column("model_decision", sa.JSON, nullable=True),
    sa.Column("inputs_digest", sa.String(71), nullable=True),
    sa.Column("referred_at", UTCDateTime, nullable=False),
    sa.Column("referred_by", sa.String(200), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("decision", sa.JSON, nullable=True),
    sa.Column("override", sa.Boolean, nullable=True),
    sa.Column("comment", sa.Text, nullable=True),
    sa.Column("decided_at", UTCDateTime, nullable=True),
    sa.Column("decided_by", sa.String(200), nullable=True),
    sa.CheckConstraint("kind IN ('referral', 'override')", name="kind"),
    sa.CheckConstraint("status IN ('pending', 'decided')", name="status"),
    sa.UniqueConstraint("model_id", "request_id", "record"),
    sa.Index("ix_referrals_status", "model_id", "status", "referred_at"),
)

# A model suspended by a deployer or risk officer: its gateways refer every record (or answer
# 503, per the policy's oversight.when_suspended) until it is resumed. One row per model that
# was ever suspended; each change is a `serving.suspended` / `serving.resumed` ledger entry.
serving_suspensions = sa.Table(
    "serving_suspensions",
    metadata,
    sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), primary_key=True),
    sa.Column("suspended", sa.Boolean, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
)

# A retired model: its aliases were cleared (kept here, as they were, for the record), its
# gateways answer that it is retired, and its history stays. One row per retired model; the
# retirement is a `model.retired` ledger entry.
model_retirements = sa.Table(
    "model_retirements",
    metadata,
    sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), primary_key=True),
    sa.Column("retired_at", UTCDateTime, nullable=False),
    sa.Column("retired_by", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("ticket", sa.String(200), nullable=True),
    sa.Column("aliases", sa.JSON, nullable=False),
)

# The risk register of a model (SR 11-7 / SS1/23 style): every change writes a new revision with
# the whole list of risks, its digest, and a `risk_register.revised` ledger entry; old revisions
# stay.
risk_registers = sa.Table(
    "risk_registers",
    metadata,
    sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), primary_key=True),
    sa.Column("revision", sa.Integer, primary_key=True),
    sa.Column("risks", sa.JSON, nullable=False),
    sa.Column("digest", sa.String(71), nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("ticket", sa.String(200), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
)

# Sessions of the web UI: a person signs in with a token and gets a session cookie. Only the
# SHA-256 of the session id is stored, with the user, the token signed in with (a revoked or
# expired token ends its sessions), the session's CSRF secret, and its times: a session ends
# after `expires_at` or after an idle period since `last_seen_at` (GOVML_UI_* settings).
ui_sessions = sa.Table(
    "ui_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("token_id", sa.String(32), sa.ForeignKey("tokens.id"), nullable=False),
    sa.Column("csrf_secret", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Index("ix_ui_sessions_expires_at", "expires_at"),
)

# Indexes the web UI's inventory reads instead of the rows (whose wide JSON and document
# columns come before these times): a version's number, time and registrant, and when each
# model was last evaluated, each found per model without reading a row.
sa.Index(
    "ix_model_versions_inventory",
    model_versions.c.model_id,
    model_versions.c.version,
    model_versions.c.created_at,
    model_versions.c.registrant,
)
sa.Index("ix_evaluations_model_id_created_at", evaluations.c.model_id, evaluations.c.created_at)
