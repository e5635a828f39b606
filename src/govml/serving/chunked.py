"""Decoding a large JSON body in pieces, so that no single call holds the interpreter for long.

orjson decodes a body in one C call that never releases the interpreter lock: an 8 MiB body
holds it for tens of milliseconds, during which no other request is answered, even from another
thread. A large body of the gateway's usual shapes is therefore decoded a piece at a time:

- a list of records, ``[...]``, ``{"records": [...]}`` or ``{"feedback": [...]}``: the array is
  cut at commas about every `PIECE_BYTES`, and each piece is decoded as an array of its own;
- columnar data, ``{"columns": {"a": [...], ...}}``: each column's array likewise.

A cut that falls inside a string or a nested value leaves a piece with an unterminated string or
an unclosed bracket, which orjson refuses; so when every piece decodes, every cut was between
two elements and the pieces joined are exactly the body decoded whole. When anything does not
fit (another shape, a piece that does not decode, a column named twice, a key that may be
given twice), `loads_in_pieces` returns None and the caller decodes the body whole, which also
gives the exact error message.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

PIECE_BYTES = 256 * 1024
_WS = rb"[ \t\n\r]*"  # JSON's whitespace, and only it
_SPACE = re.compile(_WS)
_LIST_OBJECT = re.compile(
    _WS + rb"\{" + _WS + rb'"(records|feedback)"' + _WS + rb":" + _WS + rb"\["
)
_COLUMNS = re.compile(_WS + rb"\{" + _WS + rb'"columns"' + _WS + rb":" + _WS + rb"\{" + _WS)
_COLUMN = re.compile(rb'"((?:[^"\\]|\\.)*)"' + _WS + rb":" + _WS + rb"\[")
_AFTER_COLUMN = re.compile(_WS + rb"(,|\})")
_END_OBJECT = re.compile(_WS + rb"\}" + _WS + rb"\Z")
_END_LIST_OBJECT = re.compile(rb"\]" + _WS + rb"\}" + _WS + rb"\Z")
_JSON_SPACE = b" \t\n\r"
_RECORD_END = re.compile(rb"\}" + _WS + rb",")


class _Unsplittable(Exception):
    """The body cannot be decoded in pieces; decode it whole."""


def loads_in_pieces(body: bytes, piece_bytes: int = PIECE_BYTES) -> Any | None:
    """Return the body decoded piece by piece, or None when it must be decoded whole."""
    try:
        stripped = body.strip(_JSON_SPACE)
        if stripped.startswith(b"[") and stripped.endswith(b"]"):
            start = body.index(b"[")
            return _array(body, start, body.rindex(b"]"), piece_bytes)
        listed = _LIST_OBJECT.match(body)
        if listed is not None:
            tail = _END_LIST_OBJECT.search(body)
            if tail is None:
                return None
            items = _array(body, listed.end() - 1, tail.start(), piece_bytes)
            return {listed.group(1).decode(): items}
        columns = _COLUMNS.match(body)
        if columns is not None:
            return {"columns": _columns(body, columns.end(), piece_bytes)}
    except (_Unsplittable, orjson.JSONDecodeError, ValueError):
        return None
    return None


def _array(
    body: bytes, start: int, end: int, piece_bytes: int, *, records: bool = True
) -> list[Any]:
    """Decode the array whose brackets are at ``start`` and ``end``, in pieces.

    The array is cut at a comma after a ``}`` when it holds ``records``, else at any comma.
    """
    items: list[Any] = []
    view = memoryview(body)
    position = start + 1
    while True:
        cut = -1
        if end - position > piece_bytes:
            if records:
                found = _RECORD_END.search(body, position + piece_bytes, end)
                cut = -1 if found is None else found.end() - 1
            else:
                cut = body.find(b",", position + piece_bytes, end)
        stop = end if cut == -1 else cut
        piece = b"[" + view[position:stop].tobytes() + b"]"
        decoded = orjson.loads(piece)
        if piece.count(b":") != sum(len(x) for x in decoded if type(x) is dict):
            raise _Unsplittable  # colons in strings or nested objects: check keys whole
        items.extend(decoded)
        if cut == -1:
            return items
        position = cut + 1


def _columns(body: bytes, position: int, piece_bytes: int) -> dict[str, list[Any]]:
    """Decode ``"name": [...], ...}}`` from ``position``, one column array at a time."""
    columns: dict[str, list[Any]] = {}
    while True:
        if body.startswith(b"}", position):
            if _END_OBJECT.match(body, position + 1) is None:
                raise _Unsplittable
            return columns
        found = _COLUMN.match(body, position)
        if found is None:
            raise _Unsplittable
        name = orjson.loads(b'"' + found.group(1) + b'"')
        if name in columns:
            raise _Unsplittable  # given twice: the whole decoding names it
        opening = found.end() - 1
        closing = body.find(b"]", opening)
        after = _AFTER_COLUMN.match(body, closing + 1) if closing != -1 else None
        if after is None:
            raise _Unsplittable
        columns[name] = _array(body, opening, closing, piece_bytes, records=False)
        position = after.end() if after.group(1) == b"," else after.start(1)
        position = _SPACE.match(body, position).end()  # type: ignore[union-attr]
