"""MLflow ``python_function`` archives: read them without touching the disk, scan every pickle.

govml keeps a custom MLflow model (an ``mlflow.pyfunc.PythonModel``) as one uncompressed tar of
its model directory (`govml.flavors.mlflow_pyfunc`). Such a model runs its own code when it is
loaded and when it predicts, so govml loads it only under ``security.serialization:
custom_code`` and only after this module found nothing else in it:

* the archive holds regular files only, at relative paths without ``..`` (no links, devices,
  absolute paths or duplicates), within :data:`MAX_FILES` files and :data:`MAX_BYTES` bytes;
* its ``MLmodel`` has a ``python_function`` flavor loaded by ``mlflow.pyfunc.model`` (the
  loader of ``PythonModel`` subclasses; another loader module would run other code paths),
  and the files it names for that loader (``python_model``, a model-from-code script) are in
  the archive;
* every pickle in it (``python_model.pkl``, the artifacts it ships) imports only callables on
  the scanner's allow list (`govml.checks.security.pickle_scan`), a few plain MLflow records
  (:data:`MLFLOW_TYPES`), or modules that are files of the model's own ``code/`` directory.
  A class pickled by value (cloudpickle's skeleton classes, code objects) imports
  ``cloudpickle`` or ``types``, which are denied, as are ``os``, ``subprocess``,
  ``builtins.eval`` and the rest of the deny list;
* no file of ``code/`` takes the name of the standard library's or an installed package's
  module (it would replace that module for the whole process).

Python files anywhere in the archive are the model's code: their paths and SHA-256 are what an
approver reviews (:attr:`PyfuncArchive.code_files`).
"""

from __future__ import annotations

import functools
import hashlib
import io
import sys
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Any, Final

import yaml

from govml.checks.security.pickle_scan import (
    DENY,
    PickleFinding,
    PickleImport,
    inspect_pickle,
    is_pickle_container,
)

__all__ = [
    "CODE_DIR",
    "LOADER_MODULE",
    "MAX_BYTES",
    "MAX_FILES",
    "MLFLOW_TYPES",
    "ArchiveError",
    "PyfuncArchive",
    "PyfuncScan",
    "is_tar",
    "read_archive",
    "scan_archive",
]

CODE_DIR: Final = "code"
LOADER_MODULE: Final = "mlflow.pyfunc.model"
MAX_FILES: Final = 10_000
MAX_BYTES: Final = 2 << 30
MLFLOW_TYPES: Final = frozenset({"mlflow.models.signature._TypeHints"})
"""MLflow records a ``PythonModel`` pickle carries besides the user's class (plain data)."""

ERR_MEMBER: Final = "the archive's member {name!r} is {what}; only regular files are allowed"
ERR_PATH: Final = "the archive's member {name!r} has an unsafe path ({why})"
_TEXT_SUFFIXES = (".py", ".txt", ".yaml", ".yml", ".json", ".md", ".cfg", ".toml")
_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pt", ".pth", ".bin")
_ZIP_MAGIC = b"PK\x03\x04"


class ArchiveError(ValueError):
    """Bytes that are not a safe archive of an MLflow model directory."""


@dataclass(frozen=True, kw_only=True)
class PyfuncArchive:
    """The files of an MLflow model directory, by relative POSIX path, read from a tar.

    Attributes
    ----------
    files : Mapping of str to bytes
        Each regular file's content, in path order.
    """

    files: Mapping[str, bytes]

    @property
    def mlmodel(self) -> dict[str, Any]:
        """The parsed ``MLmodel`` file.

        Raises
        ------
        ArchiveError
            When it is missing or is not a YAML mapping.
        """
        raw = self.files.get("MLmodel")
        if raw is None:
            raise ArchiveError("the archive has no MLmodel file at its top")
        try:
            parsed = yaml.safe_load(raw.decode("utf-8"))
        except (UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ArchiveError(f"MLmodel is not YAML: {exc}") from None
        if not isinstance(parsed, dict):
            raise ArchiveError("MLmodel is not a mapping")
        return parsed

    @property
    def pyfunc_conf(self) -> dict[str, Any]:
        """The ``python_function`` section of ``MLmodel``.

        Raises
        ------
        ArchiveError
            When the model has none.
        """
        flavors = self.mlmodel.get("flavors")
        conf = flavors.get("python_function") if isinstance(flavors, dict) else None
        if not isinstance(conf, dict):
            raise ArchiveError("MLmodel has no python_function flavor")
        return conf

    @property
    def code_files(self) -> dict[str, str]:
        """Path -> SHA-256 of every Python file: the code that runs when the model does."""
        return {
            path: hashlib.sha256(data).hexdigest()
            for path, data in self.files.items()
            if path.endswith(".py")
        }

    @property
    def code_modules(self) -> frozenset[str]:
        """Dotted names of the modules that are files of ``code/`` (importable on load)."""
        names: set[str] = set()
        for path in self.files:
            parts = PurePosixPath(path).parts
            if len(parts) < 2 or parts[0] != CODE_DIR or not path.endswith(".py"):
                continue
            dotted = [*parts[1:-1], parts[-1].removesuffix(".py")]
            if dotted[-1] == "__init__":
                dotted.pop()
            if dotted and all(part.isidentifier() for part in dotted):
                names.add(".".join(dotted))
        return frozenset(names)


@dataclass(frozen=True, kw_only=True)
class PyfuncScan:
    """What the scan of an archive found.

    Attributes
    ----------
    findings : tuple of PickleFinding
        What makes the archive unsafe to load; empty when it may be loaded.
    imports : tuple of PickleImport
        Every import of every pickle (member ``path`` or ``path!inner``).
    code_imports : tuple of str
        The imports (``module.name``) that resolve to the model's own code.
    pickles : tuple of str
        Paths of the files scanned as pickles.
    """

    findings: tuple[PickleFinding, ...]
    imports: tuple[PickleImport, ...]
    code_imports: tuple[str, ...]
    pickles: tuple[str, ...]


def is_tar(data: bytes) -> bool:
    """Whether ``data`` starts with a POSIX (ustar / pax / GNU) tar header."""
    return len(data) >= 262 and data[257:262] == b"ustar"


def read_archive(data: bytes) -> PyfuncArchive:
    """Read a tar of a model directory into memory, refusing anything but plain files.

    Parameters
    ----------
    data : bytes
        An uncompressed tar.

    Returns
    -------
    PyfuncArchive
        The files by normalised relative path.

    Raises
    ------
    ArchiveError
        For bytes that are not a tar, a link, device or directory traversal, an absolute
        path, a duplicate path, or more than :data:`MAX_FILES` files / :data:`MAX_BYTES`.
    """
    files: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            for member in archive:
                if member.isdir():
                    _safe_path(member.name)
                    continue
                if not member.isreg():
                    what = "a link" if member.issym() or member.islnk() else "not a regular file"
                    raise ArchiveError(ERR_MEMBER.format(name=member.name, what=what))
                path = _safe_path(member.name)
                if path in files:
                    raise ArchiveError(f"the archive holds {path!r} twice")
                total += member.size
                if len(files) >= MAX_FILES or total > MAX_BYTES:
                    raise ArchiveError(
                        f"the archive holds more than {MAX_FILES:,} files or {MAX_BYTES:,} bytes"
                    )
                handle = archive.extractfile(member)
                if handle is None:  # pragma: no cover - isreg() members always have one
                    raise ArchiveError(ERR_MEMBER.format(name=member.name, what="unreadable"))
                files[path] = handle.read()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ArchiveError(f"not a readable tar archive: {exc}") from None
    if not files:
        raise ArchiveError("the archive is empty")
    return PyfuncArchive(files=dict(sorted(files.items())))


def scan_archive(archive: PyfuncArchive) -> PyfuncScan:
    """Scan an archive's ``MLmodel``, code names and every pickle (module docstring).

    Parameters
    ----------
    archive : PyfuncArchive
        From :func:`read_archive`.

    Returns
    -------
    PyfuncScan
        Findings (empty when the model may be loaded), imports and the pickles scanned.
    """
    findings: list[PickleFinding] = []
    try:
        conf = archive.pyfunc_conf
    except ArchiveError as exc:
        findings.append(PickleFinding(kind="invalid", message=str(exc), member="MLmodel"))
        conf = {}
    loader = conf.get("loader_module")
    if conf and loader != LOADER_MODULE:
        findings.append(
            PickleFinding(
                kind="dangerous",
                message=(
                    f"MLmodel's python_function loader_module is {loader!r}; govml loads "
                    f"python_function models only through {LOADER_MODULE} (PythonModel)"
                ),
                member="MLmodel",
            )
        )
    findings += _missing_files(conf, archive)
    modules = archive.code_modules
    findings += _shadowing(modules)
    imports: list[PickleImport] = []
    code_imports: list[str] = []
    pickles: list[str] = []
    for path, data in archive.files.items():
        if path == "MLmodel" or path.endswith(_TEXT_SUFFIXES):
            continue
        scan = inspect_pickle(data)
        looks = (
            path.endswith(_PICKLE_SUFFIXES)
            or is_pickle_container(data)
            or data.startswith(_ZIP_MAGIC)
        )
        if not (looks or scan.imports or any(f.kind != "invalid" for f in scan.findings)):
            continue  # not a pickle: a data file the model's code reads
        pickles.append(path)
        for item in scan.imports:
            imports.append(replace(item, member=_member(path, item.member)))
            if item.classification == "unknown" and item.module in modules:
                code_imports.append(f"{item.module}.{item.name}")
        for finding in scan.findings:
            module, name = finding.module, finding.name
            if finding.kind == "unknown" and module and name and _allowed(module, name, modules):
                continue
            findings.append(replace(finding, member=_member(path, finding.member)))
    return PyfuncScan(
        findings=tuple(findings),
        imports=tuple(imports),
        code_imports=tuple(sorted(set(code_imports))),
        pickles=tuple(pickles),
    )


def _safe_path(name: str) -> str:
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise ArchiveError(ERR_PATH.format(name=name, why="absolute"))
    parts = [part for part in PurePosixPath(name).parts if part not in ("", ".")]
    if not parts:
        raise ArchiveError(ERR_PATH.format(name=name, why="empty"))
    if ".." in parts or any("\\" in part or "\x00" in part for part in parts):
        raise ArchiveError(ERR_PATH.format(name=name, why="it leaves the model's directory"))
    return "/".join(parts)


def _member(path: str, inner: str | None) -> str:
    return path if inner is None else f"{path}!{inner}"


def _allowed(module: str, name: str, code_modules: frozenset[str]) -> bool:
    return module in code_modules or f"{module}.{name}" in MLFLOW_TYPES


def _missing_files(conf: Mapping[str, Any], archive: PyfuncArchive) -> list[PickleFinding]:
    """Refuse an MLmodel naming loader files the archive does not hold (read from elsewhere)."""
    wanted = []
    if conf.get("python_model") is not None:
        wanted.append(str(conf["python_model"]))
    if conf.get("model_code_path") is not None:  # a model "from code": MLflow runs the script
        wanted.append(PurePosixPath(str(conf["model_code_path"])).name)
    return [
        PickleFinding(
            kind="invalid",
            message=f"MLmodel names {name!r} for its loader, which the archive does not hold",
            member="MLmodel",
        )
        for name in wanted
        if name not in archive.files
    ]


def _shadowing(code_modules: frozenset[str]) -> list[PickleFinding]:
    """Refuse code files named like a module of the standard library or an installed package."""
    tops = {name.split(".", 1)[0] for name in code_modules}
    if not tops:
        return []
    taken = _taken_names()
    return [
        PickleFinding(
            kind="dangerous",
            message=(
                f"the model's code/{top} takes the name of the installed module {top!r}, "
                "which it would replace in the loading process"
            ),
            member=f"{CODE_DIR}/{top}",
        )
        for top in sorted(tops & taken)
    ]


@functools.cache
def _taken_names() -> frozenset[str]:
    """Top-level names of the standard library, the installed packages and the deny list."""
    # Read once per process (about a second): packages are not installed while govml runs.
    from importlib.metadata import packages_distributions

    taken = set(sys.stdlib_module_names) | set(packages_distributions())
    taken |= {entry.split(".", 1)[0] for entry in DENY if "*" not in entry}
    return frozenset(taken)
