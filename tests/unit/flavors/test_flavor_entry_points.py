"""A third-party flavor plugs in through the ``govml.flavors`` entry-point group.

The flavor is a real installed distribution: a package and its ``.dist-info`` (with
``entry_points.txt``) in a folder put on ``sys.path``, found by ``importlib.metadata`` as
pip-installed packages are. Its models are registered in a real store and loaded back.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import govml
from govml.errors import FlavorError
from govml.flavors import FLAVOR_NAMES, Flavor, SerializedModel, flavor_for, flavor_names
from govml.flavors import get_flavor as find_flavor
from govml.flavors.base import ENTRY_POINT_GROUP, LoadedModel
from govml.flavors.sklearn import SklearnFlavor

PLUGIN = '''
"""A flavor for models that predict one constant: JSON bytes, no pickle."""

import json

import numpy as np

from govml.flavors.base import ScoresOnlyModel, SerializedModel


class ConstantModel:
    def __init__(self, value):
        self.value = float(value)


class ConstantFlavor:
    name = "constant"

    def __init__(self, *, trusted=()):
        self.trusted = tuple(trusted)

    def matches(self, obj):
        return isinstance(obj, ConstantModel)

    def dump(self, obj):
        data = json.dumps({"value": obj.value}).encode()
        return SerializedModel(data=data, flavor=self.name, options={"task": "regression"})

    def load(self, data, options):
        return Loaded(flavor=self.name, raw=ConstantModel(json.loads(data)["value"]))

    def from_bytes(self, data, *, source="the artifact", hints=None):
        json.loads(data)
        return SerializedModel(data=data, flavor=self.name, options={"task": "regression"})

    def from_file(self, path):
        with open(path, "rb") as file:
            return self.from_bytes(file.read())


class Loaded(ScoresOnlyModel):
    def _predict(self, X):
        return np.full(len(X), self.raw.value)


class NotAFlavor:
    def __init__(self, *, trusted=()):
        pass
'''


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Install the package ``govml_constant`` with three entry points, found on sys.path."""
    site = tmp_path / "site"
    (site / "govml_constant").mkdir(parents=True)
    (site / "govml_constant" / "__init__.py").write_text(PLUGIN, encoding="utf-8")
    info = site / "govml_constant-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: govml-constant\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            f"""\
            [{ENTRY_POINT_GROUP}]
            constant = govml_constant:ConstantFlavor
            sklearn = govml_constant:ConstantFlavor
            broken = govml_constant:NotAFlavor
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(site))
    yield site


def test_an_installed_flavor_is_listed_found_and_recognised(plugin: Path) -> None:
    import govml_constant

    assert flavor_names() == (*FLAVOR_NAMES, "constant", "broken")
    flavor = find_flavor("constant", trusted=["x.Y"])
    assert isinstance(flavor, Flavor)
    assert flavor.name == "constant"
    assert flavor.trusted == ("x.Y",)  # type: ignore[attr-defined]
    model = govml_constant.ConstantModel(2.5)
    assert flavor_for(model).name == "constant"
    serialized = flavor.dump(model)
    loaded = find_flavor(serialized.flavor).load(serialized.data, serialized.options)
    assert isinstance(loaded, LoadedModel)
    np.testing.assert_array_equal(loaded.predict(pd.DataFrame({"x": [1, 2]})), [2.5, 2.5])
    with pytest.raises(FlavorError, match="has no predict_proba"):
        loaded.predict_proba(pd.DataFrame({"x": [1]}))


def test_a_built_in_name_is_never_taken_over(plugin: Path) -> None:
    assert isinstance(find_flavor("sklearn"), SklearnFlavor)
    assert flavor_names().count("sklearn") == 1


def test_an_entry_point_that_gives_no_flavor_is_named(plugin: Path) -> None:
    with pytest.raises(FlavorError) as caught:
        find_flavor("broken")
    assert caught.value.message == (
        "the installed flavor 'broken' (govml_constant:NotAFlavor) does not provide a "
        "flavor's methods"
    )


def test_unknown_names_list_the_installed_flavors_too(plugin: Path) -> None:
    with pytest.raises(FlavorError) as caught:
        find_flavor("constnat")
    assert caught.value.message == (
        "unknown flavor 'constnat'; valid flavors: sklearn, xgboost, lightgbm, onnx, "
        "mlflow_pyfunc, constant, broken"
    )
    assert caught.value.hint == "did you mean 'constant'?"
    with pytest.raises(FlavorError, match="unknown flavor 'pickle'"):
        SerializedModel(data=b"{}", flavor="pickle")


def test_without_the_package_its_flavor_is_unknown() -> None:
    assert "constant" not in flavor_names()
    with pytest.raises(FlavorError, match="unknown flavor 'constant'"):
        SerializedModel(data=b"{}", flavor="constant")


def test_a_version_of_an_installed_flavor_is_registered_and_loaded(
    plugin: Path, client: govml.Client
) -> None:
    import govml_constant

    client.create_model("const", risk_tier="minimal")
    version = client.register_version("const", model=govml_constant.ConstantModel(7.0))
    assert version.flavor == "constant"
    loaded = client.load_model("const@1")
    np.testing.assert_array_equal(loaded.predict(np.zeros((3, 1))), [7.0, 7.0, 7.0])
