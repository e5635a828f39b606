"""Vulnerability matching on a fixture OSV database and on the shared PyPA database."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml

from govml.checks import open_database, vulnerability_check
from govml.checks.security import find_vulnerabilities
from govml.checks.security.cvss import base_score, level_of_score
from govml.demo.adult import datasets_dir
from govml.errors import InputError

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "osv"


@pytest.mark.parametrize(
    ("vector", "score"),
    [  # base scores as published by NVD
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
        ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9),
        ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 8.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
        ("AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5),
        ("AV:N/AC:M/Au:N/C:N/I:P/A:N", 4.3),
        ("AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0),
    ],
)
def test_cvss_base_scores(vector: str, score: float) -> None:
    computed = base_score(vector)
    assert computed is not None and computed[0] == score


def test_cvss_levels_and_unsupported_vectors() -> None:
    assert [level_of_score(s) for s in (0.0, 3.9, 4.0, 7.0, 9.0)] == [
        "none", "low", "medium", "high", "critical",
    ]  # fmt: skip
    assert level_of_score(9.3, "2") == "high"  # v2 has no critical
    assert base_score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N") is None
    assert base_score("CVSS:3.1/AV:X/AC:L") is None


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.0", {"DEMO-2024-1": ("critical", ["1.2.0", "2.0.3"])}),
        ("1.2.0", {}),
        ("2.0.1", {"DEMO-2024-1": ("critical", ["2.0.3"])}),
        ("2.1.0", {"DEMO-2024-2": ("medium", [])}),
        ("2.1.5", {"DEMO-2024-2": ("medium", [])}),  # last_affected is inclusive
        ("2.1.6", {}),
        ("3.0.0", {"DEMO-2024-3": ("unknown", [])}),  # "3.0" in the list is the same version
        ("3.0.1rc1", {"DEMO-2024-3": ("unknown", [])}),
        ("4.0b1", {"DEMO-2024-5": ("medium", ["4.0rc2"])}),
        ("4.0rc2", {}),
        ("not a version", {}),
    ],
)
def test_fixture_database_matching(version: str, expected: dict) -> None:
    findings = find_vulnerabilities({"Demo.Pkg": version}, FIXTURE)
    assert {f.id: (f.level, list(f.fixed)) for f in findings} == expected
    assert all(f.package == "demo-pkg" for f in findings)


def test_severity_sources_are_kept() -> None:
    (critical,) = find_vulnerabilities({"demo-pkg": "1.0"}, FIXTURE)
    assert (critical.score, critical.severity_source) == (9.8, "CVSS_V3")
    assert critical.aliases == ("CVE-2099-0001",)
    (moderate,) = find_vulnerabilities({"demo-pkg": "2.1.0"}, FIXTURE)
    assert (moderate.level, moderate.severity_source) == ("medium", "database_specific")
    (low,) = find_vulnerabilities({"OTHER_LIB": "1.5"}, FIXTURE)  # folder Other_Lib, name other.lib
    assert (low.package, low.level, low.score) == ("other-lib", "low", 1.8)


def test_check_statuses_follow_the_threshold_and_the_unknown_rule() -> None:
    assert vulnerability_check({"demo-pkg": "1.2.0"}, FIXTURE).status == "pass"
    medium = vulnerability_check({"demo-pkg": "2.1.0"}, FIXTURE, "high")
    assert (medium.status, medium.value, medium.threshold) == ("warn", 0, "high")
    assert vulnerability_check({"demo-pkg": "2.1.0"}, FIXTURE, "medium").status == "fail"
    unknown = {"demo-pkg": "3.0.0"}
    assert (
        vulnerability_check(unknown, FIXTURE, "high").status == "fail"
    )  # unknown counts as critical
    relaxed = vulnerability_check(unknown, FIXTURE, "high", unknown_severity="low")
    assert relaxed.status == "warn"
    result = vulnerability_check({"demo-pkg": "1.0", "other-lib": "1.0"}, FIXTURE, "critical")
    assert result.status == "fail" and result.value == 1
    assert result.evidence["counts"] == {"critical": 1, "low": 1}
    assert "DEMO-2024-1" in result.message and "fixed in 1.2.0" in result.message
    with pytest.raises(InputError, match="max_severity must be one of") as caught:
        vulnerability_check(unknown, FIXTURE, "hihg")
    assert caught.value.hint == "did you mean 'high'?"


def _records() -> list[dict]:
    return [yaml.safe_load(p.read_text()) for p in sorted(FIXTURE.glob("vulns/*/*.yaml"))]


@pytest.mark.parametrize("form", ["list", "object", "zip"])
def test_json_exports_give_the_same_findings(tmp_path: Path, form: str) -> None:
    records = _records()
    if form == "zip":
        path = tmp_path / "all.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for record in records:
                archive.writestr(f"{record['id']}.json", json.dumps(record))
    else:
        path = tmp_path / "osv.json"
        path.write_text(json.dumps(records if form == "list" else {"vulns": records}))
    packages = {"demo-pkg": "2.0.1", "other-lib": "1.0"}
    expected = [f.to_dict() for f in find_vulnerabilities(packages, FIXTURE)]
    assert [f.to_dict() for f in find_vulnerabilities(packages, path)] == expected


def test_folder_index_is_cached_until_the_folder_changes(tmp_path: Path) -> None:
    root = tmp_path / "db"
    shutil.copytree(FIXTURE, root)
    first = open_database(root)
    assert open_database(root) is first and first.records == 6
    (root / "vulns" / "newpkg").mkdir()
    (root / "vulns" / "newpkg" / "NEW-1.yaml").write_text(
        "id: NEW-1\naffected:\n- package: {name: newpkg, ecosystem: PyPI}\n  versions: ['1.0']\n"
    )
    (root / "vulns" / "demo-pkg" / "BROKEN.yaml").write_text("id: [unclosed\n")
    second = open_database(root)
    assert second is not first
    assert [f.id for f in find_vulnerabilities({"newpkg": "1.0"}, root)] == ["NEW-1"]
    assert len(find_vulnerabilities({"demo-pkg": "1.0"}, root)) == 1  # the broken file is skipped
    assert any("BROKEN.yaml" in problem for problem in second.problems)


def test_unreadable_databases_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        open_database(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="cannot read the vulnerability database"):
        open_database(bad)


@pytest.fixture(scope="module")
def pypa() -> Path:
    path = datasets_dir() / "pypa-advisory-db"
    if not (path / "vulns").is_dir():
        pytest.skip(f"the shared PyPA advisory database is not at {path}")
    return path


@pytest.mark.datasets
def test_shared_pypa_database(pypa: Path) -> None:
    database = open_database(pypa)
    assert database.records > 2600 and open_database(pypa / "vulns") is database
    findings = {f.id: f for f in find_vulnerabilities({"scikit-learn": "0.23.0"}, pypa)}
    assert "PYSEC-2020-107" in findings and findings["PYSEC-2020-107"].fixed == ("0.23.1",)
    assert findings["PYSEC-2020-107"].aliases == ("CVE-2020-13092",)
    fixed = {f.id for f in find_vulnerabilities({"scikit-learn": "0.23.1"}, pypa)}
    assert "PYSEC-2020-107" not in fixed
    (werkzeug,) = [
        f for f in find_vulnerabilities({"Werkzeug": "3.0.0"}, pypa) if f.id == "PYSEC-2023-221"
    ]
    assert (werkzeug.score, werkzeug.level, werkzeug.fixed) == (7.5, "high", ("3.0.1",))
    result = vulnerability_check({"scikit-learn": "0.23.0", "werkzeug": "3.0.1"}, pypa, "high")
    assert result.status == "fail" and result.evidence["database"]["records"] > 2600
