"""schemathesis against the OpenAPI spec: generated requests never get a 500 (bounded run).

The server runs through real uvicorn on SQLite and on PostgreSQL with a populated store;
requests carry an admin's token, so they reach the services (a random token would stop at the
401).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok
from sklearn.linear_model import LogisticRegression
from tests.conftest import BACKENDS, PG_ADMIN_URL

import govml
from govml.server import create_app
from govml.server.background import serving
from govml.server.guard import UPLOAD_PERMISSIONS
from govml.settings import load_settings

POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: gate}
tiers: [high]
performance:
  - {metric: accuracy, min: 0.6}
"""


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    home = tmp_path_factory.mktemp("schema") / "home"
    url = f"sqlite:///{home / 'govml.db'}"
    pool, name = None, ""
    if request.param == "postgres":
        pool = request.getfixturevalue("pg_pool")
        name = pool.take()
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with govml.connect(home, database_url=url, user="admin", create=True) as local:
        local.init()
        policy = home / "gate.yaml"
        policy.write_text(POLICY, encoding="utf-8")
        local.apply_policy(policy)
        rng = np.random.default_rng(0)
        frame = pd.DataFrame({"x": rng.normal(size=100)})
        frame["y"] = (frame["x"] > 0).astype("int64")
        local.create_model("credit", risk_tier="high")
        model = LogisticRegression().fit(frame[["x"]], frame["y"])
        local.register_version("credit", model=model, train_data=frame, target="y")
        token = local.issue_token("admin").token
    app = create_app(load_settings(home=home, database_url=url), max_upload_bytes=1 << 20)
    with serving(app) as base:
        yield base, token
    if pool is not None:
        pool.give_back(name)


def _failures(url: str, token: str, *, examples: int, mode: GenerationMode) -> list[str]:
    api = schemathesis.openapi.from_url(f"{url}/api/v1/openapi.json")
    found: list[str] = []
    headers = {"Authorization": f"Bearer {token}"}
    for result in api.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
        )
        def check(case: Any) -> None:
            response = case.call(headers=headers)
            where = f"{case.method} {case.formatted_path} -> {response.status_code}: "
            if response.status_code >= 500 or (
                response.status_code >= 400 and "error" not in response.json()
            ):
                found.append(where + response.text[:300])
            elif response.status_code < 300:
                try:  # a success must have the shape the spec promises
                    case.operation.validate_response(response)
                except Exception as exc:
                    found.append(where + str(exc)[:300])

        try:
            check()
        except Unsatisfiable:  # nothing to get wrong, e.g. an operation without parameters
            continue
    return found


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_generated_request_gets_a_server_error(
    live: tuple[str, str], mode: GenerationMode
) -> None:
    url, token = live
    examples = 25 if mode is GenerationMode.POSITIVE else 15
    failures = _failures(url, token, examples=examples, mode=mode)
    assert not failures, "\n".join(failures)


def test_the_spec_describes_every_route(tmp_path: Path) -> None:
    govml.connect(tmp_path / "home", create=True).close()  # the server opens a store only
    app = create_app(load_settings(home=tmp_path / "home"))
    spec = app.openapi()
    operations = [op for path in spec["paths"].values() for op in path]
    assert len(operations) >= 40
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            if path != "/health":
                assert operation.get("security") == [{"bearer": []}], (method, path)
                assert "401" in operation["responses"], (method, path)


def test_the_upload_routes_the_gatekeeper_checks_are_in_the_spec(tmp_path: Path) -> None:
    # create_app checks them against the routers' routes, without building the spec.
    govml.connect(tmp_path / "home", create=True).close()
    spec = create_app(load_settings(home=tmp_path / "home")).openapi()
    present = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    assert UPLOAD_PERMISSIONS and set(UPLOAD_PERMISSIONS) <= present
