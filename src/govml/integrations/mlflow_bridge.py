"""Read a model and its lineage from an MLflow tracking server, and move MLflow aliases.

What govml takes from MLflow (`fetch`): the model's files (``MLmodel`` and its flavor's
artifact), the run's params, metrics and tags, the run's logged dataset inputs with their
digests, the git commit MLflow recorded, and the environment from the model's
``requirements.txt`` and ``python_env.yaml``. The artifact is kept in a safe flavor when MLflow
wrote one (scikit-learn as skops, ONNX, XGBoost's UBJSON / JSON, a LightGBM booster's model
text); a pickle (scikit-learn's
default) is scanned without loading and converted to skops only when the policy allows scanned
pickles and the scan finds nothing unsafe (`choose_artifact`). A custom ``python_function``
model (an ``mlflow.pyfunc.PythonModel`` with its ``code/``) is kept whole, as the
deterministic tar of its directory (flavor ``mlflow_pyfunc``), only when the policy allows
custom code (``security.serialization: custom_code``); its pickles are scanned when the
version is registered and again before every load.

MLflow is an optional dependency (``pip install govml[mlflow]``), imported when used.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from govml.errors import InputError, NotFoundError, ValidationError

ERR_NO_MLFLOW: Final = "the MLflow bridge needs MLflow: pip install 'govml[mlflow]'"
ERR_URI: Final = (
    "{uri!r} is not an MLflow model: give models:/NAME/VERSION, models:/NAME@ALIAS "
    "or a run id (32 hexadecimal characters)"
)
ERR_PICKLE_POLICY: Final = (
    "{what}: MLflow stored this model only as a pickle ({fmt}); the policy in force for "
    "risk tier {tier!r} does not allow pickles (security.serialization: scanned_pickle), "
    "so it is not imported. Log it with serialization_format='skops', as ONNX, or as a "
    "native booster"
)
ERR_PICKLE_UNSAFE: Final = "{what}: the pickle scan refused the model: {findings}"
ERR_CUSTOM_CODE_POLICY: Final = (
    "{what}: this is a custom python_function model ({model_file}), which runs the code it "
    "ships with; the policy in force for risk tier {tier!r} says security.serialization: "
    "{level}, and importing it needs security.serialization: custom_code"
)
ERR_NO_FLAVOR: Final = (
    "{what}: no flavor govml can keep (found {found}); govml imports sklearn (skops or a "
    "scanned pickle), onnx, xgboost (ubj or json), LightGBM boosters and, where the policy "
    "allows custom code, python_function models"
)
PYFUNC_LOADER: Final = "mlflow.pyfunc.model"
PYFUNC_HOW: Final = "python_function with its code"

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_MODELS = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>[0-9]+)|@(?P<alias>[\w-]+))$")
_REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(?P<v>\S+)$")
_CONTEXT_ROLE = {"training": "train", "train": "train", "validation": "validation"}
_GIT_TAGS = {
    "mlflow.source.git.commit": "git_commit",
    "mlflow.source.git.repoURL": "repository",
    "mlflow.source.git.branch": "branch",
}


def require_mlflow() -> Any:
    """Return the ``mlflow`` module, or raise `InputError` naming the extra to install."""
    try:
        import mlflow
    except ImportError:
        raise InputError(ERR_NO_MLFLOW) from None
    return mlflow


@contextmanager
def tracking(uri: str | None) -> Iterator[Any]:
    """Yield a client of tracking (and registry) server ``uri`` (None: MLflow's default).

    MLflow's process-wide URIs are left as they are: setting them (and setting them "back")
    would pin the registry of every later MLflow call in this process, and of the processes it
    starts, to whatever they resolved to here.
    """
    mlflow = require_mlflow()
    yield mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


@dataclass(frozen=True, kw_only=True)
class DatasetInput:
    """A dataset MLflow logged as an input of the run."""

    name: str
    digest: str
    context: str | None
    source_type: str
    source: str
    num_rows: int | None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-safe record kept in the ledger."""
        return {
            "name": self.name,
            "digest": self.digest,
            "context": self.context,
            "source_type": self.source_type,
            "source": self.source,
            "num_rows": self.num_rows,
        }

    def local_file(self) -> Path | None:
        """Return the dataset's file when its source is a file on this machine."""
        if self.source_type != "local":
            return None
        try:
            uri = yaml.safe_load(self.source).get("uri")
        except (yaml.YAMLError, AttributeError):
            return None
        if not isinstance(uri, str):
            return None
        path = Path(uri.removeprefix("file://"))
        return path if path.is_file() and path.suffix in (".csv", ".parquet") else None


@dataclass(frozen=True, kw_only=True)
class MlflowModel:
    """A model fetched from MLflow: its files, where it came from and the run's lineage."""

    uri: str
    registered_name: str | None
    registered_version: str | None
    run_id: str
    folder: Path
    mlmodel: dict[str, Any]
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    datasets: tuple[DatasetInput, ...]
    requirements: dict[str, str] = field(default_factory=dict)
    python: str | None = None

    def code(self) -> dict[str, Any]:
        """Return govml's code lineage from the git tags MLflow recorded."""
        out: dict[str, Any] = {
            key: self.tags[tag] for tag, key in _GIT_TAGS.items() if self.tags.get(tag)
        }
        if "git_commit" not in out:
            return {"git_commit": None, "reason": f"MLflow run {self.run_id} has no git commit"}
        return out

    def environment(self) -> dict[str, Any]:
        """Return govml's environment lineage from the model's requirements."""
        return {
            "python": self.python or "unrecorded",
            "implementation": "unrecorded (MLflow python_env.yaml)",
            "platform": "unrecorded (MLflow python_env.yaml)",
            "packages": dict(self.requirements),
        }

    def input_example(self) -> Any:
        """Return the model's logged input example as a pandas DataFrame, or None.

        MLflow keeps a DataFrame example as JSON (``saved_input_example_info``); one that is
        missing, not a table or unreadable gives None (the version then has no signature).
        """
        info = self.mlmodel.get("saved_input_example_info")
        if not isinstance(info, dict) or info.get("type") != "dataframe":
            return None
        path = (self.folder / str(info.get("artifact_path", ""))).resolve()
        if not path.is_relative_to(self.folder.resolve()) or not path.is_file():
            return None
        import pandas as pd

        orient = str(info.get("pandas_orient") or "split")
        try:
            return pd.read_json(path, orient=orient)  # type: ignore[call-overload]
        except (ValueError, KeyError, TypeError):  # not the table MLmodel says it is
            return None

    def lineage(self) -> dict[str, Any]:
        """Return what the ledger keeps of the MLflow side (run tags, datasets, origin)."""
        return {
            "uri": self.uri,
            "registered_model": self.registered_name,
            "registered_version": self.registered_version,
            "run_id": self.run_id,
            "model_id": self.mlmodel.get("model_id"),
            "mlflow_version": self.mlmodel.get("mlflow_version"),
            "tags": dict(sorted(self.tags.items())),
            "datasets": [d.to_dict() for d in self.datasets],
        }


def parse_source(uri: str) -> tuple[str, str | None, str | None]:
    """Split ``uri`` into ``(kind, name, version_or_alias)``; kind is ``models`` or ``run``."""
    found = _MODELS.match(uri)
    if found:
        return "models", found["name"], found["version"] or "@" + found["alias"]
    if _RUN_ID.match(uri):
        return "run", None, None
    raise InputError(ERR_URI.format(uri=uri))


def fetch(client: Any, uri: str, folder: Path) -> MlflowModel:
    """Download the model ``uri`` names into ``folder`` and read its run's lineage."""
    mlflow = require_mlflow()
    from mlflow.exceptions import MlflowException

    kind, name, which = parse_source(uri)
    try:
        if kind == "models":
            assert name is not None and which is not None
            if which.startswith("@"):
                version = client.get_model_version_by_alias(name, which[1:])
            else:
                version = client.get_model_version(name, which)
            run_id = str(version.run_id)
            download = client.get_model_version_download_uri(name, version.version)
            registered: tuple[str | None, str | None] = (name, str(version.version))
        else:
            run_id = uri
            experiment = client.get_run(run_id).info.experiment_id
            logged = client.search_logged_models(
                experiment_ids=[experiment], filter_string=f"source_run_id = '{uri}'"
            )
            if not logged:
                raise NotFoundError(f"MLflow run {uri} logged no model")
            download = logged[0].artifact_location
            registered = (None, None)
        run = client.get_run(run_id)
        path = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=download,
                dst_path=folder,
                tracking_uri=client.tracking_uri,
            )
        )
    except MlflowException as exc:
        raise NotFoundError(f"{uri}: MLflow answered: {exc.message}") from None
    mlmodel = _read_yaml(path / "MLmodel", uri)
    python_env = _read_yaml(path / "python_env.yaml", uri, required=False)
    return MlflowModel(
        uri=uri,
        registered_name=registered[0],
        registered_version=registered[1],
        run_id=run_id,
        folder=path,
        mlmodel=mlmodel,
        params={str(k): str(v) for k, v in run.data.params.items()},
        metrics={str(k): float(v) for k, v in run.data.metrics.items()},
        tags={str(k): str(v) for k, v in run.data.tags.items()},
        datasets=tuple(_dataset(item) for item in run.inputs.dataset_inputs),
        requirements=_requirements(path / "requirements.txt"),
        python=str(python_env.get("python")) if python_env.get("python") else None,
    )


def _dataset(item: Any) -> DatasetInput:
    context = next((t.value for t in item.tags if t.key == "mlflow.data.context"), None)
    profile: dict[str, Any] = {}
    try:
        loaded = yaml.safe_load(item.dataset.profile or "{}")
        profile = loaded if isinstance(loaded, dict) else {}
    except yaml.YAMLError:
        pass
    rows = profile.get("num_rows")
    return DatasetInput(
        name=str(item.dataset.name),
        digest=str(item.dataset.digest),
        context=context,
        source_type=str(item.dataset.source_type),
        source=str(item.dataset.source),
        num_rows=rows if isinstance(rows, int) else None,
    )


def dataset_role(dataset: DatasetInput) -> str | None:
    """Return govml's role (``train`` / ``validation``) for a dataset's MLflow context."""
    return _CONTEXT_ROLE.get((dataset.context or "").lower())


def _read_yaml(path: Path, uri: str, *, required: bool = True) -> dict[str, Any]:
    if not path.is_file():
        if required:
            raise ValidationError(f"{uri}: the model has no {path.name}")
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValidationError(f"{uri}: {path.name} is not YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ValidationError(f"{uri}: {path.name} is not a mapping")
    return data


def _requirements(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        found = _REQUIREMENT.match(line.strip())
        if found:
            out[found["name"].lower().replace("_", "-")] = found["v"]
    return out


@dataclass(frozen=True, kw_only=True)
class ChosenArtifact:
    """The file govml keeps and its flavor; or an in-memory model converted from a pickle."""

    flavor: str
    path: Path | None
    model: object | None
    how: str
    data: bytes | None = None


def choose_artifact(fetched: MlflowModel, *, serialization: str, tier: str) -> ChosenArtifact:
    """Pick the safe artifact of a fetched model (see the module docstring).

    Parameters
    ----------
    fetched : MlflowModel
        The downloaded model.
    serialization : str
        ``security.serialization`` of the policy in force for the model's tier (``safe_only``
        when none is in force).
    tier : str
        The model's risk tier, named in messages.

    Raises
    ------
    ValidationError
        When only a pickle exists and the policy does not allow it, when the pickle scan
        finds an unsafe or unknown import, when a python_function model needs custom code
        the policy does not allow, or when no flavor govml keeps is present.
    """
    allow_scanned_pickle = serialization in ("scanned_pickle", "custom_code")
    flavors: dict[str, Any] = dict(fetched.mlmodel.get("flavors") or {})
    folder = fetched.folder
    onnx = flavors.get("onnx")
    if isinstance(onnx, dict) and onnx.get("data"):
        return ChosenArtifact(
            flavor="onnx", path=_inside(folder, onnx["data"]), model=None, how="onnx"
        )
    xgb = flavors.get("xgboost")
    if isinstance(xgb, dict) and str(xgb.get("model_format", "")).lower() in ("ubj", "json"):
        path = _inside(folder, xgb["data"])
        return ChosenArtifact(flavor="xgboost", path=path, model=None, how="native booster")
    lgb = flavors.get("lightgbm")
    if isinstance(lgb, dict) and str(lgb.get("model_class", "")).endswith(".Booster"):
        path = _inside(folder, lgb["data"])
        return ChosenArtifact(flavor="lightgbm", path=path, model=None, how="native booster")
    sklearn = flavors.get("sklearn")
    if isinstance(sklearn, dict) and sklearn.get("pickled_model"):
        path = _inside(folder, sklearn["pickled_model"])
        fmt = str(sklearn.get("serialization_format", "cloudpickle"))
        if fmt == "skops":
            return ChosenArtifact(flavor="sklearn", path=path, model=None, how="skops")
        return _from_pickle(
            fetched, path, fmt, allow_scanned_pickle=allow_scanned_pickle, tier=tier
        )
    pyfunc = flavors.get("python_function")
    if isinstance(pyfunc, dict) and pyfunc.get("loader_module") == PYFUNC_LOADER:
        return _custom_code(fetched, serialization=serialization, tier=tier)
    raise ValidationError(
        ERR_NO_FLAVOR.format(what=fetched.uri, found=", ".join(sorted(flavors)) or "none")
    )


def _from_pickle(
    fetched: MlflowModel, path: Path, fmt: str, *, allow_scanned_pickle: bool, tier: str
) -> ChosenArtifact:
    if not allow_scanned_pickle:
        raise ValidationError(ERR_PICKLE_POLICY.format(what=fetched.uri, fmt=fmt, tier=tier))
    from govml.checks.security.pickle_scan import scan_pickle

    data = path.read_bytes()
    findings = scan_pickle(data)
    if findings:
        text = "; ".join(f.message for f in findings[:5])
        raise ValidationError(ERR_PICKLE_UNSAFE.format(what=fetched.uri, findings=text))
    import pickle

    # The scan found only allow-listed imports: loading runs nothing else.
    model = pickle.loads(data)  # noqa: S301
    return ChosenArtifact(flavor="sklearn", path=None, model=model, how=f"scanned {fmt} to skops")


def _custom_code(fetched: MlflowModel, *, serialization: str, tier: str) -> ChosenArtifact:
    """Keep a python_function model whole when the policy allows custom code."""
    if serialization != "custom_code":
        raise ValidationError(
            ERR_CUSTOM_CODE_POLICY.format(
                what=fetched.uri,
                model_file=_pyfunc_file(fetched),
                tier=tier,
                level=serialization,
            )
        )
    from govml.flavors.mlflow_pyfunc import pack_directory

    # Scanned by the flavor when the version is registered, before anything is loaded.
    return ChosenArtifact(
        flavor="mlflow_pyfunc",
        path=None,
        model=None,
        how=PYFUNC_HOW,
        data=pack_directory(fetched.folder),
    )


def _pyfunc_file(fetched: MlflowModel) -> str:
    conf = (fetched.mlmodel.get("flavors") or {}).get("python_function") or {}
    return str(conf.get("python_model") or conf.get("model_code_path") or "a PythonModel")


def _inside(folder: Path, relative: Any) -> Path:
    path = (folder / str(relative)).resolve()
    if not path.is_relative_to(folder.resolve()) or not path.is_file():
        raise ValidationError(f"{folder / str(relative)}: the model's artifact is missing")
    return path


def aliases_of(client: Any, name: str) -> dict[str, str]:
    """Return the MLflow aliases of registered model ``name``: alias -> version."""
    model = client.get_registered_model(name)
    return {str(alias): str(version) for alias, version in (model.aliases or {}).items()}


def set_alias(client: Any, name: str, alias: str, version: str) -> None:
    """Point MLflow alias ``alias`` of ``name`` at ``version``."""
    client.set_registered_model_alias(name, alias, version)


def delete_alias(client: Any, name: str, alias: str) -> None:
    """Remove MLflow alias ``alias`` of ``name``."""
    client.delete_registered_model_alias(name, alias)
