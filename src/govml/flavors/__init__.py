"""Model flavors: serialise fitted models safely and load them behind one interface.

Usage::

    serialized = flavor_for(model).dump(model)  # bytes + JSON-safe options
    loaded = get_flavor(serialized.flavor).load(serialized.data, serialized.options)
    loaded.predict(X), loaded.predict_proba(X)

The built-in flavors are listed in :data:`FLAVOR_NAMES`, and :func:`flavor_names` adds
those installed packages declare in the ``govml.flavors`` entry-point group (see
:mod:`govml.flavors.base`); each flavor module documents the options it stores and the
inputs it accepts. Options describe a model; they never
decide what a load trusts: ``get_flavor(name, trusted=...)`` takes the types the calling
process allows beyond the built-in allowlist (see :mod:`govml.flavors.trust`), and
``from_bytes`` recomputes the options of bytes received from elsewhere.
"""

from govml.flavors.base import (
    FLAVOR_NAMES,
    Flavor,
    LoadedModel,
    SerializedModel,
    flavor_for,
    flavor_names,
    get_flavor,
)

__all__ = [
    "FLAVOR_NAMES",
    "Flavor",
    "LoadedModel",
    "SerializedModel",
    "flavor_for",
    "flavor_names",
    "get_flavor",
]
