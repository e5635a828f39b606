"""MLflow use cases: import a model version with its lineage, mirror governed aliases.

govml stays the authority. `MlflowService.import_version` registers a govml version from an
MLflow model (lineage, safe artifact, run id) and writes an ``mlflow.imported`` ledger entry
with what MLflow knew (run tags, dataset inputs and digests, the registered model and
version) and, for a python_function model, its code files with their SHA-256.
`MlflowService.sync` makes each MLflow alias ``staging`` / ``production`` of an imported model
point where govml's alias points: an alias set or moved by hand in MLflow is reported and
reset, and every change is written to the ledger (``mlflow.aliases_synced``).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govml.domain.lifecycle import LIFECYCLE_ALIASES, Permission
from govml.domain.records import ModelVersion
from govml.errors import InputError
from govml.flavors import SerializedModel
from govml.integrations import mlflow_bridge as bridge
from govml.services.access import authorize, precheck
from govml.services.context import ServiceContext
from govml.services.policy import policy_in_force
from govml.services.registry import RegistryService, model_subject, version_subject
from govml.store import records
from govml.store.audit_search import EntryQuery, search_entries
from govml.store.ledger import NewEntry, append

IMPORTED = "mlflow.imported"
SYNCED = "mlflow.aliases_synced"


@dataclass(frozen=True, kw_only=True)
class ImportResult:
    """A version imported from MLflow, or the one an earlier import made."""

    version: ModelVersion
    mlflow: dict[str, Any]
    artifact: str
    datasets: dict[str, str]
    already: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape of ``govml import mlflow --json``."""
        return {
            "version": self.version.ref,
            "already_imported": self.already,
            "artifact": self.artifact,
            "flavor": self.version.flavor,
            "mlflow_run_id": self.version.mlflow_run_id,
            "mlflow": self.mlflow,
            "fingerprinted_datasets": self.datasets,
        }


@dataclass(frozen=True, kw_only=True)
class AliasChange:
    """One MLflow alias govml set, reset or removed."""

    model: str
    mlflow_model: str
    alias: str
    was: str | None
    now: str | None
    kind: str  # set (was missing), reset (moved by hand), removed (govml holds none)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape of one change."""
        return {
            "model": self.model,
            "mlflow_model": self.mlflow_model,
            "alias": self.alias,
            "was": self.was,
            "now": self.now,
            "kind": self.kind,
        }


class MlflowService:
    """Import from and mirror aliases to an MLflow tracking server."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.registry = RegistryService(ctx)

    def import_version(
        self,
        uri: str,
        *,
        model: str | None = None,
        tracking_uri: str | None = None,
        target: str | None = None,
        description: str = "",
    ) -> ImportResult:
        """Register a govml version of ``model`` from MLflow model ``uri`` (see the module).

        ``model`` defaults to the MLflow registered model's name; the govml model must exist.
        Datasets MLflow logged from a file on this machine are fingerprinted for real.
        """
        precheck(self.ctx, Permission.REGISTER)
        with bridge.tracking(tracking_uri) as client, tempfile.TemporaryDirectory() as tmp:
            fetched = bridge.fetch(client, uri, Path(tmp))
            name = model or fetched.registered_name
            if name is None:
                raise InputError(f"{uri}: a run id names no model: give --model NAME")
            existing = self._imported(name, fetched)
            if existing is not None:
                return existing
            tier = self.registry.get_model(name).risk_tier.value
            with self.ctx.store.read() as conn:
                stored = policy_in_force(conn, tier)
            security = stored.policy.security if stored is not None else None
            level = security.serialization if security is not None else "safe_only"
            chosen = bridge.choose_artifact(fetched, serialization=level, tier=tier)
            serialized = (
                SerializedModel(data=chosen.data, flavor=chosen.flavor)
                if chosen.data is not None
                else None
            )
            data = {
                role: path
                for d in fetched.datasets
                if (role := bridge.dataset_role(d)) and (path := d.local_file())
            }
            version = self.registry.register_version(
                name,
                model=chosen.model,
                artifact=chosen.path,
                flavor=None if serialized is not None else chosen.flavor,
                serialized=serialized,
                source=uri,
                train_data=data.get("train"),
                # Without local training data, the signature comes from MLflow's example.
                input_example=None if "train" in data else fetched.input_example(),
                validation_data=data.get("validation"),
                target=target or fetched.params.get("target"),
                params=fetched.params,
                metrics=fetched.metrics,
                description=description or f"imported from MLflow {uri}",
                mlflow_run_id=fetched.run_id,
                code=fetched.code(),
                environment=fetched.environment(),
            )
        lineage = {**fetched.lineage(), "artifact": chosen.how}
        if "code_files" in version.flavor_options:
            # What will run when the model is loaded: for the approvers to review.
            lineage["code_files"] = dict(version.flavor_options["code_files"])
        with self.ctx.store.write() as conn:
            authorize(conn, self.ctx, Permission.REGISTER)
            append(
                conn,
                actor=self.ctx.actor,
                now=self.ctx.clock(),
                entries=[
                    NewEntry(
                        action=IMPORTED,
                        subject=version_subject(name, version.version),
                        payload={"version": version.ref, **lineage},
                    )
                ],
            )
        return ImportResult(
            version=version,
            mlflow=lineage,
            artifact=chosen.how,
            datasets={role: str(path) for role, path in data.items()},
        )

    def _imported(self, name: str, fetched: bridge.MlflowModel) -> ImportResult | None:
        """Return the earlier import of the same MLflow model version, if any."""
        for entry in self._imports(name):
            payload = entry.payload
            same = payload.get("run_id") == fetched.run_id and (
                payload.get("registered_version") == fetched.registered_version
            )
            if same:
                version = self.registry.get_version(str(payload["version"]))
                return ImportResult(
                    version=version,
                    mlflow=dict(payload),
                    artifact=str(payload.get("artifact")),
                    datasets={},
                    already=True,
                )
        return None

    def _imports(self, name: str) -> list[Any]:
        with self.ctx.store.read() as conn:
            records.model_id(conn, name)
            return search_entries(conn, EntryQuery(model=name, action=IMPORTED, limit=10_000))

    def sync(
        self, name: str, *, tracking_uri: str | None = None, dry_run: bool = False
    ) -> list[AliasChange]:
        """Make MLflow's ``staging`` / ``production`` aliases of ``name`` follow govml's.

        Only MLflow registered models govml imported versions from are touched; an alias
        pointing at a version govml does not hold it with is reset (``reset``), a missing one
        set (``set``), one govml holds on no imported version removed (``removed``).
        """
        precheck(self.ctx, Permission.DEPLOY)
        imports = self._imports(name)
        if not imports:
            raise InputError(f"model {name!r} has no version imported from MLflow")
        mapping: dict[int, tuple[str, str]] = {}
        for entry in imports:
            payload = entry.payload
            if payload.get("registered_model") and payload.get("registered_version"):
                number = int(str(payload["version"]).rpartition("@")[2])
                mapping[number] = (
                    str(payload["registered_model"]),
                    str(payload["registered_version"]),
                )
        held = {
            alias: v.version
            for v in self.registry.list_versions(name)
            for alias in v.aliases
            if alias in LIFECYCLE_ALIASES
        }
        changes: list[AliasChange] = []
        with bridge.tracking(tracking_uri) as client:
            for mlflow_model in sorted({m for m, _ in mapping.values()}):
                current = bridge.aliases_of(client, mlflow_model)
                for alias in sorted(LIFECYCLE_ALIASES):
                    holder = held.get(alias)
                    want = mapping.get(holder) if holder is not None else None
                    wanted = want[1] if want is not None and want[0] == mlflow_model else None
                    have = current.get(alias)
                    if have == wanted:
                        continue
                    kind = "set" if have is None else ("removed" if wanted is None else "reset")
                    changes.append(
                        AliasChange(
                            model=name,
                            mlflow_model=mlflow_model,
                            alias=alias,
                            was=have,
                            now=wanted,
                            kind=kind,
                        )
                    )
                    if dry_run:
                        continue
                    if wanted is None:
                        bridge.delete_alias(client, mlflow_model, alias)
                    else:
                        bridge.set_alias(client, mlflow_model, alias, wanted)
        if changes and not dry_run:
            with self.ctx.store.write() as conn:
                authorize(conn, self.ctx, Permission.DEPLOY)
                append(
                    conn,
                    actor=self.ctx.actor,
                    now=self.ctx.clock(),
                    entries=[
                        NewEntry(
                            action=SYNCED,
                            subject=model_subject(name),
                            payload={"model": name, "changes": [c.to_dict() for c in changes]},
                        )
                    ],
                )
        return changes
