"""The model card's editable fields: what people write about a model, versioned.

Most of a model card, a datasheet or the Annex IV documentation comes from what govml
records (lineage, evaluations, approvals, the ledger). What it cannot know (who the users
are, the limitations, the ethical risks and their mitigations, the harmonised standards
applied) people write, with ``govml models card NAME --set FIELD=TEXT``. Each change is a
new revision of the whole set, stored with the model (append-only) and recorded in the
ledger as ``model.card_updated``, so a document can say who wrote each part and when.

Three kinds of field: ``text`` (one text), ``list`` (several texts, e.g. limitations) and
``risks`` (ethical considerations: a name and a mitigation strategy each, as in the Model
Card Toolkit's ``Risk``). A risk given as text is ``"NAME | MITIGATION"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from govml.errors import ValidationError, did_you_mean

FieldKind = Literal["text", "list", "risks"]

MAX_TEXT = 20_000
"""Longest text a field (or one item of a list) may hold, in characters."""

MAX_ITEMS = 100
"""Most items a list field may hold."""

RISK_SEPARATOR = " | "
"""Separates a risk's name from its mitigation when a risk is given as one text."""

ERR_UNKNOWN = "unknown model card field {name!r}; fields are {valid}"
ERR_EMPTY = "model card field {name!r}: {what} must not be empty"
ERR_LONG = "model card field {name!r}: {what} is longer than {limit} characters"
ERR_TYPE = "model card field {name!r}: expected {expected}, got {got}"
ERR_ITEMS = "model card field {name!r}: at most {limit} items"
ERR_NOTHING = "nothing to change: give at least one field to set or unset"
ERR_BOTH = "model card field {name!r} is both set and unset"


@dataclass(frozen=True)
class FieldSpec:
    """One editable field: its name, title, kind and what it is for."""

    name: str
    title: str
    kind: FieldKind
    help: str


CARD_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("overview", "Overview", "text", "what the model does, in a few sentences"),
    FieldSpec("intended_use", "Primary intended uses", "text", "what the model is for"),
    FieldSpec("intended_users", "Primary intended users", "list", "who uses its outputs"),
    FieldSpec("out_of_scope_use", "Out-of-scope uses", "text", "uses it must not be put to"),
    FieldSpec("factors", "Relevant factors", "text", "groups and conditions that matter"),
    FieldSpec("limitations", "Limitations", "list", "known technical limitations"),
    FieldSpec("tradeoffs", "Trade-offs", "list", "accuracy and fairness trade-offs made"),
    FieldSpec(
        "ethical_considerations",
        "Ethical considerations",
        "risks",
        "risks and their mitigation, each as 'RISK | MITIGATION'",
    ),
    FieldSpec(
        "caveats_and_recommendations",
        "Caveats and recommendations",
        "text",
        "what a user should know before relying on it",
    ),
    FieldSpec("licenses", "Licenses", "list", "SPDX identifiers of the model's licenses"),
    FieldSpec("references", "References", "list", "links to more information"),
    FieldSpec("citations", "Citations", "list", "how to cite the model"),
    FieldSpec(
        "interaction_with_other_systems",
        "Interaction with other systems",
        "text",
        "Annex IV 1(b): hardware or software the system interacts with",
    ),
    FieldSpec("hardware", "Hardware", "text", "Annex IV 1(e): hardware it is meant to run on"),
    FieldSpec(
        "user_interface", "User interface", "text", "Annex IV 1(f): the deployer's interface"
    ),
    FieldSpec(
        "instructions_for_use", "Instructions for use", "text", "Annex IV 1(g): for deployers"
    ),
    FieldSpec(
        "human_oversight",
        "Human oversight measures",
        "text",
        "Annex IV 2(e), Art. 14: how people understand, override and stop it",
    ),
    FieldSpec(
        "predetermined_changes",
        "Pre-determined changes",
        "text",
        "Annex IV 2(f): changes planned in advance and how they are checked",
    ),
    FieldSpec(
        "compute",
        "Computational resources",
        "text",
        "Annex IV 2(c): compute used to develop, train, test and validate it",
    ),
    FieldSpec(
        "metrics_rationale",
        "Why the metrics are appropriate",
        "text",
        "Annex IV 4: why the performance metrics fit this system",
    ),
    FieldSpec(
        "risk_management",
        "Risk-management system",
        "text",
        "Annex IV 5, Art. 9: the risk-management system",
    ),
    FieldSpec(
        "harmonised_standards",
        "Harmonised standards applied",
        "text",
        "Annex IV 7: standards applied, or the other solutions adopted",
    ),
    FieldSpec(
        "declaration_of_conformity",
        "EU declaration of conformity",
        "text",
        "Annex IV 8: a copy of, or reference to, the declaration",
    ),
    FieldSpec(
        "post_market_monitoring_plan",
        "Post-market monitoring plan",
        "text",
        "Annex IV 9, Art. 72: the plan beyond the policy's monitoring rules",
    ),
)
"""Every editable field, in the order documents show them."""

FIELD_NAMES: tuple[str, ...] = tuple(spec.name for spec in CARD_FIELDS)
_SPECS: dict[str, FieldSpec] = {spec.name: spec for spec in CARD_FIELDS}


def field_spec(name: str) -> FieldSpec:
    """Return the spec of field ``name``.

    Raises
    ------
    ValidationError
        Naming the valid fields and the closest one when ``name`` is not a field.
    """
    spec = _SPECS.get(name)
    if spec is None:
        raise ValidationError(
            ERR_UNKNOWN.format(name=name, valid=", ".join(FIELD_NAMES)),
            hint=did_you_mean(name, FIELD_NAMES),
        )
    return spec


def normalise_value(name: str, value: Any) -> Any:
    """Return ``value`` in the stored form of field ``name``, validated.

    A text field takes a string; a list field a string (one item) or a list of strings; a
    risks field a string ``"RISK | MITIGATION"``, a mapping ``{name, mitigation_strategy}``
    or a list of either.

    Raises
    ------
    ValidationError
        Naming the field and what is wrong with the value.
    """
    spec = field_spec(name)
    if spec.kind == "text":
        return _text(name, value, "the text")
    items = value if isinstance(value, list | tuple) else [value]
    if not items:
        raise ValidationError(ERR_EMPTY.format(name=name, what="the list"))
    if len(items) > MAX_ITEMS:
        raise ValidationError(ERR_ITEMS.format(name=name, limit=MAX_ITEMS))
    if spec.kind == "list":
        return [_text(name, item, f"item {i + 1}") for i, item in enumerate(items)]
    return [_risk(name, item, i + 1) for i, item in enumerate(items)]


def _text(name: str, value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(ERR_TYPE.format(name=name, expected="text", got=type(value).__name__))
    text = value.strip()
    if not text:
        raise ValidationError(ERR_EMPTY.format(name=name, what=what))
    if len(text) > MAX_TEXT:
        raise ValidationError(ERR_LONG.format(name=name, what=what, limit=MAX_TEXT))
    return text


def _risk(name: str, value: Any, index: int) -> dict[str, str]:
    if isinstance(value, str):
        risk, _, mitigation = value.partition(RISK_SEPARATOR.strip())
        return {
            "name": _text(name, risk, f"the risk of item {index}"),
            "mitigation_strategy": mitigation.strip(),
        }
    if isinstance(value, Mapping):
        unknown = set(value) - {"name", "mitigation_strategy"}
        if unknown:
            raise ValidationError(
                ERR_TYPE.format(
                    name=name,
                    expected="'name' and 'mitigation_strategy'",
                    got=", ".join(sorted(map(str, unknown))),
                )
            )
        mitigation = value.get("mitigation_strategy") or ""
        if not isinstance(mitigation, str):
            raise ValidationError(
                ERR_TYPE.format(name=name, expected="text", got=type(mitigation).__name__)
            )
        return {
            "name": _text(name, value.get("name"), f"the risk of item {index}"),
            "mitigation_strategy": mitigation.strip(),
        }
    raise ValidationError(
        ERR_TYPE.format(name=name, expected="'RISK | MITIGATION' text", got=type(value).__name__)
    )


def apply_changes(
    current: Mapping[str, Any], set_fields: Mapping[str, Any], unset: Sequence[str]
) -> tuple[dict[str, Any], list[str]]:
    """Return the fields after setting ``set_fields`` and removing ``unset``, and what changed.

    Raises
    ------
    ValidationError
        When nothing is given, a field is unknown, set and unset at once, or a value is bad.
    """
    if not set_fields and not unset:
        raise ValidationError(ERR_NOTHING)
    for name in unset:
        field_spec(name)
        if name in set_fields:
            raise ValidationError(ERR_BOTH.format(name=name))
    updated = dict(current)
    for name, value in set_fields.items():
        updated[name] = normalise_value(name, value)
    for name in unset:
        updated.pop(name, None)
    ordered = {name: updated[name] for name in FIELD_NAMES if name in updated}
    changed = [name for name in FIELD_NAMES if current.get(name) != ordered.get(name)]
    return ordered, changed


@dataclass(frozen=True, kw_only=True)
class ModelCardFields:
    """One revision of a model's editable card fields (revision 0: nothing written yet).

    ``fields`` holds every field set at this revision, ``changed`` those this revision
    changed, ``ledger_entry`` the ``model.card_updated`` entry that records it.
    """

    model: str
    revision: int
    fields: dict[str, Any] = field(default_factory=dict)
    changed: tuple[str, ...] = ()
    actor: str | None = None
    created_at: datetime | None = None
    ledger_entry: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "model": self.model,
            "revision": self.revision,
            "fields": dict(self.fields),
            "changed": list(self.changed),
            "actor": self.actor,
            "created_at": None if self.created_at is None else self.created_at.isoformat(),
            "ledger_entry": self.ledger_entry,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelCardFields:
        """Inverse of `to_dict`."""
        created = data.get("created_at")
        return cls(
            model=data["model"],
            revision=int(data["revision"]),
            fields=dict(data.get("fields", {})),
            changed=tuple(data.get("changed", ())),
            actor=data.get("actor"),
            created_at=None if created is None else datetime.fromisoformat(created),
            ledger_entry=data.get("ledger_entry"),
        )
