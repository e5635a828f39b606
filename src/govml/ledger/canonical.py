"""Canonical JSON (RFC 8785, JCS): the exact bytes a ledger entry is hashed over.

A ledger entry is hashed over its canonical JSON form, so the same entry must always give
the same bytes, on any machine and in any later version of govml. RFC 8785 fixes that form:
object keys sorted by their UTF-16 code units, no insignificant whitespace, strings escaped
minimally, numbers written as ECMAScript writes doubles.

Verifying a ledger canonicalises every entry again, so speed matters. For the common
document (no floats, no object key outside the Basic Multilingual Plane) the standard
library's C encoder already writes the JCS bytes, and it is used; anything else goes
through the ``rfc8785`` reference implementation. The tests check that both paths agree.

Integers are JSON numbers, which are IEEE 754 doubles: an integer is accepted when a double
holds it exactly as written, so every integer up to 2**53 in magnitude, and larger ones
such as 10**16 that are how RFC 8785 writes a large integral double.
"""

from __future__ import annotations

import json
import json.encoder
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Final

import rfc8785

from govml.errors import InputError

MAX_DEPTH: Final = 64
"""Deepest nesting accepted; deeper documents are rejected (this also stops cycles)."""

MAX_SAFE_INTEGER: Final = 2**53 - 1
"""Below this magnitude every integer is exactly an IEEE 754 double, as JSON numbers are."""

ERR_NOT_FINITE: Final = "{path}: {value!r} is not a finite number (JSON has no NaN or infinity)"
ERR_UNSAFE_INTEGER: Final = (
    "{path}: integer {value} has more digits than a JSON number (an IEEE 754 double) holds"
)
ERR_KEY_TYPE: Final = "{path}: object key {key!r} is not a string but {kind}"
ERR_TYPE: Final = "{path}: a {kind} is not a JSON value"
ERR_UNICODE: Final = "{path}: {what} is not valid Unicode (it contains a lone surrogate)"
ERR_DEPTH: Final = "{path}: nested deeper than {limit} levels (or the value contains itself)"
ERR_TIME: Final = (
    "time {value!r} is not an ISO-8601 UTC timestamp such as '2024-05-01T12:00:00.000000Z'"
)
ERR_FIELD_TYPE: Final = "{field} must be {expected}, not {kind}"

# Outcomes of _scan: what produces the canonical bytes, or that nothing can.
_STDLIB_EXACT: Final = 0
_NEEDS_RFC8785: Final = 1
_INVALID: Final = 2

# With these options json writes JCS bytes except for floats and for the ordering of keys
# outside the Basic Multilingual Plane (json sorts by code point, JCS by UTF-16 unit).
_STDLIB_ENCODER: Final = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
)


def _make_plain_encoder() -> Callable[[object], str]:
    """Return a function encoding like ``_STDLIB_ENCODER``, as fast as the runtime allows.

    ``JSONEncoder.encode`` builds a new C encoder on every call, which costs as much as
    encoding a small payload; verifying a million entries pays that a million times. The C
    encoder is built once here when CPython provides it (it is not a documented API, hence
    the fallback). It has no cycle check: the caller rejects deep nesting first or catches
    RecursionError.
    """
    make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if make_encoder is None:
        return _STDLIB_ENCODER.encode

    def reject(value: object) -> object:
        raise TypeError(f"{type(value).__name__} is not a JSON value")

    encode_chunks = make_encoder(
        None, reject, json.encoder.encode_basestring, None, ":", ",", True, False, False
    )

    def encode(value: object) -> str:
        return "".join(encode_chunks(value, 0))

    return encode


_encode_plain: Final = _make_plain_encoder()
_encode_string: Final = json.encoder.encode_basestring

_UTC_TIMESTAMP: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|\+00:00)", re.ASCII
)


def canonical_json(value: object) -> bytes:
    """Serialise a JSON value to its RFC 8785 canonical bytes.

    Parameters
    ----------
    value
        A JSON document built from ``dict`` (string keys), ``list``, ``tuple``, ``str``,
        ``int``, ``float``, ``bool`` and ``None``.

    Returns
    -------
    bytes
        The UTF-8 encoded canonical form.

    Raises
    ------
    InputError
        If the value holds NaN or infinity, a non-string object key, a string with a lone
        surrogate, an integer that a double cannot hold exactly (beyond 2**53 only integers
        such as 10**16, which are how RFC 8785 writes a large integral double, are
        accepted), or any other type. The message names the offending key path, e.g.
        ``$.payload.scores[2]``.
    """
    kind = _scan(value, 0)
    cause: Exception | None = None
    if kind != _INVALID:
        try:
            if kind == _STDLIB_EXACT:
                return _encode_plain(value).encode("utf-8")
            return _rfc8785_dumps(value)
        except (UnicodeEncodeError, rfc8785.CanonicalizationError) as error:
            cause = error
    _raise_first_problem(value, "$", 0)
    # Only reached if the quick scan and the walk ever disagree: still refuse.
    raise InputError("$: cannot be canonicalised") from cause


def entry_bytes(
    *,
    seq: int,
    time: str,
    actor: str,
    action: str,
    subject: str,
    payload: Mapping[str, object],
) -> bytes:
    """Return the leaf data of a ledger entry: the canonical JSON of its six fields.

    Parameters
    ----------
    seq
        Position of the entry in the ledger, counting from 0.
    time
        ISO-8601 UTC timestamp ending in ``Z`` or ``+00:00``, as the caller recorded it.
    actor
        Who did it.
    action
        What was done, e.g. ``"model.register"``.
    subject
        What it was done to.
    payload
        Details of the action; any JSON object.

    Returns
    -------
    bytes
        ``canonical_json({"seq", "time", "actor", "action", "subject", "payload"})``.

    Raises
    ------
    InputError
        If a field has the wrong type, the time is not a UTC timestamp, or the payload is not
        canonical JSON (the message names the key path, e.g. ``$.payload.auc``).
    """
    if type(seq) is not int or seq < 0:
        raise InputError(
            ERR_FIELD_TYPE.format(field="seq", expected="an int >= 0", kind=_describe(seq))
        )
    for field, text in (("time", time), ("actor", actor), ("action", action), ("subject", subject)):
        if not isinstance(text, str):
            raise InputError(
                ERR_FIELD_TYPE.format(field=field, expected="a str", kind=_describe(text))
            )
    if _UTC_TIMESTAMP.fullmatch(time) is None:
        raise InputError(ERR_TIME.format(value=time))
    if not isinstance(payload, Mapping):
        raise InputError(
            ERR_FIELD_TYPE.format(field="payload", expected="a mapping", kind=_describe(payload))
        )
    return canonical_json(
        {
            "seq": seq,
            "time": time,
            "actor": actor,
            "action": action,
            "subject": subject,
            "payload": payload if type(payload) is dict else dict(payload),
        }
    )


def quick_entry_bytes(
    *,
    seq: int,
    time: str,
    actor: str,
    action: str,
    subject: str,
    payload: Mapping[str, object],
) -> bytes:
    """Return what ``entry_bytes`` returns, quickly and without checking anything.

    For verifiers, which compare the leaf hash of these bytes with a stored one and call
    ``entry_bytes`` only when they differ; never use it to write entries. The bytes equal
    ``entry_bytes`` for every entry ``entry_bytes`` accepts that has no floats and no object
    keys above U+FFFF. Otherwise they may differ (Python writes ``1.0`` where RFC 8785
    writes ``1``), but they always read back as the same JSON document (numbers being
    doubles), so bytes that match a stored hash are the canonical bytes of this entry.

    Parameters
    ----------
    seq, time, actor, action, subject, payload
        The fields of the entry, as for ``entry_bytes``.

    Returns
    -------
    bytes
        Candidate leaf data.

    Raises
    ------
    TypeError, ValueError, RecursionError
        If the json module cannot encode a field (call ``entry_bytes`` for the reason).
    """
    # Keys in RFC 8785 order, written out: sorting six fixed keys per entry costs time.
    return (
        f'{{"action":{_encode_string(action)},"actor":{_encode_string(actor)},'
        f'"payload":{_encode_plain(payload)},"seq":{seq:d},'
        f'"subject":{_encode_string(subject)},"time":{_encode_string(time)}}}'
    ).encode()


def _rfc8785_dumps(value: object) -> bytes:
    # _scan has checked that value is JSON, which rfc8785's own type cannot express.
    try:
        return rfc8785.dumps(value)  # type: ignore[arg-type]
    except rfc8785.IntegerDomainError:
        # rfc8785 refuses every integer beyond 2**53; the ones _scan let through are written
        # exactly as RFC 8785 writes the double of the same value.
        return rfc8785.dumps(_large_integers_as_doubles(value))  # type: ignore[arg-type]


def _large_integers_as_doubles(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SAFE_INTEGER:
        return float(value)
    if isinstance(value, dict):
        return {key: _large_integers_as_doubles(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_large_integers_as_doubles(item) for item in value]
    return value


def _survives_doubles(number: int) -> bool:
    """Return True if the integer is exactly how RFC 8785 writes some double.

    Every integer up to 2**53 in magnitude is. Larger ones are when they carry no more
    significant digits than a double: 10**16 is, 2**53 + 1 is not. Canonical JSON holds such
    integers whenever a large float was integral (RFC 8785 writes 1e16 as 10000000000000000),
    and Python's json reads them back as int: accepting them keeps a canonical document
    canonical after a round trip through storage.
    """
    if -MAX_SAFE_INTEGER <= number <= MAX_SAFE_INTEGER:
        return True
    if abs(number) >= 10**21:  # written with an exponent, and float() could overflow
        return False
    return rfc8785.dumps(float(number)) == str(number).encode()


def _scan(value: object, depth: int) -> int:
    """Classify a value without building key paths: the fast check run on every entry."""
    if type(value) is dict:
        if depth > MAX_DEPTH:
            return _INVALID
        result = _STDLIB_EXACT
        for key in value:
            if type(key) is not str:
                return _INVALID
            # Keys above U+FFFF sort differently by UTF-16 unit than by code point.
            if not key.isascii() and max(key) > "\uffff":
                result = _NEEDS_RFC8785
        return max(result, _scan_items(value.values(), depth))
    if type(value) is list or type(value) is tuple:
        if depth > MAX_DEPTH:
            return _INVALID
        return _scan_items(value, depth)
    return _scan_other(value, depth)


def _scan_items(items: Iterable[object], depth: int) -> int:
    result = _STDLIB_EXACT
    for item in items:
        # Strings, booleans, null and safe integers are most of every payload: no call.
        item_kind = type(item)
        if item_kind is str or item_kind is bool or item is None:
            continue
        if type(item) is int:
            if -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER or _survives_doubles(item):
                continue
            return _INVALID
        inner = _scan(item, depth + 1)
        if inner == _INVALID:
            return _INVALID
        result = max(result, inner)
    return result


def _scan_other(value: object, depth: int) -> int:
    """Classify scalars and subclasses of the JSON types (rare, so kept off the fast path)."""
    if value is None or isinstance(value, str | bool):
        return _STDLIB_EXACT
    if isinstance(value, int):
        return _STDLIB_EXACT if _survives_doubles(value) else _INVALID
    if isinstance(value, float):
        return _NEEDS_RFC8785 if math.isfinite(value) else _INVALID
    if depth > MAX_DEPTH:
        return _INVALID
    if isinstance(value, dict):
        if not all(type(key) is str for key in value):
            return _INVALID
        # Subclasses may order or present items their own way: let rfc8785 decide.
        inner = [_scan(item, depth + 1) for item in value.values()]
        return _INVALID if _INVALID in inner else _NEEDS_RFC8785
    if isinstance(value, list | tuple):
        inner = [_scan(item, depth + 1) for item in value]
        return _INVALID if _INVALID in inner else _NEEDS_RFC8785
    return _INVALID


def _raise_first_problem(value: object, path: str, depth: int) -> None:
    """Walk the value with its key path and raise InputError at the first invalid part."""
    if value is None or isinstance(value, bool):
        return
    if depth > MAX_DEPTH and isinstance(value, dict | list | tuple):
        raise InputError(ERR_DEPTH.format(path=path, limit=MAX_DEPTH))
    if isinstance(value, str):
        _check_unicode(value, path, what="string")
    elif isinstance(value, int):
        if not _survives_doubles(value):
            raise InputError(
                ERR_UNSAFE_INTEGER.format(path=path, value=value),
                hint="store large integers as strings",
            )
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(ERR_NOT_FINITE.format(path=path, value=value))
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InputError(ERR_KEY_TYPE.format(path=path, key=key, kind=_describe(key)))
            _check_unicode(key, path, what=f"object key {key!r}")
            _raise_first_problem(item, _child_path(path, key), depth + 1)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _raise_first_problem(item, f"{path}[{index}]", depth + 1)
    else:
        raise InputError(ERR_TYPE.format(path=path, kind=_describe(value)))


def _check_unicode(text: str, path: str, *, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(ERR_UNICODE.format(path=path, what=what)) from None


def _child_path(path: str, key: str) -> str:
    """Return ``path.key``, or ``path["key"]`` when the key is not a plain identifier."""
    if key.isidentifier():
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key)}]"


def _describe(value: object) -> str:
    return type(value).__name__
