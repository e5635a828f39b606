"""The inventory kept by the server is brought up to date at once, reading only what changed.

On SQLite and PostgreSQL: after each kind of change (a tag, a new model, a version registered
and evaluated, an approval, a promotion, a card edit, a person added, a policy applied), the
kept inventory equals one read from scratch, and the refresh read only the models the ledger's
new entries name (a policy reads everything again).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import govml
from govml.services.documents import DocumentService
from govml.store import inventory_records
from govml.ui import inventory, inventory_cache
from govml.ui.inventory import build_items
from govml.ui.inventory_cache import InventoryCache, changed_models
from tests.ui.ui_store import POLICY, POLICY_V2


@pytest.fixture
def team(client: govml.Client, tmp_path: Path) -> Iterator[govml.Client]:
    client.init()
    client.add_user("bob", roles=["contributor"])
    client.add_user("carol", roles=["approver"])
    client.add_user("frank", roles=["deployer"])
    policy = tmp_path / "gate.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    client.apply_policy(policy)
    yield client


def _frame(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(200, 2))
    y = (x[:, 0] - x[:, 1] > 0).astype("int64")
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "y": y})


def _fresh(client: govml.Client) -> list[dict[str, Any]]:
    with client.ctx.store.read() as conn:
        return [item.to_dict() for item in build_items(inventory_records.read_inventory(conn))]


def test_the_kept_inventory_follows_every_kind_of_change(
    team: govml.Client, db_url: str, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[set[int] | None] = []
    original = inventory_records.read_inventory

    def recording(conn: Any, model_ids: Collection[int] | None = None) -> Any:
        reads.append(None if model_ids is None else set(model_ids))
        return original(conn, model_ids)

    monkeypatch.setattr(inventory_cache, "read_inventory", recording)
    kept = InventoryCache(build_items)
    data = tmp_path / "eval.csv"
    _frame(1).to_csv(data, index=False)
    train = _frame(0)
    fitted = LogisticRegression().fit(train[["x1", "x2"]], train["y"])

    def as_user(name: str) -> govml.Client:
        return govml.connect(home, database_url=db_url, user=name)

    for name in ("alpha", "beta", "gamma"):
        team.create_model(name, risk_tier="high", owner=f"{name}@example.com")

    def register() -> None:
        with as_user("bob") as bob:
            version = bob.register_version("beta", model=fitted, train_data=train, target="y")
            bob.evaluate(version.ref, data=str(data), target="y", n_boot=10)

    def approve() -> None:
        with as_user("carol") as carol:
            carol.approve("beta@1", comment="fine")

    def promote() -> None:
        with as_user("frank") as frank:
            frank.promote("beta@1", to="staging")

    def policy() -> None:
        path = tmp_path / "gate-v2.yaml"
        path.write_text(POLICY_V2, encoding="utf-8")
        team.apply_policy(path)

    changes: list[tuple[str, Callable[[], Any], set[str] | None]] = [
        ("tag", lambda: team.set_tag("alpha", "domain", "credit"), {"alpha"}),
        ("new model", lambda: team.create_model("delta", risk_tier="minimal"), {"delta"}),
        ("version and evaluation", register, {"beta"}),
        ("approval", approve, {"beta"}),
        ("promotion", promote, {"beta"}),
        (
            "card",
            lambda: DocumentService(team.ctx).set_card_fields("gamma", {"limitations": ["x"]}),
            {"gamma"},
        ),
        ("person", lambda: team.add_user("dora", roles=["viewer"]), set()),
        ("policy", policy, None),
    ]
    assert [item.to_dict() for item in kept.get(team.ctx)] == _fresh(team)
    assert reads == [None]
    for what, change, names in changes:
        reads.clear()
        change()
        assert [item.to_dict() for item in kept.get(team.ctx)] == _fresh(team), what
        if names is None:
            assert reads == [None], what  # read from scratch
        elif not names:
            assert reads == [], what  # nothing the inventory shows changed
        else:
            ids = _model_ids(team)
            assert reads == [{ids[name] for name in names}], what
    reads.clear()
    assert [item.to_dict() for item in kept.get(team.ctx)] == _fresh(team)
    assert reads == []  # no change: nothing read
    names = [item.name for item in kept.get(team.ctx)]
    assert names == ["alpha", "beta", "delta", "gamma"]


def _model_ids(client: govml.Client) -> dict[str, int]:
    with client.ctx.store.read() as conn:
        return inventory_records.model_ids_named(conn, ["alpha", "beta", "gamma", "delta"])


def test_a_change_shows_at_once_through_the_server(team: govml.Client) -> None:
    items = inventory._items
    team.create_model("epsilon", risk_tier="limited", owner="one@example.com")
    before = {item.name: item.owner for item in items.get(team.ctx)}
    assert before["epsilon"] == "one@example.com"
    team.set_tag("epsilon", "team", "fraud")
    after = {item.name: dict(item.tags) for item in items.get(team.ctx)}
    assert after["epsilon"] == {"team": "fraud"}


@pytest.mark.parametrize(
    ("subjects", "expected"),
    [
        (["model/a", "model/b/versions/3", "user/x", "dataset/sha256:00"], {"a", "b"}),
        (["user/x"], set()),
        (["model/a", "policy/gate"], None),
        (["store"], None),
    ],
)
def test_which_models_a_ledger_entry_is_about(
    subjects: list[str], expected: set[str] | None
) -> None:
    assert changed_models(subjects) == expected
