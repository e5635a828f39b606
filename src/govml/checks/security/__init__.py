"""Security and supply-chain checks: unsafe serialization, SBOM, licenses, vulnerabilities."""

from govml.checks.security.artifact import SERIALIZATION_MODES, Serialization, scan_artifact
from govml.checks.security.licenses import PackageLicense, license_check, package_license
from govml.checks.security.osv import OsvDatabase, open_database
from govml.checks.security.pickle_scan import (
    PickleFinding,
    PickleImport,
    PickleScan,
    classify_import,
    inspect_pickle,
    scan_pickle,
)
from govml.checks.security.sbom import build_sbom, sbom_check, sbom_for_version, validate_sbom
from govml.checks.security.vulns import (
    VulnerabilityFinding,
    find_vulnerabilities,
    vulnerability_check,
)

__all__ = [
    "SERIALIZATION_MODES",
    "OsvDatabase",
    "PackageLicense",
    "PickleFinding",
    "PickleImport",
    "PickleScan",
    "Serialization",
    "VulnerabilityFinding",
    "build_sbom",
    "classify_import",
    "find_vulnerabilities",
    "inspect_pickle",
    "license_check",
    "open_database",
    "package_license",
    "sbom_check",
    "sbom_for_version",
    "scan_artifact",
    "scan_pickle",
    "validate_sbom",
    "vulnerability_check",
]
