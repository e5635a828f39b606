"""A CycloneDX software bill of materials for a model version.

The SBOM lists the Python packages recorded in the version's environment (name, version,
purl ``pkg:pypi/<name>@<version>``) and the model artifact itself as the root component,
of CycloneDX type ``machine-learning-model``, with its SHA-256 hash; the model depends
on every package. It is built with cyclonedx-python-lib and written as CycloneDX JSON
(1.6 by default, 1.5 on request).

The output is reproducible: the serial number is a UUID derived from the content (the
environment's lock digest, the artifact digest, the model and version) and the time is
the one given, so the same version always yields the same document.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from typing import Any, Literal

from govml.checks.result import CheckResult, timed
from govml.domain.records import ModelVersion
from govml.errors import ConfigurationError, InputError

__all__ = ["build_sbom", "sbom_check", "sbom_for_version", "validate_sbom"]

SpecVersion = Literal["1.5", "1.6"]
ERR_PACKAGES = "the environment's 'packages' must map package names to version strings"
ERR_DIGEST = "artifact digest must be 'sha256:' followed by 64 hex digits, got {digest!r}"
ERR_VALIDATOR = "validating an SBOM needs the 'jsonschema' package, which is not installed"
HINT_VALIDATOR = "pip install 'cyclonedx-python-lib[json-validation]'"
_DIGEST = re.compile(r"(?:sha256:)?([0-9a-f]{64})")
_NAMESPACE = uuid.UUID("6f2a4c3e-4b0e-5d5f-9c1e-6a1f3b2d7e90")


def build_sbom(
    environment: Mapping[str, Any],
    *,
    model: str | None = None,
    version: int | str | None = None,
    artifact_digest: str | None = None,
    flavor: str | None = None,
    timestamp: datetime | None = None,
    spec_version: SpecVersion = "1.6",
) -> dict[str, Any]:
    """Build a CycloneDX JSON SBOM of a model's environment.

    Parameters
    ----------
    environment : mapping
        A version's recorded environment: ``packages`` (name -> version), and optionally
        ``python``, ``platform`` and ``lock_digest`` (kept as metadata properties).
    model, version : str, optional
        The model's name and version; with ``artifact_digest`` they make the root
        component.
    artifact_digest : str, optional
        ``sha256:<hex>`` of the artifact.
    flavor : str, optional
        Recorded as a property of the model component.
    timestamp : datetime, optional
        The document's time (the version's registration time for reproducibility);
        now when omitted.
    spec_version : {"1.5", "1.6"}
        CycloneDX specification version.

    Returns
    -------
    dict
        The SBOM as parsed JSON.

    Raises
    ------
    InputError
        When the packages or the digest are malformed.
    """
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output.json import JsonV1Dot5, JsonV1Dot6
    from packageurl import PackageURL

    packages = _packages(environment)
    digest = _hex_digest(artifact_digest)
    libraries = [
        Component(
            type=ComponentType.LIBRARY,
            name=name,
            version=package_version,
            purl=PackageURL(type="pypi", name=name, version=package_version),
            bom_ref=f"pkg:pypi/{name}@{package_version}",
        )
        for name, package_version in sorted(packages.items())
    ]
    bom = Bom(serial_number=_serial(environment, packages, model, version, digest))
    bom.metadata.timestamp = timestamp or datetime.now(UTC)
    bom.metadata.tools.components.add(
        Component(type=ComponentType.APPLICATION, name="govml", version=_govml_version())
    )
    for key in ("python", "implementation", "platform", "lock_digest"):
        if environment.get(key):
            bom.metadata.properties.add(Property(name=f"govml:{key}", value=str(environment[key])))
    bom.components.update(libraries)
    if model is not None:
        root = Component(
            type=ComponentType.MACHINE_LEARNING_MODEL,
            name=model,
            version=None if version is None else str(version),
            bom_ref=f"model:{model}@{version}" if version is not None else f"model:{model}",
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=digest)] if digest else None,
            properties=[Property(name="govml:flavor", value=flavor)] if flavor else None,
        )
        bom.metadata.component = root
        bom.register_dependency(root, libraries)
    writer = JsonV1Dot6 if spec_version == "1.6" else JsonV1Dot5
    document: dict[str, Any] = json.loads(writer(bom).output_as_string())
    return document


def sbom_for_version(version: ModelVersion, *, spec_version: SpecVersion = "1.6") -> dict[str, Any]:
    """Build the SBOM of a registered version, timed at its registration (reproducible)."""
    return build_sbom(
        version.environment,
        model=version.model,
        version=version.version,
        artifact_digest=version.artifact_digest,
        flavor=version.flavor,
        timestamp=version.created_at,
        spec_version=spec_version,
    )


def validate_sbom(document: Mapping[str, Any]) -> list[str]:
    """Validate an SBOM against the CycloneDX JSON schema of its ``specVersion``.

    String formats are checked as jsonschema checks them with what govml installs:
    ``date-time`` and e-mail addresses are, ``iri-reference`` is not (jsonschema needs
    rfc3987-syntax for it, whose grammars cost 1.3 s at every first import; govml's own
    SBOMs hold no IRI).

    Parameters
    ----------
    document : mapping
        A CycloneDX JSON document.

    Returns
    -------
    list of str
        Validation errors; empty when the document is valid.

    Raises
    ------
    ConfigurationError
        When cyclonedx-python-lib's JSON validation extra (jsonschema) is not installed.
    """
    from cyclonedx.exception import MissingOptionalDependencyException
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    schema = SchemaVersion.from_version(str(document.get("specVersion", "1.6")))
    try:
        error = JsonStrictValidator(schema).validate_str(json.dumps(document))
    except MissingOptionalDependencyException as exc:
        raise ConfigurationError(ERR_VALIDATOR, hint=HINT_VALIDATOR) from exc
    return [] if error is None else [str(error)]


@timed
def sbom_check(version: ModelVersion, *, spec_version: SpecVersion = "1.6") -> CheckResult:
    """Build a version's SBOM as evidence, validated against the schema when possible.

    Returns
    -------
    CheckResult
        ``check="sbom"``, ``value`` the number of package components, the document in
        ``evidence["sbom"]``; ``fail`` only if the document does not validate. When the
        validator is not installed the message and ``evidence["validated"]`` say so.
    """
    document = sbom_for_version(version, spec_version=spec_version)
    components = len(document.get("components", []))
    evidence: dict[str, Any] = {
        "spec_version": spec_version,
        "components": components,
        "sbom": document,
    }
    try:
        errors = validate_sbom(document)
    except ConfigurationError as exc:
        evidence["validated"] = False
        message = (
            f"CycloneDX {spec_version} SBOM with {components} packages "
            f"(not schema-validated: {exc.hint})"
        )
        return _result("pass", message, components, evidence)
    evidence["validated"] = True
    if errors:
        evidence["errors"] = errors
        return _result(
            "fail", f"the SBOM does not validate: {errors[0][:200]}", components, evidence
        )
    return _result(
        "pass",
        f"CycloneDX {spec_version} SBOM with {components} packages, schema-valid",
        components,
        evidence,
    )


def _packages(environment: Mapping[str, Any]) -> dict[str, str]:
    packages = environment.get("packages", {})
    if not isinstance(packages, Mapping):
        raise InputError(ERR_PACKAGES)
    out: dict[str, str] = {}
    for name, package_version in packages.items():
        if not isinstance(name, str) or not isinstance(package_version, str) or not name.strip():
            raise InputError(ERR_PACKAGES, hint=f"got {name!r}: {package_version!r}")
        out[_canonical(name)] = package_version
    return out


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _hex_digest(digest: str | None) -> str | None:
    if digest is None:
        return None
    match = _DIGEST.fullmatch(digest)
    if match is None:
        raise InputError(ERR_DIGEST.format(digest=digest))
    return match.group(1)


def _serial(
    environment: Mapping[str, Any],
    packages: Mapping[str, str],
    model: str | None,
    version: int | str | None,
    digest: str | None,
) -> uuid.UUID:
    lock = environment.get("lock_digest") or json.dumps(sorted(packages.items()))
    return uuid.uuid5(_NAMESPACE, f"{lock}|{digest}|{model}|{version}")


def _govml_version() -> str:
    try:
        return installed_version("govml")
    except PackageNotFoundError:
        return "unknown"


def _result(
    status: Literal["pass", "fail"], message: str, value: int, evidence: dict[str, Any]
) -> CheckResult:
    return CheckResult(
        check="sbom",
        category="security",
        status=status,
        message=message,
        value=value,
        evidence=evidence,
    )
