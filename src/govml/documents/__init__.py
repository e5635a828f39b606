"""Documents on demand: model cards, datasheets, EU AI Act Annex IV, audit reports, ML Test Score.

Each builder turns facts govml holds (`govml.documents.facts`) into a JSON document, and an
outline of it (`govml.documents.outline`) that renders as Markdown or self-contained HTML.
`govml.services.documents.DocumentService` gathers the facts and renders; the CLI is
``govml report KIND``, the SDK ``client.report(kind, ref, format=...)``.
"""

from govml.documents.fields import CARD_FIELDS, FIELD_NAMES, FieldSpec, ModelCardFields

__all__ = ["CARD_FIELDS", "FIELD_NAMES", "FieldSpec", "ModelCardFields"]
