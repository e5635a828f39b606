"""SQL for models, versions and datasets: rows in, records out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from govml.domain.records import DatasetRef, Model, ModelVersion, RiskTier, VersionRef, name_key
from govml.errors import AlreadyExistsError, NotFoundError, did_you_mean
from govml.store.schema import (
    datasets,
    model_aliases,
    model_tags,
    model_versions,
    models,
    version_datasets,
)


def model_id(conn: Connection, name: str) -> int:
    """Return the id of model ``name``; raise `NotFoundError` (with a suggestion) if absent."""
    found = conn.execute(sa.select(models.c.id).where(models.c.name == name)).scalar_one_or_none()
    if found is None:
        names = conn.execute(sa.select(models.c.name)).scalars().all()
        raise NotFoundError(f"model {name!r} does not exist", hint=did_you_mean(name, names))
    return int(found)


def model_exists(conn: Connection, name: str) -> bool:
    """Return True when a model called ``name`` exists."""
    query = sa.select(models.c.id).where(models.c.name == name)
    return conn.execute(query).first() is not None


def load_model(conn: Connection, name: str) -> Model:
    """Return model ``name`` with its tags, latest version and aliases."""
    row = conn.execute(sa.select(models).where(models.c.name == name)).first()
    if row is None:
        model_id(conn, name)  # raises with a suggestion
        raise AssertionError("unreachable")
    return _model(conn, row)


def list_models(conn: Connection) -> list[Model]:
    """Return every model, by name."""
    return [_model(conn, row) for row in conn.execute(sa.select(models).order_by(models.c.name))]


def model_names(conn: Connection) -> list[str]:
    """Return the name of every model, in the database's order of names."""
    return [
        str(n) for n in conn.execute(sa.select(models.c.name).order_by(models.c.name)).scalars()
    ]


def _model(conn: Connection, row: Row[Any]) -> Model:
    tags = {
        key: value
        for key, value in conn.execute(
            sa.select(model_tags.c.key, model_tags.c.value)
            .where(model_tags.c.model_id == row.id)
            .order_by(model_tags.c.key)
        )
    }
    latest = conn.execute(
        sa.select(sa.func.max(model_versions.c.version)).where(model_versions.c.model_id == row.id)
    ).scalar_one_or_none()
    aliases = {
        alias: version
        for alias, version in conn.execute(
            sa.select(model_aliases.c.alias, model_versions.c.version)
            .join(model_versions, model_versions.c.id == model_aliases.c.version_id)
            .where(model_aliases.c.model_id == row.id)
            .order_by(model_aliases.c.alias)
        )
    }
    return Model(
        name=row.name,
        owner=row.owner,
        risk_tier=RiskTier(row.risk_tier),
        intended_use=row.intended_use,
        out_of_scope_use=row.out_of_scope_use,
        description=row.description,
        tags=tags,
        created_at=row.created_at,
        created_by=row.created_by,
        latest_version=latest,
        aliases=aliases,
    )


def insert_model(conn: Connection, values: Mapping[str, Any]) -> int:
    """Insert a model row (with the identity key of its name) and return its id.

    Raises
    ------
    AlreadyExistsError
        When another model's name has the same key (``Credit`` beside ``credit``).
    """
    key = name_key(values["name"])
    same = conn.execute(
        sa.select(models.c.name).where(models.c.name_key == key)
    ).scalar_one_or_none()
    if same is not None:
        raise AlreadyExistsError(
            f"model {values['name']!r} is the same name as existing model {same!r}: model "
            "names are compared ignoring case and Unicode compatibility forms",
            hint=f"use {same!r}, or choose another name",
        )
    result = conn.execute(sa.insert(models).values(**values, name_key=key).returning(models.c.id))
    return int(result.scalar_one())


def set_tag(conn: Connection, mid: int, key: str, value: str | None) -> None:
    """Set (or with ``value=None`` remove) a tag on a model."""
    conn.execute(sa.delete(model_tags).where(model_tags.c.model_id == mid, model_tags.c.key == key))
    if value is not None:
        conn.execute(sa.insert(model_tags).values(model_id=mid, key=key, value=value))


def model_id_and_next_version(conn: Connection, name: str) -> tuple[int, int]:
    """Return the id of model ``name`` and the number its next version gets, in one query."""
    latest = (
        sa.select(sa.func.max(model_versions.c.version))
        .where(model_versions.c.model_id == models.c.id)
        .scalar_subquery()
    )
    row = conn.execute(sa.select(models.c.id, latest).where(models.c.name == name)).first()
    if row is None:
        model_id(conn, name)  # raises NotFoundError with a suggestion
        raise AssertionError("unreachable")
    return int(row[0]), int(row[1] or 0) + 1


def next_version(conn: Connection, mid: int) -> int:
    """Return the number the next version of model ``mid`` gets."""
    latest = conn.execute(
        sa.select(sa.func.max(model_versions.c.version)).where(model_versions.c.model_id == mid)
    ).scalar_one_or_none()
    return int(latest or 0) + 1


def insert_dataset(
    conn: Connection,
    *,
    digest: str,
    row_count: int,
    column_count: int,
    fingerprint: Mapping[str, Any],
    now: datetime,
) -> bool:
    """Store a dataset fingerprint unless it is already stored; return True if inserted."""
    exists = conn.execute(
        sa.select(datasets.c.digest).where(datasets.c.digest == digest)
    ).scalar_one_or_none()
    if exists is not None:
        return False
    conn.execute(
        sa.insert(datasets).values(
            digest=digest,
            row_count=row_count,
            column_count=column_count,
            fingerprint=dict(fingerprint),
            created_at=now,
        )
    )
    return True


def load_dataset(conn: Connection, digest: str) -> dict[str, Any]:
    """Return the stored fingerprint (as a dictionary) of dataset ``digest``."""
    row = conn.execute(
        sa.select(datasets.c.fingerprint).where(datasets.c.digest == digest)
    ).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"dataset {digest} is not stored")
    return dict(row)


def dataset_digests(conn: Connection, prefix: str, *, limit: int) -> list[str]:
    """Return up to ``limit`` stored dataset digests starting with ``prefix``, in order."""
    query = (
        sa.select(datasets.c.digest)
        .where(datasets.c.digest.startswith(prefix, autoescape=True))
        .order_by(datasets.c.digest)
        .limit(limit)
    )
    return [str(d) for d in conn.execute(query).scalars()]


def insert_version(
    conn: Connection,
    *,
    mid: int,
    version: ModelVersion,
    dataset_digests: Mapping[str, str],
) -> None:
    """Insert an immutable version row and its dataset links."""
    result = conn.execute(
        sa.insert(model_versions)
        .values(
            model_id=mid,
            version=version.version,
            artifact_digest=version.artifact_digest,
            artifact_size=version.artifact_size,
            flavor=version.flavor,
            flavor_options=version.flavor_options,
            signature=version.signature,
            code=version.code,
            environment=version.environment,
            params=version.params,
            metrics=version.metrics,
            description=version.description,
            mlflow_run_id=version.mlflow_run_id,
            registrant=version.registrant,
            created_at=version.created_at,
        )
        .returning(model_versions.c.id)
    )
    vid = int(result.scalar_one())
    if dataset_digests:
        conn.execute(
            sa.insert(version_datasets),
            [
                {"version_id": vid, "role": role, "dataset_digest": digest}
                for role, digest in dataset_digests.items()
            ],
        )


def resolve_version(conn: Connection, ref: VersionRef) -> int:
    """Return the version number ``ref`` points to (latest when it names no version)."""
    mid = model_id(conn, ref.name)
    if ref.alias is not None:
        number = conn.execute(
            sa.select(model_versions.c.version)
            .join(model_aliases, model_aliases.c.version_id == model_versions.c.id)
            .where(model_aliases.c.model_id == mid, model_aliases.c.alias == ref.alias)
        ).scalar_one_or_none()
        if number is None:
            raise NotFoundError(f"model {ref.name!r} has no version with alias {ref.alias!r}")
        return int(number)
    if ref.version is not None:
        return ref.version
    latest = conn.execute(
        sa.select(sa.func.max(model_versions.c.version)).where(model_versions.c.model_id == mid)
    ).scalar_one_or_none()
    if latest is None:
        raise NotFoundError(f"model {ref.name!r} has no versions yet")
    return int(latest)


def _select_versions() -> sa.Select[Any]:
    """Versions with their model name, dataset links and aliases: one row per combination."""
    return (
        sa.select(
            model_versions,
            models.c.name.label("model_name"),
            version_datasets.c.role.label("ds_role"),
            datasets.c.digest.label("ds_digest"),
            datasets.c.row_count.label("ds_rows"),
            datasets.c.column_count.label("ds_columns"),
            model_aliases.c.alias.label("alias"),
        )
        .join(models, models.c.id == model_versions.c.model_id)
        .outerjoin(version_datasets, version_datasets.c.version_id == model_versions.c.id)
        .outerjoin(datasets, datasets.c.digest == version_datasets.c.dataset_digest)
        .outerjoin(model_aliases, model_aliases.c.version_id == model_versions.c.id)
    )


def load_version(conn: Connection, ref: VersionRef) -> ModelVersion:
    """Return the version ``ref`` points to, in one query."""
    query = _select_versions().where(models.c.name == ref.name)
    if ref.alias is not None:
        wanted = model_aliases.alias("wanted")
        chosen = (
            sa.select(wanted.c.version_id)
            .where(wanted.c.model_id == models.c.id, wanted.c.alias == ref.alias)
            .scalar_subquery()
        )
        query = query.where(model_versions.c.id == chosen)
    elif ref.version is not None:
        query = query.where(model_versions.c.version == ref.version)
    else:
        others = model_versions.alias("others")
        latest = (
            sa.select(sa.func.max(others.c.version))
            .where(others.c.model_id == models.c.id)
            .scalar_subquery()
        )
        query = query.where(model_versions.c.version == latest)
    found = _versions(conn.execute(query).all())
    if not found:
        resolve_version(conn, ref)  # raises NotFoundError naming what is missing
        raise NotFoundError(f"model {ref.name!r} has no version {ref.version}")
    return found[0]


def list_versions(conn: Connection, name: str) -> list[ModelVersion]:
    """Return every version of model ``name``, oldest first."""
    mid = model_id(conn, name)
    rows = conn.execute(
        _select_versions()
        .where(model_versions.c.model_id == mid)
        .order_by(model_versions.c.version)
    ).all()
    return _versions(rows)


def _versions(rows: Sequence[Row[Any]]) -> list[ModelVersion]:
    """Fold the joined rows of `_select_versions` into one record per version."""
    grouped: dict[int, tuple[Row[Any], dict[str, DatasetRef], set[str]]] = {}
    for row in rows:
        _, refs, aliases = grouped.setdefault(row.id, (row, {}, set()))
        if row.ds_role is not None:
            refs[row.ds_role] = DatasetRef(
                role=row.ds_role,
                digest=row.ds_digest,
                row_count=row.ds_rows,
                columns=row.ds_columns,
            )
        if row.alias is not None:
            aliases.add(row.alias)
    return [
        ModelVersion(
            model=row.model_name,
            version=row.version,
            artifact_digest=row.artifact_digest,
            artifact_size=row.artifact_size,
            flavor=row.flavor,
            flavor_options=row.flavor_options,
            signature=row.signature,
            datasets=tuple(refs[role] for role in sorted(refs)),
            code=row.code,
            environment=row.environment,
            params=row.params,
            metrics=row.metrics,
            description=row.description,
            mlflow_run_id=row.mlflow_run_id,
            registrant=row.registrant,
            created_at=row.created_at,
            aliases=tuple(sorted(aliases)),
        )
        for row, refs, aliases in grouped.values()
    ]
