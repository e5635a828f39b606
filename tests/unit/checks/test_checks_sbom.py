"""CycloneDX SBOM of a model version: structure, reproducibility, schema validity."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime

import pytest
from cyclonedx.model.bom import Bom

from govml.checks import build_sbom, sbom_check, validate_sbom
from govml.domain.records import DatasetRef, ModelVersion
from govml.errors import ConfigurationError, InputError

ENVIRONMENT = {
    "python": "3.11.7",
    "platform": "linux-x86_64",
    "packages": {"scikit-learn": "1.5.0", "numpy": "2.0.1", "PyYAML": "6.0.1"},
    "lock_digest": "sha256:" + "1" * 64,
}
DIGEST = "sha256:" + "ab" * 32
WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _sbom(spec_version: str = "1.6") -> dict:
    return build_sbom(
        ENVIRONMENT,
        model="credit",
        version=3,
        artifact_digest=DIGEST,
        flavor="sklearn",
        timestamp=WHEN,
        spec_version=spec_version,
    )


def test_packages_and_the_model_are_components() -> None:
    document = _sbom()
    assert document["bomFormat"] == "CycloneDX" and document["specVersion"] == "1.6"
    purls = sorted(c["purl"] for c in document["components"])
    assert purls == ["pkg:pypi/numpy@2.0.1", "pkg:pypi/pyyaml@6.0.1", "pkg:pypi/scikit-learn@1.5.0"]
    model = document["metadata"]["component"]
    assert model["type"] == "machine-learning-model" and model["version"] == "3"
    assert model["hashes"] == [{"alg": "SHA-256", "content": "ab" * 32}]
    (dependency,) = [d for d in document["dependencies"] if d["ref"] == model["bom-ref"]]
    assert sorted(dependency["dependsOn"]) == purls
    properties = {p["name"]: p["value"] for p in document["metadata"]["properties"]}
    assert properties["govml:python"] == "3.11.7"


def test_the_same_inputs_give_the_same_document() -> None:
    assert _sbom() == _sbom()
    assert _sbom()["serialNumber"].startswith("urn:uuid:")


def test_cyclonedx_reads_its_own_output() -> None:
    bom = Bom.from_json(_sbom())
    assert len(bom.components) == 3 and bom.metadata.component.name == "credit"


@pytest.mark.parametrize("spec_version", ["1.5", "1.6"])
def test_schema_validation(spec_version: str) -> None:
    document = _sbom(spec_version)
    if importlib.util.find_spec("jsonschema") is None:
        with pytest.raises(ConfigurationError) as caught:
            validate_sbom(document)
        assert "json-validation" in (caught.value.hint or "")
        pytest.skip("jsonschema is not installed: the schema itself was not checked")
    assert validate_sbom(document) == []
    broken = dict(document, components=[{"name": "x"}])  # a component without a type
    assert validate_sbom(broken)
    # The string formats govml's SBOMs use are still checked (date-time, by rfc3339-validator).
    stamped = dict(document, metadata={**document["metadata"], "timestamp": "yesterday"})
    assert "is not a 'date-time'" in validate_sbom(stamped)[0]


def test_bad_environment_and_digest_are_input_errors() -> None:
    with pytest.raises(InputError, match="must map package names"):
        build_sbom({"packages": ["numpy"]})
    with pytest.raises(InputError, match="artifact digest"):
        build_sbom(ENVIRONMENT, model="m", artifact_digest="md5:abc")


def test_sbom_check_of_a_registered_version() -> None:
    version = ModelVersion(
        model="credit",
        version=3,
        artifact_digest=DIGEST,
        artifact_size=10,
        flavor="sklearn",
        flavor_options={},
        signature=None,
        datasets=(DatasetRef(role="train", digest="sha256:" + "2" * 64, row_count=5, columns=2),),
        code={},
        environment=ENVIRONMENT,
        params={},
        metrics={},
        registrant="alice",
        created_at=WHEN,
    )
    result = sbom_check(version)
    assert result.status == "pass" and result.value == 3
    assert result.evidence["sbom"]["metadata"]["timestamp"].startswith("2024-05-01T12:00:00")
