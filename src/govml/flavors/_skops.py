"""Reading a skops archive as one tree of nodes: checked, audited, then built.

``skops.io.loads`` builds the tree of nodes an archive describes, audits the types it names
and constructs the objects. The sklearn flavor does the same steps on one tree, with a check
of its own in between: the LightGBM and XGBoost models a pipeline may hold
(:data:`FRAMEWORK_TYPES`) are rebuilt by handing their saved model to the framework's native
parser, which trusts its input and can crash the process on a damaged one. So, before
anything is built:

* each of those types must be stored as a plain object (skops' ``ObjectNode``: created
  without calling it, then given its saved state), never as a call (``ReduceNode``: the
  class called with saved arguments, e.g. ``Booster(model_file=...)`` reading a file of the
  server) or any other kind of node;
* a LightGBM Booster's saved model text passes the LightGBM flavor's structure check, and an
  XGBoost Booster's saved state the XGBoost flavor's, exactly as a model file would.

The tree is built from the same nodes that were checked, so what is constructed is what was
checked. The node classes are skops' own (``skops.io._audit``), as ``skops.io.loads`` uses
them.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

from govml.errors import FlavorError, UnsafeArtifactError

__all__ = ["FRAMEWORK_TYPES", "load_checked"]

LIGHTGBM_BOOSTER = "lightgbm.basic.Booster"
XGBOOST_BOOSTER = "xgboost.core.Booster"

FRAMEWORK_TYPES: frozenset[str] = frozenset(
    {
        # The sklearn-API wrappers: plain estimators that skops rebuilds by setting their
        # attributes (no __setstate__ or __reduce__ of their own; BaseEstimator's only
        # updates __dict__); their methods compute predictions from the Booster they hold.
        "lightgbm.sklearn.LGBMClassifier",
        "lightgbm.sklearn.LGBMRegressor",
        "lightgbm.sklearn.LGBMRanker",
        "xgboost.sklearn.XGBClassifier",
        "xgboost.sklearn.XGBRegressor",
        "xgboost.sklearn.XGBRanker",
        "xgboost.sklearn.XGBRFClassifier",
        "xgboost.sklearn.XGBRFRegressor",
        # The Boosters: __setstate__ parses the saved model with the native library, which
        # is why their state is checked first (module docstring). Their methods that read
        # or write files are not reachable: skops names a bound method as its own type
        # (``lightgbm.basic.Booster.save_model``), which is not on any list.
        LIGHTGBM_BOOSTER,
        XGBOOST_BOOSTER,
    }
)
"""Types of LightGBM and XGBoost models inside scikit-learn pipelines (module docstring)."""

EXTRA_SAFE_TYPES: frozenset[str] = frozenset(
    {
        # A LightGBM Booster keeps its evaluation results as defaultdict(OrderedDict): a
        # dict subclass with no code of its own beyond ordering.
        "collections.OrderedDict",
    }
)
"""Plain containers the LightGBM and XGBoost models above are saved with."""

_STR = ("builtins", "str")
ERR_NODE = (
    "{source} stores {name} as {node}; govml loads it only as a plain object (ObjectNode), "
    "as skops writes it"
)
ERR_STATE = "{source} holds a {name} whose saved state is not laid out as skops writes it: {why}"


def load_checked(data: bytes, trusted: list[str], *, source: str) -> Any:
    """Build the object a skops archive describes, after the checks of the module docstring.

    Parameters
    ----------
    data : bytes
        A skops archive (already known not to be a pickle).
    trusted : list of str
        Every type the archive may name beyond skops' defaults (already audited by the
        caller against its trusted set; skops audits the tree against it again).
    source : str
        How messages name the archive.

    Returns
    -------
    Any
        The rebuilt object.

    Raises
    ------
    UnsafeArtifactError
        When a framework type is stored as anything but a plain object.
    FlavorError
        When an embedded model fails its structure check, or skops cannot read or build
        the archive.
    """
    from skops.io._audit import audit_tree, get_tree
    from skops.io._utils import LoadContext

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            schema = json.loads(archive.read("schema.json"))
            context = LoadContext(src=archive, protocol=schema["protocol"])
            tree = get_tree(schema, context, trusted=trusted)
            audit_tree(tree, trusted=trusted)
            _check_frameworks(tree, source)
            return tree.construct()
    except (FlavorError, UnsafeArtifactError):
        raise
    except Exception as exc:  # skops and zipfile raise many kinds for a damaged archive
        raise FlavorError(f"{source} is not a skops file ({exc})") from exc


def _check_frameworks(tree: Any, source: str) -> None:
    for node in _nodes(tree):
        name = f"{node.module_name}.{node.class_name}"
        if name not in FRAMEWORK_TYPES:
            continue
        kind = type(node).__name__
        if kind != "ObjectNode":
            raise UnsafeArtifactError(ERR_NODE.format(source=source, name=name, node=kind))
        if name == LIGHTGBM_BOOSTER:
            _check_lightgbm(node, source)
        elif name == XGBOOST_BOOSTER:
            _check_xgboost(node, source)


def _nodes(tree: Any) -> Iterator[Any]:
    """Yield every node once (skops shares a node wherever an object is saved twice)."""
    from skops.io._audit import Node

    seen: set[int] = set()
    stack: list[Any] = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, Node):
            if id(item) in seen:
                continue
            seen.add(id(item))
            yield item
            stack.extend(item.children.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())


def _state(node: Any, name: str, source: str) -> dict[str, Any] | None:
    """Return the nodes of an object's saved state by attribute name (None: no state)."""
    attrs = node.attrs
    if attrs is None:
        return None
    if type(attrs).__name__ != "DictNode" or (attrs.module_name, attrs.class_name) != (
        "builtins",
        "dict",
    ):
        raise FlavorError(ERR_STATE.format(source=source, name=name, why="not a dict"))
    # skops rebuilds each key by calling its recorded type on the saved text: it must be str
    # (read from the nodes; nothing is built before the whole tree is checked).
    keys = attrs.key_types
    if type(keys).__name__ != "ListNode" or not all(
        type(kind).__name__ == "TypeNode" and (kind.module_name, kind.class_name) == _STR
        for kind in keys.content
    ):
        raise FlavorError(ERR_STATE.format(source=source, name=name, why="non-text keys"))
    state: dict[str, Any] = attrs.content
    return state


def _leaf(node: Any, name: str, source: str, kinds: tuple[str, ...]) -> Any:
    """Return the value a JSON or bytes node holds.

    Decoding JSON or reading a member of the archive imports and calls nothing.
    """
    kind = type(node).__name__
    if kind not in kinds:
        why = f"its model is stored as {kind}"
        raise FlavorError(ERR_STATE.format(source=source, name=name, why=why))
    return node.construct()


def _check_lightgbm(node: Any, source: str) -> None:
    from govml.flavors.lightgbm import check_model_text

    state = _state(node, LIGHTGBM_BOOSTER, source)
    if state is None:
        return
    # Booster.__setstate__ reads "_handle", or "handle" when there is no "_handle".
    handle = state["_handle"] if "_handle" in state else state.get("handle")
    if handle is None:
        return
    text = _leaf(handle, LIGHTGBM_BOOSTER, source, ("JsonNode",))
    if text is None:
        return
    if not isinstance(text, str):
        why = "its model is not text"
        raise FlavorError(ERR_STATE.format(source=source, name=LIGHTGBM_BOOSTER, why=why))
    check_model_text(text.encode("utf-8"), source=f"the LightGBM model inside {source}")


def _check_xgboost(node: Any, source: str) -> None:
    from govml.flavors.xgboost import check_booster_state

    state = _state(node, XGBOOST_BOOSTER, source)
    if state is None or "handle" not in state:
        return  # Booster.__setstate__ then fails on the missing key, having parsed nothing
    kinds = ("JsonNode", "BytesNode", "BytearrayNode")
    saved = _leaf(state["handle"], XGBOOST_BOOSTER, source, kinds)
    if saved is None:
        return
    if not isinstance(saved, bytes | bytearray):
        why = "its model is not bytes"
        raise FlavorError(ERR_STATE.format(source=source, name=XGBOOST_BOOSTER, why=why))
    check_booster_state(bytes(saved), source=f"the XGBoost model inside {source}")
