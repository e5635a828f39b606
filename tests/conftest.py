"""Shared fixtures: a fresh store per test on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# One OpenMP and BLAS thread per process. `make test` runs two pytest workers on two cores,
# next to servers and Spark; scikit-learn's OpenMP loops (HistGradientBoosting) and
# OpenBLAS spin-wait for a second thread that has no core free, and ran up to ten times
# slower than on one thread. Set before numpy, scipy or scikit-learn is first imported (in
# every worker, and inherited by the servers and CLI processes the tests start); a value
# already in the environment is kept.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest
import sqlalchemy as sa
from hypothesis import settings

import govml
from govml.demo.adult import datasets_dir
from govml.store.db import Store
from tests.pg_pool import PgPool

PG_ADMIN_URL = os.environ.get(
    "GOVML_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", "postgres"]

# No test asserts wall time: hypothesis's per-example deadline would, on a busy machine.
settings.register_profile("govml", deadline=None)
settings.load_profile("govml")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``postgres`` every test that needs the PostgreSQL server.

    Those are the tests parametrised with the ``postgres`` backend (``db_url``, and the
    module fixtures built on `BACKENDS`) and those using the PostgreSQL template, so that
    ``pytest -m "not postgres"`` runs the suite without the server.
    """
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = {} if callspec is None else callspec.params
        on_postgres = any(isinstance(v, str) and v == "postgres" for v in params.values())
        if on_postgres or "pg_template" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


def _pg_admin() -> sa.Engine:
    return sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


def _pg_available() -> str | None:
    try:
        with _pg_admin().connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any failure to connect means "not available"
        return f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {type(exc).__name__}"
    return None


@pytest.fixture(scope="session")
def pg_template(worker_id: str) -> Iterator[str]:
    """A migrated template database, copied (CREATE DATABASE ... TEMPLATE) into `pg_pool`."""
    problem = _pg_available()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    name = f"govml_tmpl_{worker_id}_{os.getpid()}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    store = Store(_pg_url(name))
    store.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _pg_url(database: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database


@pytest.fixture(scope="session")
def pg_pool(pg_template: str) -> Iterator[PgPool]:
    """This pytest process's fresh copies of the template, reset and reused between tests."""
    admin = _pg_admin()
    pool = PgPool(admin, pg_template, _pg_url)
    yield pool
    pool.close()
    admin.dispose()


@pytest.fixture
def pg_url(pg_pool: PgPool) -> Iterator[str]:
    """URL of a fresh, migrated PostgreSQL database for one test (see `tests.pg_pool`)."""
    name = pg_pool.take()
    yield _pg_url(name)
    pg_pool.give_back(name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, copied for each test (as the PostgreSQL template is)."""
    path = tmp_path_factory.mktemp("template") / "govml.db"
    Store(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh store's database, once on SQLite and once on PostgreSQL.

    The store exists, with its schema and an empty ledger: commands refuse to create one
    (only `govml init` and ``govml.connect(..., create=True)`` do).
    """
    if request.param == "sqlite":
        path = tmp_path / "home" / "govml.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A govml home folder."""
    path = tmp_path / "home"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def client(db_url: str, home: Path) -> Iterator[govml.Client]:
    """A client on a fresh store, acting as 'alice'."""
    opened = govml.connect(home, database_url=db_url, user="alice")
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The shared datasets folder; tests that need it skip when it is absent."""
    folder = datasets_dir()
    if not (folder / "adult" / "adult-train.csv").is_file():
        pytest.skip(f"shared datasets not found at {folder} (set GOVML_DATASETS)")
    return folder


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local Spark session (local[2]) for every Spark test a pytest process runs.

    Starting Spark costs seconds; the Spark test files share this session instead of each
    starting and stopping its own. Those files skip, saying why, where pyspark or Java is
    missing, before they ask for it.
    """
    from govml.engines.spark_engine import local_session

    # The tests' Spark jobs are short: the JVM's first JIT tier and one GC thread cost the
    # two cores less than compiling hot code a second time (Spark tests 63 -> 56 s, the JVM's
    # CPU 84 -> 51 s).
    session = local_session(
        "local[2]",
        **{"spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"},
    )
    yield session
    session.stop()


def populate(client: govml.Client) -> None:
    """The first user, three models, two versions (one with training data), a tag."""
    import numpy as np
    import pandas as pd
    from sklearn.tree import DecisionTreeClassifier

    frame = pd.DataFrame({"x": np.arange(40.0), "y": np.arange(40) % 2})
    model = DecisionTreeClassifier(random_state=0).fit(frame[["x"]], frame["y"])
    client.create_model("credit", risk_tier="high", tags={"team": "risk"})
    client.create_model("churn", risk_tier="minimal")
    client.register_version("credit", model=model, train_data=frame, target="y")
    client.set_tag("credit", "stage", "pilot")
    client.register_version("credit", model=model)
    client.create_model("fraud", risk_tier="limited")
