"""``import govml`` and the command line load heavy libraries only when a command needs them.

Each case runs in a fresh interpreter and lists which heavy modules it left in
``sys.modules``; nothing is timed (benchmarks/bench_cli.py measures the seconds).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import govml

SCIENTIFIC = ("scipy", "sklearn", "pandas", "shap", "matplotlib")
"""Never loaded to open a store and read from it."""
HEAVY = (*SCIENTIFIC, "sqlalchemy", "alembic", "numpy", "pyarrow")
"""Never loaded to start: ``import govml`` and every ``--help``."""

PROBE = """
import contextlib, io, json, sys
{code}
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def _loaded(code: str, heavy: tuple[str, ...], **env: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(code=code, heavy=heavy)],
        capture_output=True,
        text=True,
        check=False,
        env={**_environment(), **env},
    )
    assert done.returncode == 0, done.stderr
    found: list[str] = json.loads(done.stdout.splitlines()[-1])
    return found


def _environment() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("GOVML_")}


def _cli(*args: str) -> str:
    return (
        "from govml.cli.main import invoke\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    code = invoke({list(args)!r})\n"
        "assert code == 0, code\n"
    )


def test_import_govml_loads_nothing_heavy() -> None:
    assert _loaded("import govml", HEAVY) == []


def test_public_names_import_on_first_use() -> None:
    code = "import govml\nassert govml.connect and govml.Client and govml.RiskTier.HIGH"
    assert _loaded(code, ("govml.client", "govml.domain.records")) == [
        "govml.client",
        "govml.domain.records",
    ]
    assert {"Client", "connect", "GovmlClient", "ModelVersion"} <= set(dir(govml))


def test_reading_the_settings_loads_nothing_heavy() -> None:
    code = "from govml.settings import load_settings\nload_settings()"
    assert _loaded(code, (*HEAVY, "govml.flavors")) == []


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["models", "--help"],
        ["versions", "--help"],
        ["versions", "show", "--help"],
        ["users", "roles", "--help"],
        ["audit", "verify", "--help"],
    ],
    ids=" ".join,
)
def test_help_loads_nothing_heavy(args: list[str]) -> None:
    assert _loaded(_cli(*args), HEAVY) == []


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store holding one registered version."""
    home = tmp_path_factory.mktemp("startup") / "home"
    frame = pd.DataFrame({"a": np.arange(20.0), "y": np.arange(20) % 2})
    model = LogisticRegression().fit(frame[["a"]], frame["y"])
    with govml.connect(home, user="alice", create=True) as client:
        client.create_model("credit", risk_tier="high")
        client.register_version("credit", model=model, train_data=frame, target="y")
    return home


@pytest.mark.parametrize(
    "args",
    [
        ["versions", "show", "credit@1", "--json"],
        ["models", "list"],
        ["models", "card", "credit"],
        ["users", "list"],
        ["serving", "show", "credit"],
        ["audit", "key"],
        ["db", "status"],
    ],
    ids=" ".join,
)
def test_reading_a_store_loads_no_scientific_library(store: Path, args: list[str]) -> None:
    assert _loaded(_cli(*args), SCIENTIFIC, GOVML_HOME=str(store), GOVML_USER="alice") == []
