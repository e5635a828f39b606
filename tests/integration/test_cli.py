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


# -- conventions: version, global options, exit codes, help, hints, printing ----------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from govml import __version__

    assert run(capsys, "--version") == (0, f"govml {__version__}\n", "")


def test_global_options_may_follow_the_command(
    capsys: pytest.CaptureFixture[str], initialised: str, tmp_path: Path
) -> None:
    run(capsys, "--store", initialised, "models", "create", "credit", "-t", "high")
    code, out, _ = run(capsys, "models", "list", "--json", "--store", initialised)
    assert code == 0 and [m["name"] for m in json.loads(out)] == ["credit"]
    code, _, err = run(capsys, "--store", str(tmp_path / "nowhere"), "models", "list")
    assert code == 2 and "nowhere" in err
    code, out, _ = run(  # after the command, it wins over the one given before
        capsys, "--store", str(tmp_path / "nowhere"), "models", "list", "--store", initialised
    )
    assert code == 0 and "credit" in out
    code, _, err = run(capsys, "models", "show", "nope", "--store", initialised, "--debug")
    assert code == 2 and "Traceback" in err and "model 'nope' does not exist" in err


def test_the_exit_codes_are_in_the_help_and_the_readme(capsys: pytest.CaptureFixture[str]) -> None:
    from govml.errors import EXIT_CODES

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    code, out, _ = run(capsys, "--help")
    assert code == 0
    help_text = " ".join(out.split())
    for number, meaning in EXIT_CODES:
        assert f"{number} {meaning}" in help_text
        assert f"| `{number}` | {meaning} |" in readme


def test_every_help_shows_readable_metavars(capsys: pytest.CaptureFixture[str]) -> None:
    import typer

    from govml.cli.main import app

    root = typer.main.get_command(app)
    seen = 0
    for path in _command_paths(root, []):
        code = invoke([*path, "--help"])
        out, _ = capsys.readouterr()
        assert code == 0, path
        usage = next(line for line in out.splitlines() if line.startswith("Usage:"))
        # The term of each argument and option: what comes before its help.
        terms = [line.split("  ")[0] for line in out.splitlines() if line.startswith("  -")]
        terms += [line.split()[0] for line in _section(out, "Arguments:")]
        for text in (usage, *terms):
            assert "{" not in text and "<" not in text, (path, text)
        seen += 1
    assert seen >= 50


def _section(text: str, title: str) -> list[str]:
    """Return the entries of a help section (its lines that start a term)."""
    lines = text.split(title, 1)[1].splitlines()[1:] if title in text else []
    body = [line for line in lines[: next((i for i, x in enumerate(lines) if not x), None)]]
    return [line.strip() for line in body if line.startswith("  ") and not line.startswith("   ")]


def _command_paths(group: object, path: list[str]) -> list[list[str]]:
    paths = [path]
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        if hasattr(command, "commands"):
            paths.extend(_command_paths(command, [*path, name]))
        else:
            paths.append([*path, name])
    return paths


def test_a_server_on_a_busy_port_fails_before_saying_it_serves(
    capsys: pytest.CaptureFixture[str], initialised: str
) -> None:
    import socket

    run(capsys, "--store", initialised, "models", "create", "credit", "-t", "high")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for args in (["server"], ["serve", "credit"]):
            code, out, err = run(capsys, "--store", initialised, *args, "--port", str(port))
            assert code == 4, err
            assert err == (
                f"error: port {port} on 127.0.0.1 is in use "
                "(stop what listens there, or give another --port)\n"
            )
            assert "serving" not in out


def test_users_roles_lists_and_set_replaces(
    capsys: pytest.CaptureFixture[str], initialised: str
) -> None:
    store = ["--store", initialised]
    assert run(capsys, *store, "users", "add", "carol", "--role", "viewer")[0] == 0
    code, out, _ = run(capsys, *store, "users", "roles", "carol", "--json")
    assert code == 0 and json.loads(out)["roles"] == ["viewer"]
    code, out, _ = run(capsys, *store, "users", "roles", "carol")
    assert code == 0 and "viewer granted" in out
    code, out, _ = run(capsys, *store, "users", "roles", "carol", "--set", "viewer,approver")
    assert code == 0 and "carol: viewer, approver" in out
    code, out, err = run(capsys, *store, "users", "roles", "carol", "--role", "contributor")
    assert code == 0 and "carol: contributor" in out and "deprecated; use `--set ROLE`" in err
    code, _, err = run(capsys, *store, "users", "roles", "karol")
    assert code == 2 and "user 'karol' does not exist (did you mean 'carol'?)" in err


def test_stale_evaluation_status_prints_a_command_that_runs(
    capsys: pytest.CaptureFixture[str],
    initialised: str,
    artifact: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    path, data = artifact
    store = ["--store", initialised]
    policy = (
        "apiVersion: govml/v1\nkind: Policy\nmetadata: {{name: gate}}\ntiers: [high]\n"
        "performance:\n  - {{metric: accuracy, min: {minimum}}}\n"
    )
    for minimum in ("0.5", "0.6"):
        (tmp_path / f"gate-{minimum}.yaml").write_text(policy.format(minimum=minimum))
    assert run(capsys, *store, "policy", "apply", str(tmp_path / "gate-0.5.yaml"))[0] == 0
    run(capsys, *store, "models", "create", "credit", "-t", "high")
    run(capsys, *store, "versions", "register", "credit", "--artifact", str(path))
    frame = pd.read_parquet(data)
    frame.to_csv(tmp_path / "eval set.csv", index=False)
    code, _, err = run(
        capsys, *store, "evaluate", "credit@1", "--data", str(tmp_path / "eval set.csv"),
        "--target", "y",
    )  # fmt: skip
    assert code == 0, err
    assert run(capsys, *store, "policy", "apply", str(tmp_path / "gate-0.6.yaml"))[0] == 0
    code, out, _ = run(capsys, *store, "versions", "status", "credit@1", "--to", "staging")
    assert code == 1 and "is stale" in out
    hint = " ".join(out.split()).split("evaluate it again with `", 1)[1].split("`", 1)[0]
    import shlex

    assert shlex.split(hint)[1:] == [
        "evaluate", "credit@1", "--data", str(tmp_path / "eval set.csv"), "--target", "y",
    ]  # fmt: skip
    code, _, err = run(capsys, *store, *shlex.split(hint)[1:])
    assert code == 0, err


def test_user_text_is_printed_as_written(
    capsys: pytest.CaptureFixture[str], initialised: str, tmp_path: Path
) -> None:
    hostile = "[bold]x[/bold] :telephone:"
    frame = pd.DataFrame({hostile: np.arange(40.0), "y": np.arange(40) % 2})
    model = LogisticRegression().fit(frame[[hostile]], frame["y"])
    path = tmp_path / "m.skops"
    path.write_bytes(skops.io.dumps(model))
    frame.to_parquet(tmp_path / "train.parquet")
    store = ["--store", initialised]
    run(capsys, *store, "models", "create", "credit", "-t", "high", "--description", hostile)
    code, _, err = run(
        capsys, *store, "versions", "register", "credit", "--artifact", str(path),
        "--train-data", str(tmp_path / "train.parquet"), "--target", "y",
        "--description", hostile,
    )  # fmt: skip
    assert code == 0, err
    assert run(capsys, *store, "models", "tag", "credit", f"note={hostile}")[0] == 0
    for args in (["versions", "show", "credit@1"], ["models", "show", "credit"]):
        code, out, _ = run(capsys, *store, *args)
        assert code == 0, args
        unwrapped = "".join(out.split("│"))
        assert out.count(hostile) + unwrapped.count(hostile) >= 2, (args, out)
        assert "📞" not in out
