"""An offline vulnerability database in the OSV format, indexed by package.

Accepted sources:

* a folder in the PyPA advisory database layout, ``<root>/vulns/<package>/<ID>.yaml``
  (or the ``vulns`` folder itself); ``.yaml``, ``.yml`` and ``.json`` records;
* a JSON export: a list of OSV records, ``{"vulns": [...]}`` or a single record;
* a zip of JSON records (OSV's ``all.zip`` per-ecosystem export).

A folder is indexed by listing it (package folder name -> record files); a package's
records are parsed the first time it is looked up, so checking an environment reads only
the few files of the packages that have advisories, not all 2,600+. The index is cached
per path and rebuilt when the folder, a package folder or the export file changes
(modification time). Names are compared after PEP 503 normalisation, versions with PEP
440 semantics (``packaging``). Records that cannot be read are counted as problems and
skipped; they never stop a check.
"""

from __future__ import annotations

import json
import os
import re
import threading
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from packaging.version import InvalidVersion, Version

from govml.checks.security.cvss import Level, base_score, level_of_score
from govml.errors import InputError

__all__ = ["Advisory", "OsvDatabase", "Severity", "canonical_name", "open_database"]

ERR_MISSING = "vulnerability database not found: {path}"
ERR_UNREADABLE = "cannot read the vulnerability database {path}: {reason}"
_RECORD_SUFFIXES = (".yaml", ".yml", ".json")
_TEXT_LEVELS: dict[str, Level] = {
    "none": "none",
    "low": "low",
    "moderate": "medium",
    "medium": "medium",
    "high": "high",
    "important": "high",
    "critical": "critical",
}
_CACHE: dict[str, tuple[Any, OsvDatabase]] = {}
_CACHE_LOCK = threading.Lock()


def canonical_name(name: str) -> str:
    """Return a package name normalised as PEP 503 says (``Scikit_Learn`` -> ``scikit-learn``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True, kw_only=True)
class Severity:
    """How severe an advisory is, and where that came from.

    ``level`` is ``unknown`` when the record has no usable severity.
    """

    level: Level | str
    score: float | None = None
    vector: str | None = None
    source: str | None = None


@dataclass(frozen=True, kw_only=True)
class _Range:
    events: tuple[tuple[str, str], ...]  # (kind, version) in record order


@dataclass(frozen=True, kw_only=True)
class _Affected:
    package: str
    ranges: tuple[_Range, ...]
    versions: frozenset[str]
    parsed_versions: frozenset[Version]
    severity: Severity | None


@dataclass(frozen=True, kw_only=True)
class Advisory:
    """One OSV record, reduced to what matching and reporting need."""

    id: str
    aliases: tuple[str, ...]
    summary: str
    severity: Severity
    affected: tuple[_Affected, ...]

    def match(self, package: str, version: str) -> tuple[bool, list[str]]:
        """Return whether ``package==version`` is affected, and the fix versions above it.

        Parameters
        ----------
        package : str
            PEP 503-normalised name.
        version : str
            The installed version; when it is not a PEP 440 version only the record's
            explicit ``versions`` list is consulted.
        """
        parsed = _version(version)
        for entry in self.affected:
            if entry.package != package:
                continue
            hit = version in entry.versions or parsed in entry.parsed_versions
            fixes: list[str] = []
            for range_ in entry.ranges:
                if parsed is not None and _in_range(range_.events, parsed):
                    hit = True
                    fixes += [
                        v for kind, v in range_.events if kind == "fixed" and _newer(v, parsed)
                    ]
            if hit:
                return True, sorted(set(fixes), key=_sort_key)
        return False, []

    def severity_for(self, package: str) -> Severity:
        """Return the package-specific severity when the record has one, else the record's."""
        for entry in self.affected:
            if entry.package == package and entry.severity is not None:
                return entry.severity
        return self.severity


class OsvDatabase:
    """Advisories by package; build with :func:`open_database`.

    Parameters
    ----------
    path : Path
        Where the records come from.
    kind : str
        ``folder`` or ``export``.
    files : mapping of str to list of Path
        Record files per normalised package name, parsed on first look-up.
    preloaded : mapping of str to list of Advisory
        Advisories already parsed, per normalised package name.
    problems : list of str
        Records that could not be read.
    """

    def __init__(
        self,
        path: Path,
        kind: str,
        files: Mapping[str, list[Path]],
        preloaded: Mapping[str, list[Advisory]],
        problems: list[str],
    ) -> None:
        self.path = path
        self.kind = kind
        self.problems = problems
        self._files = dict(files)
        self._preloaded = dict(preloaded)
        self._parsed: dict[str, list[Advisory]] = {}
        self._lock = threading.Lock()

    @property
    def packages(self) -> int:
        """Number of packages with at least one record."""
        return len(set(self._files) | set(self._preloaded))

    @property
    def records(self) -> int:
        """Number of record files plus preloaded records."""
        preloaded = {advisory.id for items in self._preloaded.values() for advisory in items}
        return sum(len(files) for files in self._files.values()) + len(preloaded)

    def advisories(self, package: str) -> list[Advisory]:
        """Return the advisories naming ``package`` (any spelling)."""
        name = canonical_name(package)
        with self._lock:
            if name not in self._parsed:
                parsed = _parse_all(self._files.get(name, []), self.problems)
                own = [
                    item for item in parsed if any(entry.package == name for entry in item.affected)
                ]
                self._parsed[name] = own + self._preloaded.get(name, [])
            return self._parsed[name]


def open_database(path: str | os.PathLike[str]) -> OsvDatabase:
    """Open (or reuse) the vulnerability database at ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        A folder, a JSON export or a zip of JSON records (module docstring).

    Returns
    -------
    OsvDatabase
        Cached per resolved path while the source's modification times are unchanged.

    Raises
    ------
    InputError
        When the path does not exist, or an export file cannot be read as OSV JSON.
    """
    source = Path(path).expanduser()
    if not source.exists():
        raise InputError(ERR_MISSING.format(path=source))
    resolved = source.resolve()
    if resolved.is_dir() and (resolved / "vulns").is_dir():
        resolved = resolved / "vulns"
    stamp = _stamp(resolved)
    key = str(resolved)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    database = _index_folder(resolved) if resolved.is_dir() else _load_export(resolved)
    with _CACHE_LOCK:
        _CACHE[key] = (stamp, database)
    return database


def _stamp(path: Path) -> Any:
    info = path.stat()
    if not path.is_dir():
        return (info.st_mtime_ns, info.st_size)
    folders = [
        (entry.name, entry.stat().st_mtime_ns) for entry in os.scandir(path) if entry.is_dir()
    ]
    return (info.st_mtime_ns, tuple(sorted(folders)))


def _index_folder(root: Path) -> OsvDatabase:
    files: dict[str, list[Path]] = {}
    loose: list[Path] = []
    for entry in os.scandir(root):
        if entry.is_dir():
            records = sorted(
                Path(item.path)
                for item in os.scandir(entry.path)
                if item.name.endswith(_RECORD_SUFFIXES)
            )
            if records:
                files.setdefault(canonical_name(entry.name), []).extend(records)
        elif entry.name.endswith(_RECORD_SUFFIXES):
            loose.append(Path(entry.path))
    problems: list[str] = []
    # Records outside package folders cannot be found by folder name: read them now.
    preloaded = _by_package(_parse_all(loose, problems))
    return OsvDatabase(root, "folder", files, preloaded, problems)


def _parse_all(files: Iterable[Path], problems: list[str]) -> list[Advisory]:
    out = []
    for file in files:
        try:
            advisory = _advisory(_load_file(file))
        except (OSError, ValueError, TypeError, KeyError, yaml.YAMLError) as exc:
            problems.append(f"{file.name}: {exc}")
            continue
        if advisory is not None:
            out.append(advisory)
    return out


def _load_export(path: Path) -> OsvDatabase:
    problems: list[str] = []
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                records = [
                    json.loads(archive.read(name))
                    for name in archive.namelist()
                    if name.endswith(".json")
                ]
        else:
            document = json.loads(path.read_bytes())
            records = document.get("vulns", [document]) if isinstance(document, dict) else document
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InputError(ERR_UNREADABLE.format(path=path, reason=exc)) from exc
    if not isinstance(records, list):
        raise InputError(ERR_UNREADABLE.format(path=path, reason="expected a list of OSV records"))
    advisories = []
    for index, record in enumerate(records):
        try:
            advisory = _advisory(record)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            problems.append(f"record {index}: {exc!r}")
            continue
        if advisory is not None:
            advisories.append(advisory)
    return OsvDatabase(path, "export", {}, _by_package(advisories), problems)


def _by_package(advisories: Iterable[Advisory]) -> dict[str, list[Advisory]]:
    out: dict[str, list[Advisory]] = {}
    for advisory in advisories:
        for name in dict.fromkeys(entry.package for entry in advisory.affected):
            out.setdefault(name, []).append(advisory)
    return out


def _load_file(file: Path) -> Any:
    text = file.read_bytes()
    if file.suffix == ".json":
        return json.loads(text)
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader


def _advisory(record: Any) -> Advisory | None:
    """Build an advisory from a parsed record; None for withdrawn or non-PyPI records."""
    if not isinstance(record, dict):
        raise TypeError("an OSV record must be a mapping")
    if record.get("withdrawn"):
        return None
    affected = []
    for entry in record.get("affected") or []:
        package = entry.get("package") or {}
        if str(package.get("ecosystem", "PyPI")).split(":", 1)[0] != "PyPI" or not package.get(
            "name"
        ):
            continue
        ranges = tuple(
            _Range(
                events=tuple(
                    (kind, str(value))
                    for event in item.get("events") or []
                    for kind, value in event.items()
                )
            )
            for item in entry.get("ranges") or []
            if item.get("type") in ("ECOSYSTEM", "SEMVER")
        )
        specific = _text_severity(entry.get("ecosystem_specific")) or _text_severity(
            entry.get("database_specific")
        )
        versions = frozenset(str(v) for v in entry.get("versions") or [])
        affected.append(
            _Affected(
                package=canonical_name(str(package["name"])),
                ranges=ranges,
                versions=versions,
                parsed_versions=frozenset(v for v in map(_version, versions) if v is not None),
                severity=specific,
            )
        )
    if not affected:
        return None
    details = str(record.get("summary") or record.get("details") or "").strip()
    return Advisory(
        id=str(record["id"]),
        aliases=tuple(str(alias) for alias in record.get("aliases") or []),
        summary=" ".join(details.split())[:200],
        severity=_record_severity(record),
        affected=tuple(affected),
    )


def _record_severity(record: Mapping[str, Any]) -> Severity:
    scored = []
    for item in record.get("severity") or []:
        vector = str(item.get("score", ""))
        try:
            number = float(vector)
        except ValueError:
            computed = base_score(vector)
            if computed is not None:
                scored.append(
                    Severity(
                        level=level_of_score(*computed),
                        score=computed[0],
                        vector=vector,
                        source=str(item.get("type")),
                    )
                )
        else:
            scored.append(
                Severity(level=level_of_score(number), score=number, source=str(item.get("type")))
            )
    if scored:
        # Prefer CVSS v3 (or a plain number) over v2, then the highest score.
        return max(scored, key=lambda s: (s.source != "CVSS_V2", s.score or 0.0))
    return _text_severity(record.get("database_specific")) or Severity(level="unknown")


def _text_severity(section: Any) -> Severity | None:
    if not isinstance(section, Mapping):
        return None
    level = _TEXT_LEVELS.get(str(section.get("severity", "")).strip().lower())
    return None if level is None else Severity(level=level, source="database_specific")


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _sort_key(text: str) -> tuple[int, Any]:
    parsed = _version(text)
    return (0, parsed) if parsed is not None else (1, text)


def _newer(text: str, version: Version) -> bool:
    parsed = _version(text)
    return parsed is not None and parsed > version


def _in_range(events: tuple[tuple[str, str], ...], version: Version) -> bool:
    """OSV's evaluation: walk the events in version order, toggling 'affected'.

    ``introduced: "0"`` means from the first version; events whose version is not PEP
    440 are skipped, and ``limit`` only bounds git ranges.
    """
    ordered: list[tuple[bool, Version | None, str]] = []
    for kind, text in events:
        if kind == "introduced" and text == "0":
            ordered.append((False, None, kind))
        elif (
            kind in ("introduced", "fixed", "last_affected")
            and (parsed := _version(text)) is not None
        ):
            ordered.append((True, parsed, kind))
    ordered.sort(key=lambda item: (item[0], item[1] or Version("0")))
    affected = False
    for _, bound, kind in ordered:
        if bound is None or kind == "introduced":
            affected = affected or bound is None or version >= bound
        elif version >= bound if kind == "fixed" else version > bound:
            affected = False
    return affected
