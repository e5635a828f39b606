"""Registry use cases: create models, register immutable versions with lineage, load them.

Every state change writes its ledger entry in the same transaction as the change. Work that can
fail on bad input (reading data, serialising or loading the model, storing the artifact bytes)
happens before the transaction opens, so a failure leaves the metadata untouched; a stored
artifact that ends up unreferenced is harmless (content-addressed, never half-written).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govml.domain.lifecycle import Permission
from govml.domain.records import (
    DatasetRef,
    Model,
    ModelVersion,
    RiskTier,
    VersionRef,
    check_name,
)
from govml.domain.signature import infer_signature
from govml.errors import (
    AlreadyExistsError,
    FlavorError,
    InputError,
    UnsafeArtifactError,
    ValidationError,
)
from govml.flavors import Flavor, LoadedModel, SerializedModel, flavor_for, get_flavor
from govml.flavors.trust import ERR_SERVER_TRUST, TrustError, check_type_names, granted_by
from govml.ledger.canonical import canonical_json
from govml.lineage import check_code, check_environment, code_lineage, environment_lineage
from govml.services.access import authorize, precheck
from govml.services.context import ServiceContext
from govml.store import records
from govml.store.ledger import NewEntry, append

if TYPE_CHECKING:
    import pyarrow as pa

SIGNATURE_SAMPLE_ROWS = 100
PYFUNC = "mlflow_pyfunc"
CUSTOM_CODE = "custom_code"
ERR_CUSTOM_CODE = (
    "{model} is an MLflow python_function model, which runs the code it ships with; {held} "
    "in force for risk tier {tier!r}, and loading it needs security.serialization: custom_code"
)
ERR_CUSTOM_CODE_PROCESS = (
    "{model} is an MLflow python_function model, which runs the code it ships with; policy "
    "{policy!r} allows that, but this process may not run models' own code (GOVML_CUSTOM_CODE "
    "is not set)"
)
_SUFFIX_FLAVORS = {".skops": "sklearn", ".onnx": "onnx", ".ubj": "xgboost", ".lgb": "lightgbm"}


def record_digest(record: Mapping[str, Any]) -> str:
    """Return ``sha256:<hex>`` of the canonical JSON of a record."""
    return "sha256:" + hashlib.sha256(canonical_json(record)).hexdigest()


def model_subject(name: str) -> str:
    """Return the ledger subject of a model."""
    return f"model/{name}"


def version_subject(name: str, version: int) -> str:
    """Return the ledger subject of a model version."""
    return f"model/{name}/versions/{version}"


class RegistryService:
    """Models and their versions."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # -- models ----------------------------------------------------------------------------

    def create_model(
        self,
        name: str,
        *,
        owner: str | None = None,
        risk_tier: str | RiskTier,
        intended_use: str = "",
        out_of_scope_use: str = "",
        description: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> Model:
        """Create a model; its name must be new."""
        check_name(name)
        tier = risk_tier if isinstance(risk_tier, RiskTier) else RiskTier.parse(risk_tier)
        owner = (owner or self.ctx.actor).strip()
        if not owner:
            raise ValidationError("owner must not be empty")
        tags = {str(k): str(v) for k, v in (tags or {}).items()}
        now = self.ctx.clock()
        values = {
            "name": name,
            "owner": owner,
            "risk_tier": tier.value,
            "intended_use": intended_use,
            "out_of_scope_use": out_of_scope_use,
            "description": description,
        }
        with self.ctx.store.write() as conn:
            authorize(conn, self.ctx, Permission.REGISTER)
            if records.model_exists(conn, name):
                raise AlreadyExistsError(f"model {name!r} already exists")
            mid = records.insert_model(
                conn, {**values, "created_at": now, "created_by": self.ctx.actor}
            )
            for key, value in sorted(tags.items()):
                records.set_tag(conn, mid, key, value)
            append(
                conn,
                actor=self.ctx.actor,
                now=now,
                entries=[
                    NewEntry(
                        action="model.created",
                        subject=model_subject(name),
                        payload={**values, "tags": tags},
                    )
                ],
            )
            return records.load_model(conn, name)

    def get_model(self, name: str) -> Model:
        """Return model ``name``."""
        with self.ctx.store.read() as conn:
            return records.load_model(conn, name)

    def list_models(self) -> list[Model]:
        """Return every model, by name."""
        with self.ctx.store.read() as conn:
            return records.list_models(conn)

    def set_tag(self, name: str, key: str, value: str | None) -> Model:
        """Set a tag on a model, or remove it with ``value=None``."""
        if not key or len(key) > 200:
            raise ValidationError(f"invalid tag key {key!r}: use 1-200 characters")
        with self.ctx.store.write() as conn:
            authorize(conn, self.ctx, Permission.REGISTER)
            mid = records.model_id(conn, name)
            records.set_tag(conn, mid, key, value)
            action = "model.tag_set" if value is not None else "model.tag_removed"
            payload: dict[str, Any] = {"key": key}
            if value is not None:
                payload["value"] = value
            append(
                conn,
                actor=self.ctx.actor,
                now=self.ctx.clock(),
                entries=[NewEntry(action=action, subject=model_subject(name), payload=payload)],
            )
            return records.load_model(conn, name)

    # -- versions --------------------------------------------------------------------------

    def register_version(
        self,
        name: str,
        *,
        model: object | None = None,
        artifact: str | Path | None = None,
        flavor: str | None = None,
        train_data: object | None = None,
        validation_data: object | None = None,
        target: str | None = None,
        params: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
        description: str = "",
        input_example: object | None = None,
        code_path: str | Path | None = None,
        mlflow_run_id: str | None = None,
        serialized: SerializedModel | None = None,
        source: str | None = None,
        code: Mapping[str, Any] | None = None,
        environment: Mapping[str, Any] | None = None,
        trusted: Iterable[str] = (),
        exclude_columns: Sequence[str] = (),
    ) -> ModelVersion:
        """Register a new immutable version of model ``name``.

        Give either ``model`` (an in-memory estimator) or ``artifact`` (a file), not both.
        Training and validation data may be DataFrames (pandas, polars), Arrow tables or
        CSV / Parquet paths; their fingerprints and profiles become the version's lineage.
        The input signature comes from ``input_example`` or the first rows of the training
        data without ``target``, reduced to the columns the model reads when it records them
        (``feature_names_in_``, a booster's feature names) and without ``exclude_columns``
        (columns the data has but the model does not read, for models that do not record
        their features); the output signature from predicting on that sample.

        The artifact may import types beyond the built-in allowlist only when they are in
        ``GOVML_TRUSTED_TYPES`` or, in local mode, in ``trusted`` (types the caller reviewed);
        otherwise it is refused with each type named. The version records the extra types it
        relies on (flavor options ``trusted``) and who allowed each (``trusted_by``), and so
        does its ``version.registered`` ledger entry.

        A server registering for a remote client gets the model's bytes as ``serialized`` (with
        the options the client's flavor wrote, used only as hints: the options are recomputed
        from the bytes), ``source`` naming them in messages (the upload's file name), and the
        client's ``code`` and ``environment`` lineage (validated; the lock digest is recomputed
        from the packages).
        """
        with self.ctx.store.read() as conn:
            records.model_id(conn, name)  # fail fast on an unknown model
        precheck(self.ctx, Permission.REGISTER)
        registrant = self._registrant_trust(trusted)
        allowed = self.ctx.trusted_types | registrant
        if serialized is None:
            serialized = self._serialize(
                model=model, artifact=artifact, flavor=flavor, trusted=allowed
            )
        elif model is not None or artifact is not None:
            raise InputError("give a serialized model, a model object or an artifact, not two")
        else:
            serialized = get_flavor(serialized.flavor, trusted=allowed).from_bytes(
                serialized.data, source=source or "the artifact", hints=serialized.options
            )
        code_record = (
            check_code(code)
            if code is not None
            else code_lineage(Path(code_path) if code_path else None)
        )
        environment_record = (
            check_environment(environment) if environment is not None else environment_lineage()
        )
        loaded = self.loading_flavor(serialized.flavor, name, trusted=allowed).load(
            serialized.data, serialized.options
        )
        serialized = self._record_trust(serialized, registrant)
        from govml.datasets import fingerprint, read_table  # NumPy and pyarrow: only to register

        tables = {
            role: read_table(source)
            for role, source in (("train", train_data), ("validation", validation_data))
            if source is not None
        }
        for role, table in tables.items():
            _check_target(table, target, role)
        fingerprints = {role: fingerprint(table) for role, table in tables.items()}
        signature = self._signature(
            loaded, tables.get("train"), target, input_example, list(exclude_columns)
        )
        run_params = _json_safe(params or {}, "params")
        if target is not None:
            run_params.setdefault("target", target)
        run_metrics = _json_safe(metrics or {}, "metrics")
        digest = self.ctx.artifacts.put_bytes(serialized.data)
        now = self.ctx.clock()
        with self.ctx.store.write() as conn:
            authorize(conn, self.ctx, Permission.REGISTER)
            mid, number = records.model_id_and_next_version(conn, name)
            version = ModelVersion(
                model=name,
                version=number,
                artifact_digest=digest,
                artifact_size=len(serialized.data),
                flavor=serialized.flavor,
                flavor_options=dict(serialized.options),
                signature=signature,
                datasets=tuple(
                    DatasetRef(
                        role=role,
                        digest=fp.digest,
                        row_count=fp.row_count,
                        columns=len(fp.schema),
                    )
                    for role, fp in fingerprints.items()
                ),
                code=code_record,
                environment=environment_record,
                params=run_params,
                metrics=run_metrics,
                description=description,
                mlflow_run_id=mlflow_run_id,
                registrant=self.ctx.actor,
                created_at=now,
            )
            entries: list[NewEntry] = []
            for role, fp in fingerprints.items():
                stored = fp.to_dict()
                if records.insert_dataset(
                    conn,
                    digest=fp.digest,
                    row_count=fp.row_count,
                    column_count=len(fp.schema),
                    fingerprint=stored,
                    now=now,
                ):
                    entries.append(
                        NewEntry(
                            action="dataset.recorded",
                            subject=f"dataset/{fp.digest}",
                            payload={
                                "digest": fp.digest,
                                "row_count": fp.row_count,
                                "fingerprint_digest": record_digest(stored),
                                "first_seen_as": f"{name}@{number} {role}",
                            },
                        )
                    )
            records.insert_version(
                conn,
                mid=mid,
                version=version,
                dataset_digests={role: fp.digest for role, fp in fingerprints.items()},
            )
            entries.append(
                NewEntry(
                    action="version.registered",
                    subject=version_subject(name, number),
                    payload={
                        "model": name,
                        "version": number,
                        "artifact_digest": digest,
                        "flavor": serialized.flavor,
                        "datasets": {role: fp.digest for role, fp in fingerprints.items()},
                        "git_commit": version.code.get("git_commit"),
                        "git_dirty": version.code.get("git_dirty"),
                        "lock_digest": version.environment["lock_digest"],
                        "trusted": list(version.flavor_options.get("trusted", [])),
                        "trusted_by": dict(version.flavor_options.get("trusted_by", {})),
                        "record_digest": record_digest(version.record()),
                    },
                )
            )
            append(conn, actor=self.ctx.actor, now=now, entries=entries)
        return version

    def get_version(self, ref: str | VersionRef) -> ModelVersion:
        """Return the version ``ref`` (``name@3``, ``name@production`` or ``name``) names."""
        parsed = ref if isinstance(ref, VersionRef) else VersionRef.parse(ref)
        with self.ctx.store.read() as conn:
            return records.load_version(conn, parsed)

    def list_versions(self, name: str) -> list[ModelVersion]:
        """Return every version of model ``name``, oldest first."""
        with self.ctx.store.read() as conn:
            return records.list_versions(conn, name)

    def load_model(self, ref: str | VersionRef, *, trusted: Iterable[str] = ()) -> LoadedModel:
        """Load the version's artifact (its digest checked) into an object with ``predict``.

        The artifact may import types beyond the built-in allowlist only when they are in
        ``GOVML_TRUSTED_TYPES`` or, in local mode, in ``trusted``; what the version records
        (its ``trusted`` option) grants nothing.

        Raises
        ------
        EnvironmentMismatchError
            When the running scikit-learn, XGBoost, LightGBM, ONNX Runtime or NumPy differ from
            the recorded ones and the policy says ``environment: {mismatch: refuse}``.
        UnsafeArtifactError
            Naming each type the artifact imports that is not trusted.
        IntegrityError
            When the stored bytes no longer hash to the version's digest.
        """
        allowed = self.ctx.trusted_types | self._registrant_trust(trusted)
        version = self.get_version(ref)
        # The policy engine (and the metrics it names) loads only when a model does.
        from govml.services.environment_check import check_for_load

        check_for_load(self.ctx, version)  # the policy's environment.mismatch: warn or refuse
        data = self.ctx.artifacts.get_bytes(version.artifact_digest)
        flavor = self.loading_flavor(version.flavor, version.model, trusted=allowed)
        return flavor.load(data, version.flavor_options)

    def loading_flavor(self, flavor: str, model: str, *, trusted: frozenset[str]) -> Flavor:
        """Return the flavor that loads a version of ``model``, as this process may load it.

        A flavor whose models run their own code (``mlflow_pyfunc``) loads only when the policy
        in force for the model's risk tier says ``security.serialization: custom_code`` and
        the operator lets this process run such code (``GOVML_CUSTOM_CODE``; a server that
        registers or evaluates for its users runs the code in its own process); that is
        decided here, at every load, and never from the version's options.

        Raises
        ------
        UnsafeArtifactError
            Naming the policy in force (or its absence) and the setting it needs.
        """
        if flavor != PYFUNC:
            return get_flavor(flavor, trusted=trusted)
        # The policy engine loads only when a model does.
        from govml.flavors.mlflow_pyfunc import MlflowPyfuncFlavor
        from govml.services.policy import policy_in_force

        with self.ctx.store.read() as conn:
            tier = records.load_model(conn, model).risk_tier.value
            stored = policy_in_force(conn, tier)
        security = stored.policy.security if stored is not None else None
        level = security.serialization if security is not None else "safe_only"
        if stored is None or level != CUSTOM_CODE:
            held = "no policy is" if stored is None else f"policy {stored.name!r} (security."
            held += "" if stored is None else f"serialization: {level}) is"
            raise UnsafeArtifactError(
                ERR_CUSTOM_CODE.format(model=model, held=held, tier=tier),
                hint="put a policy saying security: {serialization: custom_code} in force "
                "for the tier, after reviewing the version's code files",
            )
        if not self.ctx.custom_code:
            raise UnsafeArtifactError(
                ERR_CUSTOM_CODE_PROCESS.format(model=model, policy=stored.name),
                hint="the operator sets GOVML_CUSTOM_CODE=1 for the processes that may run "
                "models' own code (after reviewing the version's code files)",
            )
        return MlflowPyfuncFlavor(custom_code=stored.name)

    def dataset_fingerprint(self, digest: str) -> dict[str, Any]:
        """Return a stored dataset fingerprint (schema, row count, profile) as a dictionary."""
        with self.ctx.store.read() as conn:
            return records.load_dataset(conn, digest)

    # -- helpers ---------------------------------------------------------------------------

    def _registrant_trust(self, trusted: Iterable[str]) -> frozenset[str]:
        """Validate types a caller trusts explicitly; only a local caller may."""
        try:
            names = check_type_names(trusted)
        except TrustError as exc:
            raise InputError(f"trusted: {exc}") from None
        if names and not self.ctx.local:
            raise InputError(ERR_SERVER_TRUST)
        return names

    def _record_trust(
        self, serialized: SerializedModel, registrant: frozenset[str]
    ) -> SerializedModel:
        """Add who allowed each extra type the artifact relies on (``trusted_by``)."""
        needed = serialized.options.get("trusted") or []
        if not needed:
            return serialized
        decided = granted_by(needed, operator=self.ctx.trusted_types, registrant=registrant)
        options = {**serialized.options, "trusted_by": decided}
        return SerializedModel(data=serialized.data, flavor=serialized.flavor, options=options)

    def _serialize(
        self,
        *,
        model: object | None,
        artifact: str | Path | None,
        flavor: str | None,
        trusted: frozenset[str],
    ) -> SerializedModel:
        if (model is None) == (artifact is None):
            raise InputError("give exactly one of a model object or an artifact file")
        if model is not None:
            if flavor:
                return get_flavor(flavor, trusted=trusted).dump(model)
            return flavor_for(model, trusted=trusted).dump(model)
        path = Path(str(artifact))
        if not path.is_file():
            raise InputError(f"artifact file {path} does not exist")
        return get_flavor(flavor_of_file(path.name, flavor), trusted=trusted).from_file(path)

    def _signature(
        self,
        loaded: LoadedModel,
        train: pa.Table | None,
        target: str | None,
        input_example: object | None,
        exclude: list[str],
    ) -> dict[str, Any] | None:
        from govml.datasets import read_table

        if input_example is not None:
            sample: Any = read_table(input_example)
            what = "the input example"
        elif train is not None:
            features = train.drop_columns([target]) if target else train
            sample = features.slice(0, SIGNATURE_SAMPLE_ROWS)
            what = "the training data"
        else:
            if exclude:
                raise InputError(ERR_EXCLUDE_WITHOUT_DATA)
            return None
        sample = model_inputs(sample, loaded.feature_names, exclude, what=what, target=target)
        frame = sample.to_pandas()
        try:
            predictions = loaded.predict(frame)
        except FlavorError:
            raise
        except Exception as exc:  # the model's own code; any failure is a bad input
            raise InputError(
                f"the model cannot predict on a sample of its training data: {exc}",
                hint="check the target column and the features the model expects",
            ) from None
        return infer_signature(frame, predictions).to_dict()


ERR_EXCLUDE_WITHOUT_DATA = (
    "exclude_columns narrow the signature taken from training data or an input example; "
    "give one of them"
)
ERR_EXCLUDE_UNKNOWN = "exclude_columns: {names} not in {what}; its columns are {columns}"
ERR_EXCLUDE_READ = "exclude_columns: the model reads {names}, so the signature must keep them"
ERR_READ_MISSING = "the model reads column(s) {names} that {what} does not have"


def model_inputs(
    table: pa.Table,
    read: list[str] | None,
    exclude: list[str],
    *,
    what: str,
    target: str | None = None,
) -> pa.Table:
    """Return the columns of ``table`` a version's input signature lists.

    Parameters
    ----------
    table : pyarrow.Table
        The sample the signature is taken from.
    read : list of str or None
        The columns the model reads, in its order, when it records them.
    exclude : list of str
        Columns the caller says the model does not read.
    what : str
        How messages name the sample (``the training data``).
    target : str, optional
        The target column, already taken out of ``table``; excluding it is harmless.

    Returns
    -------
    pyarrow.Table
        The columns the model reads, in its order; else ``table`` without ``exclude``.

    Raises
    ------
    InputError
        When an excluded column is not in the sample or is one the model reads, or the
        sample lacks a column the model reads; each is named.
    """
    exclude = [name for name in exclude if name != target]
    unknown = [name for name in exclude if name not in table.column_names]
    if unknown:
        raise InputError(
            ERR_EXCLUDE_UNKNOWN.format(
                names=", ".join(unknown), what=what, columns=", ".join(table.column_names)
            )
        )
    if read is None:
        return table.drop_columns(exclude) if exclude else table
    needed = [name for name in exclude if name in read]
    if needed:
        raise InputError(ERR_EXCLUDE_READ.format(names=", ".join(needed)))
    missing = [name for name in read if name not in table.column_names]
    if missing:
        raise InputError(ERR_READ_MISSING.format(names=", ".join(missing), what=what))
    return table.select(read)


def flavor_of_file(name: str, flavor: str | None) -> str:
    """Return ``flavor`` or, when it is not given, the flavor file ``name``'s suffix implies.

    Raises
    ------
    InputError
        When no flavor is given and the suffix is not one of ``.skops``, ``.onnx``, ``.ubj``,
        ``.lgb``.
    """
    if flavor:
        return flavor
    found = _SUFFIX_FLAVORS.get(Path(name).suffix.lower())
    if found is None:
        raise InputError(
            f"cannot tell the flavor of {name} from its suffix",
            hint="pass --flavor (sklearn, xgboost, lightgbm, onnx or mlflow_pyfunc)",
        )
    return found


def _check_target(table: pa.Table, target: str | None, role: str) -> None:
    if target is not None and target not in table.column_names:
        raise InputError(
            f"target column {target!r} is not in the {role} data; its columns are "
            + ", ".join(table.column_names)
        )


def _json_safe(values: Mapping[str, Any], what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if hasattr(value, "item") and type(value).__module__ == "numpy":
            value = value.item()  # a NumPy scalar
        try:
            canonical_json({str(key): value})
        except Exception:
            raise ValidationError(
                f"{what}.{key}: value {value!r} is not JSON (numbers, strings, booleans, lists)"
            ) from None
        out[str(key)] = value
    return out
