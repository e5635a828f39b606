"""A registry stand-in for gateway tests: versions of a small classifier, aliases, set-up."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from govml.datasets import profile
from govml.domain.records import ModelVersion
from govml.domain.signature import infer_signature
from govml.flavors import LoadedModel, flavor_for, get_flavor
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
        self.closed = False
        self.lock = threading.Lock()

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
            raise RuntimeError(f"artifact of version {number} is corrupt")
        self.loads.append(number)
        serialized = flavor_for(self.models[number]).dump(self.models[number])
        return get_flavor("sklearn").load(serialized.data, serialized.options)

    def training_profile(self, version: ModelVersion) -> dict[str, Any] | None:
        return profile(self.frame).to_dict()

    def close(self) -> None:
        self.closed = True
