"""The govml command line: exit codes, --json on reads, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.linear_model import LogisticRegression

from govml.cli.main import invoke


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Where a store will be: nothing is there yet."""
    monkeypatch.setenv("GOVML_USER", "alice")
    return str(tmp_path / "home")


@pytest.fixture
def initialised(store: str) -> str:
    """A store made by `govml init`."""
    assert invoke(["--store", store, "init", "--json"]) == 0
    return store


@pytest.fixture
def artifact(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    frame["y"] = (frame["a"] > 0).astype(int)
    model = LogisticRegression().fit(frame[["a", "b"]], frame["y"])
    path = tmp_path / "model.skops"
    path.write_bytes(skops.io.dumps(model))
    data = tmp_path / "train.parquet"
    frame.to_parquet(data)
    return path, data


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = invoke(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_full_flow_with_json(
    capsys: pytest.CaptureFixture[str], store: str, artifact: tuple[Path, Path]
) -> None:
    path, data = artifact
    code, out, _ = run(capsys, "--store", store, "init", "--json")
    assert code == 0 and json.loads(out)["created"] is True
    code, out, _ = run(capsys, "--store", store, "init", "--json")
    assert json.loads(out)["created"] is False

    code, _, _ = run(
        capsys,
        "--store",
        store,
        "models",
        "create",
        "credit",
        "-t",
        "high",
        "--intended-use",
        "pre-screening",
        "--tag",
        "team=risk",
    )
    assert code == 0
    code, out, _ = run(capsys, "--store", store, "models", "list", "--json")
    assert [m["name"] for m in json.loads(out)] == ["credit"]
    code, out, _ = run(capsys, "--store", store, "models", "show", "credit", "--json")
    assert json.loads(out)["tags"] == {"team": "risk"}

    code, out, err = run(
        capsys,
        "--store",
        store,
        "versions",
        "register",
        "credit",
        "--artifact",
        str(path),
        "--train-data",
        str(data),
        "--target",
        "y",
        "--param",
        "C=1.0",
        "--metric",
        "accuracy=0.9",
        "--json",
    )
    assert code == 0, err
    registered = json.loads(out)
    assert registered["ref"] == "credit@1"
    assert registered["params"] == {"C": 1.0, "target": "y"}

    code, out, _ = run(capsys, "--store", store, "versions", "list", "credit", "--json")
    assert [v["version"] for v in json.loads(out)] == [1]
    code, out, _ = run(capsys, "--store", store, "versions", "show", "credit@1", "--json")
    assert json.loads(out)["artifact_digest"] == registered["artifact_digest"]
    code, out, _ = run(capsys, "--store", store, "versions", "show", "credit@1")
    assert code == 0 and "credit@1" in out

    code, out, _ = run(capsys, "--store", store, "audit", "verify", "--json")
    assert code == 0 and json.loads(out)["ok"] is True
    code, out, _ = run(capsys, "--store", store, "audit", "log", "--model", "credit", "--json")
    assert [e["action"] for e in json.loads(out)] == ["model.created", "version.registered"]
    code, out, _ = run(capsys, "--store", store, "audit", "log", "--limit", "1", "--json")
    assert [e["action"] for e in json.loads(out)] == ["version.registered"]
    code, out, _ = run(capsys, "--store", store, "db", "status", "--json")
    assert json.loads(out)["versions"] == 1

    for args in (["models", "list"], ["audit", "log"], ["audit", "verify"], ["db", "status"]):
        code, out, _ = run(capsys, "--store", store, *args)
        assert code == 0 and out.strip()


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["models", "create", "m", "-t", "severe"], 2, "valid tiers are minimal"),
        (["models", "show", "nope"], 2, "model 'nope' does not exist"),
        (["versions", "show", "nope@1"], 2, "model 'nope' does not exist"),
        (["versions", "show", "bad name"], 2, "invalid model name"),
        (["versions", "register", "m", "--artifact", "/nonexistent.skops"], 2, "does not exist"),
        (["models", "tag", "m", "novalue"], 2, "expected KEY=VALUE"),
        (["models", "frobnicate"], 2, "No such command"),
    ],
)
def test_errors_are_one_line_with_exit_codes(
    capsys: pytest.CaptureFixture[str], initialised: str, args: list[str], code: int, needle: str
) -> None:
    store = initialised
    run(capsys, "--store", store, "models", "create", "m", "-t", "minimal")
    got, _, err = run(capsys, "--store", store, *args)
    assert got == code
    assert needle in err
    assert "Traceback" not in err


def test_an_internal_error_has_its_own_exit_code(
    capsys: pytest.CaptureFixture[str], initialised: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from govml.services.registry import RegistryService

    store = initialised

    def broken(_self: RegistryService) -> None:
        raise RuntimeError("boom")

    run(capsys, "--store", store, "models", "create", "m", "-t", "minimal")
    monkeypatch.setattr(RegistryService, "list_models", broken)
    code, _, err = run(capsys, "--store", store, "models", "list")
    assert code == 70
    assert "internal error: unexpected RuntimeError: boom" in err
    assert "--debug" in err and "Traceback" not in err


def test_tampered_ledger_exits_1_and_names_the_entry(
    capsys: pytest.CaptureFixture[str], initialised: str
) -> None:
    import sqlite3

    store = initialised
    run(capsys, "--store", store, "models", "create", "m", "-t", "minimal")
    run(capsys, "--store", store, "models", "create", "n", "-t", "minimal")
    _, out, _ = run(capsys, "--store", store, "audit", "log", "--model", "m", "--json")
    seq = json.loads(out)[0]["seq"]
    db = sqlite3.connect(Path(store) / "govml.db")
    db.execute("DROP TRIGGER ledger_entries_no_update")
    db.execute(
        "UPDATE ledger_entries SET entry = replace(entry, 'minimal', 'limited') WHERE seq = ?",
        (seq,),
    )
    db.commit()
    db.close()
    code, _, err = run(capsys, "--store", store, "audit", "verify")
    assert code == 1
    assert f"entry {seq}" in err
    code, out, _ = run(capsys, "--store", store, "audit", "verify", "--json")
    assert code == 1
    assert json.loads(out) == {"ok": False, "error": json.loads(out)["error"], "seq": seq}


def test_debug_shows_the_traceback(capsys: pytest.CaptureFixture[str], initialised: str) -> None:
    code, _, err = run(capsys, "--store", initialised, "--debug", "models", "show", "nope")
    assert code == 2
    assert "Traceback" in err


def test_console_script_runs(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("govml")
    for command in ("init", "db status"):
        done = subprocess.run(
            [str(exe), "--store", str(tmp_path / "h"), *command.split(), "--json"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["schema_revision"] == status["schema_head"]


def test_environment_settings_are_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GOVML_HOME", str(tmp_path / "envhome"))
    monkeypatch.setenv("GOVML_ARTIFACTS", str(tmp_path / "blobs"))
    code, out, _ = run(capsys, "init", "--json")
    assert code == 0
    status = json.loads(out)
    assert status["artifacts"] == str(tmp_path / "blobs")
    assert (tmp_path / "envhome" / "govml.db").is_file()
    monkeypatch.setenv("GOVML_DATABASE_URL", "mysql://x")
    code, _, err = run(capsys, "init")
    assert code == 2 and "GOVML_DATABASE_URL" in err
