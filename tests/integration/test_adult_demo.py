"""The Adult loader handles the real files' quirks, and the demo runs end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

import govml
from govml.demo import adult, run
from govml.errors import InputError


@pytest.mark.datasets
def test_adult_quirks_are_handled(shared_datasets: Path) -> None:
    train = adult.load_adult("train", shared_datasets)
    test = adult.load_adult("test", shared_datasets)
    assert (len(train), len(test)) == (32_561, 16_281)
    assert list(train.columns) == adult.COLUMNS
    # Published class balance: 7,841 of 32,561 and 3,846 of 16,281 earn more than 50K.
    assert int(train["income"].sum()) == 7_841
    assert int(test["income"].sum()) == 3_846
    for frame in (train, test):
        for column in adult.CATEGORICAL:
            values = frame[column].dropna()
            assert not values.str.startswith(" ").any(), column
            assert "?" not in set(values), column
    # Missing values ("?") become nulls: 1,836 workclass values in the training file.
    assert int(train["workclass"].isna().sum()) == 1_836


def test_missing_adult_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="Adult data not found"):
        adult.load_adult("train", tmp_path)
    with pytest.raises(InputError, match="unknown Adult split"):
        adult.load_adult("validation", tmp_path)


@pytest.mark.datasets
@pytest.mark.slow
@pytest.mark.timeout(900)  # two demo runs, each serving, evaluating three versions, monitoring
def test_demo_registers_and_verifies(
    shared_datasets: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GOVML_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GOVML_DATASETS", str(shared_datasets))
    monkeypatch.setenv("GOVML_USER", "demo")
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    full = run.build_pipeline
    monkeypatch.setattr(run, "build_pipeline", lambda seed=0: full(seed, max_iter=30))
    assert run.main() == 0
    shown = capsys.readouterr().out
    assert "referred to a person (score in the referral band)" in shown
    # The demo ends by saying how to open its store in the web UI and sign in.
    assert "web UI: `.venv/bin/govml server`, then open http://127.0.0.1:8080/ and sign in" in shown
    assert "human oversight: " in shown and "sex=Female" in shown  # referral rate by group
    # A referred applicant the model would refuse, decided by the risk officer: the notice.
    notice = (tmp_path / "cwd" / ".govml" / "reports" / "decision-notice.md").read_text()
    assert notice.startswith("# Notice of adverse action")
    assert "A person (rita) reviewed this case" in notice
    assert "## Principal reasons\n\n1. " in notice and "Review ledger entries: " in notice
    with govml.connect(tmp_path / "home") as client:
        version = client.get_version("adult-income@1")
        assert [(d.role, d.row_count) for d in version.datasets] == [
            ("train", 32_561),
            ("validation", 16_281),
        ]
        assert version.metrics["roc_auc"] > 0.9
        assert version.registrant == "demo"
        inputs = [c["name"] for c in version.signature["inputs"]]
        assert "income" not in inputs and "age" in inputs
        result = client.verify_ledger()
        # Version 3 is the monitoring step's retrained model (same data, so still 2 datasets).
        assert (result.models, result.versions, result.datasets) == (1, 3, 2)
        assert result.evaluations == 3
        # The policy gate: version 1 fails on fairness only; the mitigated version 2 passes.
        _third, second, first = client.list_evaluations(model="adult-income")
        assert first.subject == "adult-income@1" and first.status == "fail"
        assert {c["category"] for c in first.failed()} == {"fairness"}
        assert first.check("demographic_parity_ratio:sex")["value"] < 0.5
        assert second.subject == "adult-income@2" and second.status == "pass", second.failed()
        assert second.check("demographic_parity_ratio:sex")["value"] > 0.8
        assert second.check("demographic_parity_ratio:race")["value"] > 0.8
        assert client.get_version("adult-income@2").params["mitigation"] == "ThresholdOptimizer"
        # Version 1 was refused; version 2 went to staging, then production with two approvals.
        # Monitoring rolled production back from version 3 to 2, once.
        assert client.get_model("adult-income").aliases == {"production": 2, "staging": 3}
        change, _promoted, rolled = client.alias_history("adult-income", alias="production")
        assert change.approvals == ("rita", "sam") and change.actor == "dana"
        assert (rolled.action, rolled.version, rolled.previous) == ("rollback", 2, 3)
        assert rolled.reason.startswith("monitoring run 1 ")
        assert (result.approvals, result.alias_changes) == (4, 5)
        actions = [e.action for e in client.audit_log(model="adult-income")]
        assert actions.count("monitoring.rollback") == 1 and "monitoring.alert" in actions
        assert "referral.opened" in actions and actions.count("referral.decided") == 1
        assert "log.files_closed" in actions
    for ref in ("adult-income-1", "adult-income-2"):
        report = tmp_path / "cwd" / ".govml" / "reports" / f"{ref}.html"
        assert "data:image/png;base64" in report.read_text(encoding="utf-8")
    for name in ("model-card-adult-income-2", "annex-iv-adult-income-2", "audit-adult-income"):
        document = tmp_path / "cwd" / ".govml" / "reports" / f"{name}.html"
        assert "<html" in document.read_text(encoding="utf-8")
    assert run.main() == 0  # a second run registers versions 4, 5 and 6 of the same model
    with govml.connect(tmp_path / "home") as client:
        assert [v.version for v in client.list_versions("adult-income")] == [1, 2, 3, 4, 5, 6]
        assert client.get_model("adult-income").aliases == {"production": 5, "staging": 6}
