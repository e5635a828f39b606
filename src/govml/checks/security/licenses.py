"""The license rule: every package of a model's environment under an acceptable license.

A package's license is read from its installed metadata (:mod:`importlib.metadata`) and
normalised to an SPDX license expression, in this order:

1. ``License-Expression`` (core metadata 2.4, PEP 639), already SPDX;
2. the first line of the ``License`` field, when it is an SPDX expression or a common
   spelling of one (``Apache 2.0``, ``BSD 3-Clause License``, ``PSFL``, ``LGPLv3+``:
   :data:`ALIASES`);
3. the trove classifiers ``License :: OSI Approved :: ...`` (:data:`CLASSIFIERS`; several
   are alternatives, joined with ``OR``). Classifiers that do not name one license
   (``BSD License``, ``GNU General Public License (GPL)``) give no SPDX id;
4. the start of a ``License`` field holding a whole license text, when it is recognisably
   MIT, BSD-2/3-Clause (by its third clause), Apache-2.0 or MPL-2.0.

A package recorded in the environment but not installed here, or whose metadata gives no
SPDX id, has an *unknown* license. Expressions are judged as SPDX means them: ``A OR B``
is acceptable when either is, ``A AND B`` when both are, ``A WITH exception`` as ``A``.
Allow and deny entries are SPDX ids (case-insensitive) or ``fnmatch`` patterns such as
``GPL-*`` (to cover ``-only`` and ``-or-later`` alike).

Status: ``fail`` when a package's license is denied, or is known but not on the allow
list; ``warn`` when an allow list is given and a license is unknown; else ``pass``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Literal

from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression

from govml.checks.result import CheckResult, Status, timed
from govml.errors import InputError

__all__ = [
    "ALIASES",
    "CLASSIFIERS",
    "PackageLicense",
    "license_check",
    "normalise_license",
    "package_license",
]

Verdict = Literal["allowed", "not_allowed", "denied"]

ALIASES: tuple[tuple[str, str], ...] = (
    (r"apache( software)?( license)?,?( version| v)? ?2(\.0)?( license)?", "Apache-2.0"),
    (r"apache software license|asl 2(\.0)?", "Apache-2.0"),
    (r"mit( license)?|the mit license|expat( license)?", "MIT"),
    (r"((new|modified|revised) )?bsd[ -]?3[ -]?clause( license)?", "BSD-3-Clause"),
    (r"3[ -]clause bsd( license)?|(new|modified|revised) bsd( license)?|bsd-new", "BSD-3-Clause"),
    (r"((simplified|freebsd) )?bsd[ -]?2[ -]?clause( license)?", "BSD-2-Clause"),
    (r"2[ -]clause bsd( license)?|simplified bsd( license)?", "BSD-2-Clause"),
    (r"psfl?( license)?|psf-2(\.0)?|python software foundation( license)?", "PSF-2.0"),
    (r"mpl[ -]?2(\.0)?|mozilla public license,? (version |v)?2\.0", "MPL-2.0"),
    (r"isc( license)?( \(iscl\))?", "ISC"),
    (r"(gnu )?gpl ?v?3\+|gpl-3\.0\+", "GPL-3.0-or-later"),
    (r"(gnu )?gpl ?v?3|gpl-3(\.0)?", "GPL-3.0-only"),
    (r"(gnu )?gpl ?v?2\+|gpl-2\.0\+", "GPL-2.0-or-later"),
    (r"(gnu )?gpl ?v?2|gpl-2(\.0)?", "GPL-2.0-only"),
    (r"(gnu )?lgpl ?v?3\+", "LGPL-3.0-or-later"),
    (r"(gnu )?lgpl ?v?3|lgpl-3(\.0)?", "LGPL-3.0-only"),
    (r"(gnu )?lgpl ?v?2\.1\+", "LGPL-2.1-or-later"),
    (r"(gnu )?lgpl ?v?2\.1", "LGPL-2.1-only"),
    (r"(gnu )?agpl ?v?3\+", "AGPL-3.0-or-later"),
    (r"(gnu )?agpl ?v?3|agpl-3(\.0)?", "AGPL-3.0-only"),
    (r"(the )?unlicense", "Unlicense"),
    (r"zlib(/libpng)?( license)?", "Zlib"),
    (r"boost( software license)?( 1\.0)?|bsl-1\.0", "BSL-1.0"),
)  # fmt: skip
"""Common spellings of the ``License`` field (matched whole, lowercased) and their SPDX id."""

CLASSIFIERS: dict[str, str] = {
    "Apache Software License": "Apache-2.0",
    "MIT License": "MIT",
    "MIT No Attribution License (MIT-0)": "MIT-0",
    "ISC License (ISCL)": "ISC",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "Mozilla Public License 1.1 (MPL 1.1)": "MPL-1.1",
    "Python Software Foundation License": "PSF-2.0",
    "GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
    "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
    "GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
    "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
    "GNU Affero General Public License v3": "AGPL-3.0-only",
    "GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
    "The Unlicense (Unlicense)": "Unlicense",
    "Zope Public License": "ZPL-2.1",
    "Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    "Eclipse Public License 1.0 (EPL-1.0)": "EPL-1.0",
    "European Union Public Licence 1.2 (EUPL 1.2)": "EUPL-1.2",
    "Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "Historical Permission Notice and Disclaimer (HPND)": "HPND",
    "Universal Permissive License (UPL)": "UPL-1.0",
    "zlib/libpng License": "Zlib",
    "CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
}
"""Trove license classifiers (the last ``::`` part) that name one SPDX license."""

_ALIAS_PATTERNS = tuple((re.compile(pattern), spdx) for pattern, spdx in ALIASES)
_TOKEN = re.compile(r"\(|\)|[^\s()]+")
_SHORT_FIELD = 120
# Only the start of a License field is read as a license text: long fields often append
# the licenses of bundled code, which say nothing about the package's own.
_TEXT_HEAD = 2000


@dataclass(frozen=True, kw_only=True)
class PackageLicense:
    """A package's license as read from installed metadata.

    Attributes
    ----------
    package : str
        The package name as given.
    version : str or None
        The version recorded in the environment.
    installed : str or None
        The installed version the metadata was read from; None when not installed.
    license : str or None
        SPDX expression; None when unknown.
    source : str or None
        ``License-Expression``, ``License``, ``License text`` or ``classifiers``.
    raw : str or None
        What the metadata said, shortened, when it did not normalise.
    """

    package: str
    version: str | None
    installed: str | None
    license: str | None
    source: str | None
    raw: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "package": self.package,
            "version": self.version,
            "installed": self.installed,
            "license": self.license,
            "source": self.source,
            "raw": self.raw,
        }


def package_license(name: str, version: str | None = None) -> PackageLicense:
    """Read and normalise the license of an installed package.

    Parameters
    ----------
    name : str
        Distribution name (any PEP 503 spelling).
    version : str, optional
        The version recorded for it, kept for the record.

    Returns
    -------
    PackageLicense
        With ``license=None`` when the package is not installed or its license unknown.
    """
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return PackageLicense(
            package=name, version=version, installed=None, license=None, source=None
        )
    fields = dist.metadata
    expression = _field(fields, "License-Expression")
    text = _field(fields, "License")
    classifiers = [c for c in (fields.get_all("Classifier") or []) if c.startswith("License ::")]
    spdx, source = normalise_license(expression=expression, text=text, classifiers=classifiers)
    raw = None
    if spdx is None:
        raw = (
            " | ".join(part for part in (expression, _first_line(text), *classifiers) if part)[
                :_SHORT_FIELD
            ]
            or None
        )
    return PackageLicense(
        package=name, version=version, installed=dist.version, license=spdx, source=source, raw=raw
    )


def normalise_license(
    *, expression: str | None = None, text: str | None = None, classifiers: Sequence[str] = ()
) -> tuple[str | None, str | None]:
    """Return ``(SPDX expression, source)`` from license metadata, or ``(None, None)``.

    Parameters
    ----------
    expression : str, optional
        The ``License-Expression`` field.
    text : str, optional
        The ``License`` field (a name, an expression or a whole license text).
    classifiers : sequence of str
        ``License :: ...`` trove classifiers.
    """
    if expression and (spdx := _canonical(expression)):
        return spdx, "License-Expression"
    if text and (spdx := _from_field(text)) is not None:
        return spdx, "License"
    named = [
        CLASSIFIERS[name]
        for name in (c.rsplit("::", 1)[-1].strip() for c in classifiers)
        if name in CLASSIFIERS
    ]
    if named:
        unique = list(dict.fromkeys(named))
        return (unique[0] if len(unique) == 1 else " OR ".join(unique)), "classifiers"
    if text and (spdx := _from_text(text[:_TEXT_HEAD])) is not None:
        return spdx, "License text"
    return None, None


@timed
def license_check(
    packages: Mapping[str, str] | Iterable[str],
    allow: Iterable[str] | None = None,
    deny: Iterable[str] | None = None,
) -> CheckResult:
    """Check the licenses of a model's packages against allow and deny lists.

    Parameters
    ----------
    packages : mapping of name to version, or iterable of names
        The environment's packages (a version's ``environment["packages"]``).
    allow : iterable of str, optional
        SPDX ids or patterns accepted; when given, anything else fails and unknown
        licenses warn.
    deny : iterable of str, optional
        SPDX ids or patterns refused.

    Returns
    -------
    CheckResult
        ``check="licenses"``; ``value`` is the number of packages failing; evidence has
        every package's license and source and the denied, not-allowed and unknown ones.

    Raises
    ------
    InputError
        When an allow or deny entry is not an SPDX license id or a pattern.
    """
    allowed = _entries(allow, "allow")
    denied = _entries(deny, "deny")
    items = (
        packages.items() if isinstance(packages, Mapping) else ((name, None) for name in packages)
    )
    licenses = [package_license(name, version) for name, version in sorted(items)]
    verdicts: dict[str, list[str]] = {"denied": [], "not_allowed": [], "unknown": []}
    for item in licenses:
        if item.license is None:
            verdicts["unknown"].append(item.package)
            continue
        verdict = _judge(item.license, allowed, denied)
        if verdict != "allowed":
            verdicts[verdict].append(item.package)
    evidence = {
        "allow": allowed,
        "deny": denied,
        "packages": [item.to_dict() for item in licenses],
        **verdicts,
    }
    by_name = {item.package: item for item in licenses}
    failing = verdicts["denied"] + verdicts["not_allowed"]
    status: Status = "pass"
    parts = []
    if verdicts["denied"]:
        parts.append("denied: " + _listed(verdicts["denied"], by_name))
    if verdicts["not_allowed"]:
        parts.append("not allowed: " + _listed(verdicts["not_allowed"], by_name))
    if failing:
        status = "fail"
    elif verdicts["unknown"] and allowed is not None:
        status = "warn"
    if verdicts["unknown"] and (allowed is not None or failing):
        parts.append(f"unknown license: {', '.join(verdicts['unknown'])}")
    if parts:
        message = f"{len(licenses)} packages; " + "; ".join(parts)
    else:
        message = f"{len(licenses)} packages, no license denied"
        if verdicts["unknown"]:
            message += f" ({len(verdicts['unknown'])} unknown)"
    threshold = {"allow": allowed, "deny": denied}
    return CheckResult(
        check="licenses",
        category="security",
        status=status,
        message=message,
        value=len(failing),
        threshold=threshold,
        evidence=evidence,
    )


def _field(fields: Any, name: str) -> str | None:
    values = fields.get_all(name)
    return str(values[0]) if values else None


def _canonical(expression: str) -> str | None:
    try:
        return str(canonicalize_license_expression(expression.strip()))
    except InvalidLicenseExpression:
        return None


def _from_field(text: str) -> str | None:
    line = _first_line(text)
    if not line or len(line) > _SHORT_FIELD:
        return None
    if (spdx := _canonical(line)) is not None:
        return spdx
    key = re.sub(r"\s+", " ", line.lower().replace("_", " ")).strip(" .")
    for pattern, spdx in _ALIAS_PATTERNS:
        if pattern.fullmatch(key):
            return spdx
    return None


def _from_text(text: str) -> str | None:
    flat = re.sub(r"\s+", " ", text)
    if "Permission is hereby granted, free of charge" in flat:
        return "MIT"
    if "Redistribution and use in source and binary forms" in flat:
        third_clause = "Neither the name" in flat or "endorse or promote" in flat
        return "BSD-3-Clause" if third_clause else "BSD-2-Clause"
    if "Apache License" in flat and "Version 2.0" in flat:
        return "Apache-2.0"
    if "Mozilla Public License Version 2.0" in flat or "Mozilla Public License, v. 2.0" in flat:
        return "MPL-2.0"
    return None


def _first_line(text: str | None) -> str:
    if not text:
        return ""
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def _entries(values: Iterable[str] | None, what: str) -> list[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    out = []
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"{what}: license entries must be non-empty strings, got {value!r}")
        value = value.strip()
        if "*" not in value and "?" not in value:
            canonical = _canonical(value)
            if canonical is None or " " in canonical:
                raise InputError(
                    f"{what}: {value!r} is not an SPDX license id",
                    hint="use ids such as MIT, Apache-2.0, GPL-3.0-only, or patterns such as GPL-*",
                )
            value = canonical
        out.append(value)
    return out


def _judge(expression: str, allow: list[str] | None, deny: list[str] | None) -> Verdict:
    """Judge an SPDX expression: OR takes the best alternative, AND the worst part."""
    rank: dict[Verdict, int] = {"denied": 0, "not_allowed": 1, "allowed": 2}
    tokens = _TOKEN.findall(expression)
    position = 0

    def leaf(identifier: str) -> Verdict:
        if deny and _matches(identifier, deny):
            return "denied"
        if allow is not None and not _matches(identifier, allow):
            return "not_allowed"
        return "allowed"

    def parse_or() -> Verdict:
        best = parse_and()
        while position < len(tokens) and tokens[position].upper() == "OR":
            advance()
            other = parse_and()
            best = max(best, other, key=rank.__getitem__)
        return best

    def parse_and() -> Verdict:
        worst = parse_factor()
        while position < len(tokens) and tokens[position].upper() == "AND":
            advance()
            other = parse_factor()
            worst = min(worst, other, key=rank.__getitem__)
        return worst

    def parse_factor() -> Verdict:
        if position < len(tokens) and tokens[position] == "(":
            advance()
            verdict = parse_or()
            if position < len(tokens) and tokens[position] == ")":
                advance()
            return verdict
        identifier = tokens[position] if position < len(tokens) else ""
        advance()
        if position < len(tokens) and tokens[position].upper() == "WITH":
            advance(2)  # an exception grants extra permissions; judge the license itself
        return leaf(identifier)

    def advance(steps: int = 1) -> None:
        nonlocal position
        position += steps

    return parse_or()


def _matches(identifier: str, entries: list[str]) -> bool:
    name = identifier.lower().removesuffix("+")
    return any(fnmatch.fnmatchcase(name, entry.lower()) for entry in entries)


def _listed(names: list[str], by_name: Mapping[str, PackageLicense]) -> str:
    return ", ".join(f"{name} ({by_name[name].license})" for name in names)
