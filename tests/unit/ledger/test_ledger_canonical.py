"""Canonical JSON (RFC 8785) and the leaf data of ledger entries."""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from types import MappingProxyType
from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from govml.errors import InputError
from govml.ledger import canonical_json, entry_bytes
from govml.ledger.canonical import quick_entry_bytes

ENTRY: dict[str, Any] = {
    "seq": 7,
    "time": "2024-05-01T12:00:00.123456Z",
    "actor": "alice",
    "action": "model.register",
    "subject": "model:credit-risk@3",
    "payload": {"version": 3},
}


def test_rfc8785_sample() -> None:
    # RFC 8785 §3.2.2, input and canonical output as published.
    value = {
        "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
        "literals": [None, True, False],
    }
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_json(value) == expected.encode("utf-8")


def test_keys_sort_by_utf16_code_units() -> None:
    # RFC 8785 §3.2.3: U+1F600 is a surrogate pair in UTF-16 and so sorts before U+FB33.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    keys = list(json.loads(canonical_json(value)))
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_key_order_is_independent_of_insertion_order() -> None:
    first = {"b": 1, "a": {"y": [1, 2], "x": None}}
    second = {"a": {"x": None, "y": [1, 2]}, "b": 1}
    assert canonical_json(first) == canonical_json(second) == b'{"a":{"x":null,"y":[1,2]},"b":1}'
    assert canonical_json(OrderedDict(reversed(list(first.items())))) == canonical_json(first)


def test_unicode_is_written_as_utf8_with_minimal_escapes() -> None:
    assert canonical_json("é\u2028😀") == '"é\u2028😀"'.encode()
    assert canonical_json("\x00\x1f\x7f") == b'"\\u0000\\u001f\x7f"'
    assert canonical_json("tab\there") == b'"tab\\there"'


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (1, b"1"),
        (1.0, b"1"),
        (-0.0, b"0"),
        (0.5, b"0.5"),
        (1e21, b"1e+21"),
        (1e20, b"100000000000000000000"),
        (1e-7, b"1e-7"),
        (0.000001, b"0.000001"),
        (2**53 - 1, b"9007199254740991"),
        (-(2**53 - 1), b"-9007199254740991"),
        (5e-324, b"5e-324"),
        (2**53, b"9007199254740992"),
        (10**16, b"10000000000000000"),
        (60591959391793670, b"60591959391793670"),
        (6.059195939179367e16, b"60591959391793670"),
        (1.7976931348623157e308, b"1.7976931348623157e+308"),
    ],
)
def test_numbers(number: float, text: bytes) -> None:
    assert canonical_json(number) == text
    assert canonical_json({"n": number}) == b'{"n":' + text + b"}"


@pytest.mark.parametrize(
    ("value", "path", "message"),
    [
        ({"payload": {"m": [1, math.nan]}}, "$.payload.m[1]", "not a finite number"),
        ({"a": math.inf}, "$.a", "not a finite number"),
        ([-math.inf], "$[0]", "not a finite number"),
        ({"big": 2**53 + 1}, "$.big", "more digits than a JSON number"),
        ({"neg": [-(2**60) - 1]}, "$.neg[0]", "more digits than a JSON number"),
        ({"huge": 10**21}, "$.huge", "more digits than a JSON number"),
        ({"huger": 10**400}, "$.huger", "more digits than a JSON number"),
        ({"a": {1: "x"}}, "$.a", "object key 1 is not a string but int"),
        ({"a": {None: "x"}}, "$.a", "object key None"),
        ({"odd key": {"b": b"bytes"}}, '$["odd key"].b', "bytes is not a JSON value"),
        ({"s": {1, 2}}, "$.s", "set is not a JSON value"),
        ({"m": MappingProxyType({})}, "$.m", "mappingproxy is not a JSON value"),
        ({"lone": "\ud800"}, "$.lone", "lone surrogate"),
        ({"\udc00": 1}, "$", r"object key '\\udc00' is not valid Unicode"),
    ],
)
def test_invalid_values_name_their_key_path(value: object, path: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        canonical_json(value)
    assert caught.value.message.startswith(f"{path}: ")


def test_deep_nesting_and_cycles_are_rejected() -> None:
    deep: list[object] = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(InputError, match="nested deeper"):
        canonical_json(deep)
    cycle: dict[str, object] = {}
    cycle["self"] = cycle
    with pytest.raises(InputError, match="nested deeper"):
        canonical_json(cycle)


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53 - 1), 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
# Values for which the standard library and RFC 8785 already agree: no floats, keys in the BMP.
bmp_keys = st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=["Cs"]))
plain_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53 - 1), 2**53 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(bmp_keys, inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_canonical_json_equals_the_rfc8785_reference(value: object) -> None:
    text = canonical_json(value)
    assert text == rfc8785.dumps(value)  # type: ignore[arg-type]
    assert canonical_json(json.loads(text)) == text


@given(plain_values)
def test_standard_library_path_is_exact_for_plain_values(value: object) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)  # type: ignore[arg-type]
    assert quick_entry_bytes(**{**ENTRY, "payload": {"v": value}}) == entry_bytes(
        **{**ENTRY, "payload": {"v": value}}
    )


def test_large_integers_mix_with_floats() -> None:
    assert canonical_json({"f": 1.0, "i": 10**16}) == b'{"f":1,"i":10000000000000000}'


@given(json_values)
def test_quick_entry_bytes_always_reads_back_as_the_same_document(value: object) -> None:
    # JSON numbers are doubles: compare them as such.
    fields = {**ENTRY, "payload": {"v": value}}
    quick = json.loads(quick_entry_bytes(**fields), parse_int=float)
    assert quick == json.loads(entry_bytes(**fields), parse_int=float)


def test_entry_bytes_is_the_canonical_json_of_the_six_fields() -> None:
    assert entry_bytes(**ENTRY) == (
        b'{"action":"model.register","actor":"alice","payload":{"version":3},"seq":7,'
        b'"subject":"model:credit-risk@3","time":"2024-05-01T12:00:00.123456Z"}'
    )
    assert entry_bytes(**{**ENTRY, "payload": MappingProxyType({"version": 3})}) == entry_bytes(
        **ENTRY
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("seq", -1, "seq must be an int >= 0"),
        ("seq", True, "seq must be an int >= 0, not bool"),
        ("seq", 1.0, "seq must be an int >= 0, not float"),
        ("actor", None, "actor must be a str, not NoneType"),
        ("payload", [1], "payload must be a mapping, not list"),
        ("time", "2024-05-01 12:00:00", "not an ISO-8601 UTC timestamp"),
        ("time", "2024-05-01T12:00:00+02:00", "not an ISO-8601 UTC timestamp"),
        ("time", "2024-05-01T12:00:00", "not an ISO-8601 UTC timestamp"),
    ],
)
def test_entry_bytes_rejects_bad_fields(field: str, value: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        entry_bytes(**{**ENTRY, field: value})


@pytest.mark.parametrize(
    "time", ["2024-05-01T12:00:00Z", "2024-05-01T12:00:00.5Z", "2024-05-01T12:00:00.123456+00:00"]
)
def test_entry_bytes_accepts_utc_timestamps(time: str) -> None:
    assert json.loads(entry_bytes(**{**ENTRY, "time": time}))["time"] == time


def test_entry_bytes_names_the_payload_path() -> None:
    with pytest.raises(InputError, match=r"^\$\.payload\.metrics\.auc: nan is not a finite"):
        entry_bytes(**{**ENTRY, "payload": {"metrics": {"auc": math.nan}}})
