"""A prediction log that respects the law, through a real `govml serve` on loopback:
pseudonymised subject keys at write time, erasure of one data subject, purge past retention,
each ledgered by count and digest only."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
from tests.integration.test_lifecycle import POLICY, Team
from tests.integration.test_serving_gateway import (
    MODEL,
    Served,
    build_store,
    record,
    serve,
    wait_for,
)

import govml
from govml.cli.main import invoke
from govml.serving.privacy import ENV_KEY

KEY = "a-test-key-that-is-long-enough-0123"
RETENTION = """
retention:
  days: 30
  subject_key: [customer]
  pseudonymise: [customer]
"""
CUSTOMERS = ["C-1", "C-2", "C-3"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    tmp = tmp_path_factory.mktemp("retention")
    home = tmp / "home"
    home.mkdir()
    url = f"sqlite:///{home / 'govml.db'}"
    govml.connect(home, database_url=url, user="alice", create=True).close()
    team = build_store(url, home, tmp)
    policy = tmp / "retention.yaml"
    policy.write_text(POLICY.format(accuracy_min=0.0) + RETENTION, encoding="utf-8")
    team["alice"].apply_policy(policy, replace=True)
    yield team
    team.close()


@pytest.fixture(scope="module")
def gateway(store: Team) -> Iterator[Served]:
    os.environ[ENV_KEY] = KEY
    try:
        with serve(
            store.db_url, store.home, store.tmp, "--poll-seconds", "0.2", "--flush-seconds", "0.1"
        ) as served:
            yield served
    finally:
        os.environ.pop(ENV_KEY, None)


def _files(root: Path) -> list[Path]:
    return sorted(
        p for p in root.glob(f"model={MODEL}/*/date=*/*.parquet") if not p.name.startswith(".")
    )


def _rows(root: Path) -> list[dict[str, object]]:
    return [
        row for f in _files(root) if "version=" in str(f) for row in pq.read_table(f).to_pylist()
    ]


def _cli(monkeypatch: pytest.MonkeyPatch, store: Team, user: str, *args: str) -> int:
    monkeypatch.setenv("GOVML_HOME", str(store.home))
    monkeypatch.setenv("GOVML_DATABASE_URL", store.db_url)
    monkeypatch.setenv("GOVML_USER", user)
    monkeypatch.setenv(ENV_KEY, KEY)
    return invoke(list(args))


def test_subjects_are_pseudonymised_erased_and_purged(
    store: Team,
    gateway: Served,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with httpx.Client(base_url=gateway.url, headers=gateway.headers, timeout=30) as http:
        answers = {}
        for i, customer in enumerate(CUSTOMERS * 2):
            response = http.post("/predict", json={**record(i), "customer": customer})
            assert response.status_code == 200, response.text
            answers.setdefault(customer, []).append(response.json()["request_id"])
        labels = [{"request_id": rid, "label": 1} for rid in answers["C-2"] + answers["C-1"]]
        assert http.post("/feedback", json=labels).status_code == 200
        bad = http.post("/predict", json={**record(0), "customer": {"nested": "object"}})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "customer"
    mine = {rid for ids in answers.values() for rid in ids}
    wait_for(lambda: len([r for r in _rows(gateway.log_dir) if r["request_id"] in mine]) == 6)
    before = len(_rows(gateway.log_dir))
    wait_for(lambda: any("feedback" in str(f) for f in _files(gateway.log_dir)))
    # Nothing in any file holds a customer number in clear.
    for path in _files(gateway.log_dir):
        data = path.read_bytes()
        assert all(customer.encode() not in data for customer in CUSTOMERS), path
    subjects = {
        json.loads(str(row["subject"]))["customer"]
        for row in _rows(gateway.log_dir)
        if row["request_id"] in mine
    }
    assert len(subjects) == 3 and all(s.startswith("hmac-sha256:") for s in subjects)

    assert (
        _cli(
            monkeypatch,
            store,
            "frank",
            "log",
            "erase",
            MODEL,
            "--log-dir",
            str(gateway.log_dir),
            "--subject-key",
            "customer=C-2",
            "--reason",
            "request 17",
        )
        != 0
    )  # deployer: no
    capsys.readouterr()
    code = _cli(
        monkeypatch,
        store,
        "erin",
        "log",
        "erase",
        MODEL,
        "--log-dir",
        str(gateway.log_dir),
        "--subject-key",
        "customer=C-2",
        "--reason",
        "GDPR Art. 17 request 17",
        "--json",
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    removal = json.loads(out)
    assert removal["rows"] == 2 + 2  # two predictions and their two labels
    remaining = _rows(gateway.log_dir)
    assert len(remaining) == before - 2
    assert not set(answers["C-2"]) & {row["request_id"] for row in remaining}
    feedback = [
        row
        for f in _files(gateway.log_dir)
        if "feedback" in str(f)
        for row in pq.read_table(f).to_pylist()
    ]
    assert {row["request_id"] for row in feedback} == set(answers["C-1"])
    (entry,) = [e for e in store["vic"].audit_log(model=MODEL) if e.action == "log.erased"]
    text = json.dumps(entry.payload)
    assert "C-2" not in text and all(
        item["old"].startswith("sha256:") for item in entry.payload["files"]
    )
    store["alice"].verify_ledger()

    # An old partition goes at purge; today's stay.
    old = gateway.log_dir / f"model={MODEL}" / "version=1" / "date=2001-01-01"
    old.mkdir(parents=True)
    shutil.copy(_files(gateway.log_dir)[0], old / "part-old.parquet")
    code = _cli(
        monkeypatch,
        store,
        "erin",
        "log",
        "purge",
        MODEL,
        "--log-dir",
        str(gateway.log_dir),
        "--json",
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    purged = json.loads(out)
    assert [item["path"] for item in purged["files"]] == [
        f"model={MODEL}/version=1/date=2001-01-01/part-old.parquet"
    ]
    assert not old.exists() and len(_rows(gateway.log_dir)) == before - 2
    actions = [e.action for e in store["vic"].audit_log(model=MODEL)]
    assert actions.count("log.purged") == 1


def _verify(
    monkeypatch: pytest.MonkeyPatch, store: Team, capsys: pytest.CaptureFixture[str], logs: Path
) -> tuple[int, dict[str, object]]:
    capsys.readouterr()
    code = _cli(monkeypatch, store, "vic", "audit", "verify", "--logs", str(logs), "--json")
    out, _ = capsys.readouterr()
    return code, json.loads(out)


def test_audit_verify_logs_names_a_changed_missing_or_extra_file(
    store: Team,
    gateway: Served,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    mine = set()
    with httpx.Client(base_url=gateway.url, headers=gateway.headers, timeout=30) as http:
        for i in range(3):
            response = http.post("/predict", json={**record(50 + i), "customer": "C-9"})
            assert response.status_code == 200
            mine.add(response.json()["request_id"])
    # The three rows are written first; only then is "clean" about them (a check that ran
    # before their file was written would pass and leave it unledgered for the next one).
    wait_for(lambda: mine <= {r["request_id"] for r in _rows(gateway.log_dir)}, timeout=30)

    def clean() -> bool:
        code, result = _verify(monkeypatch, store, capsys, gateway.log_dir)
        return code == 0 and result["logs"]["checked"] == len(_files(gateway.log_dir))  # type: ignore[index]

    wait_for(clean, timeout=30)  # every closed file is in the ledger, erased ones by new digest
    code, result = _verify(monkeypatch, store, capsys, gateway.log_dir)
    assert code == 0 and result["logs"]["checked"] == len(_files(gateway.log_dir))  # type: ignore[index]
    entries = [e for e in store["vic"].audit_log(model=MODEL) if e.action == "log.files_closed"]
    assert entries and all(
        f["sha256"].startswith("sha256:") for e in entries for f in e.payload["files"]
    )

    victim = [f for f in _files(gateway.log_dir) if "version=" in str(f)][-1]
    name = str(victim.relative_to(gateway.log_dir))
    original = victim.read_bytes()
    victim.write_bytes(original + b"\0")
    code, result = _verify(monkeypatch, store, capsys, gateway.log_dir)
    assert code == 1 and f"changed since the ledger named them: {name}" in str(result["error"])
    victim.unlink()
    code, result = _verify(monkeypatch, store, capsys, gateway.log_dir)
    assert code == 1 and f"named by the ledger but missing: {name}" in str(result["error"])
    stray = victim.with_name("part-stray.parquet")
    stray.write_bytes(original)
    code, result = _verify(monkeypatch, store, capsys, gateway.log_dir)
    assert (
        code == 1
        and "not named by the ledger: " in str(result["error"])
        and "part-stray" in str(result["error"])
    )
    stray.replace(victim)
    assert _verify(monkeypatch, store, capsys, gateway.log_dir)[0] == 0


def test_monitor_every_purges_past_retention_when_allowed(store: Team, gateway: Served) -> None:
    from govml.cli.monitor_cmds import _purge

    def events() -> list[Path]:
        return [f for f in _files(gateway.log_dir) if "events" in str(f)]

    def found() -> str:
        files = [str(f.relative_to(gateway.log_dir)) for f in _files(gateway.log_dir)]
        return f"no events file in the gateway's log; its files: {files}"

    # The gateway's start event is written by its log writer's first flush.
    wait_for(events, timeout=30, why=found)
    old = gateway.log_dir / f"model={MODEL}" / "events" / "date=2001-01-02"
    old.mkdir(parents=True)
    shutil.copy(events()[0], old / "part-old.parquet")
    _purge(store["bob"], MODEL, str(gateway.log_dir), quiet=True)  # a contributor may not
    assert old.exists()
    _purge(store["erin"], MODEL, str(gateway.log_dir), quiet=True)
    assert not old.exists()


def test_purge_and_erase_refuse_a_missing_folder_and_a_wrong_role_first(
    store: Team,
    gateway: Served,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    missing = store.tmp / "no-such-log"
    capsys.readouterr()
    # A mistyped folder is not a log with nothing past retention.
    assert _cli(monkeypatch, store, "erin", "log", "purge", MODEL, "--log-dir", str(missing)) == 2
    assert f"log_dir: {missing} is not a folder" in capsys.readouterr().err
    # Who may purge is checked even when nothing is past retention.
    log_dir = str(gateway.log_dir)
    assert _cli(monkeypatch, store, "bob", "log", "purge", MODEL, "--log-dir", log_dir) == 3
    assert "may not purge the prediction log" in capsys.readouterr().err
    assert (
        _cli(monkeypatch, store, "bob", "log", "purge", MODEL, "--log-dir", log_dir, "--dry-run")
        == 0
    )
    # ... and before the pseudonym key: a contributor without the key is told about the role.
    monkeypatch.delenv(ENV_KEY, raising=False)
    args = ["log", "erase", MODEL, "--log-dir", log_dir, "--subject-key", "customer=C-9"]
    monkeypatch.setenv("GOVML_HOME", str(store.home))
    monkeypatch.setenv("GOVML_DATABASE_URL", store.db_url)
    monkeypatch.setenv("GOVML_USER", "bob")
    capsys.readouterr()
    assert invoke([*args, "--reason", "Art. 17"]) == 3
    assert "may not erase rows of the prediction log" in capsys.readouterr().err
