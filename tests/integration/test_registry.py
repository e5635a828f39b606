"""Registry use cases end to end through the SDK, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.linear_model import LogisticRegression

import govml
from govml.errors import (
    AlreadyExistsError,
    FlavorError,
    InputError,
    IntegrityError,
    NotFoundError,
    ValidationError,
)


@pytest.fixture(scope="module")
def training() -> tuple[LogisticRegression, pd.DataFrame]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 90, 400),
            "income": rng.normal(50_000, 10_000, 400),
        }
    )
    frame["label"] = (frame["income"] + 500 * frame["age"] > 70_000).astype("int64")
    model = LogisticRegression(max_iter=500).fit(frame[["age", "income"]], frame["label"])
    return model, frame


def _ledger_rows(client: govml.Client) -> int:
    with client.ctx.store.read() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM ledger_entries")).scalar_one())


def test_create_and_get_model(client: govml.Client) -> None:
    model = client.create_model(
        "credit", risk_tier="HIGH", intended_use="pre-screening", tags={"team": "risk"}
    )
    assert model.risk_tier is govml.RiskTier.HIGH
    assert model.owner == "alice"
    assert client.get_model("credit").tags == {"team": "risk"}
    assert [m.name for m in client.list_models()] == ["credit"]
    entries = client.audit_log(model="credit")
    assert [e.action for e in entries] == ["model.created"]
    assert entries[0].payload["risk_tier"] == "high"
    assert entries[0].actor == "alice"


def test_duplicate_model_is_refused_and_nothing_changes(client: govml.Client) -> None:
    client.create_model("credit", risk_tier="high")
    size = _ledger_rows(client)
    with pytest.raises(AlreadyExistsError, match="'credit' already exists"):
        client.create_model("credit", risk_tier="minimal")
    assert client.get_model("credit").risk_tier.value == "high"
    assert _ledger_rows(client) == size


def test_invalid_risk_tier_lists_valid_ones(client: govml.Client) -> None:
    with pytest.raises(ValidationError) as info:
        client.create_model("credit", risk_tier="hihg")
    text = info.value.diagnostics()
    assert "minimal, limited, high, unacceptable" in text
    assert "did you mean 'high'" in text
    assert client.list_models() == []


@pytest.mark.parametrize("name", ["", "a b", "../x", "x@1", "-x", "x/y", "é"])
def test_invalid_model_names(client: govml.Client, name: str) -> None:
    with pytest.raises(ValidationError, match="invalid model name"):
        client.create_model(name, risk_tier="minimal")


def test_unknown_model_and_version_are_named(client: govml.Client) -> None:
    client.create_model("credit", risk_tier="high")
    with pytest.raises(NotFoundError, match="model 'credti' does not exist") as info:
        client.get_model("credti")
    assert "did you mean 'credit'" in info.value.diagnostics()
    with pytest.raises(NotFoundError, match="'credit' has no versions yet"):
        client.get_version("credit")
    with pytest.raises(NotFoundError, match="'credit' has no version 7"):
        client.get_version("credit@7")
    with pytest.raises(NotFoundError, match="no version with alias 'production'"):
        client.get_version("credit@production")


def test_register_version_with_lineage(
    client: govml.Client, training: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    model, frame = training
    client.create_model("credit", risk_tier="high")
    version = client.register_version(
        "credit",
        model=model,
        train_data=frame.iloc[:300],
        validation_data=frame.iloc[300:],
        target="label",
        params={"C": 1.0, "max_iter": np.int64(500)},
        metrics={"accuracy": np.float64(0.93)},
    )
    assert version.ref == "credit@1"
    assert version.flavor == "sklearn"
    assert version.params == {"C": 1.0, "max_iter": 500, "target": "label"}
    assert version.metrics == {"accuracy": 0.93}
    assert [(d.role, d.row_count) for d in version.datasets] == [
        ("train", 300),
        ("validation", 100),
    ]
    assert version.environment["packages"]["scikit-learn"]
    assert version.environment["lock_digest"].startswith("sha256:")
    assert version.code["git_commit"] is None or len(version.code["git_commit"]) == 40
    inputs = [c["name"] for c in version.signature["inputs"]]
    assert inputs == ["age", "income"]

    again = client.get_version("credit@1")
    assert again.to_dict() == version.to_dict()
    assert client.get_version("credit").version == 1

    loaded = client.load_model("credit@1")
    np.testing.assert_array_equal(
        loaded.predict(frame[["age", "income"]]), model.predict(frame[["age", "income"]])
    )
    np.testing.assert_allclose(
        loaded.predict_proba(frame[["age", "income"]]),
        model.predict_proba(frame[["age", "income"]]),
    )

    fingerprint = client.registry.dataset_fingerprint(version.datasets[0].digest)
    assert fingerprint["row_count"] == 300

    second = client.register_version("credit", model=model)
    assert second.version == 2
    assert [v.version for v in client.list_versions("credit")] == [1, 2]
    actions = [e.action for e in client.audit_log(model="credit")]
    assert actions == ["model.created", "version.registered", "version.registered"]


def test_register_from_artifact_file(
    client: govml.Client, training: tuple[LogisticRegression, pd.DataFrame], tmp_path: Path
) -> None:
    import skops.io

    model, frame = training
    path = tmp_path / "model.skops"
    path.write_bytes(skops.io.dumps(model))
    csv = tmp_path / "train.csv"
    frame.to_csv(csv, index=False)
    client.create_model("credit", risk_tier="limited")
    version = client.register_version("credit", artifact=path, train_data=csv, target="label")
    assert version.flavor == "sklearn"
    assert version.datasets[0].row_count == len(frame)


def test_bad_registrations_change_nothing(
    client: govml.Client, training: tuple[LogisticRegression, pd.DataFrame], tmp_path: Path
) -> None:
    model, frame = training
    client.create_model("credit", risk_tier="high")
    size = _ledger_rows(client)
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("age,income,label\n1,2,0\n3,4\n5,6,7,8\n")
    garbage = tmp_path / "model.skops"
    garbage.write_bytes(b"\x00garbage")
    cases = [
        (InputError, dict(model=model, train_data=tmp_path / "missing.csv")),
        (InputError, dict(model=model, train_data=bad_csv)),
        (InputError, dict(model=model, train_data=frame, target="nope")),
        (FlavorError, dict(model=model, flavor="sklaern")),
        (FlavorError, dict(model=object())),
        (FlavorError, dict(artifact=garbage)),
        (InputError, dict(artifact=tmp_path / "model.bin")),
        (InputError, dict()),
        (NotFoundError, dict(model=model, _name="nope")),
    ]
    for error, kwargs in cases:
        name = kwargs.pop("_name", "credit")
        with pytest.raises(error):
            client.register_version(name, **kwargs)
    assert client.list_versions("credit") == []
    assert _ledger_rows(client) == size


def test_flavor_error_lists_valid_flavors(
    client: govml.Client, training: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    client.create_model("credit", risk_tier="high")
    with pytest.raises(FlavorError) as info:
        client.register_version("credit", model=training[0], flavor="sklaern")
    text = info.value.diagnostics()
    assert "sklearn" in text and "onnx" in text


def test_changed_artifact_bytes_are_refused_on_load(
    client: govml.Client, training: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    client.create_model("credit", risk_tier="high")
    version = client.register_version("credit", model=training[0])
    path = client.ctx.artifacts.path_for(version.artifact_digest)
    path.chmod(0o644)
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(IntegrityError, match=version.artifact_digest):
        client.load_model("credit@1")


def test_versions_are_immutable_in_the_database(
    client: govml.Client, training: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    client.create_model("credit", risk_tier="high")
    client.register_version("credit", model=training[0])
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), client.ctx.store.write() as conn:
        conn.execute(sa.text("UPDATE model_versions SET flavor = 'onnx'"))
    assert client.get_version("credit@1").flavor == "sklearn"


def test_failure_inside_the_transaction_rolls_back_the_ledger_too(
    client: govml.Client,
    training: tuple[LogisticRegression, pd.DataFrame],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from govml.store import records

    client.create_model("credit", risk_tier="high")
    size = _ledger_rows(client)

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("crash between the version row and its ledger entry")

    monkeypatch.setattr(records, "insert_version", boom)
    with pytest.raises(RuntimeError):
        client.register_version("credit", model=training[0], train_data=training[1], target="label")
    monkeypatch.undo()
    assert client.list_versions("credit") == []
    assert _ledger_rows(client) == size
    with client.ctx.store.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM datasets")).scalar_one() == 0
    client.verify_ledger()


def test_tags_are_ledgered(client: govml.Client) -> None:
    client.create_model("credit", risk_tier="high")
    client.set_tag("credit", "stage", "pilot")
    client.set_tag("credit", "stage", None)
    assert client.get_model("credit").tags == {}
    actions = [e.action for e in client.audit_log(model="credit")]
    assert actions == ["model.created", "model.tag_set", "model.tag_removed"]
    client.verify_ledger()


def test_get_by_alias_and_latest(
    client: govml.Client, training: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    from datetime import UTC, datetime

    from govml.store.schema import model_aliases

    client.create_model("credit", risk_tier="high")
    for _ in range(3):
        client.register_version("credit", model=training[0])
    with client.ctx.store.write() as conn:
        ids = dict(conn.execute(sa.text("SELECT version, id FROM model_versions")).all())
        mid = conn.execute(sa.text("SELECT id FROM models")).scalar_one()
        now = datetime.now(UTC)
        conn.execute(
            sa.insert(model_aliases),
            [
                {
                    "model_id": mid,
                    "alias": "production",
                    "version_id": ids[2],
                    "updated_at": now,
                    "updated_by": "alice",
                },
                {
                    "model_id": mid,
                    "alias": "staging",
                    "version_id": ids[2],
                    "updated_at": now,
                    "updated_by": "alice",
                },
            ],
        )
    version = client.get_version("credit@production")
    assert version.version == 2
    assert version.aliases == ("production", "staging")
    assert client.get_version("credit").version == 3
    assert client.get_model("credit").aliases == {"production": 2, "staging": 2}
    assert [v.aliases for v in client.list_versions("credit")] == [
        (),
        ("production", "staging"),
        (),
    ]
