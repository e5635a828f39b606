"""Only `govml init` (SDK: ``connect(..., create=True)``) creates a store, always with its key.

Every other command, and ``govml.connect()``, refuses to run where there is no store: exit 2
naming where govml looked and `govml init`, and nothing is created (not ./.govml, not a
SQLite file, not a schema in an empty PostgreSQL database).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.conftest import _pg_admin, _pg_url

import govml
from govml.cli.main import invoke
from govml.errors import MissingStoreError

READS_AND_WRITES = [
    ["models", "list"],
    ["versions", "show", "credit@1", "--json"],
    ["audit", "verify"],
    ["audit", "log", "--json"],
    ["db", "status"],
    ["db", "upgrade"],
    ["users", "list"],
    ["models", "create", "credit", "-t", "high"],
    ["serve", "credit", "--port", "1"],
    ["server", "--port", "1"],
]


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = invoke(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with no store, and no GOVML_* variable pointing at one."""
    for name in ("GOVML_HOME", "GOVML_DATABASE_URL", "GOVML_ARTIFACTS", "GOVML_SERVER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOVML_USER", "alice")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("args", READS_AND_WRITES, ids=" ".join)
def test_a_command_outside_a_store_fails_and_creates_nothing(
    nowhere: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    code, out, err = _run(capsys, *args)
    assert code == 2, err
    where = nowhere / ".govml"
    assert err == (
        f"error: no govml store at {where} (the default: ./.govml; set GOVML_HOME or give "
        "--store); create one with `govml init` (from Python: govml.connect(..., create=True))\n"
    )
    assert "serving" not in out
    assert list(nowhere.iterdir()) == []


def test_the_message_names_the_variable_or_option_that_chose_the_place(
    nowhere: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOVML_HOME", str(nowhere / "env-home"))
    code, _, err = _run(capsys, "models", "list")
    assert code == 2 and f"no govml store at {nowhere / 'env-home'} (GOVML_HOME);" in err
    code, _, err = _run(capsys, "--store", str(nowhere / "given"), "models", "list")
    assert code == 2 and f"no govml store at {nowhere / 'given'}; create one with" in err
    url = f"sqlite:///{nowhere / 'db' / 'govml.db'}"
    monkeypatch.setenv("GOVML_DATABASE_URL", url)
    code, _, err = _run(capsys, "audit", "verify")
    assert code == 2 and f"no govml store at {url} (GOVML_DATABASE_URL);" in err
    assert list(nowhere.iterdir()) == []


def test_init_creates_the_store_with_its_key_then_commands_work(
    nowhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "init", "--json")
    assert code == 0, err
    status = json.loads(out)
    assert status["created"] and status["key_created"]
    assert Path(status["signing_key"]).is_file()
    code, out, _ = _run(capsys, "audit", "log", "--json")
    assert code == 0
    assert [e["action"] for e in json.loads(out)][:2] == ["store.initialized", "ledger.key_added"]
    assert _run(capsys, "models", "list", "--json")[:2] == (0, "[]\n")


def test_init_gives_a_store_made_without_it_its_key(
    db_url: str, home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOVML_HOME", str(home))
    monkeypatch.setenv("GOVML_USER", "alice")
    code, out, err = _run(capsys, "--store", db_url, "init", "--json")
    assert code == 0, err
    assert json.loads(out)["key_created"] is True


def test_the_sdk_refuses_a_missing_store_unless_asked_to_create_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with pytest.raises(MissingStoreError, match=f"no govml store at {home}; create one") as info:
        govml.connect(home, user="alice")
    assert "create=True" in info.value.diagnostics()
    assert not home.exists()
    with govml.connect(home, user="alice", create=True) as client:
        assert client.ledger_key().recorded_in_entry == 1
        client.create_model("credit", risk_tier="high")
    with govml.connect(home, user="alice", create=True) as again:  # opened as it is
        actions = [entry.action for entry in again.audit_log()]
    assert actions == ["store.initialized", "ledger.key_added", "user.added", "model.created"]
    with govml.connect(home) as opened:
        assert [m.name for m in opened.list_models()] == ["credit"]


@pytest.fixture
def empty_pg_database(pg_template: str) -> Iterator[str]:
    """A PostgreSQL database with nothing in it."""
    name = f"govml_empty_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield name
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_an_empty_database_is_no_store_and_its_password_is_never_shown(
    empty_pg_database: str,
    nowhere: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = _pg_url(empty_pg_database).replace("postgres@", "postgres:s3cret@")
    masked = url.replace("s3cret", "***")
    monkeypatch.setenv("GOVML_HOME", str(nowhere / "home"))
    for args in (["models", "list"], ["db", "upgrade"], ["db", "status", "--json"]):
        code, out, err = _run(capsys, "--store", url, *args)
        assert code == 2, err
        assert f"no govml store at {masked}; create one with `govml init`" in err
        assert "s3cret" not in out + err
    engine = sa.create_engine(_pg_url(empty_pg_database))
    try:
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == []
    finally:
        engine.dispose()
    code, out, err = _run(capsys, "--store", url, "init", "--json")
    assert code == 0, err
    assert json.loads(out)["created"] is True
    assert _run(capsys, "--store", url, "models", "list", "--json")[:2] == (0, "[]\n")
