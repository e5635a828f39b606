"""The serialization rule: whether a model artifact is safe to load.

The artifact's bytes decide its format, not the flavor it claims:

* a pickle (any protocol, or gzip / zlib / bz2 / xz compressed, as joblib writes) or a
  zip archive holding pickle members (torch-style) is *pickle-based*: loading it runs
  whatever it imports. Protocol 0 and 1 have no magic bytes: bytes from which the opcode
  walk reads an import before it stops count as a pickle;
* anything else is a *safe format* that govml's flavors load without unpickling: skops
  (a zip with ``schema.json``; its types are audited by the sklearn flavor when loaded),
  XGBoost JSON / UBJSON, LightGBM text and ONNX protobuf. Zip archives are still opened
  and any pickle inside is scanned.

Under ``safe_only`` a pickle-based artifact fails, whatever it imports, and so does a skops
archive that relies on types beyond the built-in allowlist (`govml.flavors.sklearn`), even
when the operator trusts them: the evidence names them. Under ``trusted_types`` such an
archive warns when every extra type is trusted where the check runs (``GOVML_TRUSTED_TYPES``)
and fails otherwise; pickles still fail. Under ``scanned_pickle`` extra types are judged as
under ``trusted_types``, and a pickle is accepted when the scan (:mod:`.pickle_scan`) finds
only allowed imports: a dangerous import or unparseable bytes fail, an unknown import warns.
A safe format fails on a dangerous or unparseable embedded pickle and warns on an unknown one.
Under ``custom_code`` everything is judged as under ``scanned_pickle``.

A tar is an MLflow ``python_function`` model (`govml.flavors.mlflow_pyfunc`), whatever flavor
it claims: it runs its own code, so it fails under every level but ``custom_code``. Under
``custom_code`` it passes when its archive is safe to read and every pickle in it imports only
allowed callables and modules of its own ``code/`` directory
(`govml.checks.security.pyfunc_archive`), and fails otherwise, naming the findings; the
evidence lists its code files with their SHA-256, for the approvers to review.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any, Literal, get_args

from govml.checks.result import CheckResult, Status, timed
from govml.checks.security.pickle_scan import PickleScan, inspect_pickle, is_pickle_container
from govml.checks.security.pyfunc_archive import ArchiveError, is_tar, read_archive, scan_archive
from govml.errors import FlavorError, InputError, did_you_mean

__all__ = ["SERIALIZATION_MODES", "Serialization", "scan_artifact"]

Serialization = Literal["safe_only", "trusted_types", "scanned_pickle", "custom_code"]
SERIALIZATION_MODES: tuple[Serialization, ...] = get_args(Serialization)

_ZIP_MAGIC = b"PK\x03\x04"
_SHOWN_FINDINGS = 3
_MAX_EVIDENCE_FINDINGS = 100


@timed
def scan_artifact(
    flavor: str,
    data: bytes,
    *,
    serialization: Serialization = "safe_only",
    trusted: frozenset[str] = frozenset(),
) -> CheckResult:
    """Check a model artifact's serialization format, scanning any pickle without loading it.

    Parameters
    ----------
    flavor : str
        The flavor the version was registered with (recorded in the evidence).
    data : bytes
        The artifact's bytes.
    serialization : {"safe_only", "trusted_types", "scanned_pickle", "custom_code"}
        The policy's rule (module docstring).
    trusted : frozenset of str
        Types beyond the built-in allowlist that the operator trusts where the check runs
        (``GOVML_TRUSTED_TYPES``); never what the version records.

    Returns
    -------
    CheckResult
        ``check="serialization"``; ``value`` is the format (``pickle``, ``pickle_archive``,
        ``skops``, ``zip``, ``native``, ``mlflow_pyfunc``); evidence has the findings, the
        number of imports per classification and, for skops, the extra types the archive
        relies on (``trusted_types``, read from its bytes); for ``mlflow_pyfunc``, the code
        files with their SHA-256 (``code_files``) and the pickles scanned.

    Raises
    ------
    InputError
        For an unknown serialization mode.
    """
    if serialization not in SERIALIZATION_MODES:
        raise InputError(
            f"unknown serialization rule {serialization!r}; "
            f"valid rules: {', '.join(SERIALIZATION_MODES)}",
            hint=did_you_mean(str(serialization), SERIALIZATION_MODES),
        )
    data = bytes(data)
    if not data:
        return _result(
            "fail", "the artifact is empty", "empty", serialization, {"flavor": flavor, "size": 0}
        )
    if is_tar(data):
        return _pyfunc(flavor, data, serialization)
    fmt, scan = _inspect(data)
    findings = [finding.to_dict() for finding in scan.findings] if scan else []
    counts = {"safe": 0, "dangerous": 0, "unknown": 0}
    for item in scan.imports if scan else ():
        counts[item.classification] += 1
    evidence = {
        "flavor": flavor,
        "format": fmt,
        "size": len(data),
        "pickle_streams": scan.streams if scan else 0,
        "imports": counts,
        "findings": findings[:_MAX_EVIDENCE_FINDINGS],
        "findings_total": len(findings),
    }
    kinds = {finding["kind"] for finding in findings}
    pickle_based = fmt in ("pickle", "pickle_archive")
    what = {"pickle": "a pickle", "pickle_archive": "an archive of pickles"}.get(
        fmt, f"a {fmt} file"
    )
    if "dangerous" in kinds or "invalid" in kinds:
        return _result(
            "fail",
            f"{what} that is unsafe to load: {_summary(findings)}",
            fmt,
            serialization,
            evidence,
        )
    if pickle_based and serialization == "safe_only":
        message = f"{what}, which runs code when loaded; the policy allows safe formats only"
        return _result("fail", message, fmt, serialization, evidence)
    if pickle_based and serialization == "trusted_types":
        message = f"{what}, which runs code when loaded; the policy allows no pickles"
        return _result("fail", message, fmt, serialization, evidence)
    if fmt == "skops":
        judged = _extra_types(data, serialization, trusted, evidence)
        if judged is not None:
            return judged
    if "unknown" in kinds:
        return _result(
            "warn",
            f"{what} importing callables not on the allow list: {_summary(findings)}",
            fmt,
            serialization,
            evidence,
        )
    if pickle_based:
        return _result(
            "pass",
            f"{what} importing only allowed callables ({counts['safe']} imports)",
            fmt,
            serialization,
            evidence,
        )
    return _result(
        "pass", f"{what}, a format loaded without unpickling", fmt, serialization, evidence
    )


def _pyfunc(flavor: str, data: bytes, serialization: Serialization) -> CheckResult:
    """Judge a tar: an MLflow python_function model with its code (module docstring)."""
    fmt = "mlflow_pyfunc"
    evidence: dict[str, Any] = {"flavor": flavor, "format": fmt, "size": len(data)}
    try:
        archive = read_archive(data)
    except ArchiveError as exc:
        message = f"an archive that is unsafe to read: {exc}"
        return _result("fail", message, fmt, serialization, evidence)
    scan = scan_archive(archive)
    findings = [finding.to_dict() for finding in scan.findings]
    counts = {"safe": 0, "dangerous": 0, "unknown": 0}
    for item in scan.imports:
        counts[item.classification] += 1
    code = archive.code_files
    evidence.update(
        {
            "code_files": code,
            "code_imports": list(scan.code_imports),
            "pickles": list(scan.pickles),
            "imports": counts,
            "findings": findings[:_MAX_EVIDENCE_FINDINGS],
            "findings_total": len(findings),
        }
    )
    what = f"an MLflow python_function model with {len(code)} code file(s)"
    if findings:
        message = f"{what} that is unsafe to load: {_summary(findings)}"
        return _result("fail", message, fmt, serialization, evidence)
    if serialization != "custom_code":
        message = (
            f"{what}, which runs its own code when loaded; the policy allows it only under "
            "security.serialization: custom_code"
        )
        return _result("fail", message, fmt, serialization, evidence)
    message = (
        f"{what} ({', '.join(sorted(code)) or 'none'}); its {len(scan.pickles)} pickle(s) "
        "import only allowed callables and its own code"
    )
    return _result("pass", message, fmt, serialization, evidence)


def _extra_types(
    data: bytes, serialization: Serialization, trusted: frozenset[str], evidence: dict[str, Any]
) -> CheckResult | None:
    """Judge the types a skops archive relies on beyond the allowlist; None when it has none."""
    # Imported here: govml.flavors imports this package's scanner.
    from govml.flavors.sklearn import extra_types

    try:
        extra = extra_types(data)
    except FlavorError as exc:
        evidence["trusted_types"] = None
        message = f"a skops file whose types cannot be listed: {exc.message}"
        return _result("fail", message, "skops", serialization, evidence)
    evidence["trusted_types"] = extra
    if not extra:
        return None
    names = ", ".join(extra)
    if serialization == "safe_only":
        message = (
            f"a skops file relying on types beyond the built-in allowlist ({names}); the "
            "policy allows the allowlist only"
        )
        return _result("fail", message, "skops", serialization, evidence)
    untrusted = [name for name in extra if name not in trusted]
    evidence["untrusted_types"] = untrusted
    if untrusted:
        message = f"a skops file relying on types nobody trusts here: {', '.join(untrusted)}"
        return _result("fail", message, "skops", serialization, evidence)
    message = f"a skops file relying on types the operator trusts: {names}"
    return _result("warn", message, "skops", serialization, evidence)


def _inspect(data: bytes) -> tuple[str, PickleScan | None]:
    if is_pickle_container(data):
        return "pickle", inspect_pickle(data)
    if data.startswith(_ZIP_MAGIC):
        scan = inspect_pickle(data)
        if scan.imports or scan.streams:
            return "pickle_archive" if not _has_member(data, "schema.json") else "skops", scan
        return ("skops" if _has_member(data, "schema.json") else "zip"), scan
    # Protocol 0 and 1 pickles have no magic bytes. Native formats (JSON, UBJSON, text,
    # protobuf) stop the opcode walk at once without an import; anything that imports
    # before it stops is treated as the pickle it would be to pickle.loads.
    scan = inspect_pickle(data)
    if scan.imports or any(finding.kind != "invalid" for finding in scan.findings):
        return "pickle", scan
    return "native", None


def _has_member(data: bytes, name: str) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return name in archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def _summary(findings: list[dict[str, Any]]) -> str:
    shown = []
    for finding in findings[:_SHOWN_FINDINGS]:
        where = f" in {finding['member']}" if finding.get("member") else ""
        if finding.get("module"):
            shown.append(f"{finding['module']}.{finding['name']}{where}")
        else:
            shown.append(f"{finding['message']}{where}")
    more = len(findings) - len(shown)
    return "; ".join(shown) + (f" and {more} more" if more > 0 else "")


def _result(
    status: Status, message: str, value: str, threshold: str, evidence: dict[str, Any]
) -> CheckResult:
    return CheckResult(
        check="serialization",
        category="security",
        status=status,
        message=message,
        value=value,
        threshold=threshold,
        evidence=evidence,
    )
