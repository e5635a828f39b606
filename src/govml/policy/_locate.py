"""Turn pydantic's validation errors into field paths and messages a policy author reads.

pydantic locates an error by a ``loc`` tuple that also holds the tags of discriminated
unions (``("data", 0, "between", "min")``) and a ``[key]`` marker for errors in mapping
keys. Walking the schema along the ``loc`` gives the path in the document
(``data[0].min``) and what was expected there: the fields of a model (to suggest the closest
one for an unknown field) or the values of a ``Literal`` (to suggest the closest choice).
"""

from __future__ import annotations

import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from govml.policy import messages as msg
from govml.policy._base import describe_value, suggestion, unknown_name
from govml.policy.diagnostics import KEY, FieldProblems, Path
from govml.policy.vocabulary import format_number

_EXPECTED = {
    "string_type": "a string",
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "finite_number": "a finite number",
    "literal_error": "one of the listed values",
}
_LIMITS = {
    "greater_than_equal": ("ge", msg.ERR_AT_LEAST),
    "greater_than": ("gt", msg.ERR_ABOVE),
    "less_than_equal": ("le", msg.ERR_AT_MOST),
    "less_than": ("lt", msg.ERR_BELOW),
}


@dataclass(frozen=True, kw_only=True)
class Located:
    """One problem: its path in the document, whether it is about a key, and the message."""

    path: Path
    message: str
    at_key: bool = False


@dataclass(frozen=True, kw_only=True)
class _Walk:
    path: Path
    annotation: Any
    owner: type[BaseModel] | None
    at_key: bool


def locate(root: type[BaseModel], error: ErrorDetails) -> Iterator[Located]:
    """Yield the problems one pydantic error stands for (several for `FieldProblems`)."""
    walk = _walk(root, error["loc"])
    kind = error["type"]
    if kind == "value_error":
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, FieldProblems):
            for sub, text in cause.problems:
                at_key = bool(sub) and sub[-1] == KEY
                inner = sub[:-1] if at_key else sub
                yield Located(path=walk.path + inner, message=text, at_key=at_key)
            return
        yield Located(path=walk.path, message=str(cause), at_key=walk.at_key)
        return
    yield _one(kind, error, walk)


def _one(kind: str, error: ErrorDetails, walk: _Walk) -> Located:
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        name = walk.path[-1]
        return Located(path=walk.path[:-1], message=msg.ERR_MISSING.format(name=name))
    if kind == "extra_forbidden":
        name = str(walk.path[-1])
        fields = _field_names(walk.owner)
        listing = msg.ERR_VALID_FIELDS.format(choices=", ".join(fields))
        text = unknown_name(name, fields, template=msg.ERR_UNKNOWN_FIELD, listing=listing)
        return Located(path=walk.path, message=text, at_key=True)
    if kind == "literal_error":
        return Located(path=walk.path, message=_choice(value, walk.annotation), at_key=walk.at_key)
    if kind == "union_tag_invalid":
        tags = _tags(walk.annotation)
        listing = msg.ERR_CHOICES.format(choices=", ".join(tags))
        tag = str(ctx.get("tag"))
        text = unknown_name(tag, tags, template=msg.ERR_UNKNOWN_EXPECTATION, listing=listing)
        return Located(path=(*walk.path, "expect"), message=text)
    if kind == "union_tag_not_found":
        choices = ", ".join(_tags(walk.annotation))
        text = msg.ERR_MISSING_EXPECTATION.format(choices=choices)
        return Located(path=walk.path, message=text)
    if kind == "too_short":
        minimum = int(ctx.get("min_length", 1))
        text = msg.ERR_TOO_FEW.format(minimum=minimum, plural="" if minimum == 1 else "s")
        return Located(path=walk.path, message=text)
    if kind in _LIMITS:
        key, template = _LIMITS[kind]
        text = template.format(limit=_number(ctx.get(key)), value=_number(value))
        return Located(path=walk.path, message=text)
    if kind in _EXPECTED:
        text = msg.ERR_TYPE.format(expected=_EXPECTED[kind], got=describe_value(value))
        return Located(path=walk.path, message=text, at_key=walk.at_key)
    text = error["msg"]
    return Located(path=walk.path, message=text[:1].lower() + text[1:], at_key=walk.at_key)


def _number(value: Any) -> str:
    if isinstance(value, float):
        return format_number(value)
    return str(value)


def _choice(value: Any, annotation: Any) -> str:
    choices = [str(c) for c in get_args(annotation)] if get_origin(annotation) is Literal else []
    text = msg.ERR_NOT_A_CHOICE.format(value=value, choices=", ".join(choices))
    return text + suggestion(value, choices)


def _walk(root: type[BaseModel], loc: Sequence[str | int]) -> _Walk:
    annotation: Any = root
    owner: type[BaseModel] | None = None
    key_type: Any = None
    at_key = False
    path: list[str | int] = []
    for part in loc:
        annotation = _unwrap(annotation)
        if part == KEY:
            annotation, at_key = _unwrap(key_type), True
            continue
        origin = get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            owner = annotation
            annotation = _field_annotation(annotation, str(part))
            path.append(part)
        elif origin is list:
            annotation = get_args(annotation)[0]
            path.append(part)
        elif origin is dict:
            key_type, annotation = get_args(annotation)
            path.append(part)
        elif _is_union(annotation):
            annotation = _member(annotation, str(part))  # a tag: not part of the document
        else:
            annotation = Any
            path.append(part)
    return _Walk(path=tuple(path), annotation=_unwrap(annotation), owner=owner, at_key=at_key)


def _unwrap(annotation: Any) -> Any:
    while True:
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
        elif _is_union(annotation):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType)


def _field_annotation(model: type[BaseModel], name: str) -> Any:
    for field_name, info in model.model_fields.items():
        if (info.alias or field_name) == name:
            return info.annotation
    return Any


def _field_names(model: type[BaseModel] | None) -> list[str]:
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _tags(annotation: Any) -> list[str]:
    tags: list[str] = []
    for member in get_args(_unwrap(annotation)):
        expect = _field_annotation(member, "expect")
        tags.extend(str(t) for t in get_args(expect))
    return tags


def _member(annotation: Any, tag: str) -> Any:
    for member in get_args(annotation):
        if isinstance(member, type) and tag in get_args(_field_annotation(member, "expect")):
            return member
    return Any
