"""A registry stand-in for gateway tests: versions of a small classifier, aliases, set-up."""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from govml.datasets import profile
from govml.domain.records import ModelVersion
from govml.domain.signature import infer_signature
from govml.flavors import LoadedModel, flavor_for, get_flavor
from govml.serving.keys import GatewayKey, key_hash
from govml.serving.source import Challenger


def training_frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, size=n),
            "income": rng.normal(50.0, 10.0, size=n),
            "city": rng.choice(["paris", "lyon", "nice"], size=n),
        }
    )
    frame["y"] = ((frame["income"] > 50) ^ (frame["city"] == "nice")).astype("int64")
    return frame


def fit(frame: pd.DataFrame, *, flip: bool = False) -> Any:
    """A classifier on the numeric columns (one-hot city); ``flip`` inverts its answers."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    y = 1 - frame["y"] if flip else frame["y"]
    encode = ColumnTransformer(
        [("city", OneHotEncoder(handle_unknown="ignore"), ["city"])], remainder="passthrough"
    )
    return Pipeline([("encode", encode), ("model", LogisticRegression(max_iter=500))]).fit(
        frame[["age", "income", "city"]], y
    )


class FakeSource:
    """In-memory registry: versions are registered objects, aliases are a dictionary."""

    def __init__(self) -> None:
        self.frame = training_frame()
        self.models: dict[int, Any] = {}
        self.alias_map: dict[str, int] = {}
        self.setup = Challenger()
        self.loads: list[int] = []
        self.fail_load: set[int] = set()
        self.fail_load_with: Exception | None = None
        self.closed = False
        self.lock = threading.Lock()
        self.keys: list[GatewayKey] = []
        self.strict_mode = False

    def issue(self, *scopes: str, model: str = "credit", days: float = 30) -> str:
        """Issue a gateway key (as a deployer would) and return it."""
        key_id = secrets.token_hex(8)
        secret = f"gwk_{key_id}_{secrets.token_urlsafe(32)}"
        now = datetime.now(UTC)
        self.keys.append(
            GatewayKey(
                key_id=key_id,
                model=model,
                scopes=scopes,
                hash=key_hash(secret),
                description="",
                created_at=now,
                created_by="frank",
                expires_at=now + timedelta(days=days),
            )
        )
        return secret

    def gateway_keys(self) -> list[GatewayKey]:
        return list(self.keys)

    def strict(self, name: str) -> bool:
        return self.strict_mode

    def add(self, number: int, model: Any) -> None:
        self.models[number] = model

    def aliases(self, name: str) -> dict[str, int]:
        with self.lock:
            return dict(self.alias_map)

    def challenger(self, name: str) -> Challenger:
        return self.setup

    def version(self, name: str, number: int) -> ModelVersion:
        X = self.frame[["age", "income", "city"]]
        signature = infer_signature(X, self.models[number].predict(X.head(5)))
        return ModelVersion(
            model=name,
            version=number,
            artifact_digest=f"sha256:{number:064d}",
            artifact_size=1,
            flavor="sklearn",
            flavor_options={},
            signature=signature.to_dict(),
            datasets=(),
            code={},
            environment={},
            params={},
            metrics={},
            registrant="tester",
            created_at=datetime(2024, 1, 1, tzinfo=UTC),
        )

    def load(self, name: str, number: int) -> LoadedModel:
        if number in self.fail_load:
            raise self.fail_load_with or RuntimeError(f"artifact of version {number} is corrupt")
        self.loads.append(number)
        serialized = flavor_for(self.models[number]).dump(self.models[number])
        return get_flavor("sklearn").load(serialized.data, serialized.options)

    def training_profile(self, version: ModelVersion) -> dict[str, Any] | None:
        return profile(self.frame).to_dict()

    def close(self) -> None:
        self.closed = True
