"""The documentation rule: the model card's required fields are filled in.

Each field a policy can require, and where govml reads it from:

========================= ===================================================================
field                     present when
========================= ===================================================================
intended_use              ``Model.intended_use`` is not blank
out_of_scope_use          ``Model.out_of_scope_use`` is not blank
owner                     ``Model.owner`` is not blank
description               ``Model.description`` or the version's ``description`` is not blank
limitations               the model card field or the model tag ``limitations`` is filled in
ethical_considerations    the model card field or the model tag ``ethical_considerations``
training_data             the version records a dataset fingerprint with role ``train``
validation_data           the version records a dataset fingerprint with role ``validation``
code                      the version records a git commit
environment               the version records its Python packages
signature                 the version records an input/output signature
params                    the version records hyperparameters
metrics                   the version records training metrics
========================= ===================================================================

Model-level narrative lives in the model's card fields (``govml models card NAME --set
FIELD=TEXT``, versioned); a card field of the same name also satisfies ``intended_use``,
``out_of_scope_use`` and ``description`` (card ``overview``). Tags named ``limitations`` and
``ethical_considerations`` are still accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from govml.checks.result import CheckResult, timed
from govml.domain.records import Model, ModelVersion
from govml.errors import InputError, did_you_mean

__all__ = ["DOCUMENTATION_FIELDS", "documentation_check"]


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _tag(name: str) -> Callable[[Model, ModelVersion | None], bool]:
    return lambda model, _: _text(model.tags.get(name))


def _filled(value: object) -> bool:
    if isinstance(value, list | tuple):
        return any(_filled(item) for item in value)
    if isinstance(value, Mapping):
        return any(_filled(item) for item in value.values())
    return _text(value)


# Card fields that also satisfy a required field (the card's name for it).
_CARD_SOURCES = {
    "intended_use": "intended_use",
    "out_of_scope_use": "out_of_scope_use",
    "description": "overview",
    "limitations": "limitations",
    "ethical_considerations": "ethical_considerations",
}


def _dataset(role: str) -> Callable[[Model, ModelVersion | None], bool]:
    return lambda _, version: (
        version is not None and any(ref.role == role for ref in version.datasets)
    )


def _recorded(
    read: Callable[[ModelVersion], object],
) -> Callable[[Model, ModelVersion | None], bool]:
    return lambda _, version: version is not None and bool(read(version))


_CHECKS: dict[str, tuple[str, Callable[[Model, ModelVersion | None], bool]]] = {
    "intended_use": ("model.intended_use", lambda model, _: _text(model.intended_use)),
    "out_of_scope_use": ("model.out_of_scope_use", lambda model, _: _text(model.out_of_scope_use)),
    "owner": ("model.owner", lambda model, _: _text(model.owner)),
    "description": (
        "model.description or version.description",
        lambda model, version: (
            _text(model.description) or (version is not None and _text(version.description))
        ),
    ),
    "limitations": ("model tag 'limitations'", _tag("limitations")),
    "ethical_considerations": (
        "model tag 'ethical_considerations'",
        _tag("ethical_considerations"),
    ),
    "training_data": ("version dataset with role 'train'", _dataset("train")),
    "validation_data": ("version dataset with role 'validation'", _dataset("validation")),
    "code": ("version.code git_commit", _recorded(lambda version: version.code.get("git_commit"))),
    "environment": (
        "version.environment packages",
        _recorded(lambda version: version.environment.get("packages")),
    ),
    "signature": ("version.signature", _recorded(lambda version: version.signature)),
    "params": ("version.params", _recorded(lambda version: version.params)),
    "metrics": ("version.metrics", _recorded(lambda version: version.metrics)),
}

DOCUMENTATION_FIELDS: tuple[str, ...] = tuple(_CHECKS)
"""Field names a policy's ``documentation.required`` may list."""

ERR_UNKNOWN = "unknown documentation field(s) {names}; valid fields: {valid}"


@timed
def documentation_check(
    model: Model,
    version: ModelVersion | None,
    required: Iterable[str],
    card: Mapping[str, Any] | None = None,
) -> CheckResult:
    """Check that the required model-card fields are filled in.

    Parameters
    ----------
    model : Model
        The model record.
    version : ModelVersion or None
        The version evaluated; None fails every version-level field.
    required : iterable of str
        Field names from :data:`DOCUMENTATION_FIELDS`.
    card : mapping, optional
        The model's card fields at their latest revision.

    Returns
    -------
    CheckResult
        ``check="documentation"``; ``fail`` naming each missing field and where it is
        read from; ``value`` is the number missing.

    Raises
    ------
    InputError
        Naming every unknown field, with the valid ones and the closest match.
    """
    fields = list(dict.fromkeys(required))
    unknown = [name for name in fields if name not in _CHECKS]
    if unknown:
        hints = [
            f"{name}: {hint}"
            for name in unknown
            if (hint := did_you_mean(name, DOCUMENTATION_FIELDS))
        ]
        raise InputError(
            ERR_UNKNOWN.format(
                names=", ".join(repr(name) for name in unknown),
                valid=", ".join(DOCUMENTATION_FIELDS),
            ),
            hint="; ".join(hints) or None,
        )
    card = card or {}

    def is_present(name: str) -> bool:
        source = _CARD_SOURCES.get(name)
        from_card = source is not None and _filled(card.get(source))
        return from_card or _CHECKS[name][1](model, version)

    present = [name for name in fields if is_present(name)]
    missing = [name for name in fields if name not in present]
    where = {
        name: _CHECKS[name][0]
        + (f" or model card field '{_CARD_SOURCES[name]}'" if name in _CARD_SOURCES else "")
        for name in fields
    }
    evidence: dict[str, Any] = {
        "required": fields,
        "present": present,
        "missing": missing,
        "where": where,
    }
    if missing:
        listed = ", ".join(f"{name} ({where[name]})" for name in missing)
        return _result(
            "fail",
            f"{len(missing)} of {len(fields)} required field(s) missing: {listed}",
            len(missing),
            fields,
            evidence,
        )
    return _result(
        "pass", f"all {len(fields)} required model-card fields are present", 0, fields, evidence
    )


def _result(
    status: Any, message: str, value: int, threshold: list[str], evidence: Mapping[str, Any]
) -> CheckResult:
    return CheckResult(
        check="documentation",
        category="documentation",
        status=status,
        message=message,
        value=value,
        threshold=threshold,
        evidence=dict(evidence),
    )
